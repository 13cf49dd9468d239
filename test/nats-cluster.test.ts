/**
 * A 3-node NATS cluster on loopback with a replicated (R3) JetStream stream: wal2nats is given
 * every node's URL, and in the middle of a steady write load the node that is both the stream's
 * leader and shard 0's server is killed (SIGKILL). With --jetstream nothing is lost and nothing
 * is stored twice, per-table order holds, and the reconnect shows in the logs and the metrics.
 * And a start while the cluster has no JetStream quorum is waited out, not refused.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { nanos } from '@nats-io/transport-node';
import { waitFor } from './harness/index.js';
import { useClusterServers } from './support/cluster-servers.js';
import { ChaosWriter, changeKey, seededRandom } from './support/chaos-writer.js';
import { orderViolations, type Envelope } from './support/envelope.js';
import { metricReaches, metricValue } from './support/metrics.js';
import { readStream, streamMessageCount } from './support/stream.js';
import { runArgs, Wal2NatsProcess } from './support/wal2nats-process.js';

const TABLES = ['accounts', 'orders', 'items'];
const STREAM = 'CLUSTER_CDC';

const servers = useClusterServers();

async function streamLeader(): Promise<string> {
  return waitFor(async () => (await servers.jsm.streams.info(STREAM)).cluster?.leader || undefined, {
    what: `a leader for ${STREAM}`,
    timeoutMs: 30_000,
    intervalMs: 100,
  });
}

describe('a NATS cluster', () => {
  it(
    'loses nothing and stores nothing twice when a node dies mid-stream (R3 stream, --jetstream)',
    { timeout: 90_000 },
    async () => {
      const seed = Number(process.env.WAL2NATS_CHAOS_SEED ?? Date.now() % 1_000_000);
      console.log(`cluster test seed ${seed}`);
      const url = await servers.pg.createDatabase('cluster');
      const setup = await servers.pg.connect('cluster');
      await setup.query(
        TABLES.map((t) => `CREATE TABLE ${t} (id int PRIMARY KEY, n bigint NOT NULL);`).join(''),
      );
      await setup.end();
      await servers.jsm.streams.add({
        name: STREAM,
        subjects: ['sequin.changes.cluster.>'],
        num_replicas: 3,
        duplicate_window: nanos(120_000),
      });

      const w2n = new Wal2NatsProcess(
        runArgs({
          postgresUrl: url,
          natsUrl: servers.cluster.urls.join(','),
          extra: ['--slot', 'cluster', '--jetstream', '--max-backoff', '2s', '--log-level', 'info'],
        }),
      );
      const writer = new ChaosWriter(servers.pg, 'cluster', TABLES, seededRandom(seed));
      try {
        await w2n.streaming();
        const base = await w2n.httpBase();
        const connected = await w2n.waitForLog(
          (l) => l.msg === 'connected to NATS' && l.connection === 'wal2nats shard 0',
          'shard 0 connecting',
        );
        const victim = servers.cluster.nodeAt(String(connected.server));
        // Make the victim the stream's leader too, so that its death forces both a client
        // reconnect and a leader election. A step-down hands leadership to another replica.
        for (let i = 0; i < 10 && servers.cluster.node(await streamLeader()) !== victim; i++) {
          await servers.nc
            .request(`$JS.API.STREAM.LEADER.STEPDOWN.${STREAM}`, '', { timeout: 5000 })
            .catch(() => undefined);
          await waitFor(async () => (await servers.jsm.streams.info(STREAM)).cluster?.leader || undefined, {
            what: 'a new leader',
            timeoutMs: 15_000,
            intervalMs: 100,
          });
        }
        const victimIsLeader = servers.cluster.node(await streamLeader()) === victim;
        await metricReaches(base, 'wal2nats_nats_connected', 1); // JetStream mode: one shard per stream

        // The writer is much faster than an R3 stream acknowledging one message per table at a
        // time, so it writes in two bursts: a backlog that wal2nats is in the middle of draining
        // when the node dies, and more changes while it recovers.
        const committed = (n: number) =>
          waitFor(() => writer.committed.length >= n || undefined, {
            what: `${n} committed changes`,
            timeoutMs: 30_000,
            intervalMs: 5,
          });
        writer.start();
        await committed(1500);
        await writer.pause();
        const stored = async (): Promise<number> => streamMessageCount(servers.nc, STREAM).catch(() => 0);
        await waitFor(async () => (await stored()) >= 300 || undefined, {
          what: '300 changes in the stream',
          timeoutMs: 30_000,
          intervalMs: 25,
        });
        const atKill = await stored();
        await victim.kill();
        writer.resume();
        await committed(writer.committed.length + 1000);
        await writer.stop();
        await w2n.waitForLog(
          (l) =>
            l.msg === 'disconnected from NATS; unconfirmed messages will be sent again' &&
            l.thread === 'shard-0',
          'shard 0 to notice the dead node',
          15_000,
        );
        await w2n.waitForLog(
          (l) => l.msg === 'reconnected to NATS' && l.thread === 'shard-0',
          'shard 0 to reconnect to another node',
          15_000,
        );

        const expected = writer.committed.length;
        assert.ok(atKill < expected, `the kill came mid-stream (${atKill} of ${expected} stored)`);
        await waitFor(async () => (await stored()) >= expected || undefined, {
          what: `all ${expected} changes in the stream`,
          timeoutMs: 45_000,
          intervalMs: 100,
        });
        // JetStream may still be electing leaders after the kill: a request that times out is tried again.
        const messages = await waitFor(() => readStream(servers.nc, STREAM), {
          what: `${STREAM} read back`,
          timeoutMs: 30_000,
          intervalMs: 500,
        });
        assert.equal(messages.length, expected, 'no change stored twice');
        assert.equal(new Set(messages.map((m) => m.msgId)).size, expected);
        const envelopes = messages.map((m) => m.data as Envelope);
        const keys = envelopes.map((e) => changeKey(e.metadata.table_name, e.action, e.record));
        assert.deepEqual(
          [...keys].sort(),
          [...writer.committed].sort(),
          'every committed change present once',
        );
        assert.deepEqual(orderViolations(envelopes), []);

        assert.ok(
          (await metricValue(base, 'wal2nats_nats_reconnects_total', { shard: '0' })) >= 1,
          'the reconnect is counted',
        );
        await metricReaches(base, 'wal2nats_nats_connected', 1); // JetStream mode: one shard per stream
        console.log(
          `killed ${victim.url} (stream leader: ${victimIsLeader}) at ${atKill} stored; ${expected} changes in all`,
        );
        assert.equal(await w2n.stop(), 0);
      } finally {
        await writer.stop();
        w2n.kill();
      }
    },
  );

  it(
    'waits at start while JetStream has no quorum, and streams once it has (not "the server does not offer JetStream")',
    { timeout: 90_000 },
    async () => {
      const url = await servers.pg.createDatabase('quorum');
      const setup = await servers.pg.connect('quorum');
      await setup.query('CREATE TABLE t (id int PRIMARY KEY)');
      await setup.end();
      // One node of three: JetStream has no meta leader (or one without quorum whose requests
      // never commit), so the API answers nothing or 503 until the others are back.
      const survivor = servers.cluster.nodes.find((n) => n.running)!;
      const others = servers.cluster.nodes.filter((n) => n !== survivor);
      await Promise.all(others.map((n) => n.kill()));
      const w2n = new Wal2NatsProcess(
        runArgs({
          postgresUrl: url,
          natsUrl: survivor.url,
          extra: ['--slot', 'quorum', '--jetstream', '--create-stream', 'QUORUM_CDC', '--log-level', 'info'],
        }),
      );
      try {
        const waiting = await w2n.waitForLog(
          (l) => l.msg === 'waiting for JetStream to answer (the cluster may have no meta leader right now)',
          'the wait for JetStream',
          45_000,
        );
        assert.ok(waiting.error, 'the warning says what failed');
        await Promise.all(others.map((n) => n.start()));
        await w2n.streaming(60_000);
        const insert = await servers.pg.connect('quorum');
        await insert.query('INSERT INTO t VALUES (1)');
        await insert.end();
        await waitFor(
          async () =>
            (await streamMessageCount(servers.nc, 'QUORUM_CDC').catch(() => 0)) === 1 ? true : undefined,
          { what: 'the insert in QUORUM_CDC', timeoutMs: 30_000, intervalMs: 100, context: () => w2n.tail() },
        );
        assert.equal(await w2n.stop(), 0);
      } finally {
        w2n.kill();
        await Promise.all(others.map((n) => n.start()));
      }
    },
  );
});
