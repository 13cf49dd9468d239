import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chunkQuery, type ChunkTable } from './keyset-query.js';

const table: ChunkTable = {
  schema: 'public',
  name: 'Order"s',
  columns: ['a', 'b', 'v'],
  keyColumns: ['a', 'b'],
  keyTypes: ['integer', 'text'],
  rowFilter: null,
};

describe('chunkQuery', () => {
  it('reads the first chunk in key order', () => {
    assert.deepEqual(chunkQuery(table, null, 500), {
      text: 'SELECT "a", "b", "v" FROM "public"."Order""s" ORDER BY "a", "b" LIMIT 500',
      values: [],
    });
  });

  it('goes on after the cursor with a row comparison on typed parameters, inside the row filter', () => {
    const q = chunkQuery({ ...table, rowFilter: '(v > 0)' }, ['4', 'x'], 10);
    assert.equal(
      q.text,
      'SELECT "a", "b", "v" FROM "public"."Order""s" WHERE ((v > 0)) AND ("a", "b") > ($1::integer, $2::text) ORDER BY "a", "b" LIMIT 10',
    );
    assert.deepEqual(q.values, ['4', 'x']);
  });

  it('refuses a table without a key and a cursor of the wrong size', () => {
    assert.throws(() => chunkQuery({ ...table, keyColumns: [], keyTypes: [] }, null, 1), /no key/);
    assert.throws(() => chunkQuery(table, ['1'], 1), /cursor has 1 values/);
  });
});
