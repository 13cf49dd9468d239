/**
 * High availability, end to end: several `wal2nats run` on one slot, one streams, the others
 * stand by. Under a steady write load over several tables the active one is SIGKILLed three
 * times (once with two standbys racing for the slot) and SIGSTOPped for 20 s; after each, the
 * time until a change committed after the failure reaches NATS is measured. A subscriber that
 * stays connected the whole time must see every committed change, in commit order per table
 * (first sightings; duplicates are allowed around a takeover and counted), and the process that
 * was frozen must publish nothing after it wakes up (counted by nats-server itself).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, waitFor, type CollectedMessage } from './harness/index.js';
import { collectMessages } from './harness/index.js';
import { ChaosWriter, changeKey, seededRandom } from './support/chaos-writer.js';
import { orderViolations, type Envelope } from './support/envelope.js';
import { localPortsTo, messagesFromPorts } from './support/nats-publishers.js';
import { checkStored } from './support/stream-check.js';
import { readStream } from './support/stream.js';
import { useServers } from './support/servers.js';
import { runArgs, Wal2NatsProcess } from './support/wal2nats-process.js';

const TABLES = ['accounts', 'orders', 'items', 'events'];
const FREEZE_MS = 20_000;
const monitorPort = await freePort();
const servers = useServers({ nats: { config: `http: "127.0.0.1:${monitorPort}"` } });
const monitorUrl = `http://127.0.0.1:${monitorPort}`;

const running: Wal2NatsProcess[] = [];
after(async () => {
  for (const p of running) {
    try {
      process.kill(p.pid, 'SIGCONT');
    } catch {
      // gone
    }
    p.kill();
  }
});

function start(args: string[]): Wal2NatsProcess {
  const p = new Wal2NatsProcess(args);
  running.push(p);
  return p;
}

const isStandingBy = (l: { msg?: string }): boolean =>
  l.msg === 'standing by: another wal2nats streams from the slot';

interface Role {
  role: string;
  active_pid: number | null;
}

async function roleOf(p: Wal2NatsProcess): Promise<Role> {
  const overview = (await (await fetch(`${await p.httpBase()}/api/overview`)).json()) as { role: Role };
  return overview.role;
}

/** A subscriber's view: each message with its arrival time. */
interface Arrival {
  readonly at: number;
  readonly message: CollectedMessage;
}

/** Waits for the active one among `processes`: the one whose overview says so. */
async function activeOf(processes: readonly Wal2NatsProcess[]): Promise<Wal2NatsProcess> {
  return waitFor(
    async () => {
      for (const p of processes) if ((await roleOf(p).catch(() => null))?.role === 'active') return p;
      return undefined;
    },
    { what: 'one process to be active', timeoutMs: 60_000, intervalMs: 100 },
  );
}

describe('high availability: a standby that may not stand by', () => {
  it(
    'refuses another publication or other subject options (exit 2), and wrong Postgres credentials at once (exit 3)',
    { timeout: 120_000 },
    async () => {
      const url = await servers.pg.createDatabase('ha_bad', 'CREATE TABLE t (id int PRIMARY KEY)');
      // Password authentication for one role, trust for the rest (first match wins).
      const hba = join(servers.pg.dataDir, 'pg_hba.conf');
      writeFileSync(hba, `host all pwuser 127.0.0.1/32 scram-sha-256\n${readFileSync(hba, 'utf8')}`);
      await servers.pg.query("CREATE ROLE pwuser LOGIN REPLICATION SUPERUSER PASSWORD 'right-password'");
      await servers.pg.query('SELECT pg_reload_conf()');
      const args = (extra: string[] = [], postgresUrl = url): string[] =>
        runArgs({ postgresUrl, natsUrl: servers.nats.url, extra: ['--slot', 'ha_bad', ...extra] });
      const active = start(args());
      await active.streaming();
      const refused = async (
        extra: string[],
        postgresUrl = url,
      ): Promise<{ code: number | null; text: string; stoodBy: boolean }> => {
        const p = start(args(extra, postgresUrl));
        const code = await p.exited;
        return {
          code,
          text: p.lines.map((l) => JSON.stringify(l)).join('\n'),
          stoodBy: p.lines.some(isStandingBy),
        };
      };
      const publication = await refused(['--publication', 'other_pub']);
      assert.equal(publication.code, 2, publication.text);
      assert.match(
        publication.text,
        /streamed by wal2nats on \S+ \(pid \d+\) with another --publication.*start this one with the same --publication/,
      );
      const prefix = await refused(['--subject-prefix', 'acme']);
      assert.equal(prefix.code, 2, prefix.text);
      assert.match(
        prefix.text,
        /other options that change the subjects or what is published.*--subject-prefix/,
      );
      const wrong = new URL(url);
      wrong.username = 'pwuser';
      wrong.password = 'wrong-password';
      const credentials = await refused([], wrong.toString());
      assert.equal(credentials.code, 3, credentials.text);
      assert.match(credentials.text, /Postgres refused the password of user \\"pwuser\\"/);
      assert.equal(credentials.stoodBy, false, 'refused before standing by, not at the takeover');
      assert.ok(!credentials.text.includes('wrong-password'), 'the password is never printed');
      assert.equal(await active.stop(), 0);
    },
  );
});

describe('a slot that vanishes', () => {
  it('stops wal2nats with exit 3, never a silent new slot', { timeout: 120_000 }, async () => {
    const url = await servers.pg.createDatabase('ha_gone', 'CREATE TABLE t (id int PRIMARY KEY)');
    const p = start(runArgs({ postgresUrl: url, natsUrl: servers.nats.url, extra: ['--slot', 'ha_gone'] }));
    await p.streaming();
    // Postgres refuses to drop a slot in use: end the session, then drop it before wal2nats is back.
    await waitFor(
      async () => {
        await servers.pg.query(
          "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = 'ha_gone' AND active",
        );
        const dropped = await servers.pg.query("SELECT pg_drop_replication_slot('ha_gone')").then(
          () => true,
          () => false,
        );
        return dropped || undefined;
      },
      { what: 'the slot to be dropped', timeoutMs: 30_000, intervalMs: 10 },
    );
    assert.equal(await p.exited, 3);
    const text = p.lines.map((l) => JSON.stringify(l)).join('\n');
    assert.match(
      text,
      /the replication slot \\"ha_gone\\" does not exist any more.*does not create a new slot/,
    );
    const slots = await servers.pg.query("SELECT 1 FROM pg_replication_slots WHERE slot_name = 'ha_gone'");
    assert.equal(slots.rowCount, 0, 'no new slot was created');
  });
});

/**
 * The takeover run. `stream`: with --jetstream into this stream, which is read back at the end
 * (every change once, per-table order); without, the core NATS subscriber's view is checked.
 */
async function takeovers(database: string, stream: string | null): Promise<void> {
  const seed = Number(process.env.WAL2NATS_CHAOS_SEED ?? Date.now() % 1_000_000);
  const random = seededRandom(seed);
  console.log(`high availability seed ${seed} (repeat with WAL2NATS_CHAOS_SEED=${seed})`);
  const url = await servers.pg.createDatabase(database);
  const setup = await servers.pg.connect(database);
  await setup.query(TABLES.map((t) => `CREATE TABLE ${t} (id int PRIMARY KEY, n bigint NOT NULL);`).join(''));
  await setup.end();

  const arrivals: Arrival[] = [];
  const collector = collectMessages(servers.nc, `sequin.changes.${database}.>`, {
    onMessage: (message) => arrivals.push({ at: Date.now(), message }),
  });
  await servers.nc.flush();
  const args = runArgs({
    postgresUrl: url,
    natsUrl: servers.nats.url,
    extra: [
      '--slot',
      database,
      '--log-level',
      'info',
      ...(stream ? ['--jetstream', '--create-stream', stream] : []),
    ],
  });

  const first = start(args);
  await first.ready();
  const second = start(args);
  await second.waitForLog(isStandingBy, 'standing by');
  // A healthy standby is ready (a rolling update must go on), with its role in the body.
  const standbyHttp = await second.httpBase();
  const readyz = await waitFor(
    async () => {
      const response = await fetch(`${standbyHttp}/readyz`);
      const body = (await response.json()) as { role: string; reasons: string[] };
      return response.status === 200 ? body : undefined;
    },
    { what: "the standby's /readyz to answer 200 (its shards connect to NATS)", timeoutMs: 30_000 },
  );
  assert.equal(readyz.role, 'standby');
  assert.equal((await fetch(`${standbyHttp}/healthz`)).status, 200);
  const role = await roleOf(second);
  assert.equal(role.role, 'standby');
  assert.equal(role.active_pid, first.pid, 'the standby names the active process');
  assert.match(await (await fetch(`${standbyHttp}/metrics`)).text(), /^wal2nats_active 0$/m);
  assert.match(await (await fetch(`${await first.httpBase()}/metrics`)).text(), /^wal2nats_active 1$/m);

  const writer = new ChaosWriter(servers.pg, database, TABLES, random);
  writer.start();
  const someProgress = async (): Promise<void> => {
    const from = arrivals.length;
    const by = 100 + Math.floor(random() * 400);
    await waitFor(() => arrivals.length >= from + by || undefined, {
      what: `${by} more changes on NATS`,
      timeoutMs: 90_000,
      intervalMs: 20,
    });
  };
  /**
   * Measures a takeover from `t0`, the failure: until a standby publishes again (nats-server's
   * count of messages received on its connections grows), and until a change committed after
   * `t0` arrives (the new active one has replayed what the old one left unconfirmed).
   */
  const takeoverTime = async (
    t0: number,
    standbys: readonly Wal2NatsProcess[],
    what: string,
  ): Promise<{ what: string; publishesMs: number; newChangeMs: number }> => {
    // A standby's ports are read again at each look: a fresh one may still be connecting its
    // shards to NATS (it stands by before they are connected), and what it has published before
    // (only a woken one has) is the baseline.
    const counted = await Promise.all(
      standbys.map(async (p) => ({
        pid: p.pid,
        before: await messagesFromPorts(monitorUrl, localPortsTo(p.pid, servers.nats.port)),
      })),
    );
    const publishedAt = waitFor(
      async () => {
        for (const c of counted)
          if ((await messagesFromPorts(monitorUrl, localPortsTo(c.pid, servers.nats.port))) > c.before)
            return Date.now();
        return undefined;
      },
      { what: `a standby to publish after the ${what}`, timeoutMs: 60_000, intervalMs: 5 },
    );
    const arrival = await waitFor(
      () =>
        arrivals.find(
          (a) => a.at >= t0 && Date.parse((a.message.data as Envelope).metadata.commit_timestamp) > t0,
        ) ?? undefined,
      { what: `a change committed after the ${what} to arrive`, timeoutMs: 60_000, intervalMs: 10 },
    );
    return { what, publishesMs: (await publishedAt) - t0, newChangeMs: arrival.at - t0 };
  };

  const times: { what: string; publishesMs: number; newChangeMs: number }[] = [];
  let processes = [first, second];
  try {
    // Three SIGKILLs of the active one; before the third, two standbys race for the slot.
    for (let round = 1; round <= 3; round++) {
      await someProgress();
      const active = await activeOf(processes);
      const standbys = processes.filter((p) => p !== active);
      const measuring = takeoverTime(
        Date.now(),
        standbys,
        `SIGKILL #${round}${standbys.length > 1 ? ` (${standbys.length} standbys)` : ''}`,
      );
      active.kill();
      times.push(await measuring);
      await active.exited;
      const fresh = round === 2 ? [start(args), start(args)] : [start(args)];
      for (const p of fresh) await p.waitForLog(isStandingBy, 'standing by');
      processes = [...standbys, ...fresh];
      const taker = await activeOf(processes);
      await taker.waitForLog(
        (l) => l.msg === 'taking over: this process streams from the slot now',
        'taking over',
      );
    }

    // The active one freezes: Postgres ends its session after wal_sender_timeout, a standby takes over.
    await someProgress();
    const frozen = await activeOf(processes);
    const natsPorts = localPortsTo(frozen.pid, servers.nats.port);
    // Core NATS: a connection per shard; JetStream: one shard (and connection) per stream.
    assert.ok(natsPorts.size >= 1, `the frozen process's NATS connections are found (${natsPorts.size})`);
    const measuring = takeoverTime(
      Date.now(),
      processes.filter((p) => p !== frozen),
      'SIGSTOP',
    );
    process.kill(frozen.pid, 'SIGSTOP');
    const stoppedAt = performance.now();
    times.push(await measuring);
    await someProgress();
    // Everything it wrote before freezing has reached the server long since.
    const publishedBeforeWaking = await messagesFromPorts(monitorUrl, natsPorts);
    await new Promise((resolve) =>
      setTimeout(resolve, Math.max(0, FREEZE_MS - (performance.now() - stoppedAt))),
    ); // the freeze itself, not a wait for an event
    process.kill(frozen.pid, 'SIGCONT');
    await frozen.waitForLog((l) => l.msg === 'lost the slot, standing by', '"lost the slot, standing by"');
    await waitFor(async () => (await roleOf(frozen)).role === 'standby' || undefined, {
      what: 'the woken process to report standby',
      timeoutMs: 30_000,
    });
    await someProgress();
    assert.equal(
      await messagesFromPorts(monitorUrl, natsPorts),
      publishedBeforeWaking,
      'the process that was frozen published nothing after waking up',
    );
    assert.ok(frozen.running, 'the woken process stays, as a standby');
  } finally {
    await writer.stop();
  }

  const committed = new Set(writer.committed);
  const keyOf = (a: Arrival): string => {
    const e = a.message.data as Envelope;
    return changeKey(e.metadata.table_name, e.action, e.record);
  };
  await waitFor(
    () => {
      const seen = new Set(arrivals.map(keyOf));
      return [...committed].every((k) => seen.has(k)) || undefined;
    },
    { what: `all ${committed.size} committed changes on NATS`, timeoutMs: 120_000, intervalMs: 200 },
  );
  for (const p of processes) assert.equal(await p.stop(), 0);
  collector.close();

  const firstSightings: Envelope[] = [];
  const seen = new Map<string, string>();
  let duplicates = 0;
  for (const a of arrivals) {
    const e = a.message.data as Envelope;
    assert.equal(a.message.headers['Nats-Msg-Id'], e.metadata.idempotency_key);
    const previous = seen.get(keyOf(a));
    if (previous === undefined) {
      seen.set(keyOf(a), e.metadata.idempotency_key);
      firstSightings.push(e);
    } else {
      duplicates++;
      assert.equal(e.metadata.idempotency_key, previous, 'a duplicate carries the same Nats-Msg-Id');
    }
  }
  const missing = writer.committed.filter((k) => !seen.has(k));
  const violations = orderViolations(firstSightings);
  const mode = stream ? 'JetStream' : 'core NATS';
  console.log(
    `high availability (${mode}): ${writer.transactions} transactions, ${writer.committed.length} changes, ${arrivals.length} received by a core subscriber, ${duplicates} duplicates; lost ${missing.length}, order violations ${violations.length}`,
  );
  const worst = (key: 'publishesMs' | 'newChangeMs'): number =>
    Math.max(...times.filter((t) => t.what.startsWith('SIGKILL')).map((t) => t[key]));
  console.log(
    `takeover times, ${mode} (measured on a loaded machine; until the other one publishes again / until a change committed after the failure arrives): ${times.map((t) => `${t.what} ${t.publishesMs} / ${t.newChangeMs} ms`).join(', ')}; worst after SIGKILL ${worst('publishesMs')} / ${worst('newChangeMs')} ms`,
  );
  assert.deepEqual(missing.slice(0, 10), [], `${missing.length} changes lost`);
  assert.deepEqual(
    violations.slice(0, 10),
    [],
    `${violations.length} per-table order violations among first sightings`,
  );
  assert.equal(firstSightings.length, writer.committed.length);
  if (stream) {
    const stored = await readStream(servers.nc, stream);
    const {
      missing: storedMissing,
      twice,
      violations: storedViolations,
    } = checkStored(stored, writer.committed);
    console.log(
      `high availability (JetStream stream): ${stored.length} stored; lost ${storedMissing.length}, twice ${twice.length}, per-table order violations ${storedViolations.length}`,
    );
    assert.deepEqual(
      storedMissing.slice(0, 10),
      [],
      `${storedMissing.length} changes missing from the stream`,
    );
    assert.deepEqual(twice.slice(0, 10), [], `${twice.length} changes stored twice`);
    assert.deepEqual(
      storedViolations.slice(0, 10),
      [],
      `${storedViolations.length} per-table order violations in the stream`,
    );
    assert.equal(stored.length, writer.committed.length);
  }
}

describe('high availability', () => {
  it(
    'core NATS: a standby takes over after SIGKILL and SIGSTOP; a subscriber sees every change, in order per table; the frozen one never publishes again',
    { timeout: 300_000 },
    () => takeovers('ha', null),
  );
  it(
    'JetStream: the same, and the stream holds every change once, in order per table',
    { timeout: 300_000 },
    () => takeovers('ha_js', 'HA'),
  );
});
