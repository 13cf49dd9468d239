/**
 * Reads the output of Postgres's `test_decoding` plugin (contrib/test_decoding/test_decoding.c,
 * Postgres 15) as returned by pg_logical_slot_get_changes with include-xids 0, include-timestamp 1
 * and skip-empty-xacts 1:
 *
 *   BEGIN
 *   table public.t: INSERT: id[integer]:1 data[text]:'it''s'
 *   table public.t: UPDATE: old-key: id[integer]:1 new-tuple: id[integer]:2 data[text]:unchanged-toast-datum
 *   table public.t: DELETE: id[integer]:2
 *   table public.a, public.b: TRUNCATE: restart_seqs cascade
 *   message: transactional: 1 prefix: p, sz: 3 content:abc
 *   COMMIT (at 2024-10-28 21:37:01.12747+00)
 *
 * A column is `name[type]:value`: the name as quote_identifier writes it, the type as
 * format_type_be does (`integer[]`, `timestamp with time zone`), the value unquoted for numbers
 * and booleans, `B'…'` for bit strings, `null`, `unchanged-toast-datum`, or in single quotes with
 * `'` doubled. The old tuple (old-key) leaves out its null columns.
 */

export interface TdColumn {
  readonly name: string;
  readonly type: string;
  /** The value's text (quotes removed), null for SQL NULL, undefined for an unchanged TOASTed value. */
  readonly text: string | null | undefined;
}

export interface TdChange {
  readonly schema: string;
  readonly table: string;
  readonly action: 'insert' | 'update' | 'delete' | 'truncate';
  /** Insert and update: the new row; delete: the old key or row (nulls left out); truncate: empty. */
  readonly columns: readonly TdColumn[];
  /** Update: the old key or row Postgres sent (nulls left out), or null when none was sent. */
  readonly old: readonly TdColumn[] | null;
}

export interface TdTransaction {
  /** As printed by COMMIT (at …), in the session's TimeZone. */
  readonly commitTime: string;
  readonly changes: TdChange[];
}

class Cursor {
  i = 0;
  constructor(readonly s: string) {}
  expect(text: string): void {
    if (!this.s.startsWith(text, this.i))
      throw new Error(
        `expected ${JSON.stringify(text)} at ${this.i} of ${JSON.stringify(this.s.slice(0, 300))}`,
      );
    this.i += text.length;
  }
  at(text: string): boolean {
    return this.s.startsWith(text, this.i);
  }
  get done(): boolean {
    return this.i >= this.s.length;
  }
}

/** An identifier as quote_identifier writes it. */
function identifier(c: Cursor): string {
  if (c.s[c.i] === '"') {
    let out = '';
    c.i++;
    for (;;) {
      const ch = c.s[c.i];
      if (ch === undefined) throw new Error('unterminated quoted identifier');
      if (ch === '"') {
        if (c.s[c.i + 1] === '"') {
          out += '"';
          c.i += 2;
          continue;
        }
        c.i++;
        return out;
      }
      out += ch;
      c.i++;
    }
  }
  const match = /^[^\s.,:[\]"]+/.exec(c.s.slice(c.i, c.i + 200));
  if (!match) throw new Error(`no identifier at ${c.i} of ${JSON.stringify(c.s.slice(0, 300))}`);
  c.i += match[0].length;
  return match[0];
}

function quoted(c: Cursor): string {
  c.expect("'");
  let out = '';
  for (;;) {
    const end = c.s.indexOf("'", c.i);
    if (end < 0) throw new Error('unterminated literal');
    out += c.s.slice(c.i, end);
    c.i = end + 1;
    if (c.s[c.i] === "'") {
      out += "'";
      c.i++;
      continue;
    }
    return out;
  }
}

function value(c: Cursor): string | null | undefined {
  if (c.at("'")) return quoted(c);
  if (c.at("B'")) {
    c.i++;
    return quoted(c);
  }
  let end = c.s.indexOf(' ', c.i);
  if (end < 0) end = c.s.length;
  const token = c.s.slice(c.i, end);
  c.i = end;
  if (token === 'null') return null;
  if (token === 'unchanged-toast-datum') return undefined;
  return token;
}

/** Columns until the end, or until ` new-tuple:`. */
function columns(c: Cursor): TdColumn[] {
  const out: TdColumn[] = [];
  while (!c.done && !c.at(' new-tuple:')) {
    c.expect(' ');
    const name = identifier(c);
    c.expect('[');
    const close = c.s.indexOf(']:', c.i);
    if (close < 0) throw new Error('no type');
    const type = c.s.slice(c.i, close);
    c.i = close + 2;
    out.push({ name, type, text: value(c) });
  }
  return out;
}

function qualifiedName(c: Cursor): { schema: string; table: string } {
  const schema = identifier(c);
  c.expect('.');
  return { schema, table: identifier(c) };
}

export function parseTdChange(line: string): TdChange[] {
  const c = new Cursor(line);
  c.expect('table ');
  const tables = [qualifiedName(c)];
  while (c.at(', ')) {
    c.i += 2;
    tables.push(qualifiedName(c));
  }
  c.expect(':');
  if (c.at(' TRUNCATE:')) return tables.map((t) => ({ ...t, action: 'truncate', columns: [], old: null }));
  const { schema, table } = tables[0]!;
  if (c.at(' INSERT:')) {
    c.expect(' INSERT:');
    return [{ schema, table, action: 'insert', columns: columns(c), old: null }];
  }
  if (c.at(' DELETE:')) {
    c.expect(' DELETE:');
    if (c.at(' (no-tuple-data)')) return [{ schema, table, action: 'delete', columns: [], old: null }];
    return [{ schema, table, action: 'delete', columns: columns(c), old: null }];
  }
  c.expect(' UPDATE:');
  let old: TdColumn[] | null = null;
  if (c.at(' old-key:')) {
    c.expect(' old-key:');
    old = columns(c);
    c.expect(' new-tuple:');
  }
  if (c.at(' (no-tuple-data)')) return [{ schema, table, action: 'update', columns: [], old }];
  return [{ schema, table, action: 'update', columns: columns(c), old }];
}

/** The transactions of a slot's output, in commit order; messages are left out (see the caller). */
export function parseTdOutput(lines: readonly string[]): TdTransaction[] {
  const transactions: TdTransaction[] = [];
  let current: TdChange[] | null = null;
  for (const line of lines) {
    if (line === 'BEGIN') {
      current = [];
    } else if (line.startsWith('COMMIT')) {
      const match = /^COMMIT \(at (.*)\)$/.exec(line);
      if (!match || current === null) throw new Error(`unexpected ${line}`);
      transactions.push({ commitTime: match[1]!, changes: current });
      current = null;
    } else if (line.startsWith('message:')) {
      // Logical decoding messages: not changes of a table (the contract publishes none).
    } else if (line.startsWith('table ')) {
      if (current === null) throw new Error(`change outside a transaction: ${line.slice(0, 200)}`);
      current.push(...parseTdChange(line));
    } else {
      throw new Error(`unexpected test_decoding line: ${line.slice(0, 200)}`);
    }
  }
  return transactions;
}
