/**
 * A DeliverySink for component tests of ShardPublisher: it keeps, per table, what it "holds"
 * (what a subscriber would have received), and the test decides how each cycle ends — all
 * delivered, refused at publish, timed out, failed from some message on, the connection lost
 * (and back, before or after the cycle settles), or a later message accepted after an earlier
 * failure. Several cycles may be in flight (as on CoreNatsSink); settleWith() ends the oldest
 * by default, as PONGs come back in order, or another one to see that the publisher still
 * settles in order.
 *
 * Like nats.js, it reads a message's bytes until its cycle settles: what it holds is read from
 * the frame as published (the tests' msgIds are `m<seq>`), and a frame whose bytes changed before
 * its cycle settled (its slab reused too early) is listed in `overwritten`. Not used by
 * production code.
 */
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
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
  /** A copy of each message's frame when published. */
  readonly frames: Buffer[];
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
  /** Seqs of messages whose bytes changed while their cycle was in flight. */
  readonly overwritten: number[] = [];
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
  /** Cycles that wait for settleWith(), oldest first. */
  private readonly pending: { cycle: PublishedCycle; resolve: (result: CycleResult) => void }[] = [];
  /** Most cycles in flight at once so far. */
  maxInFlightSeen = 0;
  private decidedInFlight = 0;

  onReconnect(listener: () => void): void {
    this.reconnectListeners.push(listener);
  }

  beginCycle(): void {
    this.begun.push({ startedAt: Date.now(), messages: [], frames: [] });
  }

  publishEncoded(message: WireMessage): void {
    const outgoing = message as OutgoingMessage;
    const refusal = this.refuse(outgoing);
    if (refusal !== null) throw new Error(refusal);
    this.currentCycle.messages.push(outgoing);
    this.currentCycle.frames.push(Buffer.from(outgoing.bytes.subarray(outgoing.start, outgoing.end)));
  }

  settle(): Promise<CycleResult> {
    const cycle = this.currentCycle;
    if (this.decide) {
      const result = this.decide(cycle);
      this.hold(cycle, result);
      this.decidedInFlight++;
      this.noteInFlight();
      // Settled a turn later, as a real round trip is.
      return new Promise((resolve) =>
        setImmediate(() => {
          this.decidedInFlight--;
          this.checkFrames(cycle);
          resolve(result);
        }),
      );
    }
    return new Promise((resolve) => {
      this.pending.push({ cycle, resolve });
      this.noteInFlight();
    });
  }

  /** The cycles that published something, in order. */
  get cycles(): PublishedCycle[] {
    return this.begun.filter((cycle) => cycle.messages.length > 0);
  }

  /** Whether a cycle waits for settleWith(). */
  get cycleInFlight(): boolean {
    return this.pending.length > 0;
  }

  /** The cycles that wait for settleWith(), oldest first. */
  pendingCycles(): PublishedCycle[] {
    return this.pending.map((p) => p.cycle);
  }

  /** How many cycles wait for settleWith(). */
  get cyclesInFlight(): number {
    return this.pending.length;
  }

  /** The messages of the oldest cycle that waits (or the `which`-th). */
  inFlight(which = 0): OutgoingMessage[] {
    const pending = this.pending[which];
    assert.ok(pending, `cycle ${which} is in flight`);
    return pending.cycle.messages;
  }

  /**
   * Ends the oldest cycle that waits with `result` (or the `which`-th: a result out of order,
   * which CoreNatsSink never gives; the publisher must still settle in order).
   */
  settleWith(result: CycleResult = ALL_DELIVERED, which = 0): void {
    const pending = this.pending[which];
    assert.ok(pending, `cycle ${which} is in flight`);
    this.pending.splice(which, 1);
    this.hold(pending.cycle, result);
    this.checkFrames(pending.cycle);
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

  private noteInFlight(): void {
    this.maxInFlightSeen = Math.max(this.maxInFlightSeen, this.pending.length + this.decidedInFlight);
  }

  private hold(cycle: PublishedCycle, result: CycleResult): void {
    cycle.messages.forEach((message, i) => {
      if (result.failures.has(i)) return;
      const table = tableOf(message);
      let list = this.held.get(table);
      if (!list) this.held.set(table, (list = []));
      list.push(seqOfFrame(message, cycle.frames[i]!));
    });
  }

  /** The bytes of a cycle's messages must be as published until it settles. */
  private checkFrames(cycle: PublishedCycle): void {
    cycle.messages.forEach((message, i) => {
      if (!cycle.frames[i]!.equals(message.bytes.subarray(message.start, message.end)))
        this.overwritten.push(message.seq);
    });
  }
}

/** The seq a subscriber reads from a frame: its msgId when it is `m<seq>` (the tests' ids), else the message's. */
function seqOfFrame(message: OutgoingMessage, frame: Buffer): number {
  const id = /Nats-Msg-Id: m(\d+)\r\n/.exec(frame.toString('latin1'));
  return id ? Number(id[1]) : message.seq;
}
