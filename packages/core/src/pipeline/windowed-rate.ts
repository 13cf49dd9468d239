/**
 * A rate measured over fixed windows, for the pacers that choose between batching by time and
 * going at once (the reader's hand-over pacer, a quiet shard's shared PINGs). A window longer
 * than `windowMs` (a quiet spell: nothing called in between) counts at its real length.
 */
export class WindowedRate {
  private windowStart = Number.NEGATIVE_INFINITY;
  private totalAtWindowStart = 0;
  /** Per second, over the last full window (0 before the first). */
  lastRate = 0;

  constructor(private readonly windowMs: number) {}

  /**
   * Looks at the clock (`now` in ms) and the count so far (`total`, only grows): true when a
   * window ended and `lastRate` is new.
   */
  roll(now: number, total: number): boolean {
    const elapsed = now - this.windowStart;
    if (elapsed < this.windowMs) return false;
    this.lastRate = Number.isFinite(elapsed) ? ((total - this.totalAtWindowStart) * 1000) / elapsed : 0;
    this.windowStart = now;
    this.totalAtWindowStart = total;
    return true;
  }

  /** The rate the current window has reached so far, per second of a whole window. */
  soFar(total: number): number {
    return ((total - this.totalAtWindowStart) * 1000) / this.windowMs;
  }
}
