/**
 * Postgres LSNs as plain numbers.
 *
 * An LSN is a 64-bit byte position in the WAL. As a JS number it is exact up to 2^53 bytes
 * (8 PiB of WAL), which a cluster does not reach in practice; numbers keep the hot path free of
 * BigInt arithmetic and serialise as JSON integers, as the contract wants for `commit_lsn`.
 */
export type Lsn = number;

const TWO_POW_32 = 0x1_0000_0000;

/** Parses Postgres's `XXX/XXXXXXXX` text form. */
const LSN_TEXT = /^[0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8}$/;

export function parseLsn(text: string): Lsn {
  if (!LSN_TEXT.test(text)) throw new Error(`not an LSN: "${text}" (expected the form 16/B374D848)`);
  const slash = text.indexOf('/');
  const hi = Number.parseInt(text.slice(0, slash), 16);
  const lo = Number.parseInt(text.slice(slash + 1), 16);
  if (!Number.isFinite(hi) || !Number.isFinite(lo))
    throw new Error(`not an LSN: "${text}" (expected the form 16/B374D848)`);
  return hi * TWO_POW_32 + lo;
}

/** Formats an LSN the way Postgres prints it (`16/B374D848`). */
export function formatLsn(lsn: Lsn): string {
  const hi = Math.floor(lsn / TWO_POW_32);
  const lo = lsn - hi * TWO_POW_32;
  return `${hi.toString(16).toUpperCase()}/${lo.toString(16).toUpperCase()}`;
}

/** Reads a big-endian uint64 LSN from a byte view. */
export function readLsn(view: DataView, offset: number): Lsn {
  return view.getUint32(offset) * TWO_POW_32 + view.getUint32(offset + 4);
}

/** Writes an LSN as a big-endian uint64. */
export function writeLsn(view: DataView, offset: number, lsn: Lsn): void {
  const hi = Math.floor(lsn / TWO_POW_32);
  view.setUint32(offset, hi);
  view.setUint32(offset + 4, lsn - hi * TWO_POW_32);
}
