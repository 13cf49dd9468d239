/**
 * wal2nats run as a plain REPLICATION role, the way production deployments connect: no
 * superuser, no pg_read_all_stats. Postgres hides pg_stat_replication.reply_time from such a role
 * (even for its own walsender), which the publish lease of high availability uses as its proof;
 * the session must still be kept, with a warning naming the GRANT for the exact proof, and a
 * frozen process must still lose the slot when it wakes up.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { collectMessages, waitFor } from './harness/index.js';
import { metricValue } from './support/metrics.js';
import { useServers } from './support/servers.js';
import { runArgs, Wal2NatsProcess } from './support/wal2nats-process.js';

const servers = useServers();

const LOST = 'lost the slot, standing by';
const STREAMING = 'streaming from the slot';
const HIDDEN = /may not see pg_stat_replication\.reply_time/;

describe('a plain REPLICATION role', () => {
  it('keeps its session for many lease periods, warns once with the GRANT, and is still fenced after a freeze', async () => {
    const url = await servers.pg.createDatabase('plainrole');
    const admin = await servers.pg.connect('plainrole');
    await admin.query(`
      CREATE ROLE plain_replicator LOGIN REPLICATION;
      CREATE TABLE t (id int PRIMARY KEY);
      CREATE PUBLICATION wal2nats FOR TABLE t;`);
    const details = await admin.query<{ sees: boolean }>(
      `SELECT pg_has_role('plain_replicator', 'pg_read_all_stats', 'USAGE') AS sees`,
    );
    assert.equal(
      details.rows[0]!.sees,
      false,
      'the role must not have the statistics role, or this test proves nothing',
    );
    const roleUrl = url.replace(/\/\/[^@/]*@/, '//plain_replicator@');
    const collector = collectMessages(servers.nc, 'sequin.changes.plainrole.>');
    await servers.nc.flush();
    const w2n = new Wal2NatsProcess(
      runArgs({ postgresUrl: roleUrl, natsUrl: servers.nats.url, extra: ['--slot', 'plainrole'] }),
    );
    try {
      await w2n.waitForLog((l) => l.msg === STREAMING, 'streaming');
      const warning = await w2n.waitForLog(
        (l) => HIDDEN.test(l.msg ?? ''),
        'the warning about the hidden reply_time',
      );
      assert.equal(warning.fix, 'GRANT pg_read_all_stats TO "plain_replicator"');
      const http = await w2n.httpBase();
      // Three times the 3.5 s lease, counted in the reader's own status updates (one a second).
      const statuses = await metricValue(http, 'wal2nats_standby_status_updates_total');
      await waitFor(
        async () =>
          (await metricValue(http, 'wal2nats_standby_status_updates_total')) >= statuses + 11 || undefined,
        {
          what: '11 more standby status updates',
          timeoutMs: 60_000,
          intervalMs: 250,
        },
      );
      assert.equal(
        w2n.lines.filter((l) => l.msg === LOST).length,
        0,
        `the session was dropped:\n${w2n.tail()}`,
      );
      assert.equal(w2n.lines.filter((l) => l.msg === STREAMING).length, 1);
      assert.equal(w2n.lines.filter((l) => HIDDEN.test(l.msg ?? '')).length, 1, 'warned once');
      await admin.query('INSERT INTO t VALUES (1)');
      await collector.waitForCount(1, 30_000);

      // Frozen for longer than Postgres keeps a silent walsender (5 s): on waking up its lease
      // has run out, whatever the weaker proof assumed.
      process.kill(w2n.pid, 'SIGSTOP');
      const pid = (
        await admin.query<{ pid: number }>(
          `SELECT active_pid AS pid FROM pg_replication_slots WHERE slot_name = 'plainrole'`,
        )
      ).rows[0]!.pid;
      await waitFor(
        async () =>
          (await admin.query(`SELECT 1 FROM pg_stat_activity WHERE pid = $1`, [pid])).rowCount === 0 ||
          undefined,
        {
          what: 'Postgres to end the frozen walsender (wal_sender_timeout)',
          timeoutMs: 30_000,
          intervalMs: 250,
        },
      );
      process.kill(w2n.pid, 'SIGCONT');
      await w2n.waitForLog(
        (l) => l.msg === LOST || l.msg === 'replication stream lost; reconnecting',
        'the woken process to see that its session is gone',
      );
      await w2n.waitForLog(
        (l) => l.msg === STREAMING && w2n.lines.filter((x) => x.msg === STREAMING).length >= 2,
        'streaming again',
      );
      await admin.query('INSERT INTO t VALUES (2)');
      await collector.waitForCount(2, 30_000);
      assert.equal(await w2n.stop(), 0);
    } finally {
      try {
        process.kill(w2n.pid, 'SIGCONT');
      } catch {
        // gone
      }
      collector.close();
      w2n.kill();
      await admin.end();
    }
  });
});
