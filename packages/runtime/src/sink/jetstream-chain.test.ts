/**
 * The chain against a fake stream that behaves like JetStream where it matters: a message is
 * stored only if its Nats-Expected-Last-Sequence equals the stream's last sequence, a
 * Nats-Msg-Id already stored is answered as a duplicate with its original sequence (checked
 * before the expectation), and the test decides when each send is applied, in which order, and
 * which replies arrive, late, out of order or never. A send without a reply subject is stored
 * the same and answered with nothing (and during an election it vanishes without a word, as a
 * message without a reply does on a real server). What must hold in every case: the stream
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
  readonly withReply: boolean;
  /** Nats-Expected-Last-Msg-Id: the message this one must follow (null: none expected). */
  readonly previous: Msg | null;
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
  /** Every send, in order: which message, whether it had a reply subject. */
  readonly log: { id: string; withReply: boolean; expected: number }[] = [];
  chain!: JetStreamChain<Msg>;

  constructor(preloaded: string[] = []) {
    this.stored.push(...preloaded);
  }

  get lastSeq(): number {
    return this.stored.length;
  }

  send(message: Msg, expected: number, token: number, withReply: boolean, previous: Msg | null): void {
    if (message.size > this.maxBytes)
      throw new MessageRefused(
        `the message is ${message.size} bytes, over the stream's max_msg_size of ${this.maxBytes}`,
      );
    this.sends++;
    this.log.push({ id: message.id, withReply, expected });
    if (this.electing) {
      // No responders: a 503 to the reply subject, or nothing at all without one.
      if (withReply) this.replies.push({ token, reply: { kind: 'failed', reason: 'no responders (503)' } });
      return;
    }
    this.pending.push({ message, expected, token, withReply, previous });
  }

  flush(): void {}

  /** Applies a send as the stream leader would, and returns its reply. */
  applyProposal(p: Proposal): ChainReply {
    const at = this.stored.indexOf(p.message.id);
    if (at >= 0) return { kind: 'stored', seq: at + 1, duplicate: true };
    if (p.expected !== this.lastSeq) return { kind: 'wrongLastSequence', last: this.lastSeq };
    // nats-server checks the duplicate, then the last sequence, then the last message id.
    const lastId = this.stored[this.stored.length - 1];
    if (p.previous !== null && p.previous.id !== lastId)
      return { kind: 'failed', reason: `JetStream refused the message: wrong last msg ID: ${lastId ?? ''}` };
    this.stored.push(p.message.id);
    return { kind: 'stored', seq: this.lastSeq, duplicate: false };
  }

  /** Applies a send and queues its reply, if it has a reply subject. */
  apply(p: Proposal): void {
    const reply = this.applyProposal(p);
    if (p.withReply) this.replies.push({ token: p.token, reply });
  }

  /** Applies every pending send in order and queues their replies. */
  applyAll(): void {
    const pending = this.pending;
    this.pending = [];
    for (const p of pending) this.apply(p);
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
  options: {
    preloaded?: string[];
    window?: number;
    windowBytes?: number;
    ackTimeoutMs?: number;
    replyEvery?: number;
  } = {},
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
      ...(options.replyEvery === undefined ? {} : { replyEvery: options.replyEvery }),
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
    const h = setUp({ window: 8, ackTimeoutMs: 60_000, replyEvery: 1 });
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
    const h = setUp({ window: 10, ackTimeoutMs: 30, replyEvery: 1 });
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
    assert.deepEqual(
      [...new Set(h.stream.log.map((s) => s.id))],
      ['m0', 'm1'],
      'nothing after it was sent (m1, sent without a reply before the refusal, is resent alone)',
    );
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

  describe('sparse PubAcks', () => {
    it('asks a reply of every N-th send and of the last of each pump, and nothing else', async () => {
      const h = setUp({ window: 16, replyEvery: 4, ackTimeoutMs: 60_000 });
      const pushed = messages(12);
      pushed.slice(0, 8).forEach((m) => h.chain.push(m));
      await until(() => h.stream.pending.length === 8, 'the first pump');
      // The chain is busy now: the next pump's first send needs no reply of its own.
      pushed.slice(8).forEach((m) => h.chain.push(m));
      await until(() => h.stream.pending.length === 12, 'the second pump');
      assert.deepEqual(
        h.stream.log.map((s) => (s.withReply ? 'R' : '-')).join(''),
        // m0: the first of an idle chain; m4: the 4th in a row; m7: the last of the pump;
        // m11: the last of the next pump (m8..m10 are unreplied, under 4 in a row).
        'R---R--R---R',
      );
      assert.deepEqual(
        h.stream.log.map((s) => s.expected),
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
      );
      h.stream.applyAll();
      assert.equal(h.stream.replies.length, 4, 'JetStream answers only the sends with a reply subject');
      h.stream.deliver();
      await until(() => h.delivered.length === 12, 'every message, proven by the four replies');
      assertChainOrder(h, pushed);
      assert.equal(h.chain.repairs, 0);
      assert.equal(h.chain.inFlight, 0);
    });

    it('the last message of a pump has a reply: no stall when traffic stops (nothing resent, no timeout needed)', async () => {
      // No ack timeout to rescue a message nobody will answer.
      const h = setUp({ window: 64, ackTimeoutMs: 60_000 });
      const pushed = messages(7);
      pushed.slice(0, 5).forEach((m) => h.chain.push(m));
      await until(() => h.stream.pending.length === 5, 'five sent');
      h.stream.applyAll();
      h.stream.deliver();
      await until(
        () => h.delivered.length === 5,
        'the five, after which the traffic stops',
        () => {},
        2000,
      );
      pushed.slice(5).forEach((m) => h.chain.push(m));
      await until(
        () => h.delivered.length === 7,
        'the last two',
        () => {
          h.stream.applyAll();
          h.stream.deliver();
        },
        2000,
      );
      assertChainOrder(h, pushed);
      assert.equal(h.stream.sends, 7, 'each message sent once: no repair was needed to learn its fate');
      assert.equal(h.chain.repairs, 0);
      assert.ok(h.chain.isSettled());
    });

    it('an unreplied message lost while its replied successor fails: a repair resends it, nothing out of order', async () => {
      const h = setUp({ window: 8, replyEvery: 4, ackTimeoutMs: 60_000 });
      const pushed = messages(8);
      pushed.forEach((m) => h.chain.push(m));
      await until(() => h.stream.pending.length === 8, 'the window in flight');
      assert.deepEqual(
        h.stream.log.map((s) => s.withReply),
        [true, false, false, false, true, false, false, true],
      );
      const pending = h.stream.pending;
      h.stream.pending = [];
      for (const p of pending.slice(0, 5)) h.stream.apply(p); // m0..m4
      // m5 (no reply) is lost on the way (a leader change); m6 (no reply) and m7 (with one) are
      // refused, since the stream does not end where they expect: only m7's refusal is heard.
      h.stream.apply(pending[6]!);
      h.stream.apply(pending[7]!);
      assert.deepEqual(h.stream.stored, ['m0', 'm1', 'm2', 'm3', 'm4']);
      h.stream.deliver();
      await until(
        () => h.failures.length === 1,
        'a failure, learnt from m7',
        () => {},
        2000,
      );
      await until(
        () => h.delivered.length >= 5,
        'what m4 proved',
        () => {},
        2000,
      );
      assert.deepEqual(h.delivered, ['m0', 'm1', 'm2', 'm3', 'm4'], 'what m4 proved, not more');
      assert.equal(h.failures[0]!.id, 'm5', 'the first message of unknown fate is the one failing');
      assert.match(
        h.failures[0]!.reason,
        /sent without a PubAck reply, and the next message, which had one, failed: JetStream refused the message: wrong last sequence/,
      );
      await until(
        () => h.delivered.length === 8,
        'the rest after the repair',
        () => {
          h.stream.applyAll();
          h.stream.deliver();
        },
        2000,
      );
      assertChainOrder(h, pushed);
      assert.equal(h.chain.repairs, 1);
      const resend = h.stream.log[8]!;
      assert.deepEqual(resend, { id: 'm5', withReply: true, expected: 5 }, 'm5 resent alone, with a reply');
    });

    it('a lone resend of an unreplied head that was stored is answered as a duplicate, and the chain moves on', async () => {
      const h = setUp({ window: 8, replyEvery: 4, ackTimeoutMs: 30 });
      const pushed = messages(4);
      pushed.forEach((m) => h.chain.push(m));
      await until(() => h.stream.pending.length === 4, 'the window in flight');
      const pending = h.stream.pending;
      h.stream.pending = [];
      // m0..m2 are stored; m3, the only one that could prove m1 and m2, never arrives.
      for (const p of pending.slice(0, 3)) h.stream.apply(p);
      h.stream.deliver();
      await until(
        () => h.failures.length === 1,
        "m3's timeout",
        () => {},
        2000,
      );
      assert.deepEqual(h.delivered, ['m0']);
      assert.equal(h.failures[0]!.id, 'm1');
      assert.match(h.failures[0]!.reason, /sent without a PubAck reply.*no PubAck within/);
      await until(
        () => h.stream.pending.length === 1,
        'the lone resend of m1',
        () => {},
        2000,
      );
      assert.deepEqual(h.stream.log.at(-1), { id: 'm1', withReply: true, expected: 1 });
      h.stream.applyAll();
      assert.deepEqual(
        h.stream.replies.map((r) => r.reply),
        [{ kind: 'stored', seq: 2, duplicate: true }],
      );
      assert.deepEqual(h.stream.stored, ['m0', 'm1', 'm2'], 'a duplicate, not stored again');
      await until(
        () => h.delivered.length === 4,
        'm1 (a duplicate at the next sequence), then the rest',
        () => {
          h.stream.deliver();
          h.stream.applyAll();
        },
        2000,
      );
      assertChainOrder(h, pushed);
      assert.deepEqual(h.broken, []);
      assert.equal(h.chain.failure(), null);
    });

    it('a head whose only later reply proves nothing is resent alone, not waited for', async () => {
      // A replay after a restart: m2 and m3 are duplicates below the last sequence, so the
      // reply of m3 (sequence 4) cannot say whether m2 is stored.
      const preloaded = ['m0', 'm1', 'm2', 'm3'];
      const h = setUp({ preloaded, window: 8, ackTimeoutMs: 60_000 });
      h.chain.push({ id: 'm1', size: 100 }); // the idle chain's first send (replied)
      await until(() => h.stream.pending.length === 1, 'm1 sent');
      ['m2', 'm3'].forEach((id) => h.chain.push({ id, size: 100 }));
      await until(() => h.stream.pending.length === 3, 'm2 (no reply) and m3 (the last: replied)');
      assert.deepEqual(
        h.stream.log.map((s) => s.withReply),
        [true, false, true],
      );
      await until(
        () => h.delivered.length === 3,
        'all three, without an ack timeout',
        () => {
          h.stream.applyAll();
          h.stream.deliver();
        },
        2000,
      );
      assert.deepEqual(h.stream.stored, preloaded);
      assert.deepEqual(h.delivered, ['m1', 'm2', 'm3']);
      assert.equal(h.chain.repairs, 1, 'one resend of m2 alone');
      assert.deepEqual(h.failures, [], 'an unknown fate is not a failure');
    });

    it('another writer is still seen: by a replied send answered above what it expected', async () => {
      const h = setUp({ window: 8, replyEvery: 4, ackTimeoutMs: 60_000 });
      messages(8).forEach((m) => h.chain.push(m));
      await until(() => h.stream.pending.length === 8, 'the window in flight');
      const pending = h.stream.pending;
      h.stream.pending = [];
      for (const p of pending.slice(0, 4)) h.stream.apply(p);
      h.stream.foreignWrite('someone-else');
      h.stream.apply(pending[4]!); // m4, replied, expects 4: the stream ends at 5
      h.stream.deliver();
      await until(
        () => h.broken.length === 1,
        'the chain to break',
        () => {},
        2000,
      );
      assert.match(
        h.broken[0]!.message,
        /another writer: JetStream stream CDC ends at sequence 5, but at most 4 messages there can be wal2nats's/,
      );
      // m1..m3 are stored, but nothing proved it before the chain stopped: not delivered.
      assert.deepEqual(h.delivered, ['m0']);
    });

    it('another writer in the middle of a busy window: nothing of ours is lined up after it (Nats-Expected-Last-Msg-Id), the repair sees it', async () => {
      const h = setUp({ window: 8, replyEvery: 4, ackTimeoutMs: 60_000 });
      messages(8).forEach((m) => h.chain.push(m));
      await until(() => h.stream.pending.length === 8, 'the window in flight');
      const pending = h.stream.pending;
      h.stream.pending = [];
      for (const p of pending.slice(0, 5)) h.stream.apply(p); // m0..m4 (m3 replied)
      h.stream.foreignWrite('someone-else'); // takes the place m5 (unreplied) expected
      for (const p of pending.slice(5)) h.stream.apply(p); // m5 refused silently; m6, m7 must not line up
      h.stream.deliver();
      await until(
        () => h.broken.length === 1,
        'the chain to break',
        () => {
          h.stream.applyAll();
          h.stream.deliver();
        },
        2000,
      );
      assert.deepEqual(
        h.stream.stored,
        ['m0', 'm1', 'm2', 'm3', 'm4', 'someone-else'],
        'nothing of ours after it',
      );
      assert.deepEqual(h.delivered, ['m0', 'm1', 'm2', 'm3', 'm4']);
      assert.match(
        h.broken[0]!.message,
        /another writer: JetStream stream CDC ends at sequence 6, but the last message wal2nats stored there is sequence 5/,
      );
    });

    it("another writer is still seen: by a repair's lone resend of an unreplied head", async () => {
      const h = setUp({ window: 8, replyEvery: 4, ackTimeoutMs: 60_000 });
      messages(8).forEach((m) => h.chain.push(m));
      await until(() => h.stream.pending.length === 8, 'the window in flight');
      const pending = h.stream.pending;
      h.stream.pending = [];
      for (const p of pending.slice(0, 5)) h.stream.apply(p); // m0..m4
      // m5..m7 are lost in an election; only m7, which has a reply subject, hears of it (503).
      h.stream.replies.push({
        token: pending[7]!.token,
        reply: { kind: 'failed', reason: 'no responders (503)' },
      });
      h.stream.deliver();
      await until(
        () => h.failures.length === 1,
        'm5 failing',
        () => {},
        2000,
      );
      assert.equal(h.failures[0]!.id, 'm5');
      h.stream.foreignWrite('someone-else'); // meanwhile another program appends
      await until(
        () => h.broken.length === 1,
        'the chain to break',
        () => {
          h.stream.applyAll();
          h.stream.deliver();
        },
        2000,
      );
      assert.match(
        h.broken[0]!.message,
        /another writer: JetStream stream CDC ends at sequence 6, but the last message wal2nats stored there is sequence 5/,
      );
      assert.deepEqual(h.stream.stored, ['m0', 'm1', 'm2', 'm3', 'm4', 'someone-else']);
      assert.deepEqual(h.delivered, ['m0', 'm1', 'm2', 'm3', 'm4']);
    });
  });

  it('keeps order over random elections, lost and reordered replies and late stale sends (100 seeded runs each with every reply and with sparse replies)', async () => {
    let sparseSends = 0;
    let unrepliedSends = 0;
    for (let seed = 1; seed <= 200; seed++) {
      const random = seeded(seed);
      const preloadedCount = random() < 0.3 ? Math.floor(random() * 5) : 0;
      const preloaded = messages(preloadedCount).map((m) => m.id);
      // Odd seeds: a reply to every send (replyEvery 1); even seeds: sparse, 1 in 2..8 or the default.
      const replyEvery = seed % 2 === 1 ? 1 : random() < 0.25 ? undefined : 2 + Math.floor(random() * 7);
      const h = setUp({
        preloaded,
        window: 1 + Math.floor(random() * 12),
        ackTimeoutMs: 10,
        ...(replyEvery === undefined ? {} : { replyEvery }),
      });
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
            // Messages come in bursts, so that a pump sends several (most without a reply).
            if (random() < 0.5)
              for (let n = 1 + Math.floor(random() * 6); n > 0 && next < pushed.length; n--)
                h.chain.push(pushed[next++]!);
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
              if (random() < 0.05 || !p.withReply) continue; // applied, reply lost (or none asked)
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
      if (replyEvery !== 1) {
        sparseSends += h.stream.log.length;
        unrepliedSends += h.stream.log.filter((s) => !s.withReply).length;
      }
      // Stale sends may still be applied after the end: they must not change the stream.
      for (const p of limbo) h.stream.applyProposal(p);
      assertChainOrder(h, pushed, preloaded);
    }
    assert.ok(
      unrepliedSends > sparseSends / 4,
      `the sparse runs sent most messages without a reply subject (${unrepliedSends} of ${sparseSends})`,
    );
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
