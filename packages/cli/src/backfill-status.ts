/**
 * The backfills a running wal2nats is doing, from its /metrics text (the `wal2nats_backfill_*`
 * metrics of the reader thread), for `wal2nats status`.
 */
export interface BackfillProgress {
  readonly table: string;
  readonly rows: number;
  /** From the table's statistics; null when unknown. */
  readonly estimated: number | null;
}

function byTable(text: string, name: string): Map<string, number> {
  const values = new Map<string, number>();
  const pattern = new RegExp(`^${name}\\{([^}]*)\\} (\\S+)$`, 'gm');
  for (const match of text.matchAll(pattern)) {
    const table = /(?:^|,)table="((?:[^"\\]|\\.)*)"/.exec(match[1]!)?.[1]?.replace(/\\(.)/g, '$1');
    if (table !== undefined) values.set(table, (values.get(table) ?? 0) + Number(match[2]));
  }
  return values;
}

/** The tables whose backfill runs now. */
export function runningBackfills(metricsText: string): BackfillProgress[] {
  const running = byTable(metricsText, 'wal2nats_backfill_running');
  const rows = byTable(metricsText, 'wal2nats_backfill_rows_total');
  const estimated = byTable(metricsText, 'wal2nats_backfill_rows_estimated');
  return [...running]
    .filter(([, value]) => value > 0)
    .map(([table]) => {
      const estimate = estimated.get(table);
      return { table, rows: rows.get(table) ?? 0, estimated: estimate === undefined || estimate < 0 ? null : estimate };
    });
}
