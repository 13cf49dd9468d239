import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { streamCapturing, subjectMatches } from './stream-routing.js';

describe('subjectMatches', () => {
  it('matches literal tokens, * for one token and > for one or more', () => {
    assert.equal(subjectMatches('sequin.changes.shop.public.orders.insert', 'sequin.changes.shop.>'), true);
    assert.equal(
      subjectMatches('sequin.changes.shop.public.orders.insert', 'sequin.changes.*.public.orders.insert'),
      true,
    );
    assert.equal(
      subjectMatches('sequin.changes.shop.public.orders.insert', 'sequin.changes.shop.public.orders.delete'),
      false,
    );
    assert.equal(
      subjectMatches('sequin.changes.shop', 'sequin.changes.shop.>'),
      false,
      '> needs at least one token',
    );
    assert.equal(subjectMatches('sequin.changes.shop.x', 'sequin.changes.shop'), false);
    assert.equal(subjectMatches('sequin.changes.shop', 'sequin.changes.shop.*'), false);
    assert.equal(subjectMatches('a.b', '>'), true);
  });
});

describe('streamCapturing', () => {
  it('finds the stream whose filters capture a subject, or -1', () => {
    const streams = [
      { name: 'ORDERS', subjects: ['sequin.changes.shop.public.orders.*'] },
      { name: 'REST', subjects: ['sequin.changes.shop.public.items.>', 'sequin.rows.shop.>'] },
    ];
    assert.equal(streamCapturing(streams, 'sequin.changes.shop.public.orders.update'), 0);
    assert.equal(streamCapturing(streams, 'sequin.rows.shop.public.orders'), 1);
    assert.equal(streamCapturing(streams, 'sequin.changes.shop.public.users.insert'), -1);
  });
});
