/**
 * What pgoutput does not say about a relation, read from the catalog when its Relation message
 * reaches the shard that owns it: the primary key (pgoutput flags every column under REPLICA
 * IDENTITY FULL, the index columns under USING INDEX, and the key in table order, not key
 * order) and the definitions of user-defined column types (a domain's base type, an array's
 * element type; pgoutput sends only their OIDs and names).
 *
 * The catalog is asked only when the Relation message cannot be encoded faithfully without it
 * (`needsCatalog`), so a table with built-in types, under the default replica identity, with a
 * one-column key or one that the start-up read already gave, costs nothing. Tables created after
 * the start and schema changes while streaming are covered, as a new Relation message precedes
 * their next change.
 *
 * The catalog says what is true now, not when the change was written: a change replayed after
 * its table's primary key changed gets the new key's columns (docs/data.md).
 */
import pg from 'pg';
import { needsTypeLookup, typesToLookUp, backoffDelayMs, DEFAULT_BACKOFF, ErrorCode, type Config, type PgTypeInfo, type RelationCatalogInfo, type RelationMessage } from '@wal2nats/core';
import type { Logger } from '../log/logger.js';
import { mapPostgresError } from '../source/pg-errors.js';
import { clientConfig, userOf } from '../source/replication-setup.js';

/**
 * Whether encoding `relation` needs the catalog: a primary key that the key flags do not give
 * (identity other than DEFAULT, or a composite key whose order the flags do not tell and the
 * start-up read did not give), or a user-defined column type.
 */
export function needsCatalog(relation: RelationMessage, knownPrimaryKey: readonly string[] | undefined): boolean {
  if (relation.columns.some((c) => needsTypeLookup(c.typeOid))) return true;
  if (relation.replicaIdentity !== 'd') return true;
  const flagged = relation.columns.filter((c) => c.isKey).map((c) => c.name);
  if (flagged.length <= 1) return false;
  return !(knownPrimaryKey && knownPrimaryKey.length === flagged.length && flagged.every((name) => knownPrimaryKey.includes(name)));
}

const PRIMARY_KEYS_SQL = `
  SELECT c.oid::int8 AS relid,
         (SELECT array_agg(a.attname::text ORDER BY k.ord)
            FROM pg_index i
            CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
            JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
           WHERE i.indrelid = c.oid AND i.indisprimary) AS pk
    FROM pg_class c
   WHERE c.oid = ANY ($1::oid[])`;

// The types asked for, and the user-defined types they are built on (domain base types, array
// element types), in one round trip.
const TYPES_SQL = `
  WITH RECURSIVE closure(oid) AS (
    SELECT unnest($1::oid[])
    UNION
    SELECT x.ref
      FROM closure c
      JOIN pg_type t ON t.oid = c.oid
      CROSS JOIN LATERAL (VALUES (t.typbasetype), (CASE WHEN t.typlen = -1 THEN t.typelem ELSE 0 END)) AS x(ref)
     WHERE x.ref >= ${10_000}
  )
  SELECT t.oid::int8 AS oid, t.typtype::text AS typtype, t.typbasetype::int8 AS base,
         (CASE WHEN t.typlen = -1 THEN t.typelem ELSE 0 END)::int8 AS element, t.typdelim::text AS delim
    FROM pg_type t JOIN closure c ON c.oid = t.oid`;

export class RelationCatalog {
  private client: pg.Client | null = null;
  private readonly types = new Map<number, PgTypeInfo>();
  private readonly infos = new Map<number, RelationCatalogInfo>();
  private closed = false;
  private wake: (() => void) | null = null;

  constructor(private readonly config: Config, private readonly log: Logger) {}

  /** The catalog's answer for this relation, once `resolve` looked it up. */
  infoFor(relationId: number): RelationCatalogInfo | undefined {
    return this.infos.get(relationId);
  }

  /**
   * Looks up these relations' primary keys and the user-defined types of their columns.
   * Retries while Postgres is unreachable (the shard waits; the reader pauses at the mailbox
   * capacity). Returns false if closed meanwhile: the caller then encodes nothing more.
   */
  async resolve(relations: readonly RelationMessage[]): Promise<boolean> {
    for (let attempt = 1; !this.closed; attempt++) {
      try {
        await this.lookUp(relations);
        return true;
      } catch (error) {
        await this.dropClient();
        const mapped = mapPostgresError(error, { user: userOf(this.config.postgresUrl), slot: this.config.slot });
        const delay = backoffDelayMs(attempt, { ...DEFAULT_BACKOFF, maxMs: this.config.maxBackoffMs });
        if (mapped.code !== ErrorCode.Unavailable && attempt >= 5) {
          // Not a passing outage: encode without the catalog rather than hold the table forever.
          this.log.error('cannot read the catalog; user-defined types keep their text form and record_pks falls back to the replica identity', {
            tables: relations.map((r) => `${r.schema}.${r.name}`).join(','),
            error: mapped.message,
          });
          return true;
        }
        this.log.warn('cannot read the catalog; retrying', { error: mapped.message, attempt, retry_in_ms: delay });
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, delay);
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.wake = null;
      }
    }
    return false;
  }

  private async lookUp(relations: readonly RelationMessage[]): Promise<void> {
    const client = await this.connect();
    const relationIds = [...new Set(relations.map((r) => r.relationId))];
    const keys = await client.query<{ relid: string; pk: string[] | null }>(PRIMARY_KEYS_SQL, [relationIds]);
    const wanted = typesToLookUp(relations.flatMap((r) => r.columns.map((c) => c.typeOid))).filter((oid) => !this.types.has(oid));
    if (wanted.length > 0) {
      const rows = await client.query<{ oid: string; typtype: string; base: string; element: string; delim: string }>(TYPES_SQL, [wanted]);
      for (const row of rows.rows) {
        this.types.set(Number(row.oid), { oid: Number(row.oid), typtype: row.typtype, baseOid: Number(row.base), elementOid: Number(row.element), delimiter: row.delim });
      }
    }
    const primaryKeys = new Map(keys.rows.map((row) => [Number(row.relid), row.pk]));
    for (const relation of relations) {
      if (!primaryKeys.has(relation.relationId)) {
        // Dropped since the change was written (a replay): the key flags are all there is.
        this.log.warn('a table is no longer in the catalog; record_pks falls back to its replica identity', { table: `${relation.schema}.${relation.name}` });
      }
      this.infos.set(
        relation.relationId,
        primaryKeys.has(relation.relationId) ? { primaryKey: primaryKeys.get(relation.relationId) ?? null, types: this.types } : { types: this.types },
      );
    }
    this.log.debug('read the catalog', { tables: relations.map((r) => `${r.schema}.${r.name}`).join(','), types: wanted.length });
  }

  private async connect(): Promise<pg.Client> {
    if (this.client) return this.client;
    const client = new pg.Client(clientConfig(this.config, { application_name: 'wal2nats catalog' }));
    client.on('error', () => {
      // A dropped idle connection: the next lookup connects again.
      if (this.client === client) this.client = null;
    });
    await client.connect();
    this.client = client;
    return client;
  }

  private async dropClient(): Promise<void> {
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => {});
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wake?.();
    await this.dropClient();
  }
}
