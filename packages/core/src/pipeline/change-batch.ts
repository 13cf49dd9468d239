/**
 * The frames that the reader thread sends to a shard worker: raw pgoutput messages with the
 * numbering the reader gave them, packed into one ArrayBuffer that is transferred, not cloned.
 * docs/pitfalls.md measured ~300k/s for one postMessage per event against ~7M/s for raw bytes in one
 * transferred buffer.
 *
 * Frame layout (big-endian):
 *   u8  kind            1 = relation, 2 = change, 3 = read (a backfilled row, as an Insert message)
 *   u32 payloadLength
 *   f64 seq             global change number (0 for relations)
 *   f64 commitLsn       the transaction's commit LSN
 *   f64 commitTime      microseconds since 2000-01-01
 *   u32 commitIdx       index of the change in its transaction (first one for a truncate)
 *   i32 annotations     index into `annotations`, or -1
 *   ... payload         the pgoutput message bytes
 */
export const FrameKind = { relation: 1, change: 2, read: 3 } as const;
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind];

const HEADER_BYTES = 1 + 4 + 8 + 8 + 8 + 4 + 4;

export interface ChangeBatch {
  readonly buffer: ArrayBuffer;
  readonly byteLength: number;
  readonly frameCount: number;
  /** Change and read frames: everything that becomes a message. */
  readonly changeCount: number;
  readonly lastSeq: number;
  readonly annotations: readonly string[];
}

export interface FrameMeta {
  seq: number;
  commitLsn: number;
  commitTime: number;
  commitIdx: number;
  annotations: string | null;
}

/** A batch of at most 1/SMALL_BATCH_SHARE of the writer's buffer is handed over as a copy. */
const SMALL_BATCH_SHARE = 4;

export class ChangeBatchWriter {
  private buffer: ArrayBuffer;
  private view: DataView;
  private bytes: Uint8Array;
  private length = 0;
  private frames = 0;
  private changes = 0;
  private lastSeq = 0;
  private annotations: string[] = [];
  private lastAnnotation: string | null = null;

  constructor(private readonly initialBytes = 64 * 1024) {
    this.buffer = new ArrayBuffer(initialBytes);
    this.view = new DataView(this.buffer);
    this.bytes = new Uint8Array(this.buffer);
  }

  get frameCount(): number {
    return this.frames;
  }
  get byteLength(): number {
    return this.length;
  }

  append(kind: FrameKind, meta: FrameMeta, payload: Uint8Array): void {
    this.ensure(HEADER_BYTES + payload.byteLength);
    const v = this.view;
    let o = this.length;
    v.setUint8(o, kind);
    o += 1;
    v.setUint32(o, payload.byteLength);
    o += 4;
    v.setFloat64(o, meta.seq);
    o += 8;
    v.setFloat64(o, meta.commitLsn);
    o += 8;
    v.setFloat64(o, meta.commitTime);
    o += 8;
    v.setUint32(o, meta.commitIdx);
    o += 4;
    v.setInt32(o, this.annotationIndex(meta.annotations));
    o += 4;
    this.bytes.set(payload, o);
    this.length = o + payload.byteLength;
    this.frames++;
    if (kind !== FrameKind.relation) {
      this.changes++;
      this.lastSeq = meta.seq;
    }
  }

  /**
   * Hands the batch over and starts afresh. A batch that fills a good part of the buffer takes
   * the buffer itself (it is transferred away) and a new one is allocated; a small batch gets a
   * copy of its bytes, and the buffer is kept. Why: at low rates a batch is one transaction of a
   * few hundred bytes, and a fresh 64 KiB buffer per hand-over was megabytes a second of external
   * memory, which V8 counts towards its next mark-compact (docs/benchmarks.md, `oltp`).
   */
  take(): ChangeBatch {
    const small = this.length * SMALL_BATCH_SHARE <= this.buffer.byteLength;
    const batch: ChangeBatch = {
      buffer: small ? this.buffer.slice(0, this.length) : this.buffer,
      byteLength: this.length,
      frameCount: this.frames,
      changeCount: this.changes,
      lastSeq: this.lastSeq,
      annotations: this.annotations,
    };
    if (!small) {
      // Size the next buffer like this batch, with headroom, so a batch rarely has to grow.
      this.buffer = new ArrayBuffer(
        Math.max(this.initialBytes, Math.min(Math.ceil(this.length * 1.5), 8 * 1024 * 1024)),
      );
      this.view = new DataView(this.buffer);
      this.bytes = new Uint8Array(this.buffer);
    }
    this.length = 0;
    this.frames = 0;
    this.changes = 0;
    this.annotations = [];
    this.lastAnnotation = null;
    return batch;
  }

  private annotationIndex(annotations: string | null): number {
    if (annotations === null) return -1;
    if (annotations !== this.lastAnnotation) {
      this.annotations.push(annotations);
      this.lastAnnotation = annotations;
    }
    return this.annotations.length - 1;
  }

  private ensure(extra: number): void {
    if (this.length + extra <= this.buffer.byteLength) return;
    const grown = new ArrayBuffer(Math.max(this.buffer.byteLength * 2, this.length + extra));
    new Uint8Array(grown).set(this.bytes.subarray(0, this.length));
    this.buffer = grown;
    this.view = new DataView(grown);
    this.bytes = new Uint8Array(grown);
  }
}

/** Visits each frame of a batch in order. The payload is a view into the batch's buffer. */
export function forEachFrame(
  batch: ChangeBatch,
  visit: (kind: FrameKind, meta: FrameMeta, payload: Uint8Array) => void,
): void {
  const view = new DataView(batch.buffer, 0, batch.byteLength);
  const meta: FrameMeta = { seq: 0, commitLsn: 0, commitTime: 0, commitIdx: 0, annotations: null };
  let o = 0;
  while (o < batch.byteLength) {
    const kind = view.getUint8(o) as FrameKind;
    const length = view.getUint32(o + 1);
    meta.seq = view.getFloat64(o + 5);
    meta.commitLsn = view.getFloat64(o + 13);
    meta.commitTime = view.getFloat64(o + 21);
    meta.commitIdx = view.getUint32(o + 29);
    const annotation = view.getInt32(o + 33);
    meta.annotations = annotation < 0 ? null : batch.annotations[annotation]!;
    o += HEADER_BYTES;
    visit(kind, meta, new Uint8Array(batch.buffer, o, length));
    o += length;
  }
}
