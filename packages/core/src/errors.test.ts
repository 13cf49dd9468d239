import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  configError,
  deserializeError,
  ErrorCode,
  ExitCode,
  redactUrl,
  serializeError,
  Wal2NatsError,
} from './errors.js';

describe('exit codes', () => {
  it('match the contract: 2 bad configuration, 3 refused for good, 1 anything else', () => {
    assert.deepEqual(ExitCode, { ok: 0, unexpected: 1, badConfig: 2, refused: 3 });
    const expected: Record<string, number> = {
      CONFIG_INVALID: 2,
      PG_WAL_LEVEL: 3,
      PG_PRIVILEGE: 3,
      PG_AUTH: 3,
      PG_DATABASE_MISSING: 3,
      PG_SLOT_ACTIVE: 3,
      PG_SLOT_MISMATCH: 3,
      PG_NO_REPLICA_IDENTITY: 2,
      NATS_AUTH: 3,
      NATS_PERMISSION: 3,
      NATS_TLS: 3,
      JETSTREAM_OTHER_WRITER: 3,
      UNAVAILABLE: 1,
      INTERNAL: 1,
    };
    assert.deepEqual(
      Object.values(ErrorCode).sort(),
      Object.keys(expected).sort(),
      'every code has an expected exit code',
    );
    for (const code of Object.values(ErrorCode)) {
      assert.equal(new Wal2NatsError(code, 'x').exitCode, expected[code], code);
    }
  });

  it('mark only an unreachable server as retryable', () => {
    for (const code of Object.values(ErrorCode)) {
      assert.equal(new Wal2NatsError(code, 'x').retryable, code === ErrorCode.Unavailable, code);
    }
  });
});

describe('Wal2NatsError', () => {
  it('carries code, message, hint and cause', () => {
    const cause = new Error('FATAL: password authentication failed');
    const error = new Wal2NatsError(
      ErrorCode.PgAuth,
      'Postgres refused the credentials',
      'check --postgres-url',
      { cause },
    );
    assert.ok(error instanceof Error);
    assert.equal(error.name, 'Wal2NatsError');
    assert.equal(error.code, 'PG_AUTH');
    assert.equal(error.message, 'Postgres refused the credentials');
    assert.equal(error.hint, 'check --postgres-url');
    assert.equal(error.cause, cause);
  });

  it('describe() shows the hint when there is one', () => {
    assert.equal(
      new Wal2NatsError(
        ErrorCode.PgWalLevel,
        'wal_level is replica',
        'set wal_level = logical and restart',
      ).describe(),
      'wal_level is replica\n  hint: set wal_level = logical and restart',
    );
    assert.equal(new Wal2NatsError(ErrorCode.Internal, 'boom').describe(), 'boom');
  });

  it('configError names the option as a flag', () => {
    const error = configError('nats-port', '"x" is not a whole number', 'use a port number');
    assert.equal(error.message, 'invalid option --nats-port: "x" is not a whole number');
    assert.equal(error.code, ErrorCode.ConfigInvalid);
    assert.equal(error.exitCode, 2);
    assert.equal(error.hint, 'use a port number');
  });
});

describe('serializeError / deserializeError', () => {
  it('round-trips a Wal2NatsError with its code, message, hint and exit code, also through structuredClone', () => {
    const original = new Wal2NatsError(
      ErrorCode.PgSlotActive,
      'slot "wal2nats" is active for PID 42',
      'stop the other process',
    );
    const data = structuredClone(serializeError(original));
    assert.equal(data.code, 'PG_SLOT_ACTIVE');
    assert.equal(data.hint, 'stop the other process');
    const back = deserializeError(data);
    assert.ok(back instanceof Wal2NatsError);
    assert.equal(back.code, original.code);
    assert.equal(back.message, original.message);
    assert.equal(back.hint, original.hint);
    assert.equal(back.exitCode, 3);
    assert.equal(back.retryable, false);
  });

  it(
    'keeps the stack of a Wal2NatsError across the thread boundary, as it does for a plain error',
    {},
    () => {
      const original = new Wal2NatsError(ErrorCode.Internal, 'boom');
      const back = deserializeError(structuredClone(serializeError(original)));
      assert.equal(back.stack, original.stack);
    },
  );

  it('round-trips a Wal2NatsError without a hint', () => {
    const back = deserializeError(
      serializeError(new Wal2NatsError(ErrorCode.Unavailable, 'connection refused')),
    );
    assert.ok(back instanceof Wal2NatsError);
    assert.equal(back.code, 'UNAVAILABLE');
    assert.equal(back.hint, undefined);
    assert.equal(back.retryable, true);
  });

  it('keeps name, message and stack of a plain error', () => {
    const original = new TypeError('cannot read x');
    const back = deserializeError(structuredClone(serializeError(original)));
    assert.ok(!(back instanceof Wal2NatsError));
    assert.equal(back.name, 'TypeError');
    assert.equal(back.message, 'cannot read x');
    assert.equal(back.stack, original.stack);
  });

  it('turns a thrown non-error into an Error', () => {
    assert.deepEqual(serializeError('just a string'), { name: 'Error', message: 'just a string' });
    assert.deepEqual(serializeError(42), { name: 'Error', message: '42' });
    assert.equal(deserializeError(serializeError(undefined)).message, 'undefined');
  });
});

describe('redactUrl', () => {
  it('hides the password and keeps the rest', () => {
    assert.equal(
      redactUrl('postgres://wal2nats:s3cret@db.example.com:5432/shop?sslmode=require'),
      'postgres://wal2nats:***@db.example.com:5432/shop?sslmode=require',
    );
    assert.equal(redactUrl('postgresql://u:p%40ss%2Fw0rd@127.0.0.1/db'), 'postgresql://u:***@127.0.0.1/db');
    assert.equal(redactUrl('nats://:token@localhost:4222'), 'nats://:***@localhost:4222');
    assert.equal(redactUrl('postgres://user:@host/db'), 'postgres://user:***@host/db');
  });

  it('leaves URLs without a password alone', () => {
    for (const url of [
      'postgres://host/db',
      'postgres://user@host/db',
      'postgres://host:5432/db?user=a',
      'nats://localhost:4222',
    ]) {
      assert.equal(redactUrl(url), url);
    }
  });

  it('does not mistake a port or an @ in the path or query for credentials', () => {
    assert.equal(
      redactUrl('postgres://host:5432/db?application_name=a@b'),
      'postgres://host:5432/db?application_name=a@b',
    );
  });

  it('hides all of a password that holds a raw @ (which the pg driver accepts)', {}, () => {
    const redacted = redactUrl('postgres://u:p@ss@host:5432/db');
    assert.equal(redacted.includes('ss@'), false, redacted);
    assert.equal(redacted, 'postgres://u:***@host:5432/db');
  });
});
