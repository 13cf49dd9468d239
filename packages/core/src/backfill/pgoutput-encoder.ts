/**
 * Writes the two pgoutput messages a backfill sends to a shard: a Relation message (when the
 * shard may not know the table as the chunk was read: no change of it yet in this session, or a
 * schema change since), and the rows of a chunk in the shape of an Insert message's TupleData.
 * The shard decodes both with the one decoder it uses for the stream, so read rows go through
 * the same value conversion as changes.
 * https://www.postgresql.org/docs/15/protocol-logicalrep-message-formats.html
 */
import { Buffer } from 'node:buffer';
import { PgoutputTag, type RelationMessage, type Tuple } from '../pgoutput/pgoutput.types.js';

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

/**
 * An Insert message carrying `row` (text values, `null` for NULL) of `relationId`. Sized first
 * and written into one buffer: the reader thread writes one per backfilled row.
 */
export function encodeRowMessage(relationId: number, row: Tuple): Uint8Array {
  let size = 1 + 4 + 1 + 2;
  for (const value of row)
    size += value === null || value === undefined ? 1 : 5 + Buffer.byteLength(value, 'utf8');
  const out = Buffer.allocUnsafe(size);
  out[0] = PgoutputTag.insert;
  out.writeUInt32BE(relationId >>> 0, 1);
  out[5] = 0x4e; // 'N': a new tuple follows
  out.writeUInt16BE(row.length, 6);
  let o = 8;
  for (const value of row) {
    if (value === null || value === undefined) {
      out[o++] = 0x6e; // 'n'
      continue;
    }
    out[o] = 0x74; // 't'
    const written = out.write(value, o + 5, 'utf8');
    out.writeUInt32BE(written, o + 1);
    o += 5 + written;
  }
  return new Uint8Array(out.buffer, out.byteOffset, size);
}
