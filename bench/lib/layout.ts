/**
 * One table layout's WAL, written once and read by several consumers: a database with the
 * workload's tables and publication, one logical slot per consumer created BEFORE the writes
 * (so every slot holds exactly the same changes), then the workload, then the end LSN that
 * each consumer stops at. Consumers run one after the other (the machine has 2 cores: running
 * them together would measure their competition), and each drops its slot when done so that
 * Postgres can recycle the WAL.
 */
import type { Client } from 'pg';
import type { PgServer } from '../../test/harness/index.js';
import { schemaSql, writeWorkload } from './workload.js';
import type { WorkloadResult } from './workload.js';

export const PUBLICATION = 'wal2nats';

export interface Layout {
  readonly database: string;
  readonly url: string;
  readonly client: Client;
  readonly tables: number;
  readonly changes: number;
  readonly slots: readonly string[];
  readonly workload: WorkloadResult;
  /** pg_current_wal_lsn() after the last write, as text (0/1A2B3C) and as a number. */
  readonly endLsn: string;
  readonly endLsnNumber: number;
  /** WAL bytes between the slots' restart_lsn and the end. */
  readonly walBytes: number;
}

export interface LayoutOptions {
  database: string;
  tables: number;
  changes: number;
  txnSize?: number;
  slots: readonly string[];
  onProgress?: (written: number) => void;
}

/** Postgres settings for bulk writes and drains: no checkpoints or autovacuum in the middle of a run. */
export const BENCH_POSTGRES_CONF = {
  // The harness already sets fsync, synchronous_commit and full_page_writes off.
  shared_buffers: '256MB',
  wal_buffers: '16MB',
  max_wal_size: '8GB',
  checkpoint_timeout: '1h',
  autovacuum: 'off',
  logical_decoding_work_mem: '256MB',
  max_replication_slots: '40',
  max_wal_senders: '40',
};

export async function prepareLayout(pg: PgServer, options: LayoutOptions): Promise<Layout> {
  const url = await pg.createDatabase(options.database);
  const client = await pg.connect(options.database);
  await client.query(schemaSql(options.tables));
  await client.query(
    `CREATE PUBLICATION ${PUBLICATION} FOR ALL TABLES WITH (publish_via_partition_root = true)`,
  );
  for (const slot of options.slots)
    await client.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [slot]);
  const workload = await writeWorkload(client, {
    changes: options.changes,
    tables: options.tables,
    txnSize: options.txnSize ?? 100,
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  });
  if (workload.reportedRows !== options.changes) {
    throw new Error(
      `the workload wrote ${workload.reportedRows} rows, expected ${options.changes} (bench bug)`,
    );
  }
  const end = await client.query<{ lsn: string; n: string; bytes: string | null }>(
    `SELECT pg_current_wal_lsn()::text AS lsn, (pg_current_wal_lsn() - '0/0'::pg_lsn)::text AS n,
            (SELECT max(pg_current_wal_lsn() - restart_lsn)::text FROM pg_replication_slots WHERE database = current_database()) AS bytes`,
  );
  const row = end.rows[0]!;
  return {
    database: options.database,
    url,
    client,
    tables: options.tables,
    changes: options.changes,
    slots: options.slots,
    workload,
    endLsn: row.lsn,
    endLsnNumber: Number(row.n),
    walBytes: Number(row.bytes ?? 0),
  };
}

/** The slot's confirmed_flush_lsn as an integer (bytes), comparable with metadata.commit_lsn. */
export async function confirmedFlush(client: Client, slot: string): Promise<number> {
  const r = await client.query<{ lsn: string | null }>(
    "SELECT (confirmed_flush_lsn - '0/0'::pg_lsn)::text AS lsn FROM pg_replication_slots WHERE slot_name = $1",
    [slot],
  );
  return Number(r.rows[0]?.lsn ?? 0);
}

/** The pid of the walsender serving a slot, if one is active. */
export async function walsenderPid(client: Client, slot: string): Promise<number | undefined> {
  const r = await client.query<{ active_pid: number | null }>(
    'SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1',
    [slot],
  );
  return r.rows[0]?.active_pid ?? undefined;
}

/** Drops a slot once its consumer is done (it must be inactive: the consumer has exited). */
export async function dropSlot(client: Client, slot: string): Promise<void> {
  await client.query(
    'SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active',
    [slot],
  );
}

/** Drops the remaining slots and closes the client; the database stays (the server is thrown away). */
export async function disposeLayout(layout: Layout): Promise<void> {
  for (const slot of layout.slots) await dropSlot(layout.client, slot).catch(() => {});
  await layout.client.end().catch(() => {});
}
