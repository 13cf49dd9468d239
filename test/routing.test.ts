/**
 * Routing without code, end to end: a subject prefix of several tokens, --database-name (one
 * escaped subject token, the raw name in the metadata), --tables and --exclude-tables with
 * globs applied to a publication that already exists, --actions, and the slot advancing past
 * transactions whose every change was filtered out.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { NatsConnection } from '@nats-io/transport-node';
import {
  collectMessages,
  startNats,
  startPostgres,
  waitFor,
  type NatsServer,
  type PgServer,
} from './harness/index.js';
import type { Envelope } from './support/envelope.js';
import { confirmedFlushLsn } from './support/slot.js';
import { runArgs, Wal2NatsProcess } from './support/wal2nats-process.js';

let pg: PgServer;
let nats: NatsServer;
let nc: NatsConnection;

before(async () => {
  [pg, nats] = await Promise.all([startPostgres(), startNats({ jetstream: false })]);
  nc = await nats.connect();
});

after(async () => {
  await nc?.close();
  await Promise.all([pg?.dispose(), nats?.dispose()]);
});

/** subject → "action schema.table id" of what arrived, in arrival order. */
function summary(messages: readonly { subject: string; data: unknown }[]): string[] {
  return messages.map((m) => {
    const e = m.data as Envelope;
    return `${m.subject} ${e.action} ${e.metadata.table_schema}.${e.metadata.table_name} ${String(e.record?.id ?? '-')}`;
  });
}

/** Lines grouped by their third word (the table), each group in arrival order. */
function byTable(lines: readonly string[]): Record<string, string[]> {
  const groups: Record<string, string[]> = {};
  for (const line of lines) (groups[line.split(' ')[2]!] ??= []).push(line);
  return groups;
}

/**
 * Runs `statements` as one transaction and waits until the slot is confirmed past it: then
 * every change routed before and in it was delivered (the watermark confirms in commit order).
 * The position is read inside the transaction, just before COMMIT: wal2nats confirms commit end
 * positions, so a confirmation beyond it is this commit's or a later one's. (The WAL position
 * after the commit would not do: wal2nats's own heartbeat messages may follow it, and a
 * heartbeat is confirmed at its start.) A round trip on our own connection then lets the
 * server's deliveries to us in.
 */
async function writeAndSettle(database: string, slot: string, statements: string): Promise<void> {
  const client = await pg.connect(database);
  let inside: bigint;
  try {
    const results = (await client.query(
      `BEGIN; ${statements}; SELECT (pg_current_wal_insert_lsn() - '0/0')::text AS lsn; COMMIT`,
    )) as unknown as { rows: { lsn?: string }[] }[];
    inside = BigInt(results.find((r) => r.rows[0]?.lsn !== undefined)!.rows[0]!.lsn!);
  } finally {
    await client.end();
  }
  await waitFor(async () => ((await confirmedFlushLsn(pg, database, slot)) ?? 0n) > inside || undefined, {
    what: `the slot ${slot} to be confirmed past ${inside}`,
    timeoutMs: 30_000,
  });
  await nc.flush();
}

describe('routing', () => {
  it('publishes under a multi-token prefix and --database-name, only the tables and actions asked for, with an existing publication', async () => {
    const url = await pg.createDatabase(
      'routing',
      `CREATE SCHEMA audit;
       CREATE TABLE public.orders (id int PRIMARY KEY);
       CREATE TABLE public.items (id int PRIMARY KEY);
       CREATE TABLE public.secret (id int PRIMARY KEY);
       CREATE TABLE audit.login_log (id int PRIMARY KEY);
       CREATE TABLE audit.archive (id int PRIMARY KEY);
       CREATE PUBLICATION wal2nats FOR ALL TABLES;`,
    );
    // Everything published anywhere, to see that nothing else goes out.
    const everything = collectMessages(nc, '>');
    await nc.flush();
    const w2n = new Wal2NatsProcess(
      runArgs({
        postgresUrl: url,
        natsUrl: nats.url,
        extra: [
          '--slot',
          'routing',
          '--subject-prefix',
          'acme.cdc.v1',
          '--database-name',
          'shop eu',
          '--tables',
          'public.*,audit.*_log',
          '--exclude-tables',
          'public.secret',
          '--actions',
          'insert,update,truncate',
        ],
      }),
    );
    const client = await pg.connect('routing');
    try {
      await w2n.streaming();
      await client.query(`BEGIN;
        INSERT INTO public.orders VALUES (1); INSERT INTO public.items VALUES (1); INSERT INTO public.secret VALUES (1);
        INSERT INTO audit.login_log VALUES (1); INSERT INTO audit.archive VALUES (1);
        COMMIT`);
      await client.query(
        `BEGIN; UPDATE public.orders SET id = 2 WHERE id = 1; DELETE FROM public.items WHERE id = 1; COMMIT`,
      );
      await client.query('TRUNCATE public.items, audit.login_log, public.secret');
      await writeAndSettle('routing', 'routing', 'INSERT INTO public.orders VALUES (3)');
      const expected = [
        'acme.cdc.v1.changes.shop%20eu.public.orders.insert insert public.orders 1',
        'acme.cdc.v1.changes.shop%20eu.public.items.insert insert public.items 1',
        'acme.cdc.v1.changes.shop%20eu.audit.login_log.insert insert audit.login_log 1',
        'acme.cdc.v1.changes.shop%20eu.public.orders.update update public.orders 2',
        'acme.cdc.v1.changes.shop%20eu.public.items.truncate truncate public.items -',
        'acme.cdc.v1.changes.shop%20eu.audit.login_log.truncate truncate audit.login_log -',
        'acme.cdc.v1.changes.shop%20eu.public.orders.insert insert public.orders 3',
      ];
      const got = summary(everything.messages.filter((m) => !m.subject.startsWith('_INBOX.')));
      // Tables are published in parallel: compare per table, in order.
      assert.deepEqual(byTable(got), byTable(expected));
      const first = everything.messages.find((m) => m.subject.endsWith('orders.insert'))!.data as Envelope;
      assert.equal(first.metadata.database_name, 'shop eu');

      // A transaction of filtered changes only: nothing is published, and the slot moves past it.
      await writeAndSettle(
        'routing',
        'routing',
        'INSERT INTO public.secret VALUES (9); INSERT INTO audit.archive VALUES (9); DELETE FROM public.orders WHERE id = 3',
      );
      assert.equal(
        everything.messages.filter((m) => !m.subject.startsWith('_INBOX.')).length,
        expected.length,
        'nothing published for the filtered transaction',
      );
      assert.equal(await w2n.stop(), 0);
    } finally {
      everything.close();
      await client.end();
      w2n.kill();
    }
  });

  it('creates the publication FOR ALL TABLES when --tables has a glob, and matches quoted names exactly', async () => {
    const url = await pg.createDatabase(
      'globs',
      `CREATE SCHEMA "Odd Schema"; CREATE SCHEMA other;
       CREATE TABLE public.orders (id int PRIMARY KEY);
       CREATE TABLE "Odd Schema"."odd.table" (id int PRIMARY KEY);
       CREATE TABLE "Odd Schema"."oddXtable" (id int PRIMARY KEY);
       CREATE TABLE other.t (id int PRIMARY KEY);`,
    );
    const collector = collectMessages(nc, 'sequin.changes.globs.>');
    await nc.flush();
    const w2n = new Wal2NatsProcess(
      runArgs({
        postgresUrl: url,
        natsUrl: nats.url,
        extra: ['--slot', 'globs', '--tables', 'public.*,"Odd Schema"."odd.table"'],
      }),
    );
    const client = await pg.connect('globs');
    try {
      await w2n.streaming();
      const publication = await client.query<{ puballtables: boolean }>(
        `SELECT puballtables FROM pg_publication WHERE pubname = 'wal2nats'`,
      );
      assert.equal(publication.rows[0]?.puballtables, true);
      await client.query(
        `INSERT INTO other.t VALUES (1); INSERT INTO "Odd Schema"."oddXtable" VALUES (1); INSERT INTO "Odd Schema"."odd.table" VALUES (1); INSERT INTO public.orders VALUES (1)`,
      );
      // A table created while streaming that matches the glob is published too.
      await writeAndSettle(
        'globs',
        'globs',
        'CREATE TABLE public.later (id int PRIMARY KEY); INSERT INTO public.later VALUES (1); INSERT INTO other.t VALUES (2)',
      );
      assert.deepEqual(collector.messages.map((m) => m.subject).sort(), [
        'sequin.changes.globs.Odd%20Schema.odd%2Etable.insert',
        'sequin.changes.globs.public.later.insert',
        'sequin.changes.globs.public.orders.insert',
      ]);
      assert.equal(await w2n.stop(), 0);
    } finally {
      collector.close();
      await client.end();
      w2n.kill();
    }
  });
});
