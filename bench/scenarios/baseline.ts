/**
 * `baseline`: the simplest single-threaded pipeline (lib/baseline-pipeline.ts) on the same WAL
 * as the drain, counted and order-checked at a subscriber like the drain; measured from its
 * replication stream's start to the last arrival.
 */
import { performance } from 'node:perf_hooks';
import { BaselineChild } from '../lib/baseline-pipeline.js';
import { dropSlot, PUBLICATION } from '../lib/layout.js';
import type { Layout } from '../lib/layout.js';
import { OrderChecker } from '../lib/order-check.js';
import { cpuSeconds, memoryStatus } from '../lib/proc-stats.js';
import { fmt, MiB, say } from '../lib/report.js';
import { ACTIONS } from '../lib/workload.js';
import type { BenchContext, ResultRow } from './types.js';

export const BASELINE_SLOT = 'baseline';

export interface BaselineData {
  ok: boolean;
  failures: string[];
  changes: number;
  seconds: { fromStart: number; fromStreaming: number };
  changesPerSecond: number;
  mbPerSecond: number;
  cpuSeconds: number;
  cpuPer100k: number;
  peakRssMiB: number;
}

export async function baselineScenario(
  ctx: BenchContext,
  layout: Layout,
  timeoutMs = 600_000,
): Promise<{ data: BaselineData; row: ResultRow }> {
  const changes = layout.changes;
  const failures: string[] = [];
  const checker = new OrderChecker(`sequin.changes.${layout.database}.public.`, changes);
  checker.start(ctx.nc, `sequin.changes.${layout.database}.>`);
  await ctx.nc.flush();
  say('baseline: pg-logical-replication PgoutputPlugin → JSON.stringify → publish, one thread');
  const child = new BaselineChild({
    postgresUrl: layout.url,
    database: layout.database,
    slot: BASELINE_SLOT,
    publication: PUBLICATION,
    natsUrl: ctx.nats.url,
  });
  let peak = 0;
  let cpu = NaN;
  let last = 0;
  const poll = setInterval(() => {
    const m = memoryStatus(child.pid);
    if (m) peak = Math.max(peak, m.hwm);
    cpu = cpuSeconds(child.pid) ?? cpu;
  }, 200);
  const progress = setInterval(() => {
    say(
      `  baseline ${fmt((performance.now() - child.startedAt) / 1000, 1).padStart(6)} s ${fmt(checker.received).padStart(10)} / ${fmt(changes)} ${fmt(checker.received - last).padStart(8)} msg/s`,
    );
    last = checker.received;
  }, 1000);
  let streamingAt = NaN;
  try {
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      Promise.all([checker.done(), child.streaming.then((at) => (streamingAt = at))]).then(
        () => 'done' as const,
      ),
      child.exited.then((code) => `exited with ${code}: ${child.log}` as const),
      new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutMs))),
    ]);
    clearTimeout(timer);
    cpu = cpuSeconds(child.pid) ?? cpu;
    if (outcome !== 'done')
      failures.push(`baseline: ${fmt(checker.received)} of ${fmt(changes)} arrived (${outcome})`);
  } finally {
    clearInterval(poll);
    clearInterval(progress);
  }
  const m = memoryStatus(child.pid);
  if (m) peak = Math.max(peak, m.hwm);
  const stopped = await child.stop();
  if (stopped.killed || stopped.code !== 0)
    failures.push(
      `baseline: exit ${stopped.code}${stopped.killed ? ' (killed)' : ''} after SIGTERM; ${child.log.slice(-300)}`,
    );
  checker.stop();
  await dropSlot(layout.client, BASELINE_SLOT).catch(() => {});
  const check = checker.result();
  if (check.violations > 0) failures.push(`baseline: ${check.violations} order violations`);
  if (check.unparsable > 0) failures.push(`baseline: ${check.unparsable} unparsable messages`);
  for (const [table, byAction] of Object.entries(layout.workload.expected)) {
    for (const action of ACTIONS) {
      const got = check.counts[table]?.[action] ?? 0;
      if (got !== byAction[action])
        failures.push(`baseline: ${table} ${action}: received ${got}, expected ${byAction[action]}`);
    }
  }
  const doneAt = checker.doneAt ?? NaN;
  const fromStreaming = (doneAt - streamingAt) / 1000;
  const data: BaselineData = {
    ok: failures.length === 0,
    failures,
    changes,
    seconds: { fromStart: (doneAt - child.startedAt) / 1000, fromStreaming },
    changesPerSecond: changes / fromStreaming,
    mbPerSecond: check.payloadBytes / 1e6 / fromStreaming,
    cpuSeconds: cpu,
    cpuPer100k: (cpu / changes) * 1e5,
    peakRssMiB: peak / MiB,
  };
  say(
    `  baseline: ${fmt(fromStreaming, 2)} s, ${fmt(data.changesPerSecond)} changes/s${data.ok ? '' : ` FAILED: ${failures.join('; ')}`}`,
  );
  return {
    data,
    row: {
      scenario: 'baseline',
      variant: 'one thread, PgoutputPlugin + JSON',
      changes,
      seconds: fromStreaming,
      changesPerSecond: data.changesPerSecond,
      mbPerSecond: data.mbPerSecond,
      cpuPer100k: data.cpuPer100k,
      peakRssMiB: data.peakRssMiB,
      ok: data.ok,
    },
  };
}
