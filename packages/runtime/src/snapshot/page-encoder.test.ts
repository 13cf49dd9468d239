// A snapshot page goes through the encoder's one path: each row becomes the `read` event the
// golden tests pin (record-events.test.ts), with the row's number in the table as commit_idx and
// in the idempotency key, enqueued under the publisher's next seq.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ChangeEncoder, type EncoderContext, type RelationMessage } from '@wal2nats/core';
import { MessageSlabs, type OutgoingMessage } from '../shard/outgoing-message.js';
import { PageEncoder, type RowTarget } from './page-encoder.js';

const ITEMS: RelationMessage = {
  tag: 'relation',
  relationId: 16390,
  schema: 'public',
  name: 'items',
  replicaIdentity: 'd',
  columns: [
    { name: 'id', typeOid: 20, typeMod: -1, isKey: true },
    { name: 'name', typeOid: 25, typeMod: -1, isKey: false },
  ],
};

const CTX: EncoderContext = {
  subjectPrefix: 'sequin',
  databaseName: 'shop',
  idempotencyPrefix: '7421234567890123456:shop:',
  consumerId: 'slot',
  consumerName: 'wal2nats',
};

describe('PageEncoder', () => {
  it('writes each row of a page as its read event, numbered from the page start', () => {
    const pages = new PageEncoder();
    const encoder = new ChangeEncoder(ITEMS, CTX);
    const at = { commitLsn: 123456789, commitTime: 0, annotations: null };
    const slabs = new MessageSlabs();
    const messages: OutgoingMessage[] = [];
    const target: RowTarget = {
      enqueue: (_relationId, _label, seq, commitTime, change, body) =>
        messages.push(slabs.write(seq, commitTime, change, body)),
    };
    let seq = 40;
    pages.encode(
      encoder,
      [
        ['7', 'café'],
        ['8', null],
      ],
      at,
      5000,
      target,
      () => ++seq,
      99,
    );
    assert.deepEqual(
      messages.map((m) => [m.seq, m.commitTime, m.subject, m.action, m.msgId]),
      [
        [
          41,
          99,
          'sequin.changes.shop.public.items.read',
          'read',
          '7421234567890123456:shop:123456789:read:16390:5000',
        ],
        [
          42,
          99,
          'sequin.changes.shop.public.items.read',
          'read',
          '7421234567890123456:shop:123456789:read:16390:5001',
        ],
      ],
    );
    assert.equal(
      messages[0]!.json,
      '{"record":{"id":7,"name":"café"},"changes":null,"action":"read",' +
        '"metadata":{"table_schema":"public","table_name":"items","commit_timestamp":"2000-01-01T00:00:00.000000Z",' +
        '"commit_lsn":123456789,"commit_idx":5000,"database_name":"shop",' +
        '"idempotency_key":"7421234567890123456:shop:123456789:read:16390:5000","record_pks":["7"],' +
        '"transaction_annotations":null,"consumer":{"id":"slot","name":"wal2nats"}}}',
    );
    assert.equal(JSON.parse(messages[1]!.json).record.name, null);
  });
});
