/**
 * Translates Postgres driver errors into the error catalogue, in one place. Codes:
 * https://www.postgresql.org/docs/15/errcodes-appendix.html
 */
import { ErrorCode, Wal2NatsError } from '@wal2nats/core';

interface PgLikeError {
  readonly code?: string;
  readonly message?: string;
}

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'EAI_AGAIN',
  'ENOTFOUND',
]);

export function mapPostgresError(error: unknown, context: { user: string; slot: string }): Wal2NatsError {
  if (error instanceof Wal2NatsError) return error;
  const pg = (typeof error === 'object' && error !== null ? error : {}) as PgLikeError;
  const message = pg.message ?? String(error);
  const code = pg.code ?? '';
  const wrap = (errorCode: ErrorCode, text: string, hint?: string): Wal2NatsError =>
    new Wal2NatsError(errorCode, text, hint, { cause: error });
  switch (code) {
    case '28P01':
      return wrap(
        ErrorCode.PgAuth,
        `Postgres refused the password of user "${context.user}"`,
        'check the user and password in --postgres-url',
      );
    case '28000':
      return wrap(
        ErrorCode.PgAuth,
        `Postgres refused the connection: ${message}`,
        'allow the user a replication connection in pg_hba.conf (a "host replication" line for logical replication of this database is not needed; a "host <db> <user>" line is) and check the credentials in --postgres-url',
      );
    case '3D000':
      return wrap(
        ErrorCode.PgDatabaseMissing,
        `Postgres says: ${message}`,
        'check the database name in --postgres-url',
      );
    case '42501':
      return wrap(
        ErrorCode.PgPrivilege,
        `Postgres refused a privilege: ${message}`,
        `grant replication: ALTER ROLE "${context.user}" WITH REPLICATION; creating a publication FOR ALL TABLES needs a superuser (or create it yourself and pass --publication)`,
      );
    case '55006':
      return wrap(
        ErrorCode.PgSlotActive,
        `the replication slot "${context.slot}" is in use by another process: ${message}`,
        `stop the other consumer of the slot, or give this one its own slot with --slot`,
      );
    case '55000':
      if (/wal_level/.test(message)) {
        return wrap(
          ErrorCode.PgWalLevel,
          `Postgres is not set up for logical replication: ${message}`,
          "run ALTER SYSTEM SET wal_level = 'logical'; then restart Postgres",
        );
      }
      return wrap(ErrorCode.Internal, `Postgres refused: ${message}`);
    case '53400':
      return wrap(
        ErrorCode.PgPrivilege,
        `Postgres has no room for another replication slot or sender: ${message}`,
        'raise max_replication_slots / max_wal_senders, or drop an unused slot',
      );
    case '42704':
      return wrap(
        ErrorCode.PgSlotMismatch,
        `Postgres says: ${message}`,
        `the slot "${context.slot}" disappeared while streaming (someone dropped it); changes may have been lost. Start again to create a new slot`,
      );
    default:
      break;
  }
  // Class 40, transaction rollback (40P01 deadlock, 40001 serialization failure, …): the
  // statement lost a race and may succeed when tried again. A walsender can hit one while it
  // decodes (catalog locks against REINDEX of pg_class, test_decoding's rewrite.sql).
  if (code.startsWith('40')) {
    return wrap(
      ErrorCode.Unavailable,
      `Postgres aborted the session with a transient error ${code}: ${message}`,
    );
  }
  if (
    CONNECTION_CODES.has(code) ||
    code.startsWith('08') ||
    code === '57P01' ||
    code === '57P02' ||
    code === '57P03' ||
    /Connection terminated|connection timeout|terminating connection/i.test(message)
  ) {
    return wrap(ErrorCode.Unavailable, `Postgres is unavailable: ${message}`);
  }
  return wrap(ErrorCode.Internal, `unexpected Postgres error${code ? ` ${code}` : ''}: ${message}`);
}
