/**
 * `drain`: N changes are already in the slot (written before wal2nats starts); wal2nats drains
 * them into core NATS with default options (2 shards). changes/s and MB/s of payload from the
 * "streaming from the slot" log line to the last arrival, CPU seconds per 100,000 changes (all
 * threads, start-up included), peak RSS (VmHWM of the whole process).
 */
import { drainWal2nats } from '../lib/drain-wal2nats.js';
import type { DrainResult } from '../lib/drain-wal2nats.js';
import type { Layout } from '../lib/layout.js';
import type { BenchContext, ResultRow } from './types.js';

export const DRAIN_SLOT = 'w2n_drain';

export function drainRow(scenario: string, variant: string, r: DrainResult): ResultRow {
  return {
    scenario,
    variant,
    changes: r.changes,
    seconds: r.seconds.fromStreaming,
    changesPerSecond: r.changesPerSecond.fromStreaming,
    mbPerSecond: r.payload.mbPerSecondFromStreaming,
    cpuPer100k: r.cpu.per100k,
    peakRssMiB: r.memory.peakRssMiB,
    ok: r.ok,
  };
}

export async function drainScenario(
  ctx: BenchContext,
  layout: Layout,
  samples: number,
): Promise<DrainResult> {
  return drainWal2nats({
    layout,
    slot: DRAIN_SLOT,
    nats: ctx.nats,
    nc: ctx.nc,
    label: 'drain',
    shards: 2,
    verbose: ctx.verbose,
    keepSamples: samples,
  });
}
