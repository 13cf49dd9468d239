/**
 * Values of every common type, end to end: a row written to a real Postgres arrives in the
 * message body as docs/contract.md "Values" says (docs/data.md has the full table), including
 * user-defined types — enums, domains, composites, ranges and arrays of them — and types
 * created after wal2nats started.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { useStreamFixture } from './support/stream-fixture.js';

const SETUP = `
  CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
  CREATE DOMAIN posint AS int4 CHECK (VALUE > 0);
  CREATE DOMAIN email AS text CHECK (VALUE LIKE '%@%');
  CREATE DOMAIN doc AS jsonb;
  CREATE DOMAIN small_posint AS posint CHECK (VALUE < 100);
  CREATE TYPE pair AS (a int, b text);
  CREATE TABLE every_type (
    id int PRIMARY KEY,
    i2 int2, i4 int4, i8 int8, i8_min int8, o oid,
    n numeric, n_nan numeric, n_inf numeric, n_small numeric(10, 4),
    f4 float4, f4_inf float4, f8 float8, f8_nan float8, f8_ninf float8, f8_big float8,
    t text, vc varchar(20), ch char(3), b bool,
    d date, d_bc date, d_inf date, tm time, ts timestamp, ts_inf timestamp, tstz timestamptz, tstz_ninf timestamptz,
    ttz timetz, iv interval,
    u uuid, j json, jb jsonb, jb_str jsonb,
    a_int int[], a_multi int[], a_text text[], a_lower int[], a_empty int[], a_jsonb jsonb[], a_tstz timestamptz[], a_num numeric[], a_bytea bytea[], a_box box[],
    ba bytea,
    e mood, e_arr mood[],
    dom posint, dom_nested small_posint, dom_arr posint[], dom_text email, dom_json doc, card information_schema.cardinal_number,
    comp pair, comp_arr pair[],
    r int4range, r_ts tstzrange, r_num numrange,
    ip inet, net cidr, mac macaddr, money_ money, bits bit(4), x xml, pt point
  );
  ALTER TABLE every_type REPLICA IDENTITY FULL;`;

const INSERT = `
  INSERT INTO every_type VALUES (
    1,
    -32768, 2147483647, 9223372036854775807, -9223372036854775808, 4294967295,
    '12345678901234567890.123456789012345678901234567890', 'NaN', 'Infinity', 3.1,
    0.1, 'Infinity', 1.0000000000000002, 'NaN', '-Infinity', 1e300,
    E'h\\u00e9llo "w\\u00f6rld" \\\\ back\\\\slash\\n\\ttab \\u65e5\\u672c \\U0001F389 \\u0001', 'it''s', 'ab', true,
    '2024-02-29', '0044-03-15 BC', 'infinity', '23:59:59.5', '2024-10-28 21:37:01.12747', '-infinity', '2024-10-28 23:37:01.000001+02', 'infinity',
    '12:00+05:30', '1 year 2 mons -3 days 04:05:06.789',
    'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a": [1, 2.50, "x"], "a": "dup"}', '{"b": {"c": null}, "a": 1}', '"just a string"',
    '{1,NULL,3}', '{{1,2},{3,NULL}}', ARRAY['a,b', 'c"d', E'e\\\\f', 'NULL', NULL, '', ' sp ', '{x}'], '[0:1]={7,8}', '{}',
    ARRAY['{"k": [1]}'::jsonb, 'null', NULL], ARRAY['2024-01-01 00:00:00+01'::timestamptz, NULL], '{1.50,NaN}', ARRAY['\\x00ff'::bytea], ARRAY['(1,1),(0,0)'::box, '(3,3),(2,2)'],
    '\\x00ff10',
    'happy', '{sad,happy}',
    5, 42, '{1,2}', 'a@b.c', '{"k": [true]}', 7,
    ROW(1, 'x y'), ARRAY[ROW(1, 'a'), ROW(2, 'b "q"')]::pair[],
    '[1,10)', '[2024-01-01 00:00+02,)', '(,2.5]',
    '192.168.0.1/24', '10.0.0.0/8', '08:00:2b:01:02:03', 1234.5, B'1010', '<a>x</a>', '(1,2)'
  )`;

const EXPECTED: Record<string, unknown> = {
  id: 1,
  i2: -32768,
  i4: 2147483647,
  i8: 9223372036854775807, // JSON.parse rounds it; the raw text is checked digit by digit below
  i8_min: -9223372036854775808,
  o: 4294967295,
  n: '12345678901234567890.123456789012345678901234567890',
  n_nan: 'NaN',
  n_inf: 'Infinity',
  n_small: '3.1000',
  f4: 0.1,
  f4_inf: 'Infinity',
  f8: 1.0000000000000002,
  f8_nan: 'NaN',
  f8_ninf: '-Infinity',
  f8_big: 1e300,
  t: 'h\u00e9llo "w\u00f6rld" \\ back\\slash\n\ttab \u65e5\u672c \u{1F389} \u0001',
  vc: "it's",
  ch: 'ab ',
  b: true,
  d: '2024-02-29',
  d_bc: '0044-03-15 BC',
  d_inf: 'infinity',
  tm: '23:59:59.500000',
  ts: '2024-10-28T21:37:01.127470',
  ts_inf: '-infinity',
  tstz: '2024-10-28T21:37:01.000001Z',
  tstz_ninf: 'infinity',
  ttz: '12:00:00+05:30',
  iv: '1 year 2 mons -3 days +04:05:06.789',
  u: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
  j: { a: 'dup' }, // json keeps the text as written (both keys); JSON.parse keeps the last
  jb: { a: 1, b: { c: null } },
  jb_str: 'just a string',
  a_int: [1, null, 3],
  a_multi: [
    [1, 2],
    [3, null],
  ],
  a_text: ['a,b', 'c"d', 'e\\f', 'NULL', null, '', ' sp ', '{x}'],
  a_lower: [7, 8],
  a_empty: [],
  a_jsonb: [{ k: [1] }, null, null],
  a_tstz: ['2023-12-31T23:00:00.000000Z', null],
  a_num: ['1.50', 'NaN'],
  a_bytea: ['\\x00ff'],
  a_box: ['(1,1),(0,0)', '(3,3),(2,2)'],
  ba: '\\x00ff10',
  e: 'happy',
  e_arr: ['sad', 'happy'],
  dom: 5,
  dom_nested: 42,
  dom_arr: [1, 2],
  dom_text: 'a@b.c',
  dom_json: { k: [true] },
  card: 7,
  comp: '(1,"x y")',
  comp_arr: ['(1,a)', '(2,"b ""q""")'],
  r: '[1,10)',
  r_ts: '["2023-12-31 22:00:00+00",)',
  r_num: '(,2.5]',
  ip: '192.168.0.1/24',
  net: '10.0.0.0/8',
  mac: '08:00:2b:01:02:03',
  money_: '$1,234.50',
  bits: '1010',
  x: '<a>x</a>',
  pt: '(1,2)',
};

const fixture = useStreamFixture({ database: 'values', setupSql: SETUP });

describe('values of every type', () => {
  it('arrive as the contract says, for built-in and user-defined types', async () => {
    const listener = await fixture.stream.listen('public.every_type');
    await fixture.stream.sql(INSERT);
    await fixture.stream.sql('INSERT INTO every_type (id) VALUES (2)');
    const [full, nulls] = await listener.take(2);
    listener.close();

    const record = full!.body.record!;
    for (const [column, value] of Object.entries(EXPECTED))
      assert.deepStrictEqual(record[column], value, `column ${column}: ${JSON.stringify(record[column])}`);
    assert.deepEqual(Object.keys(record), Object.keys(EXPECTED), 'every column, in table order');
    // int8 and oid keep every digit in the JSON text itself.
    assert.match(full!.raw, /"i8":9223372036854775807,/);
    assert.match(full!.raw, /"i8_min":-9223372036854775808,/);
    assert.match(full!.raw, /"f8_big":1e\+300,/);

    // SQL NULL is JSON null for every type.
    for (const [column, value] of Object.entries(nulls!.body.record!))
      if (column !== 'id') assert.equal(value, null, `column ${column} is null`);
  });

  it('converts old values in changes the same way as the record', async () => {
    const listener = await fixture.stream.listen('public.every_type');
    await fixture.stream.sql(
      `UPDATE every_type SET dom = 6, e_arr = '{ok}', tstz = '2025-01-01 00:00:00+00', i8 = 1 WHERE id = 1`,
    );
    const [update] = await listener.take(1);
    listener.close();
    assert.deepStrictEqual(update!.body.changes, {
      i8: 9223372036854775807,
      tstz: '2024-10-28T21:37:01.000001Z',
      e_arr: ['sad', 'happy'],
      dom: 5,
    });
    assert.match(update!.raw, /"changes":\{"i8":9223372036854775807,/);
    assert.equal(update!.body.record!['dom'], 6);
    assert.deepEqual(update!.body.record!['e_arr'], ['ok']);
  });

  it('resolves types and tables created after wal2nats started', async () => {
    const listener = await fixture.stream.listen('public.later');
    await fixture.stream.sql(`
      CREATE TYPE status AS ENUM ('new', 'paid');
      CREATE DOMAIN cents AS int8 CHECK (VALUE >= 0);
      CREATE DOMAIN tags AS text[];
      CREATE TABLE later (id int PRIMARY KEY, s status, s_arr status[], c cents, c_arr cents[], tg tags);
      INSERT INTO later VALUES (1, 'paid', '{new,paid}', 9007199254740993, '{1,2}', '{"a b",c}');`);
    const [insert] = await listener.take(1);
    listener.close();
    assert.deepStrictEqual(insert!.body.record, {
      id: 1,
      s: 'paid',
      s_arr: ['new', 'paid'],
      c: 9007199254740993,
      c_arr: [1, 2],
      tg: ['a b', 'c'],
    });
    assert.match(insert!.raw, /"c":9007199254740993,/);
    assert.deepEqual(insert!.body.metadata.record_pks, ['1']);
  });
});
