/**
 * The SELECT of one backfill chunk: keyset pagination in key order,
 * `WHERE (k1, k2) > ($1, $2) ORDER BY k1, k2 LIMIT n`, so that each chunk is an index range scan
 * whatever the table's size, and the last key read is the cursor to resume from after a restart.
 * Row comparison and ORDER BY use the same operators and collations, so no row is skipped.
 */
import { quoteIdent } from '../sql-quote.js';

export interface ChunkTable {
  readonly schema: string;
  readonly name: string;
  /** Every column read, in the order of the rows handed on. */
  readonly columns: readonly string[];
  /** The key's columns and their SQL types (`format_type`), in key order. */
  readonly keyColumns: readonly string[];
  readonly keyTypes: readonly string[];
  /** The publication's row filter (Postgres 15+), or null. */
  readonly rowFilter: string | null;
}

/** `cursor`: the key of the last row of the previous chunk (text values), or null for the first chunk. */
export function chunkQuery(
  table: ChunkTable,
  cursor: readonly string[] | null,
  limit: number,
): { text: string; values: string[] } {
  if (table.keyColumns.length === 0) throw new Error(`${table.schema}.${table.name} has no key to page on`);
  if (cursor !== null && cursor.length !== table.keyColumns.length)
    throw new Error(`the cursor has ${cursor.length} values; the key has ${table.keyColumns.length} columns`);
  const keys = table.keyColumns.map(quoteIdent);
  const conditions: string[] = [];
  if (table.rowFilter) conditions.push(`(${table.rowFilter})`);
  if (cursor !== null)
    conditions.push(
      `(${keys.join(', ')}) > (${table.keyTypes.map((type, i) => `$${i + 1}::${type}`).join(', ')})`,
    );
  const select = table.columns.length > 0 ? table.columns.map(quoteIdent).join(', ') : 'NULL';
  const text =
    `SELECT ${select} FROM ${quoteIdent(table.schema)}.${quoteIdent(table.name)}` +
    (conditions.length > 0 ? ` WHERE ${conditions.join(' AND ')}` : '') +
    ` ORDER BY ${keys.join(', ')} LIMIT ${Math.floor(limit)}`;
  return { text, values: cursor === null ? [] : [...cursor] };
}
