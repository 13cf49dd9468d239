/**
 * `wal2nats backfill --table …` while `wal2nats run` streams: the table's current rows arrive as
 * `read` events, a read never lands after a newer change of its row (DBLog watermarks), it
 * resumes after a crash, and bad input gets a clear error and the contract's exit code.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Client } from 'pg';
import { waitFor } from './harness/index.js';
import { orderViolations, type Envelope } from './support/envelope.js';
import { metricValue } from './support/metrics.js';
import { Listener } from './support/stream-fixture.js';
import { useServers } from './support/servers.js';
import { runArgs, Wal2NatsProcess } from './support/wal2nats-process.js';

const servers = useServers();

/** Runs `wal2nats backfill …` to its exit. */
async function backfill(args: readonly string[]): Promise<{ code: number | null; output: string }> {
  const w2n = new Wal2NatsProcess(['backfill', ...args]);
  const code = await w2n.exited;
  const lines = w2n.lines.map((l) =>
    Object.keys(l).length === 1 && typeof l.msg === 'string' ? l.msg : JSON.stringify(l),
  );
  return { code, output: `${w2n.stdout.join('')}\n${lines.join('\n')}` };
}

async function backfillStatus(
  client: Client,
  id?: number,
): Promise<{ status: string; rows_published: string; error: string | null }[]> {
  return (
    await client.query(
      `SELECT status, rows_published, error FROM wal2nats.backfills ${id === undefined ? '' : `WHERE id = ${id}`} ORDER BY id`,
    )
  ).rows;
}

/**
 * Bumps `version` of random rows and deletes some, in small transactions, until stopped; the
 * writes of one row are in version order, so its events must be too.
 */
class VersionWriter {
  transactions = 0;
  readonly deleted = new Set<number>();
  private running = true;
  private readonly done: Promise<void>;

  constructor(
    private readonly client: Client,
    private readonly rows: number,
    private readonly seed: number,
  ) {
    this.done = this.run();
  }

  private async run(): Promise<void> {
    let seed = this.seed;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    while (this.running) {
      await this.client.query('BEGIN');
      // Rows locked in id order: two writers never deadlock.
      const ids = Array.from({ length: 10 }, () => 1 + random(this.rows)).sort((a, b) => a - b);
      for (const id of ids) {
        if (random(20) === 0) {
          await this.client.query('DELETE FROM items WHERE id = $1', [id]);
          this.deleted.add(id);
        } else {
          await this.client.query('UPDATE items SET version = version + 1 WHERE id = $1', [id]);
        }
      }
      await this.client.query('COMMIT');
      this.transactions++;
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }
}

describe('wal2nats backfill', () => {
  it('publishes every row of the table as a read event with the record and metadata', async () => {
    const url = await servers.pg.createDatabase('bf_basic');
    const sql = await servers.pg.connect('bf_basic');
    const rows = 2500;
    await sql.query(`
      CREATE TABLE people (id int PRIMARY KEY, name text NOT NULL, born date, score numeric, big int8, seen timestamptz, tags text[]);
      INSERT INTO people SELECT g, 'name ' || g, DATE '2000-01-01' + g, g / 7.0, 9007199254740993 + g, TIMESTAMPTZ '2024-01-02 03:04:05.123456+02', ARRAY['a', 'b c'] FROM generate_series(1, ${rows}) g;
      CREATE TABLE other (id int PRIMARY KEY);`);
    const w2n = new Wal2NatsProcess(
      runArgs({
        postgresUrl: url,
        natsUrl: servers.nats.url,
        extra: ['--slot', 'bf_basic', '--backfill-chunk-rows', '700'],
      }),
    );
    const listener = new Listener(servers.nc, 'sequin.changes.bf_basic.>', 'bf_basic', () => w2n.tail());
    await servers.nc.flush();
    try {
      await w2n.streaming();
      const requested = await backfill([
        '--table',
        'public.people',
        '--postgres-url',
        url,
        '--slot',
        'bf_basic',
        '--wait',
      ]);
      assert.equal(requested.code, 0, requested.output);
      assert.match(requested.output, /requested backfill \d+ of public\.people for slot bf_basic/);
      assert.match(requested.output, /done, 2500 (of ~2500 )?rows published/);
      await sql.query('INSERT INTO people VALUES (-1, $1)', ['sentinel']);
      await waitFor(() => listener.messages.some((m) => m.body.record?.['id'] === -1) || undefined, {
        what: 'the sentinel',
        timeoutMs: 30_000,
      });

      const reads = listener.messages.filter((m) => m.body.action === 'read');
      assert.equal(reads.length, rows, 'every row once');
      assert.deepEqual(new Set(reads.map((m) => m.body.record?.['id'])).size, rows);
      const first = reads.find((m) => m.body.record?.['id'] === 1)!;
      assert.equal(first.subject, 'sequin.changes.bf_basic.public.people.read');
      assert.deepEqual(first.body.record, {
        id: 1,
        name: 'name 1',
        born: '2000-01-02',
        score: '0.14285714285714285714',
        big: 9007199254740994,
        seen: '2024-01-02T01:04:05.123456Z',
        tags: ['a', 'b c'],
      });
      assert.match(first.raw, /"big":9007199254740994/, 'int8 keeps every digit');
      assert.equal(first.body.changes, null);
      assert.deepEqual(first.body.metadata.record_pks, ['1']);
      assert.equal(first.body.metadata.table_schema, 'public');
      assert.equal(first.body.metadata.table_name, 'people');
      assert.equal(first.body.metadata.database_name, 'bf_basic');
      assert.equal(first.msgId, first.body.metadata.idempotency_key);
      assert.match(
        first.body.metadata.idempotency_key,
        /:read:\d+:\d+$/,
        'a read key never equals a change key',
      );
      assert.equal(new Set(reads.map((m) => m.msgId)).size, rows, 'distinct idempotency keys');
      assert.deepEqual(
        reads.map((m) => m.body.record?.['id']),
        Array.from({ length: rows }, (_, i) => i + 1),
        'in key order',
      );
      assert.deepEqual(orderViolations(listener.messages.map((m) => m.body)), []);
      assert.ok(
        !listener.messages.some((m) => m.body.metadata.table_schema === 'wal2nats'),
        'the state table is never published',
      );
      const http = await w2n.httpBase();
      assert.equal(await metricValue(http, 'wal2nats_backfill_rows_total', { table: 'public.people' }), rows);
      const status = await backfillStatus(sql);
      assert.deepEqual(
        status.map((s) => [s.status, Number(s.rows_published)]),
        [['done', rows]],
      );
      assert.ok(
        w2n.lines.some((l) => l.msg === 'backfill: done' && l.rows === rows),
        'logs the end',
      );
      assert.equal(await w2n.stop(), 0);
    } finally {
      listener.close();
      w2n.kill();
      await sql.end();
    }
  });

  it('never publishes a stale read after a newer change under concurrent updates and deletes', async (t) => {
    const url = await servers.pg.createDatabase('bf_race');
    const sql = await servers.pg.connect('bf_race');
    const writerClients = [await servers.pg.connect('bf_race'), await servers.pg.connect('bf_race')];
    const rows = 6000;
    await sql.query(`
      CREATE TABLE items (id int PRIMARY KEY, version int NOT NULL, pad text);
      INSERT INTO items SELECT g, 0, repeat('x', 50) FROM generate_series(1, ${rows}) g;`);
    const w2n = new Wal2NatsProcess(
      runArgs({
        postgresUrl: url,
        natsUrl: servers.nats.url,
        extra: ['--slot', 'bf_race', '--backfill-chunk-rows', '2000'],
      }),
    );
    const listener = new Listener(servers.nc, 'sequin.changes.bf_race.>', 'bf_race', () => w2n.tail());
    await servers.nc.flush();
    let writers: VersionWriter[] = [];
    try {
      await w2n.streaming();
      // Two writers, so that rows of a chunk often change while it is read.
      writers = writerClients.map((client, i) => new VersionWriter(client, rows, 4242 + i));
      const transactions = (): number => writers.reduce((sum, w) => sum + w.transactions, 0);
      await waitFor(() => transactions() >= 20 || undefined, { what: 'writes to start', timeoutMs: 30_000 });
      const requested = await backfill([
        '--table',
        'public.items',
        '--postgres-url',
        url,
        '--slot',
        'bf_race',
        '--wait',
      ]);
      assert.equal(requested.code, 0, requested.output);
      const during = transactions();
      await Promise.all(writers.map((w) => w.stop()));
      await sql.query(`INSERT INTO items VALUES (-1, 0, 'sentinel')`);
      await waitFor(() => listener.messages.some((m) => m.body.record?.['id'] === -1) || undefined, {
        what: 'the sentinel',
        timeoutMs: 60_000,
      });

      const events = listener.messages.map((m) => m.body);
      assert.deepEqual(
        orderViolations(events.filter((e) => e.action !== 'read')),
        [],
        'changes in commit order',
      );
      assert.deepEqual(orderViolations(events), [], 'reads in commit order with the changes');
      const version = new Map<number, number>();
      const deletedAt = new Set<number>();
      const problems: string[] = [];
      let reads = 0;
      for (const e of events) {
        const id = Number((e.record ?? {})['id']);
        if (e.action === 'delete') {
          deletedAt.add(id);
          continue;
        }
        if (e.action === 'read') {
          reads++;
          if (deletedAt.has(id)) problems.push(`read of id ${id} after its delete`);
        }
        const v = Number(e.record?.['version']);
        if (version.has(id) && v < version.get(id)!)
          problems.push(`id ${id}: ${e.action} of version ${v} after version ${version.get(id)}`);
        version.set(id, v);
      }
      assert.deepEqual(problems.slice(0, 10), []);
      // How often the watermarks mattered in this run (rows changed while their chunk was read).
      const dropped = w2n.lines
        .filter((l) => l.msg === 'backfill: chunk routed')
        .reduce((sum, l) => sum + Number(l.dropped), 0);
      t.diagnostic(
        `${dropped} rows of chunks were changed between their watermarks and left to their changes`,
      );
      assert.ok(during >= 50, `writes went on during the backfill (${during} transactions)`);
      const changed = events.filter((e) => e.action === 'update').length;
      assert.ok(changed > 100, `${changed} updates streamed`);
      // Every row that still exists was either read or changed after the backfill began.
      const existing = (await sql.query<{ id: number }>('SELECT id FROM items WHERE id > 0')).rows.map(
        (r) => r.id,
      );
      const seen = new Set(events.map((e) => Number((e.record ?? {})['id'])));
      assert.deepEqual(existing.filter((id) => !seen.has(id)).slice(0, 10), [], 'every row is in the stream');
      assert.ok(reads > rows / 2, `${reads} reads`);
      assert.equal(await w2n.stop(), 0);
    } finally {
      await Promise.all(writers.map((w) => w.stop()));
      listener.close();
      w2n.kill();
      await sql.end();
      await Promise.all(writerClients.map((c) => c.end()));
    }
  });

  it('resumes after wal2nats is killed mid-backfill, and every row is published', async () => {
    const url = await servers.pg.createDatabase('bf_resume');
    const sql = await servers.pg.connect('bf_resume');
    const rows = 40_000;
    await sql.query(`
      CREATE TABLE logs (a int, b text, msg text, PRIMARY KEY (a, b));
      INSERT INTO logs SELECT g / 10, 'k' || (g % 10), 'message ' || g FROM generate_series(1, ${rows}) g;`);
    const args = runArgs({
      postgresUrl: url,
      natsUrl: servers.nats.url,
      extra: ['--slot', 'bf_resume', '--backfill-chunk-rows', '500'],
    });
    const listener = new Listener(servers.nc, 'sequin.changes.bf_resume.>', 'bf_resume', () => first.tail());
    await servers.nc.flush();
    const first = new Wal2NatsProcess(args);
    let second: Wal2NatsProcess | null = null;
    try {
      await first.streaming();
      const requested = await backfill([
        '--table',
        'public.logs',
        '--postgres-url',
        url,
        '--slot',
        'bf_resume',
      ]);
      assert.equal(requested.code, 0, requested.output);
      // Killed once some progress is saved, before the end.
      await waitFor(
        async () => {
          const [s] = await backfillStatus(sql);
          return (s && Number(s.rows_published) > 0) || undefined;
        },
        { what: 'saved progress', timeoutMs: 60_000 },
      );
      first.kill();
      await first.exited;
      const [atKill] = await backfillStatus(sql);
      assert.equal(atKill!.status, 'running', 'killed mid-backfill');
      second = new Wal2NatsProcess(args);
      await second.waitForLog(
        (l) => l.msg === 'backfill: started' && l.resumes === true,
        'the backfill to resume',
        60_000,
      );
      await waitFor(async () => (await backfillStatus(sql))[0]!.status === 'done' || undefined, {
        what: 'the backfill to finish',
        timeoutMs: 120_000,
      });
      await sql.query(`INSERT INTO logs VALUES (-1, 'x', 'sentinel')`);
      await waitFor(() => listener.messages.some((m) => m.body.record?.['a'] === -1) || undefined, {
        what: 'the sentinel',
        timeoutMs: 60_000,
      });
      const reads = listener.messages
        .filter((m) => m.body.action === 'read')
        .map((m) => `${m.body.record?.['a']}/${m.body.record?.['b']}`);
      const distinct = new Set(reads);
      assert.equal(distinct.size, rows, 'every row at least once');
      assert.ok(reads.length < rows * 2, `not everything twice (${reads.length} reads)`);
      assert.equal(await second.stop(), 0);
    } finally {
      listener.close();
      first.kill();
      second?.kill();
      await sql.end();
    }
  });

  it('reads a column added while it runs in the chunks after it, and every row still once', async () => {
    const url = await servers.pg.createDatabase('bf_ddl');
    const sql = await servers.pg.connect('bf_ddl');
    const rows = 30_000;
    await sql.query(`
      CREATE TABLE wide (id int PRIMARY KEY, v text);
      INSERT INTO wide SELECT g, 'v' || g FROM generate_series(1, ${rows}) g;`);
    const w2n = new Wal2NatsProcess(
      runArgs({
        postgresUrl: url,
        natsUrl: servers.nats.url,
        extra: ['--slot', 'bf_ddl', '--backfill-chunk-rows', '300'],
      }),
    );
    const listener = new Listener(servers.nc, 'sequin.changes.bf_ddl.>', 'bf_ddl', () => w2n.tail());
    await servers.nc.flush();
    try {
      await w2n.streaming();
      const requested = await backfill(['--table', 'public.wide', '--postgres-url', url, '--slot', 'bf_ddl']);
      assert.equal(requested.code, 0, requested.output);
      await waitFor(
        async () => {
          const [s] = await backfillStatus(sql);
          return (s && Number(s.rows_published) > 0) || undefined;
        },
        { what: 'the backfill to get going', timeoutMs: 60_000 },
      );
      // The lock holds the backfill's next SELECT until the column is there, so that the ALTER
      // lands mid-backfill however fast the chunks go (a race on a fast machine otherwise).
      await sql.query('BEGIN');
      await sql.query('LOCK TABLE wide IN ACCESS EXCLUSIVE MODE');
      const [atDdl] = await backfillStatus(sql);
      assert.equal(atDdl!.status, 'running', 'the column is added mid-backfill');
      // At most the chunks routed and not yet confirmed (4) and the one being read are past it.
      assert.ok(
        Number(atDdl!.rows_published) + 5 * 300 < rows,
        `chunks are left to read after the ALTER (${atDdl!.rows_published} published)`,
      );
      await sql.query('ALTER TABLE wide ADD COLUMN extra int NOT NULL DEFAULT 7');
      await sql.query('COMMIT');
      const ddlLsn = Number(
        BigInt(
          (await sql.query<{ n: string }>(`SELECT (pg_current_wal_lsn() - '0/0')::text AS n`)).rows[0]!.n,
        ),
      );
      // A change right after it: its Relation message tells the shard the new columns.
      await sql.query('UPDATE wide SET v = $1 WHERE id = $2', ['changed', rows]);
      await waitFor(async () => (await backfillStatus(sql))[0]!.status === 'done' || undefined, {
        what: 'the backfill to finish',
        timeoutMs: 120_000,
      });
      await sql.query(`INSERT INTO wide VALUES (-1, 'sentinel')`);
      await waitFor(() => listener.messages.some((m) => m.body.record?.['id'] === -1) || undefined, {
        what: 'the sentinel',
        timeoutMs: 60_000,
      });
      const reads = listener.messages.filter((m) => m.body.action === 'read').map((m) => m.body);
      const ids = reads.map((r) => Number(r.record?.['id']));
      assert.equal(new Set(ids).size, ids.length, 'no row read twice');
      assert.ok(
        ids.length === rows || ids.length === rows - 1,
        `every row read (the one updated may be left to its change): ${ids.length}`,
      );
      const after = reads.filter((r) => r.metadata.commit_lsn > ddlLsn);
      // The first chunk whose high watermark comes after the ALTER may have been selected just
      // before it (low watermark, SELECT, ALTER, high watermark): its rows are as they were read,
      // without the column. Chunks are read one at a time, so every later chunk has it.
      const inFlightAtDdl = after[0]?.metadata.commit_lsn;
      const later = after.filter((r) => r.metadata.commit_lsn !== inFlightAtDdl);
      assert.ok(later.length > 0, 'chunks read after the column was added');
      assert.deepEqual(
        later.filter((r) => r.record?.['extra'] !== 7).slice(0, 3),
        [],
        'every chunk read after the column was added has it',
      );
      assert.deepEqual(orderViolations(listener.messages.map((m) => m.body)), []);
      const update = listener.messages.find((m) => m.body.action === 'update')!;
      assert.deepEqual(
        update.body.record,
        { id: rows, v: 'changed', extra: 7 },
        'changes decode with the new columns',
      );
      assert.equal(await w2n.stop(), 0);
    } finally {
      listener.close();
      w2n.kill();
      await sql.end();
    }
  });

  it('fails a request it cannot read, saying why, and goes on with the next one', async () => {
    const url = await servers.pg.createDatabase('bf_denied');
    const sql = await servers.pg.connect('bf_denied');
    // The run connects as a user that may replicate but may not read one of the tables.
    await sql.query(`
      DO $$ BEGIN CREATE ROLE bf_limited LOGIN REPLICATION; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
      CREATE TABLE secret (id int PRIMARY KEY);
      CREATE TABLE open (id int PRIMARY KEY);
      INSERT INTO secret SELECT generate_series(1, 10);
      INSERT INTO open SELECT generate_series(1, 10);
      GRANT SELECT ON open TO bf_limited;
      CREATE PUBLICATION wal2nats FOR TABLE secret, open;`);
    const requested = await backfill([
      '--table',
      'public.secret,public.open',
      '--postgres-url',
      url,
      '--slot',
      'bf_denied',
    ]);
    assert.equal(requested.code, 0, requested.output);
    await sql.query(
      'GRANT USAGE ON SCHEMA wal2nats TO bf_limited; GRANT SELECT, UPDATE ON wal2nats.backfills TO bf_limited',
    );
    const limitedUrl = url.replace(/\/\/[^@/]*@/, '//bf_limited@');
    const w2n = new Wal2NatsProcess(
      runArgs({ postgresUrl: limitedUrl, natsUrl: servers.nats.url, extra: ['--slot', 'bf_denied'] }),
    );
    const listener = new Listener(servers.nc, 'sequin.changes.bf_denied.public.open.read', 'open reads', () =>
      w2n.tail(),
    );
    await servers.nc.flush();
    try {
      await waitFor(
        async () => {
          const states = await backfillStatus(sql);
          return (
            (states.length === 2 &&
              states.every((s) => s.status === 'done' || s.status === 'failed') &&
              states) ||
            undefined
          );
        },
        {
          what: 'both requests to end',
          timeoutMs: 90_000,
          context: () => `wal2nats's last lines:\n${w2n.tail()}`,
        },
      );
      const [secret, open] = await backfillStatus(sql);
      assert.equal(secret!.status, 'failed');
      assert.match(secret!.error ?? '', /permission denied/);
      assert.equal(open!.status, 'done');
      await listener.take(10);
      assert.equal(await w2n.stop(), 0);
    } finally {
      listener.close();
      w2n.kill();
      await sql.end();
    }
  });

  it('refuses an unknown table, a table outside the publication and a table without a key', async () => {
    const url = await servers.pg.createDatabase('bf_bad');
    const sql = await servers.pg.connect('bf_bad');
    try {
      await sql.query(`
        CREATE TABLE published (id int PRIMARY KEY);
        CREATE TABLE nokey (v int);
        CREATE TABLE outside (id int PRIMARY KEY);
        CREATE PUBLICATION bf_pub FOR TABLE published, nokey;`);
      const base = ['--postgres-url', url, '--publication', 'bf_pub'];
      const unknown = await backfill(['--table', 'public.nope', ...base]);
      assert.equal(unknown.code, 2, unknown.output);
      assert.match(unknown.output, /--table: there is no table public\.nope in the database bf_bad/);
      const outside = await backfill(['--table', 'public.outside', ...base]);
      assert.equal(outside.code, 2, outside.output);
      assert.match(outside.output, /public\.outside is not in the publication "bf_pub"/);
      assert.match(outside.output, /ALTER PUBLICATION "bf_pub" ADD TABLE "public"\."outside"/);
      const nokey = await backfill(['--table', 'public.nokey', ...base]);
      assert.equal(nokey.code, 2, nokey.output);
      assert.match(nokey.output, /public\.nokey has no primary key/);
      const glob = await backfill(['--table', 'public.*', ...base]);
      assert.equal(glob.code, 2, glob.output);
      assert.match(glob.output, /has a glob/);
      const missing = await backfill(base);
      assert.equal(missing.code, 2);
      assert.match(missing.output, /--table: it is required/);
      const noPublication = await backfill([
        '--table',
        'public.published',
        '--postgres-url',
        url,
        '--publication',
        'nope',
      ]);
      assert.equal(noPublication.code, 2);
      assert.match(noPublication.output, /the publication "nope" does not exist/);
      // Nothing was requested by the refusals.
      const state = await sql.query(`SELECT to_regclass('wal2nats.backfills') AS t`);
      assert.equal(state.rows[0].t, null);
      const runOption = await new Wal2NatsProcess([
        'run',
        '--postgres-url',
        url,
        '--table',
        'public.published',
      ]).exited;
      assert.equal(runOption, 2, '--table is not an option of run');
    } finally {
      await sql.end();
    }
  });

  it('prints its help', async () => {
    const { code, output } = await backfill(['--help']);
    assert.equal(code, 0);
    for (const text of ['--table', '--wait', '--postgres-url', 'wal2nats.backfills', 'Exit codes'])
      assert.ok(output.includes(text), `help mentions ${text}`);
  });
});

export type { Envelope };
