/**
 * Tables that Postgres would stop accepting UPDATE and DELETE on because of the publication.
 *
 * A table published for updates and deletes needs a replica identity: a primary key (the
 * default), an index (`REPLICA IDENTITY USING INDEX`) or the whole row (`FULL`). Without one,
 * Postgres refuses the statement ("cannot update table … because it does not have a replica
 * identity and publishes updates"): installing wal2nats would break the application's writes.
 * https://www.postgresql.org/docs/15/logical-replication-publication.html
 *
 * Postgres checks the table being written, i.e. each leaf partition, so partitioned tables are
 * looked at through their leaves (`pg_partition_tree`), named by the published (root) table for
 * --tables/--exclude-tables, as the reader names their changes.
 */
import type pg from 'pg';
import { ChangeFilter, literalTables, type Config } from '@wal2nats/core';
import type { PublishedTable } from '../postgres/published-table.js';

/** Leaves of the published tables (`published` CTE: schema, name) without a replica identity. */
const WITHOUT_IDENTITY_SQL = (published: string): string => `
  WITH published(schema, name) AS (${published})
  SELECT p.schema AS root_schema, p.name AS root_table, n.nspname AS schema, c.relname AS table
    FROM published p
    JOIN pg_namespace pn ON pn.nspname = p.schema
    JOIN pg_class pc ON pc.relnamespace = pn.oid AND pc.relname = p.name
    CROSS JOIN LATERAL (SELECT pc.oid AS relid WHERE pc.relkind <> 'p'
                        UNION ALL
                        SELECT t.relid FROM pg_partition_tree(pc.oid) t WHERE pc.relkind = 'p' AND t.isleaf) leaf
    JOIN pg_class c ON c.oid = leaf.relid
    JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE (c.relreplident = 'n'
          OR (c.relreplident = 'd' AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary))
          OR (c.relreplident = 'i' AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisreplident)))
   ORDER BY 3, 4`;

/** What FOR ALL TABLES takes: every permanent table of the database outside the system schemas. */
const ALL_TABLES = `
  SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND c.relpersistence = 'p'
     AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'`;

interface Row {
  root_schema: string;
  root_table: string;
  schema: string;
  table: string;
}

export interface TablesWithoutIdentity {
  /** Kept by --tables/--exclude-tables: their changes would be published. */
  readonly kept: PublishedTable[];
  /** Left out by the options, but a FOR ALL TABLES publication would still hold them. */
  readonly excluded: PublishedTable[];
}

/**
 * Before wal2nats creates the publication: the tables it would take (FOR ALL TABLES, or the
 * exact tables of --tables) that have no replica identity, split by what the options keep.
 */
export async function tablesWithoutIdentityToCreate(
  client: pg.Client,
  config: Config,
): Promise<TablesWithoutIdentity> {
  const exact = literalTables(config.tables);
  const published = exact ? `SELECT * FROM unnest($1::text[], $2::text[])` : ALL_TABLES;
  const params = exact ? [exact.map((t) => t.schema), exact.map((t) => t.table)] : [];
  const rows = (await client.query<Row>(WITHOUT_IDENTITY_SQL(published), params)).rows;
  const filter = new ChangeFilter(config);
  const kept: PublishedTable[] = [];
  const excluded: PublishedTable[] = [];
  for (const row of rows)
    (filter.includesTable(row.root_schema, row.root_table) ? kept : excluded).push({
      schema: row.schema,
      table: row.table,
    });
  return { kept, excluded };
}

/** For an existing publication that publishes updates or deletes: its tables without a replica identity. */
export async function tablesWithoutIdentityIn(
  client: pg.Client,
  publication: string,
): Promise<PublishedTable[]> {
  const published = `
    SELECT pt.schemaname::text, pt.tablename::text FROM pg_publication_tables pt JOIN pg_publication p ON p.pubname = pt.pubname
     WHERE pt.pubname = $1 AND (p.pubupdate OR p.pubdelete)`;
  return (await client.query<Row>(WITHOUT_IDENTITY_SQL(published), [publication])).rows.map((r) => ({
    schema: r.schema,
    table: r.table,
  }));
}

/**
 * The tables that --tables/--exclude-tables keep now, for a publication that must not take the
 * excluded ones (FOR ALL TABLES would: their writes would be refused).
 */
export async function keptTables(client: pg.Client, config: Config): Promise<PublishedTable[]> {
  const rows = (await client.query<{ nspname: string; relname: string }>(`${ALL_TABLES} ORDER BY 1, 2`)).rows;
  const filter = new ChangeFilter(config);
  return rows
    .filter((r) => filter.includesTable(r.nspname, r.relname))
    .map((r) => ({ schema: r.nspname, table: r.relname }));
}
