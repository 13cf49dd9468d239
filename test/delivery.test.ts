/**
 * Delivery under pressure: a message that NATS refuses for good holds up only its own table,
 * visibly; and while NATS is down, reading from the slot pauses at the mailbox capacity
 * (bounded memory) instead of buffering the whole backlog.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { collectMessages, waitFor } from './harness/index.js';
import { metricValue } from './support/metrics.js';
import { useServers } from './support/servers.js';
import { runArgs, Wal2NatsProcess } from './support/wal2nats-process.js';

const servers = useServers({ nats: { config: 'max_payload: 4096' } });

describe('delivery', () => {
  it('retries a message over max_payload forever while other tables keep flowing, and shows why', async () => {
    const url = await servers.pg.createDatabase('poison');
    const client = await servers.pg.connect('poison');
    await client.query(
      'CREATE TABLE big (id int PRIMARY KEY, body text); CREATE TABLE small (id int PRIMARY KEY)',
    );
    const collector = collectMessages(servers.nc, 'sequin.changes.poison.>');
    await servers.nc.flush();
    const w2n = new Wal2NatsProcess(
      runArgs({
        postgresUrl: url,
        natsUrl: servers.nats.url,
        extra: ['--slot', 'poison', '--max-backoff', '2s'],
      }),
    );
    try {
      await w2n.ready();
      const http = await w2n.httpBase();
      await client.query(`INSERT INTO big VALUES (1, repeat('x', 10000))`);
      await client.query(`INSERT INTO big VALUES (2, 'small enough, but behind the poison')`);
      await client.query(`INSERT INTO small SELECT g FROM generate_series(1, 50) g`);

      const line = await w2n.waitForLog(
        (l) => l.msg === 'delivery failed; will retry' && l.table === 'public.big',
        'a delivery failure of public.big',
      );
      assert.match(String(line.error), /payload|max/i, `the client's reason is shown: ${String(line.error)}`);
      // The other table flows.
      const arrived = await collector.waitForCount(50, 30_000);
      assert.ok(arrived.every((m) => m.subject.startsWith('sequin.changes.poison.public.small.')));
      // The poisoned table keeps retrying, visibly, and nothing behind it overtakes it.
      await waitFor(
        async () =>
          (await metricValue(http, 'wal2nats_publish_retries_total', { table: 'public.big' })) >= 3 ||
          undefined,
        {
          what: 'three retries of public.big',
          timeoutMs: 30_000,
        },
      );
      assert.ok((await metricValue(http, 'wal2nats_backoff_seconds', { table: 'public.big' })) > 0);
      assert.equal(await metricValue(http, 'wal2nats_backoff_seconds', { table: 'public.small' }), 0);
      assert.equal(collector.messages.filter((m) => m.subject.includes('.big.')).length, 0);
      assert.equal(await w2n.stop(), 0);
    } finally {
      collector.close();
      w2n.kill();
      await client.end();
    }
  });

  it('pauses reading at the mailbox capacity while NATS is down, then drains the backlog', async () => {
    const url = await servers.pg.createDatabase('backlog');
    const client = await servers.pg.connect('backlog');
    await client.query('CREATE TABLE rows (id int PRIMARY KEY)');
    const capacity = 200;
    const w2n = new Wal2NatsProcess(
      runArgs({
        postgresUrl: url,
        natsUrl: servers.nats.url,
        extra: ['--slot', 'backlog', '--shards', '1', '--mailbox-capacity', String(capacity)],
      }),
    );
    try {
      await w2n.ready();
      const http = await w2n.httpBase();
      await servers.nats.stop();
      await w2n.waitForLog(
        (l) => l.msg === 'disconnected from NATS; unconfirmed messages will be sent again',
        'a NATS disconnect',
      );
      const total = 5000;
      for (let i = 0; i < total; i += 100)
        await client.query(`INSERT INTO rows SELECT g FROM generate_series(${i + 1}, ${i + 100}) g`);
      // Reading stops once the shard holds `capacity` undelivered changes (plus what one
      // handed-over batch adds): the rest stays in Postgres.
      await waitFor(
        async () => (await metricValue(http, 'wal2nats_mailbox_depth')) >= capacity || undefined,
        { what: 'the mailbox to fill up', timeoutMs: 30_000 },
      );
      const statuses = await metricValue(http, 'wal2nats_standby_status_updates_total');
      await waitFor(
        async () =>
          (await metricValue(http, 'wal2nats_standby_status_updates_total')) > statuses || undefined,
        {
          what: 'a standby status update while paused (keeps the connection alive)',
          timeoutMs: 30_000,
          intervalMs: 250,
        },
      );
      const received = await metricValue(http, 'wal2nats_changes_received_total');
      assert.ok(
        received < capacity + 1024,
        `received ${received} changes with a capacity of ${capacity}: reading did not pause`,
      );
      assert.ok(received < total);

      await servers.nats.start();
      const nc2 = await servers.nats.connect();
      try {
        await waitFor(
          async () => (await metricValue(http, 'wal2nats_changes_received_total')) >= total || undefined,
          { what: 'the backlog to be read', timeoutMs: 60_000 },
        );
        await waitFor(
          async () => (await metricValue(http, 'wal2nats_messages_published_total')) >= total || undefined,
          { what: 'the backlog to be published', timeoutMs: 60_000 },
        );
      } finally {
        await nc2.close();
      }
      assert.equal(await w2n.stop(), 0);
    } finally {
      w2n.kill();
      await client.end();
      if (!servers.nats.running) await servers.nats.start();
    }
  });
});
