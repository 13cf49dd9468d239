import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { idempotencyKey, idempotencyKeyPrefix } from './idempotency-key.js';

describe('idempotency keys', () => {
  it('join the system identifier, the database, the commit LSN and the index', () => {
    const prefix = idempotencyKeyPrefix('7421234567890123456', 'shop');
    assert.equal(prefix, '7421234567890123456:shop:');
    assert.equal(idempotencyKey(prefix, 123456789, 0), '7421234567890123456:shop:123456789:0');
    assert.equal(idempotencyKey(prefix, 2 ** 40 + 1, 70000), `7421234567890123456:shop:${2 ** 40 + 1}:70000`);
  });

  it('are deterministic: the same change gets the same key on a replay', () => {
    const a = idempotencyKey(idempotencyKeyPrefix('1', 'shop'), 42, 3);
    const b = idempotencyKey(idempotencyKeyPrefix('1', 'shop'), 42, 3);
    assert.equal(a, b);
  });

  it('differ across changes, transactions, databases and clusters', () => {
    const keys = [
      idempotencyKey(idempotencyKeyPrefix('1', 'shop'), 42, 3),
      idempotencyKey(idempotencyKeyPrefix('1', 'shop'), 42, 4),
      idempotencyKey(idempotencyKeyPrefix('1', 'shop'), 43, 3),
      idempotencyKey(idempotencyKeyPrefix('1', 'shop2'), 42, 3),
      idempotencyKey(idempotencyKeyPrefix('2', 'shop'), 42, 3),
      // separators inside names must not let two different (database, position) pairs meet
      idempotencyKey(idempotencyKeyPrefix('1', 'shop:42'), 3, 0),
      idempotencyKey(idempotencyKeyPrefix('1', 'shop'), 423, 0),
      idempotencyKey(idempotencyKeyPrefix('1', 'a.b'), 1, 0),
      idempotencyKey(idempotencyKeyPrefix('1', 'a%2Eb'), 1, 0),
    ];
    assert.equal(new Set(keys).size, keys.length, keys.join('\n'));
  });

  it('escape the database name like a subject token, so the header holds no control character or space', () => {
    assert.equal(idempotencyKeyPrefix('9', 'my db\n'), '9:my%20db%0A:');
    assert.equal(idempotencyKeyPrefix('9', 'café:x'), '9:caf%C3%A9%3Ax:');
    const key = idempotencyKey(idempotencyKeyPrefix('9', 'we\u0000ird\r\n\t db'), 1, 2);
    assert.doesNotMatch(key, /[\s\u0000-\u001f\u007f]/);
  });
});
