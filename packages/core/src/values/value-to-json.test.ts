// Inputs are Postgres 15 text output as pgoutput sends it (checked with psql against a live
// server under several TimeZone/DateStyle/IntervalStyle settings).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { isJsonNumber, quoteJson } from './json-text.js';
import { PG_ARRAY_ELEMENT_OID, PgArrayTypeOid, PgTypeOid, type PgTypeName } from './type-oids.js';
import { NULL_JSON, arrayToJson, valueToJson } from './value-to-json.js';

const T = PgTypeOid;
const A = PgArrayTypeOid;

/** The JSON fragment for a value; every fragment must be valid JSON on its own. */
function frag(oid: number, text: string): string {
  const json = valueToJson(oid, text);
  assert.doesNotThrow(
    () => JSON.parse(json),
    `not valid JSON for oid ${oid} ${JSON.stringify(text)}: ${json}`,
  );
  return json;
}

function parsed(oid: number, text: string): unknown {
  return JSON.parse(frag(oid, text));
}

describe('type OIDs', () => {
  it('maps every array type to its element type', () => {
    assert.equal(PG_ARRAY_ELEMENT_OID.get(1007), 23);
    assert.equal(PG_ARRAY_ELEMENT_OID.get(1009), 25);
    assert.equal(PG_ARRAY_ELEMENT_OID.get(1016), 20);
    assert.equal(PG_ARRAY_ELEMENT_OID.get(1185), 1184);
    assert.equal(PG_ARRAY_ELEMENT_OID.get(199), 114);
    assert.equal(PG_ARRAY_ELEMENT_OID.get(3807), 3802);
    assert.equal(PG_ARRAY_ELEMENT_OID.get(1231), 1700);
    assert.equal(PG_ARRAY_ELEMENT_OID.size, Object.keys(PgTypeOid).length);
    for (const name of Object.keys(PgTypeOid) as PgTypeName[]) {
      assert.equal(PG_ARRAY_ELEMENT_OID.get(PgArrayTypeOid[name]), PgTypeOid[name], name);
    }
  });

  it('has no OID twice', () => {
    const all = [...Object.values(PgTypeOid), ...Object.values(PgArrayTypeOid)];
    assert.equal(new Set(all).size, all.length);
  });
});

describe('integers', () => {
  it('keeps every digit of int8 as a JSON number', () => {
    const json = frag(T.int8, '9223372036854775807');
    assert.equal(json, '9223372036854775807');
    assert.equal(frag(T.int8, '-9223372036854775808'), '-9223372036854775808');
    assert.equal(`{"id":${json}}`, '{"id":9223372036854775807}');
  });

  it('passes int2, int4, oid through', () => {
    assert.equal(frag(T.int2, '-32768'), '-32768');
    assert.equal(frag(T.int4, '0'), '0');
    assert.equal(frag(T.int4, '-1'), '-1');
    assert.equal(frag(T.int4, '2147483647'), '2147483647');
    assert.equal(frag(T.oid, '4294967295'), '4294967295');
  });

  it('quotes anything that is not a JSON integer rather than emit bad JSON', () => {
    assert.equal(frag(T.int4, ''), '""');
    assert.equal(frag(T.int4, '007'), '"007"');
    assert.equal(frag(T.int4, '-'), '"-"');
    assert.equal(frag(T.int4, '1 '), '"1 "');
  });
});

describe('floats', () => {
  it('emits Postgres float text as JSON numbers', () => {
    for (const text of [
      '1.5',
      '-1.5',
      '0',
      '-0',
      '0.1',
      '1e+30',
      '1e-30',
      '1e+38',
      '1.2345678901234568e+17',
      '3.4028235e+38',
      '5e-324',
    ]) {
      assert.equal(frag(T.float8, text), text);
      assert.equal(frag(T.float4, text), text);
    }
    assert.equal(parsed(T.float8, '1e+30'), 1e30);
  });

  it('turns NaN and the infinities into strings', () => {
    assert.equal(frag(T.float8, 'NaN'), '"NaN"');
    assert.equal(frag(T.float8, 'Infinity'), '"Infinity"');
    assert.equal(frag(T.float4, '-Infinity'), '"-Infinity"');
  });

  it('never emits a leading + or other non-JSON number', () => {
    assert.equal(frag(T.float8, '+1.5'), '1.5');
    assert.equal(frag(T.float8, '.5'), '".5"');
    assert.equal(frag(T.float8, '1.'), '"1."');
    assert.equal(frag(T.float8, '1e'), '"1e"');
  });
});

describe('numeric', () => {
  it('is always a string, with all its digits', () => {
    assert.equal(frag(T.numeric, '199.99'), '"199.99"');
    assert.equal(frag(T.numeric, '-0.00000000015'), '"-0.00000000015"');
    const huge = '12345678901234567890123456789012345678901234567890.123456789012345678901234567890';
    assert.equal(parsed(T.numeric, huge), huge);
    assert.equal(frag(T.numeric, 'NaN'), '"NaN"');
    assert.equal(frag(T.numeric, 'Infinity'), '"Infinity"');
    assert.equal(frag(T.numeric, '-Infinity'), '"-Infinity"');
  });
});

describe('bool', () => {
  it('maps t/f to true/false', () => {
    assert.equal(frag(T.bool, 't'), 'true');
    assert.equal(frag(T.bool, 'f'), 'false');
    assert.equal(frag(T.bool, 'yes'), '"yes"');
  });
});

describe('json and jsonb', () => {
  it('embeds the document as-is', () => {
    const doc =
      '{"name": "Zoë ☃ 😀", "nested": {"list": [1, 2.5, null, true, "\\u0000\\"q\\""]}, "esc": "\\ud83d\\ude00"}';
    assert.equal(frag(T.jsonb, doc), doc);
    assert.deepEqual(parsed(T.json, doc), JSON.parse(doc));
    assert.equal(frag(T.json, '"just a string"'), '"just a string"');
    assert.equal(frag(T.json, 'null'), 'null');
    assert.equal(frag(T.json, '12345678901234567890'), '12345678901234567890');
    assert.equal(frag(T.json, '[\n  1,\n  2\n]'), '[\n  1,\n  2\n]');
  });
});

describe('timestamptz', () => {
  // [Postgres text under some TimeZone, the same instant in UTC per Postgres's to_char]
  const cases: Array<[string, string]> = [
    ['2024-10-28 21:37:01.12747+00', '2024-10-28T21:37:01.127470Z'],
    ['2024-10-28 21:37:01+00', '2024-10-28T21:37:01.000000Z'],
    ['1999-01-08 04:05:06.000001+00', '1999-01-08T04:05:06.000001Z'],
    ['2024-10-29 03:07:01+05:30', '2024-10-28T21:37:01.000000Z'], // Asia/Kolkata
    ['2024-10-29 03:22:01.12747+05:45', '2024-10-28T21:37:01.127470Z'], // Asia/Kathmandu
    ['2024-10-28 14:37:01.5-07', '2024-10-28T21:37:01.500000Z'], // America/Los_Angeles, PDT
    ['2024-01-31 18:30:00-03:30', '2024-01-31T22:00:00.000000Z'], // America/St_Johns
    // negative offsets: local time a day (month, year) behind UTC
    ['2023-12-31 19:00:00.12747-08', '2024-01-01T03:00:00.127470Z'],
    ['2024-01-31 22:00:00-03:30', '2024-02-01T01:30:00.000000Z'],
    ['2023-12-31 23:00:00-12', '2024-01-01T11:00:00.000000Z'],
    ['2024-02-29 19:00:00.000001-08', '2024-03-01T03:00:00.000001Z'], // leap year
    ['2024-02-29 20:00:00-08', '2024-03-01T04:00:00.000000Z'],
    ['2023-02-28 19:00:00-08', '2023-03-01T03:00:00.000000Z'],
    ['2000-02-29 19:00:00-08', '2000-03-01T03:00:00.000000Z'], // 2000: leap (÷400)
    ['2100-02-28 19:00:00.5-08', '2100-03-01T03:00:00.500000Z'], // 2100: not leap (÷100)
    ['2024-12-31 23:59:59.999999-00:00:01', '2025-01-01T00:00:00.999999Z'],
    // positive offsets: local time a day ahead
    ['2024-01-01 10:00:00+14', '2023-12-31T20:00:00.000000Z'], // Pacific/Kiritimati
    ['2024-02-29 10:00:00+14', '2024-02-28T20:00:00.000000Z'],
    ['2023-03-01 10:00:00+14', '2023-02-28T20:00:00.000000Z'],
    ['2024-03-01 00:00:00+00:00:01', '2024-02-29T23:59:59.000000Z'],
    ['2024-05-01 13:59:59.999999+14', '2024-04-30T23:59:59.999999Z'],
    // local mean time offsets with seconds, before standard time zones
    ['1959-12-31 23:15:29-00:44:30', '1959-12-31T23:59:59.000000Z'], // Africa/Monrovia
    ['1899-12-31 23:34:39-00:25:21', '1900-01-01T00:00:00.000000Z'], // Europe/Dublin
    ['0001-01-01 17:53:28+05:53:28', '0001-01-01T12:00:00.000000Z'], // Asia/Kolkata LMT
    ['9999-12-31 23:59:59.999999+14', '9999-12-31T09:59:59.999999Z'],
  ];
  for (const [text, utc] of cases) {
    it(`${text} → ${utc}`, () => {
      assert.equal(frag(T.timestamptz, text), `"${utc}"`);
    });
  }

  it('keeps infinity, -infinity, BC and out-of-range years as Postgres text', () => {
    for (const text of [
      'infinity',
      '-infinity',
      '0044-03-15 12:00:00+00 BC',
      '0044-03-15 04:07:02-07:52:58 BC',
      '294276-12-31 23:59:59.999999+00',
      '10000-01-01 04:30:00+05:30',
      '0001-01-01 03:00:00+05', // 0000-12-31 in UTC: a BC year
      '9999-12-31 23:00:00-05', // 10000-01-01 in UTC
    ]) {
      assert.equal(parsed(T.timestamptz, text), text);
    }
  });

  it('keeps other DateStyles and malformed text as Postgres text', () => {
    for (const text of [
      'Mon Oct 28 21:37:01.12747 2024 UTC',
      '10/28/2024 21:37:01.12747 UTC',
      '2024-10-28 21:37:01.12747',
      '2024-10-28 21:37:01.+00',
      '2024-10-28 21:37:01.1234567+00',
      '2024-10-28 21:37:01+0',
      '2024-10-28 21:37:01+05:3',
      '2024-10-28 21:37:01+05:30:00:00',
      '2024-10-28 21:37:01+0a',
      '2024-10-28T21:37:01+00',
      '',
    ]) {
      assert.equal(parsed(T.timestamptz, text), text);
    }
  });
});

describe('timestamp, date, time, timetz', () => {
  it('timestamp: T separator and 6 fractional digits, no zone', () => {
    assert.equal(frag(T.timestamp, '2024-10-28 21:37:01.12747'), '"2024-10-28T21:37:01.127470"');
    assert.equal(frag(T.timestamp, '2024-10-28 21:37:01'), '"2024-10-28T21:37:01.000000"');
    assert.equal(frag(T.timestamp, '0001-01-01 00:00:00.000001'), '"0001-01-01T00:00:00.000001"');
    assert.equal(frag(T.timestamp, '2024-10-28 21:37:01.123456'), '"2024-10-28T21:37:01.123456"');
  });

  it('timestamp: infinity, BC, big years and other DateStyles stay Postgres text', () => {
    for (const text of [
      'infinity',
      '-infinity',
      '0044-03-15 12:00:00 BC',
      '294276-12-31 23:59:59',
      'Mon Oct 28 21:37:01 2024',
    ]) {
      assert.equal(parsed(T.timestamp, text), text);
    }
  });

  it('date: as-is', () => {
    assert.equal(frag(T.date, '2024-10-28'), '"2024-10-28"');
    assert.equal(frag(T.date, '0044-03-15 BC'), '"0044-03-15 BC"');
    assert.equal(frag(T.date, 'infinity'), '"infinity"');
  });

  it('time: fraction padded to 6 digits when present', () => {
    assert.equal(frag(T.time, '21:37:01.12747'), '"21:37:01.127470"');
    assert.equal(frag(T.time, '21:37:01.5'), '"21:37:01.500000"');
    assert.equal(frag(T.time, '00:00:00.000001'), '"00:00:00.000001"');
    assert.equal(frag(T.time, '21:37:01'), '"21:37:01"');
    assert.equal(frag(T.time, '24:00:00'), '"24:00:00"');
    assert.equal(frag(T.time, '21:37'), '"21:37"');
  });

  it('timetz: Postgres text', () => {
    assert.equal(frag(T.timetz, '21:37:01.12747+05:30'), '"21:37:01.12747+05:30"');
    assert.equal(frag(T.timetz, '21:37:01-08'), '"21:37:01-08"');
  });
});

describe('bytea', () => {
  it('is the hex text as a JSON string', () => {
    const json = frag(T.bytea, '\\x0102ff');
    assert.equal(json, '"\\\\x0102ff"');
    assert.equal(JSON.parse(json), '\\x0102ff');
    assert.equal(parsed(T.bytea, '\\x'), '\\x');
  });

  it('escapes the escape format properly', () => {
    assert.equal(parsed(T.bytea, 'abc\\000\\\\'), 'abc\\000\\\\');
  });
});

describe('arrays', () => {
  it('1-D and 2-D, with NULLs', () => {
    assert.equal(frag(A.int4, '{1,2,NULL}'), '[1,2,null]');
    assert.equal(frag(A.int8, '{{1,2},{3,4}}'), '[[1,2],[3,4]]');
    assert.equal(
      frag(A.int8, '{9223372036854775807,-9223372036854775808}'),
      '[9223372036854775807,-9223372036854775808]',
    );
    assert.equal(frag(A.int4, '{{NULL,NULL}}'), '[[null,null]]');
    assert.equal(frag(A.text, '{{{a}}}'), '[[["a"]]]');
    assert.deepEqual(parsed(A.int2, '{{{1,2},{3,4}},{{5,6},{7,8}}}'), [
      [
        [1, 2],
        [3, 4],
      ],
      [
        [5, 6],
        [7, 8],
      ],
    ]);
  });

  it('empty', () => {
    assert.equal(frag(A.int4, '{}'), '[]');
    assert.equal(frag(A.text, '{}'), '[]');
  });

  it('quoted elements: delimiters, quotes, backslashes, braces, spaces, NULL', () => {
    // select array['a,b','c"d','e\f',null,'NULL','',' sp ','{x}','null','é☃😀',E'tab\there',E'nl\nx']::text[]
    const text = '{"a,b","c\\"d","e\\\\f",NULL,"NULL",""," sp ","{x}","null",é☃😀,"tab\there","nl\nx"}';
    assert.deepEqual(parsed(A.text, text), [
      'a,b',
      'c"d',
      'e\\f',
      null,
      'NULL',
      '',
      ' sp ',
      '{x}',
      'null',
      'é☃😀',
      'tab\there',
      'nl\nx',
    ]);
    assert.deepEqual(parsed(A.varchar, '{"\\\\"}'), ['\\']);
    assert.deepEqual(parsed(A.text, '{nUlL,"nUlL"}'), [null, 'nUlL']);
  });

  it('decorated bounds are dropped', () => {
    assert.equal(frag(A.int4, '[0:1]={1,2}'), '[1,2]');
    assert.equal(frag(A.int4, '[1:2][3:4]={{1,2},{3,4}}'), '[[1,2],[3,4]]');
    assert.equal(frag(A.int4, '[-2:-2]={7}'), '[7]');
  });

  it('elements follow their type: floats, numeric, bool, timestamptz, date, time, bytea, json', () => {
    assert.equal(
      frag(A.float8, '{NaN,Infinity,-Infinity,1e+30,-1.5}'),
      '["NaN","Infinity","-Infinity",1e+30,-1.5]',
    );
    assert.equal(frag(A.numeric, '{1.5,NaN,NULL}'), '["1.5","NaN",null]');
    assert.equal(frag(A.bool, '{t,f,NULL}'), '[true,false,null]');
    assert.equal(
      frag(A.timestamptz, '{"2024-10-28 21:37:01.12747+00","2024-10-29 03:07:01+05:30",NULL,infinity}'),
      '["2024-10-28T21:37:01.127470Z","2024-10-28T21:37:01.000000Z",null,"infinity"]',
    );
    assert.equal(frag(A.timestamp, '{"2024-10-28 21:37:01.5"}'), '["2024-10-28T21:37:01.500000"]');
    assert.equal(frag(A.date, '{2024-10-28,infinity}'), '["2024-10-28","infinity"]');
    assert.equal(frag(A.time, '{21:37:01.5}'), '["21:37:01.500000"]');
    assert.deepEqual(parsed(A.bytea, '{"\\\\x0102","\\\\x"}'), ['\\x0102', '\\x']);
    assert.deepEqual(parsed(A.uuid, '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}'), [
      'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
    ]);
    assert.deepEqual(parsed(A.interval, '{"1 day 02:00:00",NULL}'), ['1 day 02:00:00', null]);
    assert.deepEqual(parsed(A.int4range, '{"[1,5)",empty}'), ['[1,5)', 'empty']);
  });

  it('json elements are embedded; a quoted json "null" is JSON null', () => {
    // select array['{"a": [1, "x"]}'::json, '"s"'::json, 'null'::json]
    assert.deepEqual(parsed(A.json, '{"{\\"a\\": [1, \\"x\\"]}","\\"s\\"","null"}'), [
      { a: [1, 'x'] },
      's',
      null,
    ]);
    assert.deepEqual(parsed(A.jsonb, '{"{\\"b\\": \\"é 😀\\"}",NULL}'), [{ b: 'é 😀' }, null]);
  });

  it('box arrays use ; as delimiter', () => {
    assert.deepEqual(parsed(A.box, '{(1,1),(0,0);(2,2),(1,1)}'), ['(1,1),(0,0)', '(2,2),(1,1)']);
  });

  it('white space around elements, as array_in accepts it', () => {
    assert.deepEqual(parsed(A.int4, ' { 1 , 2 ,\tNULL } '), [1, 2, null]);
    assert.deepEqual(parsed(A.text, '{ "a b" , c d }'), ['a b', 'c d']);
  });

  it('malformed literals become a JSON string of the text', () => {
    for (const text of [
      '',
      '1,2',
      '{1,2',
      '{1,2}}',
      '{1,,2}',
      '{,}',
      '{"a}',
      '{"a\\}',
      '[0:1]{1}',
      '{a"b}',
      '{a\\,b}',
      '{1}x',
      '{{1},2',
    ]) {
      assert.equal(parsed(A.int4, text), text, text);
    }
  });

  it('arrayToJson handles arrays of types outside the built-in map (e.g. enums)', () => {
    assert.equal(arrayToJson(16_500, '{pending,"on hold",NULL}'), '["pending","on hold",null]');
  });
});

describe('everything else is a JSON string of the text', () => {
  it('text with unicode, quotes, backslashes, control characters', () => {
    for (const text of [
      '',
      'plain',
      'café ☃ 😀 𝄞 \u2028\u2029',
      'he said "hi"',
      'C:\\path\\to',
      'tab\tnl\ncr\rnul\u0000bell\u0007esc\u001b del\u007f',
      '</script>',
      'x'.repeat(1000),
      '"'.repeat(200) + 'x'.repeat(200),
    ]) {
      assert.equal(parsed(T.text, text), text);
      assert.equal(parsed(T.varchar, text), text);
    }
  });

  it('types with their own text form', () => {
    const cases: Array<[number, string]> = [
      [T.uuid, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'],
      [T.interval, '1 day 02:00:00'],
      [T.interval, '-10 mons -3 days +04:05:06.789'],
      [T.interval, '@ 10 mons 3 days -4 hours -5 mins -6.789 secs ago'],
      [T.interval, 'P-10M-3DT4H5M6.789S'],
      [T.inet, '::1'],
      [T.cidr, '10.0.0.0/8'],
      [T.macaddr, '08:00:2b:01:02:03'],
      [T.macaddr8, '08:00:2b:01:02:03:04:05'],
      [T.money, '$1,234.56'],
      [T.pg_lsn, '16/B374D848'],
      [T.bit, '101'],
      [T.xid8, '123'],
      [T.tid, '(0,1)'],
      [T.bpchar, 'ab   '],
      [T.char, '"'],
      [T.name, 'pg_catalog'],
      [T.xml, '<a href="x">y\\z</a>'],
      [T.tstzrange, '["2010-01-01 14:30:00+00","2010-01-01 15:30:00+00")'],
      [T.int4range, '[1,5)'],
      [T.point, '(1,2)'],
      [T.int4multirange, '{[1,3),[5,7)}'],
      [T.int2vector, '1 2 3'],
    ];
    for (const [oid, text] of cases) assert.equal(parsed(oid, text), text, `${oid} ${text}`);
  });

  it('unknown OIDs (enums, domains, composites, extensions)', () => {
    assert.equal(frag(16_385, 'pending'), '"pending"');
    assert.equal(parsed(16_386, '(1,"a ""b""",)'), '(1,"a ""b""",)');
    assert.equal(frag(0, 'x'), '"x"');
    assert.equal(frag(8191, 'x'), '"x"');
    assert.equal(frag(4_000_000_000, '{1,2}'), '"{1,2}"');
  });

  it('NULL_JSON', () => {
    assert.equal(NULL_JSON, 'null');
    assert.equal(JSON.parse(NULL_JSON), null);
  });
});

describe('json-text helpers', () => {
  it('quoteJson matches JSON.stringify on every char below 0x80 and beyond', () => {
    for (let c = 0; c < 0x80; c++) {
      const s = String.fromCharCode(c);
      assert.equal(quoteJson(s), JSON.stringify(s));
      assert.equal(quoteJson('ab' + s + 'cd'), JSON.stringify('ab' + s + 'cd'));
    }
    for (const s of ['é', '☃', '😀', '\u2028', 'x'.repeat(128), 'x'.repeat(129), 'x'.repeat(128) + '\n']) {
      assert.equal(quoteJson(s), JSON.stringify(s));
    }
  });

  it('isJsonNumber follows the JSON grammar', () => {
    for (const s of [
      '0',
      '-0',
      '1',
      '-1',
      '10',
      '1.5',
      '0.5',
      '1e5',
      '1E5',
      '1e+5',
      '1e-5',
      '-1.5e-10',
      '9223372036854775807',
    ]) {
      assert.equal(isJsonNumber(s), true, s);
    }
    for (const s of [
      '',
      '-',
      '+1',
      '01',
      '-01',
      '.5',
      '1.',
      '1e',
      '1e+',
      'NaN',
      'Infinity',
      '0x1',
      '1_0',
      ' 1',
      '1 ',
      '--1',
    ]) {
      assert.equal(isJsonNumber(s), false, s);
    }
  });
});
