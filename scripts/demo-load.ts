// The demo's database: the schema, and a small, steady mix of writes for wal2nats to stream.
import type { PgServer } from '../test/harness/index.js';

type Client = Awaited<ReturnType<PgServer['connect']>>;

/**
 * `public.orders` is plain; `"Sales Team"."order.items"` has a space and a dot in its names,
 * to show how they are escaped in subjects (`Sales%20Team`, `order%2Eitems`).
 * REPLICA IDENTITY FULL on orders makes updates carry the old values (`changes`).
 */
export const SCHEMA_SQL = `
  CREATE TABLE public.orders (
    id bigserial PRIMARY KEY,
    customer text,
    total numeric(10,2),
    status text,
    created_at timestamptz DEFAULT now()
  );
  ALTER TABLE public.orders REPLICA IDENTITY FULL;
  CREATE SCHEMA "Sales Team";
  CREATE TABLE "Sales Team"."order.items" (
    id serial PRIMARY KEY,
    order_id bigint,
    sku text,
    qty int
  );
`;

const CUSTOMERS = ['ada', 'grace', 'linus', 'margaret', 'ken', 'barbara'];
const SKUS = ['SKU-RED-MUG', 'SKU-BLUE-MUG', 'SKU-TEE-M', 'SKU-TEE-L', 'SKU-STICKERS'];
const NEXT_STATUS = `CASE status WHEN 'pending' THEN 'paid' WHEN 'paid' THEN 'shipped' ELSE 'delivered' END`;

const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)] as T;

/** One transaction of the mix; returns how many rows it wrote. */
async function oneTransaction(db: Client): Promise<number> {
  const roll = Math.random();
  await db.query('BEGIN');
  try {
    let rows = 0;
    if (roll < 0.5) {
      // A new order with a few items.
      const total = (5 + Math.random() * 195).toFixed(2);
      const order = await db.query<{ id: string }>(
        `INSERT INTO public.orders (customer, total, status) VALUES ($1, $2, 'pending') RETURNING id`,
        [pick(CUSTOMERS), total],
      );
      const items = 1 + Math.floor(Math.random() * 3);
      for (let i = 0; i < items; i++) {
        await db.query(`INSERT INTO "Sales Team"."order.items" (order_id, sku, qty) VALUES ($1, $2, $3)`, [
          order.rows[0]?.id,
          pick(SKUS),
          1 + Math.floor(Math.random() * 4),
        ]);
      }
      rows = 1 + items;
    } else if (roll < 0.85) {
      // An order moves on, and an item's quantity changes.
      rows +=
        (
          await db.query(
            `UPDATE public.orders SET status = ${NEXT_STATUS}
          WHERE id = (SELECT id FROM public.orders WHERE status <> 'delivered' ORDER BY random() LIMIT 1)`,
          )
        ).rowCount ?? 0;
      rows +=
        (
          await db.query(
            `UPDATE "Sales Team"."order.items" SET qty = qty + 1
          WHERE id = (SELECT id FROM "Sales Team"."order.items" ORDER BY random() LIMIT 1)`,
          )
        ).rowCount ?? 0;
    } else {
      // A delivered order is archived away with its items.
      const gone = await db.query<{ id: string }>(
        `DELETE FROM public.orders
          WHERE id = (SELECT id FROM public.orders WHERE status = 'delivered' ORDER BY id LIMIT 1)
          RETURNING id`,
      );
      rows += gone.rowCount ?? 0;
      if (gone.rows[0]) {
        rows +=
          (await db.query(`DELETE FROM "Sales Team"."order.items" WHERE order_id = $1`, [gone.rows[0].id]))
            .rowCount ?? 0;
      }
    }
    await db.query('COMMIT');
    return rows;
  } catch (err) {
    await db.query('ROLLBACK').catch(() => {});
    throw err;
  }
}

export interface LoadStats {
  transactions: number;
  rows: number;
}

/**
 * Writes a transaction every `intervalMs` until `signal` aborts; resolves when the last
 * transaction has finished, so the caller can then stop wal2nats with nothing half-written.
 */
export async function runLoad(db: Client, signal: AbortSignal, intervalMs = 400): Promise<LoadStats> {
  const stats: LoadStats = { transactions: 0, rows: 0 };
  while (!signal.aborted) {
    stats.rows += await oneTransaction(db);
    stats.transactions += 1;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, intervalMs);
      signal.addEventListener('abort', done, { once: true });
      function done() {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      }
    });
  }
  return stats;
}
