import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodePgoutput } from '../pgoutput/pgoutput-decoder.js';
import type { RelationMessage } from '../pgoutput/pgoutput.types.js';
import { JsonBytes } from '../values/json-bytes.js';
import { encodeRelationMessage, encodeRowMessage, writeRowMessage } from './pgoutput-encoder.js';

describe('pgoutput encoder for backfill frames', () => {
  it('writes a Relation message that the stream decoder reads back', () => {
    const relation: RelationMessage = {
      tag: 'relation',
      relationId: 0xfffffff0,
      schema: 'Sales Team',
      name: 'order.items',
      replicaIdentity: 'i',
      columns: [
        { name: 'id', typeOid: 20, typeMod: -1, isKey: true },
        { name: 'prix', typeOid: 1700, typeMod: 655366, isKey: false },
        { name: 'café', typeOid: 16385, typeMod: -1, isKey: false },
      ],
    };
    assert.deepEqual(decodePgoutput(encodeRelationMessage(relation)), relation);
  });

  it('writes a row as an Insert message, NULLs and multi-byte text included', () => {
    assert.deepEqual(decodePgoutput(encodeRowMessage(7, ['1', null, 'héllo €', ''])), {
      tag: 'insert',
      relationId: 7,
      newTuple: ['1', null, 'héllo €', ''],
    });
  });

  it('writes rows into one growing buffer, each read back whole (ASCII, multi-byte, long values)', () => {
    const out = new JsonBytes(8);
    const rows = [
      ['1', 'plain', null],
      ['2', 'é'.repeat(5000) + '😀', 'x'.repeat(70_000)],
      ['3', 'ascii then é', ''],
      [],
    ];
    for (const row of rows)
      assert.deepEqual(decodePgoutput(writeRowMessage(out, 0xfffffff0, row)), {
        tag: 'insert',
        relationId: 0xfffffff0,
        newTuple: row,
      });
  });
});
