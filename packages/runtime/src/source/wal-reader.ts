/**
 * The reader: streams the slot, routes raw changes to the shards, and confirms to Postgres only
 * what every shard has delivered.
 *
 * pg-logical-replication is used with the settings docs/pitfalls.md calls for: no automatic
 * acknowledgement (auto: false, timeoutSeconds: 0: otherwise a timer confirms what was merely
 * received), and flow control so that an awaited handler pauses the socket. Keepalives that ask
 * for a reply are answered with the watermark, and a timer sends it every second even while
 * reading is paused, well within the 5 s wal_sender_timeout our sessions set (ha/slot-lease.ts).
 * On a lost connection a new service subscribes again from the slot's confirmed LSN (upstream
 * #20: re-subscribing the same instance can hang).
 *
 * High availability (ha/slot-lease.ts): before each session the reader stands by until the slot
 * is free; when a session ends, for whatever reason, it fences: nothing routed in that session
 * is published or confirmed any more (another process may have the slot by now and publishes it
 * again from the slot).
 */
import { LogicalReplicationService } from 'pg-logical-replication';
import type { MessagePort } from 'node:worker_threads';
import {
  backoffDelayMs,
  ChangeFilter,
  DEFAULT_BACKOFF,
  DeliveryWatermark,
  ErrorCode,
  errorMessage,
  formatLsn,
  parseLsn,
  WalRouter,
  Wal2NatsError,
  type BackfillWindow,
  type Config,
  type Lsn,
} from '@wal2nats/core';
import type { Logger } from '../log/logger.js';
import type { ReaderMetrics } from '../metrics/reader-metrics.js';
import type { DeliveredMessage, ReaderStatus, ShardToReader } from '../threads/thread-messages.js';
import { ReplicationStreamAdapter } from './pg-logical-replication-adapter.js';
import { HeartbeatEmitter } from './heartbeat-emitter.js';
import { mapPostgresError } from '../postgres/pg-errors.js';
import { RawPgoutputPlugin } from './raw-pgoutput-plugin.js';
import { clientConfig, userOf } from '../postgres/client-config.js';
import { STATUS_INTERVAL_MS, type SlotLease } from '../ha/slot-lease.js';
import { HandoverPacer } from './handover-pacer.js';
import { ShardLink } from './shard-links.js';
import { standbyStatusUpdate } from './standby-status.js';

const STATUS_MIN_GAP_MS = 100;
const HEARTBEAT_INTERVAL_MS = 10_000;
/** How often the server's WAL end is read for the lag metric (see heartbeat-emitter.ts). */
const WAL_END_PROBE_MS = 5_000;
const MAX_BATCH_FRAMES = 512;
/** Hand-overs (handover-pacer.ts): at most one per 10 ms from 300 to 3,000 changes/s, at once otherwise. */
const HANDOVER_PACING = {
  lingerMs: 10,
  minChangesPerSecond: 300,
  busyChangesPerSecond: 3_000,
  windowMs: 100,
};

export interface WalReaderOptions {
  readonly config: Config;
  readonly startLsn: string;
  readonly serverVersionNum: number;
  readonly shardPorts: readonly MessagePort[];
  /** Which shard a new table goes to (JetStream mode: its stream's); a hash of its name by default. */
  readonly shardOf?: (schema: string, table: string) => number;
  /** Backfills (wal2nats backfill): the chunk window the router feeds, and who hears of confirmations. */
  readonly backfill?: BackfillWindow;
  readonly onConfirmed?: (lsn: Lsn) => void;
  /** Who may stream from the slot (high availability). */
  readonly lease: SlotLease;
}

export class WalReader {
  private readonly watermark: DeliveryWatermark;
  private readonly router: WalRouter;
  private readonly links: ShardLink[];
  private readonly heartbeat: HeartbeatEmitter | null;
  private confirmed: Lsn;
  private lastStatusSentAt = 0;
  private statusTimer: NodeJS.Timeout | null = null;
  private statusScheduled: NodeJS.Timeout | null = null;
  private flushScheduled = false;
  private readonly pacer = new HandoverPacer(HANDOVER_PACING);
  private serverWalEnd: Lsn = 0;
  /** The start LSN of the last XLogData, parsed only when needed (it is a string per message). */
  private lastDataLsn = '0/0';
  private service: LogicalReplicationService | null = null;
  /** The service's internals we use (our own status updates, the direct data path). */
  private stream: ReplicationStreamAdapter | null = null;
  private streaming = false;
  private paused = false;
  private stopping = false;
  private lastError: string | null = null;
  private capacityWaiter: (() => void) | null = null;
  private wakeBackoff: (() => void) | null = null;
  private fatal: Error | null = null;

  constructor(
    private readonly options: WalReaderOptions,
    private readonly metrics: ReaderMetrics,
    private readonly log: Logger,
  ) {
    const shardCount = options.shardPorts.length;
    this.confirmed = parseLsn(options.startLsn);
    this.watermark = new DeliveryWatermark(shardCount);
    this.links = options.shardPorts.map((port, shard) => new ShardLink(shard, port));
    const filter = new ChangeFilter(options.config);
    this.router = new WalRouter(
      {
        shardCount,
        maxBatchFrames: MAX_BATCH_FRAMES,
        onWarning: (m) => log.warn(m),
        ...(options.shardOf ? { shardOf: options.shardOf } : {}),
        ...(filter.passesAll ? {} : { filter }),
        ...(options.backfill ? { backfill: options.backfill } : {}),
      },
      this.watermark,
      (shard, batch) => this.links[shard]!.send(batch),
    );
    for (const link of this.links)
      link.port.on('message', (message: ShardToReader) => this.onDelivered(link, message));
    // Heartbeat messages need Postgres 14+; the WAL end probe runs on every version.
    this.heartbeat = new HeartbeatEmitter(
      options.config,
      {
        heartbeatMs: options.serverVersionNum >= 140000 ? HEARTBEAT_INTERVAL_MS : null,
        walEndProbeMs: WAL_END_PROBE_MS,
        onWalEnd: (lsn) => this.noteServerLsn(lsn),
      },
      log,
    );
  }

  status(): ReaderStatus {
    return {
      streaming: this.streaming,
      confirmedLsn: formatLsn(this.confirmed),
      lastError: this.lastError,
      ha: this.options.lease.status(),
    };
  }

  /** For metrics on scrape. */
  collect(): void {
    this.noteServerLsn(parseLsn(this.lastDataLsn));
    this.metrics.confirmedFlushLsn.set(this.confirmed);
    this.metrics.replicationLagBytes.set(Math.max(0, this.serverWalEnd - this.confirmed));
    this.metrics.streaming.set(this.streaming ? 1 : 0);
    this.metrics.active.set(this.options.lease.isActive ? 1 : 0);
  }

  /** The end LSN of the last transaction confirmed to Postgres. */
  get confirmedLsn(): Lsn {
    return this.confirmed;
  }

  get changesRouted(): number {
    return this.router.lastSeq;
  }

  /** Streams until stop; throws a Wal2NatsError when Postgres refuses us for good. */
  async run(): Promise<void> {
    this.heartbeat?.start();
    this.statusTimer = setInterval(() => this.sendStatus(), STATUS_INTERVAL_MS);
    let attempt = 0;
    try {
      while (!this.stopping) {
        const startedAt = Date.now();
        let acquired = false;
        try {
          // Stand by until the slot is free; start where it was confirmed (by us or by the
          // process that held it before).
          const from = await this.options.lease.acquire(() => this.stopping);
          if (from === null) break;
          acquired = true;
          this.confirmed = parseLsn(from);
          await this.streamOnce();
        } catch (error) {
          if (this.fatal) throw this.fatal;
          if (this.stopping) break;
          const mapped = mapPostgresError(error, {
            user: userOf(this.options.config.postgresUrl),
            slot: this.options.config.slot,
          });
          // Another standby started streaming between our look at the slot and our start.
          if (acquired && mapped.code === ErrorCode.PgSlotActive) continue;
          if (!mapped.retryable) throw mapped;
          this.lastError = mapped.message;
          if (Date.now() - startedAt > 30_000) attempt = 0;
          attempt++;
          const delay = backoffDelayMs(attempt, {
            ...DEFAULT_BACKOFF,
            maxMs: this.options.config.maxBackoffMs,
          });
          this.log.warn('replication stream lost; reconnecting', {
            error: mapped.message,
            attempt,
            retry_in_ms: delay,
          });
          await this.backoff(delay);
          this.metrics.reconnects.inc();
        }
      }
    } finally {
      if (this.statusTimer) clearInterval(this.statusTimer);
      this.options.lease.end('stopping', true);
      await this.options.lease.close();
      await this.heartbeat?.stop();
    }
  }

  private backoff(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wakeBackoff = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private streamOnce(): Promise<void> {
    const { config } = this.options;
    const service = new LogicalReplicationService(
      this.options.lease.replicationConfig(clientConfig(config)),
      {
        acknowledge: { auto: false, timeoutSeconds: 0 },
        flowControl: { enabled: true },
      },
    );
    const stream = ReplicationStreamAdapter.of(service);
    this.service = service;
    this.stream = stream;
    const plugin = new RawPgoutputPlugin({
      publicationName: config.publication,
      messages: this.options.serverVersionNum >= 140000,
    });
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const settle = (error?: unknown): void => {
        if (settled) return;
        settled = true;
        this.streaming = false;
        this.service = null;
        this.stream = null;
        this.options.lease.end(error instanceof Error ? error.message : 'the stream ended', this.stopping);
        if (!this.stopping) this.fence();
        this.router.resetTransaction();
        void service.destroy().catch(() => {});
        if (error === undefined) resolve();
        else reject(error);
      };
      const requestedAt = Date.now();
      service.on('start', () => {
        this.streaming = true;
        this.lastError = null;
        this.options.lease.begin(
          requestedAt,
          (reason) => settle(new Wal2NatsError(ErrorCode.Unavailable, `lost the slot: ${reason}`)),
          () => this.lastStatusSentAt,
        );
        this.log.info('streaming from the slot', { slot: config.slot, from_lsn: formatLsn(this.confirmed) });
      });
      // A message the ended session's queue still hands over belongs to no session: dropped.
      const onData = (lsn: string, raw: Buffer): Promise<void> | void =>
        settled ? undefined : this.onData(lsn, raw, settle);
      stream.deliverDataDirectly(onData);
      service.on('heartbeat', (lsn: string, _timestamp: number, shouldRespond: boolean) => {
        this.noteServerLsn(parseLsn(lsn));
        if (shouldRespond) this.sendStatus();
      });
      service.on('error', (error: Error) => settle(error));
      service.subscribe(plugin, config.slot, formatLsn(this.confirmed)).then(
        () =>
          settle(
            this.stopping
              ? undefined
              : new Wal2NatsError(ErrorCode.Unavailable, 'the replication stream ended'),
          ),
        (error: unknown) => settle(error),
      );
    });
  }

  private onData(lsn: string, raw: Buffer, settle: (error?: unknown) => void): Promise<void> | void {
    if (this.paused) return; // not routed, so never confirmed: read again on the next start
    try {
      this.router.route(raw);
    } catch (error) {
      // A message we cannot route must not be skipped (the library would go on with the next).
      this.fatal = new Wal2NatsError(
        ErrorCode.Internal,
        `cannot route a change at ${lsn}: ${errorMessage(error)}`,
        undefined,
        { cause: error },
      );
      settle(this.fatal);
      return;
    }
    this.lastDataLsn = lsn;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      // After the messages of this socket read are routed, hand the batches over: at once while
      // changes flow fast, at most one hand-over per 10 ms while they trickle (handover-pacer.ts).
      const handOver = (): void => {
        this.flushScheduled = false;
        this.pacer.handedOver(Date.now());
        this.router.flush();
        // A commit (or heartbeat) that routed nothing to any shard (all its changes filtered
        // out, or none) gets no delivery report to move the watermark: try it here.
        this.advance();
      };
      const delay = this.pacer.delayMs(Date.now(), this.router.lastSeq);
      if (delay === 0) setImmediate(handOver);
      else setTimeout(handOver, delay);
    }
    if (this.overCapacity()) {
      this.router.flush();
      return new Promise<void>((resolve) => {
        this.capacityWaiter = resolve;
      });
    }
  }

  /**
   * Fencing: the session ended, and another process may stream from the slot by now and publish
   * again what this one routed. The shards drop all of it (behind everything already sent, in
   * port order), and none of its transactions is confirmed any more.
   */
  private fence(): void {
    this.router.flush();
    this.watermark.discardPending();
    for (const link of this.links) link.fence(this.router.lastSeq);
    // A handler waiting for room belongs to the ended session: let it finish (it routes nothing).
    const waiter = this.capacityWaiter;
    this.capacityWaiter = null;
    waiter?.();
  }

  private overCapacity(): boolean {
    const capacity = this.options.config.mailboxCapacity;
    // Per message: a plain loop, no closure.
    for (let i = 0; i < this.links.length; i++) if (this.links[i]!.outstanding >= capacity) return true;
    return false;
  }

  private onDelivered(link: ShardLink, report: DeliveredMessage): void {
    link.update(report);
    this.watermark.noteDelivered(link.shard, report.frontier);
    this.advance();
    if (this.capacityWaiter && !this.overCapacity()) {
      const resume = this.capacityWaiter;
      this.capacityWaiter = null;
      resume();
    }
  }

  private advance(): void {
    const lsn = this.watermark.advance();
    if (lsn === null || lsn <= this.confirmed) return;
    this.confirmed = lsn;
    this.options.onConfirmed?.(lsn);
    const wait = STATUS_MIN_GAP_MS - (Date.now() - this.lastStatusSentAt);
    if (wait <= 0) this.sendStatus();
    else if (!this.statusScheduled) {
      this.statusScheduled = setTimeout(() => {
        this.statusScheduled = null;
        this.sendStatus();
      }, wait);
    }
  }

  private noteServerLsn(lsn: Lsn): void {
    if (lsn > this.serverWalEnd) this.serverWalEnd = lsn;
  }

  private sendStatus(): void {
    if (!this.streaming || !this.stream?.sendCopyData(standbyStatusUpdate(this.confirmed))) return;
    this.lastStatusSentAt = Date.now();
    this.metrics.statusUpdates.inc();
  }

  /** Stops routing new messages and hands out what was routed. */
  pause(): void {
    this.paused = true;
    this.router.flush();
    // Release a handler waiting for capacity: it routes nothing more.
    this.capacityWaiter?.();
    this.capacityWaiter = null;
  }

  /** Confirms what the shards finally delivered and closes the stream. */
  async finish(finalFrontiers: readonly DeliveredMessage[]): Promise<void> {
    finalFrontiers.forEach((report, shard) => this.onDelivered(this.links[shard]!, report));
    if (this.statusScheduled) clearTimeout(this.statusScheduled);
    this.sendStatus();
    this.stopping = true;
    this.wakeBackoff?.();
    const service = this.service;
    if (service) await service.stop().catch(() => {});
    this.log.info('stopped; slot confirmed up to the last delivered transaction', {
      confirmed_lsn: formatLsn(this.confirmed),
    });
  }
}
