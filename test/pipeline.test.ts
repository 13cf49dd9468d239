/**
 * End to end: real Postgres (wal_level=logical) → the wal2nats command → real nats-server.
 * Each test has its own database and slot; servers are shared within this file.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { NatsConnection } from '@nats-io/transport-node';
import { collectMessages, startNats, startPostgres, type NatsServer, type PgServer } from './harness/index.js';
import { runArgs, Wal2NatsProcess } from './support/wal2nats-process.js';

interface Envelope {
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
    consumer: { id: string; name: string };
  };
}

let pg: PgServer;
let nats: NatsServer;
let nc: NatsConnection;

before(async () => {
  [pg, nats] = await Promise.all([startPostgres(), startNats()]);
  nc = await nats.connect();
});

after(async () => {
  await nc?.close();
  await Promise.all([pg?.dispose(), nats?.dispose()]);
});

async function setUpDatabase(name: string, sql: string): Promise<string> {
  const url = await pg.createDatabase(name);
  const client = await pg.connect(name);
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
  return url;
}

describe('the pipeline', () => {
  it('publishes insert, update and delete with the contract subjects, bodies and header', async () => {
    const url = await setUpDatabase(
      'shop',
      `CREATE TABLE orders (
         id bigint PRIMARY KEY, big int8, price numeric(12,2), ratio float8, paid bool, note text,
         tags text[], doc jsonb, at timestamptz, day date, raw bytea
       );
       ALTER TABLE orders REPLICA IDENTITY FULL;`,
    );
    const collector = collectMessages(nc, 'sequin.changes.shop.>');
    const rawBodies: string[] = [];
    const rawSub = nc.subscribe('sequin.changes.shop.>', { callback: (_err, msg) => rawBodies.push(msg.string()) });
    await nc.flush();
    const w2n = new Wal2NatsProcess(runArgs({ postgresUrl: url, natsUrl: nats.url, extra: ['--slot', 'shop_slot'] }));
    try {
      await w2n.streaming();
      const client = await pg.connect('shop');
      await client.query(
        `INSERT INTO orders VALUES (1, 9223372036854775807, 199.99, 'NaN', true, 'say "hi" \\ there', ARRAY['a,b','c"d'], '{"k":[1,2]}',
           '2024-10-28 21:37:01.12747+00', '2024-10-28', '\\x01ff')`,
      );
      await client.query(`UPDATE orders SET price = 5.00, note = 'changed' WHERE id = 1`);
      await client.query(`DELETE FROM orders WHERE id = 1`);
      await client.end();

      const [insert, update, del] = (await collector.waitForCount(3, 30_000)) as [typeof collector.messages[0], typeof collector.messages[0], typeof collector.messages[0]];
      assert.equal(insert.subject, 'sequin.changes.shop.public.orders.insert');
      assert.equal(update.subject, 'sequin.changes.shop.public.orders.update');
      assert.equal(del.subject, 'sequin.changes.shop.public.orders.delete');

      const ins = insert.data as Envelope;
      assert.equal(ins.action, 'insert');
      assert.equal(ins.changes, null);
      assert.deepEqual(ins.record, {
        id: 1,
        big: 9223372036854775807, // parsed lossy by JSON.parse; checked exactly below
        price: '199.99',
        ratio: 'NaN',
        paid: true,
        note: 'say "hi" \\ there',
        tags: ['a,b', 'c"d'],
        doc: { k: [1, 2] },
        at: '2024-10-28T21:37:01.127470Z',
        day: '2024-10-28',
        raw: '\\x01ff',
      });
      assert.equal(ins.metadata.table_schema, 'public');
      assert.equal(ins.metadata.table_name, 'orders');
      assert.equal(ins.metadata.database_name, 'shop');
      assert.equal(ins.metadata.commit_idx, 0);
      assert.equal(typeof ins.metadata.commit_lsn, 'number');
      assert.match(ins.metadata.commit_timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
      assert.deepEqual(ins.metadata.record_pks, ['1']);
      assert.equal(ins.metadata.transaction_annotations, null);
      assert.deepEqual(ins.metadata.consumer, { id: 'shop_slot', name: 'wal2nats' });
      assert.equal(insert.headers['Nats-Msg-Id'], ins.metadata.idempotency_key);
      // Every digit of int8, in the raw JSON text.
      assert.match(rawBodies[0] ?? '', /"big":9223372036854775807[,}]/);

      const upd = update.data as Envelope;
      assert.equal(upd.action, 'update');
      assert.equal((upd.record as { price: string }).price, '5.00');
      assert.deepEqual(upd.changes, { price: '199.99', note: 'say "hi" \\ there' });
      assert.ok(upd.metadata.commit_lsn > ins.metadata.commit_lsn);
      assert.notEqual(update.headers['Nats-Msg-Id'], insert.headers['Nats-Msg-Id']);

      const d = del.data as Envelope;
      assert.equal(d.action, 'delete');
      assert.equal(d.changes, null);
      assert.equal((d.record as { id: number }).id, 1);
      assert.equal((d.record as { note: string }).note, 'changed');
      assert.deepEqual(d.metadata.record_pks, ['1']);

      assert.equal(await w2n.stop(), 0);
    } finally {
      collector.close();
      rawSub.unsubscribe();
      w2n.kill();
    }
  });
});

