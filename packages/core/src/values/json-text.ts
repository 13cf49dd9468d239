// Building blocks for writing JSON text (RFC 8259) directly, without going through JS values.

// Above this length JSON.stringify's native scan beats the charCodeAt loop (measured on
// Node 20: the loop is ~45% faster at 8 chars, ~10% at 64, even at ~128, slower at 256).
const LONG = 128;

/**
 * `text` as a JSON string literal. Most column values are short and need no escaping, so scan
 * first and only hand a value with a quote, backslash or control character (or a long one) to
 * JSON.stringify (see value-to-json.bench.ts for the comparison).
 * Lone surrogates, which JSON.stringify would escape, cannot occur: values are decoded UTF-8.
 */
export function quoteJson(text: string): string {
  const n = text.length;
  if (n > LONG) return JSON.stringify(text);
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c === 0x22 /* " */ || c === 0x5c /* \ */) return JSON.stringify(text);
  }
  return '"' + text + '"';
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/**
 * Whether `text` is exactly a JSON number: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
 * Every read is bounds-checked: charCodeAt past the end gives NaN, which makes V8 treat the
 * loop variable as a double and made this 2.5x slower.
 */
export function isJsonNumber(text: string): boolean {
  const n = text.length;
  let i = n > 0 && text.charCodeAt(0) === 0x2d /* - */ ? 1 : 0;
  if (i >= n) return false;
  let c = text.charCodeAt(i++);
  if (c >= 0x31 && c <= 0x39) {
    while (i < n && isDigit(text.charCodeAt(i))) i++;
  } else if (c !== 0x30 /* 0 */) {
    return false;
  }
  if (i < n && text.charCodeAt(i) === 0x2e /* . */) {
    const start = ++i;
    while (i < n && isDigit(text.charCodeAt(i))) i++;
    if (i === start) return false;
  }
  if (i < n && ((c = text.charCodeAt(i)) === 0x65 /* e */ || c === 0x45) /* E */) {
    i++;
    if (i < n && ((c = text.charCodeAt(i)) === 0x2b /* + */ || c === 0x2d) /* - */) i++;
    const start = i;
    while (i < n && isDigit(text.charCodeAt(i))) i++;
    if (i === start) return false;
  }
  return i === n;
}
