/**
 * The chain against a fake stream that behaves like JetStream where it matters: a message is
 * stored only if its Nats-Expected-Last-Sequence equals the stream's last sequence, a
 * Nats-Msg-Id already stored is answered as a duplicate with its original sequence (checked
 * before the expectation), and the test decides when each send is applied, in which order, and
 * which replies arrive, late, out of order or never. What must hold in every case: the stream
 * holds a gap-free prefix of the pushed messages, in push order, each once, and the chain
 * reports as delivered exactly what the stream holds, in order.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { seededRandom as seeded } from '../../../../test/support/random.js';
import {
  ChainBroken,
  JetStreamChain,
  MessageRefused,
  type ChainReply,
  type StreamClient,
} from './jetstream-chain.js';

interface Msg {
  readonly id: string;
  readonly size: number;
}

interface Proposal {
  readonly message: Msg;
  readonly expected: number;
  readonly token: number;
}

const STREAM = 'CDC';

/** A JetStream stream, as far as the chain can tell. */
class FakeStream implements StreamClient<Msg> {
  connected = true;
  /** Stored message ids, stream sequence = index + 1. */
  readonly stored: string[] = [];
  /** Sent and not applied yet. */
  pending: Proposal[] = [];
  /** Replies produced and not delivered yet. */
  replies: { token: number; reply: ChainReply }[] = [];
  /** While true, every send is answered 503 at once and not applied (a leader election). */
  electing = false;
  /** Largest message the stream takes (its max_msg_size). */
  maxBytes = Number.POSITIVE_INFINITY;
  sends = 0;
  chain!: JetStreamChain<Msg>;

  constructor(preloaded: string[] = []) {
    this.stored.push(...preloaded);
  }

  get lastSeq(): number {
    return this.stored.length;
  }

  send(message: Msg, expected: number, token: number): void {
    if (message.size > this.maxBytes)
      throw new MessageRefused(
        `the message is ${message.size} bytes, over the stream's max_msg_size of ${this.maxBytes}`,
      );
    this.sends++;
    if (this.electing) {
      this.replies.push({ token, reply: { kind: 'failed', reason: 'no responders (503)' } });
      return;
    }
    this.pending.push({ message, expected, token });
  }

  flush(): void {}

  /** Applies a send as the stream leader would, and returns its reply. */
  applyProposal(p: Proposal): ChainReply {
    const at = this.stored.indexOf(p.message.id);
    if (at >= 0) return { kind: 'stored', seq: at + 1, duplicate: true };
    if (p.expected !== this.lastSeq) return { kind: 'wrongLastSequence', last: this.lastSeq };
    this.stored.push(p.message.id);
    return { kind: 'stored', seq: this.lastSeq, duplicate: false };
  }

  /** Applies every pending send in order and queues their replies. */
  applyAll(): void {
    const pending = this.pending;
    this.pending = [];
    for (const p of pending) this.replies.push({ token: p.token, reply: this.applyProposal(p) });
  }

  /** Delivers the queued replies (in the order given by `order`, default as queued). */
  deliver(
    order: (replies: { token: number; reply: ChainReply }[]) => { token: number; reply: ChainReply }[] = (
      r,
    ) => r,
  ): void {
    const replies = order(this.replies);
    this.replies = [];
    for (const { token, reply } of replies) this.chain.reply(token, reply);
  }

  /** Another program publishes to the stream. */
  foreignWrite(id: string): void {
    this.stored.push(id);
  }
}

function messages(n: number, from = 0): Msg[] {
  return Array.from({ length: n }, (_, i) => ({ id: `m${from + i}`, size: 100 }));
}

interface Harness {
  stream: FakeStream;
  chain: JetStreamChain<Msg>;
  delivered: string[];
  failures: { id: string; reason: string; attempts: number }[];
  broken: ChainBroken[];
}

function setUp(
  options: { preloaded?: string[]; window?: number; windowBytes?: number; ackTimeoutMs?: number } = {},
): Harness {
  const stream = new FakeStream(options.preloaded);
  const delivered: string[] = [];
  const failures: Harness['failures'] = [];
  const broken: ChainBroken[] = [];
  const chain = new JetStreamChain<Msg>(
    {
      stream: STREAM,
      window: options.window ?? 64,
      windowBytes: options.windowBytes ?? 1 << 20,
      ackTimeoutMs: options.ackTimeoutMs ?? 40,
      backoff: { initialMs: 5, maxMs: 20, jitter: 0 },
    },
    (m) => m.size,
    {
      delivered: (batch) => delivered.push(...batch.map((m) => m.id)),
      sent: () => {},
      failing: (m, reason, attempts) => failures.push({ id: m.id, reason, attempts }),
      broken: (error) => broken.push(error),
    },
  );
  stream.chain = chain;
  chain.start(stream, stream.lastSeq);
  return { stream, chain, delivered, failures, broken };
}

/** Lets the chain run its scheduled work (setImmediate and short timers) until `done`. */
async function until(
  done: () => boolean,
  what: string,
  step: () => void = () => {},
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    step();
    await new Promise<void>((resolve) => setTimeout(resolve, 1));
  }
}

/** What must hold once the chain is done with `pushed`. */
function assertChainOrder(h: Harness, pushed: Msg[], preloaded: string[] = []): void {
  const ids = pushed.map((m) => m.id);
  const fresh = ids.filter((id) => !preloaded.includes(id));
  assert.deepEqual(
    h.stream.stored,
    [...preloaded, ...fresh],
    'the stream holds every message once, in push order',
  );
  assert.deepEqual(h.delivered, ids, 'delivered exactly the pushed messages, in order');
}

describe('JetStreamChain', () => {
  it('pipelines a window and takes acks that arrive out of order', async () => {
    const h = setUp({ window: 8 });
    const pushed = messages(20);
    pushed.forEach((m) => h.chain.push(m));
    await until(() => h.stream.pending.length === 8, 'a full window in flight');
    assert.deepEqual(
      h.stream.pending.map((p) => p.expected),
      [0, 1, 2, 3, 4, 5, 6, 7],
      'each expects the sequence of the one before',
    );
    await until(
      () => h.delivered.length === 20,
      'every message',
      () => {
        h.stream.applyAll();
        h.stream.deliver((r) => [...r].reverse());
      },
    );
    assertChainOrder(h, pushed);
    assert.equal(h.chain.repairs, 0, 'out-of-order acks need no repair');
    assert.equal(h.chain.lastAcknowledgedSeq, 20);
  });

  it('goes on past a lost ack when a later ack proves the message stored', async () => {
    const h = setUp({ window: 8, ackTimeoutMs: 60_000 });
    const pushed = messages(8);
    pushed.forEach((m) => h.chain.push(m));
    await until(() => h.stream.pending.length === 8, 'the window in flight');
    h.stream.applyAll();
    const lost = h.stream.replies.splice(2, 1);
    assert.equal(lost.length, 1);
    h.stream.deliver();
    await until(() => h.delivered.length === 8, 'every message without waiting for the ack timeout');
    assertChainOrder(h, pushed);
    assert.equal(h.chain.repairs, 0);
  });

  it('repairs after a timeout in the middle of the window and stores each message once', async () => {
    const h = setUp({ window: 10, ackTimeoutMs: 30 });
    const pushed = messages(10);
    pushed.forEach((m) => h.chain.push(m));
    await until(() => h.stream.pending.length === 10, 'the window in flight');
    // The first four are applied and answered; the rest vanish without a trace (a leader
    // change), except #6 which is applied later, its reply lost: a stale send.
    const [answered, rest] = [h.stream.pending.slice(0, 4), h.stream.pending.slice(4)];
    h.stream.pending = answered;
    h.stream.applyAll();
    h.stream.deliver();
    await until(() => h.delivered.length === 4, 'the answered ones');
    await until(() => h.failures.length > 0, 'a timeout');
    assert.match(h.failures[0]!.reason, /no PubAck within/);
    h.stream.applyProposal(rest[0]!); // m4, applied late: in order, so stored
    h.stream.applyProposal(rest[2]!); // m6 expects after m5, which is not there: refused
    await until(
      () => h.delivered.length === 10,
      'every message after the repair',
      () => {
        h.stream.applyAll();
        h.stream.deliver();
      },
    );
    assertChainOrder(h, pushed);
    assert.ok(h.chain.repairs >= 1);
  });

  it('takes duplicates acknowledged with an older sequence in stride (a replay after a restart)', async () => {
    const preloaded = ['m0', 'm1', 'm2', 'm3'];
    // A restart: the stream already holds m0..m3, and the source replays from m2.
    const h = setUp({ preloaded, window: 16 });
    const pushed = messages(8, 2);
    pushed.forEach((m) => h.chain.push(m));
    await until(
      () => h.delivered.length === 8,
      'the replayed and the new messages',
      () => {
        h.stream.applyAll();
        h.stream.deliver();
      },
    );
    assertChainOrder(h, pushed, preloaded);
    assert.equal(h.chain.lastAcknowledgedSeq, 10);
    assert.deepEqual(h.broken, []);
  });

  it('resends after 503s of an election without letting a later message overtake', async () => {
    const h = setUp({ window: 16 });
    const pushed = messages(40);
    pushed.slice(0, 5).forEach((m) => h.chain.push(m));
    await until(() => h.stream.pending.length === 5, 'five in flight');
    h.stream.applyAll();
    h.stream.deliver();
    await until(() => h.delivered.length === 5, 'five stored');
    h.stream.electing = true;
    pushed.slice(5).forEach((m) => h.chain.push(m));
    await until(
      () => h.failures.length >= 3,
      'failed resends during the election',
      () => h.stream.deliver(),
    );
    assert.ok(
      h.failures.every((f) => f.id === 'm5'),
      'the first unacknowledged message is the one shown failing',
    );
    assert.deepEqual(h.failures.map((f) => f.attempts).slice(0, 3), [1, 2, 3], 'its deliver count grows');
    assert.match(h.failures[0]!.reason, /no responders/);
    h.stream.electing = false;
    await until(
      () => h.delivered.length === 40,
      'everything after the election',
      () => {
        h.stream.applyAll();
        h.stream.deliver();
      },
    );
    assertChainOrder(h, pushed);
    assert.equal(h.chain.failure(), null, 'nothing failing any more');
  });

  it('stops with a clear error naming the stream when another writer appends to it', async () => {
    const h = setUp({ window: 4 });
    messages(2).forEach((m) => h.chain.push(m));
    await until(
      () => h.delivered.length === 2,
      'two stored',
      () => {
        h.stream.applyAll();
        h.stream.deliver();
      },
    );
    h.stream.foreignWrite('someone-else');
    messages(3, 2).forEach((m) => h.chain.push(m));
    await until(
      () => h.broken.length === 1,
      'the chain to break',
      () => {
        h.stream.applyAll();
        h.stream.deliver();
      },
    );
    assert.equal(h.broken[0]!.stream, STREAM);
    assert.match(
      h.broken[0]!.message,
      /another writer: JetStream stream CDC ends at sequence 3, but the last message wal2nats stored there is sequence 2/,
    );
    // The foreign message shifted the stream by one, so m3 (expecting 3) could be stored: a
    // stream shared with another writer breaks the order by design, which is why this is fatal.
    assert.deepEqual(h.stream.stored.slice(0, 3), ['m0', 'm1', 'someone-else']);
    assert.deepEqual(h.delivered, ['m0', 'm1'], 'nothing after the foreign message counts as delivered');
  });

  it('holds the chain at a message the stream cannot take, visibly, and goes on once it can', async () => {
    const h = setUp({ window: 8 });
    h.stream.maxBytes = 500;
    const pushed = [...messages(2), { id: 'big', size: 1000 }, ...messages(3, 2)];
    pushed.forEach((m) => h.chain.push(m));
    await until(
      () => h.failures.length >= 1,
      'the big message to fail',
      () => {
        h.stream.applyAll();
        h.stream.deliver();
      },
    );
    assert.deepEqual(h.delivered, ['m0', 'm1'], 'the messages before it are delivered');
    assert.equal(h.failures[0]!.id, 'big');
    assert.match(h.failures[0]!.reason, /1000 bytes, over the stream's max_msg_size of 500/);
    assert.equal(h.stream.sends, 2, 'nothing after it was sent');
    const sendsBefore = h.stream.sends;
    await until(() => h.failures.length >= 2, 'a retry with backoff');
    assert.equal(h.stream.sends, sendsBefore, 'a refused message is never sent');
    h.stream.maxBytes = 2000; // the operator raised max_msg_size
    h.chain.retryNow();
    await until(
      () => h.delivered.length === pushed.length,
      'the rest',
      () => {
        h.stream.applyAll();
        h.stream.deliver();
      },
    );
    assertChainOrder(h, pushed);
  });

  it('keeps order over random elections, lost and reordered replies and late stale sends (100 seeded runs)', async () => {
    for (let seed = 1; seed <= 100; seed++) {
      const random = seeded(seed);
      const preloadedCount = random() < 0.3 ? Math.floor(random() * 5) : 0;
      const preloaded = messages(preloadedCount).map((m) => m.id);
      const h = setUp({ preloaded, window: 1 + Math.floor(random() * 12), ackTimeoutMs: 10 });
      // A replay starts inside what the stream holds (a restart), then new messages.
      const replayFrom = preloadedCount > 0 ? Math.floor(random() * preloadedCount) : 0;
      const pushed = messages(30, replayFrom);
      let next = 0;
      /** Sends held back and applied later (a proposal a new leader applies after a while). */
      const limbo: Proposal[] = [];
      let steps = 0;
      try {
        await until(
          () => h.delivered.length === pushed.length,
          `seed ${seed}: every message`,
          () => {
            steps++;
            if (next < pushed.length && random() < 0.5) h.chain.push(pushed[next++]!);
            h.stream.electing = steps < 100 && random() < 0.15;
            const pending = h.stream.pending;
            h.stream.pending = [];
            for (const p of pending) {
              const fate = random();
              if (fate < 0.03) continue; // lost: never applied, never answered
              if (fate < 0.08) {
                limbo.push(p);
                continue;
              }
              const reply = h.stream.applyProposal(p);
              if (random() < 0.05) continue; // applied, reply lost
              h.stream.replies.push({ token: p.token, reply });
            }
            if (limbo.length > 0 && random() < 0.3)
              h.stream.applyProposal(limbo.splice(Math.floor(random() * limbo.length), 1)[0]!);
            h.stream.deliver((r) => shuffle(r, random));
          },
          20_000,
        );
      } finally {
        h.chain.stop();
      }
      assert.deepEqual(h.broken, [], `seed ${seed}`);
      // Stale sends may still be applied after the end: they must not change the stream.
      for (const p of limbo) h.stream.applyProposal(p);
      assertChainOrder(h, pushed, preloaded);
    }
  });
});

function shuffle<T>(items: T[], random: () => number): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}
