/**
 * The ordered mailbox of one table in a shard: changes wait here until delivered, strictly in
 * the order they were received. Only the head of the mailbox may be in flight with the ones
 * behind it; a failure sends them all back to "not yet sent" and the table backs off, while
 * other tables' mailboxes go on.
 */
import type { OutgoingMessage } from './outgoing-message.js';

export type { OutgoingMessage } from './outgoing-message.js';

export class TableMailbox {
  private items: OutgoingMessage[] = [];
  private head = 0;
  /** How many from the head are published and await confirmation. */
  inFlight = 0;
  attempts = 0;
  nextAttemptAt = 0;
  lastError: string | null = null;
  /** The last failure was the connection's, so a reconnect may retry at once. */
  failedOnConnection = false;
  /** The client refused a message behind the in-flight ones; the table fails once they settle. */
  refusedAfterInFlight: string | null = null;

  constructor(public label: string) {}

  get size(): number { return this.items.length - this.head; }
  get unsent(): number { return this.size - this.inFlight; }
  /** The seq of the oldest undelivered message, or undefined when empty. */
  get headSeq(): number | undefined { return this.size > 0 ? this.items[this.head]!.seq : undefined; }

  push(message: OutgoingMessage): void {
    this.items.push(message);
  }

  /** The messages published in the current cycle. */
  inFlightMessages(): OutgoingMessage[] {
    return this.items.slice(this.head, this.head + this.inFlight);
  }

  /** The message `i` places after the first unsent one. */
  peekUnsent(i: number): OutgoingMessage | undefined {
    return this.items[this.head + this.inFlight + i];
  }

  /**
   * Removes the first `count` in-flight messages (confirmed) from the head and returns them;
   * the rest of the in-flight ones go back to "not yet sent".
   */
  takeDelivered(count = this.inFlight): OutgoingMessage[] {
    const delivered = this.items.slice(this.head, this.head + count);
    this.head += count;
    this.inFlight = 0;
    if (count > 0) {
      this.attempts = 0;
      this.nextAttemptAt = 0;
      this.lastError = null;
      this.failedOnConnection = false;
    }
    if (this.head > 4096 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return delivered;
  }


}
