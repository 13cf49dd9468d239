/**
 * The one catalogue of errors that wal2nats reports to operators. Code elsewhere branches on
 * these codes or on `exitCode`/`retryable`, never on message text.
 */
import { quoteIdent } from './sql-quote.js';
export const ErrorCode = {
  /** An option is missing or invalid. Exit 2. */
  ConfigInvalid: 'CONFIG_INVALID',
  /** The server runs with `wal_level` other than `logical`. Exit 3. */
  PgWalLevel: 'PG_WAL_LEVEL',
  /** The user may not replicate or create the publication/slot. Exit 3. */
  PgPrivilege: 'PG_PRIVILEGE',
  /** Postgres refused the credentials. Exit 3. */
  PgAuth: 'PG_AUTH',
  /** The database named in the URL does not exist. Exit 3. */
  PgDatabaseMissing: 'PG_DATABASE_MISSING',
  /** Another process streams from the slot. Exit 3. */
  PgSlotActive: 'PG_SLOT_ACTIVE',
  /** The slot exists but was made for another output plugin, or for another database. Exit 3. */
  PgSlotMismatch: 'PG_SLOT_MISMATCH',
  /**
   * wal2nats would create a publication that includes tables with neither a primary key nor a
   * replica identity: Postgres would then refuse every UPDATE and DELETE on them. Exit 2.
   */
  PgNoReplicaIdentity: 'PG_NO_REPLICA_IDENTITY',
  /** NATS refused the credentials. Exit 3. */
  NatsAuth: 'NATS_AUTH',
  /** NATS does not let our user publish to some of our subjects. Exit 3. */
  NatsPermission: 'NATS_PERMISSION',
  /** TLS to NATS failed for good: the server's certificate does not verify, it refused ours, or it offers no TLS. Exit 3. */
  NatsTls: 'NATS_TLS',
  /**
   * Someone else writes to a JetStream stream that wal2nats keeps in commit order (another
   * program, or another wal2nats that took over: this fences a stale instance). Exit 3.
   */
  JetStreamOtherWriter: 'JETSTREAM_OTHER_WRITER',
  /**
   * A server is unreachable, dropped us, or aborted our session with a transient error (Postgres
   * SQLSTATE class 40: deadlock, serialization failure): retried with backoff, never fatal.
   */
  Unavailable: 'UNAVAILABLE',
  /** A bug or an unexpected state. Exit 1. */
  Internal: 'INTERNAL',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Exit codes of the process (docs/contract.md "Exit codes"). */
export const ExitCode = { ok: 0, unexpected: 1, badConfig: 2, refused: 3 } as const;

const EXIT_BY_CODE: Record<ErrorCode, number> = {
  CONFIG_INVALID: ExitCode.badConfig,
  PG_WAL_LEVEL: ExitCode.refused,
  PG_PRIVILEGE: ExitCode.refused,
  PG_AUTH: ExitCode.refused,
  PG_DATABASE_MISSING: ExitCode.refused,
  PG_SLOT_ACTIVE: ExitCode.refused,
  PG_SLOT_MISMATCH: ExitCode.refused,
  PG_NO_REPLICA_IDENTITY: ExitCode.badConfig,
  NATS_AUTH: ExitCode.refused,
  NATS_PERMISSION: ExitCode.refused,
  NATS_TLS: ExitCode.refused,
  JETSTREAM_OTHER_WRITER: ExitCode.refused,
  UNAVAILABLE: ExitCode.unexpected,
  INTERNAL: ExitCode.unexpected,
};

export class Wal2NatsError extends Error {
  override readonly name = 'Wal2NatsError';
  readonly exitCode: number;
  /** Whether trying again later may succeed (a server down), as opposed to a refusal for good. */
  readonly retryable: boolean;

  constructor(
    readonly code: ErrorCode,
    message: string,
    /** What the operator should do about it. */
    readonly hint?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.exitCode = EXIT_BY_CODE[code];
    this.retryable = code === ErrorCode.Unavailable;
  }

  /** The message and the hint, as shown to an operator. */
  describe(): string {
    return this.hint ? `${this.message}\n  hint: ${this.hint}` : this.message;
  }
}

export function configError(option: string, problem: string, hint?: string): Wal2NatsError {
  return new Wal2NatsError(ErrorCode.ConfigInvalid, `invalid option --${option}: ${problem}`, hint);
}

/**
 * The three ways out for tables that have neither a primary key nor a replica identity
 * (`schema.table`, quoted as SQL needs), for the refusal below and the start-up warning.
 */
export function replicaIdentityFixes(tables: readonly { schema: string; table: string }[]): string {
  const sql = (t: { schema: string; table: string }): string =>
    `${quoteIdent(t.schema)}.${quoteIdent(t.table)}`;
  const first = tables[0] ? sql(tables[0]) : 'schema.table';
  return (
    `for each table, either add a primary key (ALTER TABLE ${first} ADD PRIMARY KEY (…)), ` +
    `or let updates and deletes carry the whole old row (ALTER TABLE ${first} REPLICA IDENTITY FULL), ` +
    `or leave it out of the stream with --exclude-tables ${tables.map((t) => `${t.schema}.${t.table}`).join(',')}`
  );
}

/**
 * The refusal to create a publication that would make Postgres refuse writes: publishing a
 * table for updates and deletes needs a replica identity (docs/operations.md).
 */
export function noReplicaIdentityError(
  publication: string,
  tables: readonly { schema: string; table: string }[],
): Wal2NatsError {
  return new Wal2NatsError(
    ErrorCode.PgNoReplicaIdentity,
    `not creating the publication "${publication}": ${tables.length} table(s) have neither a primary key nor a replica identity, ` +
      `and once published Postgres would refuse every UPDATE and DELETE on them ("cannot update table … because it does not have a replica identity"): ` +
      tables.map((t) => `${t.schema}.${t.table}`).join(', '),
    replicaIdentityFixes(tables),
  );
}

/** An error as plain data, to cross a thread boundary with its code intact. */
export interface SerializedError {
  readonly name: string;
  readonly message: string;
  readonly code?: ErrorCode;
  readonly hint?: string;
  readonly stack?: string;
}

export function serializeError(error: unknown): SerializedError {
  if (error instanceof Wal2NatsError) {
    return {
      name: error.name,
      message: error.message,
      code: error.code,
      ...(error.hint ? { hint: error.hint } : {}),
      ...(error.stack ? { stack: error.stack } : {}),
    };
  }
  if (error instanceof Error)
    return { name: error.name, message: error.message, ...(error.stack ? { stack: error.stack } : {}) };
  return { name: 'Error', message: String(error) };
}

export function deserializeError(data: SerializedError): Error {
  if (data.code) {
    const coded = new Wal2NatsError(data.code, data.message, data.hint);
    if (data.stack) coded.stack = data.stack;
    return coded;
  }
  const error = new Error(data.message);
  error.name = data.name;
  if (data.stack) error.stack = data.stack;
  return error;
}

/** Replaces the password of a URL by `***`, for logs and errors. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:/?#@]*):([^/?#]*)@/, '//$1:***@');
}
