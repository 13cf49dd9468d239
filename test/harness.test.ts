// The harness itself: if this fails, every integration test would fail for reasons that have
// nothing to do with wal2nats, so it is checked on its own first.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { collectMessages, startNats, startPostgres, waitFor } from './harness/index.js';

/**
 * Waits until `nc` is connected again, to a server other than `previousServerId` (each
 * nats-server start has a new id). nats.js drops what is published while it reconnects
 * (docs/pitfalls.md), so a publish right after a restart could be lost or not, depending on whether
 * the client had noticed the restart yet: that made this test fail now and then.
 */
async function reconnected(nc: NatsConnection, previousServerId: string | undefined): Promise<void> {
  await waitFor(
    async () => {
      if (nc.info?.server_id === previousServerId) return undefined;
      await nc.flush(); // rejects while still reconnecting; resolves once the re-subscription is in
      return true;
    },
    { what: 'the client to reconnect to the restarted nats-server', timeoutMs: 15_000 },
  );
}

test('harness: Postgres and NATS start, survive kill and restart, and clean up', async () => {
  const [pg, nats] = await Promise.all([startPostgres(), startNats()]);
  try {
    assert.notEqual(pg.port, 5432, 'must not use the system Postgres');
    assert.notEqual(nats.port, 4222, 'must not use the system NATS');

    const walLevel = await pg.query<{ wal_level: string }>('SHOW wal_level');
    assert.equal(walLevel.rows[0]?.wal_level, 'logical');
    await pg.query(`SELECT pg_create_logical_replication_slot('t', 'pgoutput')`);
    const shopUrl = await pg.createDatabase('shop');
    assert.equal(shopUrl, `postgres://postgres@127.0.0.1:${pg.port}/shop`);

    const nc = await nats.connect();
    try {
      const info = await (await jetstreamManager(nc)).getAccountInfo();
      assert.ok(info.limits, 'JetStream is enabled');

      const inbox = collectMessages(nc, 'harness.>');
      await nc.flush(); // the subscription is on the server before we publish
      nc.publish('harness.one', JSON.stringify({ n: 1 }));
      const [first] = await inbox.waitForCount(1, 5_000);
      assert.deepEqual(first, { subject: 'harness.one', data: { n: 1 }, headers: {} });

      // A crash of both servers: they come back on the same port with their data.
      const firstServer = nc.info?.server_id;
      await Promise.all([pg.kill(), nats.kill()]);
      assert.equal(pg.running, false);
      assert.equal(nats.running, false);
      await Promise.all([pg.start(), nats.start()]);
      const slots = await pg.query<{ slot_name: string }>('SELECT slot_name FROM pg_replication_slots');
      assert.deepEqual(
        slots.rows.map((r) => r.slot_name),
        ['t'],
        'the slot survives crash recovery',
      );

      // The client reconnects by itself, and its subscription follows.
      await reconnected(nc, firstServer);
      nc.publish('harness.two', JSON.stringify({ n: 2 }));
      const two = await inbox.waitForCount(2, 10_000);
      assert.equal(two[1]?.subject, 'harness.two');

      // A graceful restart works too.
      const secondServer = nc.info?.server_id;
      await Promise.all([pg.restart(), nats.restart()]);
      assert.equal((await pg.query('SELECT 1 AS one')).rows[0]?.one, 1);
      await reconnected(nc, secondServer);
      nc.publish('harness.three', JSON.stringify({ n: 3 }));
      await inbox.waitForCount(3, 10_000);
      inbox.close();
    } finally {
      await nc.close();
    }
  } finally {
    await Promise.all([pg.dispose(), nats.dispose()]);
  }
  assert.equal(existsSync(pg.dir), false, 'Postgres temp dir removed');
  assert.equal(existsSync(nats.dir), false, 'NATS temp dir removed');
  assert.equal(pg.running, false);
  assert.equal(nats.running, false);
});

test('harness: walLevel and extraConf reach postgresql.conf; await using disposes', async () => {
  let dir: string;
  {
    await using pg = await startPostgres({ walLevel: 'replica', extraConf: { wal_sender_timeout: '5s' } });
    dir = pg.dir;
    const rows = (
      await pg.query(
        `SELECT current_setting('wal_level') AS wal_level, current_setting('wal_sender_timeout') AS timeout`,
      )
    ).rows;
    assert.deepEqual(rows, [{ wal_level: 'replica', timeout: '5s' }]);
  }
  assert.equal(existsSync(dir), false, 'disposed at the end of the block');
});
