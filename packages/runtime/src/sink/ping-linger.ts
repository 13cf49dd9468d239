import { WindowedRate } from '@wal2nats/core';

/**
 * Whether a core-NATS publish cycle's PING may wait a moment for later cycles to share it.
 *
 * A waiting PING goes out with the cycle that settles `lingerMs` or more after the first one
 * that waits for it, or with the `maxCyclesPerPing`-th, both on a wake-up the shard has anyway
 * (a batch from the reader); only when no cycle comes does a timer send it, after up to
 * `fallbackMs`. A timer per PING would cost a wake-up of its own, and Node wakes for a timer
 * even when it was cleared before it was due (it does not re-arm its clock on clearTimeout),
 * so sharing PINGs with a timer each saved almost nothing (measured: 1.03 → 0.95 shard
 * wake-ups per transaction at 100/s).
 *
 * Why: at low rates a cycle is one transaction, and its PONG wakes the shard thread once per
 * transaction only to learn that it was delivered; on the 2-vCPU VMs we measure on, a wake-up
 * of a Node thread costs about 0.1 ms of CPU (docs/benchmarks.md, `oltp`). The messages
 * themselves are written at once whatever this says, so subscribers get them no later; what
 * waits is the confirmation (the slot's confirmation, sent every 100 ms anyway, and the
 * console's "in flight"). So it applies only while the shard is quiet (below
 * `busyMessagesPerSecond` over the last full window): when it is busy, cycles are large and
 * their PONGs free the room of the next ones, and every cycle PINGs at once as before. At most
 * `maxCyclesPerPing` cycles share one PING, so that the shard never runs out of cycles in
 * flight (ShardPublisher's `maxCyclesInFlight`) while a PING waits.
 */
export interface PingLingerOptions {
  /** A cycle settling this long after the first one that waits for the PING sends it. */
  readonly lingerMs: number;
  /** Longest a PING waits when no cycle comes to send it (the fallback timer's period). */
  readonly fallbackMs: number;
  /** At or above this many messages per second (over the last full window), no PING waits. */
  readonly busyMessagesPerSecond: number;
  /** The rate is measured over windows this long. */
  readonly windowMs: number;
  /** Most cycles that share one PING. */
  readonly maxCyclesPerPing: number;
}

export class PingLinger {
  private readonly rate: WindowedRate;
  /** Messages of every cycle so far. */
  private messages = 0;
  /** Whether the last full window was busy. */
  private busy = false;

  constructor(readonly options: PingLingerOptions) {
    this.rate = new WindowedRate(options.windowMs);
  }

  /** Whether the shard counts as busy (as of the last mayWait()). */
  get isBusy(): boolean {
    return this.busy;
  }

  /**
   * Called once per cycle as it settles: whether its PING may wait (`now` in ms, `messages` in
   * the cycle, `waiting` = cycles already waiting for the next PING, since `waitingSince`).
   */
  mayWait(now: number, messages: number, waiting: number, waitingSince: number): boolean {
    if (this.rate.roll(now, this.messages))
      this.busy = this.rate.lastRate >= this.options.busyMessagesPerSecond;
    this.messages += messages;
    // Busy within the window already: no need to wait for its end to stop lingering.
    if (this.rate.soFar(this.messages) >= this.options.busyMessagesPerSecond) this.busy = true;
    if (this.busy || waiting + 1 >= this.options.maxCyclesPerPing) return false;
    return waiting === 0 || now - waitingSince < this.options.lingerMs;
  }
}
