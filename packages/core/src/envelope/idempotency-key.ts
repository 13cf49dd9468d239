/**
 * The deterministic idempotency key, sent as `Nats-Msg-Id` and as `metadata.idempotency_key`.
 *
 * A change is identified by its transaction's commit LSN and its index in the transaction; the
 * cluster's system identifier and the database make it distinct across clusters and databases.
 * The same change gets the same key on every replay, so a JetStream stream's duplicate window
 * drops replays after a restart. The database is escaped like a subject token so the header
 * never holds a control character.
 */
import { escapeSubjectToken } from './subjects.js';
import type { Lsn } from '../lsn.js';

export function idempotencyKeyPrefix(systemIdentifier: string, database: string): string {
  return `${systemIdentifier}:${escapeSubjectToken(database)}:`;
}

export function idempotencyKey(prefix: string, commitLsn: Lsn, commitIdx: number): string {
  return `${prefix}${commitLsn}:${commitIdx}`;
}
