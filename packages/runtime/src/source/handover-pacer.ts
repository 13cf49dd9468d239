/**
 * When the reader hands the batches it routed over to the shards: at once (after the current
 * socket read, `setImmediate`) while changes flow fast, or up to `lingerMs` later while they
 * trickle, so that several small transactions cross to a shard in one message.
 *
 * Why: at low rates every transaction cost a hand-over, and each hand-over wakes a shard twice
 * (the batch, then the PONG of its publish cycle); a wake-up of a Node thread costs 50-150 µs
 * of CPU on the VMs we measure on. At 1,000 one-row transactions/s a 10 ms linger halved
 * wal2nats's CPU (docs/benchmarks.md, `oltp`). It adds up to `lingerMs` to the latency of
 * those changes, so it applies only below `busyChangesPerSecond` (measured over the last full
 * window of `windowMs`): above it, batches go at once as before, and fill by size
 * (`maxBatchFrames`) anyway. Batches that are full, and every flush for backpressure, a pause
 * or a fence, go at once whatever this says: the pacer only chooses the delay of the flush
 * that follows a socket read. It changes nothing in what is routed, in which order, or what is
 * confirmed.
 */
export interface HandoverPacerOptions {
  /** The longest a routed change waits for its hand-over while changes trickle. */
  readonly lingerMs: number;
  /** At or above this rate (changes routed per second), hand over at once. */
  readonly busyChangesPerSecond: number;
  /** The rate is measured over windows this long. */
  readonly windowMs: number;
}

export class HandoverPacer {
  private windowStart = Number.NEGATIVE_INFINITY;
  private routedAtWindowStart = 0;
  /** Whether the last full window was busy. */
  private busy = false;

  constructor(private readonly options: HandoverPacerOptions) {}

  /**
   * The delay (ms) of the next hand-over; 0 = at once. `now` in ms, `routed` = changes routed
   * so far (a counter that only grows).
   */
  delayMs(now: number, routed: number): number {
    const elapsed = now - this.windowStart;
    if (elapsed >= this.options.windowMs) {
      // A window longer than windowMs (a quiet spell) counts at its real length.
      this.busy = Number.isFinite(elapsed) && ((routed - this.routedAtWindowStart) * 1000) / elapsed >= this.options.busyChangesPerSecond;
      this.windowStart = now;
      this.routedAtWindowStart = routed;
    } else if (!this.busy && ((routed - this.routedAtWindowStart) * 1000) / this.options.windowMs >= this.options.busyChangesPerSecond) {
      // Busy already within this window: no need to wait for its end.
      this.busy = true;
    }
    return this.busy ? 0 : this.options.lingerMs;
  }
}
