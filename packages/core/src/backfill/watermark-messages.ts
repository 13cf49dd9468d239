/**
 * The watermarks of an on-demand backfill (`wal2nats backfill`), after Netflix's DBLog: two
 * logical messages that the backfill writes into the WAL around the SELECT of each chunk, each
 * in its own tiny transaction, so that each comes back through the slot at its commit's place:
 *
 *   SELECT pg_logical_emit_message(true, 'wal2nats.backfill.low',  '{"chunk":"<token>"}')
 *   SELECT <chunk>                  -- READ COMMITTED: sees everything committed before it
 *   SELECT pg_logical_emit_message(true, 'wal2nats.backfill.high', '{"chunk":"<token>"}')
 *
 * Transactional messages are decoded only when their transaction commits, in commit order, like
 * row changes (https://www.postgresql.org/docs/current/functions-admin.html#FUNCTIONS-REPLICATION).
 * The token names one attempt at one chunk (the backfill, the chunk number and a nonce of the
 * run), so watermarks replayed after a restart never match a chunk the reader holds now.
 */

/** Prefixes of the watermark messages. */
export const BACKFILL_LOW_PREFIX = 'wal2nats.backfill.low';
export const BACKFILL_HIGH_PREFIX = 'wal2nats.backfill.high';

/** The table that holds backfill requests and progress; never published (see change-filter.ts). */
export const BACKFILL_STATE_SCHEMA = 'wal2nats';
export const BACKFILL_STATE_TABLE = 'backfills';

export function isBackfillStateTable(schema: string, table: string): boolean {
  return schema === BACKFILL_STATE_SCHEMA && table === BACKFILL_STATE_TABLE;
}

export type WatermarkKind = 'low' | 'high';

export function watermarkKindOf(prefix: string): WatermarkKind | null {
  if (prefix === BACKFILL_LOW_PREFIX) return 'low';
  if (prefix === BACKFILL_HIGH_PREFIX) return 'high';
  return null;
}

/** The content of a watermark message. */
export function watermarkContent(token: string): string {
  return JSON.stringify({ chunk: token });
}

/** The chunk token a watermark names, or null when the content is not ours. */
export function parseWatermarkContent(content: string): string | null {
  try {
    const parsed = JSON.parse(content) as unknown;
    if (
      parsed !== null &&
      typeof parsed === 'object' &&
      typeof (parsed as { chunk?: unknown }).chunk === 'string'
    )
      return (parsed as { chunk: string }).chunk;
  } catch {
    // Not ours.
  }
  return null;
}
