/**
 * `node --import tsx bench/drain.ts` (`pnpm bench:drain`) — the `drain` scenario alone, with
 * what it takes to measure one change to wal2nats: repeated runs with fresh servers, a CPU
 * profile, extra `wal2nats run` options. The measurement and its checks are the scenario's
 * (bench/lib/drain-wal2nats.ts, described in docs/benchmarks.md):
 *
 * 1. Starts a throwaway Postgres and nats-server (core only), creates database `bench` with the
 *    workload's tables, the publication and slot `bench`, then writes N changes (60 % inserts,
 *    30 % updates, 10 % deletes; transactions of ~100 changes over two tables) before wal2nats
 *    starts.
 * 2. Starts the built CLI (`--slot bench --shards 2`) and measures until all N messages have
 *    arrived at a subscriber: from process start and from its "streaming from the slot" line;
 *    CPU of all threads, peak RSS; per-table order, exact counts, slot confirmed, exit 0.
 *
 * Options: --changes N (100000) | --quick (20000) | --shards N (2) | --tables N (8)
 *          --txn-size N (100) | --profile DIR (run wal2nats with --cpu-prof into DIR)
 *          --runs N (1: repeat with fresh servers, print min/median/max)
 *          --timeout SECONDS (600, per run) | --stall-timeout SECONDS (60) | --verbose (echo wal2nats logs)
 *          --no-json | -- <more wal2nats run options>
 * The machine's CPU used by other processes during each run is reported as a noise indicator.
 * Exit code 0 when every check passed, 1 otherwise. Never hangs: every wait has a deadline.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { natsServerBin } from '../test/harness/binaries.js';
import { drainWal2nats } from './lib/drain-wal2nats.js';
import type { DrainResult } from './lib/drain-wal2nats.js';
import { BENCH_POSTGRES_CONF, disposeLayout, prepareLayout } from './lib/layout.js';
import type { Layout } from './lib/layout.js';
import { loadAverage, machineInfo } from './lib/proc-stats.js';
import { fmt, say } from './lib/report.js';
import { withServers, writeResult } from './lib/servers.js';

const DATABASE = 'bench';
const SLOT = 'bench';

// ---------------------------------------------------------------- options

const { values: opts, positionals: passThrough } = parseArgs({
  allowPositionals: true,
  options: {
    changes: { type: 'string' },
    quick: { type: 'boolean', default: false },
    shards: { type: 'string', default: '2' },
    tables: { type: 'string', default: '8' },
    'txn-size': { type: 'string', default: '100' },
    profile: { type: 'string' },
    timeout: { type: 'string', default: '600' },
    'stall-timeout': { type: 'string', default: '60' },
    runs: { type: 'string', default: '1' },
    verbose: { type: 'boolean', default: false },
    'no-json': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});

if (opts.help) {
  process.stdout.write(
    'Usage: pnpm bench:drain [--changes N | --quick] [--shards N] [--tables N] [--txn-size N] [--runs N]\n' +
      '                        [--profile DIR] [--timeout S] [--stall-timeout S] [--verbose] [--no-json]\n' +
      '                        [-- <more wal2nats run options>]\n',
  );
  process.exit(0);
}

function positiveInt(name: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0) {
    process.stderr.write(`--${name} must be a positive integer, got ${JSON.stringify(text)}\n`);
    process.exit(2);
  }
  return n;
}

const changes = positiveInt('changes', opts.changes ?? (opts.quick ? '20000' : '100000'));
const shards = positiveInt('shards', opts.shards);
const tables = positiveInt('tables', opts.tables);
const txnSize = positiveInt('txn-size', opts['txn-size']);
const timeoutMs = positiveInt('timeout', opts.timeout) * 1000;
const stallMs = positiveInt('stall-timeout', opts['stall-timeout']) * 1000;
const runs = positiveInt('runs', opts.runs);

function natsServerVersion(): string {
  try {
    return execFileSync(natsServerBin(), ['--version'], { encoding: 'utf8' })
      .trim()
      .replace(/^nats-server:\s*/, '');
  } catch {
    return 'unknown';
  }
}

// ---------------------------------------------------------------- one run

interface Outcome {
  failures: string[];
  results: Record<string, unknown>;
  drain?: DrainResult;
}

async function runOnce(run: number): Promise<Outcome> {
  const results: Record<string, unknown> = {};
  const loadBefore = loadAverage();
  say(
    `${runs > 1 ? `run ${run}/${runs}: ` : ''}drain: ${fmt(changes)} changes over ${tables} tables, transactions of ~${txnSize}, wal2nats --shards ${shards}`,
  );
  try {
    return await withServers(
      // Core NATS only. A generous write deadline and pending limit: if the bench's own
      // subscriber falls behind, the server must not cut it off as a slow consumer.
      {
        postgres: { extraConf: BENCH_POSTGRES_CONF },
        nats: { jetstream: false, config: 'write_deadline: "60s"\nmax_pending: 536870912' },
      },
      async ({ pg, nats, nc }) => {
        const pgVersion = (await pg.query<{ v: string }>("SELECT current_setting('server_version') AS v"))
          .rows[0]!.v;
        results.environment = {
          ...machineInfo(),
          node: process.version,
          postgres: pgVersion,
          natsServer: natsServerVersion(),
        };
        let layout: Layout | undefined;
        try {
          let lastReport = 0;
          layout = await prepareLayout(pg, {
            database: DATABASE,
            tables,
            changes,
            txnSize,
            slots: [SLOT],
            onProgress: (written) => {
              if (written - lastReport >= changes / 5 || written === changes) {
                lastReport = written;
                say(`  wrote ${fmt(written)} / ${fmt(changes)} changes`);
              }
            },
          });
          say(
            `  wrote ${fmt(changes)} changes in ${fmt(layout.workload.transactions)} transactions in ${fmt(layout.workload.seconds, 2)} s (${fmt(layout.walBytes / 1024 / 1024, 1)} MiB of WAL in the slot)`,
          );
          results.workload = {
            changes,
            tables,
            txnSize,
            transactions: layout.workload.transactions,
            writeSeconds: layout.workload.seconds,
            walBytes: layout.walBytes,
            expected: layout.workload.expected,
          };
          const nodeFlags = opts.profile ? ['--cpu-prof', `--cpu-prof-dir=${opts.profile}`] : [];
          if (opts.profile) mkdirSync(opts.profile, { recursive: true });
          const drain = await drainWal2nats({
            layout,
            slot: SLOT,
            nats,
            nc,
            label: 'drain',
            shards,
            extraArgs: passThrough,
            nodeFlags,
            verbose: opts.verbose,
            timeoutMs,
            stallMs,
          });
          const { samples: _samples, ...figures } = drain;
          Object.assign(results, figures, { cpu: { ...drain.cpu, loadAverageBefore: loadBefore } });
          report(drain, loadBefore, (results.environment as { nproc: number }).nproc);
          return { failures: drain.failures, results, drain };
        } finally {
          if (layout) await disposeLayout(layout);
        }
      },
    );
  } catch (err) {
    const failures = [err instanceof Error ? err.message : String(err)];
    process.stdout.write(`\ndrain: FAILED\n${failures.map((f) => `FAILURE: ${f}`).join('\n')}\n`);
    return { failures, results: { ...results, failures, ok: false } };
  }
}

function report(d: DrainResult, loadBefore: number, nproc: number): void {
  const row = (label: string, a: string, b = '') =>
    `| ${label.padEnd(38)} | ${a.padStart(14)} | ${b.padStart(14)} |`;
  const noisy =
    d.cpu.otherProcessesShareOfMachine >= 0.15
      ? ` (NOISY: other processes used ${fmt(d.cpu.otherProcessesShareOfMachine * 100)} % of the CPUs)`
      : '';
  const mbFromStart = d.payload.bytes / 1e6 / d.seconds.fromStart;
  const out = [
    '',
    `drain: ${fmt(d.changes)} changes, ${d.tables} tables, ${d.shards} shards — ${d.ok ? 'OK' : 'FAILED'}${noisy}`,
    row('', 'from start', 'from streaming'),
    `|${'-'.repeat(40)}|${'-'.repeat(16)}|${'-'.repeat(16)}|`,
    row('changes', fmt(d.changes), fmt(d.changes)),
    row('seconds', fmt(d.seconds.fromStart, 2), fmt(d.seconds.fromStreaming, 2)),
    row('changes/s', fmt(d.changesPerSecond.fromStart), fmt(d.changesPerSecond.fromStreaming)),
    row(
      `MB/s of payload (avg ${fmt(d.payload.avgBytes)} B)`,
      fmt(mbFromStart, 1),
      fmt(d.payload.mbPerSecondFromStreaming, 1),
    ),
    row('changes/s after the first 25 % (warm)', '', fmt(d.changesPerSecond.afterFirstQuarter)),
    row('CPU s per 100k changes (wal2nats)', fmt(d.cpu.per100k, 2), fmt(d.cpu.drainPer100k, 2)),
    row('peak RSS MiB (wal2nats)', fmt(d.memory.peakRssMiB), ''),
    '',
    `time to "streaming from the slot" ${fmt(d.seconds.toStreaming, 2)} s, to first message ${fmt(d.seconds.toFirstMessage, 2)} s; ` +
      `slot confirmed ${d.seconds.slotConfirmedAfterLastMessage === null ? 'NOT within 15 s' : `${fmt(d.seconds.slotConfirmedAfterLastMessage * 1000)} ms`} after the last message; stop took ${fmt(d.seconds.stop, 2)} s`,
    `CPU s during the run: wal2nats ${fmt(d.cpu.wal2nats, 2)} (startup ${fmt(d.cpu.startup ?? NaN, 2)}), walsender ${fmt(d.cpu.walsender ?? NaN, 2)}, ` +
      `nats-server ${fmt(d.cpu.natsServer ?? NaN, 2)}, bench subscriber ${fmt(d.cpu.benchSubscriber, 2)}; ` +
      `other processes ${fmt(d.cpu.otherProcessesShareOfMachine * 100)} % of the ${nproc} CPUs; load before ${loadBefore}`,
    `wal2nats threads (CPU s): ${d.cpu.threads
      .slice(0, 8)
      .map((t) => `${t.name}#${t.tid} ${fmt(t.cpuSeconds, 2)}`)
      .join(', ')}`,
  ];
  if (d.warnings.length > 0)
    out.push(`wal2nats logged ${d.warnings.length} warnings/errors, first: ${JSON.stringify(d.warnings[0])}`);
  for (const f of d.failures) out.push(`FAILURE: ${f}`);
  process.stdout.write(out.join('\n') + '\n');
}

// ---------------------------------------------------------------- runs and summary

const startedAt = new Date();
const hardStop = setTimeout(
  () => {
    say('the benchmark did not finish within its hard limit: exiting');
    process.exit(1);
  },
  runs * (timeoutMs + 120_000),
);
hardStop.unref();

const all: Outcome[] = [];
for (let run = 1; run <= runs; run++) {
  const outcome = await runOnce(run);
  all.push(outcome);
  if (outcome.failures.length > 0) break; // a broken pipeline: no point measuring it again
}
const failed = all.some((o) => o.failures.length > 0);

const ok = all.filter((o) => o.failures.length === 0 && o.drain).map((o) => o.drain!);
// Runs during which other processes used less than this share of the machine's CPUs.
const QUIET = 0.15;
const quiet = ok.filter((r) => r.cpu.otherProcessesShareOfMachine < QUIET);
type Summary = Record<string, { min: number; median: number; max: number }>;
function summarise(set: DrainResult[]): Summary {
  const stat = (pick: (r: DrainResult) => number) => {
    const v = set.map(pick).sort((a, b) => a - b);
    const mid = Math.floor(v.length / 2);
    return {
      min: v[0]!,
      median: v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2,
      max: v[v.length - 1]!,
    };
  };
  return {
    secondsFromStart: stat((r) => r.seconds.fromStart),
    secondsFromStreaming: stat((r) => r.seconds.fromStreaming),
    changesPerSecondFromStart: stat((r) => r.changesPerSecond.fromStart),
    changesPerSecondFromStreaming: stat((r) => r.changesPerSecond.fromStreaming),
    changesPerSecondWarm: stat((r) => r.changesPerSecond.afterFirstQuarter),
    mbPerSecondFromStreaming: stat((r) => r.payload.mbPerSecondFromStreaming),
    cpuSecondsPer100k: stat((r) => r.cpu.per100k),
    drainCpuSecondsPer100k: stat((r) => r.cpu.drainPer100k),
    peakRssMiB: stat((r) => r.memory.peakRssMiB),
    otherProcessesShareOfMachine: stat((r) => r.cpu.otherProcessesShareOfMachine),
  };
}
function printSummary(title: string, summary: Summary): void {
  const lines = [`\n${title} (min / median / max):`];
  for (const [key, v] of Object.entries(summary)) {
    const digits = v.max < 100 ? 2 : 0;
    lines.push(
      `  ${key.padEnd(32)} ${fmt(v.min, digits).padStart(10)} ${fmt(v.median, digits).padStart(10)} ${fmt(v.max, digits).padStart(10)}`,
    );
  }
  process.stdout.write(lines.join('\n') + '\n');
}
let summary: Summary | undefined;
let quietSummary: Summary | undefined;
if (ok.length > 1) {
  summary = summarise(ok);
  printSummary(`summary of ${ok.length} runs`, summary);
  if (quiet.length > 0 && quiet.length < ok.length) {
    quietSummary = summarise(quiet);
    printSummary(
      `summary of the ${quiet.length} quiet runs (other processes < ${QUIET * 100} % of the CPUs)`,
      quietSummary,
    );
  }
}

if (!opts['no-json']) {
  const body =
    runs === 1
      ? { scenario: 'drain', startedAt: startedAt.toISOString(), ...all[0]!.results }
      : {
          scenario: 'drain',
          startedAt: startedAt.toISOString(),
          ok: !failed,
          summary,
          quietSummary,
          runs: all.map((o) => o.results),
        };
  const file = writeResult('drain', JSON.stringify(body, null, 2) + '\n', 'json', startedAt);
  say(`results written to ${file}`);
}
process.exit(failed ? 1 : 0);
