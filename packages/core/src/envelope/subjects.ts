/**
 * NATS subject naming. Each of database, schema and table is exactly one subject token: bytes
 * outside `[A-Za-z0-9_-]` become `%XX` (upper-case hex of the UTF-8 byte), so `.`, spaces, `*`
 * and `>` can never split a token or act as a wildcard. See CONTRACT.md "Subjects".
 */
import { Buffer } from 'node:buffer';

export type ChangeAction = 'insert' | 'update' | 'delete' | 'read' | 'truncate';

const HEX = '0123456789ABCDEF';

function isPlainByte(b: number): boolean {
  return (b >= 0x61 && b <= 0x7a) || (b >= 0x41 && b <= 0x5a) || (b >= 0x30 && b <= 0x39) || b === 0x5f || b === 0x2d;
}

/** Escapes one identifier into one subject token. */
export function escapeSubjectToken(name: string): string {
  let plain = name.length > 0;
  for (let i = 0; i < name.length && plain; i++) plain = isPlainByte(name.charCodeAt(i));
  if (plain) return name;
  let out = '';
  for (const b of Buffer.from(name, 'utf8')) out += isPlainByte(b) ? String.fromCharCode(b) : `%${HEX[b >> 4]}${HEX[b & 15]}`;
  // An empty identifier cannot be an empty token (NATS rejects `a..b`).
  return out === '' ? '%00' : out;
}

/** `<prefix>.changes.<db>.<schema>.<table>.<action>` */
export function changeSubject(prefix: string, database: string, schema: string, table: string, action: ChangeAction): string {
  return `${prefix}.changes.${escapeSubjectToken(database)}.${escapeSubjectToken(schema)}.${escapeSubjectToken(table)}.${action}`;
}

/** `<prefix>.rows.<db>.<schema>.<table>` */
export function rowsSubject(prefix: string, database: string, schema: string, table: string): string {
  return `${prefix}.rows.${escapeSubjectToken(database)}.${escapeSubjectToken(schema)}.${escapeSubjectToken(table)}`;
}

/**
 * Checks a subject prefix: one or more dot-separated tokens, none empty, none a wildcard, no
 * white space. Returns a reason when invalid.
 */
export function subjectPrefixProblem(prefix: string): string | null {
  if (prefix.length === 0) return 'it is empty';
  for (const token of prefix.split('.')) {
    if (token.length === 0) return 'it has an empty token (two dots in a row, or a dot at an end)';
    if (token === '*' || token === '>') return `it has the wildcard token "${token}"`;
    if (/[\s*>]/.test(token)) return `its token "${token}" holds white space or a wildcard character`;
  }
  return null;
}
