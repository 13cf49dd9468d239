/**
 * Component test of the initial snapshot's delivery through the shards' publisher: PageDelivery
 * over a real ShardPublisher and a fake sink (test/support/fake-delivery-sink.ts). What is
 * checked: a page's deliver() resolves only once every row of it is delivered (a partial
 * delivery, a failure and its retry do not end it), so a table's reader never enqueues its next
 * page before the previous one is delivered (memory holds one page per table in the publisher),
 * another table's delivery does not end it, and a stop ends every wait.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { FakeDeliverySink } from '../../../../test/support/fake-delivery-sink.js';
import { enqueueText } from '../../../../test/support/enqueue-text.js';
import { ALL_DELIVERED } from '../sink/delivery-sink.js';
import { createLogger } from '../log/logger.js';
import { createShardMetrics } from '../metrics/shard-metrics.js';
import { ShardPublisher } from '../shard/shard-publisher.js';
import { PageDelivery } from './page-delivery.js';
import type { RowTarget } from './page-encoder.js';

async function until(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

/** Lets the publisher and the waits react (their wake-ups are promise and immediate callbacks). */
async function turns(n = 5): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
}

function setUp() {
  const sink = new FakeDeliverySink();
  const rowsDelivered = new Map<string, number>();
  const delivery = new PageDelivery((table, rows) =>
    rowsDelivered.set(table, (rowsDelivered.get(table) ?? 0) + rows),
  );
  const publisher = new ShardPublisher(
    {
      shard: 'snapshot',
      backoff: { initialMs: 5, maxMs: 5, jitter: 0 },
      maxCycleMessages: 1000,
      tableWindow: 1000,
    },
    sink,
    createShardMetrics(new Registry()),
    createLogger({ level: 'error', format: 'json', thread: 'test' }),
    () => {},
    delivery,
  );
  publisher.start();
  /** A page of `rows` rows of `table` (a, b, …), as deliver() hands them to the publisher. */
  const page =
    (table: string, rows: number) =>
    (target: RowTarget, nextSeq: () => number): void => {
      for (let k = 0; k < rows; k++) {
        const seq = nextSeq();
        enqueueText(target, table.charCodeAt(0), `public.${table}`, {
          seq,
          subject: `sequin.changes.db.public.${table}.read`,
          action: 'read',
          msgId: `m${seq}`,
          json: `{"seq":${seq}}`,
          commitTime: 0,
        });
      }
    };
  return { sink, publisher, delivery, page, rowsDelivered };
}

describe('the initial snapshot delivered through ShardPublisher', () => {
  it("a page's delivery ends only once every row of it is delivered, after a partial failure and its retry too", async () => {
    const { sink, publisher, delivery, page, rowsDelivered } = setUp();
    let done = false;
    const delivered = delivery.deliver('public.a', publisher, page('a', 3)).then(() => (done = true));
    await until(() => sink.cycleInFlight, 'the page to be published');
    assert.deepEqual(
      sink.inFlight().map((m) => m.seq),
      [1, 2, 3],
    );
    // The first row is delivered, the rest failed: the page is not delivered yet.
    sink.settleWith({
      failures: new Map([
        [1, 'no answer'],
        [2, 'no answer'],
      ]),
      connectionLost: false,
    });
    await turns();
    assert.equal(done, false, 'a partly delivered page is not delivered');
    assert.equal(rowsDelivered.get('public.a'), 1);
    await until(() => sink.cycleInFlight, 'the retry of the rest');
    assert.deepEqual(
      sink.inFlight().map((m) => m.seq),
      [2, 3],
    );
    sink.settleWith(ALL_DELIVERED);
    await delivered;
    assert.equal(done, true);
    assert.deepEqual(sink.heldOf('a'), [1, 2, 3]);
    assert.equal(rowsDelivered.get('public.a'), 3);
    await publisher.stop();
  });

  it("a table's next page is enqueued only once the previous one is delivered, whatever other tables do", async () => {
    const { sink, publisher, delivery, page } = setUp();
    // Two readers, as the snapshot runs them: each enqueues its table's pages one after another.
    const reader = async (table: string, pages: number): Promise<void> => {
      for (let p = 0; p < pages; p++) await delivery.deliver(`public.${table}`, publisher, page(table, 4));
    };
    const readers = Promise.all([reader('a', 3), reader('b', 1)]);
    await until(() => sink.cycleInFlight, 'the first pages');
    assert.equal(publisher.frontier().undelivered, 8, 'one page of each table, no more');
    // b's page is delivered, a's fails: a's next page must still wait.
    const first = sink.inFlight();
    const aIndexes = first.flatMap((m, i) => (m.subject.includes('.a.') ? [i] : []));
    sink.settleWith({ failures: new Map(aIndexes.map((i) => [i, 'refused'])), connectionLost: false });
    await turns();
    assert.equal(publisher.frontier().undelivered, 4, "a's first page only");
    for (let settled = 0; settled < 3;) {
      await until(() => sink.cycleInFlight, "a's next cycle");
      assert.ok(publisher.frontier().undelivered <= 4, 'never more than one page of a in the publisher');
      sink.settleWith(ALL_DELIVERED);
      settled++;
      await turns();
    }
    await readers;
    assert.deepEqual(sink.heldOf('a'), [1, 2, 3, 4, 9, 10, 11, 12, 13, 14, 15, 16]);
    assert.equal(publisher.frontier().undelivered, 0);
    await publisher.stop();
  });

  it('a stop ends the wait of every reader, and refuses the next page', async () => {
    const { sink, publisher, delivery, page } = setUp();
    const waiting = delivery.deliver('public.a', publisher, page('a', 2));
    await until(() => sink.cycleInFlight, 'the page to be published');
    delivery.fail(new Error('stopped'));
    await assert.rejects(waiting, /stopped/);
    await assert.rejects(delivery.deliver('public.b', publisher, page('b', 1)), /stopped/);
    sink.settleWith(ALL_DELIVERED);
    await publisher.stop();
  });
});
