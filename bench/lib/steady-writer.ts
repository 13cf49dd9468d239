/**
 * A rate-controlled writer for the `steady` scenario: several connections, each committing small
 * transactions (a batched INSERT of new rows, then an UPDATE of rows this connection inserted
 * earlier) to the workload's tables, paced so that the changes committed so far follow
 * `rate × elapsed`. When the machine cannot keep up, it writes as fast as it can and the
 * achieved rate says so.
 */
import type { Client } from 'pg';
import { performance } from 'node:perf_hooks';
import { tableName } from './workload.js';

export interface SteadyWriteResult {
  changes: number;
  transactions: number;
  seconds: number;
  changesPerSecond: number;
}

interface Cursor {
  next: number;
  /** Oldest id this connection inserted that has not been updated yet. */
  updated: number;
}

/** Writes at `rate` changes/s for `seconds` through `clients`; `idBase` keeps id ranges apart between calls. */
export async function writeSteady(
  clients: readonly Client[],
  options: {
    rate: number;
    seconds: number;
    tables: number;
    idBase: number;
    onProgress?: (changes: number) => void;
  },
): Promise<SteadyWriteResult> {
  const { rate, seconds, tables } = options;
  // Small transactions: about 200 of them per second in all, 10 to 100 changes each.
  const txnSize = Math.max(10, Math.min(100, Math.round(rate / 200)));
  const inserts = Math.ceil(txnSize * 0.7);
  const updates = txnSize - inserts;
  const started = performance.now();
  const endAt = started + seconds * 1000;
  let committed = 0;
  let scheduled = 0;
  let transactions = 0;
  let lastReport = started;

  const worker = async (client: Client, index: number) => {
    const cursors: Cursor[] = Array.from({ length: tables }, () => ({
      next: options.idBase + index * 100_000_000 + 1,
      updated: options.idBase + index * 100_000_000 + 1,
    }));
    let t = index;
    for (;;) {
      const now = performance.now();
      if (now >= endAt) return;
      // Pace: the changes due by now, shared by all connections.
      const due = (rate * (now - started)) / 1000;
      if (scheduled + txnSize > due) {
        await new Promise((r) => setTimeout(r, Math.max(1, ((scheduled + txnSize - due) / rate) * 1000)));
        continue;
      }
      scheduled += txnSize;
      const table = t++ % tables;
      const c = cursors[table]!;
      const from = c.next;
      c.next += inserts;
      const name = tableName(table);
      const sql = [
        'BEGIN',
        `INSERT INTO public.${name} SELECT g, g % 1000, 'new', round((g % 100000)::numeric / 7, 2), g % 50, repeat(md5(g::text), 3), now(), now() FROM generate_series(${from}, ${from + inserts - 1}) g`,
      ];
      // Update rows inserted by earlier transactions (or this one's, at the very start).
      const upFrom = Math.min(c.updated, c.next - updates);
      if (updates > 0)
        sql.push(
          `UPDATE public.${name} SET status = 'updated', amount = amount + 1, updated_at = now() WHERE id BETWEEN ${upFrom} AND ${upFrom + updates - 1}`,
        );
      c.updated = upFrom + updates;
      sql.push('COMMIT');
      await client.query(sql.join(';\n'));
      committed += txnSize;
      transactions++;
      if (options.onProgress && performance.now() - lastReport >= 1000) {
        lastReport = performance.now();
        options.onProgress(committed);
      }
    }
  };
  await Promise.all(clients.map((client, i) => worker(client, i)));
  const elapsed = (performance.now() - started) / 1000;
  return { changes: committed, transactions, seconds: elapsed, changesPerSecond: committed / elapsed };
}
