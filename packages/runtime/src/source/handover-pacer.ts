/**
 * When the reader hands the batches it routed over to the shards: at once (after the current
 * socket read, `setImmediate`) while changes flow fast or rarely; in between, at most one
 * hand-over per `lingerMs`, so that several small transactions cross to a shard in one message.
 * A change that comes `lingerMs` or more after the last hand-over (an isolated transaction)
 * still goes at once; one that follows a hand-over closer than that waits until `lingerMs`
 * after it. Below `minChangesPerSecond` changes rarely share a hand-over (at 100/s they are
 * 10 ms apart), so waiting would only add latency: at once.
 *
 * Why: at low rates every transaction cost a hand-over, and each hand-over wakes a shard twice
 * (the batch, then the PONG of its publish cycle); a wake-up of a Node thread costs 50-150 µs
 * of CPU on the VMs we measure on. At 1,000 one-row transactions/s a hand-over every 10 ms
 * halved wal2nats's CPU (docs/benchmarks.md, `oltp`). It adds up to `lingerMs` to the latency
 * of the changes it holds, so it applies only from `minChangesPerSecond` up to
 * `busyChangesPerSecond` (over the last full
 * window of `windowMs`): above it, batches go at once as before, and fill by size
 * (`maxBatchFrames`) anyway. Batches that are full, and every flush for backpressure, a pause
 * or a fence, go at once whatever this says: the pacer only chooses the delay of the flush
 * that follows a socket read. It changes nothing in what is routed, in which order, or what is
 * confirmed.
 */
import { WindowedRate } from '@wal2nats/core';

export interface HandoverPacerOptions {
  /** While changes trickle, at most one hand-over per this many ms (the longest a change waits). */
  readonly lingerMs: number;
  /** Below this rate (changes routed per second), hand over at once. */
  readonly minChangesPerSecond: number;
  /** At or above this rate, hand over at once. */
  readonly busyChangesPerSecond: number;
  /** The rate is measured over windows this long. */
  readonly windowMs: number;
}

export class HandoverPacer {
  private readonly rate: WindowedRate;
  /** Whether the last full window was busy. */
  private busy = false;
  /** Whether the last full window was below `minChangesPerSecond`. */
  private quiet = true;
  private lastHandOverAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly options: HandoverPacerOptions) {
    this.rate = new WindowedRate(options.windowMs);
  }

  /**
   * The delay (ms) of the next hand-over; 0 = at once. `now` in ms, `routed` = changes routed
   * so far (a counter that only grows).
   */
  delayMs(now: number, routed: number): number {
    if (this.rate.roll(now, routed)) {
      this.busy = this.rate.lastRate >= this.options.busyChangesPerSecond;
      this.quiet = this.rate.lastRate < this.options.minChangesPerSecond;
    } else if (!this.busy && this.rate.soFar(routed) >= this.options.busyChangesPerSecond) {
      // Busy already within this window: no need to wait for its end.
      this.busy = true;
    }
    return this.busy || this.quiet ? 0 : Math.max(0, this.lastHandOverAt + this.options.lingerMs - now);
  }

  /** The batches were handed over at `now` (ms). */
  handedOver(now: number): void {
    this.lastHandOverAt = now;
  }
}
