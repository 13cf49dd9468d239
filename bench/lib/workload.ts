/**
 * The drain workload: a schema of N tables of ~200-byte rows, and a writer that produces an
 * exact number of row changes (inserts, updates, deletes) in transactions of about
 * `txnSize` changes, each transaction spread over two tables. Statements are set-based
 * (generate_series, id ranges) and many transactions travel in one simple-protocol query, so
 * filling the slot is fast. The expected number of changes per table and action is known by
 * construction and checked against the row counts Postgres reports.
 */
import type { Client } from 'pg';
import { seededRandom } from '../../test/support/random.js';

export type Action = 'insert' | 'update' | 'delete';
export const ACTIONS: readonly Action[] = ['insert', 'update', 'delete'];

export function tableName(i: number): string {
  return `bench_${i}`;
}

export function schemaSql(tables: number): string {
  const statements: string[] = [];
  for (let i = 0; i < tables; i++) {
    statements.push(`CREATE TABLE public.${tableName(i)} (
      id bigint PRIMARY KEY,
      account_id integer NOT NULL,
      status text NOT NULL,
      amount numeric(12,2) NOT NULL,
      quantity integer NOT NULL,
      note text NOT NULL,
      created_at timestamptz NOT NULL,
      updated_at timestamptz NOT NULL
    )`);
  }
  return statements.join(';\n');
}

interface TableCursor {
  /** Live ids are [lo, hi). */
  lo: number;
  hi: number;
}

export interface WorkloadOptions {
  changes: number;
  tables: number;
  txnSize: number;
  /** Transactions per round trip. */
  txnsPerQuery?: number;
  /** Called after each round trip with the number of changes written so far. */
  onProgress?: (written: number) => void;
}

export interface WorkloadResult {
  transactions: number;
  /** expected[table][action] */
  expected: Record<string, Record<Action, number>>;
  /** Row counts reported by Postgres, summed: must equal the requested changes. */
  reportedRows: number;
  seconds: number;
}

/**
 * Writes exactly `changes` row changes. Each transaction of s changes touches two tables
 * (s/2 each); in each table part of p changes: ceil(0.6p) inserts of new ids, floor(0.3p)
 * updates of a contiguous range of live ids, the rest deletes of the oldest live ids. Overall:
 * 60 % inserts, 30 % updates, 10 % deletes.
 */
export async function writeWorkload(client: Client, options: WorkloadOptions): Promise<WorkloadResult> {
  const { changes, tables, txnSize } = options;
  const txnsPerQuery = options.txnsPerQuery ?? 20;
  const random = seededRandom(20240601);
  const cursors: TableCursor[] = Array.from({ length: tables }, () => ({ lo: 1, hi: 1 }));
  const expected: Record<string, Record<Action, number>> = {};
  for (let i = 0; i < tables; i++) expected[tableName(i)] = { insert: 0, update: 0, delete: 0 };

  const started = performance.now();
  let remaining = changes;
  let transactions = 0;
  let reportedRows = 0;
  let written = 0;
  let batch: string[] = [];
  let batchChanges = 0;

  const flush = async () => {
    if (batch.length === 0) return;
    const results = await client.query(batch.join(';\n'));
    for (const r of Array.isArray(results) ? results : [results]) {
      if (r.command === 'INSERT' || r.command === 'UPDATE' || r.command === 'DELETE')
        reportedRows += r.rowCount ?? 0;
    }
    written += batchChanges;
    batch = [];
    batchChanges = 0;
    options.onProgress?.(written);
  };

  while (remaining > 0) {
    const size = Math.min(txnSize, remaining);
    remaining -= size;
    const first = transactions % tables;
    const second = (transactions + 1 + Math.floor(transactions / tables)) % tables;
    const parts =
      second === first || size < 2
        ? [[first, size]]
        : [
            [first, Math.ceil(size / 2)],
            [second, Math.floor(size / 2)],
          ];
    batch.push('BEGIN');
    for (const [table, part] of parts as [number, number][]) {
      const name = tableName(table);
      const cursor = cursors[table]!;
      const inserts = Math.ceil(part * 0.6);
      const updates = Math.floor(part * 0.3);
      const deletes = part - inserts - updates;
      const from = cursor.hi;
      const to = cursor.hi + inserts - 1;
      cursor.hi += inserts;
      batch.push(
        `INSERT INTO public.${name} SELECT g, g % 1000, (ARRAY['new','paid','shipped','done'])[1 + g % 4], ` +
          `round((g % 100000)::numeric / 7, 2), g % 50, repeat(md5(g::text), 3), ` +
          `now() - (g % 86400) * interval '1 second', now() FROM generate_series(${from}, ${to}) g`,
      );
      if (updates > 0) {
        const live = cursor.hi - cursor.lo;
        const start = cursor.lo + Math.floor(random() * (live - updates + 1));
        batch.push(
          `UPDATE public.${name} SET status = 'updated', amount = amount + 1, quantity = quantity + 1, ` +
            `updated_at = now() WHERE id BETWEEN ${start} AND ${start + updates - 1}`,
        );
      }
      if (deletes > 0) {
        batch.push(`DELETE FROM public.${name} WHERE id BETWEEN ${cursor.lo} AND ${cursor.lo + deletes - 1}`);
        cursor.lo += deletes;
      }
      const e = expected[name]!;
      e.insert += inserts;
      e.update += updates;
      e.delete += deletes;
    }
    batch.push('COMMIT');
    batchChanges += size;
    transactions++;
    if (transactions % txnsPerQuery === 0) await flush();
  }
  await flush();
  return { transactions, expected, reportedRows, seconds: (performance.now() - started) / 1000 };
}
