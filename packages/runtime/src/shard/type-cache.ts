/**
 * The definitions of user-defined types (`pg_type`), kept for the whole run.
 *
 * pgoutput names a column's type by OID only, and a change is decoded long after it was written
 * when wal2nats lags or replays: by then the type may be dropped, and the catalog can no longer
 * say what it was (a domain over bigint would become the string "3"). So every user type is read
 * once at start (`readAllUserTypes`, before streaming begins), and a Relation message that names
 * an OID not in the cache reads that type and those it is built on (pgoutput's Type message for
 * a user type always comes right before the Relation message that names it, so the Relation
 * message is enough). A type OID names one definition for as long as it exists, so nothing in
 * the cache goes stale. A type that was created and dropped while wal2nats was not reading can
 * still be missing: `unknownTypeIn` finds it and the caller says so (docs/data.md).
 */
import type pg from 'pg';
import { FIRST_CATALOG_TYPE_OID, type PgTypeInfo } from '@wal2nats/core';

interface TypeRow {
  oid: string;
  typtype: string;
  base: string;
  element: string;
  delim: string;
}

const COLUMNS = `t.oid::int8 AS oid, t.typtype::text AS typtype, t.typbasetype::int8 AS base,
         (CASE WHEN t.typlen = -1 THEN t.typelem ELSE 0 END)::int8 AS element, t.typdelim::text AS delim`;

const ALL_USER_TYPES_SQL = `SELECT ${COLUMNS} FROM pg_type t WHERE t.oid >= ${FIRST_CATALOG_TYPE_OID}`;

// The types asked for, and the user-defined types they are built on (domain base types, array
// element types), in one round trip.
const TYPE_CLOSURE_SQL = `
  WITH RECURSIVE closure(oid) AS (
    SELECT unnest($1::oid[])
    UNION
    SELECT x.ref
      FROM closure c
      JOIN pg_type t ON t.oid = c.oid
      CROSS JOIN LATERAL (VALUES (t.typbasetype), (CASE WHEN t.typlen = -1 THEN t.typelem ELSE 0 END)) AS x(ref)
     WHERE x.ref >= ${FIRST_CATALOG_TYPE_OID}
  )
  SELECT ${COLUMNS} FROM pg_type t JOIN closure c ON c.oid = t.oid`;

function toInfo(row: TypeRow): PgTypeInfo {
  return {
    oid: Number(row.oid),
    typtype: row.typtype,
    baseOid: Number(row.base),
    elementOid: Number(row.element),
    delimiter: row.delim,
  };
}

/** Every user-defined type of the database, as the catalog says now. */
export async function readAllUserTypes(client: pg.Client): Promise<PgTypeInfo[]> {
  return (await client.query<TypeRow>(ALL_USER_TYPES_SQL)).rows.map(toInfo);
}

export class TypeCache {
  private readonly types = new Map<number, PgTypeInfo>();

  constructor(initial: readonly PgTypeInfo[] = []) {
    for (const info of initial) this.types.set(info.oid, info);
  }

  get known(): ReadonlyMap<number, PgTypeInfo> {
    return this.types;
  }

  /** Reads the types among `oids` that the cache lacks, with what they are built on. */
  async fill(client: pg.Client, oids: readonly number[]): Promise<number> {
    const wanted = oids.filter((oid) => !this.types.has(oid));
    if (wanted.length === 0) return 0;
    const rows = await client.query<TypeRow>(TYPE_CLOSURE_SQL, [wanted]);
    for (const row of rows.rows) this.types.set(Number(row.oid), toInfo(row));
    return wanted.length;
  }
}
