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
 * its table's primary key changed gets the new key's columns (docs/data.md). Types are the
 * exception: they come from a cache filled at start (type-cache.ts), so that a type dropped
 * after a change that used it still converts; a type that cannot be found is reported.
 */
import pg from 'pg';
import {
  needsTypeLookup,
  typesToLookUp,
  unknownTypeIn,
  backoffDelayMs,
  DEFAULT_BACKOFF,
  ErrorCode,
  type Config,
  type PgTypeInfo,
  type RelationCatalogInfo,
  type RelationMessage,
} from '@wal2nats/core';
import type { Logger } from '../log/logger.js';
import { mapPostgresError } from '../postgres/pg-errors.js';
import { clientConfig, userOf } from '../postgres/client-config.js';
import { TypeCache } from './type-cache.js';

/**
 * Whether encoding `relation` needs the catalog: a primary key that the key flags do not give
 * (identity other than DEFAULT, or a composite key whose order the flags do not tell and the
 * start-up read did not give), or a user-defined column type.
 */
export function needsCatalog(
  relation: RelationMessage,
  knownPrimaryKey: readonly string[] | undefined,
): boolean {
  if (relation.columns.some((c) => needsTypeLookup(c.typeOid))) return true;
  if (relation.replicaIdentity !== 'd') return true;
  const flagged = relation.columns.filter((c) => c.isKey).map((c) => c.name);
  if (flagged.length <= 1) return false;
  return !(
    knownPrimaryKey &&
    knownPrimaryKey.length === flagged.length &&
    flagged.every((name) => knownPrimaryKey.includes(name))
  );
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

/** A column whose type (or a type it is built on) the catalog no longer has. */
export interface UnknownColumnType {
  readonly table: string;
  readonly column: string;
  readonly typeOid: number;
}

export class RelationCatalog {
  private client: pg.Client | null = null;
  private readonly types: TypeCache;
  private readonly infos = new Map<number, RelationCatalogInfo>();
  private closed = false;
  private wake: (() => void) | null = null;

  /**
   * `userTypes`: every user-defined type, read at start before streaming (prepareSource);
   * `onUnknownType`: called for each column whose type cannot be resolved (after the warning).
   */
  constructor(
    private readonly config: Config,
    private readonly log: Logger,
    userTypes: readonly PgTypeInfo[] = [],
    private readonly onUnknownType: (unknown: UnknownColumnType) => void = () => {},
  ) {
    this.types = new TypeCache(userTypes);
  }

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
        const mapped = mapPostgresError(error, {
          user: userOf(this.config.postgresUrl),
          slot: this.config.slot,
        });
        const delay = backoffDelayMs(attempt, { ...DEFAULT_BACKOFF, maxMs: this.config.maxBackoffMs });
        if (mapped.code !== ErrorCode.Unavailable && attempt >= 5) {
          // Not a passing outage: encode without the catalog rather than hold the table forever.
          this.log.error(
            'cannot read the catalog; user-defined types keep their text form and record_pks falls back to the replica identity',
            {
              tables: relations.map((r) => `${r.schema}.${r.name}`).join(','),
              error: mapped.message,
            },
          );
          return true;
        }
        this.log.warn('cannot read the catalog; retrying', {
          error: mapped.message,
          attempt,
          retry_in_ms: delay,
        });
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
    const wanted = await this.types.fill(
      client,
      typesToLookUp(relations.flatMap((r) => r.columns.map((c) => c.typeOid))),
    );
    const types = this.types.known;
    const primaryKeys = new Map(keys.rows.map((row) => [Number(row.relid), row.pk]));
    for (const relation of relations) {
      if (!primaryKeys.has(relation.relationId)) {
        // Dropped since the change was written (a replay): the key flags are all there is.
        this.log.warn('a table is no longer in the catalog; record_pks falls back to its replica identity', {
          table: `${relation.schema}.${relation.name}`,
        });
      }
      this.infos.set(
        relation.relationId,
        primaryKeys.has(relation.relationId)
          ? { primaryKey: primaryKeys.get(relation.relationId) ?? null, types }
          : { types },
      );
      this.reportUnknownTypes(relation, types);
    }
    this.log.debug('read the catalog', {
      tables: relations.map((r) => `${r.schema}.${r.name}`).join(','),
      types: wanted,
    });
  }

  /** Never silent: a value published in its text form because its type is gone is logged and counted. */
  private reportUnknownTypes(relation: RelationMessage, types: ReadonlyMap<number, PgTypeInfo>): void {
    for (const column of relation.columns) {
      if (!needsTypeLookup(column.typeOid)) continue;
      const typeOid = unknownTypeIn(column.typeOid, types);
      if (typeOid === undefined) continue;
      const unknown: UnknownColumnType = {
        table: `${relation.schema}.${relation.name}`,
        column: column.name,
        typeOid,
      };
      this.log.warn('a column type is unknown; its values keep their text form', {
        table: unknown.table,
        column: unknown.column,
        type_oid: typeOid,
        column_type_oid: column.typeOid,
        why: 'the type was created and dropped while wal2nats was not reading (stopped, or behind): its definition was never seen (docs/data.md)',
      });
      this.onUnknownType(unknown);
    }
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
