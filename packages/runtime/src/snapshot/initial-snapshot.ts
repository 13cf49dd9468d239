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
 *    table through a cursor, a page at a time; each page is published and confirmed (a flush, or
 *    the PubAcks) before the next is published, so memory holds about two pages.
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
  backoffDelayMs,
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
import { abortableDelay } from '../async/abortable-delay.js';
import { retry } from '../async/retry.js';
import type { Logger } from '../log/logger.js';
import type { OutgoingMessage } from '../shard/outgoing-message.js';
import { RelationCatalog } from '../shard/relation-catalog.js';
import { CoreNatsSink } from '../sink/core-nats-sink.js';
import type { DeliverySink } from '../sink/delivery-sink.js';
import { JetStreamSink } from '../sink/jetstream-sink.js';
import { NatsLink } from '../sink/nats-link.js';
import { PageEncoder } from './page-encoder.js';
import { mapPostgresError } from '../postgres/pg-errors.js';
import { clientConfig, userOf } from '../postgres/client-config.js';
import type { SourceInfo } from '../source/replication-setup.js';

/** Rows fetched from a cursor, published and confirmed at a time. */
const PAGE_ROWS = 5000;
/** Tables read at once, each by its own Postgres session and NATS connection. */
const PARALLEL_TABLES = 2;
const PROGRESS_INTERVAL_MS = 5000;

export interface InitialSnapshotOptions {
  readonly config: Config;
  readonly source: SourceInfo;
  readonly log: Logger;
  /** The main thread's registry: the snapshot metrics go there. */
  readonly registry: Registry;
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
}

function snapshotMetrics(registry: Registry): SnapshotMetrics {
  const registers = [registry];
  // Registered once per registry (a second Pipeline in one process reuses them).
  const existing = registry.getSingleMetric('wal2nats_snapshot_rows_total');
  if (existing) {
    return {
      rows: existing as Counter<'table'>,
      estimated: registry.getSingleMetric('wal2nats_snapshot_rows_estimated') as Gauge<'table'>,
      running: registry.getSingleMetric('wal2nats_snapshot_running') as Gauge,
    };
  }
  return {
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
  const sinks: DeliverySink[] = [];
  const catalog = new RelationCatalog(config, log, options.source.userTypes);
  const onAbort = (): void => {
    // Ends the reads at once; the temporary slot goes with the replication connection.
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
    const startedAt = Date.now();
    const queue = [...tables];
    const active = new Set<SnapshotTable>();
    const progress = setInterval(() => {
      for (const table of active) logProgress(log, table, 'initial snapshot: progress');
    }, PROGRESS_INTERVAL_MS);
    try {
      const workers = Array.from({ length: Math.min(PARALLEL_TABLES, queue.length) }, async (_, i) => {
        const session = i === 0 ? first : await openSession(config, snapshotName, sessions);
        const link = await NatsLink.connect(config, `wal2nats snapshot ${i}`, log, signal ? { signal } : {});
        const sink: DeliverySink = config.jetstream ? new JetStreamSink(link) : new CoreNatsSink(link);
        sinks.push(sink);
        const pages = new PageEncoder();
        for (let table = queue.shift(); table !== undefined; table = queue.shift()) {
          active.add(table);
          table.startedAt = Date.now();
          const encoder = new ChangeEncoder(
            table.relation,
            context,
            catalog.infoFor(table.relation.relationId),
          );
          await readTable(session, table, options.pageRows ?? PAGE_ROWS, async (rows, firstIndex) => {
            const messages = pages.encode(encoder, rows, position, firstIndex);
            await deliver(sink, messages, options, table.label);
            pages.release(messages);
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
    await Promise.all(sinks.map((s) => s.close().catch(() => {})));
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

  /** Publishes a page and waits until every message of it is confirmed, retrying forever. */
  async function deliver(
    sink: DeliverySink,
    messages: readonly OutgoingMessage[],
    o: InitialSnapshotOptions,
    label: string,
  ): Promise<void> {
    let from = 0;
    for (let attempt = 1; from < messages.length; attempt++) {
      if (signal?.aborted) throw new SnapshotAborted();
      let reason: string | null = null;
      let published = 0;
      if (sink.connected) {
        sink.beginCycle();
        for (let i = from; i < messages.length; i++) {
          const m = messages[i]!;
          try {
            sink.publishEncoded(m);
          } catch (error) {
            reason = errorMessage(error);
            break;
          }
          published++;
        }
        const result = await sink.settle();
        // Everything before the first failure is delivered; the rest is published again.
        let delivered = published;
        for (const index of result.failures.keys()) if (index < delivered) delivered = index;
        if (delivered < published) reason = result.failures.get(delivered) ?? 'not confirmed';
        from += delivered;
        if (reason === null && from >= messages.length) break;
        if (delivered > 0) attempt = 0;
      } else {
        reason = 'not connected to NATS';
      }
      if (reason !== null) {
        const delay = backoffDelayMs(Math.max(attempt, 1), {
          ...DEFAULT_BACKOFF,
          maxMs: o.config.maxBackoffMs,
        });
        log.warn('initial snapshot: delivery failed; will retry', {
          table: label,
          error: reason,
          retry_in_ms: delay,
        });
        await abortableDelay(delay, signal);
      }
    }
    metrics.rows.inc({ table: label }, messages.length);
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
 * page to `publish` while the next is fetched.
 */
async function readTable(
  session: pg.Client,
  table: SnapshotTable,
  pageRows: number,
  publish: (rows: readonly Tuple[], firstIndex: number) => Promise<void>,
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
    await publish(rows, table.rows);
    table.rows += rows.length;
  }
  await session.query(`CLOSE ${cursor}`);
}
