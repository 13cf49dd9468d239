import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ErrorCode, ExitCode } from '@wal2nats/core';
import { mapPostgresError } from './pg-errors.js';

const context = { user: 'wal2nats', slot: 'wal2nats' };
const pgError = (code: string, message: string): Error => Object.assign(new Error(message), { code });

describe('mapPostgresError', () => {
  it('retries transaction rollbacks (class 40): a deadlock or serialization failure in the walsender is transient', () => {
    for (const code of ['40P01', '40001', '40000', '40002', '40003']) {
      const mapped = mapPostgresError(pgError(code, 'deadlock detected'), context);
      assert.equal(mapped.code, ErrorCode.Unavailable, code);
      assert.equal(mapped.retryable, true, code);
      assert.match(mapped.message, new RegExp(code));
    }
  });

  it('keeps other errors fatal', () => {
    for (const code of ['42P01', '0A000', 'XX000', '4']) {
      const mapped = mapPostgresError(pgError(code, 'boom'), context);
      assert.equal(mapped.retryable, false, code);
      assert.equal(mapped.exitCode, ExitCode.unexpected, code);
    }
    assert.equal(
      mapPostgresError(pgError('42501', 'permission denied'), context).code,
      ErrorCode.PgPrivilege,
    );
  });
});
