/**
 * NATS subject naming. Each of database, schema and table is exactly one subject token: bytes
 * outside `[A-Za-z0-9_-]` become `%XX` (upper-case hex of the UTF-8 byte), so `.`, spaces, `*`
 * and `>` can never split a token or act as a wildcard. See docs/contract.md "Subjects".
 *
 * wal2nats itself builds its subjects with this code (core imports it), so what a consumer
 * parses is what the publisher wrote. No Node APIs: it runs in any JavaScript runtime.
 */

/** What happened to a row; the last token of a change subject and the body's `action`. */
export type ChangeAction = 'insert' | 'update' | 'delete' | 'read' | 'truncate';

export const CHANGE_ACTIONS: readonly ChangeAction[] = ['insert', 'update', 'delete', 'read', 'truncate'];

/** The first token(s) of every subject unless `--subject-prefix` says otherwise. */
export const DEFAULT_SUBJECT_PREFIX = 'sequin';

/** The token an empty identifier becomes (NATS rejects an empty token such as `a..b`). */
const EMPTY_NAME_TOKEN = '%00';

const HEX = '0123456789ABCDEF';

function isPlainByte(b: number): boolean {
  return (
    (b >= 0x61 && b <= 0x7a) ||
    (b >= 0x41 && b <= 0x5a) ||
    (b >= 0x30 && b <= 0x39) ||
    b === 0x5f ||
    b === 0x2d
  );
}

function escapeByte(b: number): string {
  return isPlainByte(b) ? String.fromCharCode(b) : `%${HEX[b >> 4]}${HEX[b & 15]}`;
}

/** The UTF-8 bytes of one code point, escaped (a lone surrogate becomes U+FFFD, as in UTF-8 encoders). */
function escapeCodePoint(cp: number): string {
  if (cp < 0x80) return escapeByte(cp);
  if (cp < 0x800) return escapeByte(0xc0 | (cp >> 6)) + escapeByte(0x80 | (cp & 63));
  if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd;
  if (cp < 0x10000)
    return escapeByte(0xe0 | (cp >> 12)) + escapeByte(0x80 | ((cp >> 6) & 63)) + escapeByte(0x80 | (cp & 63));
  return (
    escapeByte(0xf0 | (cp >> 18)) +
    escapeByte(0x80 | ((cp >> 12) & 63)) +
    escapeByte(0x80 | ((cp >> 6) & 63)) +
    escapeByte(0x80 | (cp & 63))
  );
}

/** Escapes one identifier into one subject token. */
export function escapeSubjectToken(name: string): string {
  let plain = name.length > 0;
  for (let i = 0; i < name.length && plain; i++) plain = isPlainByte(name.charCodeAt(i));
  if (plain) return name;
  let out = '';
  for (let i = 0; i < name.length; i++) {
    const cp = name.codePointAt(i)!;
    if (cp > 0xffff) i++;
    out += escapeCodePoint(cp);
  }
  return out === '' ? EMPTY_NAME_TOKEN : out;
}

/**
 * The identifier an escaped token stands for, or null when the token is not one that
 * escapeSubjectToken makes (a byte left unescaped that should not be, lower-case hex, `%` without
 * two hex digits, bytes that are not UTF-8).
 */
export function unescapeSubjectToken(token: string): string | null {
  if (token === EMPTY_NAME_TOKEN) return '';
  if (!/^(?:[A-Za-z0-9_-]|%[0-9A-F]{2})+$/.test(token)) return null;
  let name: string;
  try {
    name = decodeURIComponent(token);
  } catch {
    return null;
  }
  // Only the canonical spelling counts (`%41` is not how `A` is written).
  return escapeSubjectToken(name) === token ? name : null;
}

/** `<prefix>.changes.<db>.<schema>.<table>.<action>` */
export function changeSubject(
  prefix: string,
  database: string,
  schema: string,
  table: string,
  action: ChangeAction,
): string {
  return `${prefix}.changes.${escapeSubjectToken(database)}.${escapeSubjectToken(schema)}.${escapeSubjectToken(table)}.${action}`;
}

/** `<prefix>.rows.<db>.<schema>.<table>` */
export function rowsSubject(prefix: string, database: string, schema: string, table: string): string {
  return `${prefix}.rows.${escapeSubjectToken(database)}.${escapeSubjectToken(schema)}.${escapeSubjectToken(table)}`;
}

/** A subject of wal2nats, read back: the raw (unescaped) names, as in the body's metadata. */
export type ParsedSubject =
  | {
      readonly kind: 'changes';
      readonly prefix: string;
      readonly database: string;
      readonly schema: string;
      readonly table: string;
      readonly action: ChangeAction;
    }
  | {
      readonly kind: 'rows';
      readonly prefix: string;
      readonly database: string;
      readonly schema: string;
      readonly table: string;
    };

function isChangeAction(token: string | undefined): token is ChangeAction {
  return (CHANGE_ACTIONS as readonly (string | undefined)[]).includes(token);
}

/**
 * Reads a subject that changeSubject or rowsSubject made; null for any other subject.
 *
 * With `prefix` (as given to `--subject-prefix`), only subjects under it are read. Without it
 * the prefix is whatever comes before the last five tokens (`changes` subjects, tried first)
 * or the last four (`rows` subjects): a few subjects read both ways (`p.changes.rows.s.t.insert`),
 * so consumers that know their prefix should pass it.
 */
export function parseSubject(subject: string, prefix?: string): ParsedSubject | null {
  let tokens = subject.split('.');
  if (prefix !== undefined) {
    if (!subject.startsWith(`${prefix}.`)) return null;
    tokens = subject.slice(prefix.length + 1).split('.');
    return readChanges(prefix, tokens, true) ?? readRows(prefix, tokens, true);
  }
  return readChanges(null, tokens, false) ?? readRows(null, tokens, false);
}

/** `tokens` after the prefix when `exact`, else the whole subject (the prefix is what is left in front). */
function readChanges(prefix: string | null, tokens: readonly string[], exact: boolean): ParsedSubject | null {
  const at = tokens.length - 5;
  if ((exact ? at !== 0 : at < 1) || tokens[at] !== 'changes') return null;
  const action = tokens[at + 4];
  if (!isChangeAction(action)) return null;
  const names = readNames(tokens, at + 1);
  return names && { kind: 'changes', prefix: prefix ?? tokens.slice(0, at).join('.'), ...names, action };
}

function readRows(prefix: string | null, tokens: readonly string[], exact: boolean): ParsedSubject | null {
  const at = tokens.length - 4;
  if ((exact ? at !== 0 : at < 1) || tokens[at] !== 'rows') return null;
  const names = readNames(tokens, at + 1);
  return names && { kind: 'rows', prefix: prefix ?? tokens.slice(0, at).join('.'), ...names };
}

function readNames(
  tokens: readonly string[],
  from: number,
): { database: string; schema: string; table: string } | null {
  const database = unescapeSubjectToken(tokens[from] ?? '');
  const schema = unescapeSubjectToken(tokens[from + 1] ?? '');
  const table = unescapeSubjectToken(tokens[from + 2] ?? '');
  return database === null || schema === null || table === null ? null : { database, schema, table };
}
