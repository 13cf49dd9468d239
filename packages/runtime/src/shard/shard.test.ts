/**
 * A Shard run in-process (no worker thread, no NATS): real batches of pgoutput frames as the
 * reader sends them, a fake sink (test/support/fake-delivery-sink.ts), and a stand-in for the
 * reader's port. What is checked: every change becomes its message, in commit order per table;
 * the frontier reported to the reader covers only what the sink holds; batches that arrive
 * before the connection wait for it; a fence drops what the ended session routed; a frame the
 * shard cannot decode stops it with nothing past it reported delivered.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import {
  ChangeBatchWriter,
  encodeRelationMessage,
  encodeRowMessage,
  FrameKind,
  resolveConfig,
  type ChangeBatch,
  type FrameMeta,
} from '@wal2nats/core';
import { FakeDeliverySink } from '../../../../test/support/fake-delivery-sink.js';
import { createLogger } from '../log/logger.js';
import { createShardMetrics } from '../metrics/shard-metrics.js';
import type { NatsLink } from '../sink/nats-link.js';
import type { DeliveredMessage, ShardToReader } from '../threads/thread-messages.js';
import { MessageTracker } from './message-tracker.js';
import { Shard } from './shard.js';

const ITEMS = 16384;
const ORDERS = 16385;

function relation(relationId: number, name: string, valueColumn = 'v'): Uint8Array {
  return encodeRelationMessage({
    tag: 'relation',
    relationId,
    schema: 'public',
    name,
    replicaIdentity: 'd',
    columns: [
      { isKey: true, name: 'id', typeOid: 23, typeMod: -1 },
      { isKey: false, name: valueColumn, typeOid: 25, typeMod: -1 },
    ],
  });
}

/** A Truncate message of `relationIds` (pgoutput: count, options, ids). */
function truncateMessage(relationIds: number[]): Uint8Array {
  const bytes = Buffer.alloc(6 + 4 * relationIds.length);
  bytes[0] = 0x54; // T
  bytes.writeUInt32BE(relationIds.length, 1);
  relationIds.forEach((id, i) => bytes.writeUInt32BE(id, 6 + 4 * i));
  return new Uint8Array(bytes);
}

/** Builds the reader's batches: `seq` numbers changes, one transaction per change. */
class Batches {
  private seq = 0;
  private writer = new ChangeBatchWriter();

  relation(relationId: number, name: string, valueColumn = 'v'): this {
    this.writer.append(FrameKind.relation, this.meta(this.seq, 0), relation(relationId, name, valueColumn));
    return this;
  }

  /** A row of a backfill chunk, as the reader routes it: an Insert message in a read frame. */
  read(relationId: number, id: number, index: number): this {
    this.seq++;
    this.writer.append(
      FrameKind.read,
      this.meta(this.seq, index),
      encodeRowMessage(relationId, [String(id), `row ${id}`]),
    );
    return this;
  }

  truncate(relationIds: number[]): this {
    this.seq++;
    this.writer.append(FrameKind.change, this.meta(this.seq, 0), truncateMessage(relationIds));
    return this;
  }

  /** Any bytes in a change frame. */
  raw(bytes: Uint8Array): this {
    this.seq++;
    this.writer.append(FrameKind.change, this.meta(this.seq, 0), bytes);
    return this;
  }

  insert(relationId: number, id: number): this {
    this.seq++;
    this.writer.append(
      FrameKind.change,
      this.meta(this.seq, 0),
      encodeRowMessage(relationId, [String(id), `row ${id}`]),
    );
    return this;
  }

  take(): { type: 'batch'; batch: ChangeBatch } {
    const batch = this.writer.take();
    this.writer = new ChangeBatchWriter();
    return { type: 'batch', batch };
  }

  private meta(seq: number, commitIdx: number): FrameMeta {
    return { seq, commitLsn: 0x1000 + seq * 0x100, commitTime: 0, commitIdx, annotations: null };
  }
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

function setUp() {
  const sink = new FakeDeliverySink();
  sink.decide = () => ({ failures: new Map(), connectionLost: false });
  const reports: ShardToReader[] = [];
  let connect: () => void = () => {};
  const connected = new Promise<void>((resolve) => {
    connect = resolve;
  });
  // What Shard uses of a NatsLink: its state and events (the sink is the fake's).
  const link = {
    connected: true,
    onEpochChange() {},
    onReconnect() {},
    close: async () => {},
  } as unknown as NatsLink;
  const config = resolveConfig({ flags: { 'postgres-url': 'postgres://u@h/shop' }, env: {} });
  const shard = new Shard(
    {
      shard: 0,
      config,
      systemIdentifier: '7000000000000000001',
      databaseName: 'shop',
      primaryKeys: { 'public.items': ['id'], 'public.orders': ['id'] },
      streams: [],
    },
    {
      log: createLogger({ level: 'error', format: 'json', thread: 'test' }),
      metrics: createShardMetrics(new Registry()),
      catalog: { infoFor: () => undefined, resolve: async () => true, close: async () => {} },
      tracker: new MessageTracker({ shard: 0 }),
      mayPublish: () => true,
      report: (message) => reports.push(message),
      connect: async () => {
        await connected;
        return link;
      },
      coreSink: () => sink,
    },
  );
  const outcome = shard.run();
  const lastFrontier = (): number => (reports.at(-1) as DeliveredMessage | undefined)?.frontier ?? 0;
  return { sink, shard, reports, outcome, connect, lastFrontier };
}

describe('Shard (in-process, fake sink)', () => {
  it('publishes every change as its message, in commit order per table, and reports the frontier once the sink holds them', async () => {
    const { sink, shard, connect, outcome, lastFrontier } = setUp();
    const batches = new Batches();
    // Arrives before the connection: waits for it, nothing lost.
    shard.receive(
      batches
        .relation(ITEMS, 'items')
        .relation(ORDERS, 'orders')
        .insert(ITEMS, 1)
        .insert(ORDERS, 2)
        .insert(ITEMS, 3)
        .take(),
    );
    connect();
    shard.receive(batches.insert(ORDERS, 4).insert(ITEMS, 5).take());
    await until(() => lastFrontier() === 5, 'the frontier at the last change');
    assert.deepEqual(sink.heldOf('items'), [1, 3, 5]);
    assert.deepEqual(sink.heldOf('orders'), [2, 4]);
    const first = sink.cycles[0]!.messages[0]!;
    assert.equal(first.subject, 'sequin.changes.shop.public.items.insert');
    assert.deepEqual((JSON.parse(first.json) as { record: unknown }).record, { id: 1, v: 'row 1' });
    const final = await shard.drain(1000);
    assert.deepEqual(
      { frontier: final.frontier, undelivered: final.undelivered, batchesReceived: final.batchesReceived },
      { frontier: 5, undelivered: 0, batchesReceived: 2 },
    );
    assert.deepEqual(await outcome, { ok: true });
  });

  it('never reports a change delivered that the sink does not hold', async () => {
    const { sink, shard, connect, reports, lastFrontier } = setUp();
    sink.decide = null; // cycles wait for the test
    connect();
    shard.receive(new Batches().relation(ITEMS, 'items').insert(ITEMS, 1).insert(ITEMS, 2).take());
    await until(() => sink.cycleInFlight, 'a cycle in flight');
    assert.ok(
      reports.every((r) => r.frontier === 0),
      'nothing reported delivered while in flight',
    );
    sink.settleWith({ failures: new Map([[1, 'timed out']]), connectionLost: false });
    await until(() => lastFrontier() === 1, 'the frontier below the failed change');
    assert.equal(shard.status().undelivered, 1);
    assert.equal(shard.status().failing[0]?.table, 'public.items');
    await shard.drain(0);
  });

  it('a fence drops what the ended session routed, and the next session goes on', async () => {
    const { sink, shard, connect, lastFrontier } = setUp();
    sink.decide = null;
    connect();
    const batches = new Batches();
    shard.receive(batches.relation(ITEMS, 'items').insert(ITEMS, 1).take());
    await until(() => sink.cycleInFlight, 'a cycle in flight');
    shard.receive({ type: 'fence', throughSeq: 1 });
    await until(() => lastFrontier() === 1, 'the fence reported');
    sink.settleWith({ failures: new Map([[0, 'connection lost']]), connectionLost: true });
    shard.receive(batches.relation(ITEMS, 'items').insert(ITEMS, 2).take());
    await until(() => sink.cycleInFlight, "the next session's cycle");
    assert.deepEqual(
      sink.inFlight().map((m) => m.seq),
      [2],
      'the fenced change is not sent again',
    );
    sink.settleWith();
    await until(() => lastFrontier() === 2, 'the next session delivered');
    await shard.drain(0);
  });

  it('encodes changes, backfill reads and truncates through one path, each row with the Relation version before it', async () => {
    const { sink, shard, connect, lastFrontier } = setUp();
    connect();
    const batches = new Batches();
    // One batch, two versions of items (a column renamed) and a table of another shard named
    // by the truncate: each row must be encoded with the version it follows.
    shard.receive(
      batches
        .relation(ITEMS, 'items')
        .insert(ITEMS, 1)
        .read(ITEMS, 2, 0)
        .relation(ITEMS, 'items', 'w')
        .insert(ITEMS, 3)
        .relation(ORDERS, 'orders')
        .read(ORDERS, 4, 7)
        .truncate([ITEMS, 99999, ORDERS])
        .take(),
    );
    await until(() => lastFrontier() === 5, 'every change delivered');
    const bodies = sink.cycles.flatMap((cycle) =>
      cycle.messages.map((m) => {
        const body = JSON.parse(m.json) as {
          record: unknown;
          action: string;
          metadata: { idempotency_key: string; commit_idx: number };
        };
        return [m.subject, m.msgId, body.action, body.record, body.metadata.commit_idx];
      }),
    );
    // Per table in commit order (the tables' mailboxes are published side by side).
    bodies.sort((a, b) => String(a[0]).split('.')[4]!.localeCompare(String(b[0]).split('.')[4]!));
    const lsn = (seq: number): number => 0x1000 + seq * 0x100;
    const key = '7000000000000000001:shop:';
    assert.deepEqual(bodies, [
      ['sequin.changes.shop.public.items.insert', `${key}${lsn(1)}:0`, 'insert', { id: 1, v: 'row 1' }, 0],
      [
        'sequin.changes.shop.public.items.read',
        `${key}${lsn(2)}:read:${ITEMS}:0`,
        'read',
        { id: 2, v: 'row 2' },
        0,
      ],
      ['sequin.changes.shop.public.items.insert', `${key}${lsn(3)}:0`, 'insert', { id: 3, w: 'row 3' }, 0],
      // commit_idx: the table's position in the Truncate message.
      ['sequin.changes.shop.public.items.truncate', `${key}${lsn(5)}:0`, 'truncate', null, 0],
      [
        'sequin.changes.shop.public.orders.read',
        `${key}${lsn(4)}:read:${ORDERS}:7`,
        'read',
        { id: 4, v: 'row 4' },
        7,
      ],
      ['sequin.changes.shop.public.orders.truncate', `${key}${lsn(5)}:2`, 'truncate', null, 2],
    ]);
    await shard.drain(1000);
  });

  it("stops at a row the encoder declines, with the decoder's reason, and never reports it delivered", async () => {
    const { shard, connect, outcome, lastFrontier } = setUp();
    connect();
    const batches = new Batches();
    shard.receive(batches.relation(ITEMS, 'items').insert(ITEMS, 1).take());
    await until(() => lastFrontier() === 1, 'the first change delivered');
    const cut = encodeRowMessage(ITEMS, ['2', 'row 2']);
    shard.receive(
      batches
        .raw(cut.subarray(0, cut.length - 2))
        .insert(ITEMS, 3)
        .take(),
    );
    const result = await outcome;
    assert.equal(result.ok, false);
    assert.match(result.ok ? '' : result.error.message, /runs past the end|truncated/);
    const final = await shard.drain(1000);
    assert.equal(final.frontier, 1, 'neither the cut row nor the one behind it counts as delivered');
  });

  it('stops at a read frame that does not hold an Insert', async () => {
    const { shard, connect, outcome } = setUp();
    connect();
    const batches = new Batches();
    shard.receive(batches.relation(ITEMS, 'items').truncate([ITEMS]).take());
    const update = Buffer.from(encodeRowMessage(ITEMS, ['1', 'x']));
    update[0] = 0x55; // U … N: an Update without an old tuple
    const writer = new ChangeBatchWriter();
    writer.append(
      FrameKind.read,
      { seq: 2, commitLsn: 0x3000, commitTime: 0, commitIdx: 0, annotations: null },
      update,
    );
    shard.receive({ type: 'batch', batch: writer.take() });
    const result = await outcome;
    assert.equal(result.ok, false);
    assert.match(result.ok ? '' : result.error.message, /a read frame holds a update message/);
    await shard.drain(1000);
  });

  it('stops at a frame it cannot decode: run() fails and the frontier never passes it', async () => {
    const { shard, connect, outcome, lastFrontier } = setUp();
    connect();
    const batches = new Batches();
    shard.receive(batches.relation(ITEMS, 'items').insert(ITEMS, 1).take());
    await until(() => lastFrontier() === 1, 'the first change delivered');
    shard.receive(batches.insert(ORDERS, 2).take()); // a row of a table whose Relation never came
    shard.receive(batches.insert(ITEMS, 3).take());
    const result = await outcome;
    assert.equal(result.ok, false);
    assert.match(result.ok ? '' : result.error.message, /before its Relation message/);
    // The pipeline then stops: the reader confirms what drain() returns.
    const final = await shard.drain(1000);
    assert.equal(final.frontier, 1, 'neither the bad change nor the one behind it counts as delivered');
    assert.equal(lastFrontier(), 1);
  });
});
