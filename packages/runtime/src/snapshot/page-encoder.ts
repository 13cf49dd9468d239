/**
 * The initial snapshot's rows, a page at a time, into a publisher's one `enqueue` (the same one
 * the shards fill; page-delivery.ts waits for them to be delivered).
 */
import {
  JsonBytes,
  writeRowMessage,
  type ChangeEncoder,
  type ChangePosition,
  type RowBytesResult,
  type Tuple,
} from '@wal2nats/core';
import type { ChangeQueue } from '../shard/outgoing-message.js';

/** Where encoded rows go: ShardPublisher or StreamPublisher. */
export type RowTarget = ChangeQueue;

/**
 * A page of rows through the encoder's one path to bytes: each row (its values in Postgres's
 * text form) is written as the Insert message pgoutput would send for it, which the encoder
 * turns into a `read` event as it does a backfill chunk's rows in the shards.
 */
export class PageEncoder {
  private readonly body = new JsonBytes();
  /** One row at a time as its Insert message (the encoder's input). */
  private readonly message = new JsonBytes(16 * 1024);
  private readonly row: RowBytesResult = {
    subject: '',
    action: 'read',
    msgId: null,
    msgIdStart: -1,
    msgIdEnd: -1,
  };

  /**
   * Enqueues the rows on `target`, the k-th as commit_idx `firstIndex + k` of the snapshot
   * position `at`, each under the publisher's next `seq`. `readAt` (Postgres microseconds) is
   * what the publisher measures the row's delivery latency from: the page's read, not the
   * snapshot's start, which the body carries as its commit timestamp.
   */
  encode(
    encoder: ChangeEncoder,
    rows: readonly Tuple[],
    at: Omit<ChangePosition, 'commitIdx'>,
    firstIndex: number,
    target: RowTarget,
    nextSeq: () => number,
    readAt: number,
  ): void {
    const relationId = encoder.relation.relationId;
    for (let k = 0; k < rows.length; k++) {
      const position = { ...at, commitIdx: firstIndex + k };
      if (
        !encoder.encodeReadBytes(
          writeRowMessage(this.message, relationId, rows[k]!),
          position,
          this.body,
          this.row,
        )
      )
        throw new Error(`the snapshot's row ${position.commitIdx} of ${encoder.label} could not be encoded`);
      target.enqueue(relationId, encoder.label, nextSeq(), readAt, this.row, this.body);
    }
  }
}
