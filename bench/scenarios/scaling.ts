/**
 * `scaling`: the drain with 1, 2 and 4 shard workers on 8 tables (one WAL, three slots), and
 * with 1, 8 and 64 tables at 2 shards (one WAL per layout). A smaller N than `drain` keeps the
 * whole run within its time budget.
 */
import { drainWal2nats } from '../lib/drain-wal2nats.js';
import type { DrainResult } from '../lib/drain-wal2nats.js';
import { disposeLayout, dropSlot, prepareLayout } from '../lib/layout.js';
import { fmt, say } from '../lib/report.js';
import { drainRow } from './drain.js';
import type { BenchContext, ResultRow } from './types.js';

export async function scalingScenario(
  ctx: BenchContext,
  changes: number,
): Promise<{ data: DrainResult[]; rows: ResultRow[]; failures: string[] }> {
  const results: DrainResult[] = [];
  const rows: ResultRow[] = [];
  const run = async (tables: number, shardCounts: number[]) => {
    const slots = shardCounts.map((s) => `scaling_${s}`);
    say(`scaling: writing ${fmt(changes)} changes over ${tables} table${tables === 1 ? '' : 's'}`);
    const layout = await prepareLayout(ctx.pg, { database: `scaling_${tables}`, tables, changes, slots });
    try {
      for (const shards of shardCounts) {
        const r = await drainWal2nats({
          layout,
          slot: `scaling_${shards}`,
          nats: ctx.nats,
          nc: ctx.nc,
          label: `scaling ${tables}t/${shards}s`,
          shards,
          verbose: ctx.verbose,
        });
        await dropSlot(layout.client, `scaling_${shards}`);
        say(
          `  ${tables} table${tables === 1 ? '' : 's'}, ${shards} shard${shards === 1 ? '' : 's'}: ${fmt(r.changesPerSecond.fromStreaming)} changes/s${r.ok ? '' : ` FAILED: ${r.failures.join('; ')}`}`,
        );
        results.push(r);
        rows.push(
          drainRow(
            'scaling',
            `${tables} table${tables === 1 ? '' : 's'}, ${shards} shard${shards === 1 ? '' : 's'}`,
            r,
          ),
        );
      }
    } finally {
      await disposeLayout(layout);
    }
  };
  await run(8, [1, 2, 4]);
  await run(1, [2]);
  await run(64, [2]);
  return {
    data: results.map(({ samples: _samples, timeline: _timeline, ...r }) => ({
      ...r,
      samples: [],
      timeline: [],
    })),
    rows,
    failures: results.flatMap((r) => r.failures),
  };
}
