import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { pgMicrosToIso, pgMicrosToUnixMs } from './pg-time.js';

/** Microseconds since 2000-01-01 UTC of a UTC date and a microsecond part. */
function micros(
  year: number,
  month: number,
  day: number,
  h: number,
  m: number,
  s: number,
  us: number,
): number {
  return (Date.UTC(year, month - 1, day, h, m, s) - Date.UTC(2000, 0, 1)) * 1000 + us;
}

describe('pgMicrosToIso', () => {
  it('writes ISO 8601 UTC with six fractional digits and Z', () => {
    assert.equal(pgMicrosToIso(0), '2000-01-01T00:00:00.000000Z');
    assert.equal(pgMicrosToIso(1), '2000-01-01T00:00:00.000001Z');
    assert.equal(pgMicrosToIso(999), '2000-01-01T00:00:00.000999Z');
    assert.equal(pgMicrosToIso(1000), '2000-01-01T00:00:00.001000Z');
    assert.equal(pgMicrosToIso(1_000_000), '2000-01-01T00:00:01.000000Z');
    assert.equal(pgMicrosToIso(micros(2024, 10, 28, 21, 37, 1, 127_470)), '2024-10-28T21:37:01.127470Z');
    assert.equal(pgMicrosToIso(micros(2024, 2, 29, 23, 59, 59, 999_999)), '2024-02-29T23:59:59.999999Z');
  });

  it('handles commit times before 2000 (negative microseconds)', () => {
    assert.equal(pgMicrosToIso(-1), '1999-12-31T23:59:59.999999Z');
    assert.equal(pgMicrosToIso(-1000), '1999-12-31T23:59:59.999000Z');
    assert.equal(pgMicrosToIso(-1001), '1999-12-31T23:59:59.998999Z');
    assert.equal(pgMicrosToIso(micros(1970, 1, 1, 0, 0, 0, 5)), '1970-01-01T00:00:00.000005Z');
  });

  it('returns the right value when calls alternate (memoisation of the last one)', () => {
    const a = micros(2024, 1, 1, 0, 0, 0, 1);
    const b = micros(2025, 6, 30, 12, 0, 0, 2);
    assert.equal(pgMicrosToIso(a), '2024-01-01T00:00:00.000001Z');
    assert.equal(pgMicrosToIso(a), '2024-01-01T00:00:00.000001Z');
    assert.equal(pgMicrosToIso(b), '2025-06-30T12:00:00.000002Z');
    assert.equal(pgMicrosToIso(a), '2024-01-01T00:00:00.000001Z');
  });

  it('decodes a commit time that Postgres 15 sent (Begin message of a captured stream)', () => {
    const commitTime = Number(0x0003045adbfb861fn);
    const iso = pgMicrosToIso(commitTime);
    assert.match(iso, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    // Same instant computed with BigInt: seconds since 2000 + microsecond part.
    const seconds = BigInt(commitTime) / 1_000_000n;
    const fraction = String(BigInt(commitTime) % 1_000_000n).padStart(6, '0');
    const expected =
      new Date(Date.UTC(2000, 0, 1) + Number(seconds) * 1000).toISOString().slice(0, 19) +
      '.' +
      fraction +
      'Z';
    assert.equal(iso, expected);
  });
});

describe('pgMicrosToUnixMs', () => {
  it('converts to fractional Unix milliseconds', () => {
    assert.equal(pgMicrosToUnixMs(0), Date.UTC(2000, 0, 1));
    assert.equal(pgMicrosToUnixMs(1500), Date.UTC(2000, 0, 1) + 1.5);
    assert.equal(
      pgMicrosToUnixMs(micros(2024, 10, 28, 21, 37, 1, 127_000)),
      Date.UTC(2024, 9, 28, 21, 37, 1, 127),
    );
    assert.equal(pgMicrosToUnixMs(-1_000_000), Date.UTC(1999, 11, 31, 23, 59, 59));
  });
});
