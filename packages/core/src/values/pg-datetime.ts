// Postgres date/time text (DateStyle ISO) → ISO 8601 JSON strings, keeping microseconds.
// Output format: https://www.postgresql.org/docs/current/datatype-datetime.html#DATATYPE-DATETIME-OUTPUT
//   timestamp    `2024-10-28 21:37:01.12747`   (fraction: 0–6 digits, trailing zeros dropped)
//   timestamptz  `2024-10-28 21:37:01.12747+05:30` (offset `±HH`, `±HH:MM` or `±HH:MM:SS`)
//   time         `21:37:01.12747`
// plus `infinity`, `-infinity`, ` BC` suffixes and years beyond 9999. Anything that is not the
// plain ISO shape with a year 0001–9999 (also after the shift to UTC) is passed through as
// Postgres's own text, as a JSON string: never lost, never a crash.
// Arithmetic is on integers; JS Date (milliseconds, and years 0–99 mapped to 19xx) is not used.

import type { JsonBytes } from './json-bytes.js';
import { quoteJson } from './json-text.js';

const ZEROS = '000000';

/** Number of the 2 ASCII digits at `i`, or -1. Callers check the length first. */
function twoDigits(s: string, i: number): number {
  const a = s.charCodeAt(i) - 0x30;
  const b = s.charCodeAt(i + 1) - 0x30;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1;
}

/** Whether s[0..19) is `YYYY-MM-DD HH:MM:SS` (digit and separator positions). */
function isIsoDateTime(s: string): boolean {
  return (
    s.length >= 19 &&
    s.charCodeAt(4) === 0x2d &&
    s.charCodeAt(7) === 0x2d &&
    s.charCodeAt(10) === 0x20 &&
    twoDigits(s, 0) >= 0 &&
    twoDigits(s, 2) >= 0 &&
    twoDigits(s, 5) >= 0 &&
    twoDigits(s, 8) >= 0 &&
    isIsoTime(s, 11)
  );
}

/** Whether s[at..at+8) is `HH:MM:SS`. */
function isIsoTime(s: string, at: number): boolean {
  return (
    s.charCodeAt(at + 2) === 0x3a &&
    s.charCodeAt(at + 5) === 0x3a &&
    twoDigits(s, at) >= 0 &&
    twoDigits(s, at + 3) >= 0 &&
    twoDigits(s, at + 6) >= 0
  );
}

/** End of an optional `.d{1,6}` fraction starting at `i` (`i` itself if none), or -1 if malformed. */
function fractionEnd(s: string, i: number): number {
  const n = s.length;
  if (i >= n || s.charCodeAt(i) !== 0x2e /* . */) return i;
  let j = i + 1;
  for (; j < n; j++) {
    const c = s.charCodeAt(j);
    if (c < 0x30 || c > 0x39) break;
  }
  return j === i + 1 || j - i - 1 > 6 ? -1 : j;
}

/** What to append to the fraction s[i..end) (`.d{0,6}` or empty) to make it exactly `.dddddd`. */
function fractionPadding(i: number, end: number): string {
  return end === i ? '.000000' : ZEROS.slice(end - i - 1);
}

function pad2(n: number): string {
  return n < 10 ? '0' + n : '' + n;
}

function daysInMonth(y: number, m: number): number {
  if (m === 2) return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28;
  return m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;
}

/** `timestamp` → `"YYYY-MM-DDTHH:MM:SS.ffffff"`. */
export function timestampToJson(s: string): string {
  if (!isIsoDateTime(s)) return quoteJson(s);
  const end = fractionEnd(s, 19);
  if (end !== s.length) return quoteJson(s); // ` BC`, or not the shape we know
  return '"' + s.slice(0, 10) + 'T' + s.slice(11, end) + fractionPadding(19, end) + '"';
}

/** `time` → Postgres's text with the fraction, if any, padded to 6 digits. */
export function timeToJson(s: string): string {
  if (s.length < 8 || !isIsoTime(s, 0)) return quoteJson(s);
  const end = fractionEnd(s, 8);
  if (end !== s.length) return quoteJson(s);
  return end === 8 ? '"' + s + '"' : '"' + s + ZEROS.slice(end - 9) + '"';
}

/** `timestamptz` in any UTC offset → `"YYYY-MM-DDTHH:MM:SS.ffffffZ"` in UTC. */
export function timestamptzToJson(s: string): string {
  if (!isIsoDateTime(s)) return quoteJson(s);
  const fracEnd = fractionEnd(s, 19);
  if (fracEnd < 0) return quoteJson(s);
  // Offset `±HH[:MM[:SS]]`, which must end the text (a ` BC` suffix does not parse).
  const sign = s.charCodeAt(fracEnd);
  const n = s.length;
  const offLen = n - fracEnd;
  if ((sign !== 0x2b && sign !== 0x2d) || (offLen !== 3 && offLen !== 6 && offLen !== 9)) {
    return quoteJson(s);
  }
  const offHours = twoDigits(s, fracEnd + 1);
  if (offHours < 0) return quoteJson(s);
  let off = offHours * 3600;
  for (let i = fracEnd + 3; i < n; i += 3) {
    const v = twoDigits(s, i + 1);
    if (s.charCodeAt(i) !== 0x3a /* : */ || v < 0) return quoteJson(s);
    off += i === fracEnd + 3 ? v * 60 : v;
  }
  if (off === 0)
    return '"' + s.slice(0, 10) + 'T' + s.slice(11, fracEnd) + fractionPadding(19, fracEnd) + 'Z"';

  // Local time = UTC + offset, so UTC = local − offset. |offset| < 1 day: at most one day shift.
  let secs =
    twoDigits(s, 11) * 3600 + twoDigits(s, 14) * 60 + twoDigits(s, 17) - (sign === 0x2b ? off : -off);
  let y = twoDigits(s, 0) * 100 + twoDigits(s, 2);
  let m = twoDigits(s, 5);
  let d = twoDigits(s, 8);
  if (secs < 0) {
    secs += 86400;
    if (--d === 0) {
      if (--m === 0) {
        m = 12;
        y--;
      }
      d = daysInMonth(y, m);
    }
  } else if (secs >= 86400) {
    secs -= 86400;
    if (++d > daysInMonth(y, m)) {
      d = 1;
      if (++m === 13) {
        m = 1;
        y++;
      }
    }
  }
  if (y < 1 || y > 9999) return quoteJson(s); // would need an expanded or BC year: keep the text
  const hh = (secs / 3600) | 0;
  const mi = ((secs % 3600) / 60) | 0;
  const ss = secs % 60;
  return (
    '"' +
    ZEROS.slice(('' + y).length + 2) +
    y +
    '-' +
    pad2(m) +
    '-' +
    pad2(d) +
    'T' +
    pad2(hh) +
    ':' +
    pad2(mi) +
    ':' +
    pad2(ss) +
    s.slice(19, fracEnd) +
    fractionPadding(19, fracEnd) +
    'Z"'
  );
}

// --- the same on bytes, for the shards' byte path (value-to-json.ts writeValueBytes) ---------

/** Whether src[i, i+2) are 2 ASCII digits (callers check the length first). */
function twoDigitBytes(src: Uint8Array, i: number): boolean {
  const a = src[i]! - 0x30;
  const b = src[i + 1]! - 0x30;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9;
}

function isIsoDateTimeBytes(src: Uint8Array, s: number, e: number): boolean {
  return (
    e - s >= 19 &&
    src[s + 4] === 0x2d &&
    src[s + 7] === 0x2d &&
    src[s + 10] === 0x20 &&
    src[s + 13] === 0x3a &&
    src[s + 16] === 0x3a &&
    twoDigitBytes(src, s) &&
    twoDigitBytes(src, s + 2) &&
    twoDigitBytes(src, s + 5) &&
    twoDigitBytes(src, s + 8) &&
    twoDigitBytes(src, s + 11) &&
    twoDigitBytes(src, s + 14) &&
    twoDigitBytes(src, s + 17)
  );
}

/** fractionEnd() on bytes. */
function fractionEndBytes(src: Uint8Array, i: number, e: number): number {
  if (i >= e || src[i] !== 0x2e /* . */) return i;
  let j = i + 1;
  while (j < e && src[j]! >= 0x30 && src[j]! <= 0x39) j++;
  return j === i + 1 || j - i - 1 > 6 ? -1 : j;
}

/**
 * timestampToJson() (`zoned` false) or timestamptzToJson() (`zoned` true) of src[s, e), written
 * into `out`, for the common shapes: a plain ISO timestamp, and for timestamptz one at UTC
 * offset zero (a session in UTC). Returns false, having written nothing, for anything else.
 */
export function writeTimestampBytes(
  out: JsonBytes,
  src: Uint8Array,
  s: number,
  e: number,
  zoned: boolean,
): boolean {
  if (!isIsoDateTimeBytes(src, s, e)) return false;
  const fracEnd = fractionEndBytes(src, s + 19, e);
  if (fracEnd < 0) return false;
  if (zoned) {
    const sign = src[fracEnd];
    const offLen = e - fracEnd;
    if ((sign !== 0x2b && sign !== 0x2d) || (offLen !== 3 && offLen !== 6 && offLen !== 9)) return false;
    // Only a zero offset: `+00`, `+00:00`, `+00:00:00` (or `-`); others shift the time.
    for (let i = fracEnd + 1; i < e; i += 3) {
      if (src[i] !== 0x30 || src[i + 1] !== 0x30) return false;
      if (i + 2 < e && src[i + 2] !== 0x3a) return false;
    }
  } else if (fracEnd !== e) {
    return false;
  }
  out.ensure(32);
  out.byte(0x22);
  out.slice(src, s, s + 10);
  out.byte(0x54 /* T */);
  out.slice(src, s + 11, fracEnd);
  out.ascii(fracEnd === s + 19 ? '.000000' : ZEROS.slice(fracEnd - s - 20));
  if (zoned) out.byte(0x5a /* Z */);
  out.byte(0x22);
  return true;
}
