/**
 * Component tests of ShardPublisher (core NATS path) against a fake sink
 * (test/support/fake-delivery-sink.ts) that can refuse a message, time out, fail from some
 * message on, lose the connection mid-cycle, and accept a later message after an earlier
 * failure. What is checked: per table, what the sink finally holds is in commit order; the
 * frontier (what the slot may confirm) never passes an undelivered message; a failing table
 * backs off (doubling) while the others go on; a table that failed on the connection is retried
 * as soon as it is back. Pipelined cycles (several in flight): they settle in order even when a
 * later result comes first; a failure takes back the table's messages of later cycles too; after
 * a reconnect nothing new starts before the old connection's cycles settled; no message's bytes
 * change before its cycle settled. Fencing: shard-publisher-fence.test.ts.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import {
  FakeDeliverySink,
  tableOf,
  type PublishedCycle,
} from '../../../../test/support/fake-delivery-sink.js';
import { seededRandom } from '../../../../test/support/random.js';
import { allFailed, ALL_DELIVERED, type CycleResult } from '../sink/delivery-sink.js';
import { createLogger } from '../log/logger.js';
import { createShardMetrics } from '../metrics/shard-metrics.js';
import { ShardPublisher, type DeliveryFrontier } from './shard-publisher.js';
import { enqueueText } from '../../../../test/support/enqueue-text.js';

async function until(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

interface SetUpOptions {
  readonly initialBackoffMs?: number;
  readonly tableWindow?: number;
  readonly maxCyclesInFlight?: number;
  readonly mayPublish?: () => boolean;
  /** Characters of padding in each JSON body (big messages fill and recycle slabs quickly). */
  readonly padding?: number;
}

/** Lets the publisher react to what just happened (its wake-ups are promise and immediate callbacks). */
async function turns(n = 3): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
}

function setUp(options: SetUpOptions = {}) {
  const sink = new FakeDeliverySink();
  const reports: DeliveryFrontier[] = [];
  const registry = new Registry();
  const metrics = createShardMetrics(registry);
  const initialMs = options.initialBackoffMs ?? 60_000;
  const publisher = new ShardPublisher(
    {
      shard: 0,
      backoff: { initialMs, maxMs: initialMs * 64, jitter: 0 },
      maxCycleMessages: 1000,
      tableWindow: options.tableWindow ?? 1000,
      maxCyclesInFlight: options.maxCyclesInFlight ?? 1,
      ...(options.mayPublish ? { mayPublish: options.mayPublish } : {}),
    },
    sink,
    metrics,
    createLogger({ level: 'error', format: 'json', thread: 'test' }),
    (f) => reports.push(f),
  );
  /** Every seq ever enqueued, with its table. */
  const enqueued = new Map<number, string>();
  let lastSeq = 0;
  const pad = options.padding ? `,"pad":"${'x'.repeat(options.padding)}"` : '';
  /** Enqueues one change of `table` (a, b, c …) with the next seq. */
  const enqueue = (table: string): number => {
    const seq = ++lastSeq;
    const relationId = table.charCodeAt(0);
    enqueueText(publisher, relationId, `public.${table}`, {
      seq,
      subject: `sequin.changes.db.public.${table}.insert`,
      action: 'insert',
      msgId: `m${seq}`,
      json: `{"seq":${seq}${pad}}`,
      commitTime: 0,
    });
    publisher.received(seq);
    enqueued.set(seq, table);
    return seq;
  };
  const orderBreaks = async (): Promise<number> =>
    (await registry.getSingleMetric('wal2nats_order_breaks_total')!.get()).values.reduce(
      (sum, v) => sum + v.value,
      0,
    );
  publisher.start();
  return { sink, publisher, reports, enqueue, enqueued, orderBreaks };
}

/** A cycle's result in which the messages at `indexes` failed. */
function failing(indexes: number[], reason: string, connectionLost = false): CycleResult {
  return { failures: new Map(indexes.map((i) => [i, reason])), connectionLost };
}

const seqsOf = (cycle: PublishedCycle): number[] => cycle.messages.map((m) => m.seq);

describe('ShardPublisher against a fake sink', () => {
  it('delivers each table in order and reports the frontier at the last delivered change', async () => {
    const { sink, publisher, reports, enqueue } = setUp();
    sink.decide = () => ALL_DELIVERED;
    for (const table of ['a', 'b', 'a', 'c', 'b', 'a']) enqueue(table);
    await until(
      () => publisher.frontier().frontier === 6 && publisher.frontier().undelivered === 0,
      'everything delivered',
    );
    assert.deepEqual(sink.heldOf('a'), [1, 3, 6]);
    assert.deepEqual(sink.heldOf('b'), [2, 5]);
    assert.deepEqual(sink.heldOf('c'), [4]);
    assert.deepEqual(reports.at(-1), { frontier: 6, undelivered: 0 });
    await publisher.stop();
  });

  it('a failure from one message on: the ones before are delivered, it and the rest go back to the head, and the frontier stops below it', async () => {
    const { sink, publisher, enqueue } = setUp({ initialBackoffMs: 20 });
    enqueue('a'); // 1
    enqueue('a'); // 2
    enqueue('a'); // 3
    await until(() => sink.cycleInFlight, 'the first cycle');
    assert.deepEqual(seqsOf(sink.cycles[0]!), [1, 2, 3]);
    sink.settleWith(failing([1, 2], 'timed out'));
    await until(() => publisher.failing().length === 1, 'the table to fail');
    assert.deepEqual(publisher.frontier(), { frontier: 1, undelivered: 2 });
    assert.equal(publisher.failing()[0]!.lastError, 'timed out');
    await until(() => sink.cycleInFlight, 'the retry');
    assert.deepEqual(seqsOf(sink.cycles[1]!), [2, 3], 'the retry starts at the first failed message');
    sink.settleWith();
    await until(() => publisher.frontier().undelivered === 0, 'the retry delivered');
    assert.deepEqual(sink.heldOf('a'), [1, 2, 3]);
    assert.deepEqual(publisher.failing(), []);
    await publisher.stop();
  });

  it('a failing table backs off, doubling, while the other tables go on', async () => {
    const { sink, publisher, enqueue } = setUp({ initialBackoffMs: 40 });
    sink.decide = (cycle) =>
      failing(
        cycle.messages.flatMap((m, i) => (tableOf(m) === 'a' ? [i] : [])),
        'timed out',
      );
    enqueue('a');
    enqueue('b');
    await until(
      () => sink.cycles.filter((c) => c.messages.some((m) => tableOf(m) === 'a')).length >= 3,
      'three attempts of table a',
    );
    const attemptsOfA = sink.cycles
      .filter((c) => c.messages.some((m) => tableOf(m) === 'a'))
      .map((c) => c.startedAt);
    assert.ok(
      attemptsOfA[1]! - attemptsOfA[0]! >= 40,
      `the first retry waited ${attemptsOfA[1]! - attemptsOfA[0]!} ms, under the 40 ms backoff`,
    );
    assert.ok(
      attemptsOfA[2]! - attemptsOfA[1]! >= 80,
      `the second retry waited ${attemptsOfA[2]! - attemptsOfA[1]!} ms, under the doubled 80 ms`,
    );
    assert.deepEqual(sink.heldOf('b'), [2], 'table b was delivered meanwhile');
    assert.equal(publisher.frontier().frontier, 0, 'a, undelivered, holds the frontier');
    enqueue('b');
    await until(() => sink.heldOf('b').length === 2, 'a later change of b while a backs off');
    assert.equal(publisher.frontier().frontier, 0);
    sink.decide = () => ALL_DELIVERED;
    publisher.retryNow();
    await until(() => publisher.frontier().undelivered === 0, 'a delivered after retryNow');
    assert.equal(publisher.frontier().frontier, 3);
    await publisher.stop();
  });

  it('a message the client refuses stops its table there: those before it in the cycle are delivered, nothing after it is published', async () => {
    const { sink, publisher, enqueue } = setUp({ initialBackoffMs: 60_000 });
    sink.refuse = (m) => (m.seq === 3 ? 'the message is over max_payload' : null);
    sink.decide = () => ALL_DELIVERED;
    for (const table of ['a', 'a', 'a', 'a', 'b']) enqueue(table); // a: 1 2 3 4, b: 5
    await until(
      () => publisher.failing().length === 1 && sink.heldOf('b').length === 1,
      'a to fail at 3 and b to be delivered',
    );
    assert.deepEqual(sink.heldOf('a'), [1, 2]);
    assert.deepEqual(seqsOf(sink.cycles[0]!), [1, 2, 5], '4 is not published after the refused 3');
    assert.equal(publisher.failing()[0]!.lastError, 'the message is over max_payload');
    assert.deepEqual(publisher.frontier(), { frontier: 2, undelivered: 2 });
    // Refused at the head (nothing in flight): the table fails at once, the next cycle too.
    sink.refuse = (m) => (m.seq === 3 || m.seq === 6 ? 'refused' : null);
    publisher.retryNow();
    enqueue('b'); // 6, refused at the head of b
    await until(() => publisher.failing().length === 2, 'b to fail too');
    assert.deepEqual(publisher.frontier(), { frontier: 2, undelivered: 3 });
    sink.refuse = () => null;
    publisher.retryNow();
    await until(() => publisher.frontier().undelivered === 0, 'everything delivered once the client accepts');
    assert.deepEqual(sink.heldOf('a'), [1, 2, 3, 4]);
    assert.deepEqual(sink.heldOf('b'), [5, 6]);
    await publisher.stop();
  });

  it('a later message accepted after an earlier one failed is counted as an order break, and the table resumes at the failed one', async () => {
    const { sink, publisher, enqueue, orderBreaks } = setUp({ initialBackoffMs: 5 });
    enqueue('a');
    enqueue('a');
    enqueue('a');
    await until(() => sink.cycleInFlight, 'the first cycle');
    sink.settleWith(failing([1], 'acked out of order')); // 1 and 3 accepted, 2 not
    await until(() => sink.cycleInFlight, 'the retry');
    assert.equal(await orderBreaks(), 1);
    assert.deepEqual(seqsOf(sink.cycles[1]!), [2, 3], 'the retry resends from the failed message on');
    assert.equal(publisher.frontier().frontier, 1, 'the frontier stops below the failed message');
    sink.settleWith();
    await until(() => publisher.frontier().undelivered === 0, 'delivered');
    await publisher.stop();
  });

  it('while NATS is down a due table counts failed attempts; the reconnect retries it at once', async () => {
    const { sink, publisher, enqueue } = setUp({ initialBackoffMs: 60_000 });
    sink.decide = () => ALL_DELIVERED;
    sink.disconnect();
    enqueue('a');
    await until(() => publisher.failing().length === 1, 'the table to fail while disconnected');
    assert.equal(publisher.failing()[0]!.lastError, 'not connected to NATS');
    assert.equal(sink.cycles.length, 0, 'nothing is published while disconnected');
    sink.reconnect();
    await until(
      () => publisher.frontier().undelivered === 0,
      'delivery right after the reconnect, not after the 60 s backoff',
    );
    assert.deepEqual(sink.heldOf('a'), [1]);
    await publisher.stop();
  });

  it('a cycle that settles as connection lost before the reconnect is retried at once when the connection is back', async () => {
    const { sink, publisher, enqueue } = setUp({ initialBackoffMs: 60_000 });
    enqueue('a');
    await until(() => sink.cycleInFlight, 'a cycle in flight');
    sink.disconnect();
    sink.settleWith(allFailed(1, 'not connected to NATS', true));
    await until(() => publisher.failing().length === 1, 'the table to fail');
    sink.decide = () => ALL_DELIVERED;
    sink.reconnect();
    await until(() => publisher.frontier().undelivered === 0, 'delivery right after the reconnect');
    await publisher.stop();
  });

  it('a cycle in flight when the connection drops that settles only after the reconnect is retried at once, not after its backoff', async () => {
    const { sink, publisher, enqueue } = setUp({ initialBackoffMs: 60_000 });
    enqueue('a'); // 1
    enqueue('b'); // 2
    await until(() => sink.cycleInFlight, 'a cycle in flight');
    // The connection drops and comes back while the cycle's flush is outstanding (nats.js
    // rejects it only later: its PING went to the old socket, or its PONG came on the new one).
    sink.disconnect();
    sink.reconnect();
    sink.settleWith(allFailed(2, 'the NATS connection was lost before the server confirmed', true));
    sink.decide = () => ALL_DELIVERED;
    await until(
      () => publisher.frontier().undelivered === 0,
      'delivery right after the settle, not after the 60 s backoff',
      2000,
    );
    assert.deepEqual(sink.heldOf('a'), [1]);
    assert.deepEqual(sink.heldOf('b'), [2]);
    await publisher.stop();
  });

  it('a failure on the connection with the connection still up waits for its backoff (no retry loop without a reconnect)', async () => {
    const { sink, publisher, enqueue } = setUp({ initialBackoffMs: 60_000 });
    enqueue('a');
    await until(() => sink.cycleInFlight, 'a cycle in flight');
    sink.settleWith(allFailed(1, 'NATS did not confirm', true));
    await until(() => publisher.failing().length === 1, 'the table to fail');
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(sink.cycles.length, 1, 'no retry before the backoff');
    assert.ok(publisher.failing()[0]!.nextAttemptAt > Date.now() + 50_000);
    await publisher.stop();
  });

  it('keeps every table in order and never reports a frontier past an undelivered change (200 seeded runs)', async () => {
    // WAL2NATS_PUBLISHER_SEED=n repeats one run.
    const only = process.env.WAL2NATS_PUBLISHER_SEED ? Number(process.env.WAL2NATS_PUBLISHER_SEED) : null;
    let pipelined = 0;
    for (let seed = only ?? 1; seed <= (only ?? 200); seed++) if ((await randomRun(seed)) > 1) pipelined++;
    if (only === null) assert.ok(pipelined >= 50, `only ${pipelined} runs had two cycles in flight at once`);
  });
});

describe('ShardPublisher with several cycles in flight', () => {
  it('starts the next cycle while earlier ones await their confirmation, up to the limit, and settles them in order', async () => {
    const { sink, publisher, enqueue } = setUp({ maxCyclesInFlight: 3 });
    enqueue('a'); // 1
    await until(() => sink.cyclesInFlight === 1, 'cycle 1');
    enqueue('a'); // 2
    enqueue('b'); // 3
    await until(() => sink.cyclesInFlight === 2, 'cycle 2 without waiting for cycle 1');
    enqueue('a'); // 4
    await until(() => sink.cyclesInFlight === 3, 'cycle 3');
    enqueue('b'); // 5
    await turns();
    assert.equal(sink.cyclesInFlight, 3, 'no fourth cycle while three are in flight');
    assert.deepEqual(sink.cycles.map(seqsOf), [[1], [2, 3], [4]]);
    sink.settleWith();
    await until(() => sink.cyclesInFlight === 3, 'cycle 4 once cycle 1 settled');
    assert.deepEqual(seqsOf(sink.cycles[3]!), [5], 'a cycle takes what is queued');
    assert.deepEqual(publisher.frontier(), { frontier: 1, undelivered: 4 });
    for (let i = 0; i < 3; i++) sink.settleWith();
    await until(() => publisher.frontier().undelivered === 0, 'everything delivered');
    assert.deepEqual(publisher.frontier(), { frontier: 5, undelivered: 0 });
    assert.deepEqual(sink.heldOf('a'), [1, 2, 4]);
    assert.deepEqual(sink.heldOf('b'), [3, 5]);
    await publisher.stop();
  });

  it('a later cycle whose result comes first waits for the earlier one: the frontier does not move past the earlier cycle', async () => {
    const { sink, publisher, reports, enqueue } = setUp({ maxCyclesInFlight: 2 });
    enqueue('a'); // 1
    await until(() => sink.cyclesInFlight === 1, 'cycle 1');
    enqueue('a'); // 2
    await until(() => sink.cyclesInFlight === 2, 'cycle 2');
    sink.settleWith(ALL_DELIVERED, 1); // cycle 2's PONG first (CoreNatsSink never does this)
    await turns();
    assert.deepEqual(publisher.frontier(), { frontier: 0, undelivered: 2 }, 'change 1 is not confirmed yet');
    assert.deepEqual(reports, [], 'no report before cycle 1 settled');
    sink.settleWith(failing([0], 'timed out')); // cycle 1: change 1 failed after all
    await until(() => publisher.failing().length === 1, 'table a to fail');
    assert.deepEqual(publisher.frontier(), { frontier: 0, undelivered: 2 });
    await publisher.stop();
  });

  it("a failure in cycle c takes back the table's messages of cycle c+1 too; what the sink accepts of them anyway is an order break, not a delivery", async () => {
    // Big messages: slabs fill and would be reused if a message were released too early.
    const { sink, publisher, enqueue, orderBreaks } = setUp({
      maxCyclesInFlight: 2,
      initialBackoffMs: 60_000,
      padding: 60_000,
    });
    enqueue('a'); // 1
    enqueue('a'); // 2
    enqueue('b'); // 3
    await until(() => sink.cyclesInFlight === 1, 'cycle 1');
    enqueue('a'); // 4
    enqueue('b'); // 5
    await until(() => sink.cyclesInFlight === 2, 'cycle 2');
    assert.deepEqual(sink.cycles.map(seqsOf), [
      [1, 2, 3],
      [4, 5],
    ]);
    sink.settleWith(failing([1], 'timed out')); // cycle 1: 2 failed
    await until(() => publisher.failing().length === 1, 'table a to fail');
    assert.deepEqual(publisher.frontier(), { frontier: 1, undelivered: 3 });
    sink.settleWith(); // cycle 2: the sink took 4 although 2 failed before it
    await until(() => sink.heldOf('b').length === 2, 'cycle 2 settled');
    await turns();
    assert.equal(await orderBreaks(), 1);
    assert.deepEqual(publisher.frontier(), { frontier: 1, undelivered: 2 }, '2 and 4 are still to deliver');
    publisher.retryNow();
    await until(() => sink.cyclesInFlight === 1, 'the retry of a');
    assert.deepEqual(seqsOf(sink.cycles.at(-1)!), [2, 4], 'a starts again at 2, in order');
    sink.settleWith();
    await until(() => publisher.frontier().undelivered === 0, 'delivered');
    assert.deepEqual(sink.heldOf('a'), [1, 4, 2, 4]);
    assert.deepEqual(sink.heldOf('b'), [3, 5]);
    assert.deepEqual(sink.overwritten, [], 'no message bytes reused before their cycle settled');
    await publisher.stop();
  });

  it("the connection lost under two cycles: both fail, and after the reconnect nothing new starts until the old connection's cycles settled; then the resend in order", async () => {
    const { sink, publisher, enqueue } = setUp({ maxCyclesInFlight: 4, initialBackoffMs: 60_000 });
    enqueue('a'); // 1
    await until(() => sink.cyclesInFlight === 1, 'cycle 1');
    enqueue('a'); // 2
    enqueue('b'); // 3
    await until(() => sink.cyclesInFlight === 2, 'cycle 2');
    sink.disconnect();
    sink.reconnect(); // heard before either cycle settles (nats.js rejects their PINGs late)
    enqueue('a'); // 4: queued on the new connection
    await turns();
    assert.equal(sink.cycles.length, 2, 'change 4 does not overtake the resend of 1 and 2');
    sink.settleWith(allFailed(1, 'connection lost', true));
    await turns();
    assert.equal(sink.cycles.length, 2, 'nor while cycle 2 of the old connection is in flight');
    sink.settleWith(allFailed(2, 'connection lost', true));
    await until(() => sink.cycles.length === 3, 'the resend, at once (not after the 60 s backoff)');
    assert.deepEqual(seqsOf(sink.cycles[2]!), [1, 2, 4, 3]);
    sink.settleWith();
    await until(() => publisher.frontier().undelivered === 0, 'delivered');
    assert.deepEqual(sink.heldOf('a'), [1, 2, 4]);
    assert.deepEqual(sink.heldOf('b'), [3]);
    await publisher.stop();
  });

  it('a failing table whose retry is in flight does not keep the loop spinning until it settles', async () => {
    let looked = 0;
    const { sink, publisher, enqueue } = setUp({
      maxCyclesInFlight: 2,
      initialBackoffMs: 1,
      mayPublish: () => {
        looked++;
        return true;
      },
    });
    enqueue('a');
    await until(() => sink.cyclesInFlight === 1, 'cycle 1');
    sink.settleWith(failing([0], 'timed out'));
    await until(() => sink.cycles.length === 2 && sink.cyclesInFlight === 1, 'the retry in flight');
    // Its retry time has passed and stays set until a delivery: no reason to look again meanwhile.
    const before = looked;
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.ok(looked - before <= 2, `the loop ran ${looked - before} times while nothing could change`);
    sink.settleWith();
    await until(() => publisher.frontier().undelivered === 0, 'delivered');
    await publisher.stop();
  });

  it('a message refused at publish behind messages of two cycles in flight: the table publishes nothing more and fails there once both settled', async () => {
    const { sink, publisher, enqueue } = setUp({ maxCyclesInFlight: 4, initialBackoffMs: 60_000 });
    // Refused once: a table waiting for its refusal publishes nothing more, even what the client would take now.
    let refusals = 0;
    sink.refuse = (m) => (m.seq === 3 && refusals++ === 0 ? 'the message is over max_payload' : null);
    enqueue('a'); // 1
    await until(() => sink.cyclesInFlight === 1, 'cycle 1');
    enqueue('a'); // 2
    enqueue('a'); // 3, refused
    enqueue('a'); // 4
    await until(() => sink.cyclesInFlight === 2, 'cycle 2');
    enqueue('b'); // 5
    await until(() => sink.cyclesInFlight === 3, 'cycle 3, without a');
    assert.deepEqual(sink.cycles.map(seqsOf), [[1], [2], [5]]);
    sink.settleWith();
    await turns();
    assert.deepEqual(publisher.failing(), [], 'not failing while 2 is in flight');
    sink.settleWith();
    await until(() => publisher.failing().length === 1, 'a to fail at 3');
    assert.equal(publisher.failing()[0]!.lastError, 'the message is over max_payload');
    sink.settleWith();
    await until(() => publisher.frontier().undelivered === 2, 'b delivered');
    assert.deepEqual(publisher.frontier(), { frontier: 2, undelivered: 2 });
    sink.refuse = () => null;
    publisher.retryNow();
    await until(() => sink.cyclesInFlight === 1, 'the retry');
    sink.settleWith();
    await until(() => publisher.frontier().undelivered === 0, 'delivered');
    assert.deepEqual(sink.heldOf('a'), [1, 2, 3, 4]);
    await publisher.stop();
  });
});

/**
 * One seeded scenario, driven step by step: changes of three tables arrive in waves while up to
 * 1–4 cycles are in flight, and the oldest cycle settles at random — delivered; failed from a
 * random message on; a refusal at publish; the connection lost (every cycle then in flight fails
 * with it; the reconnect comes before or after they settled) — then a healthy sink until
 * everything is delivered. The sink keeps order like a real one: once a message of a table
 * failed, it takes no later message of that table until that one came again. So each table must
 * end up held exactly once, in order; a third of the runs use big messages, so that a slab
 * reused too early would change bytes in flight.
 */
/** Returns the most cycles that were in flight at once. */
async function randomRun(seed: number): Promise<number> {
  const random = seededRandom(seed);
  const maxCyclesInFlight = 1 + Math.floor(random() * 4);
  const { sink, publisher, reports, enqueue, enqueued, orderBreaks } = setUp({
    initialBackoffMs: 1,
    tableWindow: 1 + Math.floor(random() * 4),
    maxCyclesInFlight,
    padding: random() < 0.33 ? 50_000 : 0,
  });
  const context = `seed ${seed}`;
  let healthy = false;
  /** Checks that no report passed an undelivered change. */
  const checkFrontier = (): void => {
    const held = new Set([...sink.held.values()].flat());
    const firstUndelivered = [...enqueued.keys()]
      .filter((seq) => !held.has(seq))
      .reduce((min, seq) => Math.min(min, seq), Number.POSITIVE_INFINITY);
    for (const report of reports)
      assert.ok(
        report.frontier < firstUndelivered,
        `${context}: frontier ${report.frontier} passed undelivered ${firstUndelivered}`,
      );
    reports.length = 0;
  };
  /** Per table, the first message that failed and has not come again: the sink takes nothing after it. */
  const gap = new Map<string, number>();
  /** Cycles written to a connection that was lost. */
  const lost = new Set<PublishedCycle>();
  const outcome = (cycle: PublishedCycle, chosen: (i: number) => boolean, reason: string): CycleResult => {
    const failures = new Map<number, string>();
    cycle.messages.forEach((m, i) => {
      const table = tableOf(m);
      const first = gap.get(table);
      if (chosen(i) || (first !== undefined && m.seq > first)) {
        failures.set(i, reason);
        if (first === undefined || m.seq < first) gap.set(table, m.seq);
      } else if (first === m.seq) gap.delete(table);
    });
    return { failures, connectionLost: false };
  };
  /** Settles the oldest cycle in flight at random. */
  const settleOldest = (): void => {
    const cycle = sink.pendingCycles()[0]!;
    const n = cycle.messages.length;
    if (!lost.has(cycle) && !healthy && random() < 0.15) {
      // The connection drops: everything in flight was written to it. Back before they settle, or later.
      sink.disconnect();
      for (const c of sink.pendingCycles()) lost.add(c);
      if (random() < 0.5) sink.reconnect();
    }
    if (lost.delete(cycle)) {
      const result = outcome(cycle, () => true, 'connection lost');
      sink.settleWith({ failures: result.failures, connectionLost: true });
      return;
    }
    const roll = healthy ? 0 : random();
    const from = Math.floor(random() * n);
    sink.settleWith(
      roll < 0.7 ? outcome(cycle, () => false, '') : outcome(cycle, (i) => i >= from, 'timed out'),
    );
  };
  sink.refuse = (m) => (!healthy && random() < 0.05 ? `refused ${m.seq}` : null);
  const tables = ['a', 'b', 'c'];
  for (let step = 0; step < 40; step++) {
    const roll = random();
    if (roll < 0.4) {
      const count = 1 + Math.floor(random() * 6);
      for (let i = 0; i < count; i++) enqueue(tables[Math.floor(random() * tables.length)]!);
    } else if (sink.cyclesInFlight > 0) settleOldest();
    else if (!sink.connected) sink.reconnect();
    await turns();
    checkFrontier();
    assert.ok(sink.cyclesInFlight <= maxCyclesInFlight, `${context}: too many cycles in flight`);
  }
  healthy = true;
  if (!sink.connected) sink.reconnect();
  publisher.retryNow();
  const deadline = Date.now() + 5000;
  while (publisher.frontier().undelivered > 0) {
    assert.ok(
      Date.now() < deadline,
      `${context}: everything delivered (${JSON.stringify({ frontier: publisher.frontier(), failing: publisher.failing(), inFlight: sink.cyclesInFlight, connected: sink.connected, now: Date.now() })})`,
    );
    if (sink.cyclesInFlight > 0) settleOldest();
    else await new Promise((resolve) => setTimeout(resolve, 1));
    await turns(1);
    checkFrontier();
  }
  checkFrontier();
  const lastSeq = Math.max(...enqueued.keys());
  assert.equal(publisher.frontier().frontier, lastSeq, `${context}: the frontier reaches the last change`);
  for (const table of tables) {
    const expected = [...enqueued].filter(([, t]) => t === table).map(([seq]) => seq);
    assert.deepEqual(sink.heldOf(table), expected, `${context}: table ${table} held once each, in order`);
  }
  assert.equal(await orderBreaks(), 0, `${context}: no order break with a sink that keeps order`);
  assert.deepEqual(sink.overwritten, [], `${context}: no bytes changed while in flight`);
  await publisher.stop();
  return sink.maxInFlightSeen;
}
