/**
 * `ceiling`: what Postgres can send — the same WAL as the drain, read by pg_recvlogical to
 * /dev/null (to the end LSN) and by a bare Node reader that only counts and acknowledges; the
 * faster is the Postgres ceiling — and what NATS can take — one Node process publishing real
 * pre-serialised bodies (sampled from the drain) on their subjects, counted at a subscriber.
 */
import { dropSlot } from '../lib/layout.js';
import type { Layout } from '../lib/layout.js';
import { runBareReader, runPgRecvlogical } from '../lib/postgres-ceiling.js';
import type { CeilingRun } from '../lib/postgres-ceiling.js';
import { runNatsCeiling } from '../lib/raw-publisher.js';
import type { NatsCeilingResult } from '../lib/raw-publisher.js';
import { fmt, say } from '../lib/report.js';
import type { BenchContext, ResultRow } from './types.js';

export const RECVLOGICAL_SLOT = 'recvlogical';
export const BARE_SLOT = 'bare_reader';

export interface CeilingData {
  pgRecvlogical: CeilingRun;
  bareReader: CeilingRun;
  nats: NatsCeilingResult;
  /** changes/s */
  postgresCeiling: number;
  natsCeiling: number;
  lowerCeiling: number;
  limitedBy: 'postgres' | 'nats';
}

export async function ceilingScenario(
  ctx: BenchContext,
  layout: Layout,
  samples: ReadonlyArray<{ subject: string; data: Uint8Array }>,
): Promise<{ data: CeilingData; rows: ResultRow[]; failures: string[] }> {
  say(`ceiling: pg_recvlogical to /dev/null up to ${layout.endLsn}`);
  const recv = await runPgRecvlogical(layout, RECVLOGICAL_SLOT);
  await dropSlot(layout.client, RECVLOGICAL_SLOT);
  say(
    `  pg_recvlogical: ${fmt(recv.seconds, 2)} s, ${fmt(recv.changesPerSecond)} changes/s${recv.ok ? '' : ` FAILED: ${recv.failures.join('; ')}`}`,
  );
  say('ceiling: bare reader (pg-logical-replication, raw bytes, count + acknowledge)');
  const bare = await runBareReader(layout, BARE_SLOT);
  await dropSlot(layout.client, BARE_SLOT);
  say(
    `  bare reader: ${fmt(bare.seconds, 2)} s, ${fmt(bare.changesPerSecond)} changes/s${bare.ok ? '' : ` FAILED: ${bare.failures.join('; ')}`}`,
  );
  say(
    `ceiling: raw NATS publisher, ${fmt(layout.changes)} pre-serialised messages (${samples.length} real bodies)`,
  );
  const nats = await runNatsCeiling({
    natsUrl: ctx.nats.url,
    nc: ctx.nc,
    filter: `sequin.changes.${layout.database}.>`,
    samples,
    count: layout.changes,
  });
  say(
    `  raw publisher: ${fmt(nats.seconds, 2)} s, ${fmt(nats.changesPerSecond)} msg/s${nats.ok ? '' : ` FAILED: ${nats.failures.join('; ')}`}`,
  );

  const pgOk = [recv, bare].filter((r) => r.ok);
  const postgresCeiling = pgOk.length ? Math.max(...pgOk.map((r) => r.changesPerSecond)) : NaN;
  const natsCeiling = nats.ok ? nats.changesPerSecond : NaN;
  const lowerCeiling = Math.min(postgresCeiling, natsCeiling);
  const rows: ResultRow[] = [
    {
      scenario: 'ceiling',
      variant: 'pg_recvlogical → /dev/null',
      changes: recv.changes,
      seconds: recv.seconds,
      changesPerSecond: recv.changesPerSecond,
      ok: recv.ok,
    },
    {
      scenario: 'ceiling',
      variant: 'bare reader (count + ack)',
      changes: bare.changes,
      seconds: bare.seconds,
      changesPerSecond: bare.changesPerSecond,
      ok: bare.ok,
    },
    {
      scenario: 'ceiling',
      variant: 'raw NATS publisher',
      changes: nats.messages,
      seconds: nats.seconds,
      changesPerSecond: nats.changesPerSecond,
      mbPerSecond: nats.mbPerSecond,
      ...(nats.publisherPeakRssMiB !== null ? { peakRssMiB: nats.publisherPeakRssMiB } : {}),
      ...(nats.publisherCpuSeconds !== null
        ? { cpuPer100k: (nats.publisherCpuSeconds / nats.messages) * 1e5 }
        : {}),
      ok: nats.ok,
    },
  ];
  return {
    data: {
      pgRecvlogical: recv,
      bareReader: bare,
      nats,
      postgresCeiling,
      natsCeiling,
      lowerCeiling,
      limitedBy: postgresCeiling <= natsCeiling ? 'postgres' : 'nats',
    },
    rows,
    failures: [...recv.failures, ...bare.failures, ...nats.failures],
  };
}
