/**
 * Quoting for the few statements built as text: identifiers in DDL and in replication commands,
 * which take no bind parameters.
 */

/** `"name"`, with embedded double quotes doubled: any identifier, whatever its case or characters. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** `'text'`, with embedded single quotes doubled (standard_conforming_strings, the default since 9.1). */
export function quoteLiteral(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}
