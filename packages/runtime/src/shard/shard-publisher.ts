/**
 * The publish loop of one shard: tables in parallel, each table strictly in order.
 *
 * Each cycle takes the unsent messages at the head of every ready mailbox, publishes them all,
 * then confirms them with one round trip (one flush per cycle, not per message). On success
 * the mailboxes drop them and the delivered frontier moves; on failure every in-flight message
 * of the cycle goes back to its mailbox's head and those tables back off. A message that the
 * client refuses outright (too big) fails only its own table. Only one cycle runs at a time,
 * so a table never has two generations of in-flight messages that could reorder.
 */
import { backoffDelayMs, pgMicrosToUnixMs, type BackoffPolicy } from '@wal2nats/core';
import type { Logger } from '../log/logger.js';
import type { ShardMetrics } from '../metrics/shard-metrics.js';
import { DeliveryError, type NatsSink } from '../sink/nats-sink.js';
import { TableMailbox, type OutgoingMessage } from './table-mailbox.js';

export interface ShardPublisherOptions {
  readonly shard: number;
  readonly backoff: BackoffPolicy;
  /** Most messages in flight in one cycle. */
  readonly maxCycleMessages: number;
}

export interface DeliveryFrontier {
  /** Every change of this shard with seq <= frontier is delivered. */
  readonly frontier: number;
  /** Messages not yet delivered. */
  readonly undelivered: number;
}

export class ShardPublisher {
  private readonly mailboxes = new Map<number, TableMailbox>();
  private lastReceivedSeq = 0;
  private undelivered = 0;
  private wake: (() => void) | null = null;
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private loopDone: Promise<void> = Promise.resolve();

  constructor(
    private readonly options: ShardPublisherOptions,
    private readonly sink: NatsSink,
    private readonly metrics: ShardMetrics,
    private readonly log: Logger,
    /** Called after every change of the frontier. */
    private readonly onProgress: (frontier: DeliveryFrontier) => void,
  ) {
    sink.onReconnect(() => {
      // The connection is back: tables that failed only because it was gone retry now.
      for (const mailbox of this.mailboxes.values()) if (mailbox.failedOnConnection) mailbox.nextAttemptAt = 0;
      this.poke();
    });
  }

  /** Queues a message of table `relationId`. */
  enqueue(relationId: number, label: string, message: OutgoingMessage): void {
    let mailbox = this.mailboxes.get(relationId);
    if (!mailbox) {
      mailbox = new TableMailbox(label);
      this.mailboxes.set(relationId, mailbox);
    }
    mailbox.label = label;
    mailbox.push(message);
    this.undelivered++;
  }

  /** Every change up to `seq` has been handed to enqueue(). */
  received(seq: number): void {
    if (seq > this.lastReceivedSeq) this.lastReceivedSeq = seq;
    this.metrics.mailboxDepth.set({ shard: String(this.options.shard) }, this.undelivered);
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
  failing(): { table: string; attempts: number; lastError: string | null; nextAttemptAt: number }[] {
    return [...this.mailboxes.values()]
      .filter((m) => m.attempts > 0)
      .map((m) => ({ table: m.label, attempts: m.attempts, lastError: m.lastError, nextAttemptAt: m.nextAttemptAt }));
  }

  start(): void {
    this.running = true;
    this.loopDone = this.loop();
  }

  /** Stops after the current cycle. */
  async stop(): Promise<void> {
    this.running = false;
    this.poke();
    await this.loopDone;
    if (this.timer) clearTimeout(this.timer);
  }

  /** Whether nothing is left that could be delivered now (empty, or every table backing off). */
  isSettled(): boolean {
    const now = Date.now();
    for (const mailbox of this.mailboxes.values()) if (mailbox.size > 0 && mailbox.nextAttemptAt <= now) return false;
    return true;
  }

  private poke(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  private async loop(): Promise<void> {
    while (this.running) {
      const batch = this.sink.connected ? this.collect() : [];
      if (batch.length === 0) {
        await this.idle();
        continue;
      }
      await this.cycle(batch);
    }
  }

  /** Waits for new messages, a reconnect, or the end of the earliest backoff. */
  private async idle(): Promise<void> {
    let earliest = Number.POSITIVE_INFINITY;
    for (const mailbox of this.mailboxes.values()) if (mailbox.size > 0 && mailbox.nextAttemptAt > 0) earliest = Math.min(earliest, mailbox.nextAttemptAt);
    await new Promise<void>((resolve) => {
      this.wake = resolve;
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      if (Number.isFinite(earliest)) this.timer = setTimeout(() => this.poke(), Math.max(0, earliest - Date.now()));
      // Without a connection there is nothing to do until the sink reports a reconnect.
    });
  }

  /** The mailboxes that take part in the next cycle, after publishing their messages. */
  private collect(): TableMailbox[] {
    const now = Date.now();
    const taking: TableMailbox[] = [];
    let budget = this.options.maxCycleMessages;
    const mark = this.sink.mark();
    this.currentMark = mark;
    for (const mailbox of this.mailboxes.values()) {
      if (budget <= 0) break;
      if (mailbox.unsent === 0 || mailbox.nextAttemptAt > now || mailbox.inFlight > 0) continue;
      const share = Math.min(mailbox.unsent, budget);
      let published = 0;
      for (; published < share; published++) {
        const message = mailbox.peekUnsent(0)!;
        try {
          this.sink.publish(message.subject, message.json, message.msgId);
        } catch (error) {
          // Refused by the client itself (too big, bad subject): only this table waits.
          this.failMailbox(mailbox, error instanceof Error ? error.message : String(error), false);
          break;
        }
        mailbox.inFlight++;
      }
      budget -= published;
      if (mailbox.inFlight > 0) taking.push(mailbox);
    }
    return taking;
  }

  private currentMark = 0;

  private async cycle(batch: TableMailbox[]): Promise<void> {
    const started = performance.now();
    try {
      await this.sink.confirm(this.currentMark);
    } catch (error) {
      const connectionLost = error instanceof DeliveryError ? error.connectionLost : true;
      const reason = error instanceof Error ? error.message : String(error);
      for (const mailbox of batch) this.failMailbox(mailbox, reason, connectionLost);
      this.reportProgress();
      return;
    }
    const seconds = (performance.now() - started) / 1000;
    const nowMs = Date.now();
    let delivered = 0;
    for (const mailbox of batch) {
      const messages = mailbox.takeDelivered();
      delivered += messages.length;
      this.metrics.backoffSeconds.set({ table: mailbox.label }, 0);
      this.account(mailbox.label, messages, nowMs);
    }
    this.metrics.publishDuration.observe(seconds);
    this.undelivered -= delivered;
    this.metrics.mailboxDepth.set({ shard: String(this.options.shard) }, this.undelivered);
    this.reportProgress();
  }

  private account(table: string, messages: OutgoingMessage[], nowMs: number): void {
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
    if (oldest) this.metrics.endToEndLatency.observe(Math.max(0, (nowMs - pgMicrosToUnixMs(oldest.commitTime)) / 1000));
  }

  private failMailbox(mailbox: TableMailbox, reason: string, connectionLost: boolean): void {
    mailbox.failInFlight();
    mailbox.attempts++;
    mailbox.lastError = reason;
    mailbox.failedOnConnection = connectionLost;
    const delay = backoffDelayMs(mailbox.attempts, this.options.backoff);
    mailbox.nextAttemptAt = Date.now() + delay;
    this.metrics.retries.inc({ table: mailbox.label });
    this.metrics.backoffSeconds.set({ table: mailbox.label }, delay / 1000);
    const fields = { table: mailbox.label, attempt: mailbox.attempts, retry_in_ms: delay, error: reason };
    if (mailbox.attempts === 1 || mailbox.attempts % 10 === 0) this.log.warn('delivery failed; will retry', fields);
    else this.log.debug('delivery failed; will retry', fields);
  }

  private reportProgress(): void {
    this.onProgress(this.frontier());
  }
}
