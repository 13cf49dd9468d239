/**
 * `pnpm bench` — the scenario runner (issue 6). Starts its own Postgres and nats-server
 * (test/harness), runs the named scenarios one after the other with progress on stderr, prints
 * the results table on stdout, writes bench/results/bench-<time>.json and .svg.
 *
 *   drain     N changes pre-written to the slot, drained by wal2nats into core NATS
 *   ceiling   the same WAL read by pg_recvlogical and by a bare reader; a raw NATS publisher
 *   baseline  the same WAL through the simplest one-thread pipeline
 *   steady    fixed write rates; latency commit → subscriber, and whether wal2nats kept up
 *   scaling   1/2/4 shards on 8 tables, 1/8/64 tables on 2 shards
 *   jetstream the drain with --jetstream into a file-backed stream
 *   oltp      one-row transactions at 100, 1,000, 5,000/s: latency, wal2nats CPU and wake-ups per transaction
 *
 * drain, ceiling and baseline read ONE written WAL: one slot per consumer is created before
 * the writes, and the consumers run one after the other (2 cores: they must not compete).
 * `ceiling` needs the drain's messages (sizes and subjects) and its headline needs the drain,
 * so it runs the drain too.
 *
 * Options: --scenario a,b (default: all) | --quick | --changes N (drain, default 1,000,000)
 *          --scaling-changes N | --jetstream-changes N | --steady-rates R,R | --steady-seconds S
 *          --steady-postgres-probe (Postgres's own latency, by a bare reader of a second slot)
 *          --oltp-rates R,R | --oltp-seconds S | --oltp-idle-seconds S
 *          --verbose (echo wal2nats logs) | --no-json
 * Exit code 1 if any correctness check failed (targets missed are reported, not failures).
 */
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { DrainResult } from './lib/drain-wal2nats.js';
import { BENCH_POSTGRES_CONF, disposeLayout, prepareLayout } from './lib/layout.js';
import type { Layout } from './lib/layout.js';
import { loadAverage, machineInfo } from './lib/proc-stats.js';
import { fmt, markdownTable, say } from './lib/report.js';
import { withServers, writeResult } from './lib/servers.js';
import { renderChart } from './lib/svg-chart.js';
import type { Bar } from './lib/svg-chart.js';
import { BASELINE_SLOT, baselineScenario } from './scenarios/baseline.js';
import type { BaselineData } from './scenarios/baseline.js';
import { BARE_SLOT, ceilingScenario, RECVLOGICAL_SLOT } from './scenarios/ceiling.js';
import type { CeilingData } from './scenarios/ceiling.js';
import { DRAIN_SLOT, drainRow, drainScenario } from './scenarios/drain.js';
import { jetstreamScenario } from './scenarios/jetstream.js';
import { scalingScenario } from './scenarios/scaling.js';
import { OLTP_TABLE_HEADER, oltpScenario, oltpTable } from './scenarios/oltp.js';
import type { OltpPhase } from './scenarios/oltp.js';
import { steadyScenario } from './scenarios/steady.js';
import type { SteadyPhase } from './scenarios/steady.js';
import type { BenchContext, ResultRow } from './scenarios/types.js';

const SCENARIOS = ['drain', 'ceiling', 'baseline', 'scaling', 'jetstream', 'steady', 'oltp'] as const;
type Scenario = (typeof SCENARIOS)[number];

const { values: opts } = parseArgs({
  options: {
    scenario: { type: 'string' },
    quick: { type: 'boolean', default: false },
    changes: { type: 'string' },
    'scaling-changes': { type: 'string' },
    'jetstream-changes': { type: 'string' },
    'steady-rates': { type: 'string' },
    'steady-seconds': { type: 'string' },
    'steady-postgres-probe': { type: 'boolean', default: false },
    'oltp-rates': { type: 'string' },
    'oltp-seconds': { type: 'string' },
    'oltp-idle-seconds': { type: 'string' },
    profile: { type: 'string' },
    'node-flags': { type: 'string' },
    verbose: { type: 'boolean', default: false },
    'no-json': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});

if (opts.help) {
  process.stdout.write(
    'Usage: pnpm bench [--scenario drain,ceiling,baseline,scaling,jetstream,steady,oltp] [--quick] [--changes N]\n' +
      '                  [--scaling-changes N] [--jetstream-changes N] [--steady-rates R,R,...] [--steady-seconds S]\n' +
      "                  [--steady-postgres-probe]   (also measure Postgres's own latency on a second slot)\n" +
      '                  [--oltp-rates T,T,...] [--oltp-seconds S] [--oltp-idle-seconds S]   (one-row transactions/s; idle 0 = none)\n' +
      '                  [--node-flags "FLAGS"]   (more node/V8 flags for wal2nats in steady and oltp, for experiments)\n' +
      '                  [--profile DIR]   (run wal2nats under node --cpu-prof in steady and oltp; summarise with bench/profile-summary.ts)\n' +
      '                  [--verbose] [--no-json]\n',
  );
  process.exit(0);
}

function positiveInt(name: string, text: string): number {
  const n = Number(text.replace(/_/g, ''));
  if (!Number.isInteger(n) || n <= 0) {
    process.stderr.write(`--${name} must be a positive whole number, got ${JSON.stringify(text)}\n`);
    process.exit(2);
  }
  return n;
}

const quick = opts.quick;
const selected = new Set<Scenario>();
for (const name of (opts.scenario ?? SCENARIOS.join(','))
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean)) {
  if (!(SCENARIOS as readonly string[]).includes(name)) {
    process.stderr.write(
      `--scenario: unknown scenario ${JSON.stringify(name)}; choose from ${SCENARIOS.join(', ')}\n`,
    );
    process.exit(2);
  }
  selected.add(name as Scenario);
}
const drainChanges = positiveInt('changes', opts.changes ?? (quick ? '100000' : '1000000'));
const scalingChanges = positiveInt(
  'scaling-changes',
  opts['scaling-changes'] ?? (quick ? '15000' : '200000'),
);
const jetstreamChanges = positiveInt(
  'jetstream-changes',
  opts['jetstream-changes'] ?? (quick ? '10000' : '1000000'),
);
const steadyRates = (opts['steady-rates'] ?? (quick ? '5000,20000' : '5000,20000,50000'))
  .split(',')
  .map((r) => positiveInt('steady-rates', r.trim()));
const steadySeconds = positiveInt('steady-seconds', opts['steady-seconds'] ?? (quick ? '8' : '30'));
const oltpRates = (opts['oltp-rates'] ?? (quick ? '100,1000' : '100,1000,5000'))
  .split(',')
  .map((r) => positiveInt('oltp-rates', r.trim()));
const oltpSeconds = positiveInt('oltp-seconds', opts['oltp-seconds'] ?? (quick ? '8' : '20'));
const oltpIdleSeconds =
  opts['oltp-idle-seconds'] === '0'
    ? 0
    : positiveInt('oltp-idle-seconds', opts['oltp-idle-seconds'] ?? (quick ? '5' : '10'));

const startedAt = new Date();
const t0 = performance.now();
const hardStop = setTimeout(() => {
  say('the benchmark did not finish within 40 minutes: exiting');
  process.exit(1);
}, 40 * 60_000);
hardStop.unref();

const rows: ResultRow[] = [];
const failures: string[] = [];
const results: Record<string, unknown> = {};
let drain: DrainResult | undefined;
let ceiling: CeilingData | undefined;
let baseline: BaselineData | undefined;
let steady: SteadyPhase[] | undefined;
let oltp: OltpPhase[] | undefined;
const durations: Record<string, number> = {};

async function timed<T>(name: string, body: () => Promise<T>): Promise<T> {
  const start = performance.now();
  try {
    return await body();
  } finally {
    durations[name] = (performance.now() - start) / 1000;
    say(
      `${name} took ${fmt(durations[name], 1)} s (total so far ${fmt((performance.now() - t0) / 1000, 1)} s)`,
    );
  }
}

await withServers(
  {
    postgres: { extraConf: BENCH_POSTGRES_CONF },
    // JetStream on (for the jetstream scenario; unused by core publishes). A generous write
    // deadline and pending limit: if the bench's own subscriber falls behind, the server must
    // not cut it off as a slow consumer.
    nats: { jetstream: true, config: 'write_deadline: "60s"\nmax_pending: 536870912' },
  },
  async ({ pg, nats, nc }) => {
    const ctx: BenchContext = { pg, nats, nc, quick, verbose: opts.verbose };
    const pgVersion = (await pg.query<{ v: string }>("SELECT current_setting('server_version') AS v"))
      .rows[0]!.v;
    results.environment = {
      ...machineInfo(),
      node: process.version,
      postgres: pgVersion,
      loadAverageBefore: loadAverage(),
    };

    // ---- drain, ceiling, baseline: one WAL, one slot per consumer.
    const wantDrain = selected.has('drain') || selected.has('ceiling');
    if (wantDrain || selected.has('baseline')) {
      const slots = [
        ...(wantDrain ? [DRAIN_SLOT] : []),
        ...(selected.has('ceiling') ? [RECVLOGICAL_SLOT, BARE_SLOT] : []),
        ...(selected.has('baseline') ? [BASELINE_SLOT] : []),
      ];
      let layout: Layout | undefined;
      await timed('write the drain workload', async () => {
        say(
          `writing ${fmt(drainChanges)} changes over 8 tables (~200-byte rows) into ${slots.length} slots: ${slots.join(', ')}`,
        );
        let next = drainChanges / 5;
        layout = await prepareLayout(pg, {
          database: 'bench',
          tables: 8,
          changes: drainChanges,
          slots,
          onProgress: (w) => {
            if (w >= next) {
              say(`  wrote ${fmt(w)} / ${fmt(drainChanges)}`);
              next += drainChanges / 5;
            }
          },
        });
        say(
          `  ${fmt(layout.workload.transactions)} transactions in ${fmt(layout.workload.seconds, 1)} s; ${fmt(layout.walBytes / 1e6, 1)} MB of WAL up to ${layout.endLsn}`,
        );
        results.workload = {
          changes: drainChanges,
          tables: 8,
          transactions: layout.workload.transactions,
          writeSeconds: layout.workload.seconds,
          walBytes: layout.walBytes,
          endLsn: layout.endLsn,
        };
      });
      try {
        if (wantDrain) {
          drain = await timed('drain', () => drainScenario(ctx, layout!, 2000));
          rows.push(drainRow('drain', 'wal2nats, core NATS, 2 shards', drain));
          failures.push(...drain.failures);
          const { samples: _s, ...rest } = drain;
          results.drain = rest;
        }
        if (selected.has('ceiling')) {
          const c = await timed('ceiling', () => ceilingScenario(ctx, layout!, drain?.samples ?? []));
          ceiling = c.data;
          rows.push(...c.rows);
          failures.push(...c.failures);
          results.ceiling = c.data;
        }
        if (selected.has('baseline')) {
          const b = await timed('baseline', () => baselineScenario(ctx, layout!));
          baseline = b.data;
          rows.push(b.row);
          failures.push(...b.data.failures);
          results.baseline = b.data;
        }
      } finally {
        if (layout) await disposeLayout(layout);
      }
    }

    if (selected.has('scaling')) {
      const s = await timed('scaling', () => scalingScenario(ctx, scalingChanges));
      rows.push(...s.rows);
      failures.push(...s.failures);
      results.scaling = s.data;
    }
    if (selected.has('jetstream')) {
      const j = await timed('jetstream', () => jetstreamScenario(ctx, jetstreamChanges));
      rows.push(j.row);
      failures.push(...j.failures);
      results.jetstream = j.data;
    }
    if (selected.has('steady')) {
      const s = await timed('steady', () =>
        steadyScenario(ctx, steadyRates, steadySeconds, {
          withPostgresProbe: opts['steady-postgres-probe'],
          ...(opts.profile ? { profileDir: opts.profile } : {}),
          nodeFlags: (opts['node-flags'] ?? '').split(' ').filter(Boolean),
        }),
      );
      steady = s.data;
      failures.push(...s.failures);
      results.steady = {
        seconds: steadySeconds,
        latencyClock: 'arrival (performance.timeOrigin + now) − metadata.commit_timestamp (µs)',
        postgresLatencyClock:
          'receipt from a second slot (pgoutput, bare reader; performance.timeOrigin + now) − the Begin message commit timestamp (µs)',
        phases: s.data,
      };
    }
    if (selected.has('oltp')) {
      const o = await timed('oltp', () =>
        oltpScenario(ctx, {
          rates: oltpRates,
          seconds: oltpSeconds,
          idleSeconds: oltpIdleSeconds,
          ...(opts.profile ? { profileDir: opts.profile } : {}),
          nodeFlags: (opts['node-flags'] ?? '').split(' ').filter(Boolean),
        }),
      );
      oltp = o.data;
      failures.push(...o.failures);
      results.oltp = {
        seconds: oltpSeconds,
        idleSeconds: oltpIdleSeconds,
        cpuClock:
          "wal2nats utime+stime of all threads (/proc/<pid>/stat), from the writer's start to the last arrival",
        wakeUps: 'voluntary context switches of all wal2nats threads (/proc/<pid>/task/*/status)',
        phases: o.data,
      };
    }
  },
).catch((err: unknown) => {
  failures.push(`the bench crashed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
});

// ---------------------------------------------------------------- report
const totalSeconds = (performance.now() - t0) / 1000;
const out: string[] = [];
out.push('');
out.push(
  `wal2nats bench${quick ? ' --quick' : ''}: ${[...selected].join(', ')} — ${failures.length === 0 ? 'all checks passed' : `${failures.length} FAILED checks`} — ${fmt(totalSeconds, 0)} s in all ` +
    `(${availableParallelism()} CPUs, load before ${(results.environment as { loadAverageBefore?: number } | undefined)?.loadAverageBefore ?? '?'})`,
);
if (rows.length > 0) {
  out.push('');
  out.push(
    markdownTable(
      [
        'scenario',
        'variant',
        'changes',
        'seconds',
        'changes/s',
        'MB/s',
        'CPU s/100k',
        'peak RSS MiB',
        'check',
      ],
      rows.map((r) => [
        r.scenario,
        r.variant,
        fmt(r.changes),
        fmt(r.seconds, 2),
        fmt(r.changesPerSecond),
        r.mbPerSecond === undefined ? '' : fmt(r.mbPerSecond, 1),
        r.cpuPer100k === undefined ? '' : fmt(r.cpuPer100k, 2),
        r.peakRssMiB === undefined ? '' : fmt(r.peakRssMiB),
        r.ok ? 'ok' : 'FAILED',
      ]),
      2,
    ),
  );
  out.push(
    'wal2nats and baseline: from "streaming" to the last arrival at the subscriber; CPU = all threads of the process incl. start-up; peak RSS = VmHWM.',
  );
}
if (steady && steady.length > 0) {
  out.push('');
  out.push(
    `steady (${steadySeconds} s per rate, wal2nats default options; latency = arrival at a subscriber − commit_timestamp, µs precision):`,
  );
  const probed = steady.every((p) => p.postgres !== undefined);
  out.push(
    'others = CPU of processes not of this run (not Postgres, NATS, wal2nats or the bench) during the phase, as a share of the machine, and in its worst second (ms of CPU out of 1,000 per core).',
  );
  out.push(
    'wal2nats p99 ms = its own histogram wal2nats_end_to_end_latency_seconds over the phase: commit → NATS confirmed the publish (one sample per table and cycle, interpolated in buckets of 5/10/25/50/100/250 ms).',
  );
  if (probed)
    out.push(
      "pg = the same changes as received straight from Postgres by a bare reader of a second slot (receipt − Begin commit time): Postgres's own share of the latency.",
    );
  out.push(
    markdownTable(
      [
        'target changes/s',
        'written/s',
        'delivered/s',
        'p50 ms',
        'p95 ms',
        'p99 ms',
        'max ms',
        'backlog at end',
        'kept up',
        'wal2nats p99 ms',
        'wal2nats ≤ 50 ms',
        'others % (worst s, ms)',
        'bench loop p99 ms',
        'subscriber loop p99 ms',
        ...(probed ? ['pg p50 ms', 'pg p95 ms', 'pg p99 ms', 'pg max ms', 'probe loop p99 ms'] : []),
      ],
      steady.map((p) => [
        fmt(p.targetRate),
        fmt(p.writeRate),
        fmt(p.deliveredRate),
        fmt(p.latencyMs.p50, 1),
        fmt(p.latencyMs.p95, 1),
        fmt(p.latencyMs.p99, 1),
        fmt(p.latencyMs.max, 1),
        fmt(p.backlogAtWriterEnd),
        p.keptUp ? 'yes' : 'NO',
        fmt(p.wal2nats.p99Ms ?? NaN, 1),
        `${fmt(p.wal2nats.within50ms * 100, 1)} %`,
        `${fmt(p.foreignCpu.share * 100, 1)} (${fmt(p.foreignCpu.worstMs)})`,
        fmt(p.benchLoopDelayMs.p99, 1),
        fmt(p.subscriberLoopDelayMs.p99, 1),
        ...(p.postgres
          ? [
              fmt(p.postgres.latencyMs.p50, 1),
              fmt(p.postgres.latencyMs.p95, 1),
              fmt(p.postgres.latencyMs.p99, 1),
              fmt(p.postgres.latencyMs.max, 1),
              fmt(p.postgres.probeLoopDelayMs.p99, 1),
            ]
          : []),
      ]),
    ),
  );
}

if (oltp && oltp.length > 0) {
  out.push('');
  out.push(
    `oltp (one-row transactions, inserts and updates over 4 tables, ${oltpSeconds} s per rate, wal2nats default options; latency as in steady):`,
  );
  out.push(
    "wal2nats CPU = user+system time of all its threads from the writer's start to the last arrival; wake-ups/tx = voluntary context switches of all its threads per transaction.",
  );
  out.push(markdownTable(OLTP_TABLE_HEADER, oltpTable(oltp)));
}

// Headline and targets (issue 6), measured in this run.
const targets: Array<{ target: string; value: string; met: boolean | null }> = [];
const drainRate = drain?.ok ? drain.changesPerSecond.fromStreaming : NaN;
if (ceiling && drain) {
  const ratio = drainRate / ceiling.lowerCeiling;
  out.push('');
  out.push(
    `HEADLINE: wal2nats drain ${fmt(drainRate)} changes/s = ${fmt(ratio * 100, 1)} % of the lower ceiling (${ceiling.limitedBy}: ${fmt(ceiling.lowerCeiling)} changes/s; ` +
      `Postgres ${fmt(ceiling.postgresCeiling)}, NATS ${fmt(ceiling.natsCeiling)})`,
  );
  results.headline = {
    drainChangesPerSecond: drainRate,
    lowerCeiling: ceiling.lowerCeiling,
    limitedBy: ceiling.limitedBy,
    ratio,
  };
  const recv = ceiling.pgRecvlogical.ok ? ceiling.pgRecvlogical.changesPerSecond : NaN;
  targets.push({
    target: 'drain ≥ 50 % of the pg_recvlogical ceiling',
    value: `${fmt((drainRate / recv) * 100, 1)} %`,
    met: Number.isFinite(drainRate / recv) ? drainRate / recv >= 0.5 : null,
  });
}
if (drain && baseline) {
  targets.push({
    target: 'drain faster than baseline',
    value: `${fmt(drainRate)} vs ${fmt(baseline.changesPerSecond)} changes/s (×${fmt(drainRate / baseline.changesPerSecond, 2)})`,
    met: baseline.ok && drain.ok ? drainRate > baseline.changesPerSecond : null,
  });
}
if (results.jetstream) {
  const j = results.jetstream as DrainResult;
  const jetRate = j.changesPerSecond.fromStreaming;
  targets.push({
    target: 'jetstream ≥ 40,000 changes/s',
    value: `${fmt(jetRate)} changes/s`,
    met: j.ok ? jetRate >= 40_000 : null,
  });
  if (drain)
    targets.push({
      target: 'jetstream ≥ 0.5 × the core drain of the same run',
      value: `×${fmt(jetRate / drainRate, 2)} (${fmt(jetRate)} vs ${fmt(drainRate)} changes/s)`,
      met: j.ok && drain.ok ? jetRate >= 0.5 * drainRate : null,
    });
  targets.push({
    target: 'jetstream peak RSS < 256 MiB',
    value: `${fmt(j.memory.peakRssMiB)} MiB`,
    met: j.ok ? j.memory.peakRssMiB < 256 : null,
  });
}
if (drain)
  targets.push({
    target: 'drain peak RSS < 192 MiB',
    value: `${fmt(drain.memory.peakRssMiB)} MiB`,
    met: drain.ok ? drain.memory.peakRssMiB < 192 : null,
  });
for (const [rate, p99Ms] of [
  [20000, 25],
  [50000, 100],
] as const) {
  const phase = steady?.find((p) => p.targetRate === rate);
  if (phase)
    targets.push({
      target: `steady ${fmt(rate)}/s: p99 < ${p99Ms} ms, kept up`,
      value: `p99 ${fmt(phase.latencyMs.p99, 1)} ms, ${phase.keptUp ? 'kept up' : 'fell behind'}`,
      met: phase.latencyMs.p99 < p99Ms && phase.keptUp,
    });
}
for (const [rate, limit] of [
  [100, 0.03],
  [5000, 0.4],
] as const) {
  const phase = oltp?.find((p) => p.targetRate === rate);
  if (phase)
    targets.push({
      target: `oltp ${fmt(rate)} tx/s: wal2nats < ${limit * 100} % of a core`,
      value: `${fmt(phase.cpu.shareOfCore * 100, 1)} % (${fmt(phase.cpu.msPerTransaction, 3)} ms/tx)`,
      met: phase.keptUp ? phase.cpu.shareOfCore < limit : null,
    });
}
if (targets.length > 0) {
  out.push('');
  out.push(
    markdownTable(
      ['target (issues 6, 15)', 'measured', 'met'],
      targets.map((t) => [t.target, t.value, t.met === null ? 'n/a (failed run)' : t.met ? 'yes' : 'NO']),
      2,
    ),
  );
  results.targets = targets;
}
out.push('');
out.push(
  `durations (s): ${Object.entries(durations)
    .map(([k, v]) => `${k} ${fmt(v, 1)}`)
    .join(', ')}; total ${fmt(totalSeconds, 1)}`,
);
for (const f of failures) out.push(`FAILURE: ${f}`);
process.stdout.write(out.join('\n') + '\n');

if (!opts['no-json']) {
  const body = {
    startedAt: startedAt.toISOString(),
    quick,
    scenarios: [...selected],
    options: {
      drainChanges,
      scalingChanges,
      jetstreamChanges,
      steadyRates,
      steadySeconds,
      oltpRates,
      oltpSeconds,
      oltpIdleSeconds,
    },
    ok: failures.length === 0,
    failures,
    durations,
    totalSeconds,
    rows,
    ...results,
  };
  const json = writeResult('bench', JSON.stringify(body, null, 2) + '\n', 'json', startedAt);
  const bars: Bar[] = rows.map((r) => ({
    label: `${r.scenario}: ${r.variant}`,
    value: r.changesPerSecond,
    kind: r.scenario === 'ceiling' ? 'ceiling' : r.scenario === 'baseline' ? 'baseline' : 'wal2nats',
    failed: !r.ok,
  }));
  const svg = writeResult(
    'bench',
    renderChart(
      `wal2nats bench ${startedAt.toISOString()}${quick ? ' (quick)' : ''}`,
      bars,
      (steady ?? []).map((p) => ({
        label: `${fmt(p.targetRate)} changes/s`,
        p50: p.latencyMs.p50,
        p95: p.latencyMs.p95,
        p99: p.latencyMs.p99,
        keptUp: p.keptUp,
      })),
    ),
    'svg',
    startedAt,
  );
  say(`results written to ${json} and ${svg}`);
}
process.exit(failures.length === 0 ? 0 : 1);
