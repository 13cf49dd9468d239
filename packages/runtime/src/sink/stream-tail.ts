/**
 * Where a stream's chain starts: the stream's last sequence, and the position (commit_lsn,
 * commit_idx) of its last message. With one chain per stream the stream holds a gap-free
 * prefix of the database's commit order, so its last message is the highest position it ever
 * stored: changes at or below it are skipped instead of published again. Besides saving work,
 * that avoids a nats-server bug before 2.10.12 (nats-io/nats-server#5179): replayed
 * Nats-Msg-Ids rejected as duplicates during leader changes left a re-elected leader dropping
 * new messages without an answer.
 *
 * The last message also tells whether someone else writes to the stream: a message that is not
 * ours (its Nats-Msg-Id lacks our system identifier and database) refuses the start (exit 2).
 */
import {
  JetStreamApiCodes,
  JetStreamApiError,
  jetstreamManager,
  type JetStreamManager,
} from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { errorMessage, ErrorCode, Wal2NatsError } from '@wal2nats/core';
import { JETSTREAM_API_BACKOFF } from './jetstream-unavailable.js';
import { retry } from '../async/retry.js';
import type { Logger } from '../log/logger.js';

/** A change's place in the database's commit order. */
export interface CommitPosition {
  readonly lsn: number;
  readonly idx: number;
}

export interface StreamTail {
  readonly lastSeq: number;
  /** Skip changes at or below this; null to skip nothing. */
  readonly skipThrough: CommitPosition | null;
}

/** Whether the change at (lsn, idx) is at or below `through`. */
export function isAtOrBelow(lsn: number, idx: number, through: CommitPosition): boolean {
  return lsn < through.lsn || (lsn === through.lsn && idx <= through.idx);
}

interface Envelope {
  action?: string;
  metadata?: { commit_lsn?: unknown; commit_idx?: unknown };
}

/**
 * The skip position a stream's last message gives. Reads (initial snapshot, backfill) give
 * none: snapshot rows carry the slot's consistent point with per-table row numbers, which say
 * nothing of where streaming stands.
 */
export function positionOf(body: string): CommitPosition | null {
  let envelope: Envelope;
  try {
    envelope = JSON.parse(body) as Envelope;
  } catch {
    return null;
  }
  if (envelope.action === 'read') return null;
  const lsn = envelope.metadata?.commit_lsn;
  const idx = envelope.metadata?.commit_idx;
  if (typeof lsn !== 'number' || typeof idx !== 'number' || !Number.isSafeInteger(lsn)) return null;
  return { lsn, idx };
}

/**
 * Reads the tail of `stream`, waiting while the stream has no leader (its API does not answer).
 * Throws (exit 2) when the last message was written by someone else.
 */
export async function readStreamTail(
  nc: NatsConnection,
  stream: string,
  idempotencyPrefix: string,
  log: Logger,
  stopped: () => boolean,
): Promise<StreamTail | null> {
  // No account check at creation (checkAPI): that one request would sit outside the retry below,
  // and a JetStream API that does not answer for a moment (its meta leader's node just died)
  // ended the process on its 5 s timeout instead of being waited out.
  const jsm: JetStreamManager = await jetstreamManager(nc, { checkAPI: false });
  const readTail = async (attempt: number): Promise<StreamTail | null> => {
    if (attempt > 1 && stopped()) return null;
    try {
      const info = await jsm.streams.info(stream);
      const lastSeq = info.state.last_seq;
      if (lastSeq === 0 || info.state.messages === 0) return { lastSeq, skipThrough: null };
      const last = await jsm.streams.getMessage(stream, { seq: lastSeq });
      if (!last) return { lastSeq, skipThrough: null };
      const msgId = last.header?.get('Nats-Msg-Id') ?? '';
      if (!msgId.startsWith(idempotencyPrefix)) {
        throw new Wal2NatsError(
          ErrorCode.ConfigInvalid,
          `invalid option --jetstream: JetStream stream ${stream} has another writer: its last message (sequence ${lastSeq}, subject ${last.subject}) was not published by wal2nats for this database`,
          `a stream must be written by one wal2nats only (it keeps the stream in the database's commit order with Nats-Expected-Last-Sequence): give this database a stream of its own (--create-stream NAME), or move the other writer's subjects to another stream`,
        );
      }
      return { lastSeq, skipThrough: positionOf(last.string()) };
    } catch (error) {
      if (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound) {
        throw new Wal2NatsError(
          ErrorCode.ConfigInvalid,
          `invalid option --jetstream: JetStream stream ${stream} does not exist (any more)`,
          'create it again (or with --create-stream NAME) and restart wal2nats',
          { cause: error },
        );
      }
      throw error;
    }
  };
  // No AbortSignal here: `stopped` is looked at before each retry (a wait is 5 s at most).
  return retry(readTail, {
    backoff: JETSTREAM_API_BACKOFF,
    retryable: (error) => !(error instanceof Wal2NatsError) && !stopped(),
    onRetry: ({ error, attempt, delayMs }) =>
      log.warn('waiting for the JetStream stream to answer (it may have no leader right now)', {
        stream,
        attempt,
        retry_in_ms: delayMs,
        error: errorMessage(error),
      }),
  });
}
