/**
 * The main thread's side of the pipeline: checks and prepares the source, starts the shard
 * workers and the reader thread, wires them together, serves HTTP, and stops them in reverse
 * order so that the slot is left at the last delivered transaction.
 *
 *   Postgres slot ──▶ reader thread ──batches──▶ shard workers ──▶ NATS
 *                         ▲                          │
 *                         └──── delivered frontier ◀─┘
 */
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import {
  backoffDelayMs,
  DEFAULT_BACKOFF,
  deserializeError,
  ErrorCode,
  redactUrl,
  Wal2NatsError,
  type Config,
} from '@wal2nats/core';
import { Registry } from 'prom-client';
import { HttpServer, type Readiness } from './http/http-server.js';
import type { Logger } from './log/logger.js';
import { MetricsGatherer } from './metrics/aggregate-metrics.js';
import { createThreadRegistry } from './metrics/thread-metrics.js';
import { checkJetStream } from './sink/jetstream-check.js';
import { prepareSource, type SourceInfo } from './source/replication-setup.js';
import { releaseProxy, wrapWorker, type Remote } from './threads/comlink.js';
import type { ReaderApi, ReaderWorkerData, RunOutcome, ShardApi, ShardWorkerData } from './threads/thread-messages.js';
import { WorkerEntry } from './threads/worker-entries.js';

const DRAIN_TIMEOUT_MS = 10_000;

export interface PipelineOptions {
  readonly config: Config;
  readonly log: Logger;
  readonly logFormat: 'json' | 'pretty';
  /** Aborting stops a pipeline that is still starting (waiting for Postgres). */
  readonly signal?: AbortSignal;
}

interface Thread<T> {
  readonly worker: Worker;
  readonly api: Remote<T>;
  readonly exited: Promise<number>;
}

function startThread<T>(entry: URL, workerData: unknown, transferList: MessagePort[]): Thread<T> {
  const worker = new Worker(entry, { workerData, transferList });
  const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
  return { worker, api: wrapWorker<T>(worker), exited };
}

export class Pipeline {
  private reader: Thread<ReaderApi> | null = null;
  private shards: Thread<ShardApi>[] = [];
  private readonly http: HttpServer;
  private readonly gatherer: MetricsGatherer;
  private stopping: Promise<void> | null = null;
  private source: SourceInfo | null = null;
  /** The HTTP address once listening. */
  httpAddress: { host: string; port: number } | null = null;

  constructor(private readonly options: PipelineOptions) {
    const mainRegistry: Registry = createThreadRegistry('main');
    this.gatherer = new MetricsGatherer(mainRegistry, () => [
      ...(this.reader ? [this.reader.api.metrics()] : []),
      ...this.shards.map((s) => s.api.metrics()),
    ]);
    this.http = new HttpServer({ metrics: () => this.gatherer.text(), readiness: () => this.readiness() });
  }

  /** Runs until stop() or a fatal error; resolves with how it ended. */
  async run(): Promise<RunOutcome> {
    const { config, log } = this.options;
    const address = await this.http.listen(config.httpHost, config.httpPort);
    this.httpAddress = { host: address.address, port: address.port };
    log.info('HTTP listening', { metrics: `http://${address.address}:${address.port}/metrics` });

    this.source = await this.prepareSourceWithRetry();
    if (!this.source) return { ok: true };
    log.info('source ready', {
      postgres: redactUrl(config.postgresUrl),
      database: this.source.databaseName,
      slot: config.slot,
      publication: config.publication,
      start_lsn: this.source.startLsn,
      shards: config.shards,
    });

    if (config.jetstream) await checkJetStream(config, this.source.databaseName, this.source.tables, log);

    const channels = Array.from({ length: config.shards }, () => new MessageChannel());
    const logFormat = this.options.logFormat;
    this.shards = channels.map((channel, shard) => {
      const data: ShardWorkerData = { shard, config, systemIdentifier: this.source!.systemIdentifier, databaseName: this.source!.databaseName, primaryKeys: this.source!.primaryKeys, readerPort: channel.port1, logFormat };
      return startThread<ShardApi>(WorkerEntry.shard, data, [channel.port1]);
    });
    const readerData: ReaderWorkerData = { config, startLsn: this.source.startLsn, serverVersionNum: this.source.serverVersionNum, shardPorts: channels.map((c) => c.port2), logFormat };
    this.reader = startThread<ReaderApi>(WorkerEntry.reader, readerData, channels.map((c) => c.port2));

    const outcome = await Promise.race([
      this.reader.api.run(),
      ...this.shards.map((s) => s.api.run()),
      // A thread that ends while we stop is expected; before that it is a crash.
      ...[this.reader, ...this.shards].map((t) =>
        t.exited.then((code): RunOutcome => (this.stopping ? { ok: true } : { ok: false, error: { name: 'Error', message: `a worker thread exited unexpectedly (code ${code})` } })),
      ),
      new Promise<RunOutcome>((resolve) => {
        for (const t of [this.reader!, ...this.shards]) {
          t.worker.once('error', (error) => resolve({ ok: false, error: { name: error.name, message: `a worker thread crashed: ${error.message}`, ...(error.stack ? { stack: error.stack } : {}) } }));
        }
      }),
    ]);
    if (!outcome.ok && !this.stopping) {
      const error = deserializeError(outcome.error);
      log.error('stopping on a fatal error', { error: error.message });
    }
    await this.stop();
    return outcome;
  }

  /** Waits for Postgres while it is unreachable; refusals are fatal. */
  private async prepareSourceWithRetry(): Promise<SourceInfo | null> {
    const { config, log, signal } = this.options;
    for (let attempt = 1; ; attempt++) {
      try {
        return await prepareSource(config, log);
      } catch (error) {
        if (!(error instanceof Wal2NatsError) || error.code !== ErrorCode.Unavailable) throw error;
        const delay = backoffDelayMs(attempt, { ...DEFAULT_BACKOFF, maxMs: config.maxBackoffMs });
        log.warn('waiting for Postgres', { error: error.message, attempt, retry_in_ms: delay });
        const aborted = await new Promise<boolean>((resolve) => {
          if (signal?.aborted) return resolve(true);
          const timer = setTimeout(() => resolve(false), delay);
          signal?.addEventListener('abort', () => { clearTimeout(timer); resolve(true); }, { once: true });
        });
        if (aborted) return null;
      }
    }
  }

  private async readiness(): Promise<Readiness> {
    const reasons: string[] = [];
    if (!this.reader) reasons.push('starting: the source is not prepared yet');
    else {
      const status = await this.reader.api.status();
      if (!status.streaming) reasons.push(`the replication slot is not streaming${status.lastError ? `: ${status.lastError}` : ''}`);
    }
    const shardStatuses = await Promise.all(this.shards.map((s) => s.api.status()));
    for (const status of shardStatuses) if (!status.natsConnected) reasons.push(`shard ${status.shard} is not connected to NATS`);
    return { ready: reasons.length === 0, reasons };
  }

  /** Stops in reverse order: reading, then delivery, then the final confirmation. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= this.stopThreads();
    return this.stopping;
  }

  private async stopThreads(): Promise<void> {
    const { log } = this.options;
    const reader = this.reader;
    if (reader) await reader.api.pause().catch(() => {});
    const frontiers = await Promise.all(this.shards.map((s) => s.api.drain(DRAIN_TIMEOUT_MS).catch(() => null)));
    if (reader) {
      const complete = frontiers.every((f) => f !== null);
      // Without every shard's frontier we confirm nothing more: the next start replays.
      if (complete) await reader.api.finish(frontiers.filter((f) => f !== null)).catch((e: unknown) => log.warn('final confirmation failed', { error: String(e) }));
      else await reader.api.finish([]).catch(() => {});
    }
    for (const thread of [...(reader ? [reader] : []), ...this.shards]) {
      releaseProxy(thread.api);
      await thread.worker.terminate();
    }
    await this.http.close();
  }
}
