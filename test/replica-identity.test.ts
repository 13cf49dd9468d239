/**
 * What an update or a delete carries under each replica identity (DEFAULT, FULL, USING INDEX,
 * NOTHING), for tables with and without a primary key, and unchanged TOASTed columns: `record`,
 * `changes` and `record_pks` as docs/contract.md "Message body" says (docs/data.md has the table).
 * https://www.postgresql.org/docs/current/sql-altertable.html#SQL-ALTERTABLE-REPLICA-IDENTITY
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { useStreamFixture } from './support/stream-fixture.js';

const SETUP = `
  CREATE TABLE ri_default (id int PRIMARY KEY, name text, qty int);
  CREATE TABLE ri_full (id int PRIMARY KEY, name text, qty int);
  ALTER TABLE ri_full REPLICA IDENTITY FULL;
  CREATE TABLE ri_index (id int PRIMARY KEY, code text NOT NULL UNIQUE, qty int);
  ALTER TABLE ri_index REPLICA IDENTITY USING INDEX ri_index_code_key;
  CREATE TABLE no_pk_full (v text, n int);
  ALTER TABLE no_pk_full REPLICA IDENTITY FULL;
  CREATE TABLE composite (line int, qty int, order_id int8, PRIMARY KEY (order_id, line));
  CREATE TABLE toast_default (id int PRIMARY KEY, body text, n int);
  ALTER TABLE toast_default ALTER COLUMN body SET STORAGE EXTERNAL;
  CREATE TABLE toast_full (id int PRIMARY KEY, body text, n int);
  ALTER TABLE toast_full ALTER COLUMN body SET STORAGE EXTERNAL;
  ALTER TABLE toast_full REPLICA IDENTITY FULL;`;

/** Big enough to be stored out of line (EXTERNAL: never compressed). */
const BIG = 'toasted '.repeat(2000);

const fixture = useStreamFixture({ database: 'identity', setupSql: SETUP });

describe('replica identity', () => {
  it('DEFAULT: no old row on update, the old key when the key changes, the key on delete', async () => {
    const listener = await fixture.stream.listen('public.ri_default');
    await fixture.stream.sql(`INSERT INTO ri_default VALUES (1, 'a', 1)`);
    await fixture.stream.sql(`UPDATE ri_default SET qty = 2 WHERE id = 1`);
    await fixture.stream.sql(`UPDATE ri_default SET id = 10, name = 'b' WHERE id = 1`);
    await fixture.stream.sql(`DELETE FROM ri_default WHERE id = 10`);
    const [insert, update, keyChange, del] = (await listener.take(4)).map((m) => m.body);
    listener.close();
    assert.deepEqual(
      [insert!.action, update!.action, keyChange!.action, del!.action],
      ['insert', 'update', 'update', 'delete'],
    );
    assert.deepEqual(update!.record, { id: 1, name: 'a', qty: 2 });
    assert.deepEqual(update!.changes, {}, 'Postgres sent no old row');
    assert.deepEqual(update!.metadata.record_pks, ['1']);
    assert.deepEqual(keyChange!.record, { id: 10, name: 'b', qty: 2 });
    assert.deepEqual(
      keyChange!.changes,
      { id: 1 },
      'only the old key is known; name is not reported as null',
    );
    assert.deepEqual(keyChange!.metadata.record_pks, ['10']);
    assert.deepEqual(del!.record, { id: 10, name: null, qty: null }, 'the key, other columns null');
    assert.equal(del!.changes, null);
    assert.deepEqual(del!.metadata.record_pks, ['10']);
  });

  it('FULL: the whole old row, so changes and deletes are complete; record_pks is the primary key', async () => {
    const listener = await fixture.stream.listen('public.ri_full');
    await fixture.stream.sql(`INSERT INTO ri_full VALUES (1, 'a', 1)`);
    await fixture.stream.sql(`UPDATE ri_full SET qty = 2, name = NULL WHERE id = 1`);
    await fixture.stream.sql(`UPDATE ri_full SET id = 2 WHERE id = 1`);
    await fixture.stream.sql(`DELETE FROM ri_full WHERE id = 2`);
    const [insert, update, keyChange, del] = (await listener.take(4)).map((m) => m.body);
    listener.close();
    assert.deepEqual(
      insert!.metadata.record_pks,
      ['1'],
      'the primary key, not every column (all are flagged under FULL)',
    );
    assert.deepEqual(update!.changes, { name: 'a', qty: 1 });
    assert.deepEqual(update!.record, { id: 1, name: null, qty: 2 });
    assert.deepEqual(keyChange!.changes, { id: 1 });
    assert.deepEqual(keyChange!.metadata.record_pks, ['2']);
    assert.deepEqual(del!.record, { id: 2, name: null, qty: 2 });
    assert.deepEqual(del!.metadata.record_pks, ['2']);
  });

  it('USING INDEX: the index columns are the old key; record_pks stays the primary key', async () => {
    const listener = await fixture.stream.listen('public.ri_index');
    await fixture.stream.sql(`INSERT INTO ri_index VALUES (1, 'a', 1)`);
    await fixture.stream.sql(`UPDATE ri_index SET qty = 2 WHERE id = 1`);
    await fixture.stream.sql(`UPDATE ri_index SET code = 'b' WHERE id = 1`);
    await fixture.stream.sql(`DELETE FROM ri_index WHERE id = 1`);
    const [insert, update, keyChange, del] = (await listener.take(4)).map((m) => m.body);
    listener.close();
    assert.deepEqual(insert!.metadata.record_pks, ['1']);
    assert.deepEqual(update!.changes, {});
    assert.deepEqual(update!.metadata.record_pks, ['1']);
    assert.deepEqual(keyChange!.changes, { code: 'a' });
    assert.deepEqual(
      del!.record,
      { id: null, code: 'b', qty: null },
      'Postgres sends only the index columns',
    );
    // The delete does not carry the primary key: its value is unknown, not left out.
    assert.deepEqual(del!.metadata.record_pks, [null]);
  });

  it('NOTHING: inserts stream; Postgres itself refuses updates and deletes of a published table', async () => {
    // Created after the start: wal2nats refuses to create a publication that would hold it
    // (test/publication-check.test.ts); FOR ALL TABLES takes it later all the same.
    await fixture.stream.sql(
      `CREATE TABLE ri_nothing (id int PRIMARY KEY, v text); ALTER TABLE ri_nothing REPLICA IDENTITY NOTHING;`,
    );
    const listener = await fixture.stream.listen('public.ri_nothing');
    await fixture.stream.sql(`INSERT INTO ri_nothing VALUES (1, 'a')`);
    await assert.rejects(fixture.stream.sql(`UPDATE ri_nothing SET v = 'b'`), /replica identity/);
    await assert.rejects(fixture.stream.sql(`DELETE FROM ri_nothing`), /replica identity/);
    await fixture.stream.sql(`INSERT INTO ri_nothing VALUES (2, 'sentinel')`);
    const [insert, sentinel] = (await listener.take(2)).map((m) => m.body);
    listener.close();
    assert.deepEqual(insert!.metadata.record_pks, ['1'], 'from the catalog: pgoutput flags no column');
    assert.equal(sentinel!.record!['v'], 'sentinel', 'nothing in between');
  });

  it('a table without a primary key: record_pks is []; under FULL its updates and deletes stream', async () => {
    await fixture.stream.sql(`CREATE TABLE no_pk (v text, n int)`); // after the start, as ri_nothing
    const noPk = await fixture.stream.listen('public.no_pk');
    const full = await fixture.stream.listen('public.no_pk_full');
    await fixture.stream.sql(`INSERT INTO no_pk VALUES ('a', 1)`);
    await assert.rejects(fixture.stream.sql(`UPDATE no_pk SET n = 2`), /replica identity/);
    await fixture.stream.sql(`INSERT INTO no_pk_full VALUES ('a', 1), ('a', 1)`);
    await fixture.stream.sql(`UPDATE no_pk_full SET n = 2 WHERE ctid = (SELECT min(ctid) FROM no_pk_full)`);
    await fixture.stream.sql(`DELETE FROM no_pk_full WHERE n = 2`);
    const [plainInsert] = (await noPk.take(1)).map((m) => m.body);
    const [first, second, update, del] = (await full.take(4)).map((m) => m.body);
    noPk.close();
    full.close();
    assert.deepEqual(plainInsert!.record, { v: 'a', n: 1 });
    assert.deepEqual(plainInsert!.metadata.record_pks, []);
    for (const body of [first, second, update, del]) assert.deepEqual(body!.metadata.record_pks, []);
    assert.deepEqual(update!.changes, { n: 1 });
    assert.deepEqual(del!.record, { v: 'a', n: 2 });
  });

  it('a composite primary key gives record_pks in key order, for tables from the start and created later', async () => {
    const early = await fixture.stream.listen('public.composite');
    const late = await fixture.stream.listen('public.composite_late');
    await fixture.stream.sql(`INSERT INTO composite VALUES (3, 10, 77)`);
    await fixture.stream.sql(
      `CREATE TABLE composite_late (b text, a int, c int, PRIMARY KEY (c, b)); INSERT INTO composite_late VALUES ('x', 1, 2)`,
    );
    await fixture.stream.sql(
      `CREATE TABLE full_late (b text, a int, PRIMARY KEY (a)); ALTER TABLE full_late REPLICA IDENTITY FULL`,
    );
    const fullLate = await fixture.stream.listen('public.full_late');
    await fixture.stream.sql(`INSERT INTO full_late VALUES ('x', 5)`);
    const [composite] = await early.take(1);
    const [compositeLate] = await late.take(1);
    const [fullLateInsert] = await fullLate.take(1);
    for (const l of [early, late, fullLate]) l.close();
    assert.deepEqual(composite!.body.metadata.record_pks, ['77', '3']);
    assert.deepEqual(compositeLate!.body.metadata.record_pks, ['2', 'x']);
    assert.deepEqual(
      fullLateInsert!.body.metadata.record_pks,
      ['5'],
      'a table created after the start, under FULL: the catalog is read',
    );
  });
});

describe('unchanged TOASTed columns', () => {
  it('are never null: left out and named under DEFAULT, filled from the old row under FULL', async () => {
    const plain = await fixture.stream.listen('public.toast_default');
    const full = await fixture.stream.listen('public.toast_full');
    for (const table of ['toast_default', 'toast_full']) {
      await fixture.stream.sql(`INSERT INTO ${table} VALUES (1, $1, 1)`, [BIG]);
      await fixture.stream.sql(`UPDATE ${table} SET n = 2 WHERE id = 1`);
      await fixture.stream.sql(`UPDATE ${table} SET body = 'short', n = 3 WHERE id = 1`);
      await fixture.stream.sql(`DELETE FROM ${table} WHERE id = 1`);
    }
    const [pInsert, pUpdate, pChanged, pDelete] = (await plain.take(4)).map((m) => m.body);
    const [fInsert, fUpdate, fChanged, fDelete] = (await full.take(4)).map((m) => m.body);
    plain.close();
    full.close();

    assert.equal(pInsert!.record!['body'], BIG);
    assert.deepEqual(pUpdate!.record, { id: 1, n: 2 }, 'body left out, not null');
    assert.deepEqual(pUpdate!.metadata.unchanged_toast_columns, ['body']);
    assert.deepEqual(pChanged!.record, { id: 1, body: 'short', n: 3 });
    assert.equal(pChanged!.metadata.unchanged_toast_columns, undefined);
    assert.deepEqual(pDelete!.record, { id: 1, body: null, n: null });

    assert.equal(fInsert!.record!['body'], BIG);
    assert.deepEqual(fUpdate!.record, { id: 1, body: BIG, n: 2 }, 'filled from the old row');
    assert.deepEqual(fUpdate!.changes, { n: 1 });
    assert.equal(fUpdate!.metadata.unchanged_toast_columns, undefined);
    assert.deepEqual(fChanged!.changes, { body: BIG, n: 2 });
    assert.deepEqual(fDelete!.record, { id: 1, body: 'short', n: 3 });
  });
});
