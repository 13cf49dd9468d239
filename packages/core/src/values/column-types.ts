// Types that valueToJson does not know by OID — domains, enums, composites, ranges, extension
// types and arrays of any of these — resolved from what the catalog says about them.
//
// pgoutput's Relation message gives each column's type OID only (and a Type message with the
// name of a user-defined type, never its definition), so the shard worker looks these types up
// in `pg_type` (see runtime/src/shard/relation-catalog.ts) and resolves each column once, when
// its relation's encoder is built:
//   - a domain is converted as its base type (a domain over int4 gives JSON numbers, one over
//     jsonb embedded JSON, one over int[] a JSON array) — domains of domains too;
//   - an array of a user-defined type is a JSON array whose elements are converted as the
//     element type (an enum[] gives a JSON array of strings, a posint[] one of numbers; an
//     array of a domain over an array gives arrays of arrays);
//   - enums, composites, ranges, multiranges and extension types keep Postgres's text form, as
//     a JSON string (docs/contract.md: "everything else as Postgres's text form").
// Catalog: https://www.postgresql.org/docs/current/catalog-pg-type.html
import { pgArrayToJson } from './pg-array.js';
import { quoteJson } from './json-text.js';
import { valueToJson } from './value-to-json.js';

/** OIDs below this were assigned by hand in Postgres's sources (FirstGenbkiObjectId). */
export const FIRST_CATALOG_TYPE_OID = 10_000;

/** One `pg_type` row, as much of it as value conversion needs. */
export interface PgTypeInfo {
  readonly oid: number;
  /** `typtype`: b base, c composite, d domain, e enum, p pseudo, r range, m multirange. */
  readonly typtype: string;
  /** Domains: the type the domain is defined over (`typbasetype`); 0 otherwise. */
  readonly baseOid: number;
  /** True array types (`typlen = -1` and `typelem <> 0`): the element type; 0 otherwise. */
  readonly elementOid: number;
  /** `typdelim`: the delimiter between values of this type inside an array literal. */
  readonly delimiter: string;
}

/** How one column's values are converted: `valueToJson(oid, …)`, or as an array of `element`. */
export interface ColumnType {
  /** The OID to hand to valueToJson (a domain's base type; the column's own OID otherwise). */
  readonly oid: number;
  /** For an array of a type valueToJson does not know by OID: the element OID (resolved); else -1. */
  readonly arrayElement: number;
  /** The delimiter character code between the array's elements (`,` but for box). */
  readonly delimiter: number;
  /** For such an array: how its elements convert (an array again for a domain over an array); else null. */
  readonly element: ColumnType | null;
}

const COMMA = 0x2c;
/** Deeper chains are not made by hand; the bound only guards against a catalog cycle. */
const MAX_DEPTH = 16;

/** Whether the catalog has to be asked about `oid` to convert its values. */
export function needsTypeLookup(oid: number): boolean {
  return oid >= FIRST_CATALOG_TYPE_OID;
}

/**
 * The conversion of a column of type `oid`, given the catalog rows of the user-defined types it
 * involves (missing rows: the type keeps its text form).
 */
export function resolveColumnType(oid: number, types: ReadonlyMap<number, PgTypeInfo>): ColumnType {
  let current = oid;
  for (let depth = 0; depth < MAX_DEPTH; depth++) {
    const info = needsTypeLookup(current) ? types.get(current) : undefined;
    if (info === undefined) return { oid: current, arrayElement: -1, delimiter: COMMA, element: null };
    if (info.typtype === 'd' && info.baseOid !== 0) {
      current = info.baseOid;
      continue;
    }
    if (info.elementOid !== 0) {
      // An array: its elements are converted as the element type, itself resolved (a domain
      // over int4 → int4; a domain over posint[] → an array of int4, so an array of it is an
      // array of arrays: array_out quotes each inner array, `{"{42}"}`).
      const element = resolveColumnType(info.elementOid, types);
      const elementInfo = types.get(info.elementOid);
      const delimiter =
        elementInfo && elementInfo.delimiter.length === 1 ? elementInfo.delimiter.charCodeAt(0) : COMMA;
      return {
        oid: current,
        arrayElement: element.arrayElement === -1 ? element.oid : info.elementOid,
        delimiter,
        element,
      };
    }
    return { oid: current, arrayElement: -1, delimiter: COMMA, element: null };
  }
  return { oid, arrayElement: -1, delimiter: COMMA, element: null };
}

/** One value (not SQL NULL) of a column of this type, as JSON. */
export function columnValueToJson(type: ColumnType, text: string): string {
  const element = type.element;
  if (element === null) return valueToJson(type.oid, text);
  const convert =
    element.element === null
      ? valueToJson
      : (_oid: number, inner: string): string => columnValueToJson(element, inner);
  return pgArrayToJson(text, element.oid, type.delimiter, convert) ?? quoteJson(text);
}

/**
 * The first type that resolving `oid` needs and `types` lacks (the column's own type, a domain's
 * base, an array's element), or undefined when everything is known: a column with such a type
 * keeps Postgres's text form (or its element does), which must be said (docs/data.md).
 */
export function unknownTypeIn(oid: number, types: ReadonlyMap<number, PgTypeInfo>): number | undefined {
  let current = oid;
  for (let depth = 0; depth < MAX_DEPTH && needsTypeLookup(current); depth++) {
    const info = types.get(current);
    if (info === undefined) return current;
    if (info.typtype === 'd' && info.baseOid !== 0) current = info.baseOid;
    else if (info.elementOid !== 0) current = info.elementOid;
    else return undefined;
  }
  return undefined;
}

/** The user-defined type OIDs that `resolveColumnType` would want to know about for these columns. */
export function typesToLookUp(typeOids: Iterable<number>): number[] {
  const out = new Set<number>();
  for (const oid of typeOids) if (needsTypeLookup(oid)) out.add(oid);
  return [...out];
}
