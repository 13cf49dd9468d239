import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RelationColumn, RelationMessage } from '@wal2nats/core';
import { needsCatalog } from './relation-catalog.js';

const column = (name: string, typeOid: number, isKey = false): RelationColumn => ({
  name,
  typeOid,
  typeMod: -1,
  isKey,
});
const relation = (
  replicaIdentity: RelationMessage['replicaIdentity'],
  columns: RelationColumn[],
): RelationMessage => ({
  tag: 'relation',
  relationId: 16400,
  schema: 'public',
  name: 't',
  replicaIdentity,
  columns,
});

describe('needsCatalog', () => {
  it('is not needed for built-in types under DEFAULT with a one-column key (the common case)', () => {
    assert.equal(needsCatalog(relation('d', [column('id', 23, true), column('v', 25)]), undefined), false);
    assert.equal(
      needsCatalog(relation('d', [column('v', 25)]), undefined),
      false,
      'no key: record_pks is []',
    );
  });

  it('is needed for a user-defined column type', () => {
    assert.equal(needsCatalog(relation('d', [column('id', 23, true), column('m', 16385)]), undefined), true);
  });

  it('is needed when the key flags do not give the primary key', () => {
    for (const identity of ['f', 'i', 'n'] as const)
      assert.equal(needsCatalog(relation(identity, [column('id', 23, true)]), ['id']), true, identity);
  });

  it('is needed for a composite key whose order the start-up read does not give', () => {
    const composite = relation('d', [column('line', 23, true), column('order_id', 20, true)]);
    assert.equal(needsCatalog(composite, undefined), true);
    assert.equal(needsCatalog(composite, ['order_id', 'line']), false);
    assert.equal(needsCatalog(composite, ['order_id']), true, 'the key changed since the start');
  });
});
