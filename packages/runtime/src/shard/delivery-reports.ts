/**
 * The shard's delivery reports to the reader ({frontier, undelivered, batchesReceived}), at most
 * one per `intervalMs` while the reader cannot be waiting for room in this shard.
 *
 * Why: a report after every publish cycle wakes the reader thread once per cycle, and at low
 * rates a cycle is one transaction. On the 2-vCPU VMs we measure on, a wake-up of a Node thread
 * costs 50-150 µs of CPU; at 100 one-row transactions/s these reports were about a quarter of
 * the reader's wake-ups (docs/benchmarks.md, `oltp`). A report only moves the slot's
 * confirmation (sent at most every 100 ms anyway) and the reader's view of how full the shard is;
 * no change reaches NATS later for it.
 *
 * Rules:
 * - A report goes at once when none went in the last `intervalMs`; otherwise it waits, and the
 *   latest one waiting goes when the interval is over (a newer one replaces an older one: the
 *   frontier only grows, so the latest says everything the older ones said).
 * - A report goes at once when the reader may be waiting for room (backpressure): the reader
 *   counts as outstanding the last reported `undelivered` plus the changes of every batch it
 *   sent after the last reported `batchesReceived`; once the batches the shard has taken in
 *   since bring that to `urgentOutstanding`, waiting could stall reading.
 * Each report is sent as it was made: its `undelivered` and `batchesReceived` describe the same
 * moment, or the reader would count the changes of the batches in between as delivered.
 */
import type { DeliveredMessage } from '../threads/thread-messages.js';

export interface DeliveryReportsOptions {
  /** At most one report per this many ms, unless the reader may be waiting for room. */
  readonly intervalMs: number;
  /** The reader's count of this shard's outstanding changes at which a report goes at once. */
  readonly urgentOutstanding: number;
  /** For tests: the clock and the timer. */
  readonly now?: () => number;
  readonly setTimer?: (fn: () => void, ms: number) => unknown;
  readonly clearTimer?: (timer: unknown) => void;
}

export class DeliveryReports {
  private lastSentAt = Number.NEGATIVE_INFINITY;
  private lastSent: DeliveredMessage = { type: 'delivered', frontier: 0, undelivered: 0, batchesReceived: 0 };
  /**
   * Changes of each batch that arrived and is not yet covered by a report sent, in arrival
   * order (the order the shard takes batches in): `batchChanges[i]` is batch number
   * `firstBatch + i + 1`.
   */
  private batchChanges: number[] = [];
  private firstBatch = 0;
  private waiting: DeliveredMessage | null = null;
  private timer: unknown = null;
  private readonly now: () => number;
  private readonly setTimer: (fn: () => void, ms: number) => unknown;
  private readonly clearTimer: (timer: unknown) => void;

  constructor(
    private readonly options: DeliveryReportsOptions,
    private readonly send: (message: DeliveredMessage) => void,
  ) {
    this.now = options.now ?? Date.now;
    this.setTimer = options.setTimer ?? ((fn, ms) => setTimeout(fn, ms));
    this.clearTimer = options.clearTimer ?? ((timer) => clearTimeout(timer as NodeJS.Timeout));
  }

  /** A batch of `changes` changes arrived from the reader (batches are counted in arrival order). */
  arrived(changes: number): void {
    this.batchChanges.push(changes);
  }

  /** Reports `message` now, or as soon as the interval allows. */
  report(message: DeliveredMessage): void {
    const now = this.now();
    if (
      now - this.lastSentAt >= this.options.intervalMs ||
      this.lastSent.undelivered + this.changesTakenInSinceSent(message) >= this.options.urgentOutstanding
    ) {
      this.sendNow(message, now);
      return;
    }
    this.waiting = message;
    this.timer ??= this.setTimer(
      () => {
        this.timer = null;
        this.flush();
      },
      Math.max(0, this.lastSentAt + this.options.intervalMs - now),
    );
  }

  /** Sends the report that is waiting, if any. */
  flush(): void {
    if (this.waiting) this.sendNow(this.waiting, this.now());
  }

  /** Changes of the batches taken in by `message`'s moment and not covered by the last report sent. */
  private changesTakenInSinceSent(message: DeliveredMessage): number {
    let changes = 0;
    // batchChanges starts right after the last report sent (sendNow drops what it covered).
    const end = Math.min(message.batchesReceived - this.firstBatch, this.batchChanges.length);
    for (let i = 0; i < end; i++) changes += this.batchChanges[i]!;
    return changes;
  }

  private sendNow(message: DeliveredMessage, now: number): void {
    if (this.timer !== null) {
      this.clearTimer(this.timer);
      this.timer = null;
    }
    this.waiting = null;
    this.lastSentAt = now;
    this.lastSent = message;
    // The batches this report covers are the reader's business no more.
    const covered = message.batchesReceived - this.firstBatch;
    if (covered > 0) {
      this.batchChanges.splice(0, covered);
      this.firstBatch = message.batchesReceived;
    }
    this.send(message);
  }
}
