import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { describe, it } from 'node:test';

import { DeliveryWatermark } from '../delivery/watermark.js';
import {
  ChangeBatchWriter,
  FrameKind,
  forEachFrame,
  type ChangeBatch,
  type FrameMeta,
} from './change-batch.js';
import { shardForTable } from './shard.js';
import {
  ANNOTATIONS_CLEAR_PREFIX,
  ANNOTATIONS_SET_PREFIX,
  HEARTBEAT_PREFIX,
  WalRouter,
  WalRouterError,
} from './wal-router.js';

// ---- pgoutput v1 messages, built per
// https://www.postgresql.org/docs/15/protocol-logicalrep-message-formats.html

class Msg {
  private readonly parts: number[] = [];
  static tag(char: string): Msg {
    return new Msg().int8(char.charCodeAt(0));
  }
  int8(v: number): this {
    this.parts.push(v & 0xff);
    return this;
  }
  int16(v: number): this {
    this.parts.push((v >> 8) & 0xff, v & 0xff);
    return this;
  }
  int32(v: number): this {
    this.parts.push((v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
    return this;
  }
  int64(v: number): this {
    const b = Buffer.alloc(8);
    b.writeBigInt64BE(BigInt(v));
    this.parts.push(...b);
    return this;
  }
  string(s: string): this {
    this.parts.push(...Buffer.from(s, 'utf8'), 0);
    return this;
  }
  tuple(values: readonly (string | null)[]): this {
    this.int16(values.length);
    for (const v of values) {
      if (v === null) this.int8(0x6e);
      else {
        const b = Buffer.from(v, 'utf8');
        this.int8(0x74).int32(b.length);
        this.parts.push(...b);
      }
    }
    return this;
  }
  build(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

const begin = (finalLsn: number, commitTime: number, xid = 1): Uint8Array =>
  Msg.tag('B').int64(finalLsn).int64(commitTime).int32(xid).build();
const commit = (commitLsn: number, endLsn: number, commitTime: number): Uint8Array =>
  Msg.tag('C').int8(0).int64(commitLsn).int64(endLsn).int64(commitTime).build();
const relation = (id: number, schema: string, name: string): Uint8Array =>
  Msg.tag('R')
    .int32(id)
    .string(schema)
    .string(name)
    .int8(0x64)
    .int16(2)
    .int8(1)
    .string('id')
    .int32(23)
    .int32(-1)
    .int8(0)
    .string('v')
    .int32(25)
    .int32(-1)
    .build();
const insert = (id: number, values: (string | null)[] = ['1', 'a']): Uint8Array =>
  Msg.tag('I').int32(id).int8(0x4e).tuple(values).build();
const update = (id: number): Uint8Array => Msg.tag('U').int32(id).int8(0x4e).tuple(['1', 'b']).build();
const del = (id: number): Uint8Array => Msg.tag('D').int32(id).int8(0x4b).tuple(['1', null]).build();
const truncate = (ids: number[]): Uint8Array => {
  const m = Msg.tag('T').int32(ids.length).int8(0);
  for (const id of ids) m.int32(id);
  return m.build();
};
const message = (transactional: boolean, lsn: number, prefix: string, content: string): Uint8Array => {
  const b = Buffer.from(content, 'utf8');
  const m = Msg.tag('M')
    .int8(transactional ? 1 : 0)
    .int64(lsn)
    .string(prefix)
    .int32(b.length);
  for (const x of b) m.int8(x);
  return m.build();
};
const origin = (): Uint8Array => Msg.tag('O').int64(0xabcdef).string('o1').build();
const type = (): Uint8Array => Msg.tag('Y').int32(16385).string('public').string('mood').build();

// ---- a router wired to a recording watermark and batch sink

class RecordingWatermark extends DeliveryWatermark {
  readonly sent: { shard: number; seq: number }[] = [];
  // Not `commits`: DeliveryWatermark has a private field of that name.
  readonly commitNotes: { endLsn: number; lastSeq: number }[] = [];
  override noteSent(shard: number, seq: number): void {
    this.sent.push({ shard, seq });
    super.noteSent(shard, seq);
  }
  override noteCommit(endLsn: number, lastSeq: number): void {
    this.commitNotes.push({ endLsn, lastSeq });
    super.noteCommit(endLsn, lastSeq);
  }
}

interface RoutedFrame {
  shard: number;
  kind: FrameKind;
  meta: FrameMeta;
  payload: Uint8Array;
}

function setup(shardCount = 4, maxBatchFrames = 1000) {
  const watermark = new RecordingWatermark(shardCount);
  const batches: { shard: number; batch: ChangeBatch }[] = [];
  const warnings: string[] = [];
  const router = new WalRouter(
    { shardCount, maxBatchFrames, onWarning: (m) => warnings.push(m) },
    watermark,
    (shard, batch) => batches.push({ shard, batch }),
  );
  const frames = (): RoutedFrame[] => {
    router.flush();
    const out: RoutedFrame[] = [];
    for (const { shard, batch } of batches.splice(0)) {
      forEachFrame(batch, (kind, meta, payload) =>
        out.push({ shard, kind, meta: { ...meta }, payload: payload.slice() }),
      );
    }
    return out;
  };
  return { router, watermark, batches, warnings, frames };
}

/** Table names that land on distinct shards of `shardCount`, by the router's hash. */
function tablesOnDistinctShards(shardCount: number, count: number): { name: string; shard: number }[] {
  const found = new Map<number, string>();
  for (let i = 0; found.size < count && i < 1000; i++) {
    const name = `t${i}`;
    const shard = shardForTable('public', name, shardCount);
    if (!found.has(shard)) found.set(shard, name);
  }
  assert.equal(found.size, count);
  return [...found].map(([shard, name]) => ({ name, shard }));
}

const T0 = 849_213_214_393_887; // a commit time, µs since 2000-01-01

describe('WalRouter', () => {
  it('routes a transaction: relation and change frames to the table’s shard, numbered, commit noted at its end LSN', () => {
    const { router, watermark, frames } = setup(4);
    const shard = shardForTable('public', 'orders', 4);
    const rel = relation(16389, 'public', 'orders');
    const i1 = insert(16389, ['1', 'a']);
    const i2 = insert(16389, ['2', 'b']);
    router.route(begin(0x1_0000_0200, T0));
    assert.equal(router.isInTransaction, true);
    router.route(rel);
    router.route(i1);
    router.route(i2);
    router.route(commit(0x1_0000_0200, 0x1_0000_0230, T0));
    assert.equal(router.isInTransaction, false);
    assert.equal(router.lastSeq, 2);

    const meta = (seq: number, commitIdx: number): FrameMeta => ({
      seq,
      commitLsn: 0x1_0000_0200,
      commitTime: T0,
      commitIdx,
      annotations: null,
    });
    assert.deepEqual(frames(), [
      { shard, kind: FrameKind.relation, meta: meta(0, 0), payload: rel },
      { shard, kind: FrameKind.change, meta: meta(1, 0), payload: i1 },
      { shard, kind: FrameKind.change, meta: meta(2, 1), payload: i2 },
    ]);
    assert.deepEqual(watermark.sent, [
      { shard, seq: 1 },
      { shard, seq: 2 },
    ]);
    assert.deepEqual(watermark.commitNotes, [{ endLsn: 0x1_0000_0230, lastSeq: 2 }]);
  });

  it('reads a negative (pre-2000) commit time from Begin', () => {
    const { router, frames } = setup(1);
    router.route(begin(100, -86_400_000_001));
    router.route(relation(1, 'public', 't'));
    router.route(insert(1));
    assert.equal(frames()[1]!.meta.commitTime, -86_400_000_001);
  });

  it('numbers seq globally and commit_idx per transaction, across tables on different shards', () => {
    const { router, watermark, frames } = setup(4);
    const [a, b] = tablesOnDistinctShards(4, 2) as [
      { name: string; shard: number },
      { name: string; shard: number },
    ];
    router.route(begin(1000, T0));
    router.route(relation(1, 'public', a.name));
    router.route(relation(2, 'public', b.name));
    router.route(insert(1));
    router.route(update(2));
    router.route(del(1));
    router.route(commit(1000, 1010, T0));
    router.route(begin(2000, T0 + 5));
    router.route(insert(2));
    router.route(insert(1));
    router.route(commit(2000, 2010, T0 + 5));

    const changes = frames()
      .filter((f) => f.kind === FrameKind.change)
      .sort((x, y) => x.meta.seq - y.meta.seq);
    assert.deepEqual(
      changes.map((f) => [
        f.meta.seq,
        f.shard,
        f.meta.commitLsn,
        f.meta.commitIdx,
        f.meta.commitTime,
        f.payload[0],
      ]),
      [
        [1, a.shard, 1000, 0, T0, 0x49],
        [2, b.shard, 1000, 1, T0, 0x55],
        [3, a.shard, 1000, 2, T0, 0x44],
        [4, b.shard, 2000, 0, T0 + 5, 0x49],
        [5, a.shard, 2000, 1, T0 + 5, 0x49],
      ],
    );
    assert.deepEqual(watermark.commitNotes, [
      { endLsn: 1010, lastSeq: 3 },
      { endLsn: 2010, lastSeq: 5 },
    ]);
    assert.deepEqual(
      watermark.sent.map((s) => [s.seq, s.shard]),
      [
        [1, a.shard],
        [2, b.shard],
        [3, a.shard],
        [4, b.shard],
        [5, a.shard],
      ],
    );
  });

  it('sends a truncate once per shard involved and advances commit_idx by the number of relations', () => {
    const { router, watermark, frames } = setup(4);
    const [a, b] = tablesOnDistinctShards(4, 2) as [
      { name: string; shard: number },
      { name: string; shard: number },
    ];
    router.route(begin(3000, T0));
    router.route(relation(1, 'public', a.name));
    router.route(relation(2, 'public', b.name));
    router.route(relation(3, 'public', a.name + '_same_shard_?')); // whichever shard it hashes to
    router.route(insert(2)); // commit_idx 0
    const t = truncate([1, 2, 3]);
    router.route(t); // commit_idx 1, 2, 3
    router.route(insert(1)); // commit_idx 4
    router.route(commit(3000, 3050, T0));

    const shard3 = shardForTable('public', a.name + '_same_shard_?', 4);
    const involved = new Set([a.shard, b.shard, shard3]);
    const changes = frames().filter((f) => f.kind === FrameKind.change);
    const truncates = changes.filter((f) => f.payload[0] === 0x54);
    assert.equal(truncates.length, involved.size, 'one truncate frame per shard that owns one of the tables');
    assert.deepEqual(new Set(truncates.map((f) => f.shard)), involved);
    for (const f of truncates) {
      assert.equal(f.meta.commitIdx, 1, 'the first truncated table’s position');
      assert.deepEqual(f.payload, t);
    }
    assert.deepEqual(
      truncates.map((f) => f.meta.seq).sort((x, y) => x - y),
      Array.from({ length: involved.size }, (_, i) => 2 + i),
    );
    const last = changes.find((f) => f.payload[0] === 0x49 && f.shard === a.shard && f.meta.seq > 1)!;
    assert.equal(last.meta.commitIdx, 4);
    assert.equal(last.meta.seq, 2 + involved.size);
    assert.deepEqual(watermark.commitNotes, [{ endLsn: 3050, lastSeq: 2 + involved.size }]);
  });

  it('sends a truncate of tables that all live on one shard as a single frame', () => {
    const { router, frames } = setup(1);
    router.route(begin(10, T0));
    router.route(relation(1, 'public', 'a'));
    router.route(relation(2, 'public', 'b'));
    router.route(relation(3, 'public', 'c'));
    router.route(truncate([1, 2, 3]));
    router.route(insert(1));
    const changes = frames().filter((f) => f.kind === FrameKind.change);
    assert.deepEqual(
      changes.map((f) => [f.meta.seq, f.meta.commitIdx]),
      [
        [1, 0],
        [2, 3],
      ],
    );
  });

  it('attaches transaction annotations to the changes that follow, until cleared or the transaction ends', () => {
    const { router, frames, warnings } = setup(1);
    router.route(begin(10, T0));
    router.route(relation(1, 'public', 't'));
    router.route(insert(1)); // before: none
    router.route(message(true, 11, ANNOTATIONS_SET_PREFIX, '{"user":"paul"}'));
    router.route(insert(1));
    router.route(insert(1));
    router.route(message(true, 12, ANNOTATIONS_SET_PREFIX, '{"user":"ann","n":[1,2]}'));
    router.route(insert(1));
    router.route(message(true, 13, ANNOTATIONS_CLEAR_PREFIX, ''));
    router.route(insert(1));
    router.route(message(true, 14, ANNOTATIONS_SET_PREFIX, '{"user":"zed"}'));
    router.route(insert(1));
    router.route(commit(10, 20, T0));
    router.route(begin(30, T0));
    router.route(insert(1)); // a new transaction starts without annotations
    router.route(commit(30, 40, T0));
    const changes = frames().filter((f) => f.kind === FrameKind.change);
    assert.deepEqual(
      changes.map((f) => f.meta.annotations),
      [null, '{"user":"paul"}', '{"user":"paul"}', '{"user":"ann","n":[1,2]}', null, '{"user":"zed"}', null],
    );
    assert.deepEqual(warnings, []);
  });

  it('ignores annotations that are not JSON, with a warning, keeping the previous ones', () => {
    const { router, frames, warnings } = setup(1);
    router.route(begin(10, T0));
    router.route(relation(1, 'public', 't'));
    router.route(message(true, 11, ANNOTATIONS_SET_PREFIX, 'user=paul'));
    router.route(insert(1));
    router.route(message(true, 12, ANNOTATIONS_SET_PREFIX, '{"ok":1}'));
    router.route(message(true, 13, ANNOTATIONS_SET_PREFIX, '{"broken":'));
    router.route(insert(1));
    const changes = frames().filter((f) => f.kind === FrameKind.change);
    assert.deepEqual(
      changes.map((f) => f.meta.annotations),
      [null, '{"ok":1}'],
    );
    assert.equal(warnings.length, 2);
    assert.match(warnings[0]!, /not JSON/);
    assert.match(warnings[0]!, /user=paul/);
  });

  it('ignores other transactional messages and non-transactional annotation messages', () => {
    const { router, frames, watermark } = setup(1);
    router.route(begin(10, T0));
    router.route(relation(1, 'public', 't'));
    router.route(message(true, 11, 'someone:else', '{"x":1}'));
    router.route(message(false, 12, ANNOTATIONS_SET_PREFIX, '{"user":"paul"}'));
    router.route(insert(1));
    assert.deepEqual(
      frames()
        .filter((f) => f.kind === FrameKind.change)
        .map((f) => f.meta.annotations),
      [null],
    );
    assert.deepEqual(watermark.commitNotes, []);
  });

  it('notes a non-transactional heartbeat between transactions as a commit at its LSN', () => {
    const { router, watermark, frames } = setup(2);
    router.route(message(false, 500, HEARTBEAT_PREFIX, '')); // idle slot, nothing sent yet
    router.route(begin(1000, T0));
    router.route(relation(1, 'public', 't'));
    router.route(insert(1));
    router.route(message(false, 1005, HEARTBEAT_PREFIX, '')); // inside a transaction: not a boundary
    router.route(commit(1000, 1010, T0));
    router.route(message(false, 1100, HEARTBEAT_PREFIX, 'tick'));
    router.route(message(true, 1200, HEARTBEAT_PREFIX, '')); // transactional: not ours
    router.route(message(false, 1300, 'wal2nats:heartbeat2', '')); // another prefix
    assert.deepEqual(watermark.commitNotes, [
      { endLsn: 500, lastSeq: 0 },
      { endLsn: 1010, lastSeq: 1 },
      { endLsn: 1100, lastSeq: 1 },
    ]);
    assert.equal(
      frames().filter((f) => f.kind === FrameKind.change).length,
      1,
      'a heartbeat is not published',
    );
  });

  it('throws WalRouterError for a change before its Relation message, without using up a seq', () => {
    for (const change of [insert(99), update(99), del(99), truncate([99])]) {
      const { router, watermark } = setup(2);
      router.route(begin(10, T0));
      assert.throws(
        () => router.route(change),
        (e: unknown) =>
          e instanceof WalRouterError && e.name === 'WalRouterError' && /relation 99/.test(e.message),
      );
      assert.equal(router.lastSeq, 0);
      assert.deepEqual(watermark.sent, []);
    }
  });

  it('throws WalRouterError for a truncate naming one unknown relation among known ones', () => {
    const { router } = setup(2);
    router.route(begin(10, T0));
    router.route(relation(1, 'public', 't'));
    assert.throws(() => router.route(truncate([1, 42])), WalRouterError);
  });

  it('resetTransaction leaves the transaction and drops its annotations', () => {
    const { router, watermark, frames } = setup(1);
    router.route(relation(1, 'public', 't'));
    router.route(begin(10, T0));
    router.route(message(true, 11, ANNOTATIONS_SET_PREFIX, '{"user":"paul"}'));
    assert.equal(router.isInTransaction, true);
    router.resetTransaction(); // the connection dropped mid-transaction
    assert.equal(router.isInTransaction, false);
    router.route(message(false, 50, HEARTBEAT_PREFIX, ''));
    assert.deepEqual(
      watermark.commitNotes,
      [{ endLsn: 50, lastSeq: 0 }],
      'a heartbeat now counts as between transactions',
    );
    router.route(begin(10, T0)); // the transaction is sent again from its start
    router.route(insert(1));
    assert.equal(frames().filter((f) => f.kind === FrameKind.change)[0]!.meta.annotations, null);
  });

  it('keeps the relation-to-shard mapping across resetTransaction', () => {
    const { router, frames } = setup(4);
    router.route(relation(1, 'public', 'orders'));
    router.resetTransaction();
    router.route(begin(10, T0));
    router.route(insert(1));
    const [change] = frames().filter((f) => f.kind === FrameKind.change);
    assert.equal(change!.shard, shardForTable('public', 'orders', 4));
  });

  it('pins a table to the shard of its first Relation message, even after a rename', () => {
    const { router, frames } = setup(4);
    const [a, b] = tablesOnDistinctShards(4, 2) as [
      { name: string; shard: number },
      { name: string; shard: number },
    ];
    router.route(begin(10, T0));
    router.route(relation(1, 'public', a.name));
    router.route(insert(1));
    router.route(relation(1, 'public', b.name)); // ALTER TABLE ... RENAME
    router.route(insert(1));
    const all = frames();
    assert.deepEqual(new Set(all.map((f) => f.shard)), new Set([a.shard]));
    assert.equal(
      all.filter((f) => f.kind === FrameKind.relation).length,
      2,
      'the new Relation message is forwarded too',
    );
  });

  it('hands a batch over as soon as it holds maxBatchFrames frames', () => {
    const { router, batches } = setup(1, 3);
    router.route(begin(10, T0));
    router.route(relation(1, 'public', 't'));
    router.route(insert(1));
    assert.equal(batches.length, 0);
    assert.equal(router.hasUnflushed(), true);
    router.route(insert(1));
    assert.equal(batches.length, 1, 'third frame fills the batch');
    assert.equal(batches[0]!.batch.frameCount, 3);
    assert.equal(batches[0]!.batch.changeCount, 2);
    assert.equal(batches[0]!.batch.lastSeq, 2);
    assert.equal(router.hasUnflushed(), false);
    for (let i = 0; i < 6; i++) router.route(insert(1));
    assert.equal(batches.length, 3);
    router.route(insert(1));
    assert.equal(batches.length, 3);
    router.flush();
    assert.equal(batches.length, 4);
    assert.equal(batches[3]!.batch.frameCount, 1);
    router.flush();
    assert.equal(batches.length, 4, 'flush() hands over only non-empty batches');
  });

  it('flushes each shard’s batch separately', () => {
    const { router, batches } = setup(4, 2);
    const [a, b] = tablesOnDistinctShards(4, 2) as [
      { name: string; shard: number },
      { name: string; shard: number },
    ];
    router.route(begin(10, T0));
    router.route(relation(1, 'public', a.name));
    router.route(relation(2, 'public', b.name));
    router.route(insert(1));
    assert.deepEqual(
      batches.map((x) => x.shard),
      [a.shard],
    );
    router.route(insert(2));
    assert.deepEqual(
      batches.map((x) => x.shard),
      [a.shard, b.shard],
    );
  });

  it('copies the bytes: the caller may reuse its buffer after route()', () => {
    const { router, frames } = setup(1);
    router.route(begin(10, T0));
    router.route(relation(1, 'public', 't'));
    const scratch = insert(1, ['7', 'seven']);
    const copy = scratch.slice();
    router.route(scratch);
    scratch.fill(0);
    assert.deepEqual(frames().find((f) => f.kind === FrameKind.change)!.payload, copy);
  });

  it('routes messages that are views at an offset into a larger buffer', () => {
    const { router, watermark, frames } = setup(1);
    const embed = (bytes: Uint8Array): Uint8Array => {
      const big = new Uint8Array(bytes.length + 11).fill(0xee);
      big.set(bytes, 5);
      return big.subarray(5, 5 + bytes.length);
    };
    router.route(embed(begin(0x2_0000_0000, T0)));
    router.route(embed(relation(1, 'public', 't')));
    router.route(embed(insert(1)));
    router.route(embed(commit(0x2_0000_0000, 0x2_0000_0040, T0)));
    const [change] = frames().filter((f) => f.kind === FrameKind.change);
    assert.equal(change!.meta.commitLsn, 0x2_0000_0000);
    assert.equal(change!.meta.commitTime, T0);
    assert.deepEqual(watermark.commitNotes, [{ endLsn: 0x2_0000_0040, lastSeq: 1 }]);
  });

  it('ignores Origin and Type messages', () => {
    const { router, frames, watermark } = setup(1);
    router.route(begin(10, T0));
    router.route(origin());
    router.route(type());
    router.route(commit(10, 20, T0));
    assert.deepEqual(frames(), []);
    assert.deepEqual(watermark.sent, []);
    assert.deepEqual(watermark.commitNotes, [{ endLsn: 20, lastSeq: 0 }]);
  });

  it('together with the watermark, confirms a commit only when its shards delivered', () => {
    const { router, watermark } = setup(4);
    const [a, b] = tablesOnDistinctShards(4, 2) as [
      { name: string; shard: number },
      { name: string; shard: number },
    ];
    router.route(begin(100, T0));
    router.route(relation(1, 'public', a.name));
    router.route(relation(2, 'public', b.name));
    router.route(insert(1)); // seq 1 on a
    router.route(insert(2)); // seq 2 on b
    router.route(commit(100, 120, T0));
    router.flush();
    assert.equal(watermark.advance(), null);
    watermark.noteDelivered(a.shard, 1);
    assert.equal(watermark.advance(), null);
    watermark.noteDelivered(b.shard, 2);
    assert.equal(watermark.advance(), 120);
  });

  it('routes real Postgres 15 messages (captured with pg_logical_slot_peek_binary_changes)', () => {
    const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));
    const { router, watermark, frames } = setup(4);
    const stream = [
      '420000000001520d880003045adbfb861f000002dc', // BEGIN, final LSN 0/1520D88
      '52000040057075626c6963006f7264657273006400040169640000000014ffffffff00707269636500000006a4ffffffff007374617475730000000019ffffffff006e6f74650000000019ffffffff', // Relation public.orders (16389)
      '49000040054e000474000000043132333474000000063139392e39397400000009636166c3a920e298956e', // INSERT
      '43000000000001520d880000000001520db80003045adbfb861f', // COMMIT, end LSN 0/1520DB8
      '4200000000015268300003045adbfbaf01000002e5', // BEGIN, final LSN 0/1526830
      '4d0100000000015267a873657175696e3a7472616e73616374696f6e5f616e6e6f746174696f6e732e736574000000000f7b2275736572223a227061756c227d', // annotations.set
      '49000040054e0004740000000137740000000131740000000161740000000162', // INSERT
      '4300000000000152683000000000015268600003045adbfbaf01', // COMMIT, end LSN 0/1526860
      '4d0000000000015268a877616c326e6174733a6865617274626561740000000000', // heartbeat at 0/15268A8
      '420000000001527f880003045adbfbc68d000002e6', // BEGIN
      '52000040137075626c696300706c61696e006400020169640000000017ffffffff00626f64790000000019ffffffff', // Relation public.plain (16403)
      '5400000002030000400500004013', // TRUNCATE orders, plain
      '43000000000001527f8800000000015282400003045adbfbc68d', // COMMIT, end LSN 0/1528240
    ].map(hex);
    for (const m of stream) router.route(m);
    const changes = frames()
      .filter((f) => f.kind === FrameKind.change)
      .sort((x, y) => x.meta.seq - y.meta.seq);
    const ordersShard = shardForTable('public', 'orders', 4);
    const plainShard = shardForTable('public', 'plain', 4);
    assert.deepEqual(
      changes
        .slice(0, 2)
        .map((f) => [f.shard, f.meta.seq, f.meta.commitLsn, f.meta.commitIdx, f.meta.annotations]),
      [
        [ordersShard, 1, 0x1520d88, 0, null],
        [ordersShard, 2, 0x1526830, 0, '{"user":"paul"}'],
      ],
    );
    assert.equal(changes[0]!.meta.commitTime, Number(0x0003045adbfb861fn));
    const truncateShards = new Set(changes.slice(2).map((f) => f.shard));
    assert.deepEqual(truncateShards, new Set([ordersShard, plainShard]));
    const truncateFrames = ordersShard === plainShard ? 1 : 2;
    assert.deepEqual(watermark.commitNotes, [
      { endLsn: 0x1520db8, lastSeq: 1 },
      { endLsn: 0x1526860, lastSeq: 2 },
      { endLsn: 0x15268a8, lastSeq: 2 },
      { endLsn: 0x1528240, lastSeq: 2 + truncateFrames },
    ]);
  });
});

// Keep the writer import honest: a router writer and a direct writer lay frames out the same way.
describe('WalRouter frames vs ChangeBatchWriter', () => {
  it('are byte-identical to frames written directly', () => {
    const { router, batches } = setup(1);
    const b = begin(0x1234, T0);
    const r = relation(1, 'public', 't');
    const i = insert(1);
    router.route(b);
    router.route(r);
    router.route(i);
    router.flush();
    const direct = new ChangeBatchWriter();
    direct.append(
      FrameKind.relation,
      { seq: 0, commitLsn: 0x1234, commitTime: T0, commitIdx: 0, annotations: null },
      r,
    );
    direct.append(
      FrameKind.change,
      { seq: 1, commitLsn: 0x1234, commitTime: T0, commitIdx: 0, annotations: null },
      i,
    );
    const expected = direct.take();
    const got = batches[0]!.batch;
    assert.deepEqual(
      new Uint8Array(got.buffer, 0, got.byteLength),
      new Uint8Array(expected.buffer, 0, expected.byteLength),
    );
  });
});
