/**
 * The initial snapshot's pages through the shards' publishers (ShardPublisher in core NATS mode,
 * a StreamPublisher per stream in JetStream mode): a table's page is enqueued like any change,
 * and its reader waits until every row of it is delivered before it enqueues the next page, so
 * memory holds about two pages per table (the one in the publisher, the one being fetched). The
 * publishers retry, back off and count as they do for changes; this only watches what they
 * deliver, per table, as their observer.
 */
import type { OutgoingMessage } from '../shard/outgoing-message.js';
import type { PublishObserver } from '../shard/shard-publisher.js';
import type { RowTarget } from './page-encoder.js';

/** A publisher as the snapshot uses it. */
export interface SnapshotPublisher extends RowTarget {
  /** Every change up to `seq` has been handed to enqueue(). */
  received(seq: number): void;
}

interface Waiter {
  readonly label: string;
  readonly target: number;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

export class PageDelivery implements PublishObserver {
  /** The last seq handed out: the snapshot's rows are numbered across tables, as changes are. */
  private lastSeq = 0;
  /** Per table: rows enqueued, and rows delivered. */
  private readonly enqueued = new Map<string, number>();
  private readonly deliveredRows = new Map<string, number>();
  private readonly waiters = new Set<Waiter>();
  private failure: Error | null = null;

  constructor(
    /** Rows of `table` were delivered (the snapshot's rows metric). */
    private readonly onDelivered: (table: string, rows: number) => void,
  ) {}

  /**
   * Enqueues a page of `table` through `enqueuePage` (on the publisher of `table`) and resolves
   * once every row of it is delivered; rejects if the delivery ends for good (fail()).
   */
  async deliver(
    table: string,
    publisher: SnapshotPublisher,
    enqueuePage: (target: RowTarget, nextSeq: () => number) => void,
  ): Promise<void> {
    if (this.failure) throw this.failure;
    const before = this.lastSeq;
    enqueuePage(publisher, () => ++this.lastSeq);
    const target = (this.enqueued.get(table) ?? 0) + this.lastSeq - before;
    this.enqueued.set(table, target);
    publisher.received(this.lastSeq);
    if ((this.deliveredRows.get(table) ?? 0) >= target) return;
    await new Promise<void>((resolve, reject) => {
      this.waiters.add({ label: table, target, resolve, reject });
    });
  }

  /** Ends every wait with `error` (stopped, or the publisher cannot go on), and every later deliver(). */
  fail(error: Error): void {
    this.failure ??= error;
    for (const waiter of this.waiters) waiter.reject(this.failure);
    this.waiters.clear();
  }

  delivered(table: string, messages: readonly OutgoingMessage[]): void {
    const rows = (this.deliveredRows.get(table) ?? 0) + messages.length;
    this.deliveredRows.set(table, rows);
    this.onDelivered(table, messages.length);
    for (const waiter of this.waiters) {
      if (waiter.label !== table || rows < waiter.target) continue;
      this.waiters.delete(waiter);
      waiter.resolve();
    }
  }

  // The publishers log failures and count retries themselves; nothing is fenced in a snapshot.
  inFlight(): void {}
  failing(): void {}
  cycleDone(): void {}
  fenced(): void {}
}
