/**
 * Installing wal2nats must never break the application's writes silently: Postgres refuses
 * UPDATE and DELETE on a published table that has neither a primary key nor a replica identity.
 * So wal2nats refuses (exit 2, with the tables and the three fixes) to create a publication that
 * would hold such a table, creates one without the tables --exclude-tables leaves out, and warns
 * about an existing publication that holds some (also in /api/overview and the console).
 * docs/operations.md, "Preparing Postgres".
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Client } from 'pg';
import { useServers } from './support/servers.js';
import { runArgs, Wal2NatsProcess } from './support/wal2nats-process.js';
import { Listener } from './support/stream-fixture.js';

const servers = useServers();

const TABLES = `
  CREATE TABLE keyed (id int PRIMARY KEY, v int);
  CREATE TABLE whole_row (v int);
  ALTER TABLE whole_row REPLICA IDENTITY FULL;
  CREATE TABLE by_index (code text NOT NULL UNIQUE, v int);
  ALTER TABLE by_index REPLICA IDENTITY USING INDEX by_index_code_key;
  CREATE TABLE nokey (v int);
  CREATE TABLE nothing (id int PRIMARY KEY, v int);
  ALTER TABLE nothing REPLICA IDENTITY NOTHING;
  CREATE TABLE parted (k int, v int) PARTITION BY LIST (k);
  CREATE TABLE parted_1 PARTITION OF parted FOR VALUES IN (1);
  INSERT INTO keyed VALUES (1, 0); INSERT INTO nokey VALUES (1); INSERT INTO nothing VALUES (1, 0); INSERT INTO parted VALUES (1, 0);`;

const WITHOUT_IDENTITY = ['public.nokey', 'public.nothing', 'public.parted_1'];

async function database(name: string): Promise<{ url: string; sql: Client }> {
  const url = await servers.pg.createDatabase(name);
  const sql = await servers.pg.connect(name);
  await sql.query(TABLES);
  return { url, sql };
}

function output(w2n: Wal2NatsProcess): string {
  return w2n.lines.map((l) => JSON.stringify(l)).join('\n');
}

/** UPDATE and DELETE on every table Postgres would refuse them on: they must all go through. */
async function writesStillWork(sql: Client): Promise<void> {
  for (const table of ['nokey', 'nothing', 'parted']) {
    await sql.query(`UPDATE ${table} SET v = v + 1`);
    await sql.query(`DELETE FROM ${table} WHERE false`);
  }
}

describe('publication check', () => {
  it('refuses to create a publication that would make Postgres refuse writes: exit 2, the tables and the fixes', async () => {
    const { url, sql } = await database('pub_refuse');
    try {
      const w2n = new Wal2NatsProcess(
        runArgs({ postgresUrl: url, natsUrl: servers.nats.url, extra: ['--slot', 'pub_refuse'] }),
      );
      // Killed if it is still running after a minute: then it did not refuse.
      const timer = setTimeout(() => w2n.kill(), 60_000);
      const code = await w2n.exited;
      clearTimeout(timer);
      const text = output(w2n);
      assert.equal(code, 2, text);
      assert.match(
        text,
        /not creating the publication \\"wal2nats\\": 3 table\(s\) have neither a primary key nor a replica identity/,
      );
      for (const table of WITHOUT_IDENTITY) assert.ok(text.includes(table), `names ${table}`);
      for (const table of ['public.keyed', 'public.whole_row', 'public.by_index'])
        assert.ok(!text.includes(table), `does not name ${table}`);
      assert.match(text, /ADD PRIMARY KEY/);
      assert.match(text, /REPLICA IDENTITY FULL/);
      assert.match(text, /--exclude-tables public\.nokey,public\.nothing,public\.parted_1/);
      const publications = await sql.query(`SELECT 1 FROM pg_publication WHERE pubname = 'wal2nats'`);
      assert.equal(publications.rowCount, 0, 'no publication was created');
      await writesStillWork(sql);
    } finally {
      await sql.end();
    }
  });

  it('creates the publication without the tables --exclude-tables leaves out, so their writes go on', async () => {
    const { url, sql } = await database('pub_exclude');
    const w2n = new Wal2NatsProcess(
      runArgs({
        postgresUrl: url,
        natsUrl: servers.nats.url,
        extra: ['--slot', 'pub_exclude', '--exclude-tables', 'public.nokey,public.nothing,public.parted'],
      }),
    );
    const listener = new Listener(
      servers.nc,
      'sequin.changes.pub_exclude.public.keyed.>',
      'public.keyed',
      () => w2n.tail(),
    );
    try {
      await servers.nc.flush();
      await w2n.streaming();
      const published = await sql.query<{ t: string }>(
        `SELECT schemaname || '.' || tablename AS t FROM pg_publication_tables WHERE pubname = 'wal2nats' ORDER BY 1`,
      );
      assert.deepEqual(
        published.rows.map((r) => r.t),
        ['public.by_index', 'public.keyed', 'public.whole_row'],
      );
      assert.ok(
        w2n.lines.some((l) => l.msg?.startsWith('creating the publication for the tables kept now')),
        'says why it is not FOR ALL TABLES',
      );
      await writesStillWork(sql);
      await sql.query(`UPDATE keyed SET v = 5`);
      const [update] = await listener.take(1);
      assert.deepEqual(update!.body.record, { id: 1, v: 5 });
      assert.equal(await w2n.stop(), 0);
    } finally {
      listener.close();
      w2n.kill();
      await sql.end();
    }
  });

  it('warns about the tables of an existing publication, and lists them in /api/overview', async () => {
    const { url, sql } = await database('pub_existing');
    await sql.query(`CREATE PUBLICATION wal2nats FOR ALL TABLES`);
    const w2n = new Wal2NatsProcess(
      runArgs({ postgresUrl: url, natsUrl: servers.nats.url, extra: ['--slot', 'pub_existing'] }),
    );
    try {
      await w2n.streaming();
      const warning = await w2n.waitForLog(
        (l) =>
          l.msg ===
          'tables in the publication have neither a primary key nor a replica identity: Postgres refuses their UPDATE and DELETE',
        'the warning',
      );
      assert.equal(warning.tables, WITHOUT_IDENTITY.join(','));
      assert.match(String(warning.fix), /ADD PRIMARY KEY.*REPLICA IDENTITY FULL.*--exclude-tables/);
      const overview = (await (await fetch(`${await w2n.httpBase()}/api/overview`)).json()) as {
        source: { tables_without_identity: string[] };
      };
      assert.deepEqual(overview.source.tables_without_identity, WITHOUT_IDENTITY);
      assert.equal(await w2n.stop(), 0);
    } finally {
      w2n.kill();
      await sql.end();
    }
  });
});
