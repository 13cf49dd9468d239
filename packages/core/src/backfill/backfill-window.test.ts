import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RelationMessage, Tuple } from '../pgoutput/pgoutput.types.js';
import { BackfillWindow, keyOf, sameRelation, type ChunkOutcome } from './backfill-window.js';

const items: RelationMessage = {
  tag: 'relation',
  relationId: 10,
  schema: 'public',
  name: 'items',
  replicaIdentity: 'd',
  columns: [
    { name: 'id', typeOid: 23, typeMod: -1, isKey: true },
    { name: 'v', typeOid: 25, typeMod: -1, isKey: false },
  ],
};
const rows: Tuple[] = [
  ['1', 'a'],
  ['2', 'b'],
  ['3', 'c'],
  ['4', 'd'],
];

function openWindow(token = 't1'): { window: BackfillWindow; outcomes: ChunkOutcome[] } {
  const window = new BackfillWindow();
  const outcomes: ChunkOutcome[] = [];
  window.expect({ token, relation: items, keyColumns: ['id'] }, (o) => outcomes.push(o));
  assert.equal(window.onWatermark('low', token, items), null);
  window.attachRows(token, rows);
  return { window, outcomes };
}

describe('BackfillWindow', () => {
  it('routes every row of a chunk nothing changed, and reports the high watermark commit', () => {
    const { window, outcomes } = openWindow();
    assert.equal(window.watchedRelationId, 10, 'watches the table while open');
    const reads = window.onWatermark('high', 't1', items);
    assert.deepEqual(
      reads?.rows.map((r) => r.index),
      [0, 1, 2, 3],
    );
    assert.equal(window.watchedRelationId, -1);
    assert.deepEqual(outcomes, [], 'the outcome waits for the commit');
    window.noteCommit(500);
    assert.deepEqual(outcomes, [{ kind: 'routed', token: 't1', routed: 4, dropped: 0, commitEndLsn: 500 }]);
    assert.equal(window.busy, false);
  });

  it('drops the rows that an insert, an update (old and new key) or a delete touched between the watermarks', () => {
    const { window, outcomes } = openWindow();
    window.noteChange({
      tag: 'update',
      relationId: 10,
      oldKind: null,
      oldTuple: null,
      newTuple: ['2', 'b2'],
    });
    window.noteChange({ tag: 'delete', relationId: 10, oldKind: 'key', oldTuple: ['4', null] });
    window.noteChange({
      tag: 'update',
      relationId: 10,
      oldKind: 'key',
      oldTuple: ['3', null],
      newTuple: ['30', 'c'],
    });
    window.noteChange({ tag: 'insert', relationId: 10, newTuple: ['99', 'new'] });
    const reads = window.onWatermark('high', 't1', items);
    assert.deepEqual(
      reads?.rows,
      [{ index: 0, row: ['1', 'a'] }],
      'the index is the row’s place in the chunk as read',
    );
    window.noteCommit(600);
    assert.deepEqual(outcomes, [{ kind: 'routed', token: 't1', routed: 1, dropped: 3, commitEndLsn: 600 }]);
  });

  it('ignores changes before the low watermark and watermarks of other chunks (replays after a restart)', () => {
    const window = new BackfillWindow();
    const outcomes: ChunkOutcome[] = [];
    window.expect({ token: 'new', relation: items, keyColumns: ['id'] }, (o) => outcomes.push(o));
    window.noteChange({ tag: 'delete', relationId: 10, oldKind: 'key', oldTuple: ['1', null] });
    assert.equal(window.onWatermark('low', 'old', items), null);
    assert.equal(window.onWatermark('high', 'old', items), null);
    assert.equal(window.watchedRelationId, -1, 'a foreign low watermark does not open it');
    assert.equal(window.onWatermark('high', 'new', items), null, 'a high before its low is ignored');
    window.onWatermark('low', 'new', items);
    window.attachRows('new', rows);
    assert.equal(
      window.onWatermark('high', 'new', items)?.rows.length,
      4,
      'the earlier delete does not count',
    );
  });

  it('drops every row on a truncate of the table', () => {
    const { window, outcomes } = openWindow();
    window.noteTruncate([7, 10]);
    assert.deepEqual(window.onWatermark('high', 't1', items)?.rows, []);
    window.noteCommit(700);
    assert.equal(outcomes[0]?.kind === 'routed' && outcomes[0].dropped, 4);
  });

  it('reads the chunk again when its columns change in the window, a key is not sent, or the connection resets', () => {
    const added: RelationMessage = {
      ...items,
      columns: [...items.columns, { name: 'w', typeOid: 23, typeMod: -1, isKey: false }],
    };
    const ddl = openWindow();
    ddl.window.noteRelation(added);
    assert.equal(ddl.window.onWatermark('high', 't1', items), null);
    ddl.window.noteCommit(800);
    assert.equal(ddl.outcomes[0]?.kind, 'redo');

    const toast = openWindow();
    toast.window.noteChange({
      tag: 'update',
      relationId: 10,
      oldKind: null,
      oldTuple: null,
      newTuple: [undefined, 'x'],
    });
    assert.equal(toast.window.onWatermark('high', 't1', items), null);
    toast.window.noteCommit(900);
    assert.equal(toast.outcomes[0]?.kind, 'redo');

    const reset = openWindow();
    reset.window.reset();
    assert.equal(reset.outcomes[0]?.kind, 'redo');
    assert.equal(reset.window.busy, false);
    assert.equal(reset.window.onWatermark('high', 't1', items), null, 'its watermarks are foreign now');
  });

  it('maps the keys of changes through the stream’s relation, whose column order may differ', () => {
    const reordered: RelationMessage = { ...items, columns: [items.columns[1]!, items.columns[0]!] };
    const window = new BackfillWindow();
    const outcomes: ChunkOutcome[] = [];
    window.expect({ token: 't', relation: items, keyColumns: ['id'] }, (o) => outcomes.push(o));
    window.onWatermark('low', 't', reordered);
    window.attachRows('t', rows);
    window.noteChange({ tag: 'insert', relationId: 10, newTuple: ['b', '2'] });
    assert.deepEqual(
      window.onWatermark('high', 't', items)?.rows.map((r) => r.index),
      [0, 2, 3],
    );
  });

  it('refuses a second chunk while one is in progress; cancel frees it', () => {
    const { window, outcomes } = openWindow();
    assert.throws(
      () => window.expect({ token: 't2', relation: items, keyColumns: ['id'] }, () => {}),
      /still in progress/,
    );
    window.cancel('stopping', 'other');
    assert.equal(window.busy, true, 'cancel of another token does nothing');
    window.cancel('stopping');
    assert.deepEqual(outcomes, [{ kind: 'redo', token: 't1', reason: 'stopping' }]);
  });

  it('compares relations and keys', () => {
    assert.equal(sameRelation(items, { ...items }), true);
    assert.equal(sameRelation(items, { ...items, replicaIdentity: 'f' }), false);
    assert.equal(keyOf(['1', 'x', null], [0, 2]), '["1",null]');
    assert.equal(keyOf(['1', undefined], [1]), null);
  });
});
