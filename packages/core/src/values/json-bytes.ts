// A growable byte buffer that JSON text is written into directly, for the shards' hot path:
// building the body as a JS string made a tree of small strings per change, which had to be
// flattened and UTF-8 encoded again before it could be sent (see envelope/row-bytes.ts).
import { Buffer } from 'node:buffer';

export class JsonBytes {
  buf: Buffer;
  pos = 0;

  constructor(initialBytes = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(initialBytes);
  }

  reset(): void {
    this.pos = 0;
  }

  /** Makes room for `bytes` more. */
  ensure(bytes: number): void {
    if (this.pos + bytes <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + bytes));
    this.buf.copy(grown, 0, 0, this.pos);
    this.buf = grown;
  }

  byte(b: number): void {
    this.ensure(1);
    this.buf[this.pos++] = b;
  }

  /** Copies `src[start, end)`. A loop: most values are short, and a native copy costs more to call. */
  slice(src: Uint8Array, start: number, end: number): void {
    const n = end - start;
    this.ensure(n);
    const buf = this.buf;
    let o = this.pos;
    if (n > 64) {
      buf.set(src.subarray(start, end), o);
      o += n;
    } else {
      for (let i = start; i < end; i++) buf[o++] = src[i]!;
    }
    this.pos = o;
  }

  bytes(src: Uint8Array): void {
    this.slice(src, 0, src.length);
  }

  /** `"` + src[start, end) + `"`: for bytes that need no escaping. */
  quoted(src: Uint8Array, start: number, end: number): void {
    this.ensure(end - start + 2);
    this.buf[this.pos++] = 0x22;
    this.slice(src, start, end);
    this.buf[this.pos++] = 0x22;
  }

  /** A string known to be ASCII (numbers, ISO times, msgIds). */
  ascii(s: string): void {
    const n = s.length;
    this.ensure(n);
    const buf = this.buf;
    let o = this.pos;
    for (let i = 0; i < n; i++) buf[o++] = s.charCodeAt(i);
    this.pos = o;
  }

  /** Any string, as UTF-8. */
  text(s: string): void {
    this.ensure(s.length * 3);
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }

  /** A number as JSON; a safe non-negative integer (LSNs, indexes) without making a string. */
  integer(n: number): void {
    if (!(n >= 0 && n <= Number.MAX_SAFE_INTEGER && Math.floor(n) === n)) {
      this.ascii(String(n));
      return;
    }
    let digits = 1;
    for (let x = n; x >= 10; x = Math.floor(x / 10)) digits++;
    this.ensure(digits);
    const buf = this.buf;
    let o = this.pos + digits;
    this.pos = o;
    do {
      const q = Math.floor(n / 10);
      buf[--o] = 0x30 + (n - q * 10);
      n = q;
    } while (n > 0);
  }
}

/** Whether src[start, end) is plain ASCII with nothing a JSON string must escape. */
export function isPlainAscii(src: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const c = src[i]!;
    if (c < 0x20 || c === 0x22 /* " */ || c === 0x5c /* \ */ || c > 0x7e) return false;
  }
  return true;
}

/** Whether src[start, end) is ASCII (it can be copied as it stands into UTF-8 output). */
export function isAscii(src: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (src[i]! > 0x7f) return false;
  return true;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** isJsonNumber() of json-text.ts, on bytes. */
export function isJsonNumberBytes(src: Uint8Array, start: number, end: number): boolean {
  let i = start < end && src[start] === 0x2d /* - */ ? start + 1 : start;
  if (i >= end) return false;
  let c = src[i++]!;
  if (c >= 0x31 && c <= 0x39) {
    while (i < end && isDigit(src[i]!)) i++;
  } else if (c !== 0x30 /* 0 */) {
    return false;
  }
  if (i < end && src[i] === 0x2e /* . */) {
    const first = ++i;
    while (i < end && isDigit(src[i]!)) i++;
    if (i === first) return false;
  }
  if (i < end && ((c = src[i]!) === 0x65 /* e */ || c === 0x45) /* E */) {
    i++;
    if (i < end && ((c = src[i]!) === 0x2b /* + */ || c === 0x2d) /* - */) i++;
    const first = i;
    while (i < end && isDigit(src[i]!)) i++;
    if (i === first) return false;
  }
  return i === end;
}
