/**
 * `GET /api/overview`: everything the console and `wal2nats status` show at a glance —
 * readiness, the slot, NATS, throughput, lag, backoff, latency, per table, per shard and per
 * thread — and a few minutes of history for the small charts.
 *
 * A sampler on the main thread reads the aggregated metrics every 2 s (the same numbers as
 * /metrics; about the cost of a Prometheus scrape) and keeps the last 6 minutes, so that a page
 * opened now shows charts at once and a terminal gets rates from a single request.
 */
import { errorMessage } from '@wal2nats/core';
import type { MessageCounts } from '../messages/message-view.js';
import { buckets, quantileBetween, sumBy, total } from '../metrics/metrics-json.js';
import type { MetricsJson } from '../metrics/thread-metrics.js';
import type { ReaderStatus, ShardStatus } from '../threads/thread-messages.js';
import { runningBackfills, type BackfillOverview } from './backfill-overview.js';
import type { Readiness } from './readiness.js';

export interface OverviewInfo {
  readonly database: string | null;
  readonly slot: string;
  readonly publication: string;
  readonly subjectPrefix: string;
  /** NATS servers without credentials. */
  readonly natsServers: readonly string[];
  readonly jetstream: boolean;
  readonly maxBackoffMs: number;
  /** Tables of the publication whose UPDATE and DELETE Postgres refuses (no replica identity). */
  readonly tablesWithoutIdentity: readonly string[];
}

export interface OverviewSource {
  /** The aggregated metrics of every thread. */
  metrics(): Promise<MetricsJson>;
  reader(): Promise<ReaderStatus | null>;
  shards(): Promise<readonly (ShardStatus & { readonly counts: MessageCounts })[]>;
  readiness(): Promise<Readiness>;
  info(): OverviewInfo;
}

/** One point of the charts. Rates are over the interval that ends at `t`. */
export interface OverviewPoint {
  /** Unix ms. */
  readonly t: number;
  readonly published_per_s: number;
  readonly received_per_s: number;
  readonly retries_per_s: number;
  readonly lag_bytes: number;
  readonly mailbox_depth: number;
  readonly max_backoff_seconds: number;
  readonly failing_tables: number;
  readonly latency_p50_seconds: number | null;
  readonly latency_p99_seconds: number | null;
}

export interface TableOverview {
  readonly table: string;
  readonly published: number;
  readonly published_per_s: number;
  readonly by_action: Readonly<Record<string, number>>;
  readonly retries: number;
  readonly backoff_seconds: number;
}

export interface ShardOverview {
  readonly shard: number;
  readonly nats_connected: boolean;
  readonly undelivered: number;
  readonly inflight: number;
  readonly failing: number;
}

export interface ThreadOverview {
  readonly thread: string;
  /** Percent of one core over the last ~10 s; null where per-thread CPU is not known. */
  readonly cpu_percent: number | null;
  readonly event_loop_lag_seconds: number;
  readonly event_loop_utilization: number;
  readonly heap_used_bytes: number;
}

export interface Overview {
  readonly now: string;
  readonly started_at: string;
  readonly uptime_seconds: number;
  readonly ready: boolean;
  readonly reasons: readonly string[];
  /** High availability: whether this process streams from the slot or stands by, since when, and who is active. */
  readonly role: {
    readonly role: 'starting' | 'standby' | 'active';
    readonly since: string | null;
    readonly active_host: string | null;
    readonly active_pid: number | null;
  };
  readonly source: {
    readonly database: string | null;
    readonly slot: string;
    readonly publication: string;
    readonly streaming: boolean;
    readonly confirmed_lsn: string | null;
    readonly lag_bytes: number;
    readonly last_error: string | null;
    /** Published tables with neither a primary key nor a replica identity: Postgres refuses their UPDATE and DELETE. */
    readonly tables_without_identity: readonly string[];
  };
  readonly sink: {
    readonly servers: readonly string[];
    readonly jetstream: boolean;
    readonly subject_prefix: string;
    readonly connected_shards: number;
    readonly shards: number;
    readonly max_backoff_seconds: number;
  };
  readonly totals: {
    readonly published: number;
    readonly received: number;
    readonly retries: number;
    /** Over the last ~10 s. */
    readonly published_per_s: number;
    readonly received_per_s: number;
    readonly retries_per_s: number;
    readonly latency_p50_seconds: number | null;
    readonly latency_p99_seconds: number | null;
    readonly mailbox_depth: number;
    readonly max_backoff_seconds: number;
    readonly failing_tables: number;
  };
  readonly messages: MessageCounts;
  /** Backfills (`wal2nats backfill`) running now, with their progress. */
  readonly backfills: readonly BackfillOverview[];
  readonly tables: readonly TableOverview[];
  readonly shards: readonly ShardOverview[];
  readonly threads: readonly ThreadOverview[];
  readonly process: {
    readonly pid: number;
    readonly node: string;
    readonly rss_bytes: number;
    readonly cpu_percent: number | null;
  };
  /** Oldest first, every ~2 s. */
  readonly history: readonly OverviewPoint[];
}

interface Sample {
  readonly t: number;
  readonly published: number;
  readonly received: number;
  readonly retries: number;
  readonly lagBytes: number;
  readonly mailbox: number;
  readonly backoffByTable: Map<string, number>;
  readonly publishedByTable: Map<string, number>;
  readonly publishedByTableAction: Map<string, Record<string, number>>;
  readonly retriesByTable: Map<string, number>;
  readonly latency: [number, number][];
  readonly threadCpu: Map<string, number>;
  readonly threadLag: Map<string, number>;
  readonly threadElu: Map<string, number>;
  readonly threadHeap: Map<string, number>;
  readonly processCpu: number;
  readonly rss: number;
  readonly backfills: BackfillOverview[];
}

const num = (value: number): number => (Number.isFinite(value) ? value : 0);
const RATE_WINDOW_MS = 10_000;

export class OverviewSampler {
  private readonly samples: Sample[] = [];
  private readonly points: OverviewPoint[] = [];
  private timer: NodeJS.Timeout | null = null;
  private sampling: Promise<void> | null = null;
  private readonly startedAt = Date.now();

  constructor(
    private readonly source: OverviewSource,
    private readonly intervalMs = 2_000,
    private readonly keep = 180,
  ) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.sample(), this.intervalMs);
    this.timer.unref();
    void this.sample();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Takes a sample now (one at a time; a caller during one waits for it). */
  sample(): Promise<void> {
    this.sampling ??= this.takeSample().finally(() => {
      this.sampling = null;
    });
    return this.sampling;
  }

  private async takeSample(): Promise<void> {
    let metrics: MetricsJson;
    try {
      metrics = await this.source.metrics();
    } catch {
      return; // a thread stopping or busy: the next tick tries again
    }
    const sample = readSample(Date.now(), metrics);
    const previous = this.samples.at(-1);
    this.samples.push(sample);
    if (this.samples.length > this.keep + 1) this.samples.shift();
    if (previous) {
      this.points.push(point(previous, sample));
      if (this.points.length > this.keep) this.points.shift();
    }
  }

  async overview(): Promise<Overview> {
    if (this.samples.length === 0) await this.sample();
    const info = this.source.info();
    const [reader, shards, readiness] = await Promise.all([
      this.source.reader().catch(() => null),
      this.source.shards().catch(() => []),
      this.source
        .readiness()
        .catch((error: unknown): Readiness => ({ ready: false, reasons: [errorMessage(error)] })),
    ]);
    const now = Date.now();
    const latest = this.samples.at(-1);
    const base = this.sampleBefore(now - RATE_WINDOW_MS);
    const dt = latest && base && latest !== base ? (latest.t - base.t) / 1000 : 0;
    const rate = (a: number, b: number): number => (dt > 0 ? Math.max(0, a - b) / dt : 0);

    const tables: TableOverview[] = [];
    if (latest) {
      const names = new Set([
        ...latest.publishedByTable.keys(),
        ...latest.retriesByTable.keys(),
        ...latest.backoffByTable.keys(),
      ]);
      for (const table of names) {
        tables.push({
          table,
          published: latest.publishedByTable.get(table) ?? 0,
          published_per_s: base
            ? rate(latest.publishedByTable.get(table) ?? 0, base.publishedByTable.get(table) ?? 0)
            : 0,
          by_action: latest.publishedByTableAction.get(table) ?? {},
          retries: latest.retriesByTable.get(table) ?? 0,
          backoff_seconds: latest.backoffByTable.get(table) ?? 0,
        });
      }
      // Stuck tables first, then the busiest.
      tables.sort(
        (a, b) =>
          b.backoff_seconds - a.backoff_seconds ||
          b.published_per_s - a.published_per_s ||
          b.published - a.published ||
          a.table.localeCompare(b.table),
      );
    }

    const threads: ThreadOverview[] = [];
    if (latest) {
      for (const [thread, lag] of latest.threadLag) {
        const cpuNow = latest.threadCpu.get(thread);
        const cpuBefore = base?.threadCpu.get(thread);
        threads.push({
          thread,
          cpu_percent:
            cpuNow !== undefined && cpuBefore !== undefined && dt > 0 ? rate(cpuNow, cpuBefore) * 100 : null,
          event_loop_lag_seconds: lag,
          event_loop_utilization: latest.threadElu.get(thread) ?? 0,
          heap_used_bytes: latest.threadHeap.get(thread) ?? 0,
        });
      }
      threads.sort(
        (a, b) =>
          threadRank(a.thread) - threadRank(b.thread) ||
          a.thread.localeCompare(b.thread, 'en', { numeric: true }),
      );
    }

    const counts = { inflight: 0, failing: 0, delivered: 0 };
    for (const s of shards) {
      counts.inflight += s.counts.inflight;
      counts.failing += s.counts.failing;
      counts.delivered += s.counts.delivered;
    }
    const backoffs = latest ? [...latest.backoffByTable.values()] : [];
    return {
      now: new Date(now).toISOString(),
      started_at: new Date(this.startedAt).toISOString(),
      uptime_seconds: Math.round((now - this.startedAt) / 1000),
      ready: readiness.ready,
      reasons: readiness.reasons,
      role: {
        role: reader?.ha.role ?? 'starting',
        since: reader?.ha.since ?? null,
        active_host: reader?.ha.active?.host ?? null,
        active_pid: reader?.ha.active?.pid ?? null,
      },
      source: {
        database: info.database,
        slot: info.slot,
        publication: info.publication,
        streaming: reader?.streaming ?? false,
        confirmed_lsn: reader?.confirmedLsn ?? null,
        lag_bytes: latest?.lagBytes ?? 0,
        last_error: reader?.lastError ?? null,
        tables_without_identity: info.tablesWithoutIdentity,
      },
      sink: {
        servers: info.natsServers,
        jetstream: info.jetstream,
        subject_prefix: info.subjectPrefix,
        connected_shards: shards.filter((s) => s.natsConnected).length,
        shards: shards.length,
        max_backoff_seconds: info.maxBackoffMs / 1000,
      },
      totals: {
        published: latest?.published ?? 0,
        received: latest?.received ?? 0,
        retries: latest?.retries ?? 0,
        published_per_s: latest && base ? rate(latest.published, base.published) : 0,
        received_per_s: latest && base ? rate(latest.received, base.received) : 0,
        retries_per_s: latest && base ? rate(latest.retries, base.retries) : 0,
        latency_p50_seconds: latest && base ? quantileBetween(base.latency, latest.latency, 0.5) : null,
        latency_p99_seconds: latest && base ? quantileBetween(base.latency, latest.latency, 0.99) : null,
        mailbox_depth: latest?.mailbox ?? 0,
        max_backoff_seconds: backoffs.length ? Math.max(...backoffs) : 0,
        failing_tables: backoffs.filter((b) => b > 0).length,
      },
      messages: counts,
      backfills: latest?.backfills ?? [],
      tables,
      shards: shards.map((s) => ({
        shard: s.shard,
        nats_connected: s.natsConnected,
        undelivered: s.undelivered,
        inflight: s.counts.inflight,
        failing: s.counts.failing,
      })),
      threads,
      process: {
        pid: process.pid,
        node: process.version,
        rss_bytes: latest?.rss ?? process.memoryUsage.rss(),
        cpu_percent: latest && base && dt > 0 ? rate(latest.processCpu, base.processCpu) * 100 : null,
      },
      history: this.points.slice(),
    };
  }

  /** The newest sample taken at or before `t`, else the oldest one. */
  private sampleBefore(t: number): Sample | undefined {
    for (let i = this.samples.length - 2; i >= 0; i--) if (this.samples[i]!.t <= t) return this.samples[i];
    return this.samples.length > 1 ? this.samples[0] : undefined;
  }
}

function threadRank(thread: string): number {
  return thread === 'main' ? 0 : thread === 'reader' ? 1 : 2;
}

function readSample(t: number, metrics: MetricsJson): Sample {
  const publishedByTableAction = new Map<string, Record<string, number>>();
  for (const metric of metrics) {
    if (metric.name !== 'wal2nats_messages_published_total') continue;
    for (const { labels, value } of metric.values) {
      const table = String(labels.table ?? '');
      const byAction = publishedByTableAction.get(table) ?? {};
      const action = String(labels.action ?? '');
      byAction[action] = (byAction[action] ?? 0) + value;
      publishedByTableAction.set(table, byAction);
    }
  }
  return {
    t,
    published: num(total(metrics, 'wal2nats_messages_published_total')),
    received: num(total(metrics, 'wal2nats_changes_received_total')),
    retries: num(total(metrics, 'wal2nats_publish_retries_total')),
    lagBytes: num(total(metrics, 'wal2nats_replication_lag_bytes')),
    mailbox: num(total(metrics, 'wal2nats_mailbox_depth')),
    backoffByTable: sumBy(metrics, 'wal2nats_backoff_seconds', 'table'),
    publishedByTable: sumBy(metrics, 'wal2nats_messages_published_total', 'table'),
    publishedByTableAction,
    retriesByTable: sumBy(metrics, 'wal2nats_publish_retries_total', 'table'),
    latency: buckets(metrics, 'wal2nats_end_to_end_latency_seconds'),
    threadCpu: sumBy(metrics, 'wal2nats_thread_cpu_seconds_total', 'thread'),
    threadLag: sumBy(metrics, 'wal2nats_event_loop_lag_seconds', 'thread'),
    threadElu: sumBy(metrics, 'wal2nats_event_loop_utilization', 'thread'),
    threadHeap: sumBy(metrics, 'wal2nats_thread_heap_used_bytes', 'thread'),
    processCpu: num(total(metrics, 'process_cpu_seconds_total')),
    rss: num(total(metrics, 'process_resident_memory_bytes')),
    backfills: runningBackfills(metrics),
  };
}

function point(before: Sample, after: Sample): OverviewPoint {
  const dt = (after.t - before.t) / 1000;
  const rate = (a: number, b: number): number => (dt > 0 ? Math.max(0, a - b) / dt : 0);
  const backoffs = [...after.backoffByTable.values()];
  return {
    t: after.t,
    published_per_s: rate(after.published, before.published),
    received_per_s: rate(after.received, before.received),
    retries_per_s: rate(after.retries, before.retries),
    lag_bytes: after.lagBytes,
    mailbox_depth: after.mailbox,
    max_backoff_seconds: backoffs.length ? Math.max(...backoffs) : 0,
    failing_tables: backoffs.filter((b) => b > 0).length,
    latency_p50_seconds: quantileBetween(before.latency, after.latency, 0.5),
    latency_p99_seconds: quantileBetween(before.latency, after.latency, 0.99),
  };
}
