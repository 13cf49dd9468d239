/**
 * The `oltp` scenario's writer: one-row transactions (an INSERT of a new row or an UPDATE of a
 * row inserted earlier, 60/40) over the workload's tables, paced so that the transactions
 * committed so far follow `rate × elapsed`, like an OLTP application's many small commits.
 *
 * Several connections share the pace. When a connection is behind (high rates), it sends the
 * transactions due in one round trip, each with its own BEGIN/COMMIT: in one simple-protocol
 * query without them, Postgres would run all the statements as one implicit transaction. Each
 * still commits on its own, with its own commit timestamp, so latency is measured per
 * transaction as usual. When the machine cannot keep the rate, it writes as fast as it can and
 * the achieved rate says so.
 */
import type { Client } from 'pg';
import { performance } from 'node:perf_hooks';
import { tableName } from './workload.js';

/** Most transactions in one round trip when a connection is behind. */
const MAX_TRANSACTIONS_PER_QUERY = 10;

export interface OltpWriteResult {
  transactions: number;
  inserts: number;
  updates: number;
  seconds: number;
  transactionsPerSecond: number;
}

interface Cursor {
  next: number;
  /** Next id (of this connection's) to update; always below `next`. */
  toUpdate: number;
}

/** Writes `rate` one-row transactions/s for `seconds` through `clients`; `idBase` keeps id ranges apart between calls. */
export async function writeOltp(
  clients: readonly Client[],
  options: {
    rate: number;
    seconds: number;
    tables: number;
    idBase: number;
    onProgress?: (transactions: number) => void;
  },
): Promise<OltpWriteResult> {
  const { rate, seconds, tables } = options;
  const started = performance.now();
  const endAt = started + seconds * 1000;
  let scheduled = 0;
  let committed = 0;
  let inserts = 0;
  let updates = 0;
  let lastReport = started;

  const worker = async (client: Client, index: number) => {
    const base = options.idBase + index * 100_000_000 + 1;
    const cursors: Cursor[] = Array.from({ length: tables }, () => ({ next: base, toUpdate: base }));
    let t = index;
    for (;;) {
      const now = performance.now();
      if (now >= endAt) return;
      // Pace: the transactions due by now, shared by all connections.
      const due = Math.floor((rate * (now - started)) / 1000);
      if (scheduled >= due) {
        await new Promise((r) =>
          setTimeout(r, Math.max(1, ((scheduled + 1 - (rate * (now - started)) / 1000) / rate) * 1000)),
        );
        continue;
      }
      const count = Math.min(due - scheduled, MAX_TRANSACTIONS_PER_QUERY);
      scheduled += count;
      const sql: string[] = [];
      for (let i = 0; i < count; i++) {
        const table = t % tables;
        const c = cursors[table]!;
        const name = tableName(table);
        // 60 % inserts, 40 % updates (of a row inserted earlier; the first ones are inserts).
        if (t % 5 < 3 || c.toUpdate >= c.next) {
          const id = c.next++;
          sql.push(
            `BEGIN; INSERT INTO public.${name} VALUES (${id}, ${id % 1000}, 'new', ${(id % 100000) / 4}, ${id % 50}, repeat(md5('${id}'), 3), now(), now()); COMMIT`,
          );
          inserts++;
        } else {
          const id = c.toUpdate++;
          sql.push(
            `BEGIN; UPDATE public.${name} SET status = 'paid', amount = amount + 1, updated_at = now() WHERE id = ${id}; COMMIT`,
          );
          updates++;
        }
        t++;
      }
      await client.query(sql.join(';\n'));
      committed += count;
      if (options.onProgress && performance.now() - lastReport >= 1000) {
        lastReport = performance.now();
        options.onProgress(committed);
      }
    }
  };
  await Promise.all(clients.map((client, i) => worker(client, i)));
  const elapsed = (performance.now() - started) / 1000;
  return {
    transactions: committed,
    inserts,
    updates,
    seconds: elapsed,
    transactionsPerSecond: committed / elapsed,
  };
}
