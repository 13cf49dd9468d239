/**
 * A change waiting in its table's mailbox, held as the bytes NATS will get — its whole `HPUB`
 * frame: protocol line, `Nats-Msg-Id` header block, JSON body (sink/wire-frame.ts) — written
 * once, when the change is enqueued, into a shared slab.
 *
 * Why bytes and not the JSON string: the encoder builds the body by concatenation, so the string
 * is a tree of dozens of small heap objects. Kept in a mailbox for a cycle or two, those trees
 * survive young-generation collections and are promoted; in the shard profile that cost a
 * quarter of the thread in GC, and keeping 10k encoded strings alive measured ~10 µs per
 * message against ~1.7 µs when the string is written to bytes at once and dropped. And in core
 * NATS publishing is then handing over runs of these bytes, without copying or encoding. The
 * JSON and the msgId are decoded back to strings only when the console or the API shows one.
 *
 * Slabs are counted: a slab returns to its allocator's free list when its last message is
 * delivered (by then NATS confirmed it, so nats.js no longer holds the bytes), so memory for
 * queued messages stays about their bytes (bounded by the mailbox capacity) instead of growing
 * until a full GC frees old slabs.
 */
import { Buffer } from 'node:buffer';
import type { ChangeAction, JsonBytes, RowBytesResult } from '@wal2nats/core';
import {
  frameUpperBound,
  HEADER_END,
  HEADER_START,
  writeFrame,
  writeHpubLine,
  type FramePositions,
  type WireMessage,
} from '../sink/wire-frame.js';

const SLAB_BYTES = 256 * 1024;
/** Free slabs kept for reuse; more than this are left to the GC. */
const MAX_FREE_SLABS = 16;

/** A region of memory that holds many messages; `live` counts those not yet delivered. */
export class Slab {
  live = 0;
  constructor(readonly bytes: Buffer) {}
}

/** A message given as strings: OutgoingMessage.fromText (a cut copy for the console; tests). */
export interface QueuedChange {
  /** The reader's change number; several messages share one for a multi-table truncate. */
  readonly seq: number;
  readonly subject: string;
  readonly action: ChangeAction;
  readonly msgId: string;
  readonly json: string;
  /** Microseconds since 2000-01-01, for the end-to-end latency. */
  readonly commitTime: number;
}

/**
 * Where a change goes once encoded: the one `enqueue` of ShardPublisher and StreamPublisher (the
 * shards fill it, and so does the initial snapshot). The body the encoder wrote into `body`
 * (what it is in `change`) is copied, so `body` may be reused at once.
 */
export interface ChangeQueue {
  enqueue(
    relationId: number,
    label: string,
    seq: number,
    commitTime: number,
    change: RowBytesResult,
    body: JsonBytes,
  ): void;
}

export class OutgoingMessage implements WireMessage {
  constructor(
    readonly seq: number,
    readonly subject: string,
    readonly action: ChangeAction,
    /** Microseconds since 2000-01-01, for the end-to-end latency. */
    readonly commitTime: number,
    readonly slab: Slab,
    readonly start: number,
    readonly headerStart: number,
    readonly bodyStart: number,
    readonly bodyEnd: number,
    readonly end: number,
  ) {}

  get bytes(): Buffer {
    return this.slab.bytes;
  }
  /** Size of the JSON body in bytes. */
  get bodyBytes(): number {
    return this.bodyEnd - this.bodyStart;
  }

  /** The `Nats-Msg-Id` (= `metadata.idempotency_key`), decoded from the header block. */
  get msgId(): string {
    return this.slab.bytes.toString(
      'utf8',
      this.headerStart + HEADER_START.length,
      this.bodyStart - HEADER_END.length,
    );
  }

  /** The JSON body as published. */
  get json(): string {
    return this.slab.bytes.toString('utf8', this.bodyStart, this.bodyEnd);
  }

  /** A copy in memory of its own, for keeping after delivery (its slab is reused then). */
  detached(): OutgoingMessage {
    const copy = Buffer.allocUnsafe(this.end - this.start);
    this.slab.bytes.copy(copy, 0, this.start, this.end);
    const shift = this.start;
    return new OutgoingMessage(
      this.seq,
      this.subject,
      this.action,
      this.commitTime,
      new Slab(copy),
      0,
      this.headerStart - shift,
      this.bodyStart - shift,
      this.bodyEnd - shift,
      this.end - shift,
    );
  }

  /** A message of its own memory from strings (tests, and bodies cut for the console). */
  static fromText(change: QueuedChange): OutgoingMessage {
    const slab = new Slab(
      Buffer.allocUnsafe(frameUpperBound(change.subject, null, change.msgId, change.json)),
    );
    return writeMessage(slab, 0, change);
  }
}

const positions: FramePositions = { headerStart: 0, bodyStart: 0, bodyEnd: 0 };

function writeMessage(slab: Slab, at: number, change: QueuedChange): OutgoingMessage {
  const end = writeFrame(slab.bytes, at, change.subject, null, change.msgId, change.json, positions);
  slab.live++;
  return new OutgoingMessage(
    change.seq,
    change.subject,
    change.action,
    change.commitTime,
    slab,
    at,
    positions.headerStart,
    positions.bodyStart,
    positions.bodyEnd,
    end,
  );
}

/** Hands out slab space for the messages of one shard and takes slabs back when emptied. */
export class MessageSlabs {
  private current = new Slab(Buffer.allocUnsafe(SLAB_BYTES));
  private used = 0;
  private readonly free: Slab[] = [];

  /**
   * Writes the change the encoder wrote into `body` (ChangeEncoder: what it is in `change`) into
   * slab space, as its whole frame, and returns it as a message.
   */
  write(seq: number, commitTime: number, change: RowBytesResult, body: JsonBytes): OutgoingMessage {
    const msgId = change.msgId;
    // The msgId is either a string or a run of the body's bytes (see RowBytesResult).
    const idBytes = msgId === null ? change.msgIdEnd - change.msgIdStart : Buffer.byteLength(msgId, 'utf8');
    const worst = frameUpperBound(change.subject, null, '', '') + idBytes + body.pos;
    if (this.used + worst > this.current.bytes.length) this.next(worst);
    const slab = this.current;
    const bytes = slab.bytes;
    const start = this.used;
    const headerBytes = HEADER_START.length + idBytes + HEADER_END.length;
    const headerStart = writeHpubLine(
      bytes,
      start,
      change.subject,
      null,
      headerBytes,
      headerBytes + body.pos,
    );
    let o = headerStart + bytes.write(HEADER_START, headerStart, 'latin1');
    if (msgId === null) {
      const src = body.buf;
      for (let i = change.msgIdStart; i < change.msgIdEnd; i++) bytes[o++] = src[i]!;
    } else {
      o += bytes.write(msgId, o, 'utf8');
    }
    o += bytes.write(HEADER_END, o, 'latin1');
    const bodyStart = o;
    o += body.buf.copy(bytes, o, 0, body.pos);
    bytes[o] = 0x0d;
    bytes[o + 1] = 0x0a;
    slab.live++;
    this.used = o + 2;
    return new OutgoingMessage(
      seq,
      change.subject,
      change.action,
      commitTime,
      slab,
      start,
      headerStart,
      bodyStart,
      o,
      o + 2,
    );
  }

  /** `message` was delivered and is no longer read from its slab. */
  release(message: OutgoingMessage): void {
    const slab = message.slab;
    if (--slab.live === 0 && slab !== this.current) this.recycle(slab);
  }

  private recycle(slab: Slab): void {
    // A message larger than a slab had a slab of its own: dropped, not reused.
    if (slab.bytes.length === SLAB_BYTES && this.free.length < MAX_FREE_SLABS) this.free.push(slab);
  }

  private next(worst: number): void {
    const old = this.current;
    if (old.live === 0) this.recycle(old);
    this.current =
      worst > SLAB_BYTES
        ? new Slab(Buffer.allocUnsafe(worst))
        : (this.free.pop() ?? new Slab(Buffer.allocUnsafe(SLAB_BYTES)));
    this.used = 0;
  }
}
