/**
 * The publisher of a shard in JetStream mode: the shard owns every table of one stream, and
 * its changes go out in the order the reader numbered them (the database's commit order,
 * across tables) through one ordered chain (sink/jetstream-chain.ts). A message that fails
 * holds the whole stream, not just its table, because the stream must hold the commit order
 * exactly; it shows as the failing message of its table in the console, the messages API and
 * the metrics, with its deliver count and last error.
 *
 * The frontier (what the slot may be confirmed to) follows the chain: every change before the
 * first message not yet stored is delivered.
 */
import {
  ErrorCode,
  pgMicrosToUnixMs,
  Wal2NatsError,
  type BackoffPolicy,
  type JsonBytes,
  type RowBytesResult,
} from '@wal2nats/core';
import type { Logger } from '../log/logger.js';
import type { ShardMetrics } from '../metrics/shard-metrics.js';
import { JetStreamChain, type ChainBroken, type StreamClient } from '../sink/jetstream-chain.js';
import { MessageSlabs, type ChangeQueue, type OutgoingMessage } from './outgoing-message.js';
import type { DeliveryFrontier, PublishObserver } from './shard-publisher.js';

/** How often the chain's state is logged at debug level. */
const STATE_LOG_MS = 2000;
/** Bytes in flight per stream at most (with --jetstream-window messages). */
export const JETSTREAM_WINDOW_BYTES = 4 * 1024 * 1024;
/** A send unanswered this long is resent (alone, after the window settles): it costs a repair. */
export const JETSTREAM_ACK_TIMEOUT_MS = 2000;

export interface StreamPublisherOptions {
  /** Its `shard` label in the metrics (the initial snapshot's publishers: `snapshot`). */
  readonly shard: number | 'snapshot';
  readonly stream: string;
  readonly backoff: BackoffPolicy;
  readonly window: number;
  readonly windowBytes: number;
  readonly ackTimeoutMs: number;
  /** The publish lease (ha/publish-lease.ts): nothing is sent while it says no. */
  readonly mayPublish?: () => boolean;
}

/** A message in the chain, with what the metrics and the console need of it. */
interface Queued extends OutgoingMessage {
  label: string;
  sentAt: number;
}

export class StreamPublisher implements ChangeQueue {
  private readonly slabs = new MessageSlabs();
  private readonly chain: JetStreamChain<Queued>;
  private lastReceivedSeq = 0;
  private readonly shardLabel: { shard: string };
  /** The table whose message is failing (its backoff gauge is reset once it is delivered). */
  private failingLabel: string | null = null;
  broken: ChainBroken | null = null;
  private stateTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly options: StreamPublisherOptions,
    private readonly metrics: ShardMetrics,
    private readonly log: Logger,
    /** Called after every change of the frontier. */
    private readonly onProgress: (frontier: DeliveryFrontier) => void,
    private readonly observer: PublishObserver | null = null,
  ) {
    this.shardLabel = { shard: String(options.shard) };
    this.chain = new JetStreamChain<Queued>(
      {
        stream: options.stream,
        window: options.window,
        windowBytes: options.windowBytes,
        ackTimeoutMs: options.ackTimeoutMs,
        backoff: options.backoff,
        ...(options.mayPublish ? { mayPublish: options.mayPublish } : {}),
      },
      (m) => m.end - m.start,
      {
        delivered: (messages) => this.delivered(messages),
        sent: (messages) => this.sent(messages),
        failing: (message, reason, attempts, nextAttemptAt) =>
          this.onFailing(message, reason, attempts, nextAttemptAt),
        broken: (error) => {
          this.broken = error;
          this.log.error('stopping: the JetStream stream is written by someone else', {
            stream: options.stream,
            error: error.message,
          });
        },
      },
    );
  }

  /** Starts publishing after `lastSeq`, the stream's last sequence. */
  start(client: StreamClient<Queued>, lastSeq: number): JetStreamChain<Queued> {
    this.chain.start(client, lastSeq);
    this.stateTimer = setInterval(
      () => this.log.debug('JetStream chain', { stream: this.options.stream, ...this.chain.state() }),
      STATE_LOG_MS,
    );
    this.stateTimer.unref();
    return this.chain;
  }

  /** Queues a change in the reader's order (the chain's): as ShardPublisher.enqueue. */
  enqueue(
    _relationId: number,
    label: string,
    seq: number,
    commitTime: number,
    change: RowBytesResult,
    body: JsonBytes,
  ): void {
    this.push(this.slabs.write(seq, commitTime, change, body), label);
  }

  private push(message: OutgoingMessage, label: string): void {
    const queued = message as Queued;
    queued.label = label;
    queued.sentAt = 0;
    this.chain.push(queued);
  }

  /** Every change up to `seq` has been handed to enqueue(). */
  received(seq: number): void {
    if (seq > this.lastReceivedSeq) this.lastReceivedSeq = seq;
    this.metrics.mailboxDepth.set(this.shardLabel, this.chain.size);
  }

  /**
   * The replication session ended (ha/slot-lease.ts): the reader replays from the slot, and the
   * shard must report nothing of the old session as delivered beyond what it really stored.
   * Unlike the core-NATS publisher, the chain keeps what it holds: its messages can only ever
   * be stored in order after what the stream holds, a replayed change is answered as a
   * duplicate (same Nats-Msg-Id), and a stale process that lost the slot to another one is
   * stopped by its first send (another writer: exit 3) or by the publish lease before that.
   * The frontier stays below the oldest held message, so the slot is not confirmed past it.
   */
  fence(throughSeq: number): void {
    if (throughSeq > this.lastReceivedSeq) this.lastReceivedSeq = throughSeq;
  }

  /** Nothing held and nothing in flight: the chain may be moved to another last sequence. */
  isIdle(): boolean {
    return this.chain.size === 0 && this.chain.inFlight === 0;
  }

  /** Continues after `lastSeq`, the stream's last sequence read again (only when idle). */
  continueAfter(lastSeq: number): void {
    this.chain.continueAfter(lastSeq);
  }

  frontier(): DeliveryFrontier {
    const head = this.chain.peek();
    const frontier = head === undefined ? this.lastReceivedSeq : Math.min(this.lastReceivedSeq, head.seq - 1);
    return { frontier, undelivered: this.chain.size };
  }

  /** The failing message, as its table's (it holds the whole stream). */
  failing(): {
    table: string;
    attempts: number;
    lastError: string | null;
    nextAttemptAt: number;
    queued: number;
  }[] {
    const failure = this.chain.failure();
    if (!failure) return [];
    return [
      {
        table: failure.message.label,
        attempts: failure.attempts,
        lastError: failure.lastError,
        nextAttemptAt: failure.nextAttemptAt,
        queued: this.chain.size,
      },
    ];
  }

  retryNow(msgId?: string): number {
    const head = this.chain.peek();
    if (!head || (msgId !== undefined && head.msgId !== msgId)) return 0;
    return this.chain.retryNow() ? 1 : 0;
  }

  /** Whether nothing is left that could be delivered now. */
  isSettled(): boolean {
    return this.chain.isSettled();
  }

  stop(): void {
    this.chain.stop();
    if (this.stateTimer) clearInterval(this.stateTimer);
  }

  private sent(messages: readonly Queued[]): void {
    const now = Date.now();
    for (const message of messages) message.sentAt = now;
    if (this.observer) for (const [label, run] of byTable(messages)) this.observer.inFlight(label, run);
  }

  private delivered(messages: readonly Queued[]): void {
    const now = Date.now();
    const oldest = messages[0]!;
    if (oldest.sentAt > 0) this.metrics.publishDuration.observe((now - oldest.sentAt) / 1000);
    // One latency sample per batch (its oldest change) keeps this light.
    this.metrics.endToEndLatency.observe(Math.max(0, (now - pgMicrosToUnixMs(oldest.commitTime)) / 1000));
    for (const [label, run] of byTable(messages)) {
      let action = run[0]!.action;
      let count = 0;
      for (const message of run) {
        if (message.action !== action) {
          this.metrics.published.inc({ table: label, action }, count);
          action = message.action;
          count = 0;
        }
        count++;
      }
      this.metrics.published.inc({ table: label, action }, count);
      this.observer?.delivered(label, run);
    }
    if (this.failingLabel !== null) {
      this.metrics.backoffSeconds.set({ table: this.failingLabel }, 0);
      this.failingLabel = null;
    }
    this.observer?.cycleDone();
    for (const message of messages) this.slabs.release(message);
    this.metrics.mailboxDepth.set(this.shardLabel, this.chain.size);
    this.onProgress(this.frontier());
  }

  private onFailing(message: Queued, reason: string, attempts: number, nextAttemptAt: number): void {
    const delay = Math.max(0, nextAttemptAt - Date.now());
    this.failingLabel = message.label;
    this.metrics.retries.inc({ table: message.label });
    this.metrics.backoffSeconds.set({ table: message.label }, delay / 1000);
    this.observer?.failing(message.label, message, reason, attempts, nextAttemptAt);
    const fields = {
      stream: this.options.stream,
      table: message.label,
      attempt: attempts,
      retry_in_ms: delay,
      error: reason,
    };
    // Elections fail a few sends in a row: the first, and every tenth, at warn.
    if (attempts === 1 || attempts % 10 === 0)
      this.log.warn('delivery failed; the stream waits for this message, will retry', fields);
    else this.log.debug('delivery failed; the stream waits for this message, will retry', fields);
  }
}

/** The messages of each table, in order. */
function byTable(messages: readonly Queued[]): Map<string, Queued[]> {
  const tables = new Map<string, Queued[]>();
  for (const message of messages) {
    let run = tables.get(message.label);
    if (!run) tables.set(message.label, (run = []));
    run.push(message);
  }
  return tables;
}

/** The fatal error of a chain that someone else writes to (exit 3). */
export function otherWriter(broken: ChainBroken): Wal2NatsError {
  return new Wal2NatsError(
    ErrorCode.JetStreamOtherWriter,
    `JetStream stream ${broken.stream} is written by someone else: ${broken.message}`,
    "wal2nats keeps a stream in the database's commit order and must be its only writer: if another wal2nats took over this slot, this instance is stale and stopped on purpose; otherwise move the other writer to another stream",
  );
}
