import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { createBackfillMetrics } from '../backfill/backfill-metrics.js';
import { registryJson } from '../metrics/thread-metrics.js';
import { runningBackfills } from './backfill-overview.js';
import { OverviewSampler } from './overview.js';

describe('runningBackfills', () => {
  it('lists the tables whose backfill runs, with rows and estimate, from the metrics the backfill writes', async () => {
    const registry = new Registry();
    const metrics = createBackfillMetrics(registry);
    metrics.running.set({ table: 'public.done' }, 0);
    metrics.rows.inc({ table: 'public.done' }, 50);
    metrics.running.set({ table: 'public.people' }, 1);
    metrics.rows.inc({ table: 'public.people' }, 1200);
    metrics.estimated.set({ table: 'public.people' }, 5000);
    metrics.running.set({ table: 'odd"name.t' }, 1);
    metrics.estimated.set({ table: 'odd"name.t' }, -1);
    assert.deepEqual(runningBackfills(await registryJson(registry)), [
      { table: 'public.people', rows: 1200, estimated: 5000 },
      { table: 'odd"name.t', rows: 0, estimated: null },
    ]);
  });

  it('is empty when no backfill ever ran', async () => {
    assert.deepEqual(runningBackfills(await registryJson(new Registry())), []);
  });

  it('is what /api/overview answers in `backfills` (which wal2nats status shows)', async () => {
    const registry = new Registry();
    const metrics = createBackfillMetrics(registry);
    metrics.running.set({ table: 'public.people' }, 1);
    metrics.rows.inc({ table: 'public.people' }, 700);
    const sampler = new OverviewSampler({
      metrics: () => registryJson(registry),
      reader: async () => null,
      shards: async () => [],
      readiness: async () => ({ ready: true, reasons: [] }),
      info: () => ({
        database: 'shop',
        slot: 's',
        publication: 'p',
        subjectPrefix: 'sequin',
        natsServers: [],
        jetstream: false,
        maxBackoffMs: 1000,
        tablesWithoutIdentity: [],
      }),
    });
    assert.deepEqual((await sampler.overview()).backfills, [
      { table: 'public.people', rows: 700, estimated: null },
    ]);
  });
});
