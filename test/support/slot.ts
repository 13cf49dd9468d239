/** Reads a replication slot's confirmed position, for tests of the watermark. */
import type { PgServer } from '../harness/index.js';

export async function confirmedFlushLsn(
  pg: PgServer,
  database: string,
  slot = 'wal2nats',
): Promise<bigint | null> {
  const client = await pg.connect(database);
  try {
    const result = await client.query<{ lsn: string | null }>(
      "SELECT (confirmed_flush_lsn - '0/0')::text AS lsn FROM pg_replication_slots WHERE slot_name = $1",
      [slot],
    );
    const text = result.rows[0]?.lsn;
    return text === undefined || text === null ? null : BigInt(text);
  } finally {
    await client.end();
  }
}

export async function currentWalLsn(pg: PgServer, database: string): Promise<bigint> {
  const client = await pg.connect(database);
  try {
    const result = await client.query<{ lsn: string }>("SELECT (pg_current_wal_lsn() - '0/0')::text AS lsn");
    return BigInt(result.rows[0]!.lsn);
  } finally {
    await client.end();
  }
}
