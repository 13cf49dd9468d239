import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { describe, it } from 'node:test';

import { formatLsn, parseLsn, readLsn, writeLsn } from './lsn.js';

const TWO_32 = 2 ** 32;

describe('parseLsn', () => {
  it('parses Postgres text LSNs', () => {
    assert.equal(parseLsn('0/0'), 0);
    assert.equal(parseLsn('0/1'), 1);
    assert.equal(parseLsn('0/1520C98'), 0x1520c98);
    assert.equal(parseLsn('0/FFFFFFFF'), TWO_32 - 1);
    assert.equal(parseLsn('1/0'), TWO_32);
    assert.equal(parseLsn('16/B374D848'), 0x16 * TWO_32 + 0xb374d848);
  });

  it('accepts lower-case hex and leading zeros', () => {
    assert.equal(parseLsn('16/b374d848'), 0x16 * TWO_32 + 0xb374d848);
    assert.equal(parseLsn('00000016/0000B374'), 0x16 * TWO_32 + 0xb374);
  });

  it('is exact above 2^32 up to 2^53 - 1', () => {
    assert.equal(parseLsn('1FFFFF/FFFFFFFF'), Number.MAX_SAFE_INTEGER);
    assert.equal(parseLsn('100000/0'), 2 ** 52);
    assert.equal(parseLsn('ABCDE/12345678'), Number(0xabcden * 2n ** 32n + 0x12345678n));
  });

  it('rejects text that is not an LSN, naming the input and the expected form', () => {
    for (const text of ['', '/', '1234', '/1', '1/', 'x/1', '1/y', 'G/0', 'hello']) {
      assert.throws(
        () => parseLsn(text),
        (error: unknown) =>
          error instanceof Error &&
          error.message.includes(`"${text}"`) &&
          error.message.includes('16/B374D848'),
        `input ${JSON.stringify(text)}`,
      );
    }
  });

  it(
    'rejects malformed LSNs that Postgres itself rejects (trailing garbage, signs, more than 8 hex digits, a second slash)',
    {},
    () => {
      for (const text of ['1G/0', '0/1X', '-1/0', '+1/0', '0x1/0', '1/2/3', '0/100000000', ' 1/0', '1/0 ']) {
        assert.throws(() => parseLsn(text), Error, `input ${JSON.stringify(text)} should be rejected`);
      }
    },
  );
});

describe('formatLsn', () => {
  it('formats with upper-case hex and round-trips through parseLsn', () => {
    for (const lsn of [
      0,
      1,
      0xff,
      0x1520c98,
      TWO_32 - 1,
      TWO_32,
      TWO_32 + 1,
      0x16 * TWO_32 + 0xb374d848,
      2 ** 40 + 12345,
      Number.MAX_SAFE_INTEGER,
    ]) {
      const text = formatLsn(lsn);
      assert.match(text, /^[0-9A-F]+\/[0-9A-F]+$/, text);
      assert.equal(parseLsn(text), lsn, text);
    }
  });

  it('formats values whose low word has all 8 digits the way Postgres does', () => {
    assert.equal(formatLsn(0x16 * TWO_32 + 0xb374d848), '16/B374D848');
    assert.equal(formatLsn(TWO_32 - 1), '0/FFFFFFFF');
    assert.equal(formatLsn(0x1ffff * TWO_32 + 0x80000000), '1FFFF/80000000');
  });

  it('round-trips Postgres text through parse and format', () => {
    for (const text of ['16/B374D848', '0/FFFFFFFF', '1FFFFF/FFFFFFFF', 'ABCDE/12345678']) {
      assert.equal(formatLsn(parseLsn(text)), text);
    }
  });

  it('prints a short low word without zero padding, as Postgres does (pg_lsn_out is "%X/%X")', {}, () => {
    assert.equal(formatLsn(0x1520c98), '0/1520C98');
    assert.equal(formatLsn(0), '0/0');
    assert.equal(formatLsn(TWO_32 + 1), '1/1');
  });
});

describe('readLsn / writeLsn', () => {
  it('write big-endian uint64 the same as DataView.setBigUint64, at any offset', () => {
    for (const lsn of [0, 1, TWO_32 - 1, TWO_32, 0x16 * TWO_32 + 0xb374d848, Number.MAX_SAFE_INTEGER]) {
      const ours = new DataView(new ArrayBuffer(16));
      const reference = new DataView(new ArrayBuffer(16));
      writeLsn(ours, 3, lsn);
      reference.setBigUint64(3, BigInt(lsn));
      assert.deepEqual(new Uint8Array(ours.buffer), new Uint8Array(reference.buffer), `lsn ${lsn}`);
      assert.equal(readLsn(reference, 3), lsn);
      assert.equal(readLsn(ours, 3), lsn);
    }
  });

  it('reads bytes written by Postgres (a Begin message final LSN)', () => {
    const begin = Uint8Array.from(Buffer.from('420000000001520d880003045adbfb861f000002dc', 'hex'));
    assert.equal(readLsn(new DataView(begin.buffer), 1), 0x1520d88);
  });
});
