// Postgres array literal text → JSON array text.
// Format (array_out): https://www.postgresql.org/docs/current/arrays.html#ARRAYS-IO
//   `{1,2,NULL}`, `{{1,2},{3,4}}`, `{"a,b","c\"d","e\\f",NULL,"NULL"}`, `[0:1]={1,2}`, `{}`.
// An element is double-quoted when it is empty, equals NULL (any case), or holds braces,
// the delimiter, quotes, backslashes or white space; inside quotes `"` and `\` are
// backslash-escaped. Only an unquoted NULL is SQL null. The delimiter is `,` for every
// built-in type except box (`;`). The parser also accepts what array_in accepts around
// elements (white space), so hand-written literals convert too.

/** Converts one element's text to a JSON fragment (valueToJson, passed in to avoid an import cycle). */
export type ElementToJson = (typeOid: number, text: string) => string;

const LBRACE = 0x7b;
const RBRACE = 0x7d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** array_isspace: space, \t, \n, \v, \f, \r. */
function isSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

function isUnquotedNull(s: string, start: number, end: number): boolean {
  return (
    end - start === 4 &&
    (s.charCodeAt(start) | 0x20) === 0x6e /* n */ &&
    (s.charCodeAt(start + 1) | 0x20) === 0x75 /* u */ &&
    (s.charCodeAt(start + 2) | 0x20) === 0x6c /* l */ &&
    (s.charCodeAt(start + 3) | 0x20) === 0x6c
  );
}

/**
 * The JSON array for `text`, each element converted with `convert(elementOid, …)` and SQL
 * nulls as `null`; `undefined` if `text` is not an array literal (the caller falls back).
 */
export function pgArrayToJson(
  text: string,
  elementOid: number,
  delimiter: number,
  convert: ElementToJson,
): string | undefined {
  const n = text.length;
  let i = 0;
  // Optional dimension decoration `[lo:hi][lo:hi]=`: JSON arrays are 0-based, drop it.
  if (text.charCodeAt(0) === 0x5b /* [ */) {
    i = text.indexOf('=') + 1;
    if (i === 0) return undefined;
  }
  while (isSpace(text.charCodeAt(i))) i++;
  if (text.charCodeAt(i) !== LBRACE) return undefined;

  let out = '';
  let depth = 0;
  for (;;) {
    // At the start of an item: a sub-array, a quoted element or an unquoted one.
    let c = text.charCodeAt(i);
    while (isSpace(c)) c = text.charCodeAt(++i);
    if (c === LBRACE) {
      depth++;
      c = text.charCodeAt(++i);
      while (isSpace(c)) c = text.charCodeAt(++i);
      if (c !== RBRACE) {
        out += '[';
        continue;
      }
      // `{}`: empty (only ever the whole array, but harmless nested).
      out += '[]';
      i++;
      if (--depth === 0) break;
    } else if (c === QUOTE) {
      let value = '';
      let from = ++i;
      for (c = text.charCodeAt(i); c !== QUOTE; c = text.charCodeAt(++i)) {
        if (c === BACKSLASH) {
          value += text.slice(from, i);
          from = ++i; // keep the escaped character, whatever it is
        } else if (i >= n) {
          return undefined;
        }
      }
      value += text.slice(from, i++);
      out += convert(elementOid, value);
    } else {
      const start = i;
      while (c !== delimiter && c !== RBRACE && c !== BACKSLASH && c !== QUOTE && c !== LBRACE && i < n) {
        c = text.charCodeAt(++i);
      }
      // Backslashes or quotes in an unquoted element never come from array_out: give up.
      if (c !== delimiter && c !== RBRACE) return undefined;
      let end = i;
      while (end > start && isSpace(text.charCodeAt(end - 1))) end--;
      if (end === start) return undefined;
      out += isUnquotedNull(text, start, end) ? 'null' : convert(elementOid, text.slice(start, end));
    }

    // After an item: close finished sub-arrays, then expect the delimiter.
    c = text.charCodeAt(i);
    while (isSpace(c)) c = text.charCodeAt(++i);
    while (c === RBRACE) {
      out += ']';
      if (--depth === 0) break;
      c = text.charCodeAt(++i);
      while (isSpace(c)) c = text.charCodeAt(++i);
    }
    if (depth === 0) {
      i++;
      break;
    }
    if (c !== delimiter) return undefined;
    out += ',';
    i++;
  }
  while (isSpace(text.charCodeAt(i))) i++;
  return i === n ? out : undefined;
}
