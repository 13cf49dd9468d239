/**
 * Record events (`--message-kind records`): every change of a row as `{record, metadata}` on
 * `<prefix>.rows.<database>.<schema>.<table>`, in commit order, deletes and truncates flagged
 * with `metadata.deleted` (docs/data.md "Record events").
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { useStreamFixture } from './support/stream-fixture.js';

const fixture = useStreamFixture({
  database: 'records',
  setupSql: `CREATE TABLE items (id int PRIMARY KEY, name text, qty int); CREATE TABLE "odd.name" (id int PRIMARY KEY);`,
  args: ['--message-kind', 'records'],
  subjectPrefix: 'acme.cdc',
  subjects: 'rows',
});

describe('record events', () => {
  it('publish each row change as {record, metadata} on the rows subject, and nothing on changes', async () => {
    const rows = await fixture.stream.listen('public.items');
    const changes = fixture.servers.nc.subscribe('acme.cdc.changes.>');
    await fixture.servers.nc.flush();
    await fixture.stream.sql(`INSERT INTO items VALUES (1, 'a', 1)`);
    await fixture.stream.sql(`UPDATE items SET qty = 2 WHERE id = 1`);
    await fixture.stream.sql(`DELETE FROM items WHERE id = 1`);
    await fixture.stream.sql(`INSERT INTO items VALUES (2, 'b', 5)`);
    await fixture.stream.sql(`TRUNCATE items`);
    const messages = await rows.take(5);
    rows.close();

    for (const m of messages) {
      assert.equal(m.subject, 'acme.cdc.rows.records.public.items');
      assert.deepEqual(Object.keys(m.body), ['record', 'metadata'], 'record and metadata only');
      assert.equal(m.msgId, m.body.metadata.idempotency_key);
      assert.equal(m.body.metadata.table_name, 'items');
    }
    const [insert, update, del, reinsert, truncate] = messages.map(
      (m) =>
        m.body as unknown as { record: Record<string, unknown> | null; metadata: Record<string, unknown> },
    );
    assert.deepEqual(insert!.record, { id: 1, name: 'a', qty: 1 });
    assert.equal(insert!.metadata['deleted'], false);
    assert.deepEqual(insert!.metadata['record_pks'], ['1']);
    assert.deepEqual(update!.record, { id: 1, name: 'a', qty: 2 });
    assert.equal(update!.metadata['deleted'], false);
    assert.deepEqual(del!.record, { id: 1, name: null, qty: null }, 'what Postgres sent of the old row');
    assert.equal(del!.metadata['deleted'], true);
    assert.deepEqual(del!.metadata['record_pks'], ['1']);
    assert.equal(reinsert!.metadata['deleted'], false);
    assert.equal(truncate!.record, null, 'a truncate: every row gone');
    assert.equal(truncate!.metadata['deleted'], true);
    assert.deepEqual(truncate!.metadata['record_pks'], []);
    assert.ok((update!.metadata['commit_lsn'] as number) > (insert!.metadata['commit_lsn'] as number));

    // Nothing went to the change subjects: a sentinel on rows arrives, and changes stays empty.
    const sentinel = await fixture.stream.listen('public.items');
    await fixture.stream.sql(`INSERT INTO items VALUES (3, 'sentinel', 0)`);
    await sentinel.take(1);
    sentinel.close();
    await fixture.servers.nc.flush();
    assert.equal(changes.getProcessed(), 0);
    changes.unsubscribe();
  });

  it('escapes odd names in the rows subject', async () => {
    const listener = await fixture.stream.listenTo('acme.cdc.rows.records.public.odd%2Ename');
    await fixture.stream.sql(`INSERT INTO "odd.name" VALUES (1)`);
    const [message] = await listener.take(1);
    listener.close();
    assert.equal(message!.body.metadata.table_name, 'odd.name');
  });
});
