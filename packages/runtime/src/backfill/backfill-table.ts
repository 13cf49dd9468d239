/**
 * What a backfill needs to know of a table, read from the catalog: the table as pgoutput
 * describes it (the columns it publishes, their types, the replica identity key flags), the key
 * to page on, and the publication's row filter. Used by `wal2nats backfill` to refuse a table
 * up front (exit 2, with the fix), and by the running pipeline before each chunk.
 *
 * The key to page on must be one whose values every change of the table carries, so that the
 * reader can tell which rows of a chunk changed: the replica identity index under REPLICA
 * IDENTITY USING INDEX, else the primary key (in the new row of inserts and updates, in the old
 * key of deletes under DEFAULT, in the whole old row under FULL).
 */
import type pg from 'pg';
import {
  configError,
  quoteIdent,
  type ChunkTable,
  type RelationColumn,
  type RelationMessage,
  type ReplicaIdentity,
} from '@wal2nats/core';

export interface BackfillTable extends ChunkTable {
  readonly relation: RelationMessage;
  /** Rows expected, from the statistics; null when unknown (never analyzed, partitioned). */
  readonly estimate: number | null;
}

/** `schema.table` as an operator would write it. */
export function tableLabel(schema: string, table: string): string {
  const plain = (name: string): string => (/^[a-z_][a-z0-9_$]*$/.test(name) ? name : quoteIdent(name));
  return `${plain(schema)}.${plain(table)}`;
}

export async function describeBackfillTable(
  client: pg.Client,
  publication: string,
  schema: string,
  table: string,
  serverVersionNum: number,
): Promise<BackfillTable> {
  const label = tableLabel(schema, table);
  const found = await client.query<{ relid: string; identity: string; estimate: string | null }>(
    `SELECT c.oid::int8 AS relid, c.relreplident::text AS identity,
            CASE WHEN c.relkind <> 'p' AND c.reltuples >= 0 THEN c.reltuples::int8 END AS estimate
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')`,
    [schema, table],
  );
  const row = found.rows[0];
  if (!row) {
    const db = (await client.query<{ db: string }>('SELECT current_database() AS db')).rows[0]!.db;
    throw configError(
      'table',
      `there is no table ${label} in the database ${db}`,
      'check the name (schema.table, case-sensitive; quote a name that holds a dot or capitals: "Sales Team"."order.items")',
    );
  }
  const v15 = serverVersionNum >= 150000;
  const published = await client.query<{ attnames: string[] | null; rowfilter: string | null }>(
    `SELECT ${v15 ? 'attnames::text[]' : 'NULL::text[]'} AS attnames, ${v15 ? 'rowfilter' : 'NULL::text'} AS rowfilter
       FROM pg_publication_tables WHERE pubname = $1 AND schemaname = $2 AND tablename = $3`,
    [publication, schema, table],
  );
  if (published.rows.length === 0) {
    const exists = await client.query('SELECT 1 FROM pg_publication WHERE pubname = $1', [publication]);
    if (!exists.rowCount) {
      throw configError(
        'publication',
        `the publication "${publication}" does not exist`,
        'start wal2nats run once (it creates the publication), or name the one it uses with --publication',
      );
    }
    throw configError(
      'table',
      `the table ${label} is not in the publication "${publication}", so its changes are not streamed and its rows cannot be backfilled`,
      `add it: ALTER PUBLICATION ${quoteIdent(publication)} ADD TABLE ${quoteIdent(schema)}.${quoteIdent(table)};`,
    );
  }
  const { attnames, rowfilter } = published.rows[0]!;
  const columns = await client.query<{
    name: string;
    type: string;
    typmod: number;
    sqltype: string;
    pk: number | null;
    ri: number | null;
  }>(
    `SELECT a.attname AS name, a.atttypid::int8 AS type, a.atttypmod AS typmod, format_type(a.atttypid, a.atttypmod) AS sqltype,
            (SELECT array_position(i.indkey::int2[], a.attnum) FROM pg_index i WHERE i.indrelid = a.attrelid AND i.indisprimary) AS pk,
            (SELECT array_position(i.indkey::int2[], a.attnum) FROM pg_index i WHERE i.indrelid = a.attrelid AND i.indisreplident) AS ri
       FROM pg_attribute a
      WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
      ORDER BY a.attnum`,
    [row.relid],
  );
  const wanted = attnames === null ? null : new Set(attnames);
  const rows = columns.rows.filter((c) => wanted === null || wanted.has(c.name));
  const identity = row.identity as ReplicaIdentity;
  // The key flags pgoutput sets: the identity's columns (every column under FULL).
  const isKey = (c: (typeof rows)[number]): boolean =>
    identity === 'f' ? true : identity === 'i' ? c.ri !== null : identity === 'd' ? c.pk !== null : false;
  const relationColumns: RelationColumn[] = rows.map((c) => ({
    name: c.name,
    typeOid: Number(c.type),
    typeMod: c.typmod,
    isKey: isKey(c),
  }));
  const position = identity === 'i' ? 'ri' : 'pk';
  const keyRows = rows.filter((c) => c[position] !== null).sort((a, b) => a[position]! - b[position]!);
  const keyCount = columns.rows.filter((c) => c[position] !== null).length;
  if (keyRows.length === 0 || keyRows.length !== keyCount) {
    throw configError(
      'table',
      keyRows.length === 0
        ? `the table ${label} has no primary key (nor a replica identity index) to read it by`
        : `the publication "${publication}" leaves out key columns of ${label}`,
      keyRows.length === 0
        ? `add one (ALTER TABLE ${quoteIdent(schema)}.${quoteIdent(table)} ADD PRIMARY KEY (...)), or name a unique index: ALTER TABLE ... REPLICA IDENTITY USING INDEX ...`
        : 'publish the key columns (the publication column list)',
    );
  }
  return {
    schema,
    name: table,
    columns: relationColumns.map((c) => c.name),
    keyColumns: keyRows.map((c) => c.name),
    keyTypes: keyRows.map((c) => c.sqltype),
    rowFilter: rowfilter,
    estimate: row.estimate === null ? null : Number(row.estimate),
    relation: {
      tag: 'relation',
      relationId: Number(row.relid),
      schema,
      name: table,
      replicaIdentity: identity,
      columns: relationColumns,
    },
  };
}
