import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { subjectPrefixProblem } from './subjects.js';

describe('subjectPrefixProblem', () => {
  it('accepts one or more plain tokens', () => {
    for (const prefix of ['sequin', 'acme.cdc', 'a.b.c.d', 'with-dash_and_underscore', 'Ünïcode', '$SYS']) {
      assert.equal(subjectPrefixProblem(prefix), null, prefix);
    }
  });

  it('rejects an empty prefix and empty tokens', () => {
    for (const prefix of ['', '.', 'a..b', '.a', 'a.']) {
      const problem = subjectPrefixProblem(prefix);
      assert.equal(typeof problem, 'string', JSON.stringify(prefix));
      assert.ok(problem!.length > 0);
    }
    assert.match(subjectPrefixProblem('')!, /empty/);
    assert.match(subjectPrefixProblem('a..b')!, /empty token/);
  });

  it('rejects wildcards and white space', () => {
    for (const prefix of ['*', '>', 'a.*', 'a.>.b', 'a*', 'a>b', 'a b', 'a\tb', 'a.b\n', ' a']) {
      assert.equal(typeof subjectPrefixProblem(prefix), 'string', JSON.stringify(prefix));
    }
    assert.match(subjectPrefixProblem('acme.*')!, /wildcard/);
    assert.match(subjectPrefixProblem('acme cdc')!, /white space/);
  });
});
