/**
 * The publish loop of one shard: tables in parallel, each table strictly in order.
 *
 * Each cycle takes up to `tableWindow` unsent messages at the head of every ready mailbox,
 * publishes them all, and settles them at once (one flush round trip). A table's messages up to
 * its first failure are delivered and leave the mailbox; that message and every later one go
 * back to the head, and the table backs off while other tables go on.
 *
 * Pipelined: up to `maxCyclesInFlight` cycles are in flight, and the next one starts as soon as
 * something is queued, without waiting for the previous confirmation (one round trip less of
 * waiting for a change that arrives while a cycle is in flight). Cycles settle strictly in
 * publish order (cycles-in-flight.ts); on one connection a PONG confirms its cycle and every one
 * before it. A table may have messages in several cycles: each cycle settles its part from the
 * mailbox's head. A failure takes back every in-flight message of the table, those of later
 * cycles too (a new mailbox round: the later cycles' parts of it are stale and settle nothing).
 * After a reconnect no cycle starts until every cycle published before it has settled, so the
 * resend of what the old connection lost cannot be overtaken by newer messages on the new one.
 *
 * (Core NATS. JetStream mode publishes through one ordered chain per stream instead:
 * stream-publisher.ts.) If a sink ever reports a later message of a table delivered after an
 * earlier one failed, the order of that table is broken there: logged as an error and counted
 * (`wal2nats_order_breaks_total`), a tripwire that stays 0 with the sinks we have.
 */
import {
  errorMessage,
  pgMicrosToUnixMs,
  type BackoffPolicy,
  type JsonBytes,
  type RowBytesResult,
} from '@wal2nats/core';
import type { Logger } from '../log/logger.js';
import type { ShardMetrics } from '../metrics/shard-metrics.js';
import type { DeliverySink } from '../sink/delivery-sink.js';
import { allFailed, type CycleResult } from '../sink/delivery-sink.js';
import { CyclesInFlight } from './cycles-in-flight.js';
import { MessageSlabs, type ChangeQueue, type OutgoingMessage } from './outgoing-message.js';
import { TableMailbox } from './table-mailbox.js';

/** How often a shard looks again whether it may publish, while it may not (ha/publish-lease.ts). */
const LEASE_RECHECK_MS = 50;

export interface ShardPublisherOptions {
  /** Its `shard` label in the metrics (the initial snapshot's publisher: `snapshot`). */
  readonly shard: number | 'snapshot';
  readonly backoff: BackoffPolicy;
  /** Most messages in flight in one cycle. */
  readonly maxCycleMessages: number;
  /** Most messages of one table in flight in one cycle. */
  readonly tableWindow: number;
  /**
   * Most cycles in flight at once (default 1). More than one only with a sink whose settle()
   * may be called again before the previous one resolved (CoreNatsSink).
   */
  readonly maxCyclesInFlight?: number;
  /**
   * Whether a publish cycle may start now (high availability: ha/publish-lease.ts). While it
   * says no, messages wait in their mailboxes. Default: always.
   */
  readonly mayPublish?: () => boolean;
}

export interface DeliveryFrontier {
  /** Every change of this shard with seq <= frontier is delivered. */
  readonly frontier: number;
  /** Messages not yet delivered. */
  readonly undelivered: number;
}

/**
 * Sees what the publisher does, for the messages view of the console and API. Called once per
 * table and cycle with the messages concerned (never per message from the hot loop).
 */
export interface PublishObserver {
  /** These messages of `table` were published and await confirmation. */
  inFlight(table: string, messages: readonly OutgoingMessage[]): void;
  /** These messages of `table` were delivered. */
  delivered(table: string, messages: readonly OutgoingMessage[]): void;
  /** `message`, the head of `table`, failed `attempts` times; next try at `nextAttemptAt` (ms). */
  failing(
    table: string,
    message: OutgoingMessage,
    reason: string,
    attempts: number,
    nextAttemptAt: number,
  ): void;
  /**
   * A cycle was settled (after every delivered() of it): the delivered messages' memory is
   * reused next, so what is kept of them must be copied now.
   */
  cycleDone(): void;
  /** Every undelivered message was dropped (fencing, see ShardPublisher.fence). */
  fenced(): void;
}

/** One table's part of a publish cycle. */
interface CycleEntry {
  readonly mailbox: TableMailbox;
  /** Index of the mailbox's first message in the cycle's publish order. */
  readonly firstIndex: number;
  /** How many of the mailbox's messages the cycle carries. */
  readonly count: number;
  /** The mailbox's round when published: a failure since then took these messages back. */
  readonly round: number;
}

interface Cycle {
  readonly entries: CycleEntry[];
  /** The fence generation it was published in. */
  readonly generation: number;
  /** Reconnects heard when it was published. */
  readonly reconnectsAtBegin: number;
  /**
   * When its messages were written to NATS (Date.now()): the moment of delivery in the latency
   * metric, not its confirmation, which may wait for later cycles (sink/ping-linger.ts).
   */
  readonly publishedAtMs: number;
}

export class ShardPublisher implements ChangeQueue {
  private mailboxes = new Map<number, TableMailbox>();
  /** Where queued messages are held as bytes until delivered. */
  private slabs = new MessageSlabs();
  /** Counts fences: a cycle published before a fence settles without touching what came after. */
  private generation = 0;
  private lastReceivedSeq = 0;
  private undelivered = 0;
  private wake: (() => void) | null = null;
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  /** Reconnects heard so far: a cycle that spans one knows its failure is already over. */
  private reconnects = 0;
  private readonly inFlight = new CyclesInFlight<Cycle, CycleResult>();
  private readonly maxCyclesInFlight: number;
  private loopDone: Promise<void> = Promise.resolve();
  private readonly shardLabel: { shard: string };

  constructor(
    private readonly options: ShardPublisherOptions,
    private readonly sink: DeliverySink,
    private readonly metrics: ShardMetrics,
    private readonly log: Logger,
    /** Called after every change of the frontier. */
    private readonly onProgress: (frontier: DeliveryFrontier) => void,
    private readonly observer: PublishObserver | null = null,
  ) {
    this.shardLabel = { shard: String(options.shard) };
    this.maxCyclesInFlight = Math.max(1, options.maxCyclesInFlight ?? 1);
    sink.onReconnect(() => {
      this.reconnects++;
      // The connection is back: tables that failed only because it was gone retry now (a
      // table in flight is left to its cycle's settle, see settleCycle).
      for (const mailbox of this.mailboxes.values()) mailbox.retryOnReconnect();
      this.poke();
    });
  }

  /**
   * Queues a change of table `relationId`: the body the encoder wrote into `body` (what it is in
   * `change`) is copied into the slabs as its whole frame and kept as bytes from here on.
   */
  enqueue(
    relationId: number,
    label: string,
    seq: number,
    commitTime: number,
    change: RowBytesResult,
    body: JsonBytes,
  ): void {
    this.push(relationId, label, this.slabs.write(seq, commitTime, change, body));
  }

  private push(relationId: number, label: string, message: OutgoingMessage): void {
    let mailbox = this.mailboxes.get(relationId);
    if (!mailbox) {
      mailbox = new TableMailbox(label);
      this.mailboxes.set(relationId, mailbox);
    }
    mailbox.relabel(label);
    mailbox.push(message);
    this.undelivered++;
  }

  /** Every change up to `seq` has been handed to enqueue(). */
  received(seq: number): void {
    if (seq > this.lastReceivedSeq) this.lastReceivedSeq = seq;
    this.metrics.mailboxDepth.set(this.shardLabel, this.undelivered);
    this.poke();
  }

  frontier(): DeliveryFrontier {
    let frontier = this.lastReceivedSeq;
    for (const mailbox of this.mailboxes.values()) {
      const head = mailbox.headSeq;
      if (head !== undefined && head - 1 < frontier) frontier = head - 1;
    }
    return { frontier, undelivered: this.undelivered };
  }

  /** The failing tables, for status. */
  failing(): {
    table: string;
    attempts: number;
    lastError: string | null;
    nextAttemptAt: number;
    queued: number;
  }[] {
    return [...this.mailboxes.values()]
      .filter((m) => m.attempts > 0)
      .map((m) => ({
        table: m.label,
        attempts: m.attempts,
        lastError: m.lastError,
        nextAttemptAt: m.nextAttemptAt,
        queued: m.size,
      }));
  }

  /**
   * Retries at once the failing tables (all, or the one whose head message has `msgId`).
   * Returns how many tables were woken.
   */
  retryNow(msgId?: string): number {
    let woken = 0;
    for (const mailbox of this.mailboxes.values()) {
      if (mailbox.attempts === 0 || mailbox.size === 0) continue;
      if (msgId !== undefined && mailbox.peekUnsent(0)?.msgId !== msgId) continue;
      mailbox.retryNow();
      woken++;
    }
    if (woken > 0) this.poke();
    return woken;
  }

  /**
   * Fencing (ha/slot-lease.ts): the replication session that routed every change up to
   * `throughSeq` ended, and another process may publish them again from the slot. Drops every
   * message held (all of them are up to `throughSeq`: a fence arrives behind its session's
   * batches), in flight or not; none is published or reported delivered from here on. Fresh
   * slabs: nats.js may still hold the old ones of a cycle in flight.
   */
  fence(throughSeq: number): void {
    this.generation++;
    this.mailboxes = new Map();
    this.slabs = new MessageSlabs();
    this.undelivered = 0;
    if (throughSeq > this.lastReceivedSeq) this.lastReceivedSeq = throughSeq;
    this.observer?.fenced();
    this.metrics.mailboxDepth.set(this.shardLabel, 0);
  }

  start(): void {
    this.running = true;
    this.loopDone = this.loop();
  }

  /** Stops after the cycles in flight have settled. */
  async stop(): Promise<void> {
    this.running = false;
    this.poke();
    await this.loopDone;
    if (this.timer) clearTimeout(this.timer);
  }

  /** Whether nothing is left that could be delivered now (empty, or every table backing off). */
  isSettled(): boolean {
    const now = Date.now();
    for (const mailbox of this.mailboxes.values()) if (mailbox.size > 0 && mailbox.isDue(now)) return false;
    return true;
  }

  private poke(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  private async loop(): Promise<void> {
    while (this.running) {
      if (!this.sink.connected) this.failDisconnected();
      const allowed = this.options.mayPublish?.() ?? true;
      if (this.sink.connected && allowed && this.mayBeginCycle() && this.publishCycle()) continue;
      // Woken by new messages, a settled cycle, a reconnect, a backoff's end or the lease recheck.
      await this.idle(allowed ? null : LEASE_RECHECK_MS);
    }
    await this.inFlight.drained();
  }

  /**
   * Whether another cycle may start: fewer than the most in flight, and none of them published
   * before the last reconnect. Those were written to the old connection and fail; the tables
   * they carry must be taken back (their settle) before anything of theirs goes on the new one,
   * or a newer message would arrive before the resend of an older one.
   */
  private mayBeginCycle(): boolean {
    if (this.inFlight.size >= this.maxCyclesInFlight) return false;
    const reconnects = this.reconnects;
    return this.inFlight.every((cycle) => cycle.reconnectsAtBegin === reconnects);
  }

  /**
   * While NATS is down nothing is published (nats.js would drop it on reconnect), but every table
   * with a message due counts a failed attempt and backs off, so that an outage shows as failing
   * messages, retries and backoff; the reconnect retries them at once (failedOnConnection).
   */
  private failDisconnected(): void {
    const now = Date.now();
    for (const mailbox of this.mailboxes.values()) {
      if (mailbox.unsent > 0 && mailbox.inFlight === 0 && mailbox.isDue(now))
        this.failTable(mailbox, 'not connected to NATS', true);
    }
  }

  /** Waits for new messages, a reconnect, the end of the earliest backoff, or `recheckMs` when publishing is not allowed now. */
  private async idle(recheckMs: number | null = null): Promise<void> {
    let earliest = Number.POSITIVE_INFINITY;
    const now = Date.now();
    // A table already due waits for something else (a cycle in flight to settle): no timer for it.
    for (const mailbox of this.mailboxes.values())
      if (mailbox.size > 0 && mailbox.nextAttemptAt > now)
        earliest = Math.min(earliest, mailbox.nextAttemptAt);
    if (recheckMs !== null && this.undelivered > 0) earliest = Math.min(earliest, Date.now() + recheckMs);
    await new Promise<void>((resolve) => {
      this.wake = resolve;
      if (this.timer) clearTimeout(this.timer);
      this.timer = Number.isFinite(earliest)
        ? setTimeout(() => this.poke(), Math.max(0, earliest - Date.now()))
        : null;
    });
  }

  /**
   * Publishes the unsent head of every ready mailbox as a new cycle (the sink is asked for a
   * cycle only when there is something to publish); returns whether anything was published.
   */
  private publishCycle(): boolean {
    const now = Date.now();
    const entries: CycleEntry[] = [];
    let budget = this.options.maxCycleMessages;
    let index = 0;
    let begun = false;
    for (const mailbox of this.mailboxes.values()) {
      if (budget <= 0) break;
      if (mailbox.unsent === 0 || mailbox.refusalPending || !mailbox.isDue(now)) continue;
      if (!begun) {
        this.sink.beginCycle();
        begun = true;
      }
      const share = Math.min(mailbox.unsent, budget, this.options.tableWindow);
      const firstIndex = index;
      for (let i = 0; i < share; i++) {
        const message = mailbox.peekUnsent(0)!;
        try {
          this.sink.publishEncoded(message);
        } catch (error) {
          // Refused by the client itself (too big, bad subject): only this table waits, and
          // nothing after the refused message is published.
          if (mailbox.inFlight === 0) this.failTable(mailbox, errorMessage(error), false);
          else mailbox.refusedAfterInFlight(errorMessage(error));
          break;
        }
        mailbox.markInFlight();
        index++;
      }
      const count = index - firstIndex;
      budget -= count;
      if (count > 0) {
        entries.push({ mailbox, firstIndex, count, round: mailbox.round });
        this.observer?.inFlight(mailbox.label, mailbox.inFlightMessages());
      }
    }
    // A cycle begun with nothing published (its first message refused) needs no settle.
    if (entries.length === 0) return false;
    const cycle: Cycle = {
      entries,
      generation: this.generation,
      reconnectsAtBegin: this.reconnects,
      publishedAtMs: Date.now(),
    };
    const started = performance.now();
    const published = index;
    const result = this.sink.settle().then(
      (outcome) => {
        // The round trip of this cycle alone (not its wait for earlier ones to settle).
        this.metrics.publishDuration.observe((performance.now() - started) / 1000);
        return outcome;
      },
      (error: unknown) => allFailed(published, `NATS did not confirm: ${errorMessage(error)}`, true),
    );
    this.inFlight.add(cycle, result, (settled, outcome) => this.settleCycle(settled, outcome));
    return true;
  }

  /** A cycle's result arrived and every cycle before it has settled. */
  private settleCycle(cycle: Cycle, result: CycleResult): void {
    // Fenced meanwhile: these messages are dropped; what they delivered is replayed by the slot's next holder.
    if (cycle.generation !== this.generation) {
      this.poke();
      return;
    }
    // The connection dropped and is back already: its reconnect was heard while these tables
    // were in flight, so nothing else will end their backoff; they retry now, as they would
    // have had the cycle failed before the reconnect (nats.js settles a flush written to the
    // old socket only when it next dials, or on the new socket's PONG).
    const retryAtOnce =
      result.connectionLost && this.reconnects !== cycle.reconnectsAtBegin && this.sink.connected;
    let delivered = 0;
    const deliveredRuns: OutgoingMessage[][] = [];
    for (const { mailbox, firstIndex, count, round } of cycle.entries) {
      let firstFailure = -1;
      let acceptedAfterFailure = 0;
      for (let i = 0; i < count; i++) {
        if (result.failures.has(firstIndex + i)) {
          if (firstFailure < 0) firstFailure = i;
        } else if (firstFailure >= 0) acceptedAfterFailure++;
      }
      if (round !== mailbox.round) {
        // The table failed in an earlier cycle since this one was published: these messages
        // were taken back then and go out again from its head. Whatever of them the sink took
        // came after an earlier message of the table that failed.
        const accepted = firstFailure < 0 ? count : firstFailure + acceptedAfterFailure;
        if (accepted > 0) this.orderBreak(mailbox, accepted);
        continue;
      }
      const messages = mailbox.takeDelivered(firstFailure < 0 ? count : firstFailure);
      delivered += messages.length;
      this.account(mailbox.label, messages, cycle.publishedAtMs);
      if (messages.length > 0) {
        this.observer?.delivered(mailbox.label, messages);
        deliveredRuns.push(messages);
      }
      if (firstFailure >= 0) {
        if (acceptedAfterFailure > 0) this.orderBreak(mailbox, acceptedAfterFailure);
        this.failTable(
          mailbox,
          result.failures.get(firstIndex + firstFailure)!,
          result.connectionLost,
          retryAtOnce,
        );
      } else if (mailbox.inFlight === 0 && mailbox.refusalPending) {
        // Everything before the refused message is delivered: now the table fails there.
        this.failTable(mailbox, mailbox.takeRefusal()!, false);
      } else {
        this.metrics.backoffSeconds.set({ table: mailbox.label }, 0);
      }
    }
    this.observer?.cycleDone();
    for (const run of deliveredRuns) for (let i = 0; i < run.length; i++) this.slabs.release(run[i]!);
    this.undelivered -= delivered;
    this.metrics.mailboxDepth.set(this.shardLabel, this.undelivered);
    this.onProgress(this.frontier());
    // Room for another cycle, and maybe tables to retry.
    this.poke();
  }

  private orderBreak(mailbox: TableMailbox, acceptedAfterFailure: number): void {
    this.metrics.orderBreaks.inc({ table: mailbox.label });
    this.log.error(
      'a later change of the table was accepted before an earlier one that failed; the order of this table is broken here',
      { table: mailbox.label, accepted_after_failure: acceptedAfterFailure },
    );
  }

  private account(table: string, messages: OutgoingMessage[], deliveredAtMs: number): void {
    let action = messages[0]?.action;
    let run = 0;
    for (const message of messages) {
      if (message.action !== action) {
        this.metrics.published.inc({ table, action: action! }, run);
        action = message.action;
        run = 0;
      }
      run++;
    }
    if (run > 0) this.metrics.published.inc({ table, action: action! }, run);
    // One latency sample per table and cycle (its oldest change) keeps the hot path light.
    const oldest = messages[0];
    if (oldest)
      this.metrics.endToEndLatency.observe(
        Math.max(0, (deliveredAtMs - pgMicrosToUnixMs(oldest.commitTime)) / 1000),
      );
  }

  private failTable(
    mailbox: TableMailbox,
    reason: string,
    connectionLost: boolean,
    retryAtOnce = false,
  ): void {
    let delay = mailbox.failed(reason, connectionLost, this.options.backoff, Date.now());
    if (retryAtOnce) {
      mailbox.retryNow();
      delay = 0;
    }
    this.metrics.retries.inc({ table: mailbox.label });
    this.metrics.backoffSeconds.set({ table: mailbox.label }, delay / 1000);
    const head = mailbox.peekUnsent(0);
    if (head) this.observer?.failing(mailbox.label, head, reason, mailbox.attempts, mailbox.nextAttemptAt);
    const fields = { table: mailbox.label, attempt: mailbox.attempts, retry_in_ms: delay, error: reason };
    if (mailbox.attempts === 1 || mailbox.attempts % 10 === 0)
      this.log.warn('delivery failed; will retry', fields);
    else this.log.debug('delivery failed; will retry', fields);
  }
}
