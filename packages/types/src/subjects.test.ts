import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  CHANGE_ACTIONS,
  changeSubject,
  escapeSubjectToken,
  parseSubject,
  rowsSubject,
  unescapeSubjectToken,
} from './subjects.js';

/**
 * The contract's rule, written independently: each UTF-8 byte outside [A-Za-z0-9_-] becomes %XX
 * with upper-case hex.
 */
function referenceEscape(name: string): string {
  let out = '';
  for (const byte of new TextEncoder().encode(name)) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9_-]/.test(c) ? c : '%' + byte.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

/** One valid NATS subject token: non-empty, no dot, no wildcard, no white space. */
function isOneToken(token: string): boolean {
  return token.length > 0 && !/[.*>\s]/.test(token);
}

describe('escapeSubjectToken', () => {
  it('escapes the contract examples', () => {
    assert.equal(escapeSubjectToken('order.items'), 'order%2Eitems');
    assert.equal(escapeSubjectToken('Sales Team'), 'Sales%20Team');
    assert.equal(escapeSubjectToken('café'), 'caf%C3%A9');
  });

  it('escapes the NATS wildcards', () => {
    assert.equal(escapeSubjectToken('*'), '%2A');
    assert.equal(escapeSubjectToken('>'), '%3E');
    assert.equal(escapeSubjectToken('a*b>c'), 'a%2Ab%3Ec');
  });

  it('turns an empty identifier into a non-empty token (NATS rejects empty tokens)', () => {
    const token = escapeSubjectToken('');
    assert.ok(isOneToken(token), JSON.stringify(token));
    assert.notEqual(token, escapeSubjectToken('_'));
    assert.notEqual(token, escapeSubjectToken('%'));
  });

  it('leaves [A-Za-z0-9_-] alone', () => {
    for (const name of [
      'orders',
      'Orders',
      'ORDER_ITEMS',
      'order-items',
      'v2',
      '0',
      '_',
      '-',
      'abcXYZ0189_-',
    ]) {
      assert.equal(escapeSubjectToken(name), name);
    }
  });

  it('escapes %, so that escaping is one-to-one', () => {
    assert.equal(escapeSubjectToken('100%'), '100%25');
    assert.equal(escapeSubjectToken('a%2Eb'), 'a%252Eb');
    assert.notEqual(escapeSubjectToken('a%2Eb'), escapeSubjectToken('a.b'));
  });

  it('escapes white space, control characters and every UTF-8 byte of non-ASCII characters', () => {
    assert.equal(escapeSubjectToken('tab\there'), 'tab%09here');
    assert.equal(escapeSubjectToken('line\nbreak\r'), 'line%0Abreak%0D');
    assert.equal(escapeSubjectToken('nul\u0000'), 'nul%00');
    assert.equal(escapeSubjectToken('\u007f'), '%7F');
    assert.equal(escapeSubjectToken('日本'), '%E6%97%A5%E6%9C%AC');
    assert.equal(escapeSubjectToken('😀'), '%F0%9F%98%80');
    assert.equal(escapeSubjectToken('ÿ'), '%C3%BF');
    assert.equal(escapeSubjectToken('a"b\'c\\d/e:f$g'), 'a%22b%27c%5Cd%2Fe%3Af%24g');
  });

  it('writes a lone surrogate as U+FFFD, as UTF-8 encoders do', () => {
    assert.equal(escapeSubjectToken('a\ud800b'), referenceEscape('a\ud800b'));
    assert.equal(escapeSubjectToken('\udc00'), '%EF%BF%BD');
  });

  it('agrees with the reference rule on random identifiers, and always yields one token', () => {
    let state = 12345;
    const next = (): number => (state = (Math.imul(state, 1103515245) + 12345) >>> 0);
    const alphabet = [
      'a',
      'Z',
      '9',
      '_',
      '-',
      '.',
      ' ',
      '*',
      '>',
      '%',
      'é',
      '日',
      '😀',
      '\t',
      '"',
      '\u0000',
      '$',
    ];
    const seen = new Map<string, string>();
    for (let i = 0; i < 3000; i++) {
      let name = '';
      const length = 1 + (next() % 12);
      for (let k = 0; k < length; k++) name += alphabet[next() % alphabet.length];
      const token = escapeSubjectToken(name);
      assert.equal(token, referenceEscape(name), JSON.stringify(name));
      assert.ok(isOneToken(token), JSON.stringify(name));
      const previous = seen.get(token);
      assert.ok(
        previous === undefined || previous === name,
        `${JSON.stringify(name)} and ${JSON.stringify(previous)} share ${token}`,
      );
      seen.set(token, name);
    }
  });
});

describe('changeSubject / rowsSubject', () => {
  it('builds <prefix>.changes.<db>.<schema>.<table>.<action>', () => {
    assert.equal(
      changeSubject('sequin', 'shop', 'public', 'orders', 'insert'),
      'sequin.changes.shop.public.orders.insert',
    );
    for (const action of ['insert', 'update', 'delete', 'read', 'truncate'] as const) {
      assert.equal(
        changeSubject('sequin', 'shop', 'public', 'orders', action),
        `sequin.changes.shop.public.orders.${action}`,
      );
    }
  });

  it('builds <prefix>.rows.<db>.<schema>.<table>', () => {
    assert.equal(rowsSubject('sequin', 'shop', 'public', 'orders'), 'sequin.rows.shop.public.orders');
  });

  it('keeps a multi-token prefix as is and escapes each name into exactly one token', () => {
    const subject = changeSubject('acme.cdc', 'my.db', 'Sales Team', 'order.items', 'update');
    assert.equal(subject, 'acme.cdc.changes.my%2Edb.Sales%20Team.order%2Eitems.update');
    assert.equal(subject.split('.').length, 7);
    assert.equal(rowsSubject('acme.cdc', 'café', '*', '>'), 'acme.cdc.rows.caf%C3%A9.%2A.%3E');
  });
});

describe('unescapeSubjectToken', () => {
  it('reads back what escapeSubjectToken wrote, for random identifiers', () => {
    let state = 777;
    const next = (): number => (state = (Math.imul(state, 1103515245) + 12345) >>> 0);
    const alphabet = [
      'a',
      'Z',
      '9',
      '_',
      '-',
      '.',
      ' ',
      '*',
      '>',
      '%',
      'é',
      '日',
      '😀',
      '\t',
      '"',
      '$',
      '%2E',
      '%00',
    ];
    for (let i = 0; i < 3000; i++) {
      let name = '';
      const length = 1 + (next() % 12);
      for (let k = 0; k < length; k++) name += alphabet[next() % alphabet.length];
      assert.equal(unescapeSubjectToken(escapeSubjectToken(name)), name, JSON.stringify(name));
    }
    assert.equal(unescapeSubjectToken(escapeSubjectToken('')), '');
  });

  it('refuses tokens that escapeSubjectToken never writes', () => {
    for (const token of ['', 'a.b', 'a b', '%2e', '%2', '%', 'a%G1', '%41', '%C3', '%FF', 'a*', '>']) {
      assert.equal(unescapeSubjectToken(token), null, JSON.stringify(token));
    }
  });
});

describe('parseSubject', () => {
  it('reads a change subject back into raw names, with and without the prefix', () => {
    const subject = changeSubject('acme.cdc', 'my.db', 'Sales Team', 'order.items', 'update');
    const expected = {
      kind: 'changes',
      prefix: 'acme.cdc',
      database: 'my.db',
      schema: 'Sales Team',
      table: 'order.items',
      action: 'update',
    };
    assert.deepEqual(parseSubject(subject, 'acme.cdc'), expected);
    assert.deepEqual(parseSubject(subject), expected);
    for (const action of CHANGE_ACTIONS)
      assert.equal(
        parseSubject(changeSubject('sequin', 'shop', 'public', 'orders', action))?.kind,
        'changes',
      );
  });

  it('reads a rows subject back', () => {
    const subject = rowsSubject('sequin', 'café', '*', '>');
    const expected = { kind: 'rows', prefix: 'sequin', database: 'café', schema: '*', table: '>' };
    assert.deepEqual(parseSubject(subject, 'sequin'), expected);
    assert.deepEqual(parseSubject(subject), expected);
  });

  it('with the prefix given, reads the subjects that are ambiguous without it', () => {
    assert.deepEqual(parseSubject('p.changes.rows.s.t.insert', 'p'), {
      kind: 'changes',
      prefix: 'p',
      database: 'rows',
      schema: 's',
      table: 't',
      action: 'insert',
    });
    assert.deepEqual(parseSubject('p.changes.rows.s.t.insert', 'p.changes'), {
      kind: 'rows',
      prefix: 'p.changes',
      database: 's',
      schema: 't',
      table: 'insert',
    });
  });

  it('returns null for subjects that are not wal2nats subjects', () => {
    for (const subject of [
      'sequin.changes.shop.public.orders',
      'sequin.changes.shop.public.orders.upsert',
      'changes.shop.public.orders.insert',
      'sequin.changes.shop.public.order.items.insert',
      'sequin.changes.shop.public.orders%2e.insert',
      'sequin.rows.shop.public',
      '_INBOX.abc.def',
      '$JS.API.STREAM.INFO.CDC',
    ]) {
      assert.equal(parseSubject(subject), null, subject);
    }
    assert.equal(parseSubject('sequin.changes.shop.public.orders.insert', 'acme'), null);
    assert.equal(parseSubject('acme.cdc.changes.shop.public.orders.insert', 'acme'), null);
  });
});
