/**
 * The body of every message wal2nats publishes, as JSON (docs/contract.md "Message body").
 * `schema/message.schema.json` says the same as a JSON Schema; the end-to-end tests validate
 * every message they receive against it and compile real messages against these types.
 *
 * Narrow on `action` for change events, and on `metadata.deleted` for record events:
 *
 *   const body = JSON.parse(msg.string()) as ChangeEvent;
 *   if (body.action === 'update') console.log(body.changes);   // Row: the old values
 */
import type { ChangeAction } from './subjects.js';

/** A JSON value as JSON.parse returns it. */
export type JsonValue =
  string | number | boolean | null | readonly JsonValue[] | { readonly [key: string]: JsonValue };

/**
 * A row: column name → value. Integers (int2/4/8) are numbers with every digit (parse int8 above
 * 2^53 with a JSON parser that keeps them, e.g. `JSON.parse` with a reviver and the source text),
 * `numeric` a string, floats numbers (`"NaN"`, `"Infinity"`, `"-Infinity"` strings), json/jsonb
 * embedded, arrays arrays, `timestamptz` ISO 8601 UTC with microseconds, `bytea` `"\\x…"`,
 * everything else Postgres's text form.
 */
export type Row = { readonly [column: string]: JsonValue };

export interface Metadata {
  /** The raw names (the subject holds them escaped). */
  readonly table_schema: string;
  readonly table_name: string;
  /** ISO 8601 UTC with microseconds, e.g. `2024-10-28T21:37:01.127470Z`. */
  readonly commit_timestamp: string;
  /** The transaction's commit LSN as an integer. For `read` events: the snapshot's LSN. */
  readonly commit_lsn: number;
  /** 0-based position of the change in its transaction (for `read` events: of the row in its read). */
  readonly commit_idx: number;
  readonly database_name: string;
  /** Equal to the `Nats-Msg-Id` header; the same change has the same key on every replay. */
  readonly idempotency_key: string;
  /** The primary key's values as text, in key order; `[]` when the table has none. */
  readonly record_pks: readonly (string | null)[];
  /** What `pg_logical_emit_message(true, 'sequin:transaction_annotations.set', …)` set, or null. */
  readonly transaction_annotations: JsonValue;
  /** Unchanged TOASTed columns that Postgres did not send and that are left out of `record`. */
  readonly unchanged_toast_columns?: readonly string[];
  /** `id` is the replication slot's name; `name` is `wal2nats`. */
  readonly consumer: { readonly id: string; readonly name: string };
}

interface ChangeEventOf<A extends ChangeAction, R extends Row | null, C extends Row | null> {
  readonly record: R;
  readonly changes: C;
  readonly action: A;
  readonly metadata: Metadata;
}

/** A new row. */
export type InsertEvent = ChangeEventOf<'insert', Row, null>;
/** `record` is the new row; `changes` the old values of the columns that changed (`{}` when Postgres sent no old row). */
export type UpdateEvent = ChangeEventOf<'update', Row, Row>;
/** `record` is what Postgres sent of the old row: the key under the default replica identity (other columns null). */
export type DeleteEvent = ChangeEventOf<'delete', Row, null>;
/** One per truncated table. */
export type TruncateEvent = ChangeEventOf<'truncate', null, null>;
/** A row of the initial snapshot or of a backfill (`wal2nats backfill`). */
export type ReadEvent = ChangeEventOf<'read', Row, null>;

/** A change event, on `<prefix>.changes.<database>.<schema>.<table>.<action>` (the default). */
export type ChangeEvent = InsertEvent | UpdateEvent | DeleteEvent | TruncateEvent | ReadEvent;

/** With `--message-kind records`: the row as it is now, on `<prefix>.rows.<database>.<schema>.<table>`. */
export interface RecordEvent {
  /** The row; null (with `deleted` true) for a truncate. */
  readonly record: Row | null;
  readonly metadata: Metadata & {
    /** True for a deleted row, and for a truncated table (with `record` null). */
    readonly deleted: boolean;
  };
}

/** Any message body wal2nats publishes. */
export type Wal2NatsMessage = ChangeEvent | RecordEvent;
