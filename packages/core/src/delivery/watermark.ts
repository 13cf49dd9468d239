/**
 * Which commit may be confirmed to Postgres, given what each shard has delivered.
 *
 * The reader numbers every change it routes with a global sequence number (`seq`, increasing).
 * Each shard reports a frontier: every change it was sent with `seq <= frontier` is delivered.
 * A committed transaction may be confirmed once every change up to its last `seq` is delivered
 * on every shard that was sent any of them. Only commit end LSNs are confirmed: confirming a
 * position inside a transaction, or one that was merely received, loses data on restart
 * (docs/pitfalls.md: "a watermark from what was sent loses data").
 */
import type { Lsn } from '../lsn.js';

interface PendingCommit {
  readonly endLsn: Lsn;
  readonly lastSeq: number;
}

export class DeliveryWatermark {
  private readonly lastSent: number[];
  private readonly deliveredThrough: number[];
  private commits: PendingCommit[] = [];
  private head = 0;

  constructor(shardCount: number) {
    this.lastSent = new Array<number>(shardCount).fill(0);
    this.deliveredThrough = new Array<number>(shardCount).fill(0);
  }

  /** The reader sent change `seq` to `shard`. */
  noteSent(shard: number, seq: number): void {
    // A shard that had delivered all it was sent was sent nothing between then and `seq`.
    if (this.lastSent[shard]! <= this.deliveredThrough[shard]!) this.deliveredThrough[shard] = seq - 1;
    this.lastSent[shard] = seq;
  }

  /** `shard` delivered every change it was sent with a sequence number up to `frontier`. */
  noteDelivered(shard: number, frontier: number): void {
    if (frontier > this.deliveredThrough[shard]!) this.deliveredThrough[shard] = frontier;
  }

  /** A transaction committed at `endLsn`; its changes (if any) have sequence numbers up to `lastSeq`. */
  noteCommit(endLsn: Lsn, lastSeq: number): void {
    this.commits.push({ endLsn, lastSeq });
  }

  /** Every change with a sequence number up to this one is delivered. */
  safeSeq(): number {
    let safe = Number.POSITIVE_INFINITY;
    for (let s = 0; s < this.lastSent.length; s++) {
      if (this.lastSent[s]! > this.deliveredThrough[s]!) safe = Math.min(safe, this.deliveredThrough[s]!);
    }
    return safe;
  }

  /**
   * Takes the commits that are now fully delivered and returns the end LSN of the last of them,
   * or null when none newly is.
   */
  advance(): Lsn | null {
    const safe = this.safeSeq();
    let confirmable: Lsn | null = null;
    while (this.head < this.commits.length && this.commits[this.head]!.lastSeq <= safe) {
      confirmable = this.commits[this.head]!.endLsn;
      this.head++;
    }
    if (this.head > 1024 && this.head * 2 > this.commits.length) {
      this.commits = this.commits.slice(this.head);
      this.head = 0;
    }
    return confirmable;
  }

  /**
   * The replication session ended (fencing, docs/architecture.md "Running two"): the shards drop
   * every change sent so far, undelivered or not, and another process may have taken the slot.
   * No commit of that session may be confirmed any more, whatever the shards report next: they
   * report frontiers past what they dropped. What was sent counts as settled from here on.
   */
  discardPending(): void {
    this.commits = [];
    this.head = 0;
    for (let s = 0; s < this.lastSent.length; s++)
      if (this.deliveredThrough[s]! < this.lastSent[s]!) this.deliveredThrough[s] = this.lastSent[s]!;
  }

  /** Committed transactions not yet fully delivered. */
  pendingCommits(): number {
    return this.commits.length - this.head;
  }

  /** Nothing sent is undelivered and no commit waits. */
  isDrained(): boolean {
    return this.pendingCommits() === 0 && this.safeSeq() === Number.POSITIVE_INFINITY;
  }
}
