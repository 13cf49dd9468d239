/**
 * The contract's value mapping (docs/data.md "Values"), written again for the differential test
 * from the type *names* that test_decoding prints, independently of packages/core: what JSON
 * value (as JSON.parse gives it) a column value's Postgres text must become. The session that
 * decodes must use TimeZone=UTC, DateStyle=ISO, IntervalStyle=postgres, extra_float_digits=3,
 * as wal2nats's does.
 *
 * Only the types the workload uses are listed; any other type name is reported as unmapped
 * (the test then fails and says which), never guessed.
 */

const INTEGERS = new Set(['smallint', 'integer', 'bigint', 'oid']);
const FLOATS = new Set(['real', 'double precision']);
/** Types whose JSON is their text as a string (docs/data.md). */
const AS_TEXT = new Set([
  'text',
  'character varying',
  'character',
  'name',
  '"char"',
  'numeric',
  'bytea',
  'uuid',
  'interval',
  'time with time zone',
  'date',
  'money',
  'xml',
  'inet',
  'cidr',
  'macaddr',
  'point',
  'box',
  'tsvector',
  'bit',
  'bit varying',
  'pg_lsn',
  'xid',
  'cid',
  'tid',
  'regclass',
  'regtype',
  'regproc',
  'int4range',
  'int8range',
  'numrange',
  'tstzrange',
  'tsrange',
  'daterange',
  'txid_snapshot',
]);

export class UnmappedType extends Error {}

/** The JSON value for `text` of type `type` (a format_type_be name). */
export function referenceValue(type: string, text: string): unknown {
  if (type.endsWith('[]')) return arrayValue(type.slice(0, -2), text);
  if (INTEGERS.has(type)) return Number(text);
  if (FLOATS.has(type)) return /^-?(Infinity|NaN)$/.test(text) ? text : Number(text);
  if (type === 'boolean') {
    // test_decoding prints true/false; Postgres's own text is t/f.
    return text === 'true' || text === 't';
  }
  if (type === 'json' || type === 'jsonb') return JSON.parse(text);
  if (type === 'timestamp with time zone') return timestamp(text, true);
  if (type === 'timestamp without time zone') return timestamp(text, false);
  if (type === 'time without time zone')
    return /\./.test(text) ? text.replace(/\.(\d+)$/, (_, f: string) => `.${f.padEnd(6, '0')}`) : text;
  if (AS_TEXT.has(type)) return text;
  throw new UnmappedType(type);
}

/** `2024-10-28 21:37:01.12747+00` → `2024-10-28T21:37:01.127470Z`; infinities, BC and years past 9999 as they are. */
function timestamp(text: string, zoned: boolean): string {
  const match = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?(\+00)?$/.exec(text);
  if (!match || (zoned && !match[4]) || (!zoned && match[4])) return text;
  return `${match[1]}T${match[2]}.${(match[3] ?? '').padEnd(6, '0')}${zoned ? 'Z' : ''}`;
}

/** An array literal (array_out) as nested arrays of reference values; NULL as null. */
function arrayValue(elementType: string, text: string): unknown {
  let i = text.startsWith('[') ? text.indexOf('=') + 1 : 0;
  const delimiter = elementType === 'box' ? ';' : ',';
  const parse = (): unknown[] => {
    if (text[i] !== '{') throw new Error(`not an array literal: ${text}`);
    i++;
    const items: unknown[] = [];
    if (text[i] === '}') {
      i++;
      return items;
    }
    for (;;) {
      if (text[i] === '{') items.push(parse());
      else if (text[i] === '"') {
        let element = '';
        i++;
        while (text[i] !== '"') {
          if (text[i] === '\\') i++;
          element += text[i];
          i++;
        }
        i++;
        items.push(referenceValue(elementType, element));
      } else {
        let end = i;
        while (text[end] !== delimiter && text[end] !== '}') end++;
        const element = text.slice(i, end);
        i = end;
        items.push(element === 'NULL' ? null : referenceValue(elementType, element));
      }
      if (text[i] === '}') {
        i++;
        return items;
      }
      i++; // the delimiter
    }
  };
  return parse();
}
