/**
 * NATS subject naming. The builders and the escaping live in @wal2nats/types, the package that
 * consumers install, so that publisher and consumers share one implementation; the check of
 * `--subject-prefix` is configuration and stays here.
 */
export { changeSubject, escapeSubjectToken, rowsSubject, type ChangeAction } from '@wal2nats/types';

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
