/**
 * Cases where wal2nats once published something other than what Postgres decoded, found by
 * Postgres's own regression workloads (issue 16; test/differential.test.ts keeps comparing):
 *   - an unchanged TOASTed primary key (contrib/test_decoding toast.sql): Postgres sends the old
 *     key, and the update must carry it in `record` and `record_pks`;
 *   - user-defined types dropped after a change that used them, before wal2nats read it: the type
 *     cache filled at start still converts them; a type that cannot be resolved at all keeps its
 *     text form with a warning (type OID and column) and a counter;
 *   - an array of a domain over an array (regression suite's domain.sql).
 * Every case is checked against a real Postgres and NATS.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { useStreamFixture } from './support/stream-fixture.js';
import { metricReaches } from './support/metrics.js';

const SETUP = `
  CREATE TABLE toasted_key (id serial, toasted_key text PRIMARY KEY, toasted_col1 text, toasted_col2 text);
  ALTER TABLE toasted_key ALTER COLUMN toasted_key SET STORAGE EXTERNAL;
  ALTER TABLE toasted_key ALTER COLUMN toasted_col1 SET STORAGE EXTERNAL;
  CREATE DOMAIN posint AS int4 CHECK (VALUE > 0);
  CREATE DOMAIN dposinta AS posint[];
  CREATE TABLE dposintatable (id int PRIMARY KEY, f1 dposinta[], f2 dposinta);
  CREATE DOMAIN bigdom AS int8;
  CREATE TYPE abc AS ENUM ('a', 'b', 'c');
  CREATE TYPE pair AS (x int, y text);
  CREATE TABLE short_lived (id int PRIMARY KEY, d bigdom, e abc[], c pair[], p pair);`;

const fixture = useStreamFixture({ database: 'fidelity', setupSql: SETUP });

/** Freezes wal2nats (every thread) while `during` runs, so it reads nothing meanwhile. */
async function whileFrozen(during: () => Promise<void>): Promise<void> {
  process.kill(fixture.stream.w2n.pid, 'SIGSTOP');
  try {
    await during();
  } finally {
    process.kill(fixture.stream.w2n.pid, 'SIGCONT');
  }
}

describe('fidelity to what Postgres decodes', () => {
  it('an unchanged TOASTed primary key stays in record and record_pks (toast.sql)', async () => {
    const key = '1234567890'.repeat(200);
    const col1 = '9876543210'.repeat(200);
    const listener = await fixture.stream.listen('public.toasted_key');
    await fixture.stream.sql(`INSERT INTO toasted_key (toasted_key, toasted_col1) VALUES ($1, $2)`, [
      key,
      col1,
    ]);
    await fixture.stream.sql(`UPDATE toasted_key SET toasted_col2 = toasted_col1`);
    await fixture.stream.sql(`UPDATE toasted_key SET toasted_col1 = 'small'`);
    await fixture.stream.sql(`DELETE FROM toasted_key`);
    const [, update, second, del] = (await listener.take(4)).map((m) => m.body);
    listener.close();
    assert.equal(update!.action, 'update');
    assert.deepEqual(
      update!.record,
      { id: 1, toasted_key: key, toasted_col2: col1 },
      'the key comes from the old key Postgres sent',
    );
    assert.deepEqual(
      update!.metadata.unchanged_toast_columns,
      ['toasted_col1'],
      'only the column Postgres did not send',
    );
    assert.deepEqual(update!.metadata.record_pks, [key]);
    assert.deepEqual(update!.changes, {}, 'the key did not change');
    assert.deepEqual(second!.record, { id: 1, toasted_key: key, toasted_col1: 'small', toasted_col2: col1 });
    assert.deepEqual(second!.metadata.record_pks, [key]);
    assert.equal(second!.metadata.unchanged_toast_columns, undefined);
    assert.deepEqual(del!.metadata.record_pks, [key]);
    assert.equal((del!.record as Record<string, unknown>).toasted_key, key);
  });

  it('an array of a domain over an array is a nested JSON array (domain.sql)', async () => {
    const listener = await fixture.stream.listen('public.dposintatable');
    await fixture.stream.sql(`INSERT INTO dposintatable VALUES (1, array[array[42]::dposinta], '{7,8}')`);
    await fixture.stream.sql(`INSERT INTO dposintatable VALUES (2, '{"{1,2}",NULL,"{}"}', NULL)`);
    const [one, two] = (await listener.take(2)).map((m) => m.body);
    listener.close();
    assert.deepEqual(one!.record, { id: 1, f1: [[42]], f2: [7, 8] });
    assert.deepEqual(two!.record, { id: 2, f1: [[1, 2], null, []], f2: null });
  });

  it('user-defined types dropped before wal2nats read their rows still convert (the type cache)', async () => {
    const listener = await fixture.stream.listen('public.short_lived');
    await whileFrozen(async () => {
      await fixture.stream.sql(
        `INSERT INTO short_lived VALUES (1, 3, '{b,c}', ARRAY[ROW(1, 'x y')]::pair[], ROW(2, 'z'))`,
      );
      await fixture.stream.sql(`DROP TABLE short_lived; DROP DOMAIN bigdom; DROP TYPE abc; DROP TYPE pair`);
    });
    const [insert] = (await listener.take(1)).map((m) => m.body);
    listener.close();
    assert.deepEqual(insert!.record, { id: 1, d: 3, e: ['b', 'c'], c: ['(1,"x y")'], p: '(2,z)' });
    assert.deepEqual(
      fixture.stream.w2n.lines.filter(
        (l) => l.msg === 'a column type is unknown; its values keep their text form',
      ),
      [],
      'every type was known',
    );
  });

  it('a type that cannot be resolved keeps its text form, with a warning naming it and a counter', async () => {
    const base = await fixture.stream.w2n.httpBase();
    const listener = await fixture.stream.listen('public.late');
    let typeOid = 0;
    await whileFrozen(async () => {
      // Created and dropped while wal2nats was not reading: it never could see this type.
      await fixture.stream.sql(
        `CREATE TYPE late_mood AS ENUM ('x', 'y'); CREATE TABLE late (id int PRIMARY KEY, v late_mood)`,
      );
      typeOid = Number(
        (await fixture.stream.sql<{ oid: string }>(`SELECT 'late_mood'::regtype::oid AS oid`)).rows[0]!.oid,
      );
      await fixture.stream.sql(`INSERT INTO late VALUES (1, 'y')`);
      await fixture.stream.sql(`DROP TABLE late; DROP TYPE late_mood`);
    });
    const [insert] = (await listener.take(1)).map((m) => m.body);
    listener.close();
    assert.deepEqual(insert!.record, { id: 1, v: 'y' }, 'the text form, as Postgres sent it');
    const warning = await fixture.stream.w2n.waitForLog(
      (l) => l.msg === 'a column type is unknown; its values keep their text form',
      'the unknown-type warning',
    );
    assert.equal(warning.type_oid, typeOid);
    assert.equal(warning.column, 'v');
    assert.equal(warning.table, 'public.late');
    await metricReaches(base, 'wal2nats_unknown_column_types_total', 1, { table: 'public.late' });
  });
});
