/**
 * Start-up checks and set-up of the source, before anything streams: the server can do logical
 * replication, we may use it, and the publication and the slot exist (they are created when
 * missing). Every refusal is a clear error with the fix (exit 3); an unreachable server is
 * retried by the caller.
 */
import pg from 'pg';
import {
  ErrorCode,
  Wal2NatsError,
  formatLsn,
  literalTables,
  noReplicaIdentityError,
  parseLsn,
  quoteIdent,
  replicaIdentityFixes,
  type Config,
  type PgTypeInfo,
} from '@wal2nats/core';
import { readAllUserTypes } from '../shard/type-cache.js';
import type { Logger } from '../log/logger.js';
import { clientConfig, userOf } from '../postgres/client-config.js';
import { mapPostgresError } from '../postgres/pg-errors.js';
import type { PublishedTable } from '../postgres/published-table.js';
import { keptTables, tablesWithoutIdentityIn, tablesWithoutIdentityToCreate } from './publication-check.js';

export interface SourceInfo {
  readonly systemIdentifier: string;
  readonly databaseName: string;
  readonly serverVersionNum: number;
  /** Where streaming starts: the slot's confirmed position. */
  readonly startLsn: string;
  readonly slotCreated: boolean;
  /**
   * `--initial-snapshot` and no slot yet: the slot was not created here; the initial snapshot
   * creates it at its consistent point (snapshot/initial-snapshot.ts), and `startLsn` is not set.
   */
  readonly snapshotNeeded: boolean;
  /** Primary key columns of the published tables, by `schema.table`. */
  readonly primaryKeys: Record<string, string[]>;
  /** The published tables (pairs, not "schema.table": a schema or table name may hold a dot). */
  readonly tables: PublishedTable[];
  /** Every user-defined type, read before streaming starts (shard/type-cache.ts says why). */
  readonly userTypes: PgTypeInfo[];
  /**
   * Tables of an existing publication without a primary key or replica identity (Postgres
   * refuses their UPDATE and DELETE), `schema.table`, for the console; warned about at start.
   */
  readonly tablesWithoutIdentity: string[];
}

export async function prepareSource(config: Config, log: Logger): Promise<SourceInfo> {
  const context = { user: userOf(config.postgresUrl), slot: config.slot };
  const client = new pg.Client(clientConfig(config));
  client.on('error', () => {});
  try {
    await client.connect();
    const settings = await client.query<{
      wal_level: string;
      version: string;
      db: string;
      can_replicate: boolean;
    }>(
      `SELECT current_setting('wal_level') AS wal_level, current_setting('server_version_num') AS version, current_database() AS db,
              (SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user) AS can_replicate`,
    );
    const row = settings.rows[0]!;
    if (row.wal_level !== 'logical') {
      throw new Wal2NatsError(
        ErrorCode.PgWalLevel,
        `Postgres runs with wal_level = ${row.wal_level}; logical replication needs wal_level = logical`,
        "run ALTER SYSTEM SET wal_level = 'logical'; then restart Postgres",
      );
    }
    if (!row.can_replicate) {
      throw new Wal2NatsError(
        ErrorCode.PgPrivilege,
        `the Postgres user "${context.user}" may not replicate`,
        `run ALTER ROLE "${context.user}" WITH REPLICATION; as a superuser`,
      );
    }
    const serverVersionNum = Number(row.version);
    const tablesWithoutIdentity = await ensurePublication(client, config, serverVersionNum, log);
    const slot = await ensureSlot(client, config, row.db, log);
    const systemIdentifier = await identifySystem(config);
    const primaryKeys = await primaryKeysOf(client, config);
    const published = await client.query<{ schemaname: string; tablename: string }>(
      'SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = $1 ORDER BY 1, 2',
      [config.publication],
    );
    const tables = published.rows.map((r): PublishedTable => ({ schema: r.schemaname, table: r.tablename }));
    const userTypes = await readAllUserTypes(client);
    return {
      tables,
      userTypes,
      tablesWithoutIdentity,
      systemIdentifier,
      databaseName: config.databaseName ?? row.db,
      serverVersionNum,
      startLsn: slot.startLsn,
      slotCreated: slot.created,
      snapshotNeeded: slot.snapshotNeeded,
      primaryKeys,
    };
  } catch (error) {
    throw mapPostgresError(error, context);
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * Creates the publication when missing, never one that would make Postgres refuse writes
 * (publication-check.ts): refuses (exit 2) if a table it would publish has no replica identity.
 * For an existing publication, warns about such tables and returns them (`schema.table`).
 */
async function ensurePublication(
  client: pg.Client,
  config: Config,
  serverVersionNum: number,
  log: Logger,
): Promise<string[]> {
  const existing = await client.query('SELECT 1 FROM pg_publication WHERE pubname = $1', [
    config.publication,
  ]);
  if (existing.rowCount) {
    const missing = await tablesWithoutIdentityIn(client, config.publication);
    if (missing.length > 0) {
      log.warn(
        'tables in the publication have neither a primary key nor a replica identity: Postgres refuses their UPDATE and DELETE',
        {
          publication: config.publication,
          tables: missing.map((t) => `${t.schema}.${t.table}`).join(','),
          fix: `${replicaIdentityFixes(missing)} (and ALTER PUBLICATION ${quoteIdent(config.publication)} DROP TABLE …)`,
        },
      );
    }
    return missing.map((t) => `${t.schema}.${t.table}`);
  }
  const { kept, excluded } = await tablesWithoutIdentityToCreate(client, config);
  if (kept.length > 0) throw noReplicaIdentityError(config.publication, kept);
  // Globs in --tables cannot be a FOR TABLE list (and should also cover tables created later):
  // the publication then takes all tables and the reader filters (core/pipeline/change-filter.ts).
  // Except when that would take a table without a replica identity that the options leave out:
  // the publication then lists the tables kept now, so that its writes stay allowed.
  const exact =
    literalTables(config.tables) ?? (excluded.length > 0 ? await keptTables(client, config) : null);
  if (excluded.length > 0 && !literalTables(config.tables)) {
    log.warn(
      'creating the publication for the tables kept now, not FOR ALL TABLES: tables created later are not published until added to it',
      {
        publication: config.publication,
        why: `FOR ALL TABLES would include ${excluded.map((t) => `${t.schema}.${t.table}`).join(',')}, which have no replica identity: Postgres would refuse their UPDATE and DELETE`,
        add_later: `ALTER PUBLICATION ${quoteIdent(config.publication)} ADD TABLE …`,
      },
    );
  }
  const target = !exact
    ? 'FOR ALL TABLES'
    : exact.length === 0
      ? ''
      : `FOR TABLE ${exact.map((t) => `${quoteIdent(t.schema)}.${quoteIdent(t.table)}`).join(', ')}`;
  // A partitioned table is published under its root's name (docs/contract.md), where the server can (13+).
  const options = serverVersionNum >= 130000 ? ' WITH (publish_via_partition_root = true)' : '';
  await client.query(`CREATE PUBLICATION ${quoteIdent(config.publication)} ${target}${options}`);
  log.info('created publication', {
    publication: config.publication,
    tables: exact ? exact.map((t) => `${t.schema}.${t.table}`).join(',') : 'all',
  });
  return [];
}

interface SlotRow {
  plugin: string;
  database: string;
  active: boolean;
  active_pid: number | null;
  confirmed_flush_lsn: string | null;
}

async function ensureSlot(
  client: pg.Client,
  config: Config,
  database: string,
  log: Logger,
): Promise<{ startLsn: string; created: boolean; snapshotNeeded: boolean }> {
  const found = await client.query<SlotRow>(
    'SELECT plugin, database, active, active_pid, confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = $1',
    [config.slot],
  );
  const slot = found.rows[0];
  if (slot) {
    if (slot.plugin !== 'pgoutput' || slot.database !== database) {
      throw new Wal2NatsError(
        ErrorCode.PgSlotMismatch,
        `the slot "${config.slot}" exists for plugin ${slot.plugin} on database ${slot.database}, not pgoutput on ${database}`,
        'choose another --slot, or drop that slot if it is unused',
      );
    }
    if (config.initialSnapshot)
      log.info('the slot exists: no initial snapshot (it is taken only when the slot is created)', {
        slot: config.slot,
      });
    // A slot in use is the reader's to wait for: another wal2nats (this one is then a standby),
    // our own previous run's session, or a foreign consumer (exit 3 after a grace period):
    // ha/slot-lease.ts.
    return { startLsn: slot.confirmed_flush_lsn ?? '0/0', created: false, snapshotNeeded: false };
  }
  if (config.initialSnapshot) return { startLsn: '0/0', created: false, snapshotNeeded: true };
  const created = await client.query<{ lsn: string }>(
    "SELECT lsn::text FROM pg_create_logical_replication_slot($1, 'pgoutput')",
    [config.slot],
  );
  const lsn = created.rows[0]!.lsn;
  log.info('created replication slot', { slot: config.slot, lsn });
  return { startLsn: formatLsn(parseLsn(lsn)), created: true, snapshotNeeded: false };
}

/** Primary keys of the published tables, in key order. */
async function primaryKeysOf(client: pg.Client, config: Config): Promise<Record<string, string[]>> {
  const result = await client.query<{ schema: string; table: string; columns: string[] }>(
    `SELECT n.nspname AS schema, c.relname AS table,
            array_agg(a.attname::text ORDER BY array_position(i.indkey::int2[], a.attnum)) AS columns
       FROM pg_index i
       JOIN pg_class c ON c.oid = i.indrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY (i.indkey)
      WHERE i.indisprimary
        AND (n.nspname, c.relname) IN (SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = $1)
      GROUP BY n.nspname, c.relname`,
    [config.publication],
  );
  const keys: Record<string, string[]> = {};
  for (const row of result.rows) keys[`${row.schema}.${row.table}`] = row.columns;
  return keys;
}

/** The cluster's system identifier, which makes idempotency keys distinct across clusters. */
async function identifySystem(config: Config): Promise<string> {
  const replication = new pg.Client(clientConfig(config, { replication: 'database' } as pg.ClientConfig));
  replication.on('error', () => {});
  await replication.connect();
  try {
    const result = await replication.query<{ systemid: string }>('IDENTIFY_SYSTEM');
    return result.rows[0]!.systemid;
  } finally {
    await replication.end().catch(() => {});
  }
}
