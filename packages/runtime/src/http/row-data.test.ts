import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { MessageDetail } from '../messages/message-view.js';
import { HIDDEN, withoutRowValues } from './row-data.js';

const detail = (body: string): MessageDetail =>
  ({
    id: 'x',
    headers: { 'Nats-Msg-Id': 'x' },
    body,
    body_truncated: false,
    body_length: body.length,
  }) as unknown as MessageDetail;

describe('withoutRowValues', () => {
  it('keeps the action and the metadata (with the key), and drops every row value', () => {
    const body =
      '{"record":{"id":7,"email":"ann@example.com"},"changes":{"email":"old@example.com"},"action":"update","metadata":{"table_name":"users","record_pks":["7"]}}';
    const hidden = withoutRowValues(detail(body));
    assert.doesNotMatch(hidden.body, /example\.com/);
    assert.deepEqual(JSON.parse(hidden.body), {
      record: HIDDEN,
      changes: HIDDEN,
      action: 'update',
      metadata: { table_name: 'users', record_pks: ['7'] },
    });
    assert.equal(hidden.body_length, hidden.body.length);
  });

  it('keeps a null changes or record as null', () => {
    const hidden = JSON.parse(
      withoutRowValues(detail('{"record":null,"changes":null,"action":"truncate","metadata":{}}')).body,
    ) as Record<string, unknown>;
    assert.equal(hidden.record, null);
    assert.equal(hidden.changes, null);
  });

  it('shows nothing of a body that was cut', () => {
    const hidden = withoutRowValues(detail('{"record":{"id":7,"note":"secret secret'));
    assert.doesNotMatch(hidden.body, /secret secret/);
    assert.equal(hidden.body_truncated, false);
  });
});
