/**
 * The NATS protocol frame of one message with a `Nats-Msg-Id` header, as bytes:
 *
 *   HPUB <subject> [<reply>] <header bytes> <total bytes>\r\n
 *   NATS/1.0\r\nNats-Msg-Id: <msgId>\r\n\r\n      (the header block)
 *   <JSON body>\r\n
 *
 * Shards write each change in this form once, when it is queued (shard/outgoing-message.ts), so
 * that publishing it in core NATS is handing those bytes over (wire-encoder.ts).
 */
import { Buffer } from 'node:buffer';

export const HEADER_START = 'NATS/1.0\r\nNats-Msg-Id: ';
export const HEADER_END = '\r\n\r\n';

/** Where the parts of one frame are in `bytes`. */
export interface WireMessage {
  readonly subject: string;
  readonly bytes: Buffer;
  /** The `HPUB` line (without a reply subject). */
  readonly start: number;
  readonly headerStart: number;
  readonly bodyStart: number;
  readonly bodyEnd: number;
  /** After the closing CRLF. */
  readonly end: number;
}

/** More than the bytes of a frame (UTF-8 takes at most 3 bytes per UTF-16 unit). */
export function frameUpperBound(subject: string, reply: string | null, msgId: string, json: string): number {
  return (
    5 +
    (subject.length + (reply?.length ?? 0) + msgId.length + json.length) * 3 +
    2 * 17 +
    2 +
    HEADER_START.length +
    HEADER_END.length +
    2
  );
}

/** Writes `n` (a non-negative integer) in decimal at `at`; returns the end. */
function writeDecimal(buf: Buffer, at: number, n: number): number {
  let digits = 1;
  for (let x = n; x >= 10; x = Math.floor(x / 10)) digits++;
  let o = at + digits;
  const end = o;
  do {
    const q = Math.floor(n / 10);
    buf[--o] = 0x30 + (n - q * 10);
    n = q;
  } while (n > 0);
  return end;
}

/** Writes `HPUB <subject> [<reply>] <headerBytes> <totalBytes>\r\n` at `at`; returns the end. */
export function writeHpubLine(
  buf: Buffer,
  at: number,
  subject: string,
  reply: string | null,
  headerBytes: number,
  totalBytes: number,
): number {
  let o = at + buf.write('HPUB ', at, 'latin1');
  o += buf.write(subject, o, 'utf8');
  buf[o++] = 0x20;
  if (reply !== null) {
    o += buf.write(reply, o, 'utf8');
    buf[o++] = 0x20;
  }
  o = writeDecimal(buf, o, headerBytes);
  buf[o++] = 0x20;
  o = writeDecimal(buf, o, totalBytes);
  buf[o++] = 0x0d;
  buf[o++] = 0x0a;
  return o;
}

/** Where writeFrame() put the parts (a caller's object, reused: no allocation per message). */
export interface FramePositions {
  headerStart: number;
  bodyStart: number;
  bodyEnd: number;
}

/**
 * Writes the whole frame at `at` (room for frameUpperBound() bytes is the caller's to ensure),
 * sets where its parts are in `positions` and returns its end.
 */
export function writeFrame(
  buf: Buffer,
  at: number,
  subject: string,
  reply: string | null,
  msgId: string,
  json: string,
  positions: FramePositions,
): number {
  const headerBytes = HEADER_START.length + Buffer.byteLength(msgId, 'utf8') + HEADER_END.length;
  const bodyBytes = Buffer.byteLength(json, 'utf8');
  const headerStart = writeHpubLine(buf, at, subject, reply, headerBytes, headerBytes + bodyBytes);
  let o = headerStart + buf.write(HEADER_START, headerStart, 'latin1');
  o += buf.write(msgId, o, 'utf8');
  o += buf.write(HEADER_END, o, 'latin1');
  const bodyStart = o;
  const bodyEnd = o + buf.write(json, o, 'utf8');
  buf[bodyEnd] = 0x0d;
  buf[bodyEnd + 1] = 0x0a;
  positions.headerStart = headerStart;
  positions.bodyStart = bodyStart;
  positions.bodyEnd = bodyEnd;
  return bodyEnd + 2;
}
