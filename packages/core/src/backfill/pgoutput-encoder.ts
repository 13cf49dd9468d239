/**
 * Writes the two pgoutput messages a backfill sends to a shard: a Relation message (when the
 * shard may not know the table as the chunk was read: no change of it yet in this session, or a
 * schema change since), and the rows of a chunk in the shape of an Insert message's TupleData.
 * The shard reads both as it reads the stream's (the row with the encoder's byte reader, without
 * decoding it to strings), so read rows go through the same value conversion as changes. The
 * initial snapshot writes its rows the same way (writeRowMessage), for the same encoder.
 * https://www.postgresql.org/docs/15/protocol-logicalrep-message-formats.html
 */
import { Buffer } from 'node:buffer';
import { PgoutputTag, type RelationMessage, type Tuple } from '../pgoutput/pgoutput.types.js';
import { JsonBytes } from '../values/json-bytes.js';

const REPLICA_IDENTITY_BYTE: Record<RelationMessage['replicaIdentity'], number> = {
  d: 0x64,
  n: 0x6e,
  f: 0x66,
  i: 0x69,
};

class ByteWriter {
  private chunks: Buffer[] = [];
  private length = 0;

  u8(value: number): void {
    this.push(Buffer.from([value]));
  }
  u16(value: number): void {
    const b = Buffer.alloc(2);
    b.writeUInt16BE(value);
    this.push(b);
  }
  u32(value: number): void {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(value >>> 0);
    this.push(b);
  }
  i32(value: number): void {
    const b = Buffer.alloc(4);
    b.writeInt32BE(value);
    this.push(b);
  }
  cstring(text: string): void {
    this.push(Buffer.from(`${text}\0`, 'utf8'));
  }
  bytes(data: Buffer): void {
    this.push(data);
  }

  private push(b: Buffer): void {
    this.chunks.push(b);
    this.length += b.length;
  }

  done(): Uint8Array {
    return new Uint8Array(Buffer.concat(this.chunks, this.length));
  }
}

export function encodeRelationMessage(relation: RelationMessage): Uint8Array {
  const w = new ByteWriter();
  w.u8(PgoutputTag.relation);
  w.u32(relation.relationId);
  w.cstring(relation.schema);
  w.cstring(relation.name);
  w.u8(REPLICA_IDENTITY_BYTE[relation.replicaIdentity]);
  w.u16(relation.columns.length);
  for (const column of relation.columns) {
    w.u8(column.isKey ? 1 : 0);
    w.cstring(column.name);
    w.u32(column.typeOid);
    w.i32(column.typeMod);
  }
  return w.done();
}

/** An Insert message carrying `row` (text values, `null` for NULL) of `relationId`, of its own memory. */
export function encodeRowMessage(relationId: number, row: Tuple): Uint8Array {
  return writeRowMessage(new JsonBytes(256), relationId, row).slice();
}

/**
 * The Insert message carrying `row` (text values, `null` for NULL) of `relationId`, written into
 * `out` (from its start) and returned as a view of it: valid until `out` is written again. Its
 * callers copy it at once (into a batch: the reader's backfill chunks) or encode it at once (the
 * initial snapshot), so no buffer is made per row.
 */
export function writeRowMessage(out: JsonBytes, relationId: number, row: Tuple): Uint8Array {
  out.reset();
  out.ensure(8);
  const header = out.buf;
  header[0] = PgoutputTag.insert;
  header.writeUInt32BE(relationId >>> 0, 1);
  header[5] = 0x4e; // 'N': a new tuple follows
  header.writeUInt16BE(row.length, 6);
  out.pos = 8;
  for (const value of row) {
    if (value === null || value === undefined) {
      out.byte(0x6e); // 'n'
      continue;
    }
    const n = value.length;
    out.ensure(5 + n * 3);
    const buf = out.buf;
    const at = out.pos;
    buf[at] = 0x74; // 't'
    // ASCII byte by byte (most values are short: cheaper than a native call), else as UTF-8.
    let o = at + 5;
    for (let i = 0; i < n; i++) {
      const c = value.charCodeAt(i);
      if (c >= 0x80) {
        o = at + 5 + buf.write(value, at + 5, 'utf8');
        break;
      }
      buf[o++] = c;
    }
    buf.writeUInt32BE(o - at - 5, at + 1);
    out.pos = o;
  }
  return new Uint8Array(out.buf.buffer, out.buf.byteOffset, out.pos);
}
