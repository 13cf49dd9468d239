/**
 * The Standby Status Update that tells Postgres how far the slot may advance.
 * https://www.postgresql.org/docs/15/protocol-replication.html
 *
 * We send it ourselves instead of pg-logical-replication's acknowledge(), which sends LSN + 1:
 * a commit record may start exactly at the previous commit's end LSN, and confirming one byte
 * past it would make Postgres skip that next transaction on restart. Here write = flush =
 * apply = the end LSN of the last fully delivered transaction, exactly.
 */
import { Buffer } from 'node:buffer';
import { unixMsToPgMicros, writeLsn, type Lsn } from '@wal2nats/core';

export function standbyStatusUpdate(lsn: Lsn, replyRequested = false, nowMs = Date.now()): Buffer {
  const message = Buffer.alloc(34);
  const view = new DataView(message.buffer, message.byteOffset, message.byteLength);
  message[0] = 0x72; // 'r'
  writeLsn(view, 1, lsn); // written
  writeLsn(view, 9, lsn); // flushed: what the slot's confirmed_flush_lsn becomes
  writeLsn(view, 17, lsn); // applied
  writeLsn(view, 25, unixMsToPgMicros(nowMs));
  message[33] = replyRequested ? 1 : 0;
  return message;
}
