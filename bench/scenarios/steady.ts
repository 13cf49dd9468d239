/**
 * `steady`: wal2nats (default options) runs on an empty slot while a rate-controlled writer
 * (lib/steady-writer.ts) commits small transactions at a fixed rate for a while, one rate after
 * the other. Latency of every change = its arrival time at a subscriber −
 * `metadata.commit_timestamp` (Postgres's commit time, microsecond precision; both clocks are
 * this machine's). The subscriber runs in a process of its own (lib/latency-subscriber.ts): in
 * the bench's process, the writer's event loop delayed its arrival stamps. "Kept up" = when the
 * writer stopped, fewer than one second's worth of changes were still on their way, and every
 * change arrived.
 *
 * Postgres's own share of that latency: a second logical slot (pgoutput, the same publication),
 * read during the same phases by a bare reader in a process of its own
 * (lib/postgres-latency-probe.ts): receipt of each change at that reader − the commit timestamp of
 * its Begin message. Subscriber minus probe ≈ what wal2nats adds. The probe's walsender decodes
 * the same WAL a second time: a little extra load on the 2 CPUs, for both measurements.
 */
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { Client } from 'pg';
import { Wal2NatsProcess } from '../../test/support/wal2nats-process.js';
import { LatencySubscriber, loopDelayMs, monitorLoop } from '../lib/latency-subscriber.js';
import { disposeLayout, prepareLayout } from '../lib/layout.js';
import { PostgresLatencyProbe } from '../lib/postgres-latency-probe.js';
import { memoryStatus } from '../lib/proc-stats.js';
import { fmt, MiB, say, sleep } from '../lib/report.js';
import { writeSteady } from '../lib/steady-writer.js';
import { latencyBetween, latencyBuckets, type Wal2NatsLatency } from '../lib/wal2nats-latency.js';
import { ForeignCpuMonitor, type ForeignCpu } from '../lib/foreign-cpu.js';
import type { BenchContext } from './types.js';

const WRITERS = 4;
/** The probe's slot (wal2nats's own is `steady`, created by wal2nats). */
const PROBE_SLOT = 'steady_pg_probe';

export interface SteadyPhase {
  targetRate: number;
  seconds: number;
  written: number;
  writeRate: number;
  delivered: number;
  deliveredRate: number;
  backlogAtWriterEnd: number;
  latencyMs: { p50: number; p95: number; p99: number; max: number };
  keptUp: boolean;
  peakRssMiB: number;
  /**
   * The bench process's own event-loop delay (the writer's process: how late its pacing may be),
   * beyond the 10 ms sampling interval (see lib/latency-subscriber.ts `loopDelayMs`).
   */
  benchLoopDelayMs: { p99: number; max: number };
  /**
   * The subscriber process's own event-loop delay: if this is large, the latencies above
   * include the measurement's own lateness.
   */
  subscriberLoopDelayMs: { p99: number; max: number };
  /**
   * wal2nats's own histogram over the phase (lib/wal2nats-latency.ts): commit → NATS confirmed
   * the publish, per table and cycle. Against the subscriber's figures it shows how much of the
   * tail comes before NATS's confirmation and how much after.
   */
  wal2nats: Wal2NatsLatency;
  /** CPU of processes not of this run during the phase (lib/foreign-cpu.ts). */
  foreignCpu: ForeignCpu;
  /** Per second of the phase: [second, arrivals, max latency ms] — shows whether the tail is periodic stalls. */
  perSecond: Array<[second: number, arrivals: number, maxLatencyMs: number]>;
  /**
   * The same phase at the Postgres latency probe (lib/postgres-latency-probe.ts): receipt of each
   * change from Postgres − its commit timestamp, without wal2nats and NATS. `delivered` = row
   * changes it received in the phase; `drained` = it received every change written.
   */
  postgres?: {
    delivered: number;
    drained: boolean;
    latencyMs: { p50: number; p95: number; p99: number; max: number };
    /** The probe process's own event-loop delay: how late its receipt stamps may be. */
    probeLoopDelayMs: { p99: number; max: number };
    perSecond: Array<[second: number, arrivals: number, maxLatencyMs: number]>;
  };
}

/** Now as Unix ms, on the same clock as the subscriber's arrival stamps. */
const epochNow = (): number => performance.timeOrigin + performance.now();

/**
 * `withPostgresProbe` (`--steady-postgres-probe`) adds the probe. It is off by default because its
 * second walsender decodes the same WAL on the same 2 vCPUs and makes wal2nats's own figures worse.
 */
export interface SteadyOptions {
  /** Also run the Postgres latency probe (`--steady-postgres-probe`). */
  readonly withPostgresProbe?: boolean;
  /** Run wal2nats under `node --cpu-prof` into this directory (`--profile`). */
  readonly profileDir?: string;
  /** More node flags for wal2nats (`--node-flags`), for experiments. */
  readonly nodeFlags?: readonly string[];
}

export async function steadyScenario(
  ctx: BenchContext,
  rates: number[],
  seconds: number,
  options: SteadyOptions = {},
): Promise<{ data: SteadyPhase[]; failures: string[] }> {
  const { withPostgresProbe = false, profileDir, nodeFlags = [] } = options;
  const failures: string[] = [];
  const layout = await prepareLayout(ctx.pg, {
    database: 'steady',
    tables: 8,
    changes: 0,
    slots: withPostgresProbe ? [PROBE_SLOT] : [],
  });
  const clients: Client[] = [];
  for (let i = 0; i < WRITERS; i++) {
    const client = await ctx.pg.connect('steady');
    // The harness runs Postgres with synchronous_commit off (fast bulk writes), under which a
    // commit reaches the WAL on disk — and the walsender, which only sends flushed WAL — up to
    // wal_writer_delay (200 ms) later: that would be measured as wal2nats latency. Commit as
    // applications usually do (fsync stays off, so a flush costs little).
    await client.query('SET synchronous_commit = on');
    clients.push(client);
  }
  // Subscribed (and known to the server) before wal2nats starts, so that nothing is missed.
  const sub = await LatencySubscriber.start(ctx.nats.url, 'sequin.changes.steady.>');
  // Its slot exists since prepareLayout (before any write): it sees every change too.
  let probe: PostgresLatencyProbe | undefined;
  const proc = new Wal2NatsProcess(
    ['run', '--postgres-url', layout.url, '--nats-url', ctx.nats.url, '--http-port', '0', '--slot', 'steady'],
    {},
    {
      verbose: ctx.verbose,
      nodeFlags: [...nodeFlags, ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [])],
    },
  );
  const phases: SteadyPhase[] = [];
  try {
    await proc.streamingTimed(60_000);
    const httpBase = await proc.httpBase();
    if (withPostgresProbe) probe = await PostgresLatencyProbe.start(layout.url, PROBE_SLOT);
    let written = 0;
    let idBase = 0;
    const stallMs = 20_000;
    // A warm-up so that no rate measures start-up: 3 s at 2,000 changes/s, then 3 s at each rate.
    // After only the first part, the first 20,000/s phase spent its first ~3 s at latencies of
    // 300-400 ms (JIT and V8's young generation growing to the new allocation rate, in wal2nats
    // and in the bench's own processes), and a second 20,000/s phase right after it had a p99
    // of 40 ms (docs/benchmarks.md).
    for (const [rate, secs] of [[2000, 3], ...rates.map((r) => [r, 3])] as const) {
      say(`steady: warm-up (${secs} s at ${fmt(rate)} changes/s)`);
      await Promise.all([sub.startPhase(), probe?.startPhase()]);
      const warm = await writeSteady(clients, { rate, seconds: secs, tables: 8, idBase });
      written += warm.changes;
      idBase += 1_000_000_000;
      const warmEnd = epochNow();
      await Promise.all([
        sub.endPhase(written, warmEnd, stallMs),
        probe?.endPhase(written, warmEnd, stallMs),
      ]);
    }
    for (const rate of rates) {
      say(`steady: ${fmt(rate)} changes/s for ${seconds} s`);
      let peak = 0;
      const loopDelay = monitorLoop();
      const poll = setInterval(() => {
        const m = memoryStatus(proc.pid);
        if (m) peak = Math.max(peak, m.rss);
      }, 200);
      // The writer starts only once the subscriber has reset: every arrival from now on is this phase's.
      await Promise.all([sub.startPhase(), probe?.startPhase()]);
      const bucketsBefore = await latencyBuckets(httpBase);
      const foreign = new ForeignCpuMonitor(cpus().length);
      const receivedBefore = sub.received;
      const w = await writeSteady(clients, {
        rate,
        seconds,
        tables: 8,
        idBase,
        // Progress only: the subscriber's count is up to 200 ms old here.
        onProgress: (c) =>
          say(
            `  steady ${fmt(rate)}/s: written ${fmt(c)}, delivered ~${fmt(sub.received - receivedBefore)}, backlog ~${fmt(written + c - sub.received)}`,
          ),
      });
      const writerEndAt = epochNow();
      const foreignCpu = foreign.stop();
      idBase += 1_000_000_000;
      written += w.changes;
      // The subscriber answers once everything written so far has arrived (or on a stall), and
      // knows from its arrival stamps how many had arrived when the writer stopped.
      const [a, pgA] = await Promise.all([
        sub.endPhase(written, writerEndAt, stallMs),
        probe?.endPhase(written, writerEndAt, stallMs),
      ]);
      clearInterval(poll);
      loopDelay.disable();
      const wal2nats = latencyBetween(bucketsBefore, await latencyBuckets(httpBase));
      const backlog = written - (receivedBefore + a.arrivedByWriterEnd);
      const phase: SteadyPhase = {
        targetRate: rate,
        seconds: w.seconds,
        written: w.changes,
        writeRate: w.changesPerSecond,
        delivered: a.arrivals,
        // Delivered over the writer's time plus the tail it needed to catch up.
        deliveredRate:
          a.arrivals / (w.seconds + (a.drained ? Math.max(0, (a.drainedAt - writerEndAt) / 1000) : 0)),
        backlogAtWriterEnd: backlog,
        latencyMs: a.latencyMs,
        keptUp: backlog < w.changesPerSecond && a.drained,
        peakRssMiB: peak / MiB,
        benchLoopDelayMs: loopDelayMs(loopDelay),
        subscriberLoopDelayMs: a.loopDelayMs,
        wal2nats,
        foreignCpu,
        perSecond: a.perSecond,
        ...(pgA
          ? {
              postgres: {
                delivered: pgA.arrivals,
                drained: pgA.drained,
                latencyMs: pgA.latencyMs,
                probeLoopDelayMs: pgA.loopDelayMs,
                perSecond: pgA.perSecond,
              },
            }
          : {}),
      };
      phases.push(phase);
      if (probe && pgA && !pgA.drained)
        failures.push(
          `steady ${rate}/s: the Postgres latency probe is missing ${fmt(written - probe.received)} changes, no progress for ${stallMs / 1000} s after the writer stopped`,
        );
      else if (pgA && pgA.arrivals !== w.changes)
        failures.push(
          `steady ${rate}/s: the Postgres latency probe received ${fmt(pgA.arrivals)} changes in the phase, ${fmt(w.changes)} written`,
        );
      if (!a.drained)
        failures.push(
          `steady ${rate}/s: ${fmt(written - sub.received)} changes still missing, no progress for ${stallMs / 1000} s after the writer stopped`,
        );
      say(
        `  steady ${fmt(rate)}/s: wrote ${fmt(w.changesPerSecond)}/s, latency p50 ${fmt(phase.latencyMs.p50, 1)} p99 ${fmt(phase.latencyMs.p99, 1)} max ${fmt(phase.latencyMs.max, 1)} ms, ` +
          (pgA
            ? `Postgres (probe) p50 ${fmt(pgA.latencyMs.p50, 1)} p99 ${fmt(pgA.latencyMs.p99, 1)} max ${fmt(pgA.latencyMs.max, 1)} ms, `
            : '') +
          `wal2nats (commit → NATS confirmed) p99 ${fmt(wal2nats.p99Ms ?? NaN, 1)} ms, ${fmt(wal2nats.within50ms * 100, 1)} % within 50 ms; ` +
          `other processes ${fmt(foreignCpu.share * 100, 1)} % of the machine (worst second ${fmt(foreignCpu.worstMs)} ms CPU); ` +
          `backlog at end ${fmt(backlog)}, ${phase.keptUp ? 'kept up' : 'did NOT keep up'}; ` +
          `event-loop delay p99: bench ${fmt(phase.benchLoopDelayMs.p99, 1)} ms, subscriber ${fmt(phase.subscriberLoopDelayMs.p99, 1)} ms`,
      );
      await sleep(500);
    }
    // Late extras (duplicates) would show up here.
    const received = await sub.count();
    if (received !== written)
      failures.push(`steady: ${fmt(received)} messages arrived for ${fmt(written)} changes written`);
    if (probe) {
      const probed = await probe.count();
      if (probed !== written)
        failures.push(
          `steady: the Postgres latency probe received ${fmt(probed)} changes for ${fmt(written)} written`,
        );
      if (probe.unparsable > 0)
        failures.push(
          `steady: the Postgres latency probe received ${probe.unparsable} changes before any Begin`,
        );
    }
    if (sub.unparsable > 0) failures.push(`steady: ${sub.unparsable} messages without a commit_timestamp`);
    const { exit, killed } = await proc.terminate(30_000);
    if (killed || exit.code !== 0)
      failures.push(
        `steady: wal2nats exited with ${JSON.stringify(exit)}${killed ? ' (killed)' : ''} after SIGTERM`,
      );
  } catch (err) {
    failures.push(`steady: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    await sub.stop();
    await probe?.stop();
    if (proc.running) await proc.terminate(10_000);
    for (const c of clients) await c.end().catch(() => {});
    await layout.client
      .query(
        "SELECT pg_drop_replication_slot('steady') FROM pg_replication_slots WHERE slot_name = 'steady' AND NOT active",
      )
      .catch(() => {});
    await disposeLayout(layout);
  }
  return { data: phases, failures };
}
