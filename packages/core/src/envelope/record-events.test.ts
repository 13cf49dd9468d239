// Record events and catalog-aware encoding (docs/data.md). The golden test compares the exact
// JSON text of a record event: a change to it is a change of the wire format.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import type { RelationColumn, RelationMessage } from '../pgoutput/pgoutput.types.js';
import type { PgTypeInfo } from '../values/column-types.js';
import { PgArrayTypeOid, PgTypeOid } from '../values/type-oids.js';
import { ByteEncoder } from '../../../../test/support/byte-encoder.js';
import type { ChangePosition, EncoderContext, RelationCatalogInfo } from './change-encoder.js';
import { idempotencyKeyPrefix } from './idempotency-key.js';

function column(name: string, typeOid: number, isKey = false): RelationColumn {
  return { name, typeOid, typeMod: -1, isKey };
}

const ITEMS: RelationMessage = {
  tag: 'relation',
  relationId: 16400,
  schema: 'public',
  name: 'items',
  replicaIdentity: 'd',
  columns: [
    column('id', PgTypeOid.int4, true),
    column('name', PgTypeOid.text),
    column('qty', PgTypeOid.int4),
  ],
};

const CTX: EncoderContext = {
  subjectPrefix: 'acme.cdc',
  databaseName: 'shop',
  idempotencyPrefix: idempotencyKeyPrefix('7421234567890123456', 'shop'),
  consumerId: 'wal2nats',
  consumerName: 'wal2nats',
  messageKind: 'records',
};

const COMMIT_TIME = (Date.UTC(2024, 9, 28, 21, 37, 1) - Date.UTC(2000, 0, 1)) * 1000 + 127_470;
const at = (commitIdx: number): ChangePosition => ({
  commitLsn: 123456789,
  commitIdx,
  commitTime: COMMIT_TIME,
  annotations: null,
});

const META = (idx: number, pks: string, deleted: boolean): string =>
  '"metadata":{"table_schema":"public","table_name":"items","commit_timestamp":"2024-10-28T21:37:01.127470Z",' +
  `"commit_lsn":123456789,"commit_idx":${idx},"database_name":"shop",` +
  `"idempotency_key":"7421234567890123456:shop:123456789:${idx}","record_pks":${pks},` +
  `"transaction_annotations":null,"deleted":${deleted},"consumer":{"id":"wal2nats","name":"wal2nats"}}}`;

describe('ChangeEncoder: record events (golden wire format)', () => {
  const encoder = new ByteEncoder(ITEMS, CTX);

  it('insert and update: the row now, deleted false, on the rows subject', () => {
    const insert = encoder.encodeInsert(
      { tag: 'insert', relationId: 16400, newTuple: ['1', 'a', '2'] },
      at(0),
    );
    assert.equal(insert.json, '{"record":{"id":1,"name":"a","qty":2},' + META(0, '["1"]', false));
    assert.equal(insert.subject, 'acme.cdc.rows.shop.public.items');
    assert.equal(insert.action, 'insert', 'the action still labels metrics');
    const update = encoder.encodeUpdate(
      { tag: 'update', relationId: 16400, oldKind: null, oldTuple: null, newTuple: ['1', 'a', '3'] },
      at(1),
    );
    assert.equal(update.json, '{"record":{"id":1,"name":"a","qty":3},' + META(1, '["1"]', false));
    assert.equal(update.subject, 'acme.cdc.rows.shop.public.items');
  });

  it('delete and truncate: deleted true', () => {
    const del = encoder.encodeDelete(
      { tag: 'delete', relationId: 16400, oldKind: 'key', oldTuple: ['1', null, null] },
      at(2),
    );
    assert.equal(del.json, '{"record":{"id":1,"name":null,"qty":null},' + META(2, '["1"]', true));
    const truncate = encoder.encodeTruncate(at(3));
    assert.equal(truncate.json, '{"record":null,' + META(3, '[]', true));
    assert.equal(truncate.subject, 'acme.cdc.rows.shop.public.items');
  });

  it('change events carry no deleted key', () => {
    const changes = new ByteEncoder(ITEMS, { ...CTX, messageKind: 'changes' });
    const json = changes.encodeDelete(
      { tag: 'delete', relationId: 16400, oldKind: 'key', oldTuple: ['1', null, null] },
      at(0),
    ).json;
    assert.equal('deleted' in (JSON.parse(json) as { metadata: object }).metadata, false);
  });
});

describe('ChangeEncoder: read events', () => {
  it('encodes a row read from the table as a read event', () => {
    const out = new ByteEncoder(ITEMS, { ...CTX, messageKind: 'changes' }).encodeRead(
      ['7', 'x', null],
      at(0),
    );
    const body = JSON.parse(out.json) as {
      record: unknown;
      changes: unknown;
      action: string;
      metadata: { record_pks: string[] };
    };
    assert.deepEqual(body.record, { id: 7, name: 'x', qty: null });
    assert.equal(body.changes, null);
    assert.equal(body.action, 'read');
    assert.deepEqual(body.metadata.record_pks, ['7']);
    assert.equal(out.subject, 'acme.cdc.changes.shop.public.items.read');
    assert.equal(out.msgId, '7421234567890123456:shop:123456789:read:16400:0', 'never the key of a change');
  });
});

describe('ChangeEncoder: with the catalog', () => {
  const MOOD: PgTypeInfo = { oid: 16385, typtype: 'e', baseOid: 0, elementOid: 0, delimiter: ',' };
  const MOOD_ARRAY: PgTypeInfo = { oid: 16384, typtype: 'b', baseOid: 0, elementOid: 16385, delimiter: ',' };
  const CENTS: PgTypeInfo = {
    oid: 16390,
    typtype: 'd',
    baseOid: PgTypeOid.int8,
    elementOid: 0,
    delimiter: ',',
  };
  const types = new Map([MOOD, MOOD_ARRAY, CENTS].map((t) => [t.oid, t]));
  const typed: RelationMessage = {
    tag: 'relation',
    relationId: 1,
    schema: 'public',
    name: 'typed',
    replicaIdentity: 'f',
    columns: [
      column('code', PgTypeOid.text, true),
      column('id', PgTypeOid.int4, true),
      column('m', 16385, true),
      column('ms', 16384, true),
      column('c', 16390, true),
      column('ints', PgArrayTypeOid.int4, true),
    ],
  };
  const row = ['x', '1', 'happy', '{sad,"very happy"}', '9007199254740993', '{1,2}'];
  const encode = (
    catalog?: RelationCatalogInfo,
  ): { record: Record<string, unknown>; pks: unknown; raw: string } => {
    const json = new ByteEncoder(typed, { ...CTX, messageKind: 'changes' }, catalog).encodeInsert(
      { tag: 'insert', relationId: 1, newTuple: row },
      at(0),
    ).json;
    const body = JSON.parse(json) as { record: Record<string, unknown>; metadata: { record_pks: unknown } };
    return { record: body.record, pks: body.metadata.record_pks, raw: json };
  };

  it('converts domains as their base type and arrays of enums element by element', () => {
    const { record, raw } = encode({ primaryKey: ['id', 'code'], types });
    assert.deepEqual(record, {
      code: 'x',
      id: 1,
      m: 'happy',
      ms: ['sad', 'very happy'],
      c: 9007199254740993,
      ints: [1, 2],
    });
    assert.match(raw, /"c":9007199254740993,/);
  });

  it('keeps the text form without the catalog', () => {
    const { record } = encode();
    assert.equal(record['c'], '9007199254740993');
    assert.equal(record['ms'], '{sad,"very happy"}');
  });

  it('takes record_pks from the catalog key, in key order, and [] for a table without one', () => {
    assert.deepEqual(encode({ primaryKey: ['id', 'code'], types }).pks, ['1', 'x']);
    assert.deepEqual(
      encode({ primaryKey: null, types }).pks,
      [],
      'FULL flags every column: none of them is the key',
    );
    // The catalog did not know the table (dropped since): the start-up keys still apply.
    const fromStart = new ByteEncoder(
      typed,
      { ...CTX, primaryKeys: new Map([['public.typed', ['code']]]) },
      { types },
    ).encodeInsert({ tag: 'insert', relationId: 1, newTuple: row }, at(0));
    assert.deepEqual(
      (JSON.parse(fromStart.json) as { metadata: { record_pks: unknown } }).metadata.record_pks,
      ['x'],
    );
  });

  it('gives no record_pks under REPLICA IDENTITY NOTHING without a primary key', () => {
    const nothing: RelationMessage = {
      ...ITEMS,
      replicaIdentity: 'n',
      columns: ITEMS.columns.map((c) => ({ ...c, isKey: false })),
    };
    const out = new ByteEncoder(nothing, CTX, { primaryKey: null, types }).encodeInsert(
      { tag: 'insert', relationId: 1, newTuple: ['1', 'a', '2'] },
      at(0),
    );
    assert.deepEqual((JSON.parse(out.json) as { metadata: { record_pks: unknown } }).metadata.record_pks, []);
  });
});
