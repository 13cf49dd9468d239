/**
 * The mailbox of one table: in-flight messages come from the head (in one cycle or several), a
 * delivery takes a prefix of them and ends the failure, a failure takes them all back, starts a
 * new round and backs off (doubling), and a reconnect ends the backoff only of a failure that
 * was the connection's.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { OutgoingMessage } from './outgoing-message.js';
import { TableMailbox } from './table-mailbox.js';

const BACKOFF = { initialMs: 1000, maxMs: 8000, jitter: 0 };

function mailboxOf(...seqs: number[]): TableMailbox {
  const mailbox = new TableMailbox('public.t');
  for (const seq of seqs)
    mailbox.push(
      OutgoingMessage.fromText({
        seq,
        subject: 'sequin.changes.db.public.t.insert',
        action: 'insert',
        msgId: `m${seq}`,
        json: '{}',
        commitTime: 0,
      }),
    );
  return mailbox;
}

/** Publishes the next `count` unsent messages, as a cycle does. */
function publish(mailbox: TableMailbox, count: number): number[] {
  const seqs: number[] = [];
  for (let i = 0; i < count; i++) {
    seqs.push(mailbox.peekUnsent(0)!.seq);
    mailbox.markInFlight();
  }
  return seqs;
}

describe('TableMailbox', () => {
  it('publishes from the head in order, in several cycles; a delivery takes a prefix and leaves the rest in flight; a failure takes them all back', () => {
    const mailbox = mailboxOf(1, 2, 3, 4, 5);
    assert.deepEqual(publish(mailbox, 2), [1, 2], 'cycle 1');
    assert.deepEqual(publish(mailbox, 2), [3, 4], 'cycle 2, while cycle 1 is in flight');
    assert.deepEqual(
      mailbox.inFlightMessages().map((m) => m.seq),
      [1, 2, 3, 4],
    );
    assert.deepEqual({ inFlight: mailbox.inFlight, unsent: mailbox.unsent }, { inFlight: 4, unsent: 1 });
    assert.deepEqual(
      mailbox.takeDelivered(2).map((m) => m.seq),
      [1, 2],
      'cycle 1 settles first',
    );
    assert.equal(mailbox.headSeq, 3);
    assert.deepEqual({ inFlight: mailbox.inFlight, unsent: mailbox.unsent }, { inFlight: 2, unsent: 1 });
    const round = mailbox.round;
    mailbox.failed('connection lost', true, BACKOFF, 0);
    assert.notEqual(
      mailbox.round,
      round,
      'a failure starts a new round: cycle 2 no longer describes the mailbox',
    );
    assert.deepEqual({ inFlight: mailbox.inFlight, unsent: mailbox.unsent }, { inFlight: 0, unsent: 3 });
    assert.deepEqual(publish(mailbox, 3), [3, 4, 5], 'the next cycle starts again at the first undelivered');
  });

  it('a failure takes every in-flight message back and backs off, doubling; a delivery ends it', () => {
    const mailbox = mailboxOf(1, 2);
    publish(mailbox, 2);
    assert.equal(mailbox.failed('timed out', false, BACKOFF, 10_000), 1000);
    assert.deepEqual(
      { inFlight: mailbox.inFlight, unsent: mailbox.unsent, headSeq: mailbox.headSeq },
      { inFlight: 0, unsent: 2, headSeq: 1 },
    );
    assert.deepEqual(
      { attempts: mailbox.attempts, lastError: mailbox.lastError, nextAttemptAt: mailbox.nextAttemptAt },
      { attempts: 1, lastError: 'timed out', nextAttemptAt: 11_000 },
    );
    assert.equal(mailbox.isDue(10_999), false);
    assert.equal(mailbox.isDue(11_000), true);
    assert.equal(mailbox.failed('timed out', false, BACKOFF, 20_000), 2000);
    publish(mailbox, 2);
    mailbox.takeDelivered(1);
    assert.deepEqual(
      { attempts: mailbox.attempts, lastError: mailbox.lastError, nextAttemptAt: mailbox.nextAttemptAt },
      { attempts: 0, lastError: null, nextAttemptAt: 0 },
    );
    // A cycle that delivered nothing does not end the failure.
    mailbox.failed('timed out', false, BACKOFF, 30_000);
    publish(mailbox, 1);
    mailbox.takeDelivered(0);
    assert.equal(mailbox.attempts, 1);
  });

  it('a reconnect ends the backoff of a failure on the connection only', () => {
    const onConnection = mailboxOf(1);
    onConnection.failed('not connected to NATS', true, BACKOFF, 0);
    assert.equal(onConnection.retryOnReconnect(), true);
    assert.equal(onConnection.isDue(0), true);
    const refused = mailboxOf(1);
    refused.failed('over max_payload', false, BACKOFF, 0);
    assert.equal(refused.retryOnReconnect(), false);
    assert.equal(refused.isDue(0), false);
    refused.retryNow();
    assert.equal(refused.isDue(0), true);
    // A delivery clears the connection failure: a later reconnect does not cut another backoff short.
    publish(onConnection, 1);
    onConnection.takeDelivered();
    assert.equal(onConnection.retryOnReconnect(), false);
  });

  it('keeps a refusal behind the in-flight messages until the cycle settles, once; a failure drops it', () => {
    const mailbox = mailboxOf(1, 2);
    publish(mailbox, 1);
    mailbox.refusedAfterInFlight('over max_payload');
    assert.equal(mailbox.refusalPending, true);
    assert.equal(mailbox.takeRefusal(), 'over max_payload');
    assert.equal(mailbox.takeRefusal(), null);
    assert.equal(mailbox.refusalPending, false);
    // The table starts again from its head, before the refused message: refused anew when reached.
    mailbox.refusedAfterInFlight('over max_payload');
    mailbox.failed('timed out', false, BACKOFF, 0);
    assert.equal(mailbox.refusalPending, false);
  });
});
