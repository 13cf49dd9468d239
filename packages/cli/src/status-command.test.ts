import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { MessageView, Overview } from '@wal2nats/runtime';
import { authorizationHeader, colours, parseStatusArgs, renderStatus, sparkline } from './status-command.js';

const overview: Overview = {
  now: '2026-01-01T00:01:00.000Z',
  started_at: '2026-01-01T00:00:00.000Z',
  uptime_seconds: 60,
  ready: true,
  reasons: [],
  role: { role: 'active', since: '2026-01-01T00:00:30.000Z', active_host: 'db-1', active_pid: 42 },
  source: {
    database: 'shop',
    slot: 'wal2nats',
    publication: 'wal2nats',
    streaming: true,
    confirmed_lsn: '0/1979328',
    lag_bytes: 2_000_000,
    last_error: null,
    tables_without_identity: [],
  },
  sink: {
    servers: ['nats://127.0.0.1:4222'],
    jetstream: false,
    subject_prefix: 'sequin',
    connected_shards: 2,
    shards: 2,
    max_backoff_seconds: 180,
  },
  totals: {
    published: 14_480,
    received: 14_481,
    retries: 6,
    published_per_s: 366,
    received_per_s: 366,
    retries_per_s: 0.1,
    latency_p50_seconds: 0.012,
    latency_p99_seconds: 0.048,
    mailbox_depth: 1,
    max_backoff_seconds: 27.3,
    failing_tables: 1,
  },
  messages: { inflight: 0, failing: 1, delivered: 200 },
  backfills: [],
  tables: [
    {
      table: 'public.attachments',
      published: 0,
      published_per_s: 0,
      by_action: {},
      retries: 6,
      backoff_seconds: 27.3,
    },
    {
      table: 'public.orders',
      published: 5280,
      published_per_s: 133,
      by_action: { insert: 5280 },
      retries: 0,
      backoff_seconds: 0,
    },
  ],
  shards: [],
  threads: [],
  process: { pid: 42, node: 'v20.0.0', rss_bytes: 162_000_000, cpu_percent: 15 },
  history: [1, 2, 3].map((i) => ({
    t: i,
    published_per_s: i * 100,
    received_per_s: i * 100,
    retries_per_s: 0,
    lag_bytes: i,
    mailbox_depth: 0,
    max_backoff_seconds: i,
    failing_tables: 1,
    latency_p50_seconds: null,
    latency_p99_seconds: 0.01,
  })),
};

const failing: MessageView[] = [
  {
    id: '7:shop:26711168:0',
    subject: 'sequin.changes.shop.public.attachments.insert',
    table: 'public.attachments',
    action: 'insert',
    commit_lsn: 26711168,
    commit_idx: 0,
    deliver_count: 6,
    last_error: "'payload' max_payload size exceeded",
    last_attempt_at: '2026-01-01T00:00:50.000Z',
    next_attempt_at: '2026-01-01T00:01:26.000Z',
    delivered_at: null,
    state: 'failing',
    shard: 0,
    commit_timestamp: '2026-01-01T00:00:01.000000Z',
    failing_since: '2026-01-01T00:00:02.000Z',
    queued_behind: 3,
  },
];

describe('wal2nats status', () => {
  it('shows readiness, the numbers at a glance, the tables and the failing message', () => {
    const text = renderStatus(overview, failing, 'http://127.0.0.1:9464', colours(false));
    assert.match(text, /● ready/);
    assert.match(text, /Throughput\s+366 msg\/s/);
    assert.match(text, /Lag\s+2\.0 MB/);
    assert.match(text, /public\.attachments\s+0\s+0\s+6\s+backoff 27\.3 s/);
    assert.match(text, /FAILING \(1\)/);
    assert.match(text, /public\.attachments {2}0\/1979480 #0/);
    assert.match(text, /deliver count 6 · next attempt in 26 s · 3 waiting behind it/);
    assert.match(text, /last error: 'payload' max_payload size exceeded/);
    assert.ok(!text.includes('\x1b['), 'no colour codes when colours are off');
  });

  it('shows the role: active, or standby with the active process', () => {
    assert.match(renderStatus(overview, [], 'http://x', colours(false)), /▶ active for 30 s/);
    const standby = renderStatus(
      {
        ...overview,
        role: { role: 'standby', since: '2026-01-01T00:00:50.000Z', active_host: 'db-2', active_pid: 77 },
      },
      [],
      'http://x',
      colours(false),
    );
    assert.match(standby, /◦ standby for 10 s · active: db-2 pid 77/);
    const foreign = renderStatus(
      { ...overview, role: { role: 'standby', since: null, active_host: null, active_pid: null } },
      [],
      'http://x',
      colours(false),
    );
    assert.match(foreign, /active: a process that is not wal2nats/);
  });

  it('shows a backfill in progress', () => {
    const text = renderStatus(
      overview,
      [],
      'http://127.0.0.1:9464',
      colours(false),
      Date.parse(overview.now),
      [{ table: 'public.people', rows: 1200, estimated: 5000 }],
    );
    assert.match(text, /Backfill\s+public\.people: 1,200 of ~5,000 \(24%\) rows delivered/);
  });

  it('draws sparklines scaled to their maximum', () => {
    assert.equal(sparkline([0, 1, 2, 4], 4), '▁▃▅█');
    assert.equal(sparkline([null, 0], 4), '   ▁', 'a gap is blank, short history is padded');
  });

  it('takes --http-url, the environment, and refuses what it does not know', () => {
    assert.equal(parseStatusArgs([], {}).httpUrl, 'http://127.0.0.1:9464');
    assert.equal(parseStatusArgs([], { WAL2NATS_HTTP_URL: 'http://h:1/' }).httpUrl, 'http://h:1');
    assert.equal(parseStatusArgs(['--http-url', 'http://x:2'], {}).httpUrl, 'http://x:2');
    assert.equal(parseStatusArgs(['--http-url=http://x:3', '--json'], {}).json, true);
    assert.throws(() => parseStatusArgs(['--http-url'], {}), /needs a value/);
    assert.throws(() => parseStatusArgs(['--http-url', 'ftp://x'], {}), /not an http/);
    assert.throws(() => parseStatusArgs(['--slot', 'x'], {}), /unknown option/);
  });

  it('sends the HTTP token of --http-token-file, WAL2NATS_HTTP_TOKEN_FILE or WAL2NATS_HTTP_TOKEN', () => {
    assert.deepEqual(authorizationHeader(parseStatusArgs([], {}), {}), {});
    assert.deepEqual(
      authorizationHeader(parseStatusArgs([], {}), { WAL2NATS_HTTP_TOKEN: 't0ken-from-the-environment' }),
      { authorization: 'Bearer t0ken-from-the-environment' },
    );
    assert.equal(
      parseStatusArgs(['--http-token-file', '/run/secrets/a'], { WAL2NATS_HTTP_TOKEN_FILE: '/b' })
        .httpTokenFile,
      '/run/secrets/a',
    );
    assert.equal(parseStatusArgs([], { WAL2NATS_HTTP_TOKEN_FILE: '/b' }).httpTokenFile, '/b');
    assert.throws(
      () => authorizationHeader(parseStatusArgs(['--http-token-file=/no/such/file'], {}), {}),
      /--http-token-file: cannot read \/no\/such\/file \(ENOENT\)/,
    );
    assert.throws(() => parseStatusArgs(['--http-token-file'], {}), /needs a value/);
  });
});
