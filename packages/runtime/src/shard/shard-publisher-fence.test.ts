/**
 * Component tests of the shard publisher's part in high availability (ha/slot-lease.ts): it
 * starts no publish cycle while the publish lease says no, and a fence drops everything it
 * holds, in flight or not, so that a process that lost the slot never publishes (or reports
 * delivered) what its ended session routed. A fake sink whose cycles settle when the test says.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { createLogger } from '../log/logger.js';
import { createShardMetrics } from '../metrics/shard-metrics.js';
import { ALL_DELIVERED, allFailed, type CycleResult, type DeliverySink } from '../sink/delivery-sink.js';
import type { WireMessage } from '../sink/wire-encoder.js';
import { MessageTracker } from './message-tracker.js';
import type { OutgoingMessage } from './outgoing-message.js';
import { ShardPublisher, type DeliveryFrontier } from './shard-publisher.js';
import { enqueueText } from '../../../../test/support/enqueue-text.js';

class ControlledSink implements DeliverySink {
  readonly connected = true;
  readonly fatalError = null;
  readonly published: string[] = [];
  private inCycle = 0;
  private settleNext: ((result: CycleResult) => void) | null = null;
  cyclesStarted = 0;

  onReconnect(): void {}
  beginCycle(): void {
    this.inCycle = 0;
    this.cyclesStarted++;
  }
  publishEncoded(message: WireMessage): void {
    this.published.push((message as OutgoingMessage).msgId);
    this.inCycle++;
  }
  settle(): Promise<CycleResult> {
    return new Promise((resolve) => {
      this.settleNext = resolve;
    });
  }
  /** Settles the cycle in flight: all delivered, or all failed with the connection lost. */
  finishCycle(how: 'delivered' | 'connection lost'): void {
    const settle = this.settleNext;
    assert.ok(settle, 'a cycle is in flight');
    this.settleNext = null;
    settle(how === 'delivered' ? ALL_DELIVERED : allFailed(this.inCycle, 'connection lost', true));
  }
  get cycleInFlight(): boolean {
    return this.settleNext !== null;
  }
  async close(): Promise<void> {}
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

function setUp(mayPublish: () => boolean = () => true) {
  const sink = new ControlledSink();
  const reports: DeliveryFrontier[] = [];
  const tracker = new MessageTracker({ shard: 0 });
  const publisher = new ShardPublisher(
    {
      shard: 0,
      backoff: { initialMs: 1000, maxMs: 1000, jitter: 0 },
      maxCycleMessages: 100,
      tableWindow: 100,
      mayPublish,
    },
    sink,
    createShardMetrics(new Registry()),
    createLogger({ level: 'error', format: 'json', thread: 'test' }),
    (f) => reports.push(f),
    tracker,
  );
  const enqueue = (seq: number, table = 1): void => {
    enqueueText(publisher, table, `public.t${table}`, {
      seq,
      subject: `sequin.changes.db.public.t${table}.insert`,
      action: 'insert',
      msgId: `m${seq}`,
      json: '{}',
      commitTime: 0,
    });
    publisher.received(seq);
  };
  publisher.start();
  return { sink, reports, tracker, publisher, enqueue };
}

describe('ShardPublisher and high availability', () => {
  it('starts no publish cycle while the publish lease says no, and publishes once it says yes', async () => {
    let allowed = false;
    let asked = 0;
    const { sink, publisher, enqueue } = setUp(() => {
      asked++;
      return allowed;
    });
    enqueue(1);
    enqueue(2);
    // The lease was looked at again and again (it is rechecked while messages wait): still nothing.
    await until(() => asked >= 3, 'the publisher to look at the lease three times');
    assert.deepEqual(sink.published, []);
    assert.equal(sink.cyclesStarted, 0);
    allowed = true;
    await until(() => sink.cycleInFlight, 'a cycle once the lease allows it');
    assert.deepEqual(sink.published, ['m1', 'm2']);
    sink.finishCycle('delivered');
    await until(() => publisher.frontier().undelivered === 0, 'delivery');
    await publisher.stop();
  });

  it('a fence drops what it holds: a failed cycle in flight is not sent again, an unsent message never, and nothing of it is reported delivered', async () => {
    const { sink, reports, tracker, publisher, enqueue } = setUp();
    enqueue(1);
    enqueue(2, 2);
    await until(() => sink.cycleInFlight, 'the first cycle');
    enqueue(3); // behind the cycle in flight
    publisher.fence(3);
    assert.deepEqual(publisher.frontier(), { frontier: 3, undelivered: 0 });
    assert.equal(tracker.counts().inflight, 0, 'the console shows nothing in flight after a fence');
    // Without the fence, a cycle that failed on a lost connection goes back to the head of its mailbox.
    sink.finishCycle('connection lost');
    enqueue(4); // the next session
    await until(() => sink.cycleInFlight, 'a cycle of the next session');
    assert.deepEqual(sink.published, ['m1', 'm2', 'm4'], 'm1 and m2 are not sent again, m3 never');
    sink.finishCycle('delivered');
    await until(() => reports.some((r) => r.frontier === 4), 'the next session delivered');
    assert.equal(publisher.frontier().undelivered, 0);
    await publisher.stop();
  });

  it('a cycle in flight at the fence that then succeeds is not counted: undelivered stays right for the next session', async () => {
    const { sink, publisher, enqueue } = setUp();
    enqueue(1);
    await until(() => sink.cycleInFlight, 'the first cycle');
    publisher.fence(1);
    sink.finishCycle('delivered');
    enqueue(2);
    await until(() => sink.cycleInFlight, 'a cycle of the next session');
    assert.deepEqual(publisher.frontier(), { frontier: 1, undelivered: 1 });
    sink.finishCycle('delivered');
    await until(
      () => publisher.frontier().undelivered === 0 && publisher.frontier().frontier === 2,
      'the next session delivered',
    );
    await publisher.stop();
  });
});
