/**
 * Component tests of the shard's delivery reports (delivery-reports.ts) against the reader's
 * real view of a shard (source/shard-links.ts): fewer reports at low rates, but the reader never
 * counts fewer outstanding changes than there are (the memory bound), a reader waiting for room
 * is never left waiting on a report held back, and no report is held longer than the interval.
 * A fake clock and timer; a seeded property over generated runs.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { MessagePort } from 'node:worker_threads';
import type { ChangeBatch } from '@wal2nats/core';
import { seededRandom } from '../../../../test/support/random.js';
import { ShardLink } from '../source/shard-links.js';
import type { DeliveredMessage } from '../threads/thread-messages.js';
import { DeliveryReports } from './delivery-reports.js';

class FakeClock {
  now = 0;
  private timers: { at: number; fn: () => void; id: number }[] = [];
  private nextId = 1;
  setTimer = (fn: () => void, ms: number): unknown => {
    const id = this.nextId++;
    this.timers.push({ at: this.now + ms, fn, id });
    return id;
  };
  clearTimer = (id: unknown): void => {
    this.timers = this.timers.filter((t) => t.id !== id);
  };
  /** Moves the clock, firing the timers due on the way. */
  advance(ms: number): void {
    const until = this.now + ms;
    for (;;) {
      const due = this.timers.filter((t) => t.at <= until).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.timers = this.timers.filter((t) => t !== due);
      this.now = due.at;
      due.fn();
    }
    this.now = until;
  }
  get pending(): number {
    return this.timers.length;
  }
}

function reportsWith(clock: FakeClock, options: { intervalMs?: number; urgentOutstanding?: number } = {}) {
  const sent: DeliveredMessage[] = [];
  const reports = new DeliveryReports(
    {
      intervalMs: options.intervalMs ?? 100,
      urgentOutstanding: options.urgentOutstanding ?? 1000,
      now: () => clock.now,
      setTimer: clock.setTimer,
      clearTimer: clock.clearTimer,
    },
    (message) => sent.push(message),
  );
  return { reports, sent };
}

const delivered = (frontier: number, undelivered: number, batchesReceived: number): DeliveredMessage => ({
  type: 'delivered',
  frontier,
  undelivered,
  batchesReceived,
});

describe('DeliveryReports', () => {
  it('sends the first report at once, holds the next ones, and sends only the latest when the interval is over', () => {
    const clock = new FakeClock();
    const { reports, sent } = reportsWith(clock);
    reports.report(delivered(1, 0, 1));
    assert.deepEqual(sent, [delivered(1, 0, 1)]);
    clock.advance(20);
    reports.report(delivered(2, 0, 2));
    clock.advance(20);
    reports.report(delivered(3, 0, 3));
    assert.equal(sent.length, 1, 'held within the interval');
    clock.advance(59);
    assert.equal(sent.length, 1);
    clock.advance(1);
    assert.deepEqual(
      sent,
      [delivered(1, 0, 1), delivered(3, 0, 3)],
      'the latest, once, at the end of the interval',
    );
    assert.equal(clock.pending, 0);
    clock.advance(500);
    reports.report(delivered(4, 0, 4));
    assert.deepEqual(sent.at(-1), delivered(4, 0, 4), 'after a quiet interval a report goes at once');
  });

  it('sends at once when the reader may be waiting for room, and drops the held one', () => {
    const clock = new FakeClock();
    const { reports, sent } = reportsWith(clock, { urgentOutstanding: 100 });
    reports.arrived(40);
    reports.report(delivered(0, 40, 1));
    clock.advance(10);
    reports.arrived(30);
    reports.arrived(30);
    reports.report(delivered(0, 70, 2));
    assert.equal(
      sent.length,
      1,
      "40 + 30 outstanding in the reader's view (the third batch is not taken in yet): below 100, held",
    );
    reports.report(delivered(5, 95, 3));
    assert.deepEqual(
      sent.at(-1),
      delivered(5, 95, 3),
      "40 + 60 outstanding in the reader's view: sent at once",
    );
    assert.equal(clock.pending, 0, 'nothing held any more');
  });

  it('flush() sends what is held', () => {
    const clock = new FakeClock();
    const { reports, sent } = reportsWith(clock);
    reports.report(delivered(1, 0, 1));
    reports.report(delivered(2, 0, 2));
    reports.flush();
    assert.deepEqual(sent.at(-1), delivered(2, 0, 2));
    assert.equal(clock.pending, 0);
    reports.flush();
    assert.equal(sent.length, 2, 'nothing held: nothing sent');
  });

  it('property: the reader never undercounts, never waits for room on a held report, and hears the latest within the interval (300 seeded runs)', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const random = seededRandom(seed);
      const clock = new FakeClock();
      const capacity = 50 + Math.floor(random() * 200);
      const intervalMs = 10 + Math.floor(random() * 100);
      const link = new ShardLink(0, { postMessage() {} } as unknown as MessagePort);
      const sent: DeliveredMessage[] = [];
      const reports = new DeliveryReports(
        {
          intervalMs,
          urgentOutstanding: Math.ceil(capacity / 2),
          now: () => clock.now,
          setTimer: clock.setTimer,
          clearTimer: clock.clearTimer,
        },
        (message) => {
          const last = sent.at(-1);
          if (last)
            assert.ok(
              message.batchesReceived >= last.batchesReceived && message.frontier >= last.frontier,
              `seed ${seed}: reports go out in order`,
            );
          sent.push(message);
          link.update(message);
        },
      );
      // The shard: batches posted by the reader and not yet arrived, arrived and not yet taken
      // in (waiting for the catalog), what it holds undelivered.
      const inTransit: number[] = [];
      const arrived: number[] = [];
      let batchesReceived = 0;
      let seq = 0;
      const undelivered: number[] = [];
      let lastReported: DeliveredMessage | null = null;
      let lastReportAt = 0;
      const report = (): void => {
        const frontier = undelivered.length > 0 ? undelivered[0]! - 1 : seq;
        lastReported = delivered(frontier, undelivered.length, batchesReceived);
        lastReportAt = clock.now;
        const wasBlocked = inTransit.length === 0 && arrived.length === 0 && link.outstanding >= capacity;
        const before = sent.length;
        reports.report(lastReported);
        if (wasBlocked)
          assert.ok(sent.length > before, `seed ${seed}: the reader waits for room and the report was held`);
      };
      for (let step = 0; step < 400; step++) {
        const r = random();
        if (r < 0.35 && link.outstanding < capacity) {
          // The reader posts a batch (it stops at capacity, as WalReader does).
          const changes = 1 + Math.floor(random() * 20);
          link.send({
            buffer: new ArrayBuffer(1),
            byteLength: 0,
            frameCount: changes,
            changeCount: changes,
            lastSeq: 0,
            annotations: [],
          } satisfies ChangeBatch);
          inTransit.push(changes);
        } else if (r < 0.5 && inTransit.length > 0) {
          // A batch arrives at the shard.
          const changes = inTransit.shift()!;
          arrived.push(changes);
          reports.arrived(changes);
        } else if (r < 0.65 && arrived.length > 0) {
          // The shard takes a batch in.
          const changes = arrived.shift()!;
          for (let i = 0; i < changes; i++) undelivered.push(++seq);
          batchesReceived++;
        } else if (r < 0.8) {
          // A publish cycle delivers some of what it holds, then reports.
          undelivered.splice(0, Math.floor(random() * (undelivered.length + 1)));
          report();
        } else {
          clock.advance(Math.floor(random() * intervalMs * 1.5));
        }
        const truth = undelivered.length + [...inTransit, ...arrived].reduce((a, b) => a + b, 0);
        assert.ok(
          link.outstanding >= truth,
          `seed ${seed} step ${step}: the reader counts ${link.outstanding} outstanding, the truth is ${truth}`,
        );
        if (lastReported !== null && clock.now - lastReportAt >= intervalMs)
          assert.deepEqual(
            sent.at(-1),
            lastReported,
            `seed ${seed} step ${step}: the latest report is held longer than the interval`,
          );
      }
    }
  });
});
