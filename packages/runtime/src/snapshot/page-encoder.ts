/**
 * The initial snapshot's rows, a page at a time, as the messages NATS gets (initial-snapshot.ts
 * delivers them).
 */
import {
  JsonBytes,
  writeRowMessage,
  type ChangeEncoder,
  type ChangePosition,
  type RowBytesResult,
  type Tuple,
} from '@wal2nats/core';
import { MessageSlabs, type OutgoingMessage } from '../shard/outgoing-message.js';

/**
 * A page of rows as the messages NATS gets, through the encoder's one path to bytes: each row
 * (its values in Postgres's text form) is written as the Insert message pgoutput would send for
 * it, which the encoder turns into a `read` event as it does a backfill chunk's rows in the
 * shards. The messages live in slabs, reused once a page is delivered: memory holds about the
 * page being delivered and the one being fetched.
 */
export class PageEncoder {
  private readonly slabs = new MessageSlabs();
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

  encode(
    encoder: ChangeEncoder,
    rows: readonly Tuple[],
    at: Omit<ChangePosition, 'commitIdx'>,
    firstIndex: number,
  ): OutgoingMessage[] {
    const relationId = encoder.relation.relationId;
    return rows.map((values, k) => {
      const position = { ...at, commitIdx: firstIndex + k };
      if (
        !encoder.encodeReadBytes(
          writeRowMessage(this.message, relationId, values),
          position,
          this.body,
          this.row,
        )
      )
        throw new Error(`the snapshot's row ${position.commitIdx} of ${encoder.label} could not be encoded`);
      return this.slabs.write(position.commitIdx, at.commitTime, this.row, this.body);
    });
  }

  /**
   * The page was delivered: its slab space is free again. Not before: core NATS hands the
   * messages' bytes to nats.js as they are (sink/wire-encoder.ts), so they must stay untouched
   * until the flush that confirms them.
   */
  release(messages: readonly OutgoingMessage[]): void {
    for (const message of messages) this.slabs.release(message);
  }
}
