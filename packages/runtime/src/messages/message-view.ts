/**
 * What a shard's message store answers about its messages: the rows of `GET /api/messages` and
 * the console's lists. Its own module because three sides speak it: the shard that keeps the
 * messages (shard/message-tracker.ts), the thread protocol that carries the answers
 * (threads/thread-messages.ts) and the HTTP API and console that show them.
 */
export type MessageState = 'inflight' | 'failing' | 'delivered';
export const MESSAGE_STATES: readonly MessageState[] = ['inflight', 'failing', 'delivered'];

/** One message as `GET /api/messages` lists it (docs/contract.md "HTTP"), plus a few extra fields. */
export interface MessageView {
  /** The `Nats-Msg-Id` (= `metadata.idempotency_key`). */
  readonly id: string;
  readonly subject: string;
  /** `schema.table`. */
  readonly table: string;
  readonly action: string;
  readonly commit_lsn: number;
  readonly commit_idx: number;
  /** Publish attempts so far, this one included for a message in flight. */
  readonly deliver_count: number;
  readonly last_error: string | null;
  /** ISO 8601 times, or null. */
  readonly last_attempt_at: string | null;
  readonly next_attempt_at: string | null;
  readonly delivered_at: string | null;
  // Beyond the contract:
  readonly state: MessageState;
  readonly shard: number;
  readonly commit_timestamp: string;
  /** Failing only: when the table first failed on this message. */
  readonly failing_since: string | null;
  /** Failing only: how many messages of the table wait behind this one. */
  readonly queued_behind: number | null;
}

export interface MessageDetail extends MessageView {
  readonly headers: Readonly<Record<string, string>>;
  /** The JSON body exactly as published (cut at `bodyLimit` characters). */
  readonly body: string;
  readonly body_truncated: boolean;
  /** Length of the whole body in UTF-16 code units (characters of JSON text). */
  readonly body_length: number;
}

export interface MessageQuery {
  readonly state: MessageState;
  /** Only this `schema.table`. */
  readonly table?: string;
  readonly limit: number;
}

export interface MessageCounts {
  readonly inflight: number;
  readonly failing: number;
  readonly delivered: number;
}
