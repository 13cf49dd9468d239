/**
 * Bad input and unavailable servers, as a new user meets them: Postgres refusing us for good
 * exits 3 with the fix; a server that is merely down is waited for, never fatal; no secret is
 * ever printed.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { spawn } from 'node:child_process';
import { postgresBin } from './harness/binaries.js';
import { startNats, startPostgres, waitFor, type NatsServer, type PgServer } from './harness/index.js';
import { readStream, streamMessageCount } from './support/stream.js';
import { runArgs, Wal2NatsProcess } from './support/wal2nats-process.js';

const PASSWORD = 'Sup3r-secret-pw';

let pg: PgServer;
let nats: NatsServer;

before(async () => {
  [pg, nats] = await Promise.all([startPostgres(), startNats()]);
  // Password authentication for the test roles, trust for the rest (first match wins).
  const hba = join(pg.dataDir, 'pg_hba.conf');
  writeFileSync(hba, `host all norepl,pwuser 127.0.0.1/32 scram-sha-256\n${readFileSync(hba, 'utf8')}`);
  await pg.query(`CREATE ROLE norepl LOGIN PASSWORD '${PASSWORD}'`);
  await pg.query(`CREATE ROLE pwuser LOGIN REPLICATION SUPERUSER PASSWORD '${PASSWORD}'`);
  await pg.query('SELECT pg_reload_conf()');
  await pg.query('CREATE TABLE t (id int PRIMARY KEY)');
});

after(async () => {
  await Promise.all([pg?.dispose(), nats?.dispose()]);
});

function withUser(url: string, user: string, password: string): string {
  const u = new URL(url);
  u.username = user;
  u.password = password;
  return u.toString();
}

/** Everything the process printed, as text. */
function output(w2n: Wal2NatsProcess): string {
  return w2n.lines.map((l) => JSON.stringify(l)).join('\n');
}

async function expectRefusal(args: string[], pattern: RegExp): Promise<string> {
  const w2n = new Wal2NatsProcess(args);
  const code = await w2n.exited;
  const text = output(w2n);
  assert.equal(code, 3, `exit code 3; output:\n${text}`);
  assert.match(text, pattern);
  assert.ok(!text.includes(PASSWORD), 'the password is never printed');
  return text;
}

describe('Postgres refuses us for good: exit 3 with the fix', () => {
  it('bad credentials', async () => {
    const url = withUser(pg.url, 'pwuser', 'wrong-password');
    await expectRefusal(
      runArgs({ postgresUrl: url, natsUrl: nats.url, extra: ['--slot', 'creds'] }),
      /Postgres refused the password of user \\"pwuser\\".*check the user and password in --postgres-url/,
    );
  });

  it('a user without REPLICATION', async () => {
    const url = withUser(pg.url, 'norepl', PASSWORD);
    await expectRefusal(
      runArgs({ postgresUrl: url, natsUrl: nats.url, extra: ['--slot', 'norepl'] }),
      /may not replicate.*ALTER ROLE \\"norepl\\" WITH REPLICATION/,
    );
  });

  it(
    'a slot held by a process that is not wal2nats (after a grace period)',
    { timeout: 120_000 },
    async () => {
      // Another wal2nats on the slot would make this one a standby (test/high-availability.test.ts).
      const url = withUser(pg.url, 'pwuser', PASSWORD);
      await pg.query('CREATE PUBLICATION held_pub FOR ALL TABLES');
      const holder = spawn(
        postgresBin('pg_recvlogical'),
        [
          '-d',
          pg.url,
          '--slot',
          'held',
          '--create-slot',
          '--start',
          '-P',
          'pgoutput',
          '-o',
          'proto_version=1',
          '-o',
          'publication_names=held_pub',
          '-f',
          '/dev/null',
        ],
        { stdio: 'ignore' },
      );
      try {
        await waitFor(
          async () =>
            (
              await pg.query<{ active: boolean }>(
                "SELECT active FROM pg_replication_slots WHERE slot_name = 'held'",
              )
            ).rows[0]?.active || undefined,
          { what: 'pg_recvlogical to hold the slot' },
        );
        const text = await expectRefusal(
          runArgs({ postgresUrl: url, natsUrl: nats.url, extra: ['--slot', 'held'] }),
          /the slot \\"held\\" is in use by another process that is not wal2nats.*pg_recvlogical.*--slot/,
        );
        assert.match(text, /waiting for it to be released/);
      } finally {
        holder.kill('SIGKILL');
      }
    },
  );
});

describe('servers that are merely down are waited for', () => {
  it('starts with NATS down, reports not ready, and delivers once NATS is up', async () => {
    await pg.query('CREATE TABLE late_nats (id int PRIMARY KEY)');
    // A stream keeps what arrives while this test is not yet subscribed again.
    const admin = await nats.connect();
    await (
      await jetstreamManager(admin)
    ).streams.add({ name: 'LATE', subjects: ['sequin.changes.postgres.public.late_nats.>'] });
    await admin.close();
    await nats.stop();
    const w2n = new Wal2NatsProcess(
      runArgs({
        postgresUrl: pg.url,
        natsUrl: nats.url,
        extra: ['--slot', 'late_nats', '--nats-password', PASSWORD, '--nats-user', 'nobody'],
      }),
    );
    try {
      await w2n.streaming();
      const http = await w2n.httpBase();
      const ready = await fetch(`${http}/readyz`);
      assert.equal(ready.status, 503);
      assert.match(await ready.text(), /not connected to NATS/);
      await pg.query('INSERT INTO late_nats VALUES (1)');
      await nats.start();
      const nc: NatsConnection = await nats.connect();
      try {
        await waitFor(async () => (await streamMessageCount(nc, 'LATE')) >= 1 || undefined, {
          what: 'the change written while NATS was down to arrive',
          timeoutMs: 60_000,
        });
        const [stored] = await readStream(nc, 'LATE');
        assert.equal((stored!.data as { record: { id: number } }).record.id, 1);
      } finally {
        await nc.close();
      }
      await waitFor(async () => (await fetch(`${http}/readyz`)).status === 200 || undefined, {
        what: '/readyz to turn 200',
      });
      assert.equal(await w2n.stop(), 0);
      assert.ok(!output(w2n).includes(PASSWORD), 'the NATS password is never printed');
    } finally {
      w2n.kill();
      if (!nats.running) await nats.start();
    }
  });

  it('starts with Postgres down and streams once it is up', async () => {
    await pg.stop();
    const w2n = new Wal2NatsProcess(
      runArgs({ postgresUrl: pg.url, natsUrl: nats.url, extra: ['--slot', 'late_pg'] }),
    );
    try {
      await w2n.waitForLog((l) => l.msg === 'waiting for Postgres', '"waiting for Postgres"');
      await pg.start();
      await w2n.streaming();
      assert.equal(await w2n.stop(), 0);
    } finally {
      w2n.kill();
      if (!pg.running) await pg.start();
    }
  });
});
