import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runningBackfills } from './backfill-status.js';

describe('runningBackfills', () => {
  it('lists the tables whose backfill runs, with rows and estimate', () => {
    const text = [
      '# HELP wal2nats_backfill_running 1 while the backfill of the table runs, 0 once it ended.',
      'wal2nats_backfill_running{table="public.done"} 0',
      'wal2nats_backfill_running{table="public.people"} 1',
      'wal2nats_backfill_running{table="odd\\"name.t"} 1',
      'wal2nats_backfill_rows_total{table="public.people"} 1200',
      'wal2nats_backfill_rows_total{table="public.done"} 50',
      'wal2nats_backfill_rows_estimated{table="public.people"} 5000',
      'wal2nats_backfill_rows_estimated{table="odd\\"name.t"} -1',
    ].join('\n');
    assert.deepEqual(runningBackfills(text), [
      { table: 'public.people', rows: 1200, estimated: 5000 },
      { table: 'odd"name.t', rows: 0, estimated: null },
    ]);
    assert.deepEqual(runningBackfills(''), []);
  });
});
