/**
 * `jetstream`: the drain with `--jetstream --create-stream` (an R1 file-backed stream that
 * wal2nats creates on its subjects; one ordered chain of publishes with
 * Nats-Expected-Last-Sequence, acknowledged by PubAcks), counted at a core subscriber like the
 * drain, then the stream must hold exactly N messages. Reported beside the core drain of the
 * same run (docs/benchmarks.md), with the CPU of wal2nats and of nats-server per 100k changes.
 * The stream is deleted afterwards so that later scenarios publish to core NATS only.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { drainWal2nats } from '../lib/drain-wal2nats.js';
import type { DrainResult } from '../lib/drain-wal2nats.js';
import { disposeLayout, prepareLayout } from '../lib/layout.js';
import { fmt, say } from '../lib/report.js';
import { drainRow } from './drain.js';
import type { BenchContext, ResultRow } from './types.js';

const STREAM = 'BENCH';

export async function jetstreamScenario(
  ctx: BenchContext,
  changes: number,
): Promise<{
  data: DrainResult & { streamMessages: number; natsServerCpuPer100k: number };
  row: ResultRow;
  failures: string[];
}> {
  say(`jetstream: writing ${fmt(changes)} changes over 8 tables`);
  const layout = await prepareLayout(ctx.pg, {
    database: 'jetstream',
    tables: 8,
    changes,
    slots: ['w2n_jetstream'],
  });
  const jsm = await jetstreamManager(ctx.nc);
  try {
    const r = await drainWal2nats({
      layout,
      slot: 'w2n_jetstream',
      nats: ctx.nats,
      nc: ctx.nc,
      label: 'jetstream',
      // JetStream mode runs one shard per stream (here one); --shards is not used.
      shards: 2,
      extraArgs: ['--jetstream', '--create-stream', STREAM],
      verbose: ctx.verbose,
    });
    let streamMessages = NaN;
    try {
      streamMessages = (await jsm.streams.info(STREAM)).state.messages;
    } catch (err) {
      r.failures.push(
        `jetstream: cannot read stream ${STREAM}: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    if (streamMessages !== changes)
      r.failures.push(`jetstream: the stream holds ${streamMessages} messages, expected ${changes}`);
    r.ok = r.failures.length === 0;
    const natsPer100k = r.cpu.natsServer === null ? NaN : (r.cpu.natsServer / changes) * 1e5;
    say(
      `  jetstream: ${fmt(r.changesPerSecond.fromStreaming)} changes/s, stream holds ${fmt(streamMessages)}; peak RSS ${fmt(r.memory.peakRssMiB)} MiB; ` +
        `CPU per 100k changes: wal2nats ${fmt(r.cpu.per100k, 2)} s, nats-server ${fmt(natsPer100k, 2)} s${r.ok ? '' : ` FAILED: ${r.failures.join('; ')}`}`,
    );
    return {
      data: { ...r, samples: [], streamMessages, natsServerCpuPer100k: natsPer100k },
      row: drainRow('jetstream', 'R1 file stream, one ordered chain (PubAcks)', r),
      failures: r.failures,
    };
  } finally {
    await jsm.streams.delete(STREAM).catch(() => {});
    await disposeLayout(layout);
  }
}
