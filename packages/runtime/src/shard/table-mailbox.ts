/**
 * The ordered mailbox of one table in a shard: changes wait here until delivered, strictly in
 * the order they were received. Only the head of the mailbox may be in flight with the ones
 * behind it (in one publish cycle or several after each other); a failure sends them all back
 * to "not yet sent" and the table backs off, while other tables' mailboxes go on.
 *
 * Its state changes only through the methods below, each named for what happened (published,
 * delivered, failed, retry now), so that ShardPublisher reads as the story of a cycle and the
 * rules (a delivery clears the failure; a failure takes every in-flight message back) live here.
 */
import { backoffDelayMs, type BackoffPolicy } from '@wal2nats/core';
import type { OutgoingMessage } from './outgoing-message.js';

export type { OutgoingMessage } from './outgoing-message.js';

export class TableMailbox {
  private items: OutgoingMessage[] = [];
  private head = 0;
  /** How many from the head are published and await confirmation. */
  private published = 0;
  private failedAttempts = 0;
  private retryAt = 0;
  private lastFailure: string | null = null;
  /** The last failure was the connection's, so a reconnect may retry at once. */
  private failedOnConnection = false;
  /** The client refused a message behind the in-flight ones; the table fails once they settle. */
  private refusal: string | null = null;
  /** Counts failures: see `round`. */
  private failures = 0;

  constructor(private tableLabel: string) {}

  /** `schema.table`, as in metrics and logs (a rename shows from the next change on). */
  get label(): string {
    return this.tableLabel;
  }
  get size(): number {
    return this.items.length - this.head;
  }
  /** How many from the head are published and await confirmation. */
  get inFlight(): number {
    return this.published;
  }
  get unsent(): number {
    return this.size - this.published;
  }
  /** The seq of the oldest undelivered message, or undefined when empty. */
  get headSeq(): number | undefined {
    return this.size > 0 ? this.items[this.head]!.seq : undefined;
  }
  /** Failed attempts since the last delivery (0: not failing). */
  get attempts(): number {
    return this.failedAttempts;
  }
  /** Why the last attempt failed, or null when not failing. */
  get lastError(): string | null {
    return this.lastFailure;
  }
  /** When the next attempt may start (ms since the epoch; 0: now). */
  get nextAttemptAt(): number {
    return this.retryAt;
  }

  /**
   * Changes with every failure, which takes every in-flight message back. A cycle's part of this
   * table published in an earlier round no longer describes the mailbox: those messages are
   * unsent again (and may be published again), so that part must not be settled.
   */
  get round(): number {
    return this.failures;
  }
  /** A refusal waits for the in-flight messages (refusedAfterInFlight): publish nothing more meanwhile. */
  get refusalPending(): boolean {
    return this.refusal !== null;
  }

  /** Whether the table may be published at `now` (not backing off). */
  isDue(now: number): boolean {
    return this.retryAt <= now;
  }

  relabel(label: string): void {
    this.tableLabel = label;
  }

  push(message: OutgoingMessage): void {
    this.items.push(message);
  }

  /** The first unsent message was handed to the sink: it is in flight now. */
  markInFlight(): void {
    this.published++;
  }

  /**
   * The client refused the first unsent message while earlier ones are in flight: the table
   * fails with `reason` once they settle (takeRefusal).
   */
  refusedAfterInFlight(reason: string): void {
    this.refusal = reason;
  }

  /** The refusal noted, if any (cleared). */
  takeRefusal(): string | null {
    const refusal = this.refusal;
    this.refusal = null;
    return refusal;
  }

  /** The messages in flight (of every cycle in flight, oldest first). */
  inFlightMessages(): OutgoingMessage[] {
    return this.items.slice(this.head, this.head + this.published);
  }

  /** The message `i` places after the first unsent one. */
  peekUnsent(i: number): OutgoingMessage | undefined {
    return this.items[this.head + this.published + i];
  }

  /**
   * Removes the first `count` in-flight messages (confirmed) from the head and returns them; the
   * rest stay in flight (later cycles settle them, or a failure takes them back). Any delivery
   * ends a failure.
   */
  takeDelivered(count = this.published): OutgoingMessage[] {
    const delivered = this.items.slice(this.head, this.head + count);
    this.head += count;
    this.published -= count;
    if (count > 0) {
      this.failedAttempts = 0;
      this.retryAt = 0;
      this.lastFailure = null;
      this.failedOnConnection = false;
    }
    if (this.head > 4096 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return delivered;
  }

  /**
   * An attempt failed: every in-flight message goes back to "not yet sent", and the table backs
   * off for the next delay of `backoff`. `connectionLost`: the failure was the connection's, so
   * a reconnect retries at once (retryOnReconnect). Returns the delay in ms.
   */
  failed(reason: string, connectionLost: boolean, backoff: BackoffPolicy, now: number): number {
    this.published = 0;
    this.failures++;
    // The refused message is behind the head the table now starts from again: it is refused anew when reached.
    this.refusal = null;
    this.failedAttempts++;
    this.lastFailure = reason;
    this.failedOnConnection = connectionLost;
    const delay = backoffDelayMs(this.failedAttempts, backoff);
    this.retryAt = now + delay;
    return delay;
  }

  /** Ends the backoff: the next cycle tries the table again. */
  retryNow(): void {
    this.retryAt = 0;
  }

  /** The connection is back: a table that failed only because it was gone retries now. Says whether it will. */
  retryOnReconnect(): boolean {
    if (!this.failedOnConnection) return false;
    this.retryAt = 0;
    return true;
  }
}
