/**
 * The chaos suite: under a steady write load over several tables, wal2nats is killed with
 * SIGKILL several times at random moments, nats-server is stopped and started, and Postgres is
 * restarted. Then the whole JetStream stream is read back: every change present, none twice,
 * per-table order kept. The seed is printed, and WAL2NATS_CHAOS_SEED repeats a run.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from './harness/index.js';
import { ChaosWriter, seededRandom } from './support/chaos-writer.js';
import { checkStored } from './support/stream-check.js';
import { readStream, streamMessageCount } from './support/stream.js';
import { useServers } from './support/servers.js';
import { runArgs, Wal2NatsProcess } from './support/wal2nats-process.js';

const TABLES = ['accounts', 'orders', 'items', 'events'];
const STREAM = 'CHAOS';

const servers = useServers();

describe('chaos', () => {
  it(
    'loses nothing, stores nothing twice and keeps per-table order through kills and restarts',
    { timeout: 300_000 },
    async () => {
      const seed = Number(process.env.WAL2NATS_CHAOS_SEED ?? Date.now() % 1_000_000);
      const random = seededRandom(seed);
      console.log(`chaos seed ${seed} (repeat with WAL2NATS_CHAOS_SEED=${seed})`);

      const url = await servers.pg.createDatabase('chaos');
      const setup = await servers.pg.connect('chaos');
      await setup.query(
        TABLES.map((t) => `CREATE TABLE ${t} (id int PRIMARY KEY, n bigint NOT NULL);`).join(''),
      );
      await setup.end();
      const args = runArgs({
        postgresUrl: url,
        natsUrl: servers.nats.url,
        extra: [
          '--slot',
          'chaos',
          '--jetstream',
          '--create-stream',
          STREAM,
          '--max-backoff',
          '2s',
          '--log-level',
          'info',
        ],
      });

      let w2n = new Wal2NatsProcess(args);
      await w2n.ready();
      const writer = new ChaosWriter(servers.pg, 'chaos', TABLES, random);
      writer.start();
      const stored = async (): Promise<number> => streamMessageCount(servers.nc, STREAM).catch(() => 0);
      /** Waits until the stream grew by a random amount: a random moment that is also an event. */
      const someProgress = async (): Promise<void> => {
        const from = await stored();
        const by = 100 + Math.floor(random() * 600);
        await waitFor(async () => (await stored()) >= from + by || undefined, {
          what: `the stream to grow by ${by} from ${from}`,
          timeoutMs: 90_000,
          intervalMs: 25,
        });
      };
      const killAndRestart = async (): Promise<void> => {
        w2n.kill();
        await w2n.exited;
        w2n = new Wal2NatsProcess(args);
        await w2n.ready();
      };

      try {
        for (let round = 0; round < 3; round++) {
          await someProgress();
          await killAndRestart();
        }
        await someProgress();
        await servers.nats.stop();
        await w2n.waitForLog(
          (l) => l.msg === 'disconnected from NATS; unconfirmed messages will be sent again',
          'a NATS disconnect',
        );
        await servers.nats.start();
        await someProgress();
        await killAndRestart();
        await someProgress();
        await writer.pause();
        await servers.pg.restart();
        writer.resume();
        await w2n.waitForLog(
          (l) => l.msg === 'replication stream lost; reconnecting',
          'a lost replication stream',
        );
        await someProgress();
        await killAndRestart();
        await someProgress();
      } finally {
        await writer.stop();
      }

      const expected = writer.committed.length;
      await waitFor(async () => (await stored()) >= expected || undefined, {
        what: `all ${expected} committed changes in the stream`,
        timeoutMs: 120_000,
        intervalMs: 100,
      });
      assert.equal(await w2n.stop(), 0);

      const messages = await readStream(servers.nc, STREAM);
      const { missing, twice, violations } = checkStored(messages, writer.committed);
      console.log(
        `chaos: ${writer.transactions} transactions, ${expected} changes, ${messages.length} stored; lost ${missing.length}, twice ${twice.length}, order violations ${violations.length}`,
      );
      assert.deepEqual(missing.slice(0, 10), [], `${missing.length} changes lost`);
      assert.deepEqual(twice.slice(0, 10), [], `${twice.length} changes stored twice`);
      assert.deepEqual(violations.slice(0, 10), [], `${violations.length} order violations`);
      assert.equal(messages.length, expected);
    },
  );
});
