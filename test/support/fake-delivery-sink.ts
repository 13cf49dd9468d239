/**
 * A DeliverySink for component tests of ShardPublisher: it keeps, per table, what it "holds"
 * (what a subscriber would have received), and the test decides how each cycle ends — all
 * delivered, refused at publish, timed out, failed from some message on, the connection lost
 * (and back, before or after the cycle settles), or a later message accepted after an earlier
 * failure. Not used by production code.
 */
import assert from 'node:assert/strict';
import {
  ALL_DELIVERED,
  type CycleResult,
  type DeliverySink,
} from '../../packages/runtime/src/sink/delivery-sink.js';
import type { WireMessage } from '../../packages/runtime/src/sink/wire-frame.js';
import type { OutgoingMessage } from '../../packages/runtime/src/shard/outgoing-message.js';

/** The test's answer to a cycle: which of its messages failed (by index in publish order), and why. */
export type CycleOutcome = CycleResult;

export interface PublishedCycle {
  /** Date.now() at beginCycle. */
  readonly startedAt: number;
  readonly messages: OutgoingMessage[];
}

/** The table of a test message: its subject is `sequin.changes.db.public.<table>.insert`. */
export function tableOf(message: WireMessage): string {
  return message.subject.split('.')[4]!;
}

export class FakeDeliverySink implements DeliverySink {
  connected = true;
  fatalError: Error | null = null;
  /** Per table, the seqs of the messages it holds, in the order it accepted them. */
  readonly held = new Map<string, number[]>();
  /** Every cycle begun, including those that published nothing (the publisher begins one whenever it wakes up). */
  private readonly begun: PublishedCycle[] = [];
  /** Refuses a message at publish (as the client does for one over max_payload): the reason, or null. */
  refuse: (message: OutgoingMessage) => string | null = () => null;
  /**
   * Decides each cycle at once when set; otherwise the cycle waits for settleWith() (a cycle
   * in flight that the test can interleave events with).
   */
  decide: ((cycle: PublishedCycle) => CycleOutcome) | null = null;
  private readonly reconnectListeners: (() => void)[] = [];
  private pending: { cycle: PublishedCycle; resolve: (result: CycleResult) => void } | null = null;

  onReconnect(listener: () => void): void {
    this.reconnectListeners.push(listener);
  }

  beginCycle(): void {
    this.begun.push({ startedAt: Date.now(), messages: [] });
  }

  publishEncoded(message: WireMessage): void {
    const outgoing = message as OutgoingMessage;
    const refusal = this.refuse(outgoing);
    if (refusal !== null) throw new Error(refusal);
    this.currentCycle.messages.push(outgoing);
  }

  settle(): Promise<CycleResult> {
    const cycle = this.currentCycle;
    if (this.decide) {
      const result = this.decide(cycle);
      this.hold(cycle, result);
      // Settled a turn later, as a real round trip is.
      return new Promise((resolve) => setImmediate(() => resolve(result)));
    }
    return new Promise((resolve) => {
      this.pending = { cycle, resolve };
    });
  }

  /** The cycles that published something, in order. */
  get cycles(): PublishedCycle[] {
    return this.begun.filter((cycle) => cycle.messages.length > 0);
  }

  /** Whether a cycle waits for settleWith(). */
  get cycleInFlight(): boolean {
    return this.pending !== null;
  }

  /** The messages of the cycle that waits. */
  get inFlight(): OutgoingMessage[] {
    assert.ok(this.pending, 'a cycle is in flight');
    return this.pending.cycle.messages;
  }

  /** Ends the cycle that waits with `result`. */
  settleWith(result: CycleResult = ALL_DELIVERED): void {
    const pending = this.pending;
    assert.ok(pending, 'a cycle is in flight');
    this.pending = null;
    this.hold(pending.cycle, result);
    pending.resolve(result);
  }

  disconnect(): void {
    this.connected = false;
  }

  /** The connection is back: the listeners hear it at once, as NatsLink's do. */
  reconnect(): void {
    this.connected = true;
    for (const listener of this.reconnectListeners) listener();
  }

  /** The seqs of `table` it holds, in order. */
  heldOf(table: string): number[] {
    return this.held.get(table) ?? [];
  }

  async close(): Promise<void> {}

  private get currentCycle(): PublishedCycle {
    const cycle = this.begun.at(-1);
    assert.ok(cycle, 'beginCycle() before publishing');
    return cycle;
  }

  private hold(cycle: PublishedCycle, result: CycleResult): void {
    cycle.messages.forEach((message, i) => {
      if (result.failures.has(i)) return;
      const table = tableOf(message);
      let list = this.held.get(table);
      if (!list) this.held.set(table, (list = []));
      list.push(message.seq);
    });
  }
}
