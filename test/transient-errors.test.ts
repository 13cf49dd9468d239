/**
 * A replication session that Postgres ends with a transient error — class 40, transaction
 * rollback: 40P01 deadlock_detected, 40001 serialization_failure — is reconnected with backoff,
 * never fatal (issue 16: during contrib/test_decoding's rewrite.sql, REINDEX TABLE pg_class made
 * the walsender deadlock and wal2nats exited 1). Nothing is lost: streaming resumes from the
 * confirmed position.
 *
 * The error is injected by a proxy in front of the real Postgres (support/pg-fault-proxy.ts says
 * why a real deadlock in the walsender cannot be provoked on demand); the session, the protocol
 * and the client library are real.
 * https://www.postgresql.org/docs/15/errcodes-appendix.html
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { useServers } from './support/servers.js';
import { PgFaultProxy } from './support/pg-fault-proxy.js';
import { runArgs, Wal2NatsProcess } from './support/wal2nats-process.js';
import { Listener } from './support/stream-fixture.js';
import { waitFor } from './harness/index.js';

const servers = useServers();

describe('transient Postgres errors on the replication session', () => {
  it('reconnects after a deadlock (40P01) and a serialization failure (40001), losing nothing', async () => {
    await servers.pg.createDatabase('transient');
    const client = await servers.pg.connect('transient');
    const proxy = new PgFaultProxy({ host: '127.0.0.1', port: servers.pg.port });
    await proxy.listen();
    const w2n = new Wal2NatsProcess(
      runArgs({
        postgresUrl: `postgres://postgres@127.0.0.1:${proxy.port}/transient`,
        natsUrl: servers.nats.url,
        extra: ['--slot', 'transient', '--max-backoff', '1s'],
      }),
    );
    const listener = new Listener(servers.nc, 'sequin.changes.transient.public.t.>', 'public.t', () =>
      w2n.tail(),
    );
    /** The records delivered, each Nats-Msg-Id once, in arrival order. */
    const delivered = (): unknown[] => [
      ...new Map(listener.messages.map((m) => [m.msgId, m.body.record])).values(),
    ];
    try {
      await client.query('CREATE TABLE t (id int PRIMARY KEY)');
      await servers.nc.flush();
      await w2n.streaming();
      await client.query('INSERT INTO t VALUES (1)');
      await listener.take(1);

      let sessionsStarted = 1;
      for (const [sqlstate, text] of [
        ['40P01', 'deadlock detected'],
        ['40001', 'could not serialize access due to concurrent update'],
      ] as const) {
        assert.equal(proxy.failReplication(sqlstate, text), 1, 'one replication session to end');
        // Written while the session is down: it must arrive once the reader is back.
        await client.query(`INSERT INTO t VALUES (${sessionsStarted + 1})`);
        const lost = await w2n.waitForLog(
          (l) => l.msg === 'replication stream lost; reconnecting' && String(l.error).includes(sqlstate),
          `a reconnect after ${sqlstate}`,
        );
        assert.match(String(lost.error), new RegExp(text));
        sessionsStarted++;
        await waitFor(
          () =>
            w2n.lines.filter((l) => l.msg === 'streaming from the slot').length >= sessionsStarted ||
            undefined,
          { what: 'streaming again', timeoutMs: 60_000 },
        );
        await waitFor(() => delivered().length >= sessionsStarted || undefined, {
          what: `row ${sessionsStarted}`,
          timeoutMs: 60_000,
        });
      }
      assert.ok(w2n.running, 'still running');
      // At least once: what was delivered but not yet confirmed when the session ended comes
      // again, with the same Nats-Msg-Id.
      assert.deepEqual(delivered(), [{ id: 1 }, { id: 2 }, { id: 3 }]);
      assert.equal(await w2n.stop(), 0);
    } finally {
      listener.close();
      w2n.kill();
      await proxy.close();
      await client.end();
    }
  });
});
