/**
 * `oltp`: what wal2nats costs next to a database of many small transactions. wal2nats (default
 * options) runs on an empty slot while a writer (lib/oltp-writer.ts) commits one-row
 * transactions (inserts and updates over 4 tables) at a fixed rate — 100, 1,000 and 5,000
 * transactions/s by default, 20 s each — and, first, while nothing is written at all (idle).
 *
 * Per phase:
 * - wal2nats's CPU: user + system time of all its threads from /proc/<pid>/stat, from the
 *   writer's start to the last arrival, per transaction and as a share of one core. CPU time
 *   hardly depends on what else the machine runs, unlike latency;
 * - its wake-ups: context switches of all its threads (/proc/<pid>/task/<tid>/status) per
 *   transaction, voluntary (a thread blocked and was woken) and involuntary (preempted);
 * - latency at a subscriber (arrival − commit_timestamp, as in `steady`) and wal2nats's own
 *   commit → NATS confirmed p99, and the CPU that processes outside the run took meanwhile.
 */
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { Client } from 'pg';
import { Wal2NatsProcess } from '../../test/support/wal2nats-process.js';
import { ForeignCpuMonitor, type ForeignCpu } from '../lib/foreign-cpu.js';
import { LatencySubscriber } from '../lib/latency-subscriber.js';
import { disposeLayout, prepareLayout } from '../lib/layout.js';
import { writeOltp } from '../lib/oltp-writer.js';
import { contextSwitches, cpuSeconds, memoryStatus, threadCpu } from '../lib/proc-stats.js';
import { fmt, MiB, say, sleep } from '../lib/report.js';
import { latencyBetween, latencyBuckets, type Wal2NatsLatency } from '../lib/wal2nats-latency.js';
import type { BenchContext } from './types.js';

const WRITERS = 4;
const TABLES = 4;
const SLOT = 'oltp';
/** No arrival for this long after the writer stopped: the phase fails. */
const STALL_MS = 20_000;

export interface OltpPhase {
  /** Transactions/s asked for; 0 = idle (nothing written). */
  targetRate: number;
  seconds: number;
  transactions: number;
  transactionsPerSecond: number;
  /** Subscriber side (arrival − commit_timestamp); NaN when idle. */
  latencyMs: { p50: number; p95: number; p99: number; max: number };
  wal2nats: Wal2NatsLatency;
  /** Everything written arrived, and when the writer stopped less than a second's worth was missing. */
  keptUp: boolean;
  cpu: {
    /** wal2nats, all threads, over the phase (writer start → last arrival). */
    seconds: number;
    /** Share of one core over the phase. */
    shareOfCore: number;
    /** ms of CPU per transaction (NaN when idle). */
    msPerTransaction: number;
    /** Per thread (name, tid), CPU seconds over the phase, the busiest first. */
    threads: Array<{ name: string; tid: number; seconds: number }>;
  };
  /** Context switches of all wal2nats threads over the phase, in all and per transaction. */
  wakeUps: { voluntary: number; involuntary: number; voluntaryPerTransaction: number };
  peakRssMiB: number;
  foreignCpu: ForeignCpu;
}

export interface OltpOptions {
  /** Transactions/s of each phase (default 100, 1,000, 5,000). */
  readonly rates: readonly number[];
  /** Seconds per phase (default 20). */
  readonly seconds: number;
  /** Seconds of the idle phase (0 to skip it). */
  readonly idleSeconds: number;
  /** Run wal2nats under `node --cpu-prof` into this directory (`--profile`). */
  readonly profileDir?: string;
  /** More node flags for wal2nats (`--node-flags`), for experiments. */
  readonly nodeFlags?: readonly string[];
}

/** One line per phase for the results table. */
export function oltpTable(phases: readonly OltpPhase[]): string[][] {
  return phases.map((p) => [
    p.targetRate === 0 ? 'idle' : fmt(p.targetRate),
    fmt(p.transactionsPerSecond),
    fmt(p.latencyMs.p50, 1),
    fmt(p.latencyMs.p99, 1),
    fmt(p.latencyMs.max, 1),
    fmt(p.wal2nats.p99Ms ?? NaN, 1),
    p.targetRate === 0 ? '' : p.keptUp ? 'yes' : 'NO',
    fmt(p.cpu.msPerTransaction, 3),
    `${fmt(p.cpu.shareOfCore * 100, 1)} %`,
    fmt(p.wakeUps.voluntaryPerTransaction, 1),
    fmt(p.peakRssMiB),
    `${fmt(p.foreignCpu.share * 100, 1)} (${fmt(p.foreignCpu.worstMs)})`,
  ]);
}

export const OLTP_TABLE_HEADER = [
  'target tx/s',
  'written tx/s',
  'p50 ms',
  'p99 ms',
  'max ms',
  'wal2nats p99 ms',
  'kept up',
  'wal2nats CPU ms/tx',
  'wal2nats % of a core',
  'wake-ups/tx',
  'peak RSS MiB',
  'others % (worst s, ms)',
];

/** Per-thread CPU seconds between two readings, busiest first. */
function threadDelta(
  before: ReturnType<typeof threadCpu>,
  after: ReturnType<typeof threadCpu>,
): OltpPhase['cpu']['threads'] {
  const start = new Map(before.map((t) => [t.tid, t.cpuSeconds]));
  return after
    .map((t) => ({
      name: t.name,
      tid: t.tid,
      seconds: Math.round((t.cpuSeconds - (start.get(t.tid) ?? 0)) * 1000) / 1000,
    }))
    .filter((t) => t.seconds > 0)
    .sort((a, b) => b.seconds - a.seconds);
}

export async function oltpScenario(
  ctx: BenchContext,
  options: OltpOptions,
): Promise<{ data: OltpPhase[]; failures: string[] }> {
  const failures: string[] = [];
  const layout = await prepareLayout(ctx.pg, { database: 'oltp', tables: TABLES, changes: 0, slots: [] });
  const clients: Client[] = [];
  for (let i = 0; i < WRITERS; i++) {
    const client = await ctx.pg.connect('oltp');
    // As in `steady`: with the harness's synchronous_commit off, a commit would reach the
    // walsender up to wal_writer_delay (200 ms) later.
    await client.query('SET synchronous_commit = on');
    clients.push(client);
  }
  const sub = await LatencySubscriber.start(ctx.nats.url, 'sequin.changes.oltp.>');
  const proc = new Wal2NatsProcess(
    ['run', '--postgres-url', layout.url, '--nats-url', ctx.nats.url, '--http-port', '0', '--slot', SLOT],
    {},
    {
      verbose: ctx.verbose,
      nodeFlags: [
        ...(options.nodeFlags ?? []),
        ...(options.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${options.profileDir}`] : []),
      ],
    },
  );
  const phases: OltpPhase[] = [];
  let written = 0;
  let idBase = 0;
  try {
    await proc.streamingTimed(60_000);
    const httpBase = await proc.httpBase();
    // Warm-up (JIT, young generations): not measured.
    for (const rate of [1000, Math.max(...options.rates)]) {
      say(`oltp: warm-up (3 s at ${fmt(rate)} transactions/s)`);
      await sub.startPhase();
      written += (await writeOltp(clients, { rate, seconds: 3, tables: TABLES, idBase })).transactions;
      idBase += 1_000_000_000;
      await sub.endPhase(written, performance.timeOrigin + performance.now(), STALL_MS);
    }
    await sleep(1000);
    for (const rate of [...(options.idleSeconds > 0 ? [0] : []), ...options.rates]) {
      const seconds = rate === 0 ? options.idleSeconds : options.seconds;
      say(rate === 0 ? `oltp: idle for ${seconds} s` : `oltp: ${fmt(rate)} transactions/s for ${seconds} s`);
      let peak = 0;
      const poll = setInterval(() => {
        const m = memoryStatus(proc.pid);
        if (m) peak = Math.max(peak, m.rss);
      }, 200);
      await sub.startPhase();
      const bucketsBefore = await latencyBuckets(httpBase);
      const foreign = new ForeignCpuMonitor(cpus().length);
      const receivedBefore = sub.received;
      const startedAt = performance.now();
      const cpuBefore = cpuSeconds(proc.pid) ?? NaN;
      const threadsBefore = threadCpu(proc.pid);
      const switchesBefore = contextSwitches(proc.pid);
      const w =
        rate === 0
          ? await sleep(seconds * 1000).then(() => ({ transactions: 0, seconds, transactionsPerSecond: 0 }))
          : await writeOltp(clients, {
              rate,
              seconds,
              tables: TABLES,
              idBase,
              onProgress: (n) =>
                say(
                  `  oltp ${fmt(rate)}/s: written ${fmt(n)}, delivered ~${fmt(sub.received - receivedBefore)}`,
                ),
            });
      const writerEndAt = performance.timeOrigin + performance.now();
      idBase += 1_000_000_000;
      written += w.transactions;
      const a = await sub.endPhase(written, writerEndAt, STALL_MS);
      // Up to the last arrival: the CPU that the phase's transactions cost, tail included.
      const cpuAfter = cpuSeconds(proc.pid) ?? NaN;
      const threadsAfter = threadCpu(proc.pid);
      const switchesAfter = contextSwitches(proc.pid);
      const elapsed = (performance.now() - startedAt) / 1000;
      const foreignCpu = foreign.stop();
      clearInterval(poll);
      const wal2nats = latencyBetween(bucketsBefore, await latencyBuckets(httpBase));
      const cpu = cpuAfter - cpuBefore;
      const voluntary =
        switchesAfter && switchesBefore ? switchesAfter.voluntary - switchesBefore.voluntary : NaN;
      const involuntary =
        switchesAfter && switchesBefore ? switchesAfter.involuntary - switchesBefore.involuntary : NaN;
      const backlog = written - (receivedBefore + a.arrivedByWriterEnd);
      const phase: OltpPhase = {
        targetRate: rate,
        seconds: w.seconds,
        transactions: w.transactions,
        transactionsPerSecond: w.transactionsPerSecond,
        latencyMs: a.latencyMs,
        wal2nats,
        keptUp: a.drained && backlog < Math.max(1, w.transactionsPerSecond),
        cpu: {
          seconds: cpu,
          shareOfCore: cpu / elapsed,
          msPerTransaction: w.transactions > 0 ? (cpu * 1000) / w.transactions : NaN,
          threads: threadDelta(threadsBefore, threadsAfter),
        },
        wakeUps: {
          voluntary,
          involuntary,
          voluntaryPerTransaction: w.transactions > 0 ? voluntary / w.transactions : NaN,
        },
        peakRssMiB: peak / MiB,
        foreignCpu,
      };
      phases.push(phase);
      if (!a.drained)
        failures.push(
          `oltp ${rate}/s: ${fmt(written - sub.received)} transactions still missing, no progress for ${STALL_MS / 1000} s after the writer stopped`,
        );
      say(
        `  oltp ${rate === 0 ? 'idle' : `${fmt(rate)}/s`}: wrote ${fmt(w.transactionsPerSecond)}/s, latency p50 ${fmt(phase.latencyMs.p50, 1)} p99 ${fmt(phase.latencyMs.p99, 1)} ms ` +
          `(wal2nats p99 ${fmt(wal2nats.p99Ms ?? NaN, 1)}); wal2nats CPU ${fmt(cpu, 2)} s = ${fmt(phase.cpu.shareOfCore * 100, 1)} % of a core, ${fmt(phase.cpu.msPerTransaction, 3)} ms/tx, ` +
          `${fmt(voluntary)} voluntary + ${fmt(involuntary)} involuntary context switches (${fmt(phase.wakeUps.voluntaryPerTransaction, 1)}/tx); ` +
          `busiest threads ${phase.cpu.threads
            .slice(0, 5)
            .map((t) => `${t.name} ${fmt(t.seconds, 2)}`)
            .join(', ')}; ` +
          `others ${fmt(foreignCpu.share * 100, 1)} % of the machine (worst second ${fmt(foreignCpu.worstMs)} ms)`,
      );
    }
    // Late extras (duplicates) would show up here. One-row transactions: one message each.
    await sleep(500);
    const received = await sub.count();
    if (received !== written)
      failures.push(
        `oltp: ${fmt(received)} messages arrived for ${fmt(written)} one-row transactions written`,
      );
    if (sub.unparsable > 0) failures.push(`oltp: ${sub.unparsable} messages without a commit_timestamp`);
    const { exit, killed } = await proc.terminate(30_000);
    if (killed || exit.code !== 0)
      failures.push(
        `oltp: wal2nats exited with ${JSON.stringify(exit)}${killed ? ' (killed)' : ''} after SIGTERM`,
      );
  } catch (err) {
    failures.push(`oltp: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    await sub.stop();
    if (proc.running) await proc.terminate(10_000);
    for (const c of clients) await c.end().catch(() => {});
    await layout.client
      .query(
        `SELECT pg_drop_replication_slot('${SLOT}') FROM pg_replication_slots WHERE slot_name = '${SLOT}' AND NOT active`,
      )
      .catch(() => {});
    await disposeLayout(layout);
  }
  return { data: phases, failures };
}
