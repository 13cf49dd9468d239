/**
 * `pnpm bench` — the "drain" benchmark: how fast wal2nats empties a pre-filled slot.
 *
 * 1. Starts a throwaway Postgres and nats-server (test/harness).
 * 2. Creates a database with 8 tables of ~200-byte rows, the publication and the slot, then
 *    writes N changes (60 % inserts, 30 % updates, 10 % deletes; transactions of ~100 changes
 *    over two tables each) so that the slot holds them all before wal2nats starts.
 * 3. Subscribes to `sequin.changes.>` (count, bytes, per-table order check), starts the built
 *    CLI (`--slot bench --shards 2`) and measures until all N messages have arrived: from
 *    process start and from its "streaming from the slot" log line. Samples the process's RSS
 *    every 200 ms and reads its CPU time (utime+stime) when the last message arrives.
 * 4. Stops wal2nats with SIGTERM (exit 0 expected), checks the slot was confirmed up to the
 *    last change, prints a table and writes bench/results/drain-<timestamp>.json.
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
import { mkdirSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Client } from 'pg';
import { startNats, startPostgres, waitFor } from '../test/harness/index.js';
import type { NatsServer, PgServer } from '../test/harness/index.js';
import { natsServerBin } from '../test/harness/binaries.js';
import { OrderChecker } from './lib/order-check.js';
import { cpuSeconds, findPidByCmdline, loadAverage, machineBusySeconds, machineInfo, memoryStatus, threadCpu } from './lib/proc-stats.js';
import { Wal2NatsChild } from './lib/wal2nats-child.js';
import { ACTIONS, schemaSql, writeWorkload } from './lib/workload.js';
import type { Action } from './lib/workload.js';

const DATABASE = 'bench';
const SLOT = 'bench';
const PUBLICATION = 'wal2nats';

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
    'Usage: pnpm bench [--changes N | --quick] [--shards N] [--tables N] [--txn-size N] [--runs N]\n' +
      '                  [--profile DIR] [--timeout S] [--stall-timeout S] [--verbose] [--no-json]\n' +
      '                  [-- <more wal2nats run options>]\n',
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

// ---------------------------------------------------------------- helpers

const say = (text: string) => process.stderr.write(`[bench] ${text}\n`);
const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const MiB = 1024 * 1024;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function natsServerVersion(): string {
  try {
    return execFileSync(natsServerBin(), ['--version'], { encoding: 'utf8' }).trim().replace(/^nats-server:\s*/, '');
  } catch {
    return 'unknown';
  }
}

async function walsenderPid(client: Client): Promise<number | undefined> {
  const r = await client.query<{ active_pid: number | null }>('SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1', [SLOT]);
  return r.rows[0]?.active_pid ?? undefined;
}

/** The slot's confirmed_flush_lsn as an integer (bytes), comparable with metadata.commit_lsn. */
async function confirmedFlush(client: Client): Promise<number> {
  const r = await client.query<{ lsn: string | null }>(
    "SELECT (confirmed_flush_lsn - '0/0'::pg_lsn)::text AS lsn FROM pg_replication_slots WHERE slot_name = $1",
    [SLOT],
  );
  return Number(r.rows[0]?.lsn ?? 0);
}

// ---------------------------------------------------------------- the run

interface Results {
  [key: string]: unknown;
}

async function runOnce(run: number): Promise<{ failures: string[]; results: Results }> {
  const failures: string[] = [];
  const results: Results = {};
  let pg: PgServer | undefined;
  let nats: NatsServer | undefined;
  let client: Client | undefined;
  let child: Wal2NatsChild | undefined;
  let checker: OrderChecker | undefined;
  let nc: Awaited<ReturnType<NatsServer['connect']>> | undefined;
  const timers: NodeJS.Timeout[] = [];

  try {
    const loadBefore = loadAverage();
    say(`${runs > 1 ? `run ${run}/${runs}: ` : ''}drain: ${fmt(changes)} changes over ${tables} tables, transactions of ~${txnSize}, wal2nats --shards ${shards}`);
    [pg, nats] = await Promise.all([
      startPostgres({
        extraConf: {
          // The harness already sets fsync, synchronous_commit and full_page_writes off.
          shared_buffers: '256MB',
          wal_buffers: '16MB',
          max_wal_size: '8GB',
          checkpoint_timeout: '1h',
          autovacuum: 'off',
          logical_decoding_work_mem: '256MB',
        },
      }),
      // Core NATS only. A generous write deadline and pending limit: if the bench's own
      // subscriber falls behind, the server must not cut it off as a slow consumer.
      startNats({ jetstream: false, config: 'write_deadline: "60s"\nmax_pending: 536870912' }),
    ]);
    const dbUrl = await pg.createDatabase(DATABASE);
    client = await pg.connect(DATABASE);
    const pgVersion = (await client.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]!.v;
    results.environment = {
      ...machineInfo(),
      node: process.version,
      postgres: pgVersion,
      natsServer: natsServerVersion(),
    };

    await client.query(schemaSql(tables));
    await client.query(`CREATE PUBLICATION ${PUBLICATION} FOR ALL TABLES WITH (publish_via_partition_root = true)`);
    await client.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [SLOT]);

    let lastReport = 0;
    const workload = await writeWorkload(client, {
      changes,
      tables,
      txnSize,
      onProgress: (written) => {
        if (written - lastReport >= changes / 5 || written === changes) {
          lastReport = written;
          say(`  wrote ${fmt(written)} / ${fmt(changes)} changes`);
        }
      },
    });
    const walBytes = Number(
      (
        await client.query<{ b: string }>(
          "SELECT (pg_current_wal_lsn() - restart_lsn)::text AS b FROM pg_replication_slots WHERE slot_name = $1",
          [SLOT],
        )
      ).rows[0]!.b,
    );
    say(
      `  wrote ${fmt(changes)} changes in ${fmt(workload.transactions)} transactions in ${fmt(workload.seconds, 2)} s ` +
        `(${fmt(walBytes / MiB, 1)} MiB of WAL in the slot)`,
    );
    results.workload = {
      changes,
      tables,
      txnSize,
      transactions: workload.transactions,
      writeSeconds: workload.seconds,
      walBytes,
      expected: workload.expected,
    };
    if (workload.reportedRows !== changes) {
      throw new Error(`the workload wrote ${workload.reportedRows} rows, expected ${changes} (bench bug)`);
    }

    // The consumer, subscribed before wal2nats starts.
    nc = await nats.connect();
    checker = new OrderChecker(`sequin.changes.${DATABASE}.public.`, changes);
    checker.start(nc, 'sequin.changes.>');
    await nc.flush();

    const natsPid = findPidByCmdline(nats.configFile);
    const natsCpu0 = natsPid ? cpuSeconds(natsPid) ?? 0 : 0;
    const benchCpu0 = process.cpuUsage();
    const machineBusy0 = machineBusySeconds();

    const nodeFlags = opts.profile ? ['--cpu-prof', `--cpu-prof-dir=${opts.profile}`] : [];
    if (opts.profile) mkdirSync(opts.profile, { recursive: true });
    const args = ['run', '--postgres-url', dbUrl, '--nats-url', nats.url, '--http-port', '0', '--slot', SLOT, '--shards', String(shards), ...passThrough];
    say(`starting wal2nats ${nodeFlags.join(' ')} ${args.slice(1).join(' ')}`.replace(/\s+/g, ' '));
    const proc = new Wal2NatsChild(args, { nodeFlags, verbose: opts.verbose });
    child = proc;
    const t0 = proc.startedAt;

    // RSS every 200 ms, with the message count: a timeline for the JSON (ramp-up, stalls).
    let peakRss = 0;
    const timeline: Array<[seconds: number, received: number, rssMiB: number]> = [];
    const sampleRss = () => {
      const m = memoryStatus(proc.pid);
      if (m) peakRss = Math.max(peakRss, m.rss);
      timeline.push([Math.round(performance.now() - t0) / 1000, checker!.received, Math.round((m?.rss ?? 0) / MiB)]);
    };
    timers.push(setInterval(sampleRss, 200));

    // When streaming starts: its time, the CPU spent so far, the walsender's pid.
    let streamingAt: number | undefined;
    let startupCpu: number | undefined;
    let walsender: { pid: number; cpu0: number } | undefined;
    const streaming = proc.streaming(60_000).then(async (l) => {
      streamingAt = l.at;
      startupCpu = cpuSeconds(proc.pid);
      const pid = await waitFor(() => walsenderPid(client!), { what: 'the walsender of the slot', timeoutMs: 5_000 }).catch(() => undefined);
      // The walsender is a new backend for wal2nats's replication connection: all its CPU is this run's.
      if (pid) walsender = { pid, cpu0: 0 };
    });

    // Progress every second, and the watchdog: a stall, the overall timeout, an early exit.
    let lastCount = 0;
    let lastChangeAt = performance.now();
    let failRun: (err: Error) => void = () => {};
    const runFailed = new Promise<never>((_, reject) => {
      failRun = reject;
    });
    runFailed.catch(() => {});
    timers.push(
      setInterval(() => {
        const now = performance.now();
        const count = checker!.received;
        const rate = count - lastCount;
        if (count !== lastCount) lastChangeAt = now;
        lastCount = count;
        const m = memoryStatus(proc.pid);
        const since = streamingAt === undefined ? 'not streaming yet' : `streaming ${fmt((now - streamingAt) / 1000, 1)} s`;
        say(
          `  ${fmt((now - t0) / 1000, 1).padStart(6)} s  ${fmt(count).padStart(9)} / ${fmt(changes)}  ` +
            `${fmt(rate).padStart(8)} msg/s  rss ${m ? fmt(m.rss / MiB) : '?'} MiB  (${since})`,
        );
        if (checker!.error) failRun(new Error(`subscription failed: ${checker!.error.message}`));
        else if (now - t0 > timeoutMs) failRun(new Error(`timed out after ${timeoutMs / 1000} s with ${fmt(count)} of ${fmt(changes)} messages`));
        else if (now - lastChangeAt > stallMs)
          failRun(new Error(`no message for ${stallMs / 1000} s (stalled at ${fmt(count)} of ${fmt(changes)}); wal2nats log:\n${proc.tail()}`));
      }, 1000),
    );
    void proc.exited.then((exit) => failRun(new Error(`wal2nats exited early (${JSON.stringify(exit)}); log:\n${proc.tail()}`)));

    await Promise.race([Promise.all([checker.done(), streaming]), runFailed]);

    // The measurement point: read CPU and memory before anything else happens.
    const doneAt = checker.doneAt!;
    const cpuTotal = cpuSeconds(proc.pid) ?? NaN;
    const threads = threadCpu(proc.pid);
    const mem = memoryStatus(proc.pid);
    sampleRss();
    const walsenderCpu = walsender ? (cpuSeconds(walsender.pid) ?? NaN) - walsender.cpu0 : NaN;
    const natsCpu = natsPid ? (cpuSeconds(natsPid) ?? NaN) - natsCpu0 : NaN;
    const benchCpu = process.cpuUsage(benchCpu0);
    const machineBusy = machineBusySeconds() - machineBusy0;
    for (const t of timers.splice(0)) clearInterval(t);

    // Anything beyond N (duplicates) in the next half second is a failure in a fault-free drain.
    await sleep(500);
    await nc.flush();
    const check = checker.result();
    const extra = check.received - changes;

    // The slot must be confirmed up to the last change: soon while running, for sure after a clean stop.
    const confirmWaitStart = performance.now();
    const confirmedWhileRunning = await waitFor(async () => (await confirmedFlush(client!)) > check.maxCommitLsn, {
      what: 'the slot to be confirmed past the last commit',
      timeoutMs: 15_000,
      intervalMs: 50,
    }).then(
      () => performance.now() - confirmWaitStart,
      () => undefined,
    );

    say('stopping wal2nats (SIGTERM)');
    const stopStart = performance.now();
    const { exit, killed } = await proc.stop(30_000);
    const stopSeconds = (performance.now() - stopStart) / 1000;
    const confirmedAfterStop = await confirmedFlush(client);

    // ------------------------------------------------------------ checks
    if (killed) failures.push(`wal2nats did not exit within 30 s of SIGTERM (killed)`);
    else if (exit.code !== 0) failures.push(`wal2nats exited with ${JSON.stringify(exit)} after SIGTERM, expected code 0`);
    if (check.violations > 0) {
      failures.push(`${check.violations} per-table order violations, e.g. ${JSON.stringify(check.violationSamples.slice(0, 3))}`);
    }
    if (check.unparsable > 0) failures.push(`${check.unparsable} messages without a readable commit_lsn/commit_idx`);
    if (extra > 0) failures.push(`${extra} messages beyond the ${changes} written (duplicates)`);
    for (const [table, byAction] of Object.entries(workload.expected)) {
      for (const action of ACTIONS) {
        const got = check.counts[table]?.[action] ?? 0;
        if (got !== byAction[action as Action]) failures.push(`${table} ${action}: received ${got}, expected ${byAction[action as Action]}`);
      }
    }
    for (const table of Object.keys(check.counts)) {
      if (!(table in workload.expected)) failures.push(`messages for an unexpected table ${table}`);
    }
    if (confirmedAfterStop <= check.maxCommitLsn) {
      failures.push(`after a clean stop the slot is confirmed at ${confirmedAfterStop}, not past the last commit_lsn ${check.maxCommitLsn}`);
    }
    const problems = proc.problems();

    // ------------------------------------------------------------ figures
    const fromStart = (doneAt - t0) / 1000;
    const fromStreaming = streamingAt === undefined ? NaN : (doneAt - streamingAt) / 1000;
    const warmRate = (changes - checker.quarter) / ((doneAt - checker.quarterAt!) / 1000);
    const firstMessage = checker.firstAt === undefined ? NaN : (checker.firstAt - t0) / 1000;
    const peak = Math.max(peakRss, mem?.hwm ?? 0);
    const drainCpu = startupCpu === undefined ? NaN : cpuTotal - startupCpu;
    const benchCpuSeconds = (benchCpu.user + benchCpu.system) / 1e6;
    // What the rest of the machine (other people's jobs) burnt meanwhile: a noise indicator.
    const otherCpu = machineBusy - cpuTotal - (walsender ? walsenderCpu : 0) - (natsPid ? natsCpu : 0) - benchCpuSeconds;
    const nproc = (results.environment as { nproc: number }).nproc;
    Object.assign(results, {
      wal2nats: { shards, args: args.filter((a) => !a.startsWith('postgres://')), nodeFlags },
      seconds: {
        fromStart,
        fromStreaming,
        toStreaming: streamingAt === undefined ? NaN : (streamingAt - t0) / 1000,
        toFirstMessage: firstMessage,
        slotConfirmedAfterLastMessage: confirmedWhileRunning === undefined ? null : confirmedWhileRunning / 1000,
        stop: stopSeconds,
      },
      changesPerSecond: { fromStart: changes / fromStart, fromStreaming: changes / fromStreaming, afterFirstQuarter: warmRate },
      payload: {
        bytes: check.payloadBytes,
        avgBytes: check.payloadBytes / Math.max(1, check.received),
        mbPerSecondFromStart: check.payloadBytes / 1e6 / fromStart,
        mbPerSecondFromStreaming: check.payloadBytes / 1e6 / fromStreaming,
      },
      cpu: {
        wal2nats: { total: cpuTotal, startup: startupCpu ?? null, drain: drainCpu, per100k: (cpuTotal / changes) * 1e5, drainPer100k: (drainCpu / changes) * 1e5 },
        wal2natsThreads: threads.slice(0, 12),
        walsender: walsender ? walsenderCpu : null,
        natsServer: natsPid ? natsCpu : null,
        benchSubscriber: benchCpuSeconds,
        machineBusy,
        otherProcesses: otherCpu,
        otherProcessesShareOfMachine: otherCpu / (nproc * fromStart),
        loadAverageBefore: loadBefore,
      },
      memory: { peakRssMiB: peak / MiB, sampledPeakRssMiB: peakRss / MiB, vmHwmMiB: (mem?.hwm ?? 0) / MiB },
      check: {
        received: check.received,
        extra,
        violations: check.violations,
        violationSamples: check.violationSamples,
        unparsable: check.unparsable,
        maxCommitLsn: check.maxCommitLsn,
        confirmedFlushAfterStop: confirmedAfterStop,
        counts: check.counts,
      },
      exit,
      timeline,
      warnings: problems.slice(0, 20),
      failures,
      ok: failures.length === 0,
    });

    // ------------------------------------------------------------ report
    const row = (label: string, a: string, b = '') => `| ${label.padEnd(38)} | ${a.padStart(14)} | ${b.padStart(14)} |`;
    const out = [
      '',
      `drain: ${fmt(changes)} changes, ${tables} tables, ${shards} shards — ${failures.length === 0 ? 'OK' : 'FAILED'}` +
        (otherCpu / (nproc * fromStart) >= 0.15 ? ` (NOISY: other processes used ${fmt((otherCpu / (nproc * fromStart)) * 100)} % of the CPUs)` : ''),
      row('', 'from start', 'from streaming'),
      `|${'-'.repeat(40)}|${'-'.repeat(16)}|${'-'.repeat(16)}|`,
      row('changes', fmt(changes), fmt(changes)),
      row('seconds', fmt(fromStart, 2), fmt(fromStreaming, 2)),
      row('changes/s', fmt(changes / fromStart), fmt(changes / fromStreaming)),
      row('MB/s of payload (avg ' + fmt(check.payloadBytes / Math.max(1, check.received)) + ' B)', fmt(check.payloadBytes / 1e6 / fromStart, 1), fmt(check.payloadBytes / 1e6 / fromStreaming, 1)),
      row('changes/s after the first 25 % (warm)', '', fmt(warmRate)),
      row('CPU s per 100k changes (wal2nats)', fmt((cpuTotal / changes) * 1e5, 2), fmt((drainCpu / changes) * 1e5, 2)),
      row('peak RSS MiB (wal2nats)', fmt(peak / MiB), ''),
      '',
      `time to "streaming from the slot" ${fmt((streamingAt ?? NaN) / 1000 - t0 / 1000, 2)} s, to first message ${fmt(firstMessage, 2)} s; ` +
        `slot confirmed ${confirmedWhileRunning === undefined ? 'NOT within 15 s' : `${fmt(confirmedWhileRunning)} ms`} after the last message; stop took ${fmt(stopSeconds, 2)} s`,
      `CPU s during the run: wal2nats ${fmt(cpuTotal, 2)} (startup ${fmt(startupCpu ?? NaN, 2)}), walsender ${fmt(walsenderCpu, 2)}, ` +
        `nats-server ${fmt(natsCpu, 2)}, bench subscriber ${fmt(benchCpuSeconds, 2)}; ` +
        `other processes ${fmt(otherCpu, 2)} (${fmt((otherCpu / (nproc * fromStart)) * 100)} % of the ${nproc} CPUs; load before ${loadBefore})`,
      `wal2nats threads (CPU s): ${threads.slice(0, 8).map((t) => `${t.tid === proc.pid ? 'main' : t.name}#${t.tid} ${fmt(t.cpuSeconds, 2)}`).join(', ')}`,
      `order check: ${fmt(check.received)} messages checked, ${check.violations} violations, ${extra > 0 ? extra : 0} extra`,
    ];
    if (problems.length > 0) out.push(`wal2nats logged ${problems.length} warnings/errors, first: ${JSON.stringify(problems[0])}`);
    for (const f of failures) out.push(`FAILURE: ${f}`);
    process.stdout.write(out.join('\n') + '\n');
    return { failures, results };
  } catch (err) {
    failures.push(err instanceof Error ? err.message : String(err));
    results.failures = failures;
    results.ok = false;
    if (checker) results.received = checker.received;
    process.stdout.write(`\ndrain: FAILED\n${failures.map((f) => `FAILURE: ${f}`).join('\n')}\n`);
    return { failures, results };
  } finally {
    for (const t of timers) clearInterval(t);
    checker?.stop();
    if (child?.running) {
      const { exit } = await child.stop(10_000);
      say(`wal2nats stopped: ${JSON.stringify(exit)}`);
    }
    await nc?.close().catch(() => {});
    await client?.end().catch(() => {});
    await Promise.allSettled([nats?.dispose(), pg?.dispose()]);
  }
}

const startedAt = new Date();
const hardStop = setTimeout(() => {
  say('the benchmark did not finish within its hard limit: exiting');
  process.exit(1);
}, runs * (timeoutMs + 120_000));
hardStop.unref();

const all: Array<{ failures: string[]; results: Results }> = [];
for (let run = 1; run <= runs; run++) {
  const outcome = await runOnce(run);
  all.push(outcome);
  if (outcome.failures.length > 0) break; // a broken pipeline: no point measuring it again
}
const failed = all.some((o) => o.failures.length > 0);

interface RunFigures {
  seconds: { fromStart: number; fromStreaming: number };
  changesPerSecond: { fromStart: number; fromStreaming: number; afterFirstQuarter: number };
  payload: { mbPerSecondFromStart: number; mbPerSecondFromStreaming: number };
  cpu: { wal2nats: { per100k: number; drainPer100k: number }; otherProcessesShareOfMachine: number };
  memory: { peakRssMiB: number };
}
const ok = all.filter((o) => o.failures.length === 0).map((o) => o.results as unknown as RunFigures);
// Runs during which other processes used less than this share of the machine's CPUs.
const QUIET = 0.15;
const quiet = ok.filter((r) => r.cpu.otherProcessesShareOfMachine < QUIET);
type Summary = Record<string, { min: number; median: number; max: number }>;
function summarise(set: RunFigures[]): Summary {
  const stat = (pick: (r: RunFigures) => number) => {
    const v = set.map(pick).sort((a, b) => a - b);
    const mid = Math.floor(v.length / 2);
    return { min: v[0]!, median: v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2, max: v[v.length - 1]! };
  };
  return {
    secondsFromStart: stat((r) => r.seconds.fromStart),
    secondsFromStreaming: stat((r) => r.seconds.fromStreaming),
    changesPerSecondFromStart: stat((r) => r.changesPerSecond.fromStart),
    changesPerSecondFromStreaming: stat((r) => r.changesPerSecond.fromStreaming),
    changesPerSecondWarm: stat((r) => r.changesPerSecond.afterFirstQuarter),
    mbPerSecondFromStreaming: stat((r) => r.payload.mbPerSecondFromStreaming),
    cpuSecondsPer100k: stat((r) => r.cpu.wal2nats.per100k),
    drainCpuSecondsPer100k: stat((r) => r.cpu.wal2nats.drainPer100k),
    peakRssMiB: stat((r) => r.memory.peakRssMiB),
    otherProcessesShareOfMachine: stat((r) => r.cpu.otherProcessesShareOfMachine),
  };
}
function printSummary(title: string, summary: Summary): void {
  const lines = [`\n${title} (min / median / max):`];
  for (const [key, v] of Object.entries(summary)) {
    const digits = v.max < 100 ? 2 : 0;
    lines.push(`  ${key.padEnd(32)} ${fmt(v.min, digits).padStart(10)} ${fmt(v.median, digits).padStart(10)} ${fmt(v.max, digits).padStart(10)}`);
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
    printSummary(`summary of the ${quiet.length} quiet runs (other processes < ${QUIET * 100} % of the CPUs)`, quietSummary);
  }
}

if (!opts['no-json']) {
  const dir = fileURLToPath(new URL('./results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  const file = `${dir}drain-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`;
  const body =
    runs === 1
      ? { scenario: 'drain', startedAt: startedAt.toISOString(), ...all[0]!.results }
      : { scenario: 'drain', startedAt: startedAt.toISOString(), ok: !failed, summary, quietSummary, runs: all.map((o) => o.results) };
  writeFileSync(file, JSON.stringify(body, null, 2) + '\n');
  say(`results written to ${file}`);
}
process.exit(failed ? 1 : 0);
