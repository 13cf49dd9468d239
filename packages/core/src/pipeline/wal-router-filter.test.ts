/** WalRouter with a ChangeFilter: what is left out is never routed, and the slot still advances. */
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { describe, it } from 'node:test';

import { DeliveryWatermark } from '../delivery/watermark.js';
import { forEachFrame, FrameKind, type ChangeBatch } from './change-batch.js';
import { ChangeFilter } from './change-filter.js';
import { WalRouter } from './wal-router.js';

// pgoutput v1 messages: https://www.postgresql.org/docs/15/protocol-logicalrep-message-formats.html
function bytes(tag: string, ...parts: (number[] | Buffer)[]): Uint8Array {
  return Uint8Array.from([tag.charCodeAt(0), ...parts.flatMap((p) => [...p])]);
}
const i32 = (v: number): number[] => [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
const i64 = (v: number): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(BigInt(v));
  return b;
};
const str = (s: string): Buffer => Buffer.concat([Buffer.from(s, 'utf8'), Buffer.from([0])]);
const tuple = [0, 1, 0x74, ...i32(1), 0x31];

const begin = (lsn: number): Uint8Array => bytes('B', i64(lsn), i64(0), i32(1));
const commit = (lsn: number, end: number): Uint8Array => bytes('C', [0], i64(lsn), i64(end), i64(0));
const relation = (id: number, schema: string, name: string): Uint8Array =>
  bytes('R', i32(id), str(schema), str(name), [0x64, 0, 1, 1], str('id'), i32(23), i32(-1));
const insert = (id: number): Uint8Array => bytes('I', i32(id), [0x4e], tuple);
const update = (id: number): Uint8Array => bytes('U', i32(id), [0x4e], tuple);
const del = (id: number): Uint8Array => bytes('D', i32(id), [0x4b], tuple);
const truncate = (ids: number[]): Uint8Array => bytes('T', i32(ids.length), [0], ...ids.map(i32));

function setup(filter: ChangeFilter) {
  const watermark = new DeliveryWatermark(1);
  const batches: ChangeBatch[] = [];
  const router = new WalRouter({ shardCount: 1, maxBatchFrames: 1000, filter }, watermark, (_shard, batch) =>
    batches.push(batch),
  );
  const frames = () => {
    router.flush();
    const out: { kind: FrameKind; tag: string; seq: number; commitIdx: number }[] = [];
    for (const batch of batches.splice(0)) {
      forEachFrame(batch, (kind, meta, payload) =>
        out.push({ kind, tag: String.fromCharCode(payload[0]!), seq: meta.seq, commitIdx: meta.commitIdx }),
      );
    }
    return out;
  };
  return { router, watermark, frames };
}

describe('WalRouter with a filter', () => {
  it('routes neither the Relation nor the changes of an excluded table, keeping commit_idx positions', () => {
    const { router, frames } = setup(
      new ChangeFilter({ tables: ['public.*'], excludeTables: ['public.secret'], actions: [] }),
    );
    router.route(begin(100));
    router.route(relation(1, 'public', 'orders'));
    router.route(relation(2, 'public', 'secret'));
    router.route(relation(3, 'audit', 'log'));
    router.route(insert(2));
    router.route(insert(3));
    router.route(insert(1));
    router.route(update(2));
    router.route(update(1));
    router.route(commit(100, 110));
    assert.deepEqual(frames(), [
      { kind: FrameKind.relation, tag: 'R', seq: 0, commitIdx: 0 },
      { kind: FrameKind.change, tag: 'I', seq: 1, commitIdx: 2 },
      { kind: FrameKind.change, tag: 'U', seq: 2, commitIdx: 4 },
    ]);
    assert.equal(router.lastSeq, 2);
  });

  it('leaves out the actions not listed, truncate included', () => {
    const { router, frames } = setup(
      new ChangeFilter({ tables: [], excludeTables: [], actions: ['insert', 'update'] }),
    );
    router.route(begin(100));
    router.route(relation(1, 'public', 'orders'));
    router.route(insert(1));
    router.route(del(1));
    router.route(update(1));
    router.route(truncate([1]));
    router.route(insert(1));
    router.route(commit(100, 110));
    assert.deepEqual(
      frames().map((f) => [f.tag, f.commitIdx]),
      [
        ['R', 0],
        ['I', 0],
        ['U', 2],
        ['I', 4],
      ],
    );
  });

  it('routes a truncate only for its included tables, and not at all when none is', () => {
    const { router, frames } = setup(
      new ChangeFilter({ tables: [], excludeTables: ['audit.*'], actions: [] }),
    );
    router.route(begin(100));
    router.route(relation(1, 'public', 'orders'));
    router.route(relation(2, 'audit', 'log'));
    router.route(truncate([2]));
    router.route(truncate([2, 1]));
    router.route(commit(100, 110));
    assert.deepEqual(
      frames().map((f) => [f.tag, f.seq, f.commitIdx]),
      [
        ['R', 0, 0],
        ['T', 1, 1],
      ],
    );
  });

  it('lets the slot advance past a transaction whose every change was left out', () => {
    const { router, watermark, frames } = setup(
      new ChangeFilter({ tables: [], excludeTables: ['audit.*'], actions: [] }),
    );
    router.route(begin(100));
    router.route(relation(2, 'audit', 'log'));
    router.route(insert(2));
    router.route(insert(2));
    router.route(commit(100, 110));
    assert.deepEqual(frames(), []);
    assert.equal(watermark.advance(), 110);
  });

  it('decides again at each Relation message, so a rename moves a table in or out', () => {
    const { router, frames } = setup(
      new ChangeFilter({ tables: [], excludeTables: ['public.old_*'], actions: [] }),
    );
    router.route(begin(100));
    router.route(relation(1, 'public', 'old_orders'));
    router.route(insert(1));
    router.route(commit(100, 110));
    router.route(begin(200));
    router.route(relation(1, 'public', 'orders'));
    router.route(insert(1));
    router.route(commit(200, 210));
    assert.deepEqual(
      frames().map((f) => [f.tag, f.seq]),
      [
        ['R', 0],
        ['I', 1],
      ],
    );
  });
});
