/**
 * Decodes pgoutput (protocol version 1) messages from raw bytes.
 * https://www.postgresql.org/docs/15/protocol-logicalrep-message-formats.html
 *
 * The reader thread forwards raw bytes and the shard workers decode them here, so that decoding
 * runs in parallel and the reader stays free (see docs/architecture.md).
 */
import { Buffer } from 'node:buffer';
import { readLsn } from '../lsn.js';
import type {
  PgoutputMessage,
  RelationColumn,
  RelationMessage,
  ReplicaIdentity,
  Tuple,
  TupleValue,
} from './pgoutput.types.js';
import { PgoutputTag } from './pgoutput.types.js';

/** A cursor over one message. */
class ByteCursor {
  private readonly view: DataView;
  private readonly buffer: Buffer;
  offset: number;

  constructor(bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.offset = 0;
  }

  u8(): number {
    return this.view.getUint8(this.offset++);
  }
  i16(): number {
    const v = this.view.getInt16(this.offset);
    this.offset += 2;
    return v;
  }
  i32(): number {
    const v = this.view.getInt32(this.offset);
    this.offset += 4;
    return v;
  }
  u32(): number {
    const v = this.view.getUint32(this.offset);
    this.offset += 4;
    return v;
  }
  u64(): number {
    const v = readLsn(this.view, this.offset);
    this.offset += 8;
    return v;
  }
  /** A signed int64 (timestamps); exact while |v| < 2^53. */
  i64(): number {
    const hi = this.view.getInt32(this.offset);
    const lo = this.view.getUint32(this.offset + 4);
    this.offset += 8;
    return hi * 0x1_0000_0000 + lo;
  }
  cstring(): string {
    const end = this.buffer.indexOf(0, this.offset);
    if (end < 0) throw new PgoutputDecodeError('unterminated string');
    const text = this.buffer.toString('utf8', this.offset, end);
    this.offset = end + 1;
    return text;
  }
  utf8(length: number): string {
    if (this.offset + length > this.buffer.length)
      throw new PgoutputDecodeError(`a value of ${length} bytes runs past the end of the message`);
    const text = this.buffer.toString('utf8', this.offset, this.offset + length);
    this.offset += length;
    return text;
  }
}

export class PgoutputDecodeError extends Error {
  override readonly name = 'PgoutputDecodeError';
}

export function decodePgoutput(bytes: Uint8Array): PgoutputMessage {
  try {
    return decodeMessage(new ByteCursor(bytes));
  } catch (error) {
    // DataView reads past the end throw RangeError: a truncated message.
    if (error instanceof RangeError)
      throw new PgoutputDecodeError(`truncated pgoutput message (${bytes.byteLength} bytes)`, {
        cause: error,
      });
    throw error;
  }
}

function decodeMessage(c: ByteCursor): PgoutputMessage {
  const tag = c.u8();
  switch (tag) {
    case PgoutputTag.begin:
      return { tag: 'begin', commitLsn: c.u64(), commitTime: c.i64(), xid: c.u32() };
    case PgoutputTag.commit:
      return { tag: 'commit', flags: c.u8(), commitLsn: c.u64(), endLsn: c.u64(), commitTime: c.i64() };
    case PgoutputTag.origin:
      return { tag: 'origin', originLsn: c.u64(), name: c.cstring() };
    case PgoutputTag.relation:
      return decodeRelation(c);
    case PgoutputTag.type:
      return { tag: 'type', typeOid: c.u32(), schema: c.cstring(), name: c.cstring() };
    case PgoutputTag.insert: {
      const relationId = c.u32();
      expectByte(c, 0x4e, 'insert'); // N
      return { tag: 'insert', relationId, newTuple: decodeTuple(c) };
    }
    case PgoutputTag.update: {
      const relationId = c.u32();
      let marker = c.u8();
      let oldKind: 'key' | 'old' | null = null;
      let oldTuple: Tuple | null = null;
      if (marker === 0x4b || marker === 0x4f) {
        // K or O
        oldKind = marker === 0x4b ? 'key' : 'old';
        oldTuple = decodeTuple(c);
        marker = c.u8();
      }
      if (marker !== 0x4e) throw new PgoutputDecodeError(`update: expected N, got 0x${marker.toString(16)}`);
      return { tag: 'update', relationId, oldKind, oldTuple, newTuple: decodeTuple(c) };
    }
    case PgoutputTag.delete: {
      const relationId = c.u32();
      const marker = c.u8();
      if (marker !== 0x4b && marker !== 0x4f)
        throw new PgoutputDecodeError(`delete: expected K or O, got 0x${marker.toString(16)}`);
      return {
        tag: 'delete',
        relationId,
        oldKind: marker === 0x4b ? 'key' : 'old',
        oldTuple: decodeTuple(c),
      };
    }
    case PgoutputTag.truncate: {
      const count = c.u32();
      const options = c.u8();
      const relationIds: number[] = [];
      for (let i = 0; i < count; i++) relationIds.push(c.u32());
      return { tag: 'truncate', options, relationIds };
    }
    case PgoutputTag.message: {
      const flags = c.u8();
      const lsn = c.u64();
      const prefix = c.cstring();
      const length = c.u32();
      return { tag: 'message', transactional: (flags & 1) === 1, lsn, prefix, content: c.utf8(length) };
    }
    default:
      throw new PgoutputDecodeError(`unknown pgoutput message type 0x${tag.toString(16)}`);
  }
}

function expectByte(c: ByteCursor, expected: number, what: string): void {
  const got = c.u8();
  if (got !== expected)
    throw new PgoutputDecodeError(`${what}: expected 0x${expected.toString(16)}, got 0x${got.toString(16)}`);
}

function decodeRelation(c: ByteCursor): RelationMessage {
  const relationId = c.u32();
  const schema = c.cstring();
  const name = c.cstring();
  const replicaIdentity = String.fromCharCode(c.u8()) as ReplicaIdentity;
  const count = c.i16();
  const columns: RelationColumn[] = [];
  for (let i = 0; i < count; i++) {
    const flags = c.u8();
    columns.push({ isKey: (flags & 1) === 1, name: c.cstring(), typeOid: c.u32(), typeMod: c.i32() });
  }
  return { tag: 'relation', relationId, schema, name, replicaIdentity, columns };
}

function decodeTuple(c: ByteCursor): Tuple {
  const count = c.i16();
  const values: TupleValue[] = new Array<TupleValue>(count);
  for (let i = 0; i < count; i++) {
    const kind = c.u8();
    switch (kind) {
      case 0x6e:
        values[i] = null;
        break; // n
      case 0x75:
        values[i] = undefined;
        break; // u: unchanged TOAST, not sent
      case 0x74:
        values[i] = c.utf8(c.u32());
        break; // t
      case 0x62:
        throw new PgoutputDecodeError('binary tuple values are not requested and not supported');
      default:
        throw new PgoutputDecodeError(`unknown tuple value kind 0x${kind.toString(16)}`);
    }
  }
  return values;
}

/**
 * What the reader thread needs to route a message without decoding it: the tag and, for row
 * messages, the relation id at bytes 1..4.
 */
export function peekRelationId(bytes: Uint8Array): number {
  return ((bytes[1]! << 24) >>> 0) + (bytes[2]! << 16) + (bytes[3]! << 8) + bytes[4]!;
}
