/**
 * ChangeEncoder with a per-message API for unit tests: a decoded Insert, Update or Delete (as
 * tests write them), a row read from a table, or a truncate goes through the encoder's one path
 * to bytes — the message is written as the pgoutput bytes Postgres would send, encoded, and the
 * body read back as a string. Not used by production code.
 */
import { Buffer } from 'node:buffer';
import {
  ChangeEncoder,
  type ChangePosition,
  type RowBytesResult,
} from '../../packages/core/src/envelope/change-encoder.js';
import type { ChangeAction } from '../../packages/core/src/envelope/subjects.js';
import type {
  DeleteMessage,
  InsertMessage,
  Tuple,
  UpdateMessage,
} from '../../packages/core/src/pgoutput/pgoutput.types.js';
import { JsonBytes } from '../../packages/core/src/values/json-bytes.js';

/** One change as NATS gets it, read back as strings. */
export interface EncodedBody {
  readonly subject: string;
  readonly action: ChangeAction;
  /** The `Nats-Msg-Id` header, equal to `metadata.idempotency_key`. */
  readonly msgId: string;
  readonly json: string;
}

/** TupleData: text values, `n` for null, `u` for an unchanged TOASTed value (undefined). */
function tupleBytes(tuple: Tuple): Buffer[] {
  const count = Buffer.alloc(2);
  count.writeUInt16BE(tuple.length);
  const parts = [count];
  for (let i = 0; i < tuple.length; i++) {
    const value = tuple[i];
    if (value === null) parts.push(Buffer.from('n'));
    else if (value === undefined) parts.push(Buffer.from('u'));
    else {
      const text = Buffer.from(value, 'utf8');
      const head = Buffer.alloc(5);
      head[0] = 0x74; // t
      head.writeUInt32BE(text.length, 1);
      parts.push(head, text);
    }
  }
  return parts;
}

/** The pgoutput bytes of a decoded row message (pgoutput-decoder.ts gives the message back). */
export function rowMessageBytes(message: InsertMessage | UpdateMessage | DeleteMessage): Uint8Array {
  const head = Buffer.alloc(5);
  head[0] = { insert: 0x49, update: 0x55, delete: 0x44 }[message.tag];
  head.writeUInt32BE(message.relationId >>> 0, 1);
  const parts = [head];
  const oldMarker = (kind: 'key' | 'old'): Buffer => Buffer.from(kind === 'key' ? 'K' : 'O');
  if (message.tag === 'insert') parts.push(Buffer.from('N'), ...tupleBytes(message.newTuple));
  else if (message.tag === 'update') {
    if (message.oldTuple !== null && message.oldKind !== null)
      parts.push(oldMarker(message.oldKind), ...tupleBytes(message.oldTuple));
    parts.push(Buffer.from('N'), ...tupleBytes(message.newTuple));
  } else parts.push(oldMarker(message.oldKind), ...tupleBytes(message.oldTuple));
  return new Uint8Array(Buffer.concat(parts));
}

export class ByteEncoder extends ChangeEncoder {
  private readonly out = new JsonBytes(64);
  private readonly result: RowBytesResult = {
    subject: '',
    action: 'insert',
    msgId: null,
    msgIdStart: -1,
    msgIdEnd: -1,
  };

  encodeInsert(message: InsertMessage, position: ChangePosition): EncodedBody {
    return this.row(message, position);
  }

  encodeUpdate(message: UpdateMessage, position: ChangePosition): EncodedBody {
    return this.row(message, position);
  }

  encodeDelete(message: DeleteMessage, position: ChangePosition): EncodedBody {
    return this.row(message, position);
  }

  encodeRead(row: Tuple, position: ChangePosition): EncodedBody {
    const bytes = rowMessageBytes({ tag: 'insert', relationId: this.relation.relationId, newTuple: row });
    if (!this.encodeReadBytes(bytes, position, this.out, this.result)) throw new Error('read declined');
    return this.body();
  }

  encodeTruncate(position: ChangePosition): EncodedBody {
    this.encodeTruncateBytes(position, this.out, this.result);
    return this.body();
  }

  private row(message: InsertMessage | UpdateMessage | DeleteMessage, position: ChangePosition): EncodedBody {
    if (!this.encodeRowBytes(rowMessageBytes(message), position, this.out, this.result))
      throw new Error(`${message.tag} declined`);
    return this.body();
  }

  private body(): EncodedBody {
    const { out, result } = this;
    return {
      subject: result.subject,
      action: result.action,
      msgId: result.msgId ?? out.buf.toString('utf8', result.msgIdStart, result.msgIdEnd),
      json: out.buf.toString('utf8', 0, out.pos),
    };
  }
}
