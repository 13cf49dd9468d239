/**
 * JetStream mode end to end: PubAcks confirm delivery, the start-up check names a missing
 * stream, and a kill -9 in the middle of a drain leaves every change in the stream exactly once,
 * in per-table order.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from './harness/index.js';
import { orderViolations, type Envelope } from './support/envelope.js';
import { readStream, streamMessageCount } from './support/stream.js';
import { useServers } from './support/servers.js';
import { runArgs, Wal2NatsProcess } from './support/wal2nats-process.js';

const servers = useServers();

describe('JetStream mode', () => {
  it('exits 2 naming --jetstream when no stream captures the subjects', async () => {
    const url = await servers.pg.createDatabase('nostream');
    await servers.pg.query('SELECT 1');
    const client = await servers.pg.connect('nostream');
    await client.query('CREATE TABLE t (id int PRIMARY KEY)');
    await client.end();
    const w2n = new Wal2NatsProcess(
      runArgs({ postgresUrl: url, natsUrl: servers.nats.url, extra: ['--slot', 'nostream', '--jetstream'] }),
    );
    assert.equal(await w2n.exited, 2);
    const text = w2n.lines.map((l) => `${l.msg} ${String(l.hint ?? '')}`).join('\n');
    assert.match(
      text,
      /invalid option --jetstream: no JetStream stream captures sequin\.changes\.nostream\.public\.t\.insert/,
    );
    assert.match(text, /--create-stream/);
  });

  it('loses nothing and stores nothing twice across a kill -9 in the middle of a drain', async () => {
    const tables = ['a', 'b', 'c'];
    const url = await servers.pg.createDatabase('crash');
    const client = await servers.pg.connect('crash');
    await client.query(tables.map((t) => `CREATE TABLE ${t} (id int PRIMARY KEY, n int);`).join(''));
    await client.query(`CREATE PUBLICATION wal2nats FOR ALL TABLES`);
    await client.query(`SELECT pg_create_logical_replication_slot('crash', 'pgoutput')`);
    // Pre-fill the slot: 3 tables × 400 transactions of 3 changes each.
    for (let i = 0; i < 400; i++) {
      await client.query(
        `BEGIN; ${tables.map((t) => `INSERT INTO ${t} VALUES (${i}, 0); UPDATE ${t} SET n = 1 WHERE id = ${i};`).join(' ')} ${i % 2 === 0 ? tables.map((t) => `DELETE FROM ${t} WHERE id = ${i};`).join(' ') : ''} COMMIT;`,
      );
    }
    const expected = 400 * 3 * 2 + 200 * 3;
    const args = runArgs({
      postgresUrl: url,
      natsUrl: servers.nats.url,
      extra: ['--slot', 'crash', '--jetstream', '--create-stream', 'CRASH'],
    });

    const first = new Wal2NatsProcess(args);
    await waitFor(
      async () => (await streamMessageCount(servers.nc, 'CRASH').catch(() => 0)) >= 300 || undefined,
      { what: 'part of the drain to reach the stream', timeoutMs: 60_000, intervalMs: 20 },
    );
    first.kill();
    const code = await first.exited;
    assert.equal(code, null, 'killed by the signal');
    const storedAtKill = await streamMessageCount(servers.nc, 'CRASH');
    assert.ok(storedAtKill < expected, `the kill came before the end (${storedAtKill} of ${expected})`);

    const second = new Wal2NatsProcess(args);
    try {
      await waitFor(async () => (await streamMessageCount(servers.nc, 'CRASH')) >= expected || undefined, {
        what: `all ${expected} changes in the stream`,
        timeoutMs: 120_000,
        intervalMs: 100,
      });
      const stored = await readStream(servers.nc, 'CRASH');
      assert.equal(stored.length, expected, 'no change stored twice');
      const ids = new Set(stored.map((m) => m.msgId));
      assert.equal(ids.size, expected);
      const envelopes = stored.map((m) => m.data as Envelope);
      assert.deepEqual(orderViolations(envelopes), []);
      for (const m of stored.slice(0, 20))
        assert.equal(m.msgId, (m.data as Envelope).metadata.idempotency_key);
      assert.equal(await second.stop(), 0);
    } finally {
      second.kill();
      await client.end();
    }
  });
});
