/**
 * The replication slot and its holder as Postgres sees them: one query on an ordinary
 * connection, used by a standby (who holds the slot, is it free?) and by the active process
 * (the last status update our walsender received, which proves how long it stays alive).
 */
import type pg from 'pg';

export interface SlotState {
  readonly active: boolean;
  readonly activePid: number | null;
  /** The holder's application_name, when the holder is a walsender this user may see. */
  readonly holderName: string | null;
  readonly confirmedFlushLsn: string | null;
  /**
   * The send time (epoch ms, the holder's own clock, as it wrote it into the message) of the last
   * standby status update the holding walsender received.
   */
  readonly replyTimeMs: number | null;
  /**
   * The holding walsender's details (its state, positions and reply_time) are hidden from us:
   * Postgres shows them only to superusers and roles with the privileges of pg_read_all_stats,
   * even to the walsender's own user. Only its pid and application_name are visible then.
   */
  readonly walSenderDetailsHidden: boolean;
}

/** The slot's state, or null when the slot does not exist. */
export async function readSlotState(client: pg.Client, slot: string): Promise<SlotState | null> {
  const result = await client.query<{
    active: boolean;
    active_pid: number | null;
    application_name: string | null;
    confirmed_flush_lsn: string | null;
    reply_ms: string | null;
    details_hidden: boolean;
  }>(
    `SELECT s.active, s.active_pid, r.application_name, s.confirmed_flush_lsn::text AS confirmed_flush_lsn,
            (extract(epoch FROM r.reply_time) * 1000)::text AS reply_ms,
            (r.pid IS NOT NULL AND r.state IS NULL) AS details_hidden
       FROM pg_replication_slots s LEFT JOIN pg_stat_replication r ON r.pid = s.active_pid
      WHERE s.slot_name = $1`,
    [slot],
  );
  const row = result.rows[0];
  if (!row) return null;
  return {
    active: row.active,
    activePid: row.active_pid,
    holderName: row.application_name,
    confirmedFlushLsn: row.confirmed_flush_lsn,
    replyTimeMs: row.reply_ms === null ? null : Number(row.reply_ms),
    walSenderDetailsHidden: row.details_hidden,
  };
}
