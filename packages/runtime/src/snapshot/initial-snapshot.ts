/**
 * `--initial-snapshot`: when the slot does not exist yet, publish every existing row of the
 * published tables as `read` events, then stream from exactly where the snapshot was taken, so
 * that snapshot and stream meet with no gap and no overlap (docs/data.md "Initial snapshot").
 *
 * 1. A replication connection creates a TEMPORARY slot with an exported snapshot
 *    (`CREATE_REPLICATION_SLOT … TEMPORARY LOGICAL pgoutput EXPORT_SNAPSHOT`): the snapshot sees
 *    exactly the transactions that committed before the slot's consistent point, and the slot
 *    decodes exactly those that commit after it.
 *    https://www.postgresql.org/docs/current/protocol-replication.html#PROTOCOL-REPLICATION-CREATE-REPLICATION-SLOT
 * 2. Readers import it (`SET TRANSACTION SNAPSHOT`) in REPEATABLE READ transactions and read each
 *    table through a cursor, a page at a time; each page goes to the shards' publishers (core
 *    NATS: a mailbox per table; JetStream: the stream's ordered chain, snapshot-publishers.ts)
 *    and is delivered before the next is enqueued (page-delivery.ts), so memory holds about two
 *    pages per table.
 * 3. Once every row is delivered, the temporary slot is copied to the permanent `--slot`
 *    (`pg_copy_logical_replication_slot`, same consistent point) and streaming starts there.
 *
 * Nothing streams before the snapshot is delivered, so a table's reads always precede its
 * changes. If wal2nats stops or crashes during the snapshot, Postgres drops the temporary slot
 * with the connection and no `--slot` exists yet: the next start takes a new snapshot (the rows
 * already published are published again, with new idempotency keys: at least once).
 */
import pg from 'pg';
import { Counter, Gauge, type Registry } from 'prom-client';
import {
  ChangeEncoder,
  ChangeFilter,
  DEFAULT_BACKOFF,
  ErrorCode,
  errorMessage,
  formatLsn,
  idempotencyKeyPrefix,
  parseLsn,
  quoteIdent,
  type Config,
  type EncoderContext,
  type RelationColumn,
  type RelationMessage,
  type ReplicaIdentity,
  type Tuple,
  unixMsToPgMicros,
  Wal2NatsError,
} from '@wal2nats/core';
import { retry } from '../async/retry.js';
import type { Logger } from '../log/logger.js';
import { createShardMetrics, type ShardMetrics } from '../metrics/shard-metrics.js';
import { RelationCatalog } from '../shard/relation-catalog.js';
import type { ChainStream } from '../sink/jetstream-check.js';
import { PageDelivery } from './page-delivery.js';
import { PageEncoder } from './page-encoder.js';
import { startSnapshotPublishers, type SnapshotPublishers } from './snapshot-publishers.js';
import { mapPostgresError } from '../postgres/pg-errors.js';
import { clientConfig, userOf } from '../postgres/client-config.js';
import type { SourceInfo } from '../source/replication-setup.js';

/** Rows fetched from a cursor, and delivered before the next page is enqueued. */
const PAGE_ROWS = 5000;
/** Tables read at once, each by its own Postgres session. */
const PARALLEL_TABLES = 2;
const PROGRESS_INTERVAL_MS = 5000;

export interface InitialSnapshotOptions {
  readonly config: Config;
  readonly source: SourceInfo;
  readonly log: Logger;
  /** The main thread's registry: the snapshot metrics go there. */
  readonly registry: Registry;
  /** JetStream mode: the streams the tables go to (pipeline's checkJetStream). */
  readonly streams: readonly ChainStream[];
  readonly signal?: AbortSignal;
  /** Default 5000. */
  readonly pageRows?: number;
}

class SnapshotAborted extends Error {
  override readonly name = 'SnapshotAborted';
}

interface SnapshotTable {
  readonly relation: RelationMessage;
  readonly label: string;
  /** The publication's row filter (Postgres 15+), or null. */
  readonly rowFilter: string | null;
  /** Rows expected, from the statistics; null when unknown. */
  estimate: number | null;
  rows: number;
  startedAt: number;
}

interface SnapshotMetrics {
  readonly rows: Counter<'table'>;
  readonly estimated: Gauge<'table'>;
  readonly running: Gauge;
  /**
   * The publishers' metrics, as a shard's (on the main thread's registry, summed with the
   * shards' at /metrics): the snapshot's rows count in wal2nats_messages_published_total
   * {action="read"}, its failures in the retries and backoff of their table, and its
   * undelivered rows in wal2nats_mailbox_depth{shard="snapshot"}.
   */
  readonly publishing: ShardMetrics;
}

/** Registered once per registry (a second run in one process reuses them). */
const registered = new WeakMap<Registry, SnapshotMetrics>();

function snapshotMetrics(registry: Registry): SnapshotMetrics {
  let metrics = registered.get(registry);
  if (!metrics) {
    metrics = createSnapshotMetrics(registry);
    registered.set(registry, metrics);
  }
  return metrics;
}

function createSnapshotMetrics(registry: Registry): SnapshotMetrics {
  const registers = [registry];
  return {
    publishing: createShardMetrics(registry),
    rows: new Counter({
      name: 'wal2nats_snapshot_rows_total',
      help: 'Rows of the initial snapshot read and delivered to NATS as read events.',
      labelNames: ['table'],
      registers,
    }),
    estimated: new Gauge({
      name: 'wal2nats_snapshot_rows_estimated',
      help: 'Rows the initial snapshot expects per table (from the statistics; -1 when unknown).',
      labelNames: ['table'],
      registers,
    }),
    running: new Gauge({
      name: 'wal2nats_snapshot_running',
      help: '1 while the initial snapshot runs.',
      registers,
    }),
  };
}

/** Every value in Postgres's text form, as pgoutput sends it: no parsing by the driver. */
const RAW_TEXT = { getTypeParser: () => (value: string) => value } as unknown as pg.CustomTypesConfig;

/**
 * Runs the initial snapshot and creates `--slot` at its consistent point. Returns the LSN to
 * stream from, or null when stopped (nothing created). Postgres becoming unreachable during the
 * snapshot ends that snapshot (its exported snapshot dies with the connection): a new one is
 * taken from the start, after a backoff.
 */
export async function runInitialSnapshot(options: InitialSnapshotOptions): Promise<string | null> {
  const { config, log, signal } = options;
  const metrics = snapshotMetrics(options.registry);
  const snapshot = async (): Promise<string | null> => {
    try {
      return await takeSnapshot(options, metrics);
    } catch (error) {
      throw mapPostgresError(error, { user: userOf(config.postgresUrl), slot: config.slot });
    }
  };
  return retry(snapshot, {
    backoff: { ...DEFAULT_BACKOFF, maxMs: config.maxBackoffMs },
    retryable: (error) => error instanceof Wal2NatsError && error.code === ErrorCode.Unavailable,
    signal,
    onRetry: ({ error, attempt, delayMs }) =>
      log.warn('initial snapshot: lost Postgres; taking a new snapshot', {
        error: errorMessage(error),
        attempt,
        retry_in_ms: delayMs,
      }),
  });
}

async function takeSnapshot(
  options: InitialSnapshotOptions,
  metrics: SnapshotMetrics,
): Promise<string | null> {
  const { config, log, signal } = options;
  const replication = new pg.Client(
    clientConfig(config, {
      replication: 'database',
      application_name: 'wal2nats snapshot',
    } as pg.ClientConfig),
  );
  replication.on('error', () => {});
  const sessions: pg.Client[] = [];
  let publishers: SnapshotPublishers | null = null;
  const catalog = new RelationCatalog(config, log, options.source.userTypes);
  const delivery = new PageDelivery((table, rows) => metrics.rows.inc({ table }, rows));
  const onAbort = (): void => {
    // Ends the waits for delivery and the reads at once; the temporary slot goes with the
    // replication connection.
    delivery.fail(new SnapshotAborted());
    for (const client of [replication, ...sessions]) void client.end().catch(() => {});
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  metrics.running.set(1);
  try {
    await replication.connect();
    const temporarySlot = `${config.slot.slice(0, 54)}_snapshot`;
    const created = await replication.query<{ consistent_point: string; snapshot_name: string }>(
      `CREATE_REPLICATION_SLOT ${quoteIdent(temporarySlot)} TEMPORARY LOGICAL pgoutput EXPORT_SNAPSHOT`,
    );
    const { consistent_point: consistentPoint, snapshot_name: snapshotName } = created.rows[0]!;
    log.info('initial snapshot: taken', { consistent_point: consistentPoint, snapshot: snapshotName });

    // One session lists the tables, inside the snapshot so that the list matches the rows.
    const first = await openSession(config, snapshotName, sessions);
    // --tables/--exclude-tables and --actions apply to read events as to changes.
    const filter = new ChangeFilter(config);
    const tables = filter.includesAction('read')
      ? (await listTables(first, config, options.source.serverVersionNum)).filter((t) =>
          filter.includesTable(t.relation.schema, t.relation.name),
        )
      : [];
    if (signal?.aborted) throw new SnapshotAborted();
    if (!(await catalog.resolve(tables.map((t) => t.relation)))) throw new SnapshotAborted();
    for (const table of tables) metrics.estimated.set({ table: table.label }, table.estimate ?? -1);
    const totalEstimate = tables.every((t) => t.estimate !== null)
      ? tables.reduce((sum, t) => sum + t.estimate!, 0)
      : null;
    log.info('initial snapshot: reading', { tables: tables.length, estimated_rows: totalEstimate });

    const context: EncoderContext = {
      subjectPrefix: config.subjectPrefix,
      databaseName: options.source.databaseName,
      idempotencyPrefix: idempotencyKeyPrefix(options.source.systemIdentifier, options.source.databaseName),
      consumerId: config.slot,
      consumerName: 'wal2nats',
      primaryKeys: new Map(Object.entries(options.source.primaryKeys)),
      messageKind: config.messageKind,
    };
    const position = {
      commitLsn: parseLsn(consistentPoint),
      commitTime: unixMsToPgMicros(Date.now()),
      annotations: null,
    };
    const started = await startSnapshotPublishers({
      config,
      databaseName: options.source.databaseName,
      idempotencyPrefix: context.idempotencyPrefix!,
      streams: options.streams,
      tables: tables.map((t) => t.relation),
      log,
      metrics: metrics.publishing,
      delivery,
      ...(signal ? { signal } : {}),
    });
    publishers = started;
    if (started === null || signal?.aborted) throw new SnapshotAborted();
    const startedAt = Date.now();
    const queue = [...tables];
    const active = new Set<SnapshotTable>();
    const progress = setInterval(() => {
      for (const table of active) logProgress(log, table, 'initial snapshot: progress');
    }, PROGRESS_INTERVAL_MS);
    try {
      const workers = Array.from({ length: Math.min(PARALLEL_TABLES, queue.length) }, async (_, i) => {
        const session = i === 0 ? first : await openSession(config, snapshotName, sessions);
        const pages = new PageEncoder();
        for (let table = queue.shift(); table !== undefined; table = queue.shift()) {
          active.add(table);
          table.startedAt = Date.now();
          const encoder = new ChangeEncoder(
            table.relation,
            context,
            catalog.infoFor(table.relation.relationId),
          );
          const publisher = started.for(table.relation.schema, table.relation.name);
          await readTable(session, table, options.pageRows ?? PAGE_ROWS, async (rows, firstIndex) => {
            const readAt = unixMsToPgMicros(Date.now());
            await delivery.deliver(table.label, publisher, (target, nextSeq) =>
              pages.encode(encoder, rows, position, firstIndex, target, nextSeq, readAt),
            );
          }).finally(() => active.delete(table));
          metrics.rows.inc({ table: table.label }, 0); // an empty table shows up too
          logProgress(log, table, 'initial snapshot: table done');
        }
        // Not left idle in a transaction while the other session finishes.
        await session.query('COMMIT');
      });
      await Promise.all(workers);
    } finally {
      clearInterval(progress);
    }
    if (signal?.aborted) throw new SnapshotAborted();

    const rows = tables.reduce((sum, t) => sum + t.rows, 0);
    const seconds = (Date.now() - startedAt) / 1000;
    // Every row is delivered: now, and only now, the slot exists for the next start.
    const admin = await openSession(config, null, sessions);
    await admin.query('SELECT pg_copy_logical_replication_slot($1, $2, false)', [temporarySlot, config.slot]);
    log.info('initial snapshot: done', {
      tables: tables.length,
      rows,
      seconds: Math.round(seconds * 10) / 10,
      rows_per_s: Math.round(rows / Math.max(seconds, 0.001)),
      slot: config.slot,
      start_lsn: consistentPoint,
    });
    return formatLsn(parseLsn(consistentPoint));
  } catch (error) {
    if (signal?.aborted || error instanceof SnapshotAborted) {
      log.info('initial snapshot: stopped before it was complete; the next start takes it again');
      return null;
    }
    throw error;
  } finally {
    signal?.removeEventListener('abort', onAbort);
    metrics.running.set(0);
    await catalog.close();
    await publishers?.close();
    await Promise.all(sessions.map((s) => s.end().catch(() => {})));
    // Drops the temporary slot.
    await replication.end().catch(() => {});
  }

  function logProgress(logger: Logger, table: SnapshotTable, message: string): void {
    const seconds = Math.max((Date.now() - table.startedAt) / 1000, 0.001);
    const rate = table.rows / seconds;
    const remaining = table.estimate === null ? null : Math.max(table.estimate - table.rows, 0);
    logger.info(message, {
      table: table.label,
      rows: table.rows,
      estimated_rows: table.estimate,
      rows_per_s: Math.round(rate),
      eta_s: remaining === null || rate === 0 ? null : Math.round(remaining / rate),
    });
  }
}

/** A session in a transaction that sees the exported snapshot (or a plain one, with null). */
async function openSession(
  config: Config,
  snapshotName: string | null,
  sessions: pg.Client[],
): Promise<pg.Client> {
  const client = new pg.Client(clientConfig(config, { application_name: 'wal2nats snapshot' }));
  client.on('error', () => {});
  sessions.push(client);
  await client.connect();
  if (snapshotName === null) return client;
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY');
  await client.query(`SET TRANSACTION SNAPSHOT '${snapshotName.replace(/'/g, "''")}'`);
  return client;
}

/** The published tables as the stream will describe them: columns, identity, key, row filter. */
async function listTables(
  client: pg.Client,
  config: Config,
  serverVersionNum: number,
): Promise<SnapshotTable[]> {
  // Postgres 15 added column lists and row filters to publications.
  const v15 = serverVersionNum >= 150000;
  const published = await client.query<{
    relid: string;
    schema: string;
    name: string;
    identity: string;
    attnames: string[] | null;
    rowfilter: string | null;
    estimate: string | null;
  }>(
    `SELECT c.oid::int8 AS relid, pt.schemaname AS schema, pt.tablename AS name, c.relreplident::text AS identity,
            ${v15 ? 'pt.attnames::text[]' : 'NULL::text[]'} AS attnames, ${v15 ? 'pt.rowfilter' : 'NULL::text'} AS rowfilter,
            CASE WHEN c.relkind <> 'p' THEN (CASE WHEN c.reltuples >= 0 THEN c.reltuples::int8 END)
                 ELSE (SELECT CASE WHEN bool_and(l.reltuples >= 0) THEN sum(l.reltuples)::int8 END
                         FROM pg_partition_tree(c.oid) tree JOIN pg_class l ON l.oid = tree.relid
                        WHERE tree.isleaf) END AS estimate
       FROM pg_publication_tables pt
       JOIN pg_namespace n ON n.nspname = pt.schemaname
       JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = pt.tablename
      WHERE pt.pubname = $1
      ORDER BY 2, 3`,
    [config.publication],
  );
  const tables: SnapshotTable[] = [];
  for (const row of published.rows) {
    const columns = await client.query<{ name: string; type: string; typmod: number; key: boolean }>(
      `SELECT a.attname AS name, a.atttypid::int8 AS type, a.atttypmod AS typmod,
              EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = a.attrelid AND i.indisprimary AND a.attnum = ANY (i.indkey)) AS key
         FROM pg_attribute a
        WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
        ORDER BY a.attnum`,
      [row.relid],
    );
    const wanted = row.attnames === null ? null : new Set(row.attnames);
    const relationColumns: RelationColumn[] = columns.rows
      .filter((c) => wanted === null || wanted.has(c.name))
      .map((c) => ({ name: c.name, typeOid: Number(c.type), typeMod: c.typmod, isKey: c.key }));
    tables.push({
      relation: {
        tag: 'relation',
        relationId: Number(row.relid),
        schema: row.schema,
        name: row.name,
        replicaIdentity: row.identity as ReplicaIdentity,
        columns: relationColumns,
      },
      label: `${row.schema}.${row.name}`,
      rowFilter: row.rowfilter,
      estimate: row.estimate === null ? null : Number(row.estimate),
      rows: 0,
      startedAt: 0,
    });
  }
  return tables;
}

/**
 * Reads a table through a cursor of the snapshot transaction, `pageRows` at a time, handing each
 * page to `deliver` while the next is fetched.
 */
async function readTable(
  session: pg.Client,
  table: SnapshotTable,
  pageRows: number,
  deliver: (rows: readonly Tuple[], firstIndex: number) => Promise<void>,
): Promise<void> {
  const { relation } = table;
  const cursor = `wal2nats_snapshot_${relation.relationId}`;
  const select = relation.columns.map((c) => quoteIdent(c.name)).join(', ');
  await session.query(
    `DECLARE ${cursor} NO SCROLL CURSOR FOR SELECT ${select || 'NULL'} FROM ${quoteIdent(relation.schema)}.${quoteIdent(relation.name)}${table.rowFilter ? ` WHERE (${table.rowFilter})` : ''}`,
  );
  const fetch = (): Promise<Tuple[]> =>
    session
      .query<(string | null)[]>({
        text: `FETCH ${pageRows} FROM ${cursor}`,
        rowMode: 'array',
        types: RAW_TEXT,
      })
      .then((r) => (relation.columns.length === 0 ? r.rows.map(() => []) : r.rows));
  let next = fetch();
  for (;;) {
    const rows = await next;
    if (rows.length === 0) break;
    next = fetch();
    // A fetch that fails while this page is delivered must not go unhandled meanwhile.
    next.catch(() => {});
    await deliver(rows, table.rows);
    table.rows += rows.length;
  }
  await session.query(`CLOSE ${cursor}`);
}
