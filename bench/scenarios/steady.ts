/**
 * `steady`: wal2nats (default options) runs on an empty slot while a rate-controlled writer
 * (lib/steady-writer.ts) commits small transactions at a fixed rate for a while, one rate after
 * the other. Latency of every change = its arrival time at the bench's subscriber −
 * `metadata.commit_timestamp` (Postgres's commit time, microsecond precision; both clocks are
 * this machine's). "Kept up" = when the writer stopped, fewer than one second's worth of
 * changes were still on their way, and every change arrived.
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import type { Client } from 'pg';
import { Wal2NatsProcess } from '../../test/support/wal2nats-process.js';
import { disposeLayout, prepareLayout } from '../lib/layout.js';
import { memoryStatus } from '../lib/proc-stats.js';
import { fmt, MiB, say, sleep } from '../lib/report.js';
import { writeSteady } from '../lib/steady-writer.js';
import type { BenchContext } from './types.js';

const TS_KEY = Buffer.from('"commit_timestamp":"');
const WRITERS = 4;

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
   * The bench process's own event-loop delay (its subscriber shares the loop with the writer):
   * if this is large, the latencies above include the bench's own lateness.
   */
  benchLoopDelayMs: { p99: number; max: number };
  /** Per second of the phase: [second, arrivals, max latency ms] — shows whether the tail is periodic stalls. */
  perSecond: Array<[second: number, arrivals: number, maxLatencyMs: number]>;
}

let lastIso = '';
let lastMs = NaN;

/** Unix ms (fractional) of `"commit_timestamp":"2026-11-28T22:51:01.123456Z"` in a raw body. */
function commitTimeMs(buf: Buffer): number {
  const at = buf.indexOf(TS_KEY);
  if (at < 0) return NaN;
  const iso = buf.toString('latin1', at + TS_KEY.length, at + TS_KEY.length + 27);
  // A transaction's changes share their commit time: parse it once (keeps the subscriber light).
  if (iso !== lastIso) {
    lastIso = iso;
    lastMs = Date.parse(`${iso.slice(0, 23)}Z`) + Number(iso.slice(23, 26)) / 1000;
  }
  return lastMs;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export async function steadyScenario(ctx: BenchContext, rates: number[], seconds: number): Promise<{ data: SteadyPhase[]; failures: string[] }> {
  const failures: string[] = [];
  const layout = await prepareLayout(ctx.pg, { database: 'steady', tables: 8, changes: 0, slots: [] });
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
  let received = 0;
  let latencies = new Float64Array(1 << 20);
  let n = 0;
  let unparsable = 0;
  let phaseStart = performance.now();
  let perSecond: Array<[number, number, number]> = [];
  const sub = ctx.nc.subscribe('sequin.changes.steady.>', {
    callback: (_err, msg) => {
      const now = performance.timeOrigin + performance.now();
      received++;
      const d = msg.data;
      const t = commitTimeMs(Buffer.from(d.buffer, d.byteOffset, d.byteLength));
      if (Number.isNaN(t)) {
        unparsable++;
        return;
      }
      if (n === latencies.length) {
        const bigger = new Float64Array(latencies.length * 2);
        bigger.set(latencies);
        latencies = bigger;
      }
      const latency = now - t;
      latencies[n++] = latency;
      const second = Math.floor((performance.now() - phaseStart) / 1000);
      const bucket = (perSecond[second] ??= [second, 0, 0]);
      bucket[1]++;
      if (latency > bucket[2]) bucket[2] = latency;
    },
  });
  await ctx.nc.flush();
  const proc = new Wal2NatsProcess(
    ['run', '--postgres-url', layout.url, '--nats-url', ctx.nats.url, '--http-port', '0', '--slot', 'steady'],
    {},
    { verbose: ctx.verbose },
  );
  const phases: SteadyPhase[] = [];
  try {
    await proc.streamingTimed(60_000);
    let written = 0;
    let idBase = 0;
    // A short warm-up so that the first rate does not measure start-up (JIT, connections).
    say('steady: warm-up (3 s at 2,000 changes/s)');
    const warm = await writeSteady(clients, { rate: 2000, seconds: 3, tables: 8, idBase });
    written += warm.changes;
    idBase += 1_000_000_000;
    await waitDelivered(() => received, written, 20_000);
    const stallMs = 20_000;
    for (const rate of rates) {
      say(`steady: ${fmt(rate)} changes/s for ${seconds} s`);
      n = 0;
      perSecond = [];
      phaseStart = performance.now();
      const receivedBefore = received;
      let peak = 0;
      const loopDelay = monitorEventLoopDelay({ resolution: 10 });
      loopDelay.enable();
      const poll = setInterval(() => {
        const m = memoryStatus(proc.pid);
        if (m) peak = Math.max(peak, m.rss);
      }, 200);
      const w = await writeSteady(clients, {
        rate,
        seconds,
        tables: 8,
        idBase,
        onProgress: (c) => say(`  steady ${fmt(rate)}/s: written ${fmt(c)}, delivered ${fmt(received - receivedBefore)}, backlog ${fmt(written + c - received)}`),
      });
      idBase += 1_000_000_000;
      written += w.changes;
      const backlog = written - received;
      const drained = await waitDelivered(() => received, written, stallMs);
      clearInterval(poll);
      loopDelay.disable();
      const deliveredAt = performance.now();
      const delivered = received - receivedBefore;
      const sorted = latencies.slice(0, n).sort();
      const phase: SteadyPhase = {
        targetRate: rate,
        seconds: w.seconds,
        written: w.changes,
        writeRate: w.changesPerSecond,
        delivered,
        // Delivered over the writer's time plus the tail it needed to catch up.
        deliveredRate: delivered / (w.seconds + (drained ? Math.max(0, (deliveredAt - drained.since) / 1000) : 0)),
        backlogAtWriterEnd: backlog,
        latencyMs: { p50: percentile(sorted, 50), p95: percentile(sorted, 95), p99: percentile(sorted, 99), max: sorted[sorted.length - 1] ?? NaN },
        keptUp: backlog < w.changesPerSecond && drained !== undefined,
        peakRssMiB: peak / MiB,
        benchLoopDelayMs: { p99: loopDelay.percentile(99) / 1e6, max: loopDelay.max / 1e6 },
        perSecond: Array.from(perSecond, (b, i) => b ?? [i, 0, 0]).map(([sec, count, max]) => [sec, count, Math.round(max * 10) / 10]),
      };
      phases.push(phase);
      if (!drained) failures.push(`steady ${rate}/s: ${fmt(written - received)} changes still missing, no progress for ${stallMs / 1000} s after the writer stopped`);
      say(
        `  steady ${fmt(rate)}/s: wrote ${fmt(w.changesPerSecond)}/s, latency p50 ${fmt(phase.latencyMs.p50, 1)} p99 ${fmt(phase.latencyMs.p99, 1)} max ${fmt(phase.latencyMs.max, 1)} ms, ` +
          `backlog at end ${fmt(backlog)}, ${phase.keptUp ? 'kept up' : 'did NOT keep up'}; bench event-loop delay p99 ${fmt(phase.benchLoopDelayMs.p99, 1)} ms`,
      );
      await sleep(500);
    }
    if (received !== written) failures.push(`steady: ${fmt(received)} messages arrived for ${fmt(written)} changes written`);
    if (unparsable > 0) failures.push(`steady: ${unparsable} messages without a commit_timestamp`);
    const { exit, killed } = await proc.terminate(30_000);
    if (killed || exit.code !== 0) failures.push(`steady: wal2nats exited with ${JSON.stringify(exit)}${killed ? ' (killed)' : ''} after SIGTERM`);
  } catch (err) {
    failures.push(`steady: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    sub.unsubscribe();
    if (proc.running) await proc.terminate(10_000);
    for (const c of clients) await c.end().catch(() => {});
    await layout.client.query("SELECT pg_drop_replication_slot('steady') FROM pg_replication_slots WHERE slot_name = 'steady' AND NOT active").catch(() => {});
    await disposeLayout(layout);
  }
  return { data: phases, failures };
}

/**
 * Waits until `count()` reaches `target` (a backlog left by a rate wal2nats could not keep up
 * with may take a while: only a stall of `stallMs` gives up); resolves with when the wait
 * began, or undefined on a stall.
 */
async function waitDelivered(count: () => number, target: number, stallMs: number): Promise<{ since: number } | undefined> {
  const since = performance.now();
  let last = count();
  let lastProgress = since;
  while (count() < target) {
    const now = performance.now();
    if (count() !== last) {
      last = count();
      lastProgress = now;
    } else if (now - lastProgress > stallMs) {
      return undefined;
    }
    await sleep(5);
  }
  return { since };
}
