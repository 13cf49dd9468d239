/**
 * The TypeScript types and the JSON Schema say the same: every example below is typed (so it
 * must compile against the types) and must pass the schema; each broken variant must fail it.
 * The end-to-end tests then hold both against real messages (test/harness/message-schema.ts,
 * test/pack.test.ts).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { Ajv } from 'ajv';
import type { ChangeEvent, Metadata, RecordEvent, Wal2NatsMessage } from './message.js';

const schema: unknown = JSON.parse(
  readFileSync(new URL('../schema/message.schema.json', import.meta.url), 'utf8'),
);
const validate = new Ajv({ allErrors: true, strict: true }).compile(schema as object);

function problems(body: unknown): string {
  return validate(body) ? '' : JSON.stringify(validate.errors);
}

const metadata: Metadata = {
  table_schema: 'Sales Team',
  table_name: 'order.items',
  commit_timestamp: '2024-10-28T21:37:01.127470Z',
  commit_lsn: 123456789,
  commit_idx: 0,
  database_name: 'shop',
  idempotency_key: '7432109876543210987:shop:123456789:0',
  record_pks: ['1234'],
  transaction_annotations: null,
  consumer: { id: 'wal2nats', name: 'wal2nats' },
};

const changeEvents: readonly ChangeEvent[] = [
  {
    record: { id: 1234, price: '199.99', tags: ['a'], doc: { k: [1, null] } },
    changes: null,
    action: 'insert',
    metadata,
  },
  {
    record: { id: 1234, status: 'paid' },
    changes: { status: 'pending' },
    action: 'update',
    metadata: { ...metadata, transaction_annotations: { user: 'paul' } },
  },
  {
    record: { id: 1234, status: 'paid' },
    changes: {},
    action: 'update',
    metadata: { ...metadata, unchanged_toast_columns: ['body'] },
  },
  { record: { id: 1234, price: null }, changes: null, action: 'delete', metadata },
  { record: null, changes: null, action: 'truncate', metadata: { ...metadata, record_pks: [] } },
  {
    record: { id: 1 },
    changes: null,
    action: 'read',
    metadata: { ...metadata, idempotency_key: '7432109876543210987:shop:123456789:read:16384:0' },
  },
];

const recordEvents: readonly RecordEvent[] = [
  { record: { id: 1234 }, metadata: { ...metadata, deleted: false } },
  { record: { id: 1234 }, metadata: { ...metadata, deleted: true } },
  { record: null, metadata: { ...metadata, deleted: true } },
];

describe('the message schema and the message types', () => {
  it('accepts every kind of typed message', () => {
    const all: readonly Wal2NatsMessage[] = [...changeEvents, ...recordEvents];
    for (const body of all) assert.equal(problems(body), '', JSON.stringify(body));
  });

  it('refuses change events whose record or changes do not fit the action', () => {
    const insert = changeEvents[0]!;
    for (const body of [
      { ...insert, changes: {} },
      { ...insert, record: null },
      { ...insert, action: 'upsert' },
      { ...changeEvents[1]!, changes: null },
      { ...changeEvents[4]!, record: {} },
      { ...insert, extra: 1 },
      { ...insert, metadata: { ...metadata, deleted: true } },
    ]) {
      assert.notEqual(problems(body), '', JSON.stringify(body));
    }
  });

  it('refuses record events without deleted, and a null record that is not deleted', () => {
    for (const body of [
      { record: { id: 1 }, metadata },
      { record: null, metadata: { ...metadata, deleted: false } },
      { record: { id: 1 }, action: 'insert', metadata: { ...metadata, deleted: false } },
    ]) {
      assert.notEqual(problems(body), '', JSON.stringify(body));
    }
  });

  it('refuses metadata that is missing a field, has an unknown one, or a malformed value', () => {
    const insert = changeEvents[0]!;
    const { commit_lsn: _dropped, ...withoutLsn } = metadata;
    for (const bad of [
      withoutLsn,
      { ...metadata, commit_lsn: '123' },
      { ...metadata, commit_idx: -1 },
      { ...metadata, commit_timestamp: '2024-10-28T21:37:01.127Z' },
      { ...metadata, idempotency_key: 'shop:1:0' },
      { ...metadata, record_pks: [1234] },
      { ...metadata, unchanged_toast_columns: [] },
      { ...metadata, consumer: { id: 'wal2nats', name: 'sequin' } },
      { ...metadata, surprise: true },
    ]) {
      assert.notEqual(problems({ ...insert, metadata: bad }), '', JSON.stringify(bad));
    }
  });
});
