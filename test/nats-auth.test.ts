/**
 * Connecting to a real, locked-down NATS, end to end: each authentication method (user and
 * password, token, NKey seed, creds file with operator/account/user JWTs), TLS verified
 * against a CA (with a tls:// URL), mutual TLS, secrets from the environment or a file named in
 * the config file, the start-up permission check, and the refusals (exit 3, the cause named,
 * never a secret printed). Each run streams one change from Postgres to NATS and stops cleanly.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nkeys, type NatsConnection } from '@nats-io/transport-node';
import {
  collectMessages,
  freePort,
  startNats,
  startPostgres,
  type NatsServer,
  type PgServer,
} from './harness/index.js';
import type { Envelope } from './support/envelope.js';
import { metricReaches, metricValue } from './support/metrics.js';
import { makeTestPki, type TestPki } from './support/nats-certs.js';
import { makeOperatorSetup, type OperatorSetup } from './support/nats-jwt.js';
import { runArgs, Wal2NatsProcess } from './support/wal2nats-process.js';

const ALICE_PASSWORD = 'alice-Pw-7f3c9e';
const LIMITED_PASSWORD = 'limited-Pw-41d0aa';
const ADMIN_PASSWORD = 'admin-Pw-0b8e21';
const TOKEN = 'tok-5b1e2d7a9c';

let pg: PgServer;
let dir: string;
let pki: TestPki;
let operator: OperatorSetup;
let nkeySeed: string;
/** alice (password), an NKey user, `limited` (may not publish to payroll), admin (to read). */
let usersServer: NatsServer;
let tokenServer: NatsServer;
let jwtServer: NatsServer;
let tlsServer: NatsServer;
let mtlsServer: NatsServer;
const readers: NatsConnection[] = [];
let databases = 0;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'wal2nats-auth-'));
  const user = nkeys.createUser();
  nkeySeed = new TextDecoder().decode(user.getSeed());
  operator = makeOperatorSetup();
  [pg, pki] = await Promise.all([startPostgres(), makeTestPki(dir)]);
  const tls = `tls { cert_file: ${JSON.stringify(pki.serverCert)}, key_file: ${JSON.stringify(pki.serverKey)} }`;
  [usersServer, tokenServer, jwtServer, tlsServer, mtlsServer] = await Promise.all([
    startNats({
      jetstream: false,
      config: `authorization { users = [
        { user: alice, password: ${JSON.stringify(ALICE_PASSWORD)} }
        { nkey: ${user.getPublicKey()} }
        { user: limited, password: ${JSON.stringify(LIMITED_PASSWORD)}, permissions: { publish: { allow: ["sequin.changes.>"], deny: ["sequin.changes.*.public.payroll.*"] } } }
        { user: admin, password: ${JSON.stringify(ADMIN_PASSWORD)} }
      ] }`,
    }),
    startNats({ jetstream: false, config: `authorization { token: ${JSON.stringify(TOKEN)} }` }),
    startNats({ jetstream: false, config: operator.serverConfig }),
    startNats({ jetstream: false, config: tls }),
    startNats({
      jetstream: false,
      config: `tls { cert_file: ${JSON.stringify(pki.serverCert)}, key_file: ${JSON.stringify(pki.serverKey)}, ca_file: ${JSON.stringify(pki.caCert)}, verify: true }`,
    }),
  ]);
});

after(async () => {
  await Promise.all(readers.map((nc) => nc.close()));
  await Promise.all([
    pg?.dispose(),
    usersServer?.dispose(),
    tokenServer?.dispose(),
    jwtServer?.dispose(),
    tlsServer?.dispose(),
    mtlsServer?.dispose(),
  ]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function newDatabase(
  sql = 'CREATE TABLE items (id int PRIMARY KEY, v text)',
): Promise<{ name: string; url: string }> {
  const name = `auth${++databases}`;
  return { name, url: await pg.createDatabase(name, sql) };
}

function writeFile(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content, { mode: 0o600 });
  return path;
}

/** Everything the process printed, to look for secrets in. */
function allOutput(w2n: Wal2NatsProcess): string {
  return `${w2n.stdout.join('')}\n${w2n.lines.map((l) => JSON.stringify(l)).join('\n')}`;
}

function assertNoSecret(text: string, ...secrets: string[]): void {
  for (const secret of secrets)
    assert.equal(text.includes(secret), false, `the output holds the secret ${secret.slice(0, 4)}…`);
}

interface RunOptions {
  readonly env?: NodeJS.ProcessEnv;
  /** The database's tables (default: one table `items`, which gets the row). */
  readonly sql?: string;
  /** Runs while wal2nats streams, after the change arrived. */
  readonly during?: (w2n: Wal2NatsProcess) => Promise<void>;
}

/**
 * Runs wal2nats against `natsUrl` with `extra` options, inserts one row, and checks that it
 * arrives (read by `reader`); stops it and expects exit 0. Returns the process for more checks.
 */
async function streamsOneChange(
  natsUrl: string,
  reader: NatsConnection,
  extra: string[],
  { env = {}, sql, during }: RunOptions = {},
): Promise<{ w2n: Wal2NatsProcess; db: string }> {
  const db = await newDatabase(sql);
  const collector = collectMessages(reader, `sequin.changes.${db.name}.>`);
  await reader.flush();
  const w2n = new Wal2NatsProcess(
    runArgs({ postgresUrl: db.url, natsUrl, extra: ['--slot', db.name, ...extra] }),
    env,
  );
  try {
    await w2n.streaming();
    const client = await pg.connect(db.name);
    await client.query(`INSERT INTO items VALUES (1, 'hello')`);
    await client.end();
    const [message] = await collector.waitForCount(1, 30_000);
    assert.equal(message!.subject, `sequin.changes.${db.name}.public.items.insert`);
    assert.deepEqual((message!.data as Envelope).record, { id: 1, v: 'hello' });
    await during?.(w2n);
    assert.equal(await w2n.stop(), 0);
    return { w2n, db: db.name };
  } finally {
    collector.close();
    w2n.kill();
  }
}

/** Runs wal2nats until it exits on its own; returns the exit code and the final error line. */
async function exitsWith(
  natsUrl: string,
  extra: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; error: string; w2n: Wal2NatsProcess }> {
  const db = await newDatabase();
  const w2n = new Wal2NatsProcess(
    runArgs({ postgresUrl: db.url, natsUrl, extra: ['--slot', db.name, ...extra] }),
    env,
  );
  const timer = setTimeout(() => w2n.kill(), 60_000);
  const code = await w2n.exited;
  clearTimeout(timer);
  const last = [...w2n.lines].reverse().find((l) => l.level === 'error');
  return {
    code,
    error: last
      ? `${String(last.msg)}\n  hint: ${String(last.hint ?? '')}\n  code: ${String(last.code ?? '')}`
      : w2n.tail(),
    w2n,
  };
}

async function reader(
  server: NatsServer,
  options: Parameters<NatsServer['connect']>[0] = {},
): Promise<NatsConnection> {
  const nc = await server.connect(options);
  readers.push(nc);
  return nc;
}

describe('NATS authentication', () => {
  it('user and password, the password from an environment variable named in the config file', async () => {
    const config = writeFile('alice.yaml', 'nats-user: alice\nnats-password: { env: ALICE_NATS_PASSWORD }\n');
    const { w2n } = await streamsOneChange(
      usersServer.url,
      await reader(usersServer, { user: 'admin', pass: ADMIN_PASSWORD }),
      ['--config', config],
      {
        env: { ALICE_NATS_PASSWORD: ALICE_PASSWORD },
        during: async (running) => {
          const base = await running.httpBase();
          const metrics = await (await fetch(`${base}/metrics`)).text();
          assertNoSecret(metrics, ALICE_PASSWORD);
          await metricReaches(base, 'wal2nats_nats_connected', 2);
          assert.equal(await metricValue(base, 'wal2nats_nats_reconnects_total'), 0);
        },
      },
    );
    assert.ok(
      w2n.lines.some((l) => l.msg === 'NATS lets us publish to our subjects' && l.user === 'user "alice"'),
      'the start-up check passed for alice',
    );
    assertNoSecret(allOutput(w2n), ALICE_PASSWORD);
  });

  it('refuses a wrong password with exit 3, without printing it', async () => {
    const { code, error, w2n } = await exitsWith(usersServer.url, [
      '--nats-user',
      'alice',
      '--nats-password',
      'wrong-Pw-123456',
    ]);
    assert.equal(code, 3, error);
    assert.match(error, /NATS refused our credentials: Authorization Violation/);
    assert.match(error, /code: NATS_AUTH/);
    assertNoSecret(allOutput(w2n), 'wrong-Pw-123456');
  });

  it('token, read from a file named in the config file', async () => {
    const tokenFile = writeFile('token', `${TOKEN}\n`);
    const config = writeFile('token.yaml', `nats-token: { file: ${JSON.stringify(tokenFile)} }\n`);
    const { w2n } = await streamsOneChange(tokenServer.url, await reader(tokenServer, { token: TOKEN }), [
      '--config',
      config,
    ]);
    assertNoSecret(allOutput(w2n), TOKEN);
  });

  it('refuses a wrong token with exit 3', async () => {
    const { code, error, w2n } = await exitsWith(tokenServer.url, [], {
      WAL2NATS_NATS_TOKEN: 'not-the-token-42',
    });
    assert.equal(code, 3, error);
    assert.match(error, /NATS refused our credentials/);
    assertNoSecret(allOutput(w2n), 'not-the-token-42');
  });

  it('NKey seed file', async () => {
    const seedFile = writeFile('user.nk', `${nkeySeed}\n`);
    const { w2n } = await streamsOneChange(
      usersServer.url,
      await reader(usersServer, { user: 'admin', pass: ADMIN_PASSWORD }),
      ['--nats-nkey-seed-file', seedFile],
    );
    assertNoSecret(allOutput(w2n), nkeySeed);
    const publicKey = nkeys.fromSeed(new TextEncoder().encode(nkeySeed)).getPublicKey();
    assert.ok(
      w2n.lines.some(
        (l) => l.msg === 'NATS lets us publish to our subjects' && l.user === `NKey user ${publicKey}`,
      ),
    );
  });

  it('creds file (operator, account and user JWTs)', async () => {
    const credsFile = writeFile('user.creds', operator.creds);
    const readerCreds = new TextEncoder().encode(operator.creds);
    const { credsAuthenticator } = await import('@nats-io/transport-node');
    const { w2n } = await streamsOneChange(
      jwtServer.url,
      await reader(jwtServer, { authenticator: credsAuthenticator(readerCreds) }),
      ['--nats-creds-file', credsFile],
    );
    const seed = /SU[A-Z0-9]{50,}/.exec(operator.creds)![0];
    assertNoSecret(allOutput(w2n), seed);
    assert.ok(
      w2n.lines.some(
        (l) =>
          l.msg === 'NATS lets us publish to our subjects' && String(l.user).includes(operator.userPublicKey),
      ),
    );
  });

  it('exits 3 on a creds file the operator does not know', async () => {
    const stranger = makeOperatorSetup('stranger');
    const credsFile = writeFile('stranger.creds', stranger.creds);
    const { code, error } = await exitsWith(jwtServer.url, ['--nats-creds-file', credsFile]);
    assert.equal(code, 3, error);
    assert.match(error, /NATS refused our credentials/);
  });

  it('exits 2 naming the option when a credential file is missing or wrong', async () => {
    const missing = await exitsWith(usersServer.url, ['--nats-nkey-seed-file', join(dir, 'nope.nk')]);
    assert.equal(missing.code, 2, missing.error);
    assert.match(missing.error, /invalid option --nats-nkey-seed-file: cannot read .*nope\.nk \(ENOENT\)/);
    const notCreds = await exitsWith(jwtServer.url, ['--nats-creds-file', writeFile('junk.creds', 'hello')]);
    assert.equal(notCreds.code, 2, notCreds.error);
    assert.match(notCreds.error, /invalid option --nats-creds-file: .* is not a NATS credentials file/);
  });
});

describe('NATS TLS', () => {
  it('verifies the server against --nats-tls-ca, with a tls:// URL', async () => {
    const url = tlsServer.url.replace('nats://', 'tls://');
    const nc = await reader(tlsServer, { tls: { caFile: pki.caCert } });
    await streamsOneChange(url, nc, ['--nats-tls-ca', pki.caCert]);
  });

  it('exits 3 when the server certificate does not verify, and says to pass --nats-tls-ca', async () => {
    const url = tlsServer.url.replace('nats://', 'tls://');
    const noCa = await exitsWith(url, []);
    assert.equal(noCa.code, 3, noCa.error);
    assert.match(noCa.error, /the NATS server's TLS certificate does not verify/);
    assert.match(noCa.error, /--nats-tls-ca/);
    assert.match(noCa.error, /code: NATS_TLS/);
    const wrongCa = await exitsWith(url, ['--nats-tls-ca', pki.otherCaCert]);
    assert.equal(wrongCa.code, 3, wrongCa.error);
    assert.match(wrongCa.error, /does not verify/);
  });

  it('exits 3 when a tls:// URL points at a server without TLS', async () => {
    const { code, error } = await exitsWith(tokenServer.url.replace('nats://', 'tls://'), [], {
      WAL2NATS_NATS_TOKEN: TOKEN,
    });
    assert.equal(code, 3, error);
    assert.match(error, /the NATS server does not offer TLS/);
  });

  it('mutual TLS with a client certificate and key', async () => {
    const nc = await reader(mtlsServer, {
      tls: { caFile: pki.caCert, certFile: pki.clientCert, keyFile: pki.clientKey },
    });
    const { w2n } = await streamsOneChange(mtlsServer.url, nc, [
      '--nats-tls-ca',
      pki.caCert,
      '--nats-tls-cert',
      pki.clientCert,
      '--nats-tls-key',
      pki.clientKey,
    ]);
    assert.ok(
      w2n.lines.some(
        (l) =>
          l.msg === 'NATS lets us publish to our subjects' && String(l.user).includes('CN=wal2nats-client'),
      ),
    );
  });

  it('exits 3 when the server wants a client certificate and gets none, and says to pass one', async () => {
    const { code, error } = await exitsWith(mtlsServer.url, ['--nats-tls-ca', pki.caCert]);
    assert.equal(code, 3, error);
    assert.match(error, /the NATS server refused our TLS connection/);
    assert.match(error, /--nats-tls-cert/);
  });
});

describe('the start-up permission check', () => {
  it('exits 3 naming the subject and the user when a subject is not allowed, before streaming', async () => {
    const db = await newDatabase(
      'CREATE TABLE items (id int PRIMARY KEY); CREATE TABLE payroll (id int PRIMARY KEY)',
    );
    const watcher = await reader(usersServer, { user: 'admin', pass: ADMIN_PASSWORD });
    const seen = collectMessages(watcher, '>');
    await watcher.flush();
    const w2n = new Wal2NatsProcess(
      runArgs({
        postgresUrl: db.url,
        natsUrl: usersServer.url,
        extra: ['--slot', db.name, '--nats-user', 'limited', '--nats-password', LIMITED_PASSWORD],
      }),
    );
    try {
      assert.equal(await w2n.exited, 3, w2n.tail());
      const error = w2n.lines.find((l) => l.level === 'error' && l.code === 'NATS_PERMISSION');
      assert.ok(error, w2n.tail());
      assert.match(
        String(error.msg),
        new RegExp(
          `NATS does not let user "limited" publish to sequin\\.changes\\.${db.name}\\.public\\.payroll\\.insert`,
        ),
      );
      assert.match(String(error.hint), /--exclude-tables/);
      assert.equal(
        w2n.lines.some((l) => l.msg === 'streaming from the slot'),
        false,
        'it never streamed',
      );
      assertNoSecret(allOutput(w2n), LIMITED_PASSWORD);
      // The probes reached no subscriber: a round trip to the server after the exit shows none.
      await watcher.flush();
      assert.deepEqual(
        seen.messages.map((m) => m.subject),
        [],
      );
    } finally {
      seen.close();
      w2n.kill();
    }
  });

  it('when NATS is down at start, streams meanwhile and still exits 3 once NATS is up and refuses', async () => {
    const db = await newDatabase(
      'CREATE TABLE items (id int PRIMARY KEY); CREATE TABLE payroll (id int PRIMARY KEY)',
    );
    await usersServer.stop();
    const w2n = new Wal2NatsProcess(
      runArgs({
        postgresUrl: db.url,
        natsUrl: usersServer.url,
        extra: ['--slot', db.name, '--nats-user', 'limited', '--nats-password', LIMITED_PASSWORD],
      }),
    );
    try {
      await w2n.waitForLog(
        (l) =>
          l.msg ===
          'NATS is not reachable yet: reading starts now; publish permissions are checked once it is',
        'the check to let reading start',
      );
      await w2n.streaming();
      await usersServer.start();
      assert.equal(await w2n.exited, 3, w2n.tail());
      const error = w2n.lines.find((l) => l.level === 'error' && l.code === 'NATS_PERMISSION');
      assert.match(
        String(error?.msg),
        /NATS does not let user "limited" publish to .*\.public\.payroll\.insert/,
      );
    } finally {
      w2n.kill();
      if (!usersServer.running) await usersServer.start();
    }
  });

  it('passes once the refused table is left out with --exclude-tables, and probes reach no subscriber', async () => {
    const watcher = await reader(usersServer, { user: 'admin', pass: ADMIN_PASSWORD });
    const seen = collectMessages(watcher, '>');
    await watcher.flush();
    try {
      const { db } = await streamsOneChange(
        usersServer.url,
        watcher,
        ['--nats-user', 'limited', '--nats-password', LIMITED_PASSWORD, '--exclude-tables', 'public.payroll'],
        {
          sql: 'CREATE TABLE items (id int PRIMARY KEY, v text); CREATE TABLE payroll (id int PRIMARY KEY)',
        },
      );
      await watcher.flush();
      // Only the one real change: no probe was delivered.
      assert.deepEqual(
        seen.messages.map((m) => m.subject).filter((s) => !s.startsWith('_INBOX.')),
        [`sequin.changes.${db}.public.items.insert`],
      );
    } finally {
      seen.close();
    }
  });
});

describe('waiting for NATS', () => {
  it('retries an unreachable server with a log line per attempt, streams meanwhile, and stops cleanly while waiting', async () => {
    const port = await freePort();
    const db = await newDatabase();
    const w2n = new Wal2NatsProcess(
      runArgs({
        postgresUrl: db.url,
        natsUrl: `nats://127.0.0.1:${port},nats://127.0.0.1:${port}`,
        extra: ['--slot', db.name],
      }),
    );
    try {
      const first = await w2n.waitForLog((l) => l.msg === 'waiting for NATS', '"waiting for NATS"');
      assert.match(String(first.error), /cannot connect to NATS/);
      assert.equal(first.servers, `nats://127.0.0.1:${port},nats://127.0.0.1:${port}`);
      await w2n.waitForLog(
        (l) => l.msg === 'waiting for NATS' && l.attempt === 2 && l.thread === 'main',
        'a second attempt',
      );
      // Reading does not wait for NATS; the shards wait for it too, each on its own.
      await w2n.streaming();
      await w2n.waitForLog(
        (l) => l.msg === 'waiting for NATS' && l.thread === 'shard-0',
        'shard 0 waiting for NATS',
      );
      assert.equal(await w2n.stop('SIGTERM', 15_000), 0);
    } finally {
      w2n.kill();
    }
  });
});
