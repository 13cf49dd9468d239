/**
 * Runs the backfills requested with `wal2nats backfill`, inside the reader thread, beside the
 * WAL reader (docs/data.md "Backfill"). For each request of our slot, oldest first, it reads the
 * table in chunks in key order, each chunk between two watermarks written into the WAL:
 *
 *   1. register the chunk with the reader's BackfillWindow (so it watches for the low watermark);
 *   2. commit the low watermark (its own transaction);
 *   3. SELECT the chunk (READ COMMITTED, so after the low watermark's commit), values as text,
 *      exactly as pgoutput sends them;
 *   4. hand the rows to the window, then commit the high watermark.
 *
 * The reader, decoding the WAL in commit order, drops the rows changed between the two
 * watermarks and routes the rest as `read` events at the high watermark's place. Running here,
 * in the reader's thread, the rows are always in the window before their high watermark can be
 * decoded. The cursor is saved only once the slot's confirmed position has passed the high
 * watermark's commit, i.e. once the reads are delivered: a restart resumes at the first chunk
 * not known delivered (at least once).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import {
  backoffDelayMs,
  BACKFILL_HIGH_PREFIX,
  BACKFILL_LOW_PREFIX,
  ChangeFilter,
  chunkQuery,
  DEFAULT_BACKOFF,
  ErrorCode,
  errorMessage,
  keyOf,
  watermarkContent,
  Wal2NatsError,
  type BackfillWindow,
  type ChunkOutcome,
  type Config,
  type Lsn,
  type Tuple,
} from '@wal2nats/core';
import type { Logger } from '../log/logger.js';
import { mapPostgresError } from '../postgres/pg-errors.js';
import { clientConfig, userOf } from '../postgres/client-config.js';
import type { BackfillMetrics } from './backfill-metrics.js';
import {
  isRunning,
  markDone,
  markFailed,
  markRunning,
  nextRequest,
  saveProgress,
  type BackfillRequest,
} from './backfill-store.js';
import { describeBackfillTable, tableLabel, type BackfillTable } from './backfill-table.js';

const POLL_INTERVAL_MS = 1000;
const PROGRESS_INTERVAL_MS = 5000;
/** Chunks routed but not yet delivered at once: bounds the reads held in flight. */
const MAX_UNCONFIRMED_CHUNKS = 4;
/** Attempts at a request that fails with the same kind of non-outage error before it is failed. */
const MAX_ATTEMPTS_ON_ERROR = 3;

/** Every value in Postgres's text form, as pgoutput sends it: no parsing by the driver. */
const RAW_TEXT = { getTypeParser: () => (value: string) => value } as unknown as pg.CustomTypesConfig;

export interface BackfillDriverOptions {
  readonly config: Config;
  readonly serverVersionNum: number;
  readonly window: BackfillWindow;
  /** The slot's confirmed position now. */
  readonly confirmedLsn: () => Lsn;
  /** Whether this process streams from the slot: a standby runs no backfill (the active one does). */
  readonly isActive: () => boolean;
  readonly metrics: BackfillMetrics;
  readonly log: Logger;
}

class Stopped extends Error {
  override readonly name = 'Stopped';
}

/** A chunk routed, waiting for its reads to be delivered. */
interface RoutedChunk {
  readonly commitEndLsn: Lsn;
  readonly cursor: string[];
  readonly rowsThrough: number;
  readonly routed: number;
}

export class BackfillDriver {
  private client: pg.Client | null = null;
  private stopped = false;
  private wake: (() => void) | null = null;
  private readonly nonce = randomBytes(4).toString('hex');
  private chunkAttempts = 0;
  /** Chunks of the running backfill routed and not yet known delivered, oldest first. */
  private unconfirmed: RoutedChunk[] = [];
  private onConfirmedProgress: (() => void) | null = null;
  private done: Promise<void> | null = null;
  /** The request being run, and an error that keeps failing it (not an outage). */
  private current: BackfillRequest | null = null;
  private failCurrent: string | null = null;
  /** Failed attempts in a row (reset by every delivered chunk). */
  private attempt = 0;

  constructor(private readonly options: BackfillDriverOptions) {}

  start(): void {
    this.done ??= this.loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.options.window.cancel('stopping');
    this.wake?.();
    this.onConfirmedProgress?.();
    await this.client?.end().catch(() => {});
    await this.done;
  }

  /** The reader confirmed `lsn` to Postgres: every chunk whose high watermark commit is at or before it is delivered. */
  noteConfirmed(): void {
    this.onConfirmedProgress?.();
  }

  private async loop(): Promise<void> {
    const { config, log } = this.options;
    while (!this.stopped) {
      try {
        const client = await this.connect();
        if (this.current && this.failCurrent !== null) {
          log.warn('backfill: failed', {
            id: this.current.id,
            table: tableLabel(this.current.schema, this.current.table),
            error: this.failCurrent,
          });
          await markFailed(client, this.current.id, this.failCurrent);
          this.attempt = 0;
        }
        this.current = null;
        this.failCurrent = null;
        const request = this.options.isActive() ? await nextRequest(client, config.slot) : null;
        if (request) {
          this.current = request;
          await this.runRequest(client, request);
          this.current = null;
        } else {
          this.attempt = 0;
          await this.sleep(POLL_INTERVAL_MS);
        }
      } catch (error) {
        if (this.stopped || error instanceof Stopped) break;
        const mapped = mapPostgresError(error, { user: userOf(config.postgresUrl), slot: config.slot });
        this.options.window.cancel('the backfill connection failed');
        await this.client?.end().catch(() => {});
        this.client = null;
        const attempt = ++this.attempt;
        // An outage is waited out; an error that keeps coming back (e.g. no SELECT privilege on
        // the table) fails the request, so that the next one can run.
        if (!mapped.retryable && attempt >= MAX_ATTEMPTS_ON_ERROR && this.current)
          this.failCurrent = mapped.message;
        const delay = backoffDelayMs(attempt, { ...DEFAULT_BACKOFF, maxMs: config.maxBackoffMs });
        log.warn('backfill: Postgres failed; retrying', {
          error: mapped.message,
          attempt,
          retry_in_ms: delay,
        });
        await this.sleep(delay);
      }
    }
  }

  private async connect(): Promise<pg.Client> {
    if (this.client) return this.client;
    const client = new pg.Client(
      clientConfig(this.options.config, { application_name: 'wal2nats backfill' }),
    );
    client.on('error', () => {});
    await client.connect();
    // The walsender sends only flushed WAL: with synchronous_commit off (a server default some
    // set), a high watermark would wait for the WAL writer (wal_writer_delay, 200 ms) before the
    // reader can route its chunk. Flushing at our own tiny commits keeps chunks flowing.
    await client.query('SET synchronous_commit = on');
    this.client = client;
    return client;
  }

  /** Runs one request to its end, or marks it failed when the table cannot be backfilled. */
  private async runRequest(client: pg.Client, request: BackfillRequest): Promise<void> {
    const { config, log, metrics } = this.options;
    const label = tableLabel(request.schema, request.table);
    let table = await this.checkTableOrFail(client, request);
    if (table === null) return;
    await markRunning(client, request.id, table.estimate);
    metrics.running.set({ table: label }, 1);
    metrics.estimated.set({ table: label }, table.estimate ?? -1);
    metrics.rows.inc({ table: label }, 0);
    log.info('backfill: started', {
      id: request.id,
      table: label,
      estimated_rows: table.estimate,
      resumes: request.cursor !== null,
      rows_before: request.rowsPublished,
      chunk_rows: config.backfillChunkRows,
    });
    const startedAt = Date.now();
    const estimate = table.estimate;
    let delivered = request.rowsPublished;
    const progress = setInterval(() => {
      const seconds = Math.max((Date.now() - startedAt) / 1000, 0.001);
      const rate = (delivered - request.rowsPublished) / seconds;
      const remaining = estimate === null ? null : Math.max(estimate - delivered, 0);
      log.info('backfill: progress', {
        id: request.id,
        table: label,
        rows: delivered,
        estimated_rows: estimate,
        rows_per_s: Math.round(rate),
        eta_s: remaining === null || rate === 0 ? null : Math.round(remaining / rate),
      });
    }, PROGRESS_INTERVAL_MS);
    this.unconfirmed = [];
    let saving = Promise.resolve();
    // Saves the cursor of the last delivered chunk; at most one save at a time, in order.
    this.onConfirmedProgress = () => {
      const confirmed = this.options.confirmedLsn();
      let last: RoutedChunk | null = null;
      while (this.unconfirmed.length > 0 && this.unconfirmed[0]!.commitEndLsn <= confirmed) {
        last = this.unconfirmed.shift()!;
        metrics.rows.inc({ table: label }, last.routed);
      }
      if (last === null) return;
      const chunk = last;
      delivered = chunk.rowsThrough;
      saving = saving
        .then(() => saveProgress(client, request.id, chunk.cursor, chunk.rowsThrough))
        .catch((error: unknown) => {
          // The next save carries the cursor on; a lost one only means more is read again.
          log.warn('backfill: could not save progress', { id: request.id, error: errorMessage(error) });
        });
      this.wake?.();
    };
    try {
      let cursor = request.cursor;
      let rows = request.rowsPublished;
      for (;;) {
        if (!(await isRunning(client, request.id))) {
          log.info('backfill: cancelled', { id: request.id, table: label, rows });
          return;
        }
        const chunk = await this.readChunk(client, table, cursor);
        if (chunk === null) {
          // Read again, with the table described anew (its columns may have changed).
          table = await this.checkTableOrFail(client, request);
          if (table === null) return;
          continue;
        }
        rows += chunk.routed;
        this.attempt = 0;
        if (chunk.lastKey !== null) {
          cursor = chunk.lastKey;
          this.unconfirmed.push({
            commitEndLsn: chunk.commitEndLsn,
            cursor,
            rowsThrough: rows,
            routed: chunk.routed,
          });
        }
        this.onConfirmedProgress();
        if (chunk.selected < config.backfillChunkRows) break;
        while (this.unconfirmed.length >= MAX_UNCONFIRMED_CHUNKS) await this.sleep(POLL_INTERVAL_MS);
        // Each chunk reads the table as it is now: a column added meanwhile is in the next reads.
        table = await this.checkTableOrFail(client, request);
        if (table === null) return;
      }
      // The last chunk's reads must be delivered before the backfill is done.
      while (this.unconfirmed.length > 0) await this.sleep(POLL_INTERVAL_MS);
      await saving;
      await markDone(client, request.id, rows);
      const seconds = (Date.now() - startedAt) / 1000;
      log.info('backfill: done', {
        id: request.id,
        table: label,
        rows,
        seconds: Math.round(seconds * 10) / 10,
        rows_per_s: Math.round((rows - request.rowsPublished) / Math.max(seconds, 0.001)),
      });
    } finally {
      clearInterval(progress);
      this.onConfirmedProgress = null;
      this.unconfirmed = [];
      metrics.running.set({ table: label }, 0);
    }
  }

  /** checkTable(), or null after marking the request failed when the table cannot be backfilled. */
  private async checkTableOrFail(client: pg.Client, request: BackfillRequest): Promise<BackfillTable | null> {
    try {
      return await this.checkTable(client, request);
    } catch (error) {
      if (!(error instanceof Wal2NatsError) || error.code !== ErrorCode.ConfigInvalid) throw error;
      const label = tableLabel(request.schema, request.table);
      this.options.log.warn('backfill: failed', {
        id: request.id,
        table: label,
        error: error.message,
        ...(error.hint ? { hint: error.hint } : {}),
      });
      await markFailed(client, request.id, error.hint ? `${error.message} (${error.hint})` : error.message);
      return null;
    }
  }

  /** The table as it is now, refused when it cannot be backfilled or is not streamed by this run. */
  private async checkTable(client: pg.Client, request: BackfillRequest): Promise<BackfillTable> {
    const { config, serverVersionNum } = this.options;
    if (serverVersionNum < 140000)
      throw new Wal2NatsError(
        ErrorCode.ConfigInvalid,
        'backfill needs Postgres 14 or later (logical decoding messages in pgoutput)',
      );
    const table = await describeBackfillTable(
      client,
      config.publication,
      request.schema,
      request.table,
      serverVersionNum,
    );
    const filter = new ChangeFilter(config);
    const label = tableLabel(request.schema, request.table);
    if (!filter.includesTable(request.schema, request.table)) {
      throw new Wal2NatsError(
        ErrorCode.ConfigInvalid,
        `this wal2nats run does not publish ${label} (--tables / --exclude-tables)`,
        'backfill a table that the run publishes',
      );
    }
    if (!filter.includesAction('read')) {
      throw new Wal2NatsError(
        ErrorCode.ConfigInvalid,
        'this wal2nats run does not publish read events (--actions)',
        'add read to --actions',
      );
    }
    return table;
  }

  /**
   * One chunk between its watermarks; returns how many rows were selected and routed, the key
   * of the last row selected (the next cursor) and the high watermark's commit; or null when
   * the window says to read it again.
   */
  private async readChunk(
    client: pg.Client,
    table: BackfillTable,
    cursor: string[] | null,
  ): Promise<{ selected: number; routed: number; lastKey: string[] | null; commitEndLsn: Lsn } | null> {
    const { window, config, log, metrics } = this.options;
    const query = chunkQuery(table, cursor, config.backfillChunkRows);
    const keyIndexes = table.keyColumns.map((name) => table.columns.indexOf(name));
    if (this.stopped) throw new Stopped();
    const token = `${table.relation.relationId}.${this.nonce}.${++this.chunkAttempts}`;
    const outcome = new Promise<ChunkOutcome>((resolve) =>
      window.expect({ token, relation: table.relation, keyColumns: table.keyColumns }, resolve),
    );
    let rows: Tuple[];
    try {
      await client.query('SELECT pg_logical_emit_message(true, $1, $2)', [
        BACKFILL_LOW_PREFIX,
        watermarkContent(token),
      ]);
      const result = await client.query<(string | null)[]>({
        text: query.text,
        values: query.values,
        rowMode: 'array',
        types: RAW_TEXT,
      });
      rows = result.rows;
      window.attachRows(token, rows);
      await client.query('SELECT pg_logical_emit_message(true, $1, $2)', [
        BACKFILL_HIGH_PREFIX,
        watermarkContent(token),
      ]);
    } catch (error) {
      window.cancel('the chunk could not be read', token);
      throw error;
    }
    const result = await outcome;
    if (this.stopped) throw new Stopped();
    if (result.kind === 'redo') {
      metrics.redone.inc({ table: tableLabel(table.schema, table.name) });
      log.info('backfill: reading the chunk again', {
        table: tableLabel(table.schema, table.name),
        reason: result.reason,
      });
      return null;
    }
    log.debug('backfill: chunk routed', {
      table: tableLabel(table.schema, table.name),
      selected: rows.length,
      routed: result.routed,
      dropped: result.dropped,
    });
    const last = rows[rows.length - 1];
    const lastKey = last === undefined ? null : keyIndexes.map((i) => last[i] ?? '');
    // keyOf gives null only for a value pgoutput did not send; a SELECT sends every value.
    if (last !== undefined && keyOf(last, keyIndexes) === null)
      throw new Error('a key value is missing from the chunk');
    return { selected: rows.length, routed: result.routed, lastKey, commitEndLsn: result.commitEndLsn };
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = null;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = null;
        resolve();
      };
    });
  }
}
