/**
 * The JetStream shard publisher against a fake stream: the frontier it reports (what the slot
 * may be confirmed to) follows what the chain has stored, in the reader's order across tables,
 * and a refused message holds the frontier below it.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { createLogger } from '../log/logger.js';
import { createShardMetrics } from '../metrics/shard-metrics.js';
import { MessageRefused, type ChainReply, type StreamClient } from '../sink/jetstream-chain.js';
import type { WireMessage } from '../sink/wire-frame.js';
import type { DeliveryFrontier } from './shard-publisher.js';
import { StreamPublisher } from './stream-publisher.js';
import { enqueueText } from '../../../../test/support/enqueue-text.js';

class FakeStream implements StreamClient<WireMessage> {
  connected = true;
  sends: { subject: string; expected: number; token: number }[] = [];
  refuseSubject: string | null = null;
  send(message: WireMessage, expected: number, token: number): void {
    if (message.subject === this.refuseSubject) throw new MessageRefused('too large for the stream');
    this.sends.push({ subject: message.subject, expected, token });
  }
  flush(): void {}
}

function change(seq: number, table: string) {
  return {
    seq,
    subject: `sequin.changes.db.public.${table}.insert`,
    action: 'insert' as const,
    msgId: `id-${seq}`,
    json: `{"seq":${seq}}`,
    commitTime: 0,
  };
}

async function until(done: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise<void>((resolve) => setTimeout(resolve, 1));
  }
}

function setUp() {
  const frontiers: DeliveryFrontier[] = [];
  const publisher = new StreamPublisher(
    {
      shard: 0,
      stream: 'CDC',
      backoff: { initialMs: 1000, maxMs: 1000, jitter: 0 },
      window: 16,
      windowBytes: 1 << 20,
      ackTimeoutMs: 60_000,
    },
    createShardMetrics(new Registry()),
    createLogger({ level: 'error', format: 'json' }),
    (f) => frontiers.push(f),
  );
  const stream = new FakeStream();
  const chain = publisher.start(stream, 0);
  const ack = (token: number, seq: number) =>
    chain.reply(token, { kind: 'stored', seq, duplicate: false } satisfies ChainReply);
  return { publisher, stream, ack, frontiers };
}

describe('StreamPublisher', () => {
  it("reports as delivered only what the chain stored, in the reader's order across tables", async () => {
    const { publisher, stream, ack, frontiers } = setUp();
    // Changes 1..4 of two tables, interleaved as the reader numbered them.
    enqueueText(publisher, 1, 'public.a', change(1, 'a'));
    enqueueText(publisher, 2, 'public.b', change(2, 'b'));
    enqueueText(publisher, 1, 'public.a', change(3, 'a'));
    enqueueText(publisher, 2, 'public.b', change(4, 'b'));
    publisher.received(4);
    await until(() => stream.sends.length === 4, 'four sends');
    assert.deepEqual(
      stream.sends.map((s) => s.subject.split('.')[4]),
      ['a', 'b', 'a', 'b'],
      "published in the reader's order, across tables",
    );
    assert.deepEqual(
      publisher.frontier(),
      { frontier: 0, undelivered: 4 },
      'nothing delivered before a PubAck',
    );
    // The acks of 3 and 4 arrive first: 4 at sequence 4 proves 1..3 stored.
    ack(stream.sends[2]!.token, 3);
    await until(() => frontiers.length > 0, 'a report');
    assert.equal(publisher.frontier().frontier, 3, 'up to the last change the stream holds');
    ack(stream.sends[3]!.token, 4);
    await until(() => publisher.frontier().frontier === 4, 'the frontier at 4');
    assert.equal(publisher.frontier().undelivered, 0);
  });

  it('holds the frontier below a message the stream refuses', async () => {
    const { publisher, stream, ack } = setUp();
    stream.refuseSubject = 'sequin.changes.db.public.big.insert';
    enqueueText(publisher, 1, 'public.a', change(1, 'a'));
    enqueueText(publisher, 3, 'public.big', change(2, 'big'));
    enqueueText(publisher, 1, 'public.a', change(3, 'a'));
    publisher.received(3);
    await until(() => stream.sends.length === 1, 'the first send');
    ack(stream.sends[0]!.token, 1);
    await until(() => publisher.failing().length === 1, 'the refused message failing');
    assert.equal(publisher.frontier().frontier, 1);
    assert.deepEqual(
      publisher.failing().map((f) => [f.table, f.lastError]),
      [['public.big', 'too large for the stream']],
    );
    assert.equal(stream.sends.length, 1, 'nothing after it is sent');
    publisher.stop();
  });

  it('a fence keeps what the chain holds and the frontier below it; once stored, the frontier reaches the fence', async () => {
    const { publisher, stream, ack } = setUp();
    enqueueText(publisher, 1, 'public.a', change(1, 'a'));
    enqueueText(publisher, 2, 'public.b', change(2, 'b'));
    publisher.received(2);
    await until(() => stream.sends.length === 2, 'two sends');
    // The session ended after routing up to seq 5 (3..5 went to other shards).
    publisher.fence(5);
    assert.deepEqual(
      publisher.frontier(),
      { frontier: 0, undelivered: 2 },
      'not past the held, unstored messages',
    );
    ack(stream.sends[0]!.token, 1);
    await until(() => publisher.frontier().frontier === 1, 'the first stored');
    ack(stream.sends[1]!.token, 2);
    await until(
      () => publisher.frontier().frontier === 5,
      'the frontier at the fence once everything held is stored',
    );
    assert.equal(publisher.frontier().undelivered, 0);
    publisher.stop();
  });
});
