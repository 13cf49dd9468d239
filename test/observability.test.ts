/**
 * Observability end to end (issue 5): /metrics parsed whole and checked under load and during a
 * NATS outage; /healthz and /readyz as probes; the messages API in every state with a real
 * failing message (a row over NATS's max_payload) and "retry now"; `wal2nats status`; and the
 * Grafana dashboard naming only metrics that exist.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import type { MessageDetail, MessageView, Overview } from '@wal2nats/runtime';
import { collectMessages, waitFor } from './harness/index.js';
import { metricValue, scrape, sampleSum, type MetricFamily } from './support/metrics.js';
import { confirmedFlushLsn } from './support/slot.js';
import { useServers } from './support/servers.js';
import { CLI_PATH, runArgs, Wal2NatsProcess } from './support/wal2nats-process.js';

// Rows of the load are small; one test writes a 10 KB row to have a message NATS refuses.
const servers = useServers({ nats: { config: 'max_payload: 4096' } });

async function getJson<T>(url: string): Promise<T> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

async function postJson(url: string, body: unknown): Promise<{ status: number; body: unknown }> {
  const response = await fetch(url, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json' },
  });
  return { status: response.status, body: await response.json() };
}

const CONTRACT_FIELDS = [
  'id',
  'subject',
  'table',
  'action',
  'commit_lsn',
  'commit_idx',
  'deliver_count',
  'last_error',
  'last_attempt_at',
  'next_attempt_at',
  'delivered_at',
] as const;

/** Checks one element of GET /api/messages against the contract's shape. */
function assertContractShape(m: MessageView): void {
  for (const field of CONTRACT_FIELDS) assert.ok(field in m, `${field} is in ${JSON.stringify(m)}`);
  assert.equal(typeof m.id, 'string');
  assert.equal(typeof m.subject, 'string');
  assert.match(m.table, /^.+\..+$/);
  assert.ok(Number.isSafeInteger(m.commit_lsn) && m.commit_lsn > 0);
  assert.ok(Number.isSafeInteger(m.commit_idx) && m.commit_idx >= 0);
  assert.ok(
    m.id.endsWith(`:${m.commit_lsn}:${m.commit_idx}`),
    'commit_lsn and commit_idx are those of the Nats-Msg-Id',
  );
  assert.ok(Number.isInteger(m.deliver_count) && m.deliver_count >= 1);
  for (const time of [m.last_attempt_at, m.next_attempt_at, m.delivered_at])
    if (time !== null) assert.ok(!Number.isNaN(Date.parse(time)), `${time} is a time`);
}

function familyNames(families: Map<string, MetricFamily>): Set<string> {
  return new Set(families.keys());
}

describe('metrics', () => {
  it('exposes every contract metric from every thread, consistent and with bounded labels, under load', async () => {
    const url = await servers.pg.createDatabase('load');
    const client = await servers.pg.connect('load');
    const tables = ['t1', 't2', 't3', 't4'];
    await client.query(tables.map((t) => `CREATE TABLE ${t} (id int PRIMARY KEY, n int)`).join(';'));
    const w2n = new Wal2NatsProcess(
      runArgs({
        postgresUrl: url,
        natsUrl: servers.nats.url,
        extra: ['--slot', 'load', '--shards', '2', '--log-level', 'info'],
      }),
    );
    try {
      await w2n.streaming();
      const http = await w2n.httpBase();

      // The load: 4 tables × (2,000 inserts, 500 updates, 250 deletes), in 250-row transactions,
      // while /metrics is scraped and parsed whole, over and over.
      const expected = new Map<string, number>();
      const count = (table: string, action: string, n: number) =>
        expected.set(`public.${table}:${action}`, (expected.get(`public.${table}:${action}`) ?? 0) + n);
      let writing = true;
      const writer = (async () => {
        for (let from = 1; from <= 2000; from += 250) {
          for (const t of tables) {
            await client.query(`INSERT INTO ${t} SELECT g, 0 FROM generate_series(${from}, ${from + 249}) g`);
            count(t, 'insert', 250);
          }
        }
        for (const t of tables) {
          await client.query(`UPDATE ${t} SET n = 1 WHERE id <= 500`);
          count(t, 'update', 500);
          await client.query(`DELETE FROM ${t} WHERE id > 1750`);
          count(t, 'delete', 250);
        }
      })().finally(() => {
        writing = false;
      });
      const previous = new Map<string, number>();
      let scrapes = 0;
      while (writing || scrapes < 3) {
        const families = await scrape(http);
        scrapes++;
        // Counters never go back between scrapes.
        for (const name of [
          'wal2nats_messages_published_total',
          'wal2nats_changes_received_total',
          'wal2nats_end_to_end_latency_seconds',
        ]) {
          const sampleName = name.endsWith('_seconds') ? `${name}_count` : name;
          const value = sampleSum(families, name, {}, sampleName);
          assert.ok(
            value >= (previous.get(name) ?? 0),
            `${name} went back from ${previous.get(name)} to ${value}`,
          );
          previous.set(name, value);
        }
        if (scrapes > 1000) break;
      }
      await writer;
      const total = [...expected.values()].reduce((a, b) => a + b, 0);
      await waitFor(
        async () => (await metricValue(http, 'wal2nats_messages_published_total')) === total || undefined,
        { what: `${total} messages published`, timeoutMs: 60_000 },
      );
      assert.ok(scrapes >= 3, `scraped ${scrapes} times during the load`);

      const families = await scrape(http);
      const type = (name: string) => families.get(name)?.type;
      // The contract's names and types.
      assert.equal(type('wal2nats_messages_published_total'), 'counter');
      assert.equal(type('wal2nats_publish_retries_total'), 'counter');
      assert.equal(type('wal2nats_backoff_seconds'), 'gauge');
      assert.equal(type('wal2nats_mailbox_depth'), 'gauge');
      assert.equal(type('wal2nats_replication_lag_bytes'), 'gauge');
      assert.equal(type('wal2nats_confirmed_flush_lsn'), 'gauge');
      assert.equal(type('wal2nats_end_to_end_latency_seconds'), 'histogram');
      assert.equal(type('wal2nats_publish_duration_seconds'), 'histogram');
      // Every change counted once, per table and action.
      for (const [key, n] of expected) {
        const [table, action] = key.split(':') as [string, string];
        assert.equal(sampleSum(families, 'wal2nats_messages_published_total', { table, action }), n, key);
      }
      // Labels stay bounded: per table (and action, shard, thread), never per message.
      assert.equal(families.get('wal2nats_messages_published_total')!.samples.length, expected.size);
      for (const family of families.values()) {
        for (const sample of family.samples) {
          for (const [label, value] of Object.entries(sample.labels)) {
            assert.ok(
              [
                'table',
                'action',
                'shard',
                'thread',
                'le',
                'version',
                'major',
                'minor',
                'patch',
                'space',
                'kind',
                'type',
              ].includes(label),
              `label ${label} of ${sample.name}`,
            );
            if (label === 'table')
              assert.ok(tables.map((t) => `public.${t}`).includes(value), `table label ${value}`);
          }
        }
      }
      assert.deepEqual(
        families
          .get('wal2nats_mailbox_depth')!
          .samples.map((s) => s.labels.shard)
          .sort(),
        ['0', '1'],
      );
      // Histograms are whole: buckets never decrease and +Inf equals the count.
      for (const name of ['wal2nats_end_to_end_latency_seconds', 'wal2nats_publish_duration_seconds']) {
        const samples = families.get(name)!.samples;
        const bucketValues = samples.filter((s) => s.name === `${name}_bucket`).map((s) => s.value);
        assert.ok(
          bucketValues.every((v, i) => i === 0 || v >= bucketValues[i - 1]!),
          `${name} buckets are cumulative`,
        );
        assert.equal(bucketValues.at(-1), sampleSum(families, name, {}, `${name}_count`));
        assert.ok(bucketValues.at(-1)! > 0, `${name} observed something`);
      }
      // Every thread reports itself, once; process metrics appear once, for the whole process.
      const threads = ['main', 'reader', 'shard-0', 'shard-1'];
      for (const name of [
        'wal2nats_event_loop_lag_seconds',
        'wal2nats_event_loop_utilization',
        'wal2nats_thread_heap_used_bytes',
        ...(process.platform === 'linux' ? ['wal2nats_thread_cpu_seconds_total'] : []),
      ]) {
        assert.deepEqual(
          families
            .get(name)
            ?.samples.map((s) => s.labels.thread)
            .sort(),
          threads,
          name,
        );
      }
      assert.ok(
        sampleSum(families, 'wal2nats_thread_cpu_seconds_total', { thread: 'shard-0' }) > 0,
        'a shard spent CPU publishing',
      );
      const overview = await getJson<Overview>(`${http}/api/overview`);
      const rss = sampleSum(families, 'process_resident_memory_bytes');
      const procRss =
        Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${overview.process.pid}/status`, 'utf8'))![1]) *
        1024;
      assert.ok(
        Math.abs(rss - procRss) < procRss * 0.5,
        `process_resident_memory_bytes ${rss} is the process's RSS (${procRss}), not a sum over threads`,
      );
      assert.equal(families.get('process_cpu_seconds_total')!.samples.length, 1);

      // Caught up: nothing undelivered, no backoff, the confirmed LSN is the slot's, the lag small.
      assert.equal(sampleSum(families, 'wal2nats_mailbox_depth'), 0);
      assert.equal(Math.max(...families.get('wal2nats_backoff_seconds')!.samples.map((s) => s.value)), 0);
      await waitFor(
        async () => {
          const [gauge, slot] = await Promise.all([
            metricValue(http, 'wal2nats_confirmed_flush_lsn'),
            confirmedFlushLsn(servers.pg, 'load', 'load'),
          ]);
          return gauge > 0 && slot !== null && BigInt(gauge) === slot;
        },
        {
          what: "wal2nats_confirmed_flush_lsn to equal the slot's confirmed_flush_lsn",
          timeoutMs: 30_000,
          intervalMs: 200,
        },
      );
      await waitFor(
        async () => (await metricValue(http, 'wal2nats_replication_lag_bytes')) < 1_000_000 || undefined,
        { what: 'the lag to be small once caught up', timeoutMs: 30_000, intervalMs: 200 },
      );

      // The overview reads the same numbers.
      await waitFor(
        async () => (await getJson<Overview>(`${http}/api/overview`)).totals.published === total || undefined,
        { what: 'the overview to catch up', timeoutMs: 10_000 },
      );
      const caughtUp = await getJson<Overview>(`${http}/api/overview`);
      assert.deepEqual(
        caughtUp.tables.map((t) => t.table).sort(),
        tables.map((t) => `public.${t}`),
      );
      assert.ok(
        caughtUp.history.length > 0 && caughtUp.history.some((p) => p.published_per_s > 0),
        'the history has the load',
      );
      assert.deepEqual(
        caughtUp.threads.map((t) => t.thread),
        threads,
      );

      // The Grafana dashboard uses only metrics that exist.
      const dashboard = readFileSync(new URL('../docs/grafana-dashboard.json', import.meta.url), 'utf8');
      JSON.parse(dashboard);
      const names = familyNames(families);
      const used = new Set(
        [...dashboard.matchAll(/\b((?:wal2nats|process|nodejs)_[a-z0-9_]+)/g)].map((m) =>
          m[1]!.replace(/_(bucket|sum|count)$/, ''),
        ),
      );
      assert.ok(used.size >= 10, `the dashboard uses ${used.size} metrics`);
      for (const name of used)
        assert.ok(names.has(name), `the dashboard uses ${name}, which /metrics does not have`);

      assert.equal(await w2n.stop(), 0);
    } finally {
      w2n.kill();
      await client.end();
    }
  });

  it('shows a NATS outage: not ready, tables failing and backing off, retries counting, lag growing; then recovers', async () => {
    const url = await servers.pg.createDatabase('outage');
    const client = await servers.pg.connect('outage');
    await client.query('CREATE TABLE t (id int PRIMARY KEY)');
    const w2n = new Wal2NatsProcess(
      runArgs({
        postgresUrl: url,
        natsUrl: servers.nats.url,
        extra: ['--slot', 'outage', '--shards', '1', '--max-backoff', '2s'],
      }),
    );
    try {
      await w2n.streaming();
      const http = await w2n.httpBase();
      await client.query('INSERT INTO t SELECT g FROM generate_series(1, 10) g');
      await waitFor(
        async () => (await metricValue(http, 'wal2nats_messages_published_total')) === 10 || undefined,
        { what: 'the first rows', timeoutMs: 30_000 },
      );
      assert.equal((await fetch(`${http}/readyz`)).status, 200);
      const lagBefore = await metricValue(http, 'wal2nats_replication_lag_bytes');

      await servers.nats.stop();
      await w2n.waitForLog(
        (l) => l.msg === 'disconnected from NATS; unconfirmed messages will be sent again',
        'a NATS disconnect',
      );
      for (let i = 0; i < 10; i++)
        await client.query(`INSERT INTO t SELECT g FROM generate_series(${11 + i * 10}, ${20 + i * 10}) g`);

      await waitFor(
        async () =>
          (await metricValue(http, 'wal2nats_backoff_seconds', { table: 'public.t' })) > 0 || undefined,
        { what: 'backoff above 0', timeoutMs: 30_000 },
      );
      const retries = await waitFor(
        async () => {
          const value = await metricValue(http, 'wal2nats_publish_retries_total', { table: 'public.t' });
          return value >= 3 ? value : undefined;
        },
        { what: 'three retries counted', timeoutMs: 30_000 },
      );
      const readyz = await fetch(`${http}/readyz`);
      assert.equal(readyz.status, 503);
      const reasons = ((await readyz.json()) as { reasons: string[] }).reasons;
      assert.ok(
        reasons.some((r) => /NATS/.test(r)),
        `a reason names NATS: ${reasons.join('; ')}`,
      );
      const [failing] = await getJson<MessageView[]>(`${http}/api/messages?state=failing`);
      assert.ok(failing, 'the head of public.t is failing');
      assertContractShape(failing);
      assert.equal(failing.table, 'public.t');
      assert.equal(failing.last_error, 'not connected to NATS');
      assert.ok(failing.deliver_count >= 2);
      assert.ok(failing.queued_behind! >= 90, `the rest wait behind it: ${failing.queued_behind}`);
      await waitFor(
        async () => (await metricValue(http, 'wal2nats_replication_lag_bytes')) > lagBefore || undefined,
        {
          what: 'the replication lag to grow while nothing can be confirmed',
          timeoutMs: 30_000,
          intervalMs: 200,
        },
      );
      // Still retrying: the counter keeps going.
      await waitFor(
        async () =>
          (await metricValue(http, 'wal2nats_publish_retries_total', { table: 'public.t' })) > retries ||
          undefined,
        { what: 'retries to keep counting', timeoutMs: 30_000 },
      );

      await servers.nats.start();
      await waitFor(
        async () => (await metricValue(http, 'wal2nats_messages_published_total')) === 110 || undefined,
        { what: 'the backlog delivered', timeoutMs: 60_000 },
      );
      await waitFor(async () => (await fetch(`${http}/readyz`)).status === 200 || undefined, {
        what: 'ready again',
        timeoutMs: 30_000,
      });
      assert.equal(await metricValue(http, 'wal2nats_backoff_seconds', { table: 'public.t' }), 0);
      assert.deepEqual(await getJson<MessageView[]>(`${http}/api/messages?state=failing`), []);
      const delivered = await getJson<MessageView[]>(`${http}/api/messages?state=delivered&limit=1000`);
      const formerlyFailing = delivered.find((m) => m.id === failing.id);
      assert.ok(formerlyFailing, 'the formerly failing message is among the recently delivered');
      assert.ok(
        formerlyFailing.deliver_count > failing.deliver_count,
        `its deliver count ${formerlyFailing.deliver_count} counts the failed attempts`,
      );
      assert.equal(await w2n.stop(), 0);
    } finally {
      w2n.kill();
      await client.end();
      if (!servers.nats.running) await servers.nats.start();
    }
  });
});

describe('health probes', () => {
  it('answers /healthz at once and /readyz 503 with a reason while Postgres is unreachable, never hanging, and shows no secret', async () => {
    const w2n = new Wal2NatsProcess(
      runArgs({
        postgresUrl: 'postgres://nobody:pg-s3cret@127.0.0.1:1/none',
        natsUrl: servers.nats.url,
        extra: ['--nats-user', 'someone', '--nats-password', 'n4ts-s3cret'],
      }),
    );
    try {
      const http = await w2n.httpBase();
      await w2n.waitForLog((l) => l.msg === 'waiting for Postgres', '"waiting for Postgres"');
      const started = Date.now();
      const health = await fetch(`${http}/healthz`);
      assert.equal(health.status, 200);
      assert.deepEqual(await health.json(), { status: 'ok' });
      const ready = await fetch(`${http}/readyz`);
      assert.equal(ready.status, 503);
      assert.deepEqual(await ready.json(), {
        status: 'not ready',
        reasons: ['starting: the source is not prepared yet'],
        role: 'starting',
      });
      assert.ok(Date.now() - started < 2000, 'probes answer quickly');
      assert.equal((await fetch(`${http}/healthz`, { method: 'HEAD' })).status, 200);
      const overview = await getJson<Overview>(`${http}/api/overview`);
      assert.deepEqual(overview.sink.servers, [servers.nats.url]);
      const shown = [
        JSON.stringify(overview),
        await (await fetch(`${http}/metrics`)).text(),
        await (await fetch(`${http}/`)).text(),
        JSON.stringify(w2n.lines),
      ].join('\n');
      for (const secret of ['pg-s3cret', 'n4ts-s3cret'])
        assert.ok(!shown.includes(secret), `${secret} is never shown`);
      assert.equal(await w2n.stop(), 0);
    } finally {
      w2n.kill();
    }
  });
});

describe('the messages API', () => {
  it('shows a failing message with its deliver count, error and next attempt, its detail, and retries it now', async () => {
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
        extra: ['--slot', 'poison', '--max-backoff', '1m'],
      }),
    );
    try {
      await w2n.streaming();
      const http = await w2n.httpBase();
      await client.query(`INSERT INTO big VALUES (1, repeat('x', 10000))`);
      await client.query(`INSERT INTO big VALUES (2, 'behind the big one')`);
      await client.query(`INSERT INTO small SELECT g FROM generate_series(1, 20) g`);
      await collector.waitForCount(20, 30_000);

      const [failing, ...others] = await waitFor(
        async () => {
          const list = await getJson<MessageView[]>(`${http}/api/messages?state=failing`);
          return list.length > 0 ? list : undefined;
        },
        { what: 'a failing message', timeoutMs: 30_000 },
      );
      assert.equal(others.length, 0, 'one table is failing');
      assertContractShape(failing!);
      assert.equal(failing!.subject, 'sequin.changes.poison.public.big.insert');
      assert.equal(failing!.table, 'public.big');
      assert.equal(failing!.action, 'insert');
      assert.match(failing!.last_error!, /max_payload/);
      assert.equal(failing!.delivered_at, null);
      assert.ok(Date.parse(failing!.next_attempt_at!) > Date.parse(failing!.last_attempt_at!));
      assert.equal(failing!.queued_behind, 1);

      const detail = await getJson<MessageDetail>(`${http}/api/messages/${encodeURIComponent(failing!.id)}`);
      assert.equal(detail.headers['Nats-Msg-Id'], failing!.id);
      assert.equal(detail.body_truncated, false);
      const body = JSON.parse(detail.body) as {
        record: { id: number; body: string };
        metadata: { commit_lsn: number; commit_idx: number; idempotency_key: string };
      };
      assert.equal(body.record.body.length, 10_000);
      assert.equal(body.metadata.idempotency_key, failing!.id);
      assert.equal(body.metadata.commit_lsn, failing!.commit_lsn);
      assert.equal(body.metadata.commit_idx, failing!.commit_idx);
      assert.equal((await fetch(`${http}/api/messages/${encodeURIComponent('0:none:1:0')}`)).status, 404);

      // Confirmed by the server's PONG, which may come a moment after the subscriber got them
      // (while the shard is quiet, cycles share a PING: sink/ping-linger.ts).
      const delivered = await waitFor(
        async () => {
          const list = await getJson<MessageView[]>(
            `${http}/api/messages?state=delivered&table=public.small`,
          );
          return list.length === 20 ? list : undefined;
        },
        { what: 'the 20 small rows shown delivered', timeoutMs: 10_000 },
      );
      for (const m of delivered) {
        assertContractShape(m);
        assert.equal(m.deliver_count, 1);
        assert.equal(m.last_error, null);
        assert.equal(m.next_attempt_at, null);
        assert.ok(m.delivered_at !== null);
      }
      assert.ok(
        Date.parse(delivered[0]!.delivered_at!) >= Date.parse(delivered.at(-1)!.delivered_at!),
        'newest first',
      );
      const inflight = await getJson<MessageView[]>(`${http}/api/messages?state=inflight`);
      inflight.forEach(assertContractShape);

      // Retry now: wait until the next attempt is seconds away, press, and see the attempt
      // happen long before it was due.
      const due = await waitFor(
        async () => {
          const [m] = await getJson<MessageView[]>(`${http}/api/messages?state=failing`);
          return m && m.deliver_count >= 3 && Date.parse(m.next_attempt_at!) - Date.now() > 2500
            ? m
            : undefined;
        },
        { what: 'the third failed attempt', timeoutMs: 30_000 },
      );
      assert.deepEqual(await postJson(`${http}/api/messages/retry`, { id: due.id }), {
        status: 200,
        body: { retried: 1 },
      });
      await waitFor(
        async () => {
          const [m] = await getJson<MessageView[]>(`${http}/api/messages?state=failing`);
          return m && m.deliver_count > due.deliver_count ? m : undefined;
        },
        { what: 'the retried attempt', timeoutMs: 10_000, intervalMs: 20 },
      );
      assert.ok(
        Date.now() < Date.parse(due.next_attempt_at!),
        'the attempt came before it was due: retry now worked',
      );
      assert.equal((await postJson(`${http}/api/messages/retry`, { id: '0:none:1:0' })).status, 404);
      assert.deepEqual(await postJson(`${http}/api/messages/retry`, {}), {
        status: 200,
        body: { retried: 1 },
      });

      // `wal2nats status` shows the same, and exits 1 while something fails.
      const status = await promisify(execFile)(process.execPath, [
        CLI_PATH,
        'status',
        '--http-url',
        http,
      ]).then(
        (r) => ({ code: 0, stdout: r.stdout }),
        (e: { code: number; stdout: string }) => ({ code: e.code, stdout: e.stdout }),
      );
      assert.equal(status.code, 1, status.stdout);
      assert.match(status.stdout, /● ready/);
      assert.match(status.stdout, /FAILING \(1\)/);
      assert.match(status.stdout, /public\.big .*sequin\.changes\.poison\.public\.big\.insert/);
      assert.match(status.stdout, /last error: .*max_payload/);
      assert.match(status.stdout, /public\.small\s+\S+\s+20\s+0\s+ok/);
      const json = JSON.parse(
        (
          await promisify(execFile)(process.execPath, [
            CLI_PATH,
            'status',
            '--http-url',
            http,
            '--json',
          ]).catch((e: { stdout: string }) => e)
        ).stdout,
      ) as { overview: Overview; failing: MessageView[] };
      assert.equal(json.failing[0]!.id, failing!.id);

      assert.equal(
        collector.messages.filter((m) => m.subject.includes('.big.')).length,
        0,
        'nothing of the failing table overtook it',
      );
      assert.equal(await w2n.stop(), 0);
    } finally {
      collector.close();
      w2n.kill();
      await client.end();
    }
  });
});
