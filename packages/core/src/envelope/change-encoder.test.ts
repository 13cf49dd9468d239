// The NATS payload is a versioned wire format (docs/contract.md "Message body"). The golden
// tests below compare the exact JSON text, key order included, against literals: any change to
// them is a change of the wire format and must be deliberate. Each message goes through the
// encoder's one path to bytes, written first as the pgoutput bytes Postgres would send
// (test/support/byte-encoder.ts).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import type { RelationColumn, RelationMessage, Tuple, UpdateMessage } from '../pgoutput/pgoutput.types.js';
import { ByteEncoder } from '../../../../test/support/byte-encoder.js';
import type { ChangePosition, EncoderContext } from './change-encoder.js';
import { idempotencyKeyPrefix } from './idempotency-key.js';

const OID = {
  bool: 16,
  int8: 20,
  int4: 23,
  text: 25,
  numeric: 1700,
  jsonb: 3802,
  timestamptz: 1184,
} as const;

function column(name: string, typeOid: number, isKey = false): RelationColumn {
  return { name, typeOid, typeMod: -1, isKey };
}

const ORDERS_COLUMNS = [
  column('id', OID.int8, true),
  column('price', OID.numeric),
  column('status', OID.text),
  column('paid', OID.bool),
  column('meta', OID.jsonb),
  column('note', OID.text),
];

/** public.orders under REPLICA IDENTITY DEFAULT: pgoutput flags the primary key. */
const ORDERS: RelationMessage = {
  tag: 'relation',
  relationId: 16389,
  schema: 'public',
  name: 'orders',
  replicaIdentity: 'd',
  columns: ORDERS_COLUMNS,
};

/** public.orders under REPLICA IDENTITY FULL: pgoutput flags every column. */
const ORDERS_FULL: RelationMessage = {
  ...ORDERS,
  replicaIdentity: 'f',
  columns: ORDERS_COLUMNS.map((c) => ({ ...c, isKey: true })),
};

const CTX: EncoderContext = {
  subjectPrefix: 'sequin',
  databaseName: 'shop',
  idempotencyPrefix: idempotencyKeyPrefix('7421234567890123456', 'shop'),
  consumerId: 'wal2nats',
  consumerName: 'wal2nats',
};

const CTX_WITH_PKS: EncoderContext = { ...CTX, primaryKeys: new Map([['public.orders', ['id']]]) };

/** 2024-10-28T21:37:01.127470Z as microseconds since 2000-01-01 UTC. */
const COMMIT_TIME = (Date.UTC(2024, 9, 28, 21, 37, 1) - Date.UTC(2000, 0, 1)) * 1000 + 127_470;

function at(commitIdx: number, annotations: string | null = null): ChangePosition {
  return { commitLsn: 123456789, commitIdx, commitTime: COMMIT_TIME, annotations };
}

const ROW: Tuple = ['1234', '199.99', 'pending', 'f', '{"a": [1, 2]}', null];

describe('ChangeEncoder: golden wire format', () => {
  it('insert', () => {
    const out = new ByteEncoder(ORDERS, CTX).encodeInsert(
      { tag: 'insert', relationId: 16389, newTuple: ROW },
      at(0),
    );
    assert.equal(
      out.json,
      '{"record":{"id":1234,"price":"199.99","status":"pending","paid":false,"meta":{"a": [1, 2]},"note":null},' +
        '"changes":null,"action":"insert",' +
        '"metadata":{"table_schema":"public","table_name":"orders","commit_timestamp":"2024-10-28T21:37:01.127470Z",' +
        '"commit_lsn":123456789,"commit_idx":0,"database_name":"shop",' +
        '"idempotency_key":"7421234567890123456:shop:123456789:0","record_pks":["1234"],' +
        '"transaction_annotations":null,"consumer":{"id":"wal2nats","name":"wal2nats"}}}',
    );
    assert.equal(out.subject, 'sequin.changes.shop.public.orders.insert');
    assert.equal(out.action, 'insert');
    assert.equal(out.msgId, '7421234567890123456:shop:123456789:0');
  });

  it('update with the whole old row (REPLICA IDENTITY FULL) and transaction annotations', () => {
    const out = new ByteEncoder(ORDERS_FULL, CTX_WITH_PKS).encodeUpdate(
      {
        tag: 'update',
        relationId: 16389,
        oldKind: 'old',
        oldTuple: ROW,
        newTuple: ['1234', '199.99', 'paid', 't', '{"a": [1, 2]}', 'rush'],
      },
      at(1, '{"user":"paul"}'),
    );
    assert.equal(
      out.json,
      '{"record":{"id":1234,"price":"199.99","status":"paid","paid":true,"meta":{"a": [1, 2]},"note":"rush"},' +
        '"changes":{"status":"pending","paid":false,"note":null},"action":"update",' +
        '"metadata":{"table_schema":"public","table_name":"orders","commit_timestamp":"2024-10-28T21:37:01.127470Z",' +
        '"commit_lsn":123456789,"commit_idx":1,"database_name":"shop",' +
        '"idempotency_key":"7421234567890123456:shop:123456789:1","record_pks":["1234"],' +
        '"transaction_annotations":{"user":"paul"},"consumer":{"id":"wal2nats","name":"wal2nats"}}}',
    );
    assert.equal(out.subject, 'sequin.changes.shop.public.orders.update');
  });

  it('update without an old row, with an unchanged TOASTed column', () => {
    const out = new ByteEncoder(ORDERS, CTX).encodeUpdate(
      {
        tag: 'update',
        relationId: 16389,
        oldKind: null,
        oldTuple: null,
        newTuple: ['1234', '199.99', 'paid', 't', '{}', undefined],
      },
      at(2),
    );
    assert.equal(
      out.json,
      '{"record":{"id":1234,"price":"199.99","status":"paid","paid":true,"meta":{}},' +
        '"changes":{},"action":"update",' +
        '"metadata":{"table_schema":"public","table_name":"orders","commit_timestamp":"2024-10-28T21:37:01.127470Z",' +
        '"commit_lsn":123456789,"commit_idx":2,"database_name":"shop",' +
        '"idempotency_key":"7421234567890123456:shop:123456789:2","record_pks":["1234"],' +
        '"transaction_annotations":null,"unchanged_toast_columns":["note"],"consumer":{"id":"wal2nats","name":"wal2nats"}}}',
    );
  });

  it('delete under the default replica identity (key columns only)', () => {
    const out = new ByteEncoder(ORDERS, CTX).encodeDelete(
      { tag: 'delete', relationId: 16389, oldKind: 'key', oldTuple: ['1234', null, null, null, null, null] },
      at(3),
    );
    assert.equal(
      out.json,
      '{"record":{"id":1234,"price":null,"status":null,"paid":null,"meta":null,"note":null},' +
        '"changes":null,"action":"delete",' +
        '"metadata":{"table_schema":"public","table_name":"orders","commit_timestamp":"2024-10-28T21:37:01.127470Z",' +
        '"commit_lsn":123456789,"commit_idx":3,"database_name":"shop",' +
        '"idempotency_key":"7421234567890123456:shop:123456789:3","record_pks":["1234"],' +
        '"transaction_annotations":null,"consumer":{"id":"wal2nats","name":"wal2nats"}}}',
    );
    assert.equal(out.subject, 'sequin.changes.shop.public.orders.delete');
  });

  it('delete under REPLICA IDENTITY FULL (the whole old row)', () => {
    const out = new ByteEncoder(ORDERS_FULL, CTX_WITH_PKS).encodeDelete(
      { tag: 'delete', relationId: 16389, oldKind: 'old', oldTuple: ROW },
      at(0),
    );
    assert.equal(
      out.json,
      '{"record":{"id":1234,"price":"199.99","status":"pending","paid":false,"meta":{"a": [1, 2]},"note":null},' +
        '"changes":null,"action":"delete",' +
        '"metadata":{"table_schema":"public","table_name":"orders","commit_timestamp":"2024-10-28T21:37:01.127470Z",' +
        '"commit_lsn":123456789,"commit_idx":0,"database_name":"shop",' +
        '"idempotency_key":"7421234567890123456:shop:123456789:0","record_pks":["1234"],' +
        '"transaction_annotations":null,"consumer":{"id":"wal2nats","name":"wal2nats"}}}',
    );
  });

  it('truncate', () => {
    const out = new ByteEncoder(ORDERS, CTX).encodeTruncate(at(4));
    assert.equal(
      out.json,
      '{"record":null,"changes":null,"action":"truncate",' +
        '"metadata":{"table_schema":"public","table_name":"orders","commit_timestamp":"2024-10-28T21:37:01.127470Z",' +
        '"commit_lsn":123456789,"commit_idx":4,"database_name":"shop",' +
        '"idempotency_key":"7421234567890123456:shop:123456789:4","record_pks":[],' +
        '"transaction_annotations":null,"consumer":{"id":"wal2nats","name":"wal2nats"}}}',
    );
    assert.equal(out.subject, 'sequin.changes.shop.public.orders.truncate');
    assert.equal(out.action, 'truncate');
  });
});

describe('ChangeEncoder: envelope', () => {
  it('produces valid JSON whose top-level and metadata keys follow the contract, in order', () => {
    const encoder = new ByteEncoder(ORDERS, CTX);
    const outs = [
      encoder.encodeInsert({ tag: 'insert', relationId: 1, newTuple: ROW }, at(0)),
      encoder.encodeUpdate(
        { tag: 'update', relationId: 1, oldKind: null, oldTuple: null, newTuple: ROW },
        at(1),
      ),
      encoder.encodeDelete(
        { tag: 'delete', relationId: 1, oldKind: 'key', oldTuple: ['1', null, null, null, null, null] },
        at(2),
      ),
      encoder.encodeTruncate(at(3)),
    ];
    for (const out of outs) {
      const body = JSON.parse(out.json) as { metadata: Record<string, unknown> };
      assert.deepEqual(Object.keys(body), ['record', 'changes', 'action', 'metadata']);
      assert.deepEqual(Object.keys(body.metadata), [
        'table_schema',
        'table_name',
        'commit_timestamp',
        'commit_lsn',
        'commit_idx',
        'database_name',
        'idempotency_key',
        'record_pks',
        'transaction_annotations',
        'consumer',
      ]);
      assert.equal(
        body.metadata['idempotency_key'],
        out.msgId,
        'Nats-Msg-Id equals metadata.idempotency_key',
      );
    }
  });

  it('escapes odd identifiers in the subject and keeps the raw names in the metadata and keys', () => {
    const relation: RelationMessage = {
      tag: 'relation',
      relationId: 7,
      schema: 'Sales Team',
      name: 'order.items "x" \\ é',
      replicaIdentity: 'd',
      columns: [column('id', OID.int4, true), column('a"b\\c\nd', OID.text)],
    };
    const encoder = new ByteEncoder(relation, { ...CTX, databaseName: 'my db' });
    const out = encoder.encodeInsert(
      { tag: 'insert', relationId: 7, newTuple: ['1', 'va"l\\ue\u0001 ☕'] },
      at(0),
    );
    assert.equal(
      out.subject,
      'sequin.changes.my%20db.Sales%20Team.order%2Eitems%20%22x%22%20%5C%20%C3%A9.insert',
    );
    assert.equal(encoder.label, 'Sales Team.order.items "x" \\ é');
    const body = JSON.parse(out.json) as {
      record: Record<string, unknown>;
      metadata: Record<string, unknown>;
    };
    assert.deepEqual(body.record, { id: 1, 'a"b\\c\nd': 'va"l\\ue\u0001 ☕' });
    assert.equal(body.metadata['table_schema'], 'Sales Team');
    assert.equal(body.metadata['table_name'], 'order.items "x" \\ é');
    assert.equal(body.metadata['database_name'], 'my db');
    assert.equal(
      encoder.subjectFor('read'),
      'sequin.changes.my%20db.Sales%20Team.order%2Eitems%20%22x%22%20%5C%20%C3%A9.read',
    );
  });

  it('keeps every digit of int8 values and of commit_lsn above 2^32', () => {
    const encoder = new ByteEncoder(ORDERS, CTX);
    const out = encoder.encodeInsert(
      { tag: 'insert', relationId: 1, newTuple: ['9223372036854775807', '0.1', 'x', 't', 'null', null] },
      { commitLsn: 0x16_b374_d848, commitIdx: 70000, commitTime: 0, annotations: null },
    );
    assert.ok(out.json.startsWith('{"record":{"id":9223372036854775807,'));
    assert.ok(out.json.includes('"record_pks":["9223372036854775807"]'));
    assert.ok(out.json.includes(`"commit_lsn":${0x16 * 2 ** 32 + 0xb374d848},"commit_idx":70000,`));
    assert.equal(out.msgId, `7421234567890123456:shop:${0x16 * 2 ** 32 + 0xb374d848}:70000`);
    assert.ok(out.json.includes('"commit_timestamp":"2000-01-01T00:00:00.000000Z"'));
  });

  it('writes commit_timestamp with microseconds', () => {
    const encoder = new ByteEncoder(ORDERS, CTX);
    const iso = (commitTime: number): unknown =>
      (
        JSON.parse(
          encoder.encodeTruncate({ commitLsn: 1, commitIdx: 0, commitTime, annotations: null }).json,
        ) as { metadata: Record<string, unknown> }
      ).metadata['commit_timestamp'];
    assert.equal(iso(COMMIT_TIME), '2024-10-28T21:37:01.127470Z');
    assert.equal(iso(COMMIT_TIME + 1), '2024-10-28T21:37:01.127471Z');
    assert.equal(iso(COMMIT_TIME - 127_470), '2024-10-28T21:37:01.000000Z');
    assert.equal(iso(COMMIT_TIME + 872_529), '2024-10-28T21:37:01.999999Z');
  });

  it('embeds the transaction annotations as JSON', () => {
    const out = new ByteEncoder(ORDERS, CTX).encodeInsert(
      { tag: 'insert', relationId: 1, newTuple: ROW },
      at(0, '{"user":"paul","tags":["a",1,null]}'),
    );
    const body = JSON.parse(out.json) as { metadata: Record<string, unknown> };
    assert.deepEqual(body.metadata['transaction_annotations'], { user: 'paul', tags: ['a', 1, null] });
  });

  it('builds the consumer object from the context', () => {
    const out = new ByteEncoder(ORDERS, {
      ...CTX,
      consumerId: 'slot_1',
      consumerName: 'my "app"',
    }).encodeTruncate(at(0));
    const body = JSON.parse(out.json) as { metadata: Record<string, unknown> };
    assert.deepEqual(body.metadata['consumer'], { id: 'slot_1', name: 'my "app"' });
  });
});

describe('ChangeEncoder: changes and unchanged TOAST columns', () => {
  const parse = (
    json: string,
  ): {
    record: Record<string, unknown> | null;
    changes: Record<string, unknown> | null;
    metadata: Record<string, unknown>;
  } =>
    JSON.parse(json) as {
      record: Record<string, unknown> | null;
      changes: Record<string, unknown> | null;
      metadata: Record<string, unknown>;
    };

  it('lists in changes only the columns whose value changed, with their old values', () => {
    const encoder = new ByteEncoder(ORDERS_FULL, CTX_WITH_PKS);
    const out = encoder.encodeUpdate(
      {
        tag: 'update',
        relationId: 1,
        oldKind: 'old',
        oldTuple: ['1', '5.00', 'a', 't', '{"k": 1}', null],
        newTuple: ['1', '5.00', 'b', 't', '{"k": 2}', 'now set'],
      },
      at(0),
    );
    assert.deepEqual(parse(out.json).changes, { status: 'a', meta: { k: 1 }, note: null });
  });

  it('reports a value set to null as a change', () => {
    const out = new ByteEncoder(ORDERS_FULL, CTX).encodeUpdate(
      {
        tag: 'update',
        relationId: 1,
        oldKind: 'old',
        oldTuple: ['1', '5.00', 'a', 't', '{}', 'gone'],
        newTuple: ['1', '5.00', 'a', 't', '{}', null],
      },
      at(0),
    );
    assert.deepEqual(parse(out.json).changes, { note: 'gone' });
    assert.equal(parse(out.json).record!['note'], null);
  });

  it('gives {} when Postgres sent no old row, and {} when nothing changed', () => {
    const encoder = new ByteEncoder(ORDERS_FULL, CTX);
    assert.deepEqual(
      parse(
        encoder.encodeUpdate(
          { tag: 'update', relationId: 1, oldKind: null, oldTuple: null, newTuple: ROW },
          at(0),
        ).json,
      ).changes,
      {},
    );
    assert.deepEqual(
      parse(
        encoder.encodeUpdate(
          { tag: 'update', relationId: 1, oldKind: 'old', oldTuple: ROW, newTuple: ROW },
          at(0),
        ).json,
      ).changes,
      {},
    );
  });

  it('fills unchanged TOASTed columns from the whole old row (REPLICA IDENTITY FULL)', () => {
    // As Postgres 15 sent it for UPDATE docs SET title = 't2' (see pgoutput-decoder.test.ts).
    const docs: RelationMessage = {
      tag: 'relation',
      relationId: 16396,
      schema: 'public',
      name: 'docs',
      replicaIdentity: 'f',
      columns: [
        column('id', OID.int4, true),
        column('title', OID.text, true),
        column('body', OID.text, true),
        column('m', 16385, true),
      ],
    };
    const big = 'x'.repeat(5000);
    const out = new ByteEncoder(docs, {
      ...CTX,
      primaryKeys: new Map([['public.docs', ['id']]]),
    }).encodeUpdate(
      {
        tag: 'update',
        relationId: 16396,
        oldKind: 'old',
        oldTuple: ['1', 't', big, 'happy'],
        newTuple: ['1', 't2', undefined, 'happy'],
      },
      at(0),
    );
    const body = parse(out.json);
    assert.deepEqual(body.record, { id: 1, title: 't2', body: big, m: 'happy' });
    assert.deepEqual(body.changes, { title: 't' });
    assert.equal('unchanged_toast_columns' in body.metadata, false);
    assert.deepEqual(body.metadata['record_pks'], ['1']);
  });

  it('leaves unchanged TOASTed columns out of record and names them when there is no whole old row', () => {
    const encoder = new ByteEncoder(ORDERS, CTX);
    const noOld = parse(
      encoder.encodeUpdate(
        {
          tag: 'update',
          relationId: 1,
          oldKind: null,
          oldTuple: null,
          newTuple: ['1', undefined, 'a', 't', undefined, undefined],
        },
        at(0),
      ).json,
    );
    assert.deepEqual(noOld.record, { id: 1, status: 'a', paid: true });
    assert.deepEqual(noOld.metadata['unchanged_toast_columns'], ['price', 'meta', 'note']);
    for (const name of ['price', 'meta', 'note'])
      assert.equal(name in noOld.record!, false, `${name} must not be reported as null`);
  });

  it('does not fill from a key-only old tuple (its non-key columns are nulls, not values)', () => {
    // UPDATE plain SET id = 2 on a row with a TOASTed body, as Postgres 15 sent it:
    // K tuple ('1', null), new tuple ('2', unchanged).
    const plain: RelationMessage = {
      tag: 'relation',
      relationId: 16403,
      schema: 'public',
      name: 'plain',
      replicaIdentity: 'd',
      columns: [column('id', OID.int4, true), column('body', OID.text)],
    };
    const body = parse(
      new ByteEncoder(plain, CTX).encodeUpdate(
        {
          tag: 'update',
          relationId: 16403,
          oldKind: 'key',
          oldTuple: ['1', null],
          newTuple: ['2', undefined],
        },
        at(0),
      ).json,
    );
    assert.deepEqual(body.record, { id: 2 });
    assert.deepEqual(body.metadata['unchanged_toast_columns'], ['body']);
    assert.deepEqual(body.metadata['record_pks'], ['2']);
    // Only the key's old value is known ({} would also honour the contract); never body: null.
    assert.ok(
      [JSON.stringify({ id: 1 }), '{}'].includes(JSON.stringify(body.changes)),
      JSON.stringify(body.changes),
    );
  });

  it('takes an unchanged TOASTed key from the old key tuple (test_decoding toast.sql)', () => {
    // UPDATE toasted_key SET toasted_col2 = toasted_col1 with a TOASTed key, as Postgres 15
    // sends it: K tuple (null, key, null, null), new tuple (1, unchanged, unchanged, value).
    const toastedKey: RelationMessage = {
      tag: 'relation',
      relationId: 16410,
      schema: 'public',
      name: 'toasted_key',
      replicaIdentity: 'd',
      columns: [
        column('id', OID.int4),
        column('toasted_key', OID.text, true),
        column('toasted_col1', OID.text),
        column('toasted_col2', OID.text),
      ],
    };
    const key = '1234567890'.repeat(200);
    const update: UpdateMessage = {
      tag: 'update',
      relationId: 16410,
      oldKind: 'key',
      oldTuple: [null, key, null, null],
      newTuple: ['1', undefined, undefined, 'v'],
    };
    const body = parse(new ByteEncoder(toastedKey, CTX).encodeUpdate(update, at(0)).json);
    assert.deepEqual(body.record, { id: 1, toasted_key: key, toasted_col2: 'v' });
    assert.deepEqual(
      body.metadata['unchanged_toast_columns'],
      ['toasted_col1'],
      'a non-key column is never filled from the key tuple',
    );
    assert.deepEqual(body.metadata['record_pks'], [key]);
    assert.deepEqual(body.changes, {});
  });

  it('does not report the non-key columns of a key-only old tuple as changed to null', {}, () => {
    // UPDATE orders SET id = 1235 WHERE id = 1234, as Postgres 15 sent it (see pgoutput-decoder.test.ts).
    const relation: RelationMessage = {
      tag: 'relation',
      relationId: 16389,
      schema: 'public',
      name: 'orders',
      replicaIdentity: 'd',
      columns: [
        column('id', OID.int8, true),
        column('price', OID.numeric),
        column('status', OID.text),
        column('note', OID.text),
      ],
    };
    const body = parse(
      new ByteEncoder(relation, CTX).encodeUpdate(
        {
          tag: 'update',
          relationId: 16389,
          oldKind: 'key',
          oldTuple: ['1234', null, null, null],
          newTuple: ['1235', '199.99', 'paid', null],
        },
        at(0),
      ).json,
    );
    // price and status did not change; Postgres just did not send their old values.
    assert.equal('price' in body.changes!, false, JSON.stringify(body.changes));
    assert.equal('status' in body.changes!, false, JSON.stringify(body.changes));
    // The key's old value is known; {} ("Postgres did not send the old row") would also do.
    assert.ok(
      [JSON.stringify({ id: 1234 }), '{}'].includes(JSON.stringify(body.changes)),
      JSON.stringify(body.changes),
    );
  });
});

describe('ChangeEncoder: record_pks', () => {
  const pks = (relation: RelationMessage, ctx: EncoderContext, tuple: Tuple): unknown =>
    (
      JSON.parse(
        new ByteEncoder(relation, ctx).encodeInsert({ tag: 'insert', relationId: 1, newTuple: tuple }, at(0))
          .json,
      ) as { metadata: Record<string, unknown> }
    ).metadata['record_pks'];

  it('uses the key flags under the default replica identity', () => {
    assert.deepEqual(pks(ORDERS, CTX, ROW), ['1234']);
  });

  it('uses the catalog primary key under REPLICA IDENTITY FULL, where every column is flagged', () => {
    assert.deepEqual(pks(ORDERS_FULL, CTX_WITH_PKS, ROW), ['1234']);
  });

  it('gives [] under REPLICA IDENTITY FULL without a known primary key', () => {
    assert.deepEqual(pks(ORDERS_FULL, CTX, ROW), []);
  });

  it('follows the primary key’s column order, not the table’s', () => {
    const relation: RelationMessage = {
      tag: 'relation',
      relationId: 1,
      schema: 'public',
      name: 'lines',
      replicaIdentity: 'd',
      columns: [column('line', OID.int4, true), column('qty', OID.int4), column('order_id', OID.int8, true)],
    };
    const ctx = { ...CTX, primaryKeys: new Map([['public.lines', ['order_id', 'line']]]) };
    assert.deepEqual(pks(relation, ctx, ['3', '10', '77']), ['77', '3']);
    assert.deepEqual(pks(relation, CTX, ['3', '10', '77']), ['3', '77'], 'key flags: table order');
  });

  it('falls back to the key flags when the catalog key names a column the relation lacks', () => {
    const ctx = { ...CTX, primaryKeys: new Map([['public.orders', ['id', 'dropped_column']]]) };
    assert.deepEqual(pks(ORDERS, ctx, ROW), ['1234']);
  });

  it('uses the flagged columns of REPLICA IDENTITY USING INDEX', () => {
    const relation: RelationMessage = {
      tag: 'relation',
      relationId: 1,
      schema: 'public',
      name: 'u',
      replicaIdentity: 'i',
      columns: [column('id', OID.int4), column('email', OID.text, true), column('tenant', OID.int4, true)],
    };
    assert.deepEqual(pks(relation, CTX, ['1', 'a@b.c', '9']), ['a@b.c', '9']);
  });

  it('takes the key of a delete from the old tuple and of an update from the new one', () => {
    const encoder = new ByteEncoder(ORDERS, CTX);
    const del = JSON.parse(
      encoder.encodeDelete(
        { tag: 'delete', relationId: 1, oldKind: 'key', oldTuple: ['55', null, null, null, null, null] },
        at(0),
      ).json,
    ) as {
      metadata: Record<string, unknown>;
    };
    assert.deepEqual(del.metadata['record_pks'], ['55']);
    const upd = JSON.parse(
      encoder.encodeUpdate(
        {
          tag: 'update',
          relationId: 1,
          oldKind: 'key',
          oldTuple: ['55', null, null, null, null, null],
          newTuple: ['56', '1', 'a', 'f', '{}', null],
        },
        at(0),
      ).json,
    ) as { metadata: Record<string, unknown> };
    assert.deepEqual(upd.metadata['record_pks'], ['56']);
  });
});
