/**
 * The backfills running now (`wal2nats backfill`), for `/api/overview` and so for
 * `wal2nats status`: read from the reader thread's `wal2nats_backfill_*` metrics in their JSON
 * form, the same numbers as /metrics.
 */
import { sumBy } from '../metrics/metrics-json.js';
import type { MetricsJson } from '../metrics/thread-metrics.js';

export interface BackfillOverview {
  /** `schema.table`. */
  readonly table: string;
  /** Rows delivered to NATS as read events so far. */
  readonly rows: number;
  /** From the table's statistics; null when unknown. */
  readonly estimated: number | null;
}

export function runningBackfills(metrics: MetricsJson): BackfillOverview[] {
  const running = sumBy(metrics, 'wal2nats_backfill_running', 'table');
  const rows = sumBy(metrics, 'wal2nats_backfill_rows_total', 'table');
  const estimated = sumBy(metrics, 'wal2nats_backfill_rows_estimated', 'table');
  return [...running]
    .filter(([, value]) => value > 0)
    .map(([table]) => {
      const estimate = estimated.get(table);
      return {
        table,
        rows: rows.get(table) ?? 0,
        estimated: estimate === undefined || estimate < 0 ? null : estimate,
      };
    });
}
