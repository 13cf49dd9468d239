import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  ChangeBatchWriter,
  FrameKind,
  forEachFrame,
  type ChangeBatch,
  type FrameMeta,
} from './change-batch.js';

interface Frame {
  kind: FrameKind;
  meta: FrameMeta;
  payload: Uint8Array;
}

/** Copies each frame out (forEachFrame reuses its meta object and hands out views). */
function readAll(batch: ChangeBatch): Frame[] {
  const frames: Frame[] = [];
  forEachFrame(batch, (kind, meta, payload) =>
    frames.push({ kind, meta: { ...meta }, payload: payload.slice() }),
  );
  return frames;
}

function bytes(...values: number[]): Uint8Array {
  return Uint8Array.from(values);
}

/** Deterministic payload of `length` bytes that differs per `seed`. */
function payloadOf(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (i * 31 + seed * 7) & 0xff;
  return out;
}

// Frame layout from the module's documentation: u8 kind, u32 length, 3 × f64, u32, i32.
const HEADER = 1 + 4 + 8 + 8 + 8 + 4 + 4;

describe('ChangeBatchWriter / forEachFrame', () => {
  it('round-trips every field and the payload bytes of relation and change frames', () => {
    const w = new ChangeBatchWriter();
    const frames: Frame[] = [
      {
        kind: FrameKind.relation,
        meta: {
          seq: 0,
          commitLsn: 0x1520d88,
          commitTime: 849_213_214_393_887,
          commitIdx: 0,
          annotations: null,
        },
        payload: bytes(0x52, 0, 0, 0x40, 5, 1, 2, 3),
      },
      {
        kind: FrameKind.change,
        meta: {
          seq: 1,
          commitLsn: 0x1520d88,
          commitTime: 849_213_214_393_887,
          commitIdx: 0,
          annotations: null,
        },
        payload: bytes(0x49, 0, 0, 0x40, 5, 0x4e),
      },
      {
        kind: FrameKind.change,
        meta: {
          seq: 2 ** 40 + 3,
          commitLsn: 2 ** 52 + 1,
          commitTime: -86_400_000_001,
          commitIdx: 0xffff_fffe,
          annotations: '{"user":"paul"}',
        },
        payload: bytes(0x44, 0xff, 0x00, 0x80),
      },
      {
        kind: FrameKind.change,
        meta: {
          seq: 2 ** 40 + 4,
          commitLsn: 2 ** 52 + 1,
          commitTime: 0,
          commitIdx: 7,
          annotations: '{"user":"café ☕"}',
        },
        payload: new Uint8Array(0),
      },
    ];
    for (const f of frames) w.append(f.kind, f.meta, f.payload);
    assert.equal(w.frameCount, 4);
    assert.equal(w.byteLength, 4 * HEADER + 8 + 6 + 4 + 0);
    const batch = w.take();
    assert.equal(batch.frameCount, 4);
    assert.equal(batch.changeCount, 3);
    assert.equal(batch.lastSeq, 2 ** 40 + 4);
    assert.equal(batch.byteLength, 4 * HEADER + 18);
    assert.deepEqual(readAll(batch), frames);
  });

  it('copies the payload: the caller may reuse its bytes after append', () => {
    const w = new ChangeBatchWriter();
    const scratch = bytes(1, 2, 3, 4);
    w.append(
      FrameKind.change,
      { seq: 1, commitLsn: 10, commitTime: 20, commitIdx: 0, annotations: null },
      scratch,
    );
    scratch.fill(9);
    const [frame] = readAll(w.take());
    assert.deepEqual(frame!.payload, bytes(1, 2, 3, 4));
  });

  it('accepts a payload that is a view at an offset into a larger buffer', () => {
    const big = Uint8Array.from({ length: 64 }, (_, i) => i);
    const view = big.subarray(10, 20);
    const w = new ChangeBatchWriter();
    w.append(
      FrameKind.change,
      { seq: 1, commitLsn: 1, commitTime: 1, commitIdx: 0, annotations: null },
      view,
    );
    assert.deepEqual(
      readAll(w.take())[0]!.payload,
      Uint8Array.from({ length: 10 }, (_, i) => i + 10),
    );
  });

  it('grows past its initial buffer size without losing earlier frames', () => {
    const w = new ChangeBatchWriter(64);
    const expected: Frame[] = [];
    for (let i = 1; i <= 200; i++) {
      const frame: Frame = {
        kind: i % 10 === 0 ? FrameKind.relation : FrameKind.change,
        meta: {
          seq: i % 10 === 0 ? 0 : i,
          commitLsn: 1000 + Math.floor(i / 5),
          commitTime: i * 1_000_001,
          commitIdx: i % 5,
          annotations: i % 3 === 0 ? `{"n":${i}}` : null,
        },
        payload: payloadOf((i * 37) % 3000, i),
      };
      w.append(frame.kind, frame.meta, frame.payload);
      expected.push(frame);
    }
    const batch = w.take();
    assert.ok(batch.buffer.byteLength >= batch.byteLength);
    assert.ok(batch.byteLength > 64 * 100, 'the test must really outgrow the initial 64 bytes');
    assert.equal(
      batch.byteLength,
      expected.reduce((sum, f) => sum + HEADER + f.payload.length, 0),
    );
    assert.equal(batch.frameCount, 200);
    assert.equal(batch.changeCount, 180);
    assert.equal(batch.lastSeq, 199);
    assert.deepEqual(readAll(batch), expected);
  });

  it('grows for a single frame larger than twice the buffer', () => {
    const w = new ChangeBatchWriter(16);
    const big = payloadOf(100_000, 3);
    w.append(FrameKind.change, { seq: 1, commitLsn: 1, commitTime: 1, commitIdx: 0, annotations: null }, big);
    const [frame] = readAll(w.take());
    assert.deepEqual(frame!.payload, big);
  });

  it('stores consecutive equal annotations once and maps each frame to its own', () => {
    const w = new ChangeBatchWriter();
    const a = '{"user":"paul"}';
    const b = '{"user":"ann"}';
    const sequence = [a, a, a, null, b, b, a, null];
    sequence.forEach((annotations, i) =>
      w.append(
        FrameKind.change,
        { seq: i + 1, commitLsn: 5, commitTime: 6, commitIdx: i, annotations },
        bytes(i),
      ),
    );
    const batch = w.take();
    assert.deepEqual(batch.annotations, [a, b, a], 'each run of one annotation is stored once');
    assert.deepEqual(
      readAll(batch).map((f) => f.meta.annotations),
      sequence,
    );
  });

  it('a run of one annotation over many frames is stored once', () => {
    const w = new ChangeBatchWriter();
    const a = '{"big":"' + 'x'.repeat(1000) + '"}';
    for (let i = 1; i <= 100; i++)
      w.append(
        FrameKind.change,
        { seq: i, commitLsn: 5, commitTime: 6, commitIdx: i - 1, annotations: a },
        bytes(i),
      );
    const batch = w.take();
    assert.deepEqual(batch.annotations, [a]);
    assert.ok(readAll(batch).every((f) => f.meta.annotations === a));
  });

  it('take() hands over the batch and starts afresh; the old batch stays intact', () => {
    const w = new ChangeBatchWriter(64);
    w.append(
      FrameKind.change,
      { seq: 1, commitLsn: 100, commitTime: 1, commitIdx: 0, annotations: '{"a":1}' },
      bytes(1, 1, 1),
    );
    const first = w.take();
    assert.equal(w.frameCount, 0);
    assert.equal(w.byteLength, 0);

    w.append(
      FrameKind.change,
      { seq: 2, commitLsn: 200, commitTime: 2, commitIdx: 0, annotations: '{"b":2}' },
      bytes(2, 2),
    );
    w.append(
      FrameKind.change,
      { seq: 3, commitLsn: 200, commitTime: 2, commitIdx: 1, annotations: null },
      bytes(3),
    );
    const second = w.take();

    assert.notEqual(first.buffer, second.buffer);
    assert.deepEqual(first.annotations, ['{"a":1}']);
    assert.deepEqual(second.annotations, ['{"b":2}']);
    assert.deepEqual(readAll(first), [
      {
        kind: FrameKind.change,
        meta: { seq: 1, commitLsn: 100, commitTime: 1, commitIdx: 0, annotations: '{"a":1}' },
        payload: bytes(1, 1, 1),
      },
    ]);
    assert.deepEqual(readAll(second), [
      {
        kind: FrameKind.change,
        meta: { seq: 2, commitLsn: 200, commitTime: 2, commitIdx: 0, annotations: '{"b":2}' },
        payload: bytes(2, 2),
      },
      {
        kind: FrameKind.change,
        meta: { seq: 3, commitLsn: 200, commitTime: 2, commitIdx: 1, annotations: null },
        payload: bytes(3),
      },
    ]);
    assert.equal(second.changeCount, 2);
    assert.equal(second.lastSeq, 3);
  });

  it('an annotation equal to the previous batch’s last one is stored again in the new batch', () => {
    const w = new ChangeBatchWriter();
    const a = '{"user":"paul"}';
    w.append(
      FrameKind.change,
      { seq: 1, commitLsn: 1, commitTime: 1, commitIdx: 0, annotations: a },
      bytes(1),
    );
    w.take();
    w.append(
      FrameKind.change,
      { seq: 2, commitLsn: 1, commitTime: 1, commitIdx: 1, annotations: a },
      bytes(2),
    );
    const batch = w.take();
    assert.deepEqual(batch.annotations, [a]);
    assert.equal(readAll(batch)[0]!.meta.annotations, a);
  });

  it('survives a transfer to another thread (structuredClone with transfer)', () => {
    const w = new ChangeBatchWriter();
    w.append(
      FrameKind.change,
      { seq: 9, commitLsn: 2 ** 33, commitTime: 3, commitIdx: 4, annotations: '{"k":true}' },
      bytes(7, 8, 9),
    );
    const batch = w.take();
    const moved = structuredClone(batch, { transfer: [batch.buffer] });
    assert.equal(batch.buffer.byteLength, 0, 'the sender no longer owns the buffer');
    assert.deepEqual(readAll(moved), [
      {
        kind: FrameKind.change,
        meta: { seq: 9, commitLsn: 2 ** 33, commitTime: 3, commitIdx: 4, annotations: '{"k":true}' },
        payload: bytes(7, 8, 9),
      },
    ]);
    // The writer's new buffer is independent of the transferred one.
    w.append(
      FrameKind.change,
      { seq: 10, commitLsn: 1, commitTime: 1, commitIdx: 0, annotations: null },
      bytes(1),
    );
    assert.equal(readAll(w.take()).length, 1);
  });

  it('hands a small batch over as a copy of its bytes and keeps its buffer; a large one takes the buffer', () => {
    const w = new ChangeBatchWriter(1024);
    const meta = (seq: number): FrameMeta => ({
      seq,
      commitLsn: seq,
      commitTime: 1,
      commitIdx: 0,
      annotations: null,
    });
    w.append(FrameKind.change, meta(1), payloadOf(100, 1));
    const small = w.take();
    assert.equal(small.buffer.byteLength, small.byteLength, 'exactly its bytes, not the whole buffer');
    // The writer writes on into the buffer it kept: the small batch must not change.
    w.append(FrameKind.change, meta(2), payloadOf(100, 2));
    assert.deepEqual(
      readAll(small).map((f) => f.payload),
      [payloadOf(100, 1)],
    );
    assert.deepEqual(
      readAll(w.take()).map((f) => f.payload),
      [payloadOf(100, 2)],
    );

    for (let seq = 3; seq < 8; seq++) w.append(FrameKind.change, meta(seq), payloadOf(100, seq));
    const large = w.take();
    assert.ok(large.buffer.byteLength >= 1024, 'a batch over a quarter of the buffer takes the buffer');
    const moved = structuredClone(large, { transfer: [large.buffer] });
    w.append(FrameKind.change, meta(8), payloadOf(100, 8));
    assert.equal(readAll(moved).length, 5);
    assert.deepEqual(
      readAll(w.take()).map((f) => f.payload),
      [payloadOf(100, 8)],
    );
  });

  it('visits nothing in an empty batch', () => {
    const batch = new ChangeBatchWriter().take();
    assert.equal(batch.frameCount, 0);
    assert.equal(batch.changeCount, 0);
    let visits = 0;
    forEachFrame(batch, () => visits++);
    assert.equal(visits, 0);
  });
});
