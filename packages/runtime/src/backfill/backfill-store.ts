/**
 * Backfill requests and their progress live in Postgres, in `wal2nats.backfills`, so they
 * survive restarts of wal2nats: `wal2nats backfill` inserts a request; the running pipeline of
 * the same slot picks it up, and after each delivered chunk saves the cursor (the key of the
 * last row read), from which a restart resumes. The table is never published (change-filter.ts).
 */
import type pg from 'pg';
import { BACKFILL_STATE_SCHEMA, BACKFILL_STATE_TABLE, quoteIdent } from '@wal2nats/core';

export const STATE_TABLE = `${quoteIdent(BACKFILL_STATE_SCHEMA)}.${quoteIdent(BACKFILL_STATE_TABLE)}`;

export type BackfillStatus = 'pending' | 'running' | 'done' | 'failed';

export interface BackfillRequest {
  readonly id: number;
  readonly slot: string;
  readonly schema: string;
  readonly table: string;
  readonly status: BackfillStatus;
  /** The key of the last row delivered (text values), or null before the first chunk. */
  readonly cursor: string[] | null;
  readonly rowsPublished: number;
  readonly estimatedRows: number | null;
  readonly error: string | null;
}

interface RequestRow {
  id: string;
  slot: string;
  schema_name: string;
  table_name: string;
  status: BackfillStatus;
  cursor: string[] | null;
  rows_published: string;
  estimated_rows: string | null;
  error: string | null;
}

const COLUMNS = 'id, slot, schema_name, table_name, status, cursor, rows_published, estimated_rows, error';

function fromRow(row: RequestRow): BackfillRequest {
  return {
    id: Number(row.id),
    slot: row.slot,
    schema: row.schema_name,
    table: row.table_name,
    status: row.status,
    cursor: row.cursor,
    rowsPublished: Number(row.rows_published),
    estimatedRows: row.estimated_rows === null ? null : Number(row.estimated_rows),
    error: row.error,
  };
}

/** Postgres's "undefined_table": no backfill was ever requested in this database. */
function isMissingTable(error: unknown): boolean {
  return (
    typeof error === 'object' &&
    error !== null &&
    ((error as { code?: string }).code === '42P01' || (error as { code?: string }).code === '3F000')
  );
}

export async function ensureStateTable(client: pg.Client): Promise<void> {
  await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(BACKFILL_STATE_SCHEMA)}`);
  await client.query(`
    CREATE TABLE IF NOT EXISTS ${STATE_TABLE} (
      id             bigserial PRIMARY KEY,
      slot           text NOT NULL,
      schema_name    text NOT NULL,
      table_name     text NOT NULL,
      status         text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'running', 'done', 'failed')),
      cursor         jsonb,
      rows_published bigint NOT NULL DEFAULT 0,
      estimated_rows bigint,
      requested_at   timestamptz NOT NULL DEFAULT now(),
      started_at     timestamptz,
      updated_at     timestamptz NOT NULL DEFAULT now(),
      finished_at    timestamptz,
      error          text
    )`);
}

/**
 * Requests a backfill of the table for the slot; a request of the same table that is still
 * pending or running is returned instead of adding another.
 */
export async function requestBackfill(
  client: pg.Client,
  slot: string,
  schema: string,
  table: string,
): Promise<{ request: BackfillRequest; created: boolean }> {
  const open = await client.query<RequestRow>(
    `SELECT ${COLUMNS} FROM ${STATE_TABLE} WHERE slot = $1 AND schema_name = $2 AND table_name = $3 AND status IN ('pending', 'running') ORDER BY id LIMIT 1`,
    [slot, schema, table],
  );
  if (open.rows[0]) return { request: fromRow(open.rows[0]), created: false };
  const inserted = await client.query<RequestRow>(
    `INSERT INTO ${STATE_TABLE} (slot, schema_name, table_name) VALUES ($1, $2, $3) RETURNING ${COLUMNS}`,
    [slot, schema, table],
  );
  return { request: fromRow(inserted.rows[0]!), created: true };
}

/** The oldest unfinished request of the slot (a running one first: it resumes), or null. */
export async function nextRequest(client: pg.Client, slot: string): Promise<BackfillRequest | null> {
  try {
    const result = await client.query<RequestRow>(
      `SELECT ${COLUMNS} FROM ${STATE_TABLE} WHERE slot = $1 AND status IN ('pending', 'running') ORDER BY status = 'running' DESC, id LIMIT 1`,
      [slot],
    );
    return result.rows[0] ? fromRow(result.rows[0]) : null;
  } catch (error) {
    if (isMissingTable(error)) return null;
    throw error;
  }
}

export async function getRequests(client: pg.Client, ids: readonly number[]): Promise<BackfillRequest[]> {
  const result = await client.query<RequestRow>(
    `SELECT ${COLUMNS} FROM ${STATE_TABLE} WHERE id = ANY ($1::int8[]) ORDER BY id`,
    [ids],
  );
  return result.rows.map(fromRow);
}

export async function markRunning(
  client: pg.Client,
  id: number,
  estimatedRows: number | null,
): Promise<void> {
  await client.query(
    `UPDATE ${STATE_TABLE} SET status = 'running', started_at = coalesce(started_at, now()), estimated_rows = $2, updated_at = now() WHERE id = $1`,
    [id, estimatedRows],
  );
}

export async function saveProgress(
  client: pg.Client,
  id: number,
  cursor: readonly string[],
  rowsPublished: number,
): Promise<void> {
  await client.query(
    `UPDATE ${STATE_TABLE} SET cursor = $2::jsonb, rows_published = $3, updated_at = now() WHERE id = $1`,
    [id, JSON.stringify(cursor), rowsPublished],
  );
}

export async function markDone(client: pg.Client, id: number, rowsPublished: number): Promise<void> {
  await client.query(
    `UPDATE ${STATE_TABLE} SET status = 'done', rows_published = $2, updated_at = now(), finished_at = now() WHERE id = $1`,
    [id, rowsPublished],
  );
}

export async function markFailed(client: pg.Client, id: number, error: string): Promise<void> {
  await client.query(
    `UPDATE ${STATE_TABLE} SET status = 'failed', error = $2, updated_at = now(), finished_at = now() WHERE id = $1`,
    [id, error],
  );
}

/** Whether the request is still running (an operator may have set it failed to cancel it). */
export async function isRunning(client: pg.Client, id: number): Promise<boolean> {
  const result = await client.query<{ status: string }>(`SELECT status FROM ${STATE_TABLE} WHERE id = $1`, [
    id,
  ]);
  return result.rows[0]?.status === 'running';
}
