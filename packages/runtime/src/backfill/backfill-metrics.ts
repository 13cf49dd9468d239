/** Metrics of `wal2nats backfill` runs (reader thread), like the initial snapshot's. */
import { Counter, Gauge, type Registry } from 'prom-client';

export interface BackfillMetrics {
  readonly rows: Counter<'table'>;
  readonly estimated: Gauge<'table'>;
  readonly running: Gauge<'table'>;
  readonly redone: Counter<'table'>;
}

export function createBackfillMetrics(registry: Registry): BackfillMetrics {
  const registers = [registry];
  return {
    rows: new Counter({
      name: 'wal2nats_backfill_rows_total',
      help: 'Rows of backfills (wal2nats backfill) delivered to NATS as read events.',
      labelNames: ['table'],
      registers,
    }),
    estimated: new Gauge({
      name: 'wal2nats_backfill_rows_estimated',
      help: 'Rows the running backfill expects per table (from the statistics; -1 when unknown).',
      labelNames: ['table'],
      registers,
    }),
    running: new Gauge({
      name: 'wal2nats_backfill_running',
      help: '1 while the backfill of the table runs, 0 once it ended.',
      labelNames: ['table'],
      registers,
    }),
    redone: new Counter({
      name: 'wal2nats_backfill_chunks_redone_total',
      help: 'Backfill chunks read again (schema change or reconnect during the chunk).',
      labelNames: ['table'],
      registers,
    }),
  };
}
