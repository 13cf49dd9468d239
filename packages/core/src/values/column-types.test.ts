import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  columnValueToJson,
  needsTypeLookup,
  resolveColumnType,
  typesToLookUp,
  unknownTypeIn,
  type PgTypeInfo,
} from './column-types.js';
import { PgArrayTypeOid, PgTypeOid } from './type-oids.js';

// As pg_type describes them (OIDs as a fresh database would give).
const MOOD: PgTypeInfo = { oid: 16385, typtype: 'e', baseOid: 0, elementOid: 0, delimiter: ',' };
const MOOD_ARRAY: PgTypeInfo = { oid: 16384, typtype: 'b', baseOid: 0, elementOid: 16385, delimiter: ',' };
const POSINT: PgTypeInfo = {
  oid: 16390,
  typtype: 'd',
  baseOid: PgTypeOid.int4,
  elementOid: 0,
  delimiter: ',',
};
const POSINT_ARRAY: PgTypeInfo = { oid: 16389, typtype: 'b', baseOid: 0, elementOid: 16390, delimiter: ',' };
const SMALL_POSINT: PgTypeInfo = { oid: 16392, typtype: 'd', baseOid: 16390, elementOid: 0, delimiter: ',' };
const INTARR: PgTypeInfo = {
  oid: 16394,
  typtype: 'd',
  baseOid: PgArrayTypeOid.int4,
  elementOid: 0,
  delimiter: ',',
};
const MOODS: PgTypeInfo = { oid: 16396, typtype: 'd', baseOid: 16384, elementOid: 0, delimiter: ',' };
const BOXLIKE: PgTypeInfo = {
  oid: 16398,
  typtype: 'd',
  baseOid: PgTypeOid.box,
  elementOid: 0,
  delimiter: ';',
};
const BOXLIKE_ARRAY: PgTypeInfo = { oid: 16397, typtype: 'b', baseOid: 0, elementOid: 16398, delimiter: ',' };
const PAIR: PgTypeInfo = { oid: 16400, typtype: 'c', baseOid: 0, elementOid: 0, delimiter: ',' };
const LOOP_A: PgTypeInfo = { oid: 16500, typtype: 'd', baseOid: 16501, elementOid: 0, delimiter: ',' };
const LOOP_B: PgTypeInfo = { oid: 16501, typtype: 'd', baseOid: 16500, elementOid: 0, delimiter: ',' };

// CREATE DOMAIN dposinta AS posint[]: its array type holds arrays (domain.sql).
const DPOSINTA: PgTypeInfo = { oid: 16402, typtype: 'd', baseOid: 16389, elementOid: 0, delimiter: ',' };
const DPOSINTA_ARRAY: PgTypeInfo = {
  oid: 16401,
  typtype: 'b',
  baseOid: 0,
  elementOid: 16402,
  delimiter: ',',
};

const TYPES = new Map(
  [
    MOOD,
    MOOD_ARRAY,
    POSINT,
    POSINT_ARRAY,
    SMALL_POSINT,
    INTARR,
    MOODS,
    BOXLIKE,
    BOXLIKE_ARRAY,
    PAIR,
    LOOP_A,
    LOOP_B,
    DPOSINTA,
    DPOSINTA_ARRAY,
  ].map((t) => [t.oid, t]),
);

/** What resolveColumnType says about a column, without the element's own resolution. */
function shape(oid: number): { oid: number; arrayElement: number; delimiter: number } {
  const { oid: resolved, arrayElement, delimiter } = resolveColumnType(oid, TYPES);
  return { oid: resolved, arrayElement, delimiter };
}

describe('resolveColumnType', () => {
  it('leaves built-in types alone', () => {
    assert.deepEqual(shape(PgTypeOid.int8), { oid: PgTypeOid.int8, arrayElement: -1, delimiter: 0x2c });
    assert.deepEqual(shape(PgArrayTypeOid.text), {
      oid: PgArrayTypeOid.text,
      arrayElement: -1,
      delimiter: 0x2c,
    });
  });

  it('converts a domain as its base type, through domains over domains', () => {
    assert.equal(resolveColumnType(POSINT.oid, TYPES).oid, PgTypeOid.int4);
    assert.equal(resolveColumnType(SMALL_POSINT.oid, TYPES).oid, PgTypeOid.int4);
    assert.deepEqual(
      shape(INTARR.oid),
      { oid: PgArrayTypeOid.int4, arrayElement: -1, delimiter: 0x2c },
      'a domain over a built-in array',
    );
  });

  it('converts an array of a user-defined type element by element', () => {
    assert.deepEqual(shape(MOOD_ARRAY.oid), { oid: MOOD_ARRAY.oid, arrayElement: MOOD.oid, delimiter: 0x2c });
    assert.deepEqual(
      shape(POSINT_ARRAY.oid),
      { oid: POSINT_ARRAY.oid, arrayElement: PgTypeOid.int4, delimiter: 0x2c },
      'elements as the domain base',
    );
    assert.deepEqual(
      shape(MOODS.oid),
      { oid: MOOD_ARRAY.oid, arrayElement: MOOD.oid, delimiter: 0x2c },
      'a domain over an enum array',
    );
    assert.equal(resolveColumnType(BOXLIKE_ARRAY.oid, TYPES).delimiter, 0x3b, "the element type's delimiter");
  });

  it('converts an array of a domain over an array as an array of arrays', () => {
    const type = resolveColumnType(DPOSINTA_ARRAY.oid, TYPES);
    assert.equal(columnValueToJson(type, '{"{42}"}'), '[[42]]');
    assert.equal(columnValueToJson(type, '{"{1,2}",NULL,"{}"}'), '[[1,2],null,[]]');
    assert.equal(
      columnValueToJson(type, '{{"{1}","{2}"}}'),
      '[[[1],[2]]]',
      'several dimensions of the outer array',
    );
    assert.equal(
      columnValueToJson(resolveColumnType(DPOSINTA.oid, TYPES), '{7,8}'),
      '[7,8]',
      'the domain itself',
    );
    assert.equal(columnValueToJson(resolveColumnType(MOOD_ARRAY.oid, TYPES), '{sad,"o k"}'), '["sad","o k"]');
    assert.equal(columnValueToJson(resolveColumnType(MOOD.oid, TYPES), 'sad'), '"sad"');
  });

  it('keeps the text form of enums, composites, unknown types and catalog cycles', () => {
    for (const oid of [MOOD.oid, PAIR.oid, 99999, LOOP_A.oid])
      assert.equal(resolveColumnType(oid, TYPES).arrayElement, -1);
    assert.equal(resolveColumnType(99999, TYPES).oid, 99999);
  });

  it('names the type that is missing from the catalog, however deep', () => {
    for (const known of [
      PgTypeOid.int4,
      MOOD.oid,
      MOOD_ARRAY.oid,
      SMALL_POSINT.oid,
      DPOSINTA_ARRAY.oid,
      PAIR.oid,
    ])
      assert.equal(unknownTypeIn(known, TYPES), undefined, String(known));
    assert.equal(unknownTypeIn(99999, TYPES), 99999);
    const partial = new Map(TYPES);
    partial.delete(POSINT.oid);
    assert.equal(
      unknownTypeIn(DPOSINTA_ARRAY.oid, partial),
      POSINT.oid,
      'the element of the base of the element',
    );
    assert.equal(unknownTypeIn(SMALL_POSINT.oid, partial), POSINT.oid);
  });

  it('asks the catalog only about types outside the built-in range', () => {
    assert.equal(needsTypeLookup(PgTypeOid.jsonb), false);
    assert.equal(needsTypeLookup(13_000), true, 'information_schema domains');
    assert.deepEqual(typesToLookUp([PgTypeOid.int4, 16385, 16385, 16390]), [16385, 16390]);
  });
});
