/**
 * The work of `wal2nats backfill` (the CLI parses, this talks to Postgres): check every table,
 * record the requests in `wal2nats.backfills`, and with `--wait` follow them to their end.
 */
import pg from 'pg';
import { configError, redactUrl, type Config } from '@wal2nats/core';
import { mapPostgresError } from '../postgres/pg-errors.js';
import { clientConfig, userOf } from '../postgres/client-config.js';
import { ensureStateTable, getRequests, requestBackfill, type BackfillRequest } from './backfill-store.js';
import { describeBackfillTable, tableLabel } from './backfill-table.js';

const WAIT_POLL_MS = 1000;

function describeRequest(r: BackfillRequest): string {
  const estimate = r.estimatedRows !== null && r.estimatedRows >= 0 ? ` of ~${r.estimatedRows}` : '';
  return `backfill ${r.id} ${tableLabel(r.schema, r.table)}: ${r.status}, ${r.rowsPublished}${estimate} rows published${r.error ? ` — ${r.error}` : ''}`;
}

/**
 * Returns 'requested' (without --wait), 'done' or 'failed' (with --wait). Throws a
 * Wal2NatsError for bad input (exit 2) and refusals (exit 3).
 */
export async function requestBackfills(
  config: Config,
  tables: readonly { schema: string; table: string }[],
  out: (line: string) => void,
): Promise<'requested' | 'done' | 'failed'> {
  const client = new pg.Client(clientConfig(config, { application_name: 'wal2nats backfill command' }));
  client.on('error', () => {});
  try {
    await client.connect();
    const version = Number(
      (await client.query<{ v: string }>("SELECT current_setting('server_version_num') AS v")).rows[0]!.v,
    );
    if (version < 140000)
      throw configError(
        'table',
        `backfill needs Postgres 14 or later (this server is ${Math.floor(version / 10000)})`,
        'use --initial-snapshot on a new slot instead',
      );
    // Every table is checked before anything is requested.
    for (const t of tables)
      await describeBackfillTable(client, config.publication, t.schema, t.table, version);
    await ensureStateTable(client);
    const ids: number[] = [];
    for (const t of tables) {
      const { request, created } = await requestBackfill(client, config.slot, t.schema, t.table);
      ids.push(request.id);
      out(
        created
          ? `requested backfill ${request.id} of ${tableLabel(t.schema, t.table)} for slot ${config.slot}`
          : `backfill ${request.id} of ${tableLabel(t.schema, t.table)} is already ${request.status} for slot ${config.slot}`,
      );
    }
    out(
      `The running \`wal2nats run --slot ${config.slot}\` (on ${redactUrl(config.postgresUrl)}) picks it up within a second; follow it with --wait, "backfill: progress" in its log, wal2nats_backfill_rows_total{table}, or SELECT * FROM wal2nats.backfills WHERE id IN (${ids.join(', ')}).`,
    );
    if (!config.backfillWait) return 'requested';
    let last = '';
    for (;;) {
      const requests = await getRequests(client, ids);
      const text = requests.map(describeRequest).join('\n');
      if (text !== last) out(text);
      last = text;
      if (requests.every((r) => r.status === 'done' || r.status === 'failed'))
        return requests.some((r) => r.status === 'failed') ? 'failed' : 'done';
      await new Promise((resolve) => setTimeout(resolve, WAIT_POLL_MS));
    }
  } catch (error) {
    throw mapPostgresError(error, { user: userOf(config.postgresUrl), slot: config.slot });
  } finally {
    await client.end().catch(() => {});
  }
}
