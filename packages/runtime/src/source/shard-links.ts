/**
 * The reader's view of each shard: the port to send batches on, and how many changes the shard
 * holds undelivered, so that reading pauses when a shard's mailboxes are full (bounded memory;
 * Postgres keeps the WAL meanwhile).
 */
import type { MessagePort } from 'node:worker_threads';
import type { ChangeBatch } from '@wal2nats/core';
import type { DeliveredMessage, ReaderToShard } from '../threads/thread-messages.js';

export class ShardLink {
  /** Change counts of the batches posted but not yet taken in by the shard. */
  private readonly unacknowledged: number[] = [];
  private unacknowledgedHead = 0;
  private unacknowledgedChanges = 0;
  private batchesAcknowledged = 0;
  private reportedUndelivered = 0;

  constructor(
    readonly shard: number,
    readonly port: MessagePort,
  ) {}

  send(batch: ChangeBatch): void {
    this.unacknowledged.push(batch.changeCount);
    this.unacknowledgedChanges += batch.changeCount;
    const message: ReaderToShard = { type: 'batch', batch };
    this.port.postMessage(message, [batch.buffer]);
  }

  /**
   * The session ended (fencing, ha/slot-lease.ts): the shard drops every change up to
   * `throughSeq`. Sent on the batch port, so it arrives after every batch of that session and
   * before any of the next.
   */
  fence(throughSeq: number): void {
    const message: ReaderToShard = { type: 'fence', throughSeq };
    this.port.postMessage(message);
  }

  /** Applies a delivery report. */
  update(report: DeliveredMessage): void {
    while (
      this.batchesAcknowledged < report.batchesReceived &&
      this.unacknowledgedHead < this.unacknowledged.length
    ) {
      this.unacknowledgedChanges -= this.unacknowledged[this.unacknowledgedHead++]!;
      this.batchesAcknowledged++;
    }
    if (this.unacknowledgedHead > 1024) {
      this.unacknowledged.splice(0, this.unacknowledgedHead);
      this.unacknowledgedHead = 0;
    }
    this.reportedUndelivered = report.undelivered;
  }

  /** Changes sent to this shard and not yet delivered (an upper bound). */
  get outstanding(): number {
    return this.reportedUndelivered + this.unacknowledgedChanges;
  }
}
