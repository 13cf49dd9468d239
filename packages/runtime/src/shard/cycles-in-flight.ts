/**
 * The publish cycles of one shard that await their confirmation, settled strictly in the order
 * they were published.
 *
 * Why in order: a table may have messages in several cycles in flight, and the mailbox hands out
 * delivered messages from its head (TableMailbox.takeDelivered), so the oldest cycle's part of a
 * table must be settled before a later one's. On one NATS connection the PONGs come back in the
 * order of their PINGs, so a sink's results arrive in order anyway; should one arrive early, it
 * waits here for the cycles before it.
 */
export class CyclesInFlight<C, R> {
  private readonly cycles: C[] = [];
  /** Settles after the last cycle added so far is settled. */
  private tail: Promise<void> = Promise.resolve();

  /** How many cycles await their result or their turn to settle. */
  get size(): number {
    return this.cycles.length;
  }

  /** Whether every cycle in flight satisfies `predicate`. */
  every(predicate: (cycle: C) => boolean): boolean {
    return this.cycles.every(predicate);
  }

  /**
   * Adds `cycle`, whose sink result is `result`: `settle(cycle, result)` runs once it has arrived
   * and every cycle added before has been settled.
   */
  add(cycle: C, result: Promise<R>, settle: (cycle: C, result: R) => void): void {
    this.cycles.push(cycle);
    const previous = this.tail;
    this.tail = (async () => {
      const [, outcome] = await Promise.all([previous, result]);
      this.cycles.shift();
      settle(cycle, outcome);
    })();
  }

  /** Resolves when every cycle added so far has been settled. */
  drained(): Promise<void> {
    return this.tail;
  }
}
