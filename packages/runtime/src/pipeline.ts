/**
 * The main thread's side of the pipeline: checks and prepares the source, starts the shard
 * workers and the reader thread, wires them together, serves HTTP, and stops them in reverse
 * order so that the slot is left at the last delivered transaction.
 *
 *   Postgres slot ──▶ reader thread ──batches──▶ shard workers ──▶ NATS
 *                         ▲                          │
 *                         └──── delivered frontier ◀─┘
 */
import { MessageChannel, Worker, type MessagePort, type ResourceLimits } from 'node:worker_threads';
import {
  DEFAULT_BACKOFF,
  deserializeError,
  ErrorCode,
  errorMessage,
  natsServers,
  redactUrl,
  serializeError,
  Wal2NatsError,
  type Config,
} from '@wal2nats/core';
import { Registry } from 'prom-client';
import { retry } from './async/retry.js';
import { withTimeout } from './async/with-timeout.js';
import { httpAccessFromConfig } from './http/http-access.js';
import { HttpServer } from './http/http-server.js';
import { MessagesApi } from './http/messages-api.js';
import { OverviewSampler } from './http/overview.js';
import type { Readiness } from './http/readiness.js';
import type { Logger } from './log/logger.js';
import { MetricsGatherer } from './metrics/aggregate-metrics.js';
import { createThreadRegistry } from './metrics/thread-metrics.js';
import { PublishLease } from './ha/publish-lease.js';
import { checkJetStream, type ChainStream } from './sink/jetstream-check.js';
import { checkPublishPermissions, includedTables } from './sink/publish-permission-check.js';
import { runInitialSnapshot } from './snapshot/initial-snapshot.js';
import { prepareSource, type SourceInfo } from './source/replication-setup.js';
import { releaseProxy, wrapWorker, type Remote } from './threads/comlink.js';
import { readerResourceLimits, shardResourceLimits } from './threads/heap-limits.js';
import type {
  ReaderApi,
  ReaderWorkerData,
  RunOutcome,
  ShardApi,
  ShardWorkerData,
} from './threads/thread-messages.js';
import { WorkerEntry } from './threads/worker-entries.js';

const DRAIN_TIMEOUT_MS = 10_000;
/** How long /readyz and the console wait for a thread's status: a probe must never hang. */
const STATUS_TIMEOUT_MS = 2_000;

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

function startThread<T>(
  entry: URL,
  workerData: unknown,
  transferList: MessagePort[],
  resourceLimits: ResourceLimits,
): Thread<T> {
  const worker = new Worker(entry, { workerData, transferList, resourceLimits });
  const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
  return { worker, api: wrapWorker<T>(worker), exited };
}

export class Pipeline {
  private reader: Thread<ReaderApi> | null = null;
  /** What /readyz says until the reader exists: start-up can take long (an initial snapshot). */
  private startingReason = 'starting: the source is not prepared yet';
  private shards: Thread<ShardApi>[] = [];
  private readonly http: HttpServer;
  private readonly gatherer: MetricsGatherer;
  private readonly messagesApi: MessagesApi;
  private readonly sampler: OverviewSampler;
  private stopping: Promise<void> | null = null;
  /** Ends the start-up permission check if it still waits for NATS when we stop. */
  private readonly startupChecks = new AbortController();
  private source: SourceInfo | null = null;
  private readonly mainRegistry: Registry;
  /** The HTTP address once listening. */
  httpAddress: { host: string; port: number } | null = null;

  constructor(private readonly options: PipelineOptions) {
    const mainRegistry: Registry = createThreadRegistry('main');
    this.mainRegistry = mainRegistry;
    this.gatherer = new MetricsGatherer(mainRegistry, () => [
      ...(this.reader ? [this.reader.api.metrics()] : []),
      ...this.shards.map((s) => s.api.metrics()),
    ]);
    this.messagesApi = new MessagesApi(() => this.shards.map((s) => s.api));
    this.sampler = new OverviewSampler({
      metrics: () => this.gatherer.json(),
      reader: async () =>
        this.reader ? withTimeout(this.reader.api.status(), STATUS_TIMEOUT_MS, 'the reader thread') : null,
      shards: () =>
        Promise.all(
          this.shards.map(async (s) => {
            const [status, counts] = await withTimeout(
              Promise.all([s.api.status(), s.api.messageCounts()]),
              STATUS_TIMEOUT_MS,
              'a shard thread',
            );
            return { ...status, counts };
          }),
        ),
      readiness: () => this.readiness(),
      info: () => {
        const { config } = this.options;
        return {
          database: this.source?.databaseName ?? config.databaseName ?? null,
          slot: config.slot,
          publication: config.publication,
          subjectPrefix: config.subjectPrefix,
          // Credentials never leave the process, not even the user name of a token URL.
          natsServers: natsServers(config).map((url) => url.replace(/\/\/[^/?#@]*@/, '//')),
          jetstream: config.jetstream,
          maxBackoffMs: config.maxBackoffMs,
          tablesWithoutIdentity: this.source?.tablesWithoutIdentity ?? [],
        };
      },
    });
    this.http = new HttpServer({
      metrics: () => this.gatherer.text(),
      readiness: () => this.readiness(),
      overview: () => this.sampler.overview(),
      messages: (query) => this.messagesApi.list(query),
      message: (id) => this.messagesApi.detail(id),
      retry: (body) => this.messagesApi.retry(body),
    });
  }

  /** Runs until stop() or a fatal error; resolves with how it ended. */
  async run(): Promise<RunOutcome> {
    const { config, log } = this.options;
    const access = httpAccessFromConfig(config);
    const address = await this.http.listen(config.httpHost, config.httpPort, access);
    this.httpAddress = { host: address.address, port: address.port };
    log.info('HTTP listening', {
      metrics: `http://${address.address}:${address.port}/metrics`,
      console: `http://${address.address}:${address.port}/`,
      token_required: access.tokenDigest !== null,
    });
    if (access.exposedWithoutToken) {
      log.warn(
        'the HTTP port is open to the network without a token (--http-allow-anonymous): anyone who reaches it sees row data in the console and /api/messages and can retry messages',
        { http_host: config.httpHost },
      );
    }
    this.sampler.start();

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

    // Before any shard starts, NATS must let us publish to every subject (else exit 3). When
    // NATS is not reachable yet, reading starts anyway and the check ends when NATS is up: a
    // refused publish is never confirmed, so a late refusal loses nothing.
    let natsWaiting!: () => void;
    const waiting = new Promise<'waiting'>((resolve) => {
      natsWaiting = () => resolve('waiting');
    });
    this.options.signal?.addEventListener('abort', () => this.startupChecks.abort(), { once: true });
    if (this.options.signal?.aborted) this.startupChecks.abort();
    const permissionCheck = checkPublishPermissions(
      config,
      this.source.databaseName,
      this.source.tables,
      log,
      { signal: this.startupChecks.signal, onWaiting: natsWaiting },
    );
    const checked = await Promise.race([permissionCheck, waiting]);
    if (checked === false) return { ok: true };
    if (checked === 'waiting')
      log.info('NATS is not reachable yet: reading starts now; publish permissions are checked once it is');
    const permissionRefusal = permissionCheck.then(
      () => new Promise<RunOutcome>(() => {}),
      (error: unknown): RunOutcome => ({ ok: false, error: serializeError(error) }),
    );
    let streams: readonly ChainStream[] = [];
    if (config.jetstream) {
      const target = await checkJetStream(
        config,
        this.source.databaseName,
        includedTables(config, this.source.tables),
        log,
        this.startupChecks.signal,
      );
      if (target === null) return { ok: true };
      streams = target.streams;
      // One ordered chain per stream, in one shard: as many shards as streams.
      if (config.shards !== streams.length)
        log.info('JetStream mode: one shard per stream', {
          shards: streams.length,
          streams: streams.map((s) => s.name).join(' '),
        });
    }

    if (this.source.snapshotNeeded) {
      this.startingReason =
        'starting: publishing the initial snapshot (progress: wal2nats_snapshot_rows_total); streaming begins once it is delivered';
      // --initial-snapshot on a new slot: every existing row first; the slot is created at the
      // snapshot's consistent point, where streaming then starts (docs/data.md).
      const startLsn = await runInitialSnapshot({
        config,
        source: this.source,
        log,
        registry: this.mainRegistry,
        streams,
        ...(this.options.signal ? { signal: this.options.signal } : {}),
      });
      if (startLsn === null) return { ok: true };
      this.source = { ...this.source, startLsn, slotCreated: true, snapshotNeeded: false };
    }

    const channels = Array.from(
      { length: config.jetstream ? streams.length : config.shards },
      () => new MessageChannel(),
    );
    const leaseBuffer = PublishLease.allocate();
    const logFormat = this.options.logFormat;
    this.shards = channels.map((channel, shard) => {
      const data: ShardWorkerData = {
        shard,
        config,
        systemIdentifier: this.source!.systemIdentifier,
        databaseName: this.source!.databaseName,
        primaryKeys: this.source!.primaryKeys,
        userTypes: this.source!.userTypes,
        readerPort: channel.port1,
        logFormat,
        leaseBuffer,
        streams,
      };
      return startThread<ShardApi>(WorkerEntry.shard, data, [channel.port1], shardResourceLimits(config));
    });
    const readerData: ReaderWorkerData = {
      config,
      startLsn: this.source.startLsn,
      serverVersionNum: this.source.serverVersionNum,
      shardPorts: channels.map((c) => c.port2),
      logFormat,
      databaseName: this.source.databaseName,
      leaseBuffer,
      streams,
    };
    this.reader = startThread<ReaderApi>(
      WorkerEntry.reader,
      readerData,
      channels.map((c) => c.port2),
      readerResourceLimits(config),
    );

    const outcome = await Promise.race([
      permissionRefusal,
      this.reader.api.run(),
      ...this.shards.map((s) => s.api.run()),
      // A thread that ends while we stop is expected; before that it is a crash.
      ...[this.reader, ...this.shards].map((t) =>
        t.exited.then((code): RunOutcome =>
          this.stopping
            ? { ok: true }
            : {
                ok: false,
                error: { name: 'Error', message: `a worker thread exited unexpectedly (code ${code})` },
              },
        ),
      ),
      new Promise<RunOutcome>((resolve) => {
        for (const t of [this.reader!, ...this.shards]) {
          t.worker.once('error', (error) =>
            resolve({
              ok: false,
              error: {
                name: error.name,
                message: `a worker thread crashed: ${error.message}`,
                ...(error.stack ? { stack: error.stack } : {}),
              },
            }),
          );
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

  /** Waits for Postgres while it is unreachable; refusals are fatal. Null when stopped. */
  private async prepareSourceWithRetry(): Promise<SourceInfo | null> {
    const { config, log, signal } = this.options;
    return retry(() => prepareSource(config, log), {
      backoff: { ...DEFAULT_BACKOFF, maxMs: config.maxBackoffMs },
      retryable: (error) => error instanceof Wal2NatsError && error.code === ErrorCode.Unavailable,
      signal,
      onRetry: ({ error, attempt, delayMs }) =>
        log.warn('waiting for Postgres', { error: errorMessage(error), attempt, retry_in_ms: delayMs }),
    });
  }

  private async readiness(): Promise<Readiness> {
    const reasons: string[] = [];
    let role = 'starting';
    if (this.stopping) reasons.push('stopping');
    if (!this.reader) reasons.push(this.startingReason);
    else {
      try {
        const status = await withTimeout(this.reader.api.status(), STATUS_TIMEOUT_MS, 'the reader thread');
        role = status.ha.role;
        // A standby is ready: it is what it should be, and a rolling update of two must go on.
        if (!status.streaming && role !== 'standby')
          reasons.push(
            `the replication slot is not streaming${status.lastError ? `: ${status.lastError}` : ''}`,
          );
      } catch (error) {
        reasons.push(errorMessage(error));
      }
    }
    const shardStatuses = await Promise.all(
      this.shards.map((s, shard) =>
        withTimeout(s.api.status(), STATUS_TIMEOUT_MS, `shard ${shard}`).catch((error: unknown) => ({
          shard,
          error: errorMessage(error),
        })),
      ),
    );
    for (const status of shardStatuses) {
      if ('error' in status) reasons.push(status.error);
      else if (!status.natsConnected) reasons.push(`shard ${status.shard} is not connected to NATS`);
    }
    return { ready: reasons.length === 0, reasons, role };
  }

  /** Stops in reverse order: reading, then delivery, then the final confirmation. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= this.stopThreads();
    return this.stopping;
  }

  private async stopThreads(): Promise<void> {
    const { log } = this.options;
    this.startupChecks.abort();
    this.sampler.stop();
    const reader = this.reader;
    if (reader) await reader.api.pause().catch(() => {});
    const frontiers = await Promise.all(
      this.shards.map((s) => s.api.drain(DRAIN_TIMEOUT_MS).catch(() => null)),
    );
    if (reader) {
      const complete = frontiers.every((f) => f !== null);
      // Without every shard's frontier we confirm nothing more: the next start replays.
      if (complete)
        await reader.api
          .finish(frontiers.filter((f) => f !== null))
          .catch((e: unknown) => log.warn('final confirmation failed', { error: String(e) }));
      else await reader.api.finish([]).catch(() => {});
    }
    for (const thread of [...(reader ? [reader] : []), ...this.shards]) {
      releaseProxy(thread.api);
      await thread.worker.terminate();
    }
    await this.http.close();
  }
}
