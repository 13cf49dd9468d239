/**
 * Which changes are published: `--tables` and `--exclude-tables` (patterns with globs) and
 * `--actions`. The reader applies it (see wal-router.ts), so the changes of a filtered table are
 * never sent to a shard, whether or not the publication already existed.
 *
 * A pattern is `schema.table`. Each side is either a glob (`*` any run of characters, `?` one
 * character, everything else literal) or a double-quoted name taken literally (`""` stands for
 * one `"`), so a name holding a dot or a glob character can be named exactly:
 * `"Sales Team"."order.items"`. Names are matched as the catalog stores them (case-sensitive).
 */
import type { ChangeAction } from '../envelope/subjects.js';
import { isBackfillStateTable } from '../backfill/watermark-messages.js';
import { errorMessage } from '../error-message.js';

/** Actions that `--actions` may name. */
export const FILTER_ACTIONS: readonly ChangeAction[] = ['insert', 'update', 'delete', 'truncate', 'read'];

interface NamePattern {
  /** The text as written, for messages. */
  readonly source: string;
  /** Set when the side has no glob character: the exact name. */
  readonly literal: string | null;
  readonly regex: RegExp;
}

export interface TablePattern {
  readonly text: string;
  readonly schema: NamePattern;
  readonly table: NamePattern;
}

function escapeRegex(char: string): string {
  return /[\\^$.*+?()[\]{}|/-]/.test(char) ? `\\${char}` : char;
}

/**
 * Parses one side of a pattern starting at `start`; returns it and where it ended (at the
 * separating dot or the end). Throws a message when malformed.
 */
function parseSide(text: string, start: number): { pattern: NamePattern; end: number } {
  if (text[start] === '"') {
    let name = '';
    let i = start + 1;
    for (;;) {
      if (i >= text.length) throw new Error('a quoted name is not closed');
      if (text[i] === '"') {
        if (text[i + 1] === '"') {
          name += '"';
          i += 2;
          continue;
        }
        i++;
        break;
      }
      name += text[i];
      i++;
    }
    if (i < text.length && text[i] !== '.')
      throw new Error('a quoted name must be followed by "." or the end');
    return {
      pattern: {
        source: text.slice(start, i),
        literal: name,
        regex: new RegExp(`^${[...name].map(escapeRegex).join('')}$`, 'su'),
      },
      end: i,
    };
  }
  let i = start;
  let regex = '';
  let glob = false;
  while (i < text.length && text[i] !== '.') {
    const char = text[i]!;
    if (char === '"') throw new Error('a quote may only start a name');
    if (char === '*') {
      regex += '.*';
      glob = true;
    } else if (char === '?') {
      regex += '.';
      glob = true;
    } else regex += escapeRegex(char);
    i++;
  }
  if (i === start) throw new Error('a name is empty');
  const source = text.slice(start, i);
  return {
    pattern: { source, literal: glob ? null : source, regex: new RegExp(`^${regex}$`, 'su') },
    end: i,
  };
}

/** Parses `schema.table`; returns the pattern, or the problem with it. */
export function parseTablePattern(text: string): TablePattern | { problem: string } {
  try {
    const schema = parseSide(text, 0);
    if (schema.end >= text.length) return { problem: `"${text}" is not schema.table` };
    const table = parseSide(text, schema.end + 1);
    if (table.end < text.length)
      return { problem: `"${text}" is not schema.table (quote a name that holds a dot: "order.items")` };
    return { text, schema: schema.pattern, table: table.pattern };
  } catch (error) {
    return { problem: `"${text}" is not schema.table: ${errorMessage(error)}` };
  }
}

function mustParse(text: string): TablePattern {
  const parsed = parseTablePattern(text);
  if ('problem' in parsed) throw new Error(parsed.problem);
  return parsed;
}

function matches(pattern: TablePattern, schema: string, table: string): boolean {
  return pattern.schema.regex.test(schema) && pattern.table.regex.test(table);
}

/**
 * The exact tables that `--tables` names, for a publication that wal2nats creates; null when a
 * pattern has a glob (the publication is then created FOR ALL TABLES and the reader filters), or
 * when no table is listed.
 */
export function literalTables(patterns: readonly string[]): { schema: string; table: string }[] | null {
  if (patterns.length === 0) return null;
  const tables: { schema: string; table: string }[] = [];
  for (const text of patterns) {
    const pattern = mustParse(text);
    if (pattern.schema.literal === null || pattern.table.literal === null) return null;
    tables.push({ schema: pattern.schema.literal, table: pattern.table.literal });
  }
  return tables;
}

export interface ChangeFilterOptions {
  /** `--tables`: when non-empty, only tables matching one of these. */
  readonly tables: readonly string[];
  /** `--exclude-tables`: never tables matching one of these (wins over `tables`). */
  readonly excludeTables: readonly string[];
  /** `--actions`: when non-empty, only these actions. */
  readonly actions: readonly string[];
}

export class ChangeFilter {
  private readonly include: TablePattern[];
  private readonly exclude: TablePattern[];
  private readonly actions: ReadonlySet<string> | null;

  constructor(options: ChangeFilterOptions) {
    this.include = options.tables.map(mustParse);
    this.exclude = options.excludeTables.map(mustParse);
    this.actions = options.actions.length > 0 ? new Set(options.actions) : null;
  }

  /** Whether it lets every change through (the reader then skips all checks). */
  get passesAll(): boolean {
    return this.include.length === 0 && this.exclude.length === 0 && this.actions === null;
  }

  includesTable(schema: string, table: string): boolean {
    // wal2nats's own bookkeeping (a FOR ALL TABLES publication includes it) is never published.
    if (isBackfillStateTable(schema, table)) return false;
    if (this.include.length > 0 && !this.include.some((p) => matches(p, schema, table))) return false;
    return !this.exclude.some((p) => matches(p, schema, table));
  }

  includesAction(action: ChangeAction): boolean {
    return this.actions === null || this.actions.has(action);
  }
}
