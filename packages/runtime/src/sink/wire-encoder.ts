/**
 * Hands a cycle's messages to nats.js as NATS protocol frames (wire-frame.ts), in large
 * chunks.
 *
 * Why not `nc.publish()` per message: for each one it builds and TextEncodes the protocol line,
 * encodes the headers, queues four small buffers and later copies them together again; with the
 * JSON's own encoding that was most of a shard's time after decoding (the shard profile showed
 * Buffer.write, DataBuffer.pack and TextEncoder on top). Shards hold each message as its whole
 * frame already (shard/outgoing-message.ts), so in core NATS a run of messages that lie next to
 * each other in memory is handed over as it is — no encoding, no copy — and short runs are
 * gathered into a slab first, so that each socket write is large. With a reply subject
 * (JetStream) the protocol line is written here and the rest copied.
 *
 * Chunks go through the protocol handler's `sendCommand`, the queue `publish()` feeds (so the
 * PING of a later `flush()` still follows them, and a reconnect drops them just the same), and
 * are written at once (`flushPending`). That is nats.js's internal API, reached only through
 * nats-protocol-adapter.ts (pinned version, a test, a clear error at start when missing). The
 * checks `publish()` makes are made here: a closed connection, a subject with whitespace, a
 * message over the server's `max_payload` (it throws, so only that table waits).
 *
 * Lifetimes: nats.js may read a chunk until the socket has written it. A confirmation from the
 * server (a flush round trip, or every PubAck of the cycle) proves that for every chunk handed
 * over before it, so the slabs are reused only after `confirmWritten()` (and a shard's message
 * slab only after its messages are delivered). A cycle that handed nothing over leaves nothing
 * to prove: reusing the slab after it matters, because at a few hundred small cycles a second
 * a fresh 1 MiB slab per cycle was tens of MB/s of external memory, and V8 answers that with a
 * full mark-compact every few cycles (it counts external allocations against the old
 * generation's limit): that was most of a shard's CPU in `steady` (docs/benchmarks.md).
 */
import { Buffer } from 'node:buffer';
import type { NatsConnection } from '@nats-io/transport-node';
import { NatsProtocolAdapter } from './nats-protocol-adapter.js';
import { frameUpperBound, writeHpubLine, type WireMessage } from './wire-frame.js';

export type { WireMessage } from './wire-frame.js';

const SLAB_BYTES = 1 << 20;
/** A slab's bytes are handed over once this many are written. */
const CHUNK_BYTES = 64 * 1024;
/** A run of frames this long is handed over without copying. */
const DIRECT_BYTES = 16 * 1024;
const WHITESPACE = /\s/;
/** Spare slabs kept between cycles (one cycle is at most a few MiB). */
const MAX_SPARE_SLABS = 8;

export class WireEncoder {
  private slab = Buffer.allocUnsafe(SLAB_BYTES);
  private used = 0;
  /** Bytes of the slab already handed to nats.js. */
  private handed = 0;
  /** Slabs filled in this cycle, besides the current one. */
  private filled: Buffer[] = [];
  private spare: Buffer[] = [];
  /** The run of frames not yet handed over: `runBytes[runStart, runEnd)`. */
  private runBytes: Buffer | null = null;
  private runStart = 0;
  private runEnd = 0;
  private readonly protocol: NatsProtocolAdapter;
  /** Chunks were handed to nats.js since the server last confirmed: their slabs may still be read. */
  private unconfirmed = false;
  private allocated = 1;

  /** Throws a Wal2NatsError when the NATS client lacks the internals it writes through. */
  constructor(private readonly nc: NatsConnection) {
    this.protocol = NatsProtocolAdapter.of(nc);
  }

  /** How many slabs this encoder has allocated (they are reused while the server confirms). */
  get slabsAllocated(): number {
    return this.allocated;
  }

  /** The server confirmed everything handed over so far: its slabs may be written again. */
  confirmWritten(): void {
    this.unconfirmed = false;
  }

  /**
   * Starts a cycle. If chunks handed over were not confirmed (a failed cycle), nats.js may still
   * hold them: their slabs are left to the GC and writing starts on a fresh one.
   */
  reset(): void {
    if (!this.unconfirmed) {
      for (const slab of this.filled)
        if (slab.length === SLAB_BYTES && this.spare.length < MAX_SPARE_SLABS) this.spare.push(slab);
    } else {
      // Spare slabs were confirmed before they were put aside.
      this.slab = this.spare.pop() ?? this.newSlab(SLAB_BYTES);
      this.unconfirmed = false;
    }
    this.filled = [];
    this.used = 0;
    this.handed = 0;
    this.runBytes = null;
  }

  /** Publishes an encoded message; throws when the connection or the server refuses it. */
  publish(message: WireMessage, reply: string | null = null): void {
    const { subject, bytes, headerStart, bodyStart, bodyEnd } = message;
    this.check(subject, bodyEnd - headerStart);
    if (reply === null) {
      this.addRun(bytes, message.start, message.end);
      return;
    }
    // The protocol line with the reply subject, then header block, body and CRLF as they are.
    this.endRun();
    this.ensure(frameUpperBound(subject, reply, '', '') + message.end - headerStart);
    const o = writeHpubLine(
      this.slab,
      this.used,
      subject,
      reply,
      bodyStart - headerStart,
      bodyEnd - headerStart,
    );
    this.used = o + bytes.copy(this.slab, o, headerStart, message.end);
    this.chunkIfFull();
  }

  /** Hands what is written to nats.js (before waiting for a confirmation). */
  flush(): void {
    this.endRun();
    if (this.used > this.handed) this.handOverSlab();
  }

  /**
   * As flush(), but the last chunk (under CHUNK_BYTES: larger ones were handed over already) is
   * only queued, so that the `nc.flush()` the caller makes next writes it together with its
   * PING (NatsProtocolAdapter.queueBeforePing). The caller must flush in the same turn.
   */
  flushBeforePing(): void {
    this.endRun();
    if (this.used > this.handed) this.handOverSlab(true);
  }

  private check(subject: string, total: number): void {
    if (this.nc.isClosed()) throw new Error('the NATS connection is closed');
    if (subject.length === 0 || WHITESPACE.test(subject))
      throw new Error(`the subject ${JSON.stringify(subject)} is not a valid NATS subject`);
    const info = this.nc.info;
    if (info && info.headers === false)
      throw new Error('the NATS server does not support headers (Nats-Msg-Id); use nats-server 2.2 or later');
    const max = info?.max_payload;
    if (max !== undefined && total > max)
      throw new Error(
        `the message is ${total} bytes (headers included), over the NATS server's max_payload of ${max} bytes`,
      );
  }

  private addRun(bytes: Buffer, start: number, end: number): void {
    if (bytes === this.runBytes && start === this.runEnd) {
      this.runEnd = end;
      return;
    }
    this.endRun();
    this.runBytes = bytes;
    this.runStart = start;
    this.runEnd = end;
  }

  /** Hands the pending run over as it is if long, else gathers it into the slab. */
  private endRun(): void {
    const bytes = this.runBytes;
    if (bytes === null) return;
    this.runBytes = null;
    const length = this.runEnd - this.runStart;
    if (length >= DIRECT_BYTES) {
      if (this.used > this.handed) this.handOverSlab();
      this.send(bytes.subarray(this.runStart, this.runEnd));
      return;
    }
    this.ensure(length);
    this.used += bytes.copy(this.slab, this.used, this.runStart, this.runEnd);
    this.chunkIfFull();
  }

  private chunkIfFull(): void {
    if (this.used - this.handed >= CHUNK_BYTES) this.handOverSlab();
  }

  /** Hands the slab's unhanded bytes over: written now, or only queued `beforePing`. */
  private handOverSlab(beforePing = false): void {
    this.send(this.slab.subarray(this.handed, this.used), beforePing);
    this.handed = this.used;
  }

  private send(chunk: Uint8Array, beforePing = false): void {
    this.unconfirmed = true;
    if (beforePing) this.protocol.queueBeforePing(chunk);
    else this.protocol.send(chunk);
  }

  private ensure(bytes: number): void {
    if (this.used + bytes <= this.slab.length) return;
    if (this.used > this.handed) this.handOverSlab();
    this.filled.push(this.slab);
    this.slab = bytes > SLAB_BYTES ? this.newSlab(bytes) : (this.spare.pop() ?? this.newSlab(SLAB_BYTES));
    this.used = 0;
    this.handed = 0;
  }

  private newSlab(bytes: number): Buffer {
    this.allocated++;
    return Buffer.allocUnsafe(bytes);
  }
}
