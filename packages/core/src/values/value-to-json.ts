// One column value, as pgoutput sends it (Postgres's text output format), → a JSON text
// fragment for the message body (docs/contract.md "Message body", "Values").
// A fragment rather than a JS value so that int8 and float digits reach the consumer exactly.
// Called per column per change: dispatch is a table lookup and a dense switch, no regex.

import { isAscii, isJsonNumberBytes, isPlainAscii, type JsonBytes } from './json-bytes.js';
import { isJsonNumber, quoteJson } from './json-text.js';
import { pgArrayToJson } from './pg-array.js';
import { timestampToJson, timestamptzToJson, timeToJson, writeTimestampBytes } from './pg-datetime.js';
import { PG_ARRAY_ELEMENT_OID, PgTypeOid } from './type-oids.js';

/** The JSON for SQL NULL. */
export const NULL_JSON = 'null';

const enum Kind {
  Text = 0, // default: a JSON string of Postgres's text form
  PlainText, // the same, for types whose output never holds `"`, `\` or control characters
  Integer,
  Float,
  Bool,
  Json,
  Timestamptz,
  Timestamp,
  Time,
  Bytea,
  Array,
}

// Built-in OIDs are all below this; user-defined types (>= 16384) are always Kind.Text.
const TABLE_SIZE = 8192;
const KIND = new Uint8Array(TABLE_SIZE);
const ELEMENT = new Uint16Array(TABLE_SIZE);
for (const [oid, kind] of [
  [PgTypeOid.int2, Kind.Integer],
  [PgTypeOid.int4, Kind.Integer],
  [PgTypeOid.int8, Kind.Integer],
  [PgTypeOid.oid, Kind.Integer],
  [PgTypeOid.float4, Kind.Float],
  [PgTypeOid.float8, Kind.Float],
  [PgTypeOid.bool, Kind.Bool],
  [PgTypeOid.json, Kind.Json],
  [PgTypeOid.jsonb, Kind.Json],
  [PgTypeOid.timestamptz, Kind.Timestamptz],
  [PgTypeOid.timestamp, Kind.Timestamp],
  [PgTypeOid.time, Kind.Time],
  [PgTypeOid.bytea, Kind.Bytea],
  // Output built by Postgres from numbers, hex digits and fixed ASCII words, in every
  // DateStyle/IntervalStyle (e.g. `199.99`, `NaN`, `2024-10-28`, `28.10.2024 BC`,
  // `21:37:01+05:30`, `@ 1 day ago`, `P1D`, `10.0.0.1/8`, `08:00:2b:01:02:03`, `16/B374D848`,
  // `(0,1)`), so quoting needs no scan.
  [PgTypeOid.numeric, Kind.PlainText],
  [PgTypeOid.uuid, Kind.PlainText],
  [PgTypeOid.date, Kind.PlainText],
  [PgTypeOid.timetz, Kind.PlainText],
  [PgTypeOid.interval, Kind.PlainText],
  [PgTypeOid.inet, Kind.PlainText],
  [PgTypeOid.cidr, Kind.PlainText],
  [PgTypeOid.macaddr, Kind.PlainText],
  [PgTypeOid.macaddr8, Kind.PlainText],
  [PgTypeOid.pg_lsn, Kind.PlainText],
  [PgTypeOid.bit, Kind.PlainText],
  [PgTypeOid.varbit, Kind.PlainText],
  [PgTypeOid.xid, Kind.PlainText],
  [PgTypeOid.xid8, Kind.PlainText],
  [PgTypeOid.cid, Kind.PlainText],
  [PgTypeOid.tid, Kind.PlainText],
] as const) {
  KIND[oid] = kind;
}
for (const [arrayOid, elementOid] of PG_ARRAY_ELEMENT_OID) {
  KIND[arrayOid] = Kind.Array;
  ELEMENT[arrayOid] = elementOid;
}

/** `typeOid` is the column's type OID from pgoutput's Relation message; `text` is not SQL NULL. */
export function valueToJson(typeOid: number, text: string): string {
  switch (typeOid < TABLE_SIZE ? KIND[typeOid] : Kind.Text) {
    case Kind.Integer:
      // int2/4/8, oid: Postgres prints plain decimal digits; checked so a surprise stays valid JSON.
      return isJsonNumber(text) ? text : quoteJson(text);
    case Kind.Float:
      return floatToJson(text);
    case Kind.Bool:
      // https://www.postgresql.org/docs/current/datatype-boolean.html: output is `t` or `f`.
      return text === 't' ? 'true' : text === 'f' ? 'false' : quoteJson(text);
    case Kind.Json:
      // json/jsonb text is valid JSON by construction (both types validate their input).
      return text;
    case Kind.Timestamptz:
      return timestamptzToJson(text);
    case Kind.Timestamp:
      return timestampToJson(text);
    case Kind.Time:
      return timeToJson(text);
    case Kind.Bytea:
      return byteaToJson(text);
    case Kind.Array:
      return arrayToJson(ELEMENT[typeOid], text);
    case Kind.PlainText:
      // numeric among them: a string, to keep its precision.
      return '"' + text + '"';
    default:
      // text, varchar, money, xml, ranges, geometry, enums, domains, composites, …
      return quoteJson(text);
  }
}

/**
 * valueToJson() for a value given as its UTF-8 bytes `src[start, end)`, written straight into
 * `out`, for the common cases where the JSON is the bytes themselves (numbers, plain ASCII
 * text, booleans, json). Returns false, having written nothing, when the value needs
 * valueToJson() (escaping, non-ASCII text, dates and times, bytea, arrays): the output must be
 * byte for byte what valueToJson() gives (row-bytes.test.ts checks it).
 */
export function writeValueBytes(
  out: JsonBytes,
  typeOid: number,
  src: Uint8Array,
  start: number,
  end: number,
): boolean {
  switch (typeOid < TABLE_SIZE ? KIND[typeOid] : Kind.Text) {
    case Kind.Integer:
    case Kind.Float:
      if (!isJsonNumberBytes(src, start, end)) return false;
      out.slice(src, start, end);
      return true;
    case Kind.Bool:
      if (end - start !== 1) return false;
      if (src[start] === 0x74 /* t */) out.ascii('true');
      else if (src[start] === 0x66 /* f */) out.ascii('false');
      else return false;
      return true;
    case Kind.Json:
      if (!isAscii(src, start, end)) return false;
      out.slice(src, start, end);
      return true;
    case Kind.Timestamptz:
      return writeTimestampBytes(out, src, start, end, true);
    case Kind.Timestamp:
      return writeTimestampBytes(out, src, start, end, false);
    case Kind.PlainText:
    case Kind.Text:
      if (!isPlainAscii(src, start, end)) return false;
      out.quoted(src, start, end);
      return true;
    default:
      return false;
  }
}

/**
 * An array value whose element type is `elementOid`, as a JSON array (elements converted by
 * valueToJson). valueToJson calls it for built-in array types; a caller that knows the
 * element type of some other array type (e.g. an enum's, see column-types.ts) calls it
 * directly, with the element type's `typdelim` when it is not `,`.
 * Text that is not an array literal becomes a JSON string.
 */
export function arrayToJson(
  elementOid: number,
  text: string,
  delimiter = elementOid === PgTypeOid.box ? 0x3b /* ; */ : 0x2c /* , */,
): string {
  return pgArrayToJson(text, elementOid, delimiter, valueToJson) ?? quoteJson(text);
}

/**
 * float4/float8: https://www.postgresql.org/docs/current/datatype-numeric.html#DATATYPE-FLOAT
 * Postgres prints shortest-exact (extra_float_digits > 0) or %g digits, e.g. `1.5`, `-0`,
 * `1e+30`, `1.2345678901234568e+17` — all JSON numbers as they stand — or `NaN`, `Infinity`,
 * `-Infinity`, which JSON has no number for and become strings.
 */
function floatToJson(text: string): string {
  if (isJsonNumber(text)) return text;
  if (text.charCodeAt(0) === 0x2b /* + */ && isJsonNumber(text.slice(1))) return text.slice(1);
  return quoteJson(text);
}

/**
 * bytea: https://www.postgresql.org/docs/current/datatype-binary.html#DATATYPE-BINARY-BYTEA-HEX-FORMAT
 * The hex format `\x0102ff` is `\x` and hex digits only, so its JSON string is `"\\x0102ff"`
 * without scanning. (The escape format never starts with `\x`: a backslash byte prints as `\\`.)
 */
function byteaToJson(text: string): string {
  return text.charCodeAt(0) === 0x5c && text.charCodeAt(1) === 0x78 /* x */
    ? '"\\' + text + '"'
    : quoteJson(text);
}
