/**
 * End to end: real Postgres (wal_level=logical) → the wal2nats command → real nats-server.
 * Each test has its own database and slot; servers are shared within this file.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { jetstreamManager, StorageType } from '@nats-io/jetstream';
import { collectMessages, waitFor } from './harness/index.js';
import { useServers } from './support/servers.js';
import { runArgs, Wal2NatsProcess } from './support/wal2nats-process.js';
import { orderViolations, type Envelope } from './support/envelope.js';
import { confirmedFlushLsn, currentWalLsn } from './support/slot.js';
import { metricValue } from './support/metrics.js';
import { readStream, streamMessageCount } from './support/stream.js';

const servers = useServers();

describe('the pipeline', () => {
  it('publishes insert, update and delete with the contract subjects, bodies and header', async () => {
    const url = await servers.pg.createDatabase(
      'shop',
      `CREATE TABLE orders (
         id bigint PRIMARY KEY, big int8, price numeric(12,2), ratio float8, paid bool, note text,
         tags text[], doc jsonb, at timestamptz, day date, raw bytea
       );
       ALTER TABLE orders REPLICA IDENTITY FULL;`,
    );
    const collector = collectMessages(servers.nc, 'sequin.changes.shop.>');
    const rawBodies: string[] = [];
    const rawSub = servers.nc.subscribe('sequin.changes.shop.>', {
      callback: (_err, msg) => {
        rawBodies.push(msg.string());
      },
    });
    await servers.nc.flush();
    const w2n = new Wal2NatsProcess(
      runArgs({ postgresUrl: url, natsUrl: servers.nats.url, extra: ['--slot', 'shop_slot'] }),
    );
    try {
      await w2n.ready();
      const client = await servers.pg.connect('shop');
      await client.query(
        `INSERT INTO orders VALUES (1, 9223372036854775807, 199.99, 'NaN', true, 'say "hi" \\ there', ARRAY['a,b','c"d'], '{"k":[1,2]}',
           '2024-10-28 21:37:01.12747+00', '2024-10-28', '\\x01ff')`,
      );
      await client.query(`UPDATE orders SET price = 5.00, note = 'changed' WHERE id = 1`);
      await client.query(`DELETE FROM orders WHERE id = 1`);
      await client.end();

      const [insert, update, del] = (await collector.waitForCount(3, 30_000)) as [
        (typeof collector.messages)[0],
        (typeof collector.messages)[0],
        (typeof collector.messages)[0],
      ];
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
  it('escapes odd schema and table names into single subject tokens and keeps the raw names', async () => {
    const url = await servers.pg.createDatabase(
      'odd',
      `CREATE SCHEMA "Sales Team"; CREATE TABLE "Sales Team"."order.items" (id int PRIMARY KEY, "qty*" int);`,
    );
    const collector = collectMessages(servers.nc, 'sequin.changes.odd.>');
    await servers.nc.flush();
    const w2n = new Wal2NatsProcess(
      runArgs({ postgresUrl: url, natsUrl: servers.nats.url, extra: ['--slot', 'odd_slot'] }),
    );
    try {
      await w2n.ready();
      await servers.pg.query(`SELECT 1`);
      const client = await servers.pg.connect('odd');
      await client.query(`INSERT INTO "Sales Team"."order.items" VALUES (7, 3)`);
      await client.end();
      const [message] = await collector.waitForCount(1, 30_000);
      assert.equal(message!.subject, 'sequin.changes.odd.Sales%20Team.order%2Eitems.insert');
      const body = message!.data as Envelope;
      assert.equal(body.metadata.table_schema, 'Sales Team');
      assert.equal(body.metadata.table_name, 'order.items');
      assert.deepEqual(body.record, { id: 7, 'qty*': 3 });
      assert.equal(await w2n.stop(), 0);
    } finally {
      collector.close();
      w2n.kill();
    }
  });

  it('keeps per-table commit order over thousands of changes interleaved across tables and transactions', async () => {
    const tables = ['t_a', 't_b', 't_c', 't_d', 't_e'];
    const url = await servers.pg.createDatabase(
      'busy',
      tables.map((t) => `CREATE TABLE ${t} (id int PRIMARY KEY, n int NOT NULL, pad text);`).join('\n'),
    );
    const collector = collectMessages(servers.nc, 'sequin.changes.busy.>');
    await servers.nc.flush();
    const w2n = new Wal2NatsProcess(
      runArgs({
        postgresUrl: url,
        natsUrl: servers.nats.url,
        extra: ['--slot', 'busy_slot', '--shards', '2'],
      }),
    );
    try {
      await w2n.ready();
      // Four concurrent writers; each transaction touches several tables, so commit order
      // interleaves tables, transactions and writers.
      const writers = 4;
      const transactionsPerWriter = 60;
      let expected = 0;
      await Promise.all(
        Array.from({ length: writers }, async (_, w) => {
          const client = await servers.pg.connect('busy');
          try {
            for (let t = 0; t < transactionsPerWriter; t++) {
              await client.query('BEGIN');
              for (let k = 0; k < 5; k++) {
                const table = tables[(w + t + k) % tables.length]!;
                const id = w * 1_000_000 + t * 10 + k;
                await client.query(`INSERT INTO ${table} VALUES ($1, 0, repeat('x', 50))`, [id]);
                await client.query(`UPDATE ${table} SET n = n + 1 WHERE id = $1`, [id]);
                if (k % 2 === 0) await client.query(`DELETE FROM ${table} WHERE id = $1`, [id]);
                expected += k % 2 === 0 ? 3 : 2;
              }
              await client.query('COMMIT');
            }
          } finally {
            await client.end();
          }
        }),
      );
      assert.ok(expected >= 2000, `wrote ${expected} changes`);
      const messages = await collector.waitForCount(expected, 60_000);
      const envelopes = messages.map((m) => m.data as Envelope);
      assert.deepEqual(orderViolations(envelopes), []);
      // Each change exactly once in a run without failures, and every table seen.
      assert.equal(new Set(envelopes.map((e) => e.metadata.idempotency_key)).size, expected);
      assert.deepEqual([...new Set(envelopes.map((e) => e.metadata.table_name))].sort(), tables);
      // Subjects agree with the bodies.
      for (const m of messages.slice(0, 50)) {
        const e = m.data as Envelope;
        assert.equal(m.subject, `sequin.changes.busy.public.${e.metadata.table_name}.${e.action}`);
      }
      assert.equal(await w2n.stop(), 0);
    } finally {
      collector.close();
      w2n.kill();
    }
  });

  it('never confirms the slot past an undelivered change while NATS is down, and catches up after', async () => {
    const url = await servers.pg.createDatabase('outage', `CREATE TABLE items (id int PRIMARY KEY, v text);`);
    const slot = 'outage_slot';
    const collector = collectMessages(servers.nc, 'sequin.changes.outage.>');
    await servers.nc.flush();
    // The witness of what reaches NATS after the outage is a stream, not this test's own
    // subscription: wal2nats may reconnect and publish before the test's client has reconnected
    // and subscribed again, and core NATS delivers only to those subscribed at that moment.
    const jsm = await jetstreamManager(servers.nc);
    await jsm.streams.add({
      name: 'OUTAGE_WITNESS',
      subjects: ['sequin.changes.outage.>'],
      storage: StorageType.File,
    });
    const w2n = new Wal2NatsProcess(
      runArgs({ postgresUrl: url, natsUrl: servers.nats.url, extra: ['--slot', slot] }),
    );
    try {
      await w2n.ready();
      const http = await w2n.httpBase();
      const client = await servers.pg.connect('outage');
      await client.query(`INSERT INTO items VALUES (1, 'before')`);
      await collector.waitForCount(1, 30_000);
      const afterFirst = await currentWalLsn(servers.pg, 'outage');
      await waitFor(
        async () => ((await confirmedFlushLsn(servers.pg, 'outage', slot)) ?? 0n) >= afterFirst || undefined,
        {
          what: 'the slot to confirm the delivered first insert',
          timeoutMs: 30_000,
        },
      );

      await servers.nats.stop();
      await w2n.waitForLog(
        (l) => l.msg === 'disconnected from NATS; unconfirmed messages will be sent again',
        'a NATS disconnect',
      );
      const beforeOutageWrites = await currentWalLsn(servers.pg, 'outage');
      await client.query(`INSERT INTO items SELECT g, 'during' FROM generate_series(2, 101) g`);
      // The reader has received the changes (so it could have confirmed them) ...
      await waitFor(
        async () => (await metricValue(http, 'wal2nats_changes_received_total')) >= 101 || undefined,
        {
          what: 'wal2nats to receive the 100 changes written during the outage',
          timeoutMs: 30_000,
        },
      );
      // ... and a delivery was attempted and failed, or is waiting for the connection.
      await waitFor(
        async () => ((await metricValue(http, 'wal2nats_mailbox_depth')) >= 100 ? true : undefined),
        {
          what: 'the changes to wait undelivered in a mailbox',
          timeoutMs: 30_000,
        },
      );
      // Wait until the reader has sent Postgres a standby status after receiving them: that
      // status carries what it confirms, and it must not cover the undelivered changes.
      const statusesAtReceipt = await metricValue(http, 'wal2nats_standby_status_updates_total');
      await waitFor(
        async () =>
          (await metricValue(http, 'wal2nats_standby_status_updates_total')) > statusesAtReceipt || undefined,
        {
          what: 'a standby status update after the outage writes were received',
          timeoutMs: 30_000,
          intervalMs: 250,
        },
      );
      const confirmedDuring = (await confirmedFlushLsn(servers.pg, 'outage', slot)) ?? 0n;
      assert.ok(
        confirmedDuring <= beforeOutageWrites,
        `confirmed ${confirmedDuring} passed the undelivered writes at ${beforeOutageWrites}`,
      );
      const gauge = await metricValue(http, 'wal2nats_confirmed_flush_lsn');
      assert.ok(
        BigInt(gauge) <= beforeOutageWrites,
        `the confirmed_flush_lsn metric ${gauge} passed ${beforeOutageWrites}`,
      );

      await servers.nats.start();
      await waitFor(
        async () => (await streamMessageCount(servers.nc, 'OUTAGE_WITNESS')) >= 101 || undefined,
        {
          what: 'the 101 changes in the witness stream after NATS came back',
          timeoutMs: 60_000,
          context: () => `wal2nats's last lines:\n${w2n.tail()}`,
        },
      );
      const all = await readStream(servers.nc, 'OUTAGE_WITNESS');
      const ids = new Set(all.map((m) => (m.data as Envelope).record!.id));
      for (let id = 1; id <= 101; id++) assert.ok(ids.has(id), `row ${id} arrived`);
      const afterOutageWrites = await currentWalLsn(servers.pg, 'outage');
      await waitFor(
        async () =>
          ((await confirmedFlushLsn(servers.pg, 'outage', slot)) ?? 0n) >= afterOutageWrites - 1000n ||
          undefined,
        {
          what: 'the slot to catch up after NATS came back',
          timeoutMs: 60_000,
        },
      );
      await client.end();
      assert.equal(await w2n.stop(), 0);
    } finally {
      collector.close();
      w2n.kill();
      if (!servers.nats.running) await servers.nats.start();
      await jsm.streams.delete('OUTAGE_WITNESS').catch(() => {});
    }
  });

  it('stops cleanly on SIGTERM with the slot at the last delivered change, and resumes after it', async () => {
    const url = await servers.pg.createDatabase('restart', `CREATE TABLE events (id int PRIMARY KEY);`);
    const slot = 'restart_slot';
    const collector = collectMessages(servers.nc, 'sequin.changes.restart.>');
    await servers.nc.flush();
    const first = new Wal2NatsProcess(
      runArgs({ postgresUrl: url, natsUrl: servers.nats.url, extra: ['--slot', slot] }),
    );
    try {
      await first.streaming();
      await servers.pg.query('SELECT 1');
      const client = await servers.pg.connect('restart');
      await client.query(`INSERT INTO events SELECT g FROM generate_series(1, 500) g`);
      await collector.waitForCount(500, 30_000);
      const afterWrites = await currentWalLsn(servers.pg, 'restart');
      assert.equal(await first.stop('SIGTERM'), 0);
      assert.ok(first.lines.some((l) => l.msg === 'stopped cleanly'));
      const confirmed = (await confirmedFlushLsn(servers.pg, 'restart', slot)) ?? 0n;
      assert.ok(
        confirmed >= afterWrites - 1000n && confirmed <= afterWrites,
        `confirmed ${confirmed}, WAL at ${afterWrites}`,
      );
      const slotState = await servers.pg.query<{ active: boolean }>(
        'SELECT active FROM pg_replication_slots WHERE slot_name = $1',
        [slot],
      );
      assert.equal(slotState.rows[0]!.active, false);

      await client.query(`INSERT INTO events VALUES (501)`);
      const second = new Wal2NatsProcess(
        runArgs({ postgresUrl: url, natsUrl: servers.nats.url, extra: ['--slot', slot] }),
      );
      try {
        await second.streaming();
        const messages = await collector.waitForCount(501, 30_000);
        assert.equal((messages[500]!.data as Envelope).record!.id, 501);
        // Nothing delivered before the stop is sent again: the next message to arrive is a new one.
        await client.query(`INSERT INTO events VALUES (502)`);
        const more = await collector.waitForCount(502, 30_000);
        assert.equal((more[501]!.data as Envelope).record!.id, 502);
        assert.equal(await second.stop('SIGINT'), 0);
      } finally {
        second.kill();
        await client.end();
      }
    } finally {
      collector.close();
      first.kill();
    }
  });
});
