import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { ChangeFilter, literalTables, parseTablePattern } from './change-filter.js';

function filter(tables: string[], excludeTables: string[] = [], actions: string[] = []): ChangeFilter {
  return new ChangeFilter({ tables, excludeTables, actions });
}

describe('parseTablePattern', () => {
  it('parses schema.table with globs and quoted names', () => {
    for (const text of [
      'public.orders',
      'public.*',
      'audit.*_log',
      '*.*',
      'a?c.t',
      '"Sales Team"."order.items"',
      '"a""b".t',
    ]) {
      assert.ok(!('problem' in parseTablePattern(text)), text);
    }
  });

  it('names what is wrong', () => {
    assert.match(
      (parseTablePattern('orders') as { problem: string }).problem,
      /"orders" is not schema\.table/,
    );
    assert.match(
      (parseTablePattern('a.b.c') as { problem: string }).problem,
      /quote a name that holds a dot/,
    );
    assert.match((parseTablePattern('.t') as { problem: string }).problem, /a name is empty/);
    assert.match((parseTablePattern('s.') as { problem: string }).problem, /a name is empty/);
    assert.match((parseTablePattern('"s.t') as { problem: string }).problem, /not closed/);
    assert.match((parseTablePattern('"s"x.t') as { problem: string }).problem, /followed by/);
    assert.match(
      (parseTablePattern('s.t"x"') as { problem: string }).problem,
      /a quote may only start a name/,
    );
  });
});

describe('ChangeFilter', () => {
  it('passes everything by default', () => {
    const f = filter([]);
    assert.equal(f.passesAll, true);
    assert.equal(f.includesTable('any', 'thing'), true);
    assert.equal(f.includesAction('truncate'), true);
  });

  it('includes only the tables that match --tables', () => {
    const f = filter(['public.*', 'audit.*_log']);
    assert.equal(f.passesAll, false);
    assert.equal(f.includesTable('public', 'orders'), true);
    assert.equal(f.includesTable('public', ''), true);
    assert.equal(f.includesTable('audit', 'login_log'), true);
    assert.equal(f.includesTable('audit', '_log'), true);
    assert.equal(f.includesTable('audit', 'log_archive'), false);
    assert.equal(f.includesTable('sales', 'orders'), false);
    assert.equal(f.includesTable('publicx', 'orders'), false);
  });

  it('lets --exclude-tables win over --tables', () => {
    const f = filter(['public.*'], ['public.secret*', '*.tmp_?']);
    assert.equal(f.includesTable('public', 'orders'), true);
    assert.equal(f.includesTable('public', 'secrets'), false);
    assert.equal(f.includesTable('public', 'tmp_1'), false);
    assert.equal(f.includesTable('public', 'tmp_12'), true);
    const onlyExclude = filter([], ['audit.*']);
    assert.equal(onlyExclude.includesTable('public', 'x'), true);
    assert.equal(onlyExclude.includesTable('audit', 'x'), false);
  });

  it('matches case-sensitively, literal characters literally', () => {
    const f = filter(['public.Orders', 'p.a+b', 's.[x]']);
    assert.equal(f.includesTable('public', 'Orders'), true);
    assert.equal(f.includesTable('public', 'orders'), false);
    assert.equal(f.includesTable('p', 'a+b'), true);
    assert.equal(f.includesTable('p', 'aab'), false);
    assert.equal(f.includesTable('s', '[x]'), true);
    assert.equal(f.includesTable('s', 'x'), false);
  });

  it('takes quoted names literally, dots and stars included', () => {
    const f = filter(['"Sales Team"."order.items"', '"we*rd".*']);
    assert.equal(f.includesTable('Sales Team', 'order.items'), true);
    assert.equal(f.includesTable('Sales Team', 'orderXitems'), false);
    assert.equal(f.includesTable('we*rd', 'x'), true);
    assert.equal(f.includesTable('weird', 'x'), false);
  });

  it('lets a glob span dots inside a name', () => {
    assert.equal(filter(['"Sales Team".*']).includesTable('Sales Team', 'order.items'), true);
  });

  it('filters actions', () => {
    const f = filter([], [], ['insert', 'update']);
    assert.equal(f.passesAll, false);
    assert.equal(f.includesAction('insert'), true);
    assert.equal(f.includesAction('update'), true);
    assert.equal(f.includesAction('delete'), false);
    assert.equal(f.includesAction('truncate'), false);
  });
});

describe('literalTables', () => {
  it('lists exact tables for CREATE PUBLICATION ... FOR TABLE', () => {
    assert.deepEqual(literalTables(['public.orders', '"Sales Team"."order.items"']), [
      { schema: 'public', table: 'orders' },
      { schema: 'Sales Team', table: 'order.items' },
    ]);
  });

  it('is null with no tables or with a glob (the publication is then FOR ALL TABLES)', () => {
    assert.equal(literalTables([]), null);
    assert.equal(literalTables(['public.orders', 'audit.*']), null);
    assert.equal(literalTables(['public.ord?rs']), null);
  });
});
