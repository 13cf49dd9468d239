/**
 * One wal2nats drain of a prepared slot (see layout.ts): subscribe to the layout's subjects
 * (count, bytes, per-table order check), start the built CLI on the slot, measure until all N
 * messages have arrived, then stop it with SIGTERM and check: exit 0, exact counts per table and
 * action, per-table commit order, no duplicates, the slot confirmed past the last commit.
 * Samples RSS every 200 ms (VmHWM at the end: the peak of the whole process, every thread) and
 * reads CPU time (utime+stime of all threads) when the last message arrives.
 */
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { NatsConnection } from '@nats-io/transport-node';
import { waitFor } from '../../test/harness/index.js';
import type { NatsServer } from '../../test/harness/index.js';
import { Wal2NatsProcess } from '../../test/support/wal2nats-process.js';
import { confirmedFlush, walsenderPid } from './layout.js';
import type { Layout } from './layout.js';
import { OrderChecker } from './order-check.js';
import { cpuSeconds, findPidByCmdline, machineBusySeconds, memoryStatus, threadCpu } from './proc-stats.js';
import type { ThreadCpu } from './proc-stats.js';
import { fmt, MiB, say, sleep } from './report.js';
import { ACTIONS } from './workload.js';

export interface DrainOptions {
  layout: Layout;
  slot: string;
  nats: NatsServer;
  nc: NatsConnection;
  /** A label for progress lines. */
  label: string;
  shards?: number;
  /** More `wal2nats run` options (e.g. --jetstream). */
  extraArgs?: readonly string[];
  nodeFlags?: readonly string[];
  verbose?: boolean;
  timeoutMs?: number;
  stallMs?: number;
  /** Keep this many real message bodies (for the NATS ceiling). */
  keepSamples?: number;
}

export interface DrainResult {
  label: string;
  ok: boolean;
  failures: string[];
  changes: number;
  tables: number;
  shards: number;
  args: string[];
  seconds: {
    fromStart: number;
    fromStreaming: number;
    toStreaming: number;
    toFirstMessage: number;
    slotConfirmedAfterLastMessage: number | null;
    stop: number;
  };
  changesPerSecond: { fromStart: number; fromStreaming: number; afterFirstQuarter: number };
  payload: { bytes: number; avgBytes: number; mbPerSecondFromStreaming: number };
  cpu: {
    wal2nats: number;
    startup: number | null;
    drain: number;
    per100k: number;
    drainPer100k: number;
    threads: ThreadCpu[];
    walsender: number | null;
    natsServer: number | null;
    benchSubscriber: number;
    otherProcessesShareOfMachine: number;
  };
  memory: { peakRssMiB: number; sampledPeakRssMiB: number };
  timeline: Array<[seconds: number, received: number, rssMiB: number]>;
  warnings: unknown[];
  samples: Array<{ subject: string; data: Uint8Array }>;
}

export async function drainWal2nats(options: DrainOptions): Promise<DrainResult> {
  const { layout, slot, nats, nc, label } = options;
  const changes = layout.changes;
  const shards = options.shards ?? 2;
  const timeoutMs = options.timeoutMs ?? 600_000;
  const stallMs = options.stallMs ?? 60_000;
  const failures: string[] = [];
  const timers: NodeJS.Timeout[] = [];
  const checker = new OrderChecker(`sequin.changes.${layout.database}.public.`, changes);
  checker.sampleLimit = options.keepSamples ?? 0;
  checker.sampleEvery = Math.max(1, Math.floor(changes / Math.max(1, checker.sampleLimit)));
  checker.start(nc, `sequin.changes.${layout.database}.>`);
  await nc.flush();

  const natsPid = findPidByCmdline(nats.configFile);
  const natsCpu0 = natsPid ? (cpuSeconds(natsPid) ?? 0) : 0;
  const benchCpu0 = process.cpuUsage();
  const machineBusy0 = machineBusySeconds();
  const args = [
    'run',
    '--postgres-url',
    layout.url,
    '--nats-url',
    nats.url,
    '--http-port',
    '0',
    '--slot',
    slot,
    '--shards',
    String(shards),
    ...(options.extraArgs ?? []),
  ];
  say(
    `${label}: starting wal2nats ${(options.nodeFlags ?? []).join(' ')} --slot ${slot} --shards ${shards} ${(options.extraArgs ?? []).join(' ')}`.replace(
      /\s+/g,
      ' ',
    ),
  );
  const proc = new Wal2NatsProcess(
    args,
    {},
    { nodeFlags: options.nodeFlags ?? [], verbose: options.verbose ?? false },
  );
  const t0 = proc.startedAt;
  try {
    let peakRss = 0;
    const timeline: DrainResult['timeline'] = [];
    const sampleRss = () => {
      const m = memoryStatus(proc.pid);
      if (m) peakRss = Math.max(peakRss, m.rss);
      timeline.push([
        Math.round(performance.now() - t0) / 1000,
        checker.received,
        Math.round((m?.rss ?? 0) / MiB),
      ]);
    };
    timers.push(setInterval(sampleRss, 200));

    let streamingAt: number | undefined;
    let startupCpu: number | undefined;
    let walsender: number | undefined;
    const streaming = proc.streamingTimed(60_000).then(async (l) => {
      streamingAt = l.at;
      startupCpu = cpuSeconds(proc.pid);
      // The walsender is a new backend for this replication connection: all its CPU is this run's.
      walsender = await waitFor(() => walsenderPid(layout.client, slot), {
        what: 'the walsender of the slot',
        timeoutMs: 5_000,
      }).catch(() => undefined);
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
        const count = checker.received;
        if (count !== lastCount) lastChangeAt = now;
        const rate = count - lastCount;
        lastCount = count;
        const m = memoryStatus(proc.pid);
        say(
          `  ${label} ${fmt((now - t0) / 1000, 1).padStart(6)} s ${fmt(count).padStart(10)} / ${fmt(changes)} ${fmt(rate).padStart(8)} msg/s  rss ${m ? fmt(m.rss / MiB) : '?'} MiB`,
        );
        if (checker.error) failRun(new Error(`subscription failed: ${checker.error.message}`));
        else if (now - t0 > timeoutMs)
          failRun(
            new Error(`timed out after ${timeoutMs / 1000} s with ${fmt(count)} of ${fmt(changes)} messages`),
          );
        else if (now - lastChangeAt > stallMs)
          failRun(
            new Error(
              `no message for ${stallMs / 1000} s (stalled at ${fmt(count)} of ${fmt(changes)}); wal2nats log:\n${proc.tail()}`,
            ),
          );
      }, 1000),
    );
    void proc.exitInfo.then((exit) =>
      failRun(new Error(`wal2nats exited early (${JSON.stringify(exit)}); log:\n${proc.tail()}`)),
    );

    await Promise.race([Promise.all([checker.done(), streaming]), runFailed]);

    // The measurement point: read CPU and memory before anything else happens.
    const doneAt = checker.doneAt!;
    const cpuTotal = cpuSeconds(proc.pid) ?? NaN;
    const threads = threadCpu(proc.pid);
    const mem = memoryStatus(proc.pid);
    sampleRss();
    const walsenderCpu = walsender ? (cpuSeconds(walsender) ?? NaN) : NaN;
    const natsCpu = natsPid ? (cpuSeconds(natsPid) ?? NaN) - natsCpu0 : NaN;
    const benchCpu = process.cpuUsage(benchCpu0);
    const machineBusy = machineBusySeconds() - machineBusy0;
    for (const t of timers.splice(0)) clearInterval(t);

    // Anything beyond N (duplicates) in the next half second is a failure in a fault-free drain.
    await sleep(500);
    await nc.flush();
    const check = checker.result();
    const extra = check.received - changes;

    const confirmWaitStart = performance.now();
    const confirmedWhileRunning = await waitFor(
      async () => (await confirmedFlush(layout.client, slot)) > check.maxCommitLsn,
      {
        what: 'the slot to be confirmed past the last commit',
        timeoutMs: 15_000,
        intervalMs: 50,
      },
    ).then(
      () => performance.now() - confirmWaitStart,
      () => undefined,
    );

    const stopStart = performance.now();
    const { exit, killed } = await proc.terminate(30_000);
    const stopSeconds = (performance.now() - stopStart) / 1000;
    const confirmedAfterStop = await confirmedFlush(layout.client, slot);

    if (killed) failures.push('wal2nats did not exit within 30 s of SIGTERM (killed)');
    else if (exit.code !== 0)
      failures.push(`wal2nats exited with ${JSON.stringify(exit)} after SIGTERM, expected code 0`);
    if (check.violations > 0)
      failures.push(
        `${check.violations} per-table order violations, e.g. ${JSON.stringify(check.violationSamples.slice(0, 3))}`,
      );
    if (check.unparsable > 0)
      failures.push(`${check.unparsable} messages without a readable commit_lsn/commit_idx`);
    if (extra > 0) failures.push(`${extra} messages beyond the ${changes} written (duplicates)`);
    for (const [table, byAction] of Object.entries(layout.workload.expected)) {
      for (const action of ACTIONS) {
        const got = check.counts[table]?.[action] ?? 0;
        if (got !== byAction[action])
          failures.push(`${table} ${action}: received ${got}, expected ${byAction[action]}`);
      }
    }
    for (const table of Object.keys(check.counts))
      if (!(table in layout.workload.expected)) failures.push(`messages for an unexpected table ${table}`);
    if (confirmedAfterStop <= check.maxCommitLsn) {
      failures.push(
        `after a clean stop the slot is confirmed at ${confirmedAfterStop}, not past the last commit_lsn ${check.maxCommitLsn}`,
      );
    }

    const fromStart = (doneAt - t0) / 1000;
    const fromStreaming = streamingAt === undefined ? NaN : (doneAt - streamingAt) / 1000;
    const drainCpu = startupCpu === undefined ? NaN : cpuTotal - startupCpu;
    const benchCpuSeconds = (benchCpu.user + benchCpu.system) / 1e6;
    const nproc = Math.max(1, availableParallelism());
    // What the rest of the machine (other people's jobs) burnt meanwhile: a noise indicator.
    const other =
      machineBusy - cpuTotal - (walsender ? walsenderCpu : 0) - (natsPid ? natsCpu : 0) - benchCpuSeconds;
    return {
      label,
      ok: failures.length === 0,
      failures,
      changes,
      tables: layout.tables,
      shards,
      args: args.filter((a) => !a.startsWith('postgres://')),
      seconds: {
        fromStart,
        fromStreaming,
        toStreaming: streamingAt === undefined ? NaN : (streamingAt - t0) / 1000,
        toFirstMessage: checker.firstAt === undefined ? NaN : (checker.firstAt - t0) / 1000,
        slotConfirmedAfterLastMessage:
          confirmedWhileRunning === undefined ? null : confirmedWhileRunning / 1000,
        stop: stopSeconds,
      },
      changesPerSecond: {
        fromStart: changes / fromStart,
        fromStreaming: changes / fromStreaming,
        afterFirstQuarter: (changes - checker.quarter) / ((doneAt - checker.quarterAt!) / 1000),
      },
      payload: {
        bytes: check.payloadBytes,
        avgBytes: check.payloadBytes / Math.max(1, check.received),
        mbPerSecondFromStreaming: check.payloadBytes / 1e6 / fromStreaming,
      },
      cpu: {
        wal2nats: cpuTotal,
        startup: startupCpu ?? null,
        drain: drainCpu,
        per100k: (cpuTotal / changes) * 1e5,
        drainPer100k: (drainCpu / changes) * 1e5,
        threads: threads.slice(0, 12),
        walsender: walsender ? walsenderCpu : null,
        natsServer: natsPid ? natsCpu : null,
        benchSubscriber: benchCpuSeconds,
        otherProcessesShareOfMachine: other / (nproc * fromStart),
      },
      memory: { peakRssMiB: Math.max(peakRss, mem?.hwm ?? 0) / MiB, sampledPeakRssMiB: peakRss / MiB },
      timeline,
      warnings: proc.problems().slice(0, 20),
      samples: checker.samples,
    };
  } catch (err) {
    failures.push(err instanceof Error ? err.message : String(err));
    return failedDrain(label, changes, layout.tables, shards, failures, checker.received);
  } finally {
    for (const t of timers) clearInterval(t);
    checker.stop();
    if (proc.running) await proc.terminate(10_000);
  }
}

function failedDrain(
  label: string,
  changes: number,
  tables: number,
  shards: number,
  failures: string[],
  received: number,
): DrainResult {
  say(`${label}: FAILED after ${fmt(received)} messages: ${failures.join('; ')}`);
  const nan = NaN;
  return {
    label,
    ok: false,
    failures,
    changes,
    tables,
    shards,
    args: [],
    seconds: {
      fromStart: nan,
      fromStreaming: nan,
      toStreaming: nan,
      toFirstMessage: nan,
      slotConfirmedAfterLastMessage: null,
      stop: nan,
    },
    changesPerSecond: { fromStart: nan, fromStreaming: nan, afterFirstQuarter: nan },
    payload: { bytes: 0, avgBytes: nan, mbPerSecondFromStreaming: nan },
    cpu: {
      wal2nats: nan,
      startup: null,
      drain: nan,
      per100k: nan,
      drainPer100k: nan,
      threads: [],
      walsender: null,
      natsServer: null,
      benchSubscriber: nan,
      otherProcessesShareOfMachine: nan,
    },
    memory: { peakRssMiB: nan, sampledPeakRssMiB: nan },
    timeline: [],
    warnings: [],
    samples: [],
  };
}
