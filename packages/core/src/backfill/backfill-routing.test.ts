/** The router and the window together: watermarks in the stream, read frames out. */
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { describe, it } from 'node:test';
import { DeliveryWatermark } from '../delivery/watermark.js';
import { decodePgoutput } from '../pgoutput/pgoutput-decoder.js';
import type { RelationMessage } from '../pgoutput/pgoutput.types.js';
import { forEachFrame, FrameKind, type ChangeBatch } from '../pipeline/change-batch.js';
import { WalRouter } from '../pipeline/wal-router.js';
import { BackfillWindow, type ChunkOutcome } from './backfill-window.js';
import { encodeRelationMessage, encodeRowMessage } from './pgoutput-encoder.js';
import { BACKFILL_HIGH_PREFIX, BACKFILL_LOW_PREFIX, watermarkContent } from './watermark-messages.js';

function lsn8(v: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(v));
  return b;
}
const begin = (finalLsn: number): Uint8Array =>
  Buffer.concat([Buffer.from('B'), lsn8(finalLsn), lsn8(1000), Buffer.from([0, 0, 0, 1])]);
const commit = (endLsn: number): Uint8Array =>
  Buffer.concat([Buffer.from('C'), Buffer.from([0]), lsn8(endLsn - 8), lsn8(endLsn), lsn8(1000)]);
function message(prefix: string, content: string, lsn: number): Uint8Array {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(Buffer.byteLength(content));
  return Buffer.concat([
    Buffer.from('M'),
    Buffer.from([1]),
    lsn8(lsn),
    Buffer.from(`${prefix}\0`),
    length,
    Buffer.from(content),
  ]);
}
function deleteOf(relationId: number, id: string): Uint8Array {
  const insert = Buffer.from(encodeRowMessage(relationId, [id, null]));
  insert[0] = 'D'.charCodeAt(0);
  insert[5] = 'K'.charCodeAt(0);
  return insert;
}

const items: RelationMessage = {
  tag: 'relation',
  relationId: 10,
  schema: 'public',
  name: 'items',
  replicaIdentity: 'd',
  columns: [
    { name: 'id', typeOid: 23, typeMod: -1, isKey: true },
    { name: 'v', typeOid: 25, typeMod: -1, isKey: false },
  ],
};

function setUp(): {
  router: WalRouter;
  window: BackfillWindow;
  frames: { kind: number; tag: string; seq: number; lsn: number; idx: number }[];
  watermark: DeliveryWatermark;
} {
  const window = new BackfillWindow();
  const watermark = new DeliveryWatermark(1);
  const frames: { kind: number; tag: string; seq: number; lsn: number; idx: number }[] = [];
  const router = new WalRouter(
    { shardCount: 1, maxBatchFrames: 1, backfill: window },
    watermark,
    (_shard, batch: ChangeBatch) => {
      forEachFrame(batch, (kind, meta, payload) =>
        frames.push({
          kind,
          tag: decodePgoutput(payload).tag,
          seq: meta.seq,
          lsn: meta.commitLsn,
          idx: meta.commitIdx,
        }),
      );
    },
  );
  return { router, window, frames, watermark };
}

function runChunk(router: WalRouter, window: BackfillWindow, between: Uint8Array[] = []): ChunkOutcome[] {
  const outcomes: ChunkOutcome[] = [];
  window.expect({ token: 'c1', relation: items, keyColumns: ['id'] }, (o) => outcomes.push(o));
  for (const m of [begin(100), message(BACKFILL_LOW_PREFIX, watermarkContent('c1'), 90), commit(108)])
    router.route(m);
  window.attachRows('c1', [
    ['1', 'a'],
    ['2', 'b'],
  ]);
  for (const m of between) router.route(m);
  for (const m of [begin(300), message(BACKFILL_HIGH_PREFIX, watermarkContent('c1'), 290), commit(308)])
    router.route(m);
  return outcomes;
}

describe('backfill through the router', () => {
  it('routes the chunk as read frames inside the high watermark’s transaction, announcing the table first when the shard does not know it', () => {
    const { router, window, frames, watermark } = setUp();
    const outcomes = runChunk(router, window);
    assert.deepEqual(
      frames.map((f) => [f.kind, f.tag]),
      [
        [FrameKind.relation, 'relation'],
        [FrameKind.read, 'insert'],
        [FrameKind.read, 'insert'],
      ],
    );
    assert.deepEqual(
      frames.slice(1).map((f) => [f.seq, f.lsn, f.idx]),
      [
        [1, 300, 0],
        [2, 300, 1],
      ],
    );
    assert.deepEqual(outcomes, [{ kind: 'routed', token: 'c1', routed: 2, dropped: 0, commitEndLsn: 308 }]);
    // The high watermark's commit is confirmed only once the reads are delivered.
    watermark.noteDelivered(0, 1);
    assert.equal(watermark.advance(), 108);
    watermark.noteDelivered(0, 2);
    assert.equal(watermark.advance(), 308);
  });

  it('drops a row deleted between the watermarks; the delete is routed as a change before the reads', () => {
    const { router, window, frames } = setUp();
    router.route(encodeRelationMessage(items));
    const outcomes = runChunk(router, window, [begin(200), deleteOf(10, '2'), commit(208)]);
    assert.deepEqual(
      frames.map((f) => [f.kind, f.tag, f.lsn]),
      [
        [FrameKind.relation, 'relation', 0],
        [FrameKind.change, 'delete', 200],
        [FrameKind.read, 'insert', 300],
      ],
    );
    assert.equal(outcomes[0]?.kind === 'routed' && outcomes[0].dropped, 1);
  });

  it('puts the stream’s own Relation message back after reads described differently', () => {
    const { router, window, frames } = setUp();
    const older: RelationMessage = { ...items, columns: [items.columns[0]!] };
    router.route(encodeRelationMessage(older));
    runChunk(router, window);
    const relations = frames.filter((f) => f.kind === FrameKind.relation);
    assert.equal(relations.length, 3, 'the stream’s, the chunk’s, the stream’s again');
  });

  it('ignores watermarks it does not hold, and never routes the backfill state table', () => {
    const { router, frames } = setUp();
    for (const m of [begin(100), message(BACKFILL_HIGH_PREFIX, watermarkContent('old'), 90), commit(108)])
      router.route(m);
    router.route(encodeRelationMessage({ ...items, relationId: 11, schema: 'wal2nats', name: 'backfills' }));
    router.route(begin(200));
    router.route(encodeRowMessage(11, ['1', 'x']));
    router.route(commit(208));
    assert.deepEqual(frames, []);
  });
});
