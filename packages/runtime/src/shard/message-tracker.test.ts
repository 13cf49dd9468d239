import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MessageTracker, positionOfMsgId } from './message-tracker.js';
import { OutgoingMessage } from './outgoing-message.js';

let seq = 0;
function message(table: string, lsn: number, idx: number, json = '{"record":{}}'): OutgoingMessage {
  seq++;
  return OutgoingMessage.fromText({
    seq,
    subject: `sequin.changes.db.${table}.insert`,
    action: 'insert',
    msgId: `7000:db:${lsn}:${idx}`,
    json,
    commitTime: 0,
  });
}

function clock(start = Date.parse('2026-01-01T00:00:00Z')): {
  now: () => number;
  advance: (ms: number) => void;
} {
  let t = start;
  return {
    now: () => t,
    advance: (ms) => {
      t += ms;
    },
  };
}

describe('MessageTracker', () => {
  it('reads commit_lsn and commit_idx from the end of the msgId', () => {
    assert.deepEqual(positionOfMsgId('7432101:shop%3Ax:123456789:4'), { commitLsn: 123456789, commitIdx: 4 });
  });

  it('shows messages in flight until the cycle settles, then as delivered, newest first', () => {
    const time = clock();
    const tracker = new MessageTracker({ shard: 1, now: time.now });
    const batch = [message('public.a', 100, 0), message('public.a', 100, 1)];
    tracker.inFlight('public.a', batch);
    const inflight = tracker.list({ state: 'inflight', limit: 10 });
    assert.deepEqual(
      inflight.map((m) => [m.commit_lsn, m.commit_idx, m.deliver_count, m.state, m.shard]),
      [
        [100, 0, 1, 'inflight', 1],
        [100, 1, 1, 'inflight', 1],
      ],
    );
    assert.equal(inflight[0]!.delivered_at, null);
    time.advance(5);
    tracker.delivered('public.a', batch);
    assert.equal(tracker.list({ state: 'inflight', limit: 10 }).length, 0);
    const delivered = tracker.list({ state: 'delivered', limit: 10 });
    assert.deepEqual(
      delivered.map((m) => m.commit_idx),
      [1, 0],
    );
    assert.equal(delivered[0]!.delivered_at, '2026-01-01T00:00:00.005Z');
    assert.equal(delivered[0]!.last_attempt_at, '2026-01-01T00:00:00.000Z');
    assert.deepEqual(tracker.counts(), { inflight: 0, failing: 0, delivered: 2 });
  });

  it('shows the failing head with its deliver count, error and next attempt, and counts every attempt', () => {
    const time = clock();
    const tracker = new MessageTracker({ shard: 0, now: time.now });
    const [a, b, c] = [message('public.t', 200, 0), message('public.t', 200, 1), message('public.t', 200, 2)];
    // Cycle 1: a delivered, b and c fail.
    tracker.inFlight('public.t', [a!, b!, c!]);
    tracker.delivered('public.t', [a!]);
    tracker.failing('public.t', b!, 'boom', 1, time.now() + 1000);
    let failing = tracker.list({ state: 'failing', limit: 10 });
    assert.equal(failing.length, 1);
    assert.equal(failing[0]!.id, b!.msgId);
    assert.equal(failing[0]!.deliver_count, 1);
    assert.equal(failing[0]!.last_error, 'boom');
    assert.equal(failing[0]!.next_attempt_at, '2026-01-01T00:00:01.000Z');
    // Cycle 2: refused before it is in flight (too big): still an attempt.
    time.advance(1000);
    tracker.failing('public.t', b!, 'too big', 2, time.now() + 2000);
    failing = tracker.list({ state: 'failing', limit: 10 });
    assert.equal(failing[0]!.deliver_count, 2);
    assert.equal(
      failing[0]!.failing_since,
      '2026-01-01T00:00:00.000Z',
      'the same message keeps its first failure time',
    );
    // The publisher's live view wins for what changes without a publish (retry now, queue).
    failing = tracker.list({ state: 'failing', limit: 10 }, [
      { table: 'public.t', attempts: 2, lastError: 'too big', nextAttemptAt: 0, queued: 2 },
    ]);
    assert.equal(failing[0]!.next_attempt_at, null);
    assert.equal(failing[0]!.queued_behind, 1);
    // Cycle 3: both delivered; b took three attempts, c two.
    tracker.inFlight('public.t', [b!, c!]);
    assert.deepEqual(
      tracker.list({ state: 'inflight', limit: 10 }).map((m) => m.deliver_count),
      [3, 2],
    );
    tracker.delivered('public.t', [b!, c!]);
    assert.equal(tracker.list({ state: 'failing', limit: 10 }).length, 0);
    const delivered = new Map(
      tracker.list({ state: 'delivered', limit: 10 }).map((m) => [m.id, m.deliver_count]),
    );
    assert.equal(delivered.get(a!.msgId), 1);
    assert.equal(delivered.get(b!.msgId), 3);
    assert.equal(delivered.get(c!.msgId), 2);
  });

  it('keeps about the last N delivered, whatever the batch sizes', () => {
    const tracker = new MessageTracker({ shard: 0, deliveredCapacity: 10 });
    for (let batch = 0; batch < 50; batch++) {
      const messages = Array.from({ length: (batch % 7) + 1 }, (_, i) =>
        message('public.big', 1000 + batch, i),
      );
      tracker.inFlight('public.big', messages);
      tracker.delivered('public.big', messages);
    }
    const huge = Array.from({ length: 500 }, (_, i) => message('public.big', 5000, i));
    tracker.delivered('public.big', huge);
    const views = tracker.list({ state: 'delivered', limit: 1000 });
    assert.equal(views.length, 10);
    assert.deepEqual(
      views.map((m) => m.commit_idx),
      [499, 498, 497, 496, 495, 494, 493, 492, 491, 490],
    );
    assert.equal(tracker.counts().delivered, 10);
  });

  it('filters by table, orders in flight by commit position, and limits', () => {
    const tracker = new MessageTracker({ shard: 0 });
    const a = [message('public.a', 100, 0), message('public.a', 100, 1)];
    const b = [message('public.b', 300, 0)];
    tracker.inFlight('public.b', b);
    tracker.inFlight('public.a', a);
    assert.deepEqual(
      tracker.list({ state: 'inflight', limit: 10 }).map((m) => `${m.table}:${m.commit_lsn}:${m.commit_idx}`),
      ['public.a:100:0', 'public.a:100:1', 'public.b:300:0'],
    );
    assert.deepEqual(
      tracker.list({ state: 'inflight', limit: 10, table: 'public.a' }).map((m) => m.commit_idx),
      [0, 1],
    );
    assert.equal(tracker.list({ state: 'inflight', limit: 1 }).length, 1);
  });

  it('returns a detail with headers and body, cut at the body limit and detached from the original', () => {
    const tracker = new MessageTracker({ shard: 0, bodyLimit: 16 });
    const small = message('public.t', 1, 0, '{"a":1}');
    const big = message('public.t', 1, 1, `{"x":"${'y'.repeat(100)}"}`);
    tracker.inFlight('public.t', [small, big]);
    tracker.delivered('public.t', [small, big]);
    tracker.cycleDone();
    // The publisher reuses the memory of delivered messages after cycleDone(): the tracker's
    // copies must not change.
    const smallId = small.msgId;
    small.bytes.fill(0x20, small.start, small.end);
    assert.equal(tracker.detail(smallId)!.body, '{"a":1}');
    const detail = tracker.detail(big.msgId)!;
    assert.equal(detail.headers['Nats-Msg-Id'], big.msgId);
    assert.equal(detail.body, big.json.slice(0, 16));
    assert.equal(detail.body_truncated, true);
    assert.equal(detail.body_length, big.json.length);
    assert.equal(tracker.detail(smallId)!.body_truncated, false);
    assert.equal(tracker.detail('7000:db:9:9'), null);
  });

  it('forgets attempt counts once a message is delivered (memory stays bounded)', () => {
    const tracker = new MessageTracker({ shard: 0 });
    const messages = Array.from({ length: 100 }, (_, i) => message('public.t', 7, i));
    tracker.inFlight('public.t', messages);
    tracker.failing('public.t', messages[0]!, 'not connected to NATS', 1, 0);
    tracker.inFlight('public.t', messages);
    tracker.delivered('public.t', messages);
    assert.equal((tracker as unknown as { failures: Map<string, number> }).failures.size, 0);
  });
});
