/**
 * `jetstream`: the drain with `--jetstream --create-stream` (a file-backed stream that wal2nats
 * creates on its subjects; each publish waits for its PubAck), counted at a core subscriber like
 * the drain, then the stream must hold exactly N messages. The stream is deleted afterwards so
 * that later scenarios publish to core NATS only.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { drainWal2nats } from '../lib/drain-wal2nats.js';
import type { DrainResult } from '../lib/drain-wal2nats.js';
import { disposeLayout, prepareLayout } from '../lib/layout.js';
import { fmt, say } from '../lib/report.js';
import { drainRow } from './drain.js';
import type { BenchContext, ResultRow } from './types.js';

const STREAM = 'BENCH';

export async function jetstreamScenario(ctx: BenchContext, changes: number): Promise<{ data: DrainResult & { streamMessages: number }; row: ResultRow; failures: string[] }> {
  say(`jetstream: writing ${fmt(changes)} changes over 8 tables`);
  const layout = await prepareLayout(ctx.pg, { database: 'jetstream', tables: 8, changes, slots: ['w2n_jetstream'] });
  const jsm = await jetstreamManager(ctx.nc);
  try {
    const r = await drainWal2nats({
      layout,
      slot: 'w2n_jetstream',
      nats: ctx.nats,
      nc: ctx.nc,
      label: 'jetstream',
      shards: 2,
      extraArgs: ['--jetstream', '--create-stream', STREAM],
      verbose: ctx.verbose,
    });
    let streamMessages = NaN;
    try {
      streamMessages = (await jsm.streams.info(STREAM)).state.messages;
    } catch (err) {
      r.failures.push(`jetstream: cannot read stream ${STREAM}: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (streamMessages !== changes) r.failures.push(`jetstream: the stream holds ${streamMessages} messages, expected ${changes}`);
    r.ok = r.failures.length === 0;
    say(`  jetstream: ${fmt(r.changesPerSecond.fromStreaming)} changes/s, stream holds ${fmt(streamMessages)}${r.ok ? '' : ` FAILED: ${r.failures.join('; ')}`}`);
    return { data: { ...r, samples: [], streamMessages }, row: drainRow('jetstream', 'file stream, PubAck per message', r), failures: r.failures };
  } finally {
    await jsm.streams.delete(STREAM).catch(() => {});
    await disposeLayout(layout);
  }
}
