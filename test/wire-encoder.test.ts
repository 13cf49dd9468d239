/**
 * The shards' NATS writer (packages/runtime/src/sink/wire-encoder.ts) against a real nats-server:
 * frames arrive intact and in order, and its 1 MiB slabs are reused while the server confirms
 * what was written, empty cycles included. A fresh slab per empty cycle was tens of MB/s of
 * allocations at a few hundred small cycles a second, and a full GC every few cycles in the
 * shards (docs/benchmarks.md, "steady").
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { OutgoingMessage } from '../packages/runtime/src/shard/outgoing-message.js';
import { WireEncoder } from '../packages/runtime/src/sink/wire-encoder.js';
import { startNats, type NatsServer } from './harness/index.js';

let nats: NatsServer;
let publisher: NatsConnection;
let subscriber: NatsConnection;

before(async () => {
  nats = await startNats({ jetstream: false });
  [publisher, subscriber] = await Promise.all([nats.connect(), nats.connect()]);
});

after(async () => {
  await Promise.all([publisher?.close(), subscriber?.close()]);
  await nats?.dispose();
});

function message(subject: string, n: number): OutgoingMessage {
  return OutgoingMessage.fromText({
    seq: n,
    subject,
    action: 'insert',
    msgId: `id-${n}`,
    json: JSON.stringify({ n }),
    commitTime: 0,
  });
}

/** Collects what arrives on `subject` until `count` messages came. */
async function collect(
  sub: Subscription,
  count: number,
): Promise<{ n: number; msgId: string | undefined }[]> {
  const received: { n: number; msgId: string | undefined }[] = [];
  for await (const m of sub) {
    received.push({ n: (m.json() as { n: number }).n, msgId: m.headers?.get('Nats-Msg-Id') });
    if (received.length === count) break;
  }
  return received;
}

describe('WireEncoder', () => {
  it('delivers every frame in order and keeps one slab across confirmed and empty cycles', async () => {
    const sub = subscriber.subscribe('wire.reuse');
    await subscriber.flush();
    const encoder = new WireEncoder(publisher);
    let n = 0;
    for (let cycle = 0; cycle < 60; cycle++) {
      encoder.reset();
      // Every other cycle has nothing to publish, as when a shard wakes up with nothing ready:
      // it goes back to waiting without a flush or a confirmation (shard-publisher.ts).
      if (cycle % 2 === 1) continue;
      for (let i = 0; i < 5; i++) encoder.publish(message('wire.reuse', n++));
      encoder.flush();
      await publisher.flush();
      encoder.confirmWritten();
    }
    const received = await collect(sub, n);
    assert.deepEqual(
      received,
      Array.from({ length: n }, (_, i) => ({ n: i, msgId: `id-${i}` })),
    );
    assert.equal(encoder.slabsAllocated, 1, 'a confirmed or empty cycle must not cost a new slab');
  });

  it('starts on a fresh slab after a cycle the server did not confirm, and reuses it after that', async () => {
    const sub = subscriber.subscribe('wire.unconfirmed');
    await subscriber.flush();
    const encoder = new WireEncoder(publisher);
    encoder.reset();
    encoder.publish(message('wire.unconfirmed', 0));
    encoder.flush();
    // No confirmation: nats.js may still be holding those bytes, so they must not be overwritten.
    encoder.reset();
    assert.equal(encoder.slabsAllocated, 2);
    encoder.publish(message('wire.unconfirmed', 1));
    encoder.flush();
    await publisher.flush();
    encoder.confirmWritten();
    encoder.reset();
    encoder.publish(message('wire.unconfirmed', 2));
    encoder.flush();
    await publisher.flush();
    encoder.confirmWritten();
    assert.equal(encoder.slabsAllocated, 2);
    assert.deepEqual(
      await collect(sub, 3),
      [0, 1, 2].map((i) => ({ n: i, msgId: `id-${i}` })),
    );
  });
});
