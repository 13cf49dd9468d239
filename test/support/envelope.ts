/** The contract's message body, as tests read it. */
export interface Envelope {
  record: Record<string, unknown> | null;
  changes: Record<string, unknown> | null;
  action: string;
  metadata: {
    table_schema: string;
    table_name: string;
    commit_timestamp: string;
    commit_lsn: number;
    commit_idx: number;
    database_name: string;
    idempotency_key: string;
    record_pks: string[];
    transaction_annotations: unknown;
    unchanged_toast_columns?: string[];
    consumer: { id: string; name: string };
  };
}

/**
 * Checks that, per table, messages arrived in commit order: (commit_lsn, commit_idx) never goes
 * back. Returns the violations found (empty when the order holds).
 */
export function orderViolations(envelopes: readonly Envelope[]): string[] {
  const last = new Map<string, { lsn: number; idx: number }>();
  const violations: string[] = [];
  for (const e of envelopes) {
    const table = `${e.metadata.table_schema}.${e.metadata.table_name}`;
    const previous = last.get(table);
    const current = { lsn: e.metadata.commit_lsn, idx: e.metadata.commit_idx };
    if (
      previous &&
      (current.lsn < previous.lsn || (current.lsn === previous.lsn && current.idx <= previous.idx))
    ) {
      violations.push(`${table}: ${current.lsn}/${current.idx} after ${previous.lsn}/${previous.idx}`);
    }
    last.set(table, current);
  }
  return violations;
}
