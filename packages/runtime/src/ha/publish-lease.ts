/**
 * Until when this process may start publishing: a deadline in shared memory, written by the
 * reader thread (slot-lease.ts) and read by every shard before each publish cycle.
 *
 * A frozen process (SIGSTOP, a VM pause) wakes up with every thread at once: its shards could
 * publish what they hold before the reader has read the news that Postgres ended its session and
 * another process took over. The deadline is a lower bound of how long Postgres keeps our
 * walsender (and so the slot) alive, so a shard that checks it before publishing never publishes
 * after the slot could have changed hands (docs/architecture.md, "Running two").
 */
export class PublishLease {
  private readonly deadline: BigInt64Array;

  constructor(readonly buffer: SharedArrayBuffer) {
    this.deadline = new BigInt64Array(buffer, 0, 1);
  }

  static allocate(): SharedArrayBuffer {
    return new SharedArrayBuffer(BigInt64Array.BYTES_PER_ELEMENT);
  }

  /** Epoch milliseconds (this host's clock) until which a publish cycle may start; 0 when revoked. */
  get validUntil(): number {
    return Number(Atomics.load(this.deadline, 0));
  }

  mayPublish(nowMs = Date.now()): boolean {
    return nowMs < this.validUntil;
  }

  /** Moves the deadline later (never earlier: each proof only adds to the last). */
  extendTo(untilMs: number): void {
    if (untilMs > this.validUntil) Atomics.store(this.deadline, 0, BigInt(Math.floor(untilMs)));
  }

  revoke(): void {
    Atomics.store(this.deadline, 0, 0n);
  }
}
