/**
 * Turns decoded pgoutput row messages into the contract's JSON envelope
 * `{record, changes, action, metadata}` (CONTRACT.md "Message body"), or with
 * `messageKind: 'records'` into record events `{record, metadata}` on the `rows` subjects.
 *
 * One encoder per relation version: the JSON keys, the subjects and the metadata that do not
 * change per row are built once when the Relation message arrives, so that a row costs only its
 * values. JSON is written as text, never through an object and JSON.stringify, so that int8
 * keeps every digit and nothing is built twice.
 */
import type { DeleteMessage, InsertMessage, RelationMessage, Tuple, UpdateMessage } from '../pgoutput/pgoutput.types.js';
import { resolveColumnType, type PgTypeInfo } from '../values/column-types.js';
import { arrayToJson, valueToJson } from '../values/value-to-json.js';
import { pgMicrosToIso } from './pg-time.js';
import { idempotencyKey } from './idempotency-key.js';
import { changeSubject, rowsSubject, type ChangeAction } from './subjects.js';

export interface EncoderContext {
  readonly subjectPrefix: string;
  readonly databaseName: string;
  /** From idempotencyKeyPrefix(). */
  readonly idempotencyPrefix: string;
  /** The `consumer` object of the metadata. */
  readonly consumerId: string;
  readonly consumerName: string;
  /**
   * Primary key columns by `schema.table`, from the catalog. Needed because pgoutput flags
   * every column as part of the identity under REPLICA IDENTITY FULL.
   */
  readonly primaryKeys?: ReadonlyMap<string, readonly string[]>;
  /**
   * `changes` (default): change events on `<prefix>.changes.…<action>`. `records`: record
   * events `{record, metadata}` on `<prefix>.rows.…`, with `metadata.deleted` (see docs/data.md).
   */
  readonly messageKind?: 'changes' | 'records';
}

/**
 * What the catalog said about one relation when its Relation message arrived (looked up by
 * the shard worker: pgoutput does not send it).
 */
export interface RelationCatalogInfo {
  /** The primary key's columns in key order; null when the table has none; absent if unknown. */
  readonly primaryKey?: readonly string[] | null;
  /** The `pg_type` rows of the user-defined types among the columns' types (column-types.ts). */
  readonly types: ReadonlyMap<number, PgTypeInfo>;
}

/** The per-change numbering the reader thread assigned. */
export interface ChangePosition {
  readonly commitLsn: number;
  readonly commitIdx: number;
  /** Microseconds since 2000-01-01 UTC. */
  readonly commitTime: number;
  /** The JSON text of the transaction annotations, or null. */
  readonly annotations: string | null;
}

export interface EncodedChange {
  readonly subject: string;
  readonly action: ChangeAction;
  /** The `Nats-Msg-Id` header, equal to `metadata.idempotency_key`. */
  readonly msgId: string;
  readonly json: string;
}

/**
 * The columns of `record_pks`: the primary key when the catalog gave one and it is all there,
 * else the replica identity columns that pgoutput flags (the key under DEFAULT and USING INDEX).
 * No primary key under FULL or NOTHING: none.
 */
function keyColumnsOf(relation: RelationMessage, primaryKey: readonly string[] | null | undefined): number[] {
  if (primaryKey && primaryKey.length > 0) {
    const indexes = primaryKey.map((name) => relation.columns.findIndex((c) => c.name === name));
    if (indexes.every((i) => i >= 0)) return indexes;
  }
  if (relation.replicaIdentity === 'f' || relation.replicaIdentity === 'n') return [];
  return relation.columns.flatMap((c, i) => (c.isKey ? [i] : []));
}

function jsonString(text: string): string {
  return JSON.stringify(text);
}

const NO_TYPES: ReadonlyMap<number, PgTypeInfo> = new Map();

export class ChangeEncoder {
  readonly schema: string;
  readonly table: string;
  /** `schema.table`, the metric label. */
  readonly label: string;
  private readonly keys: string[];
  /** Per column: the OID valueToJson converts by (a domain's base type) … */
  private readonly typeOids: number[];
  /** … or, for an array of a user-defined type, its element type (-1 otherwise) and delimiter. */
  private readonly arrayElements: number[];
  private readonly arrayDelimiters: number[];
  private readonly keyColumns: number[];
  private readonly subjects: Record<ChangeAction, string>;
  private readonly records: boolean;
  private readonly metaHead: string;
  private readonly metaTail: string;

  /**
   * `catalog`: the relation's primary key and user-defined types, when the catalog was asked;
   * without it, `ctx.primaryKeys` and the key flags give `record_pks`, and user-defined types
   * keep their text form.
   */
  constructor(readonly relation: RelationMessage, private readonly ctx: EncoderContext, catalog?: RelationCatalogInfo) {
    this.schema = relation.schema;
    this.table = relation.name;
    this.label = `${relation.schema}.${relation.name}`;
    this.keys = relation.columns.map((c) => `${jsonString(c.name)}:`);
    const types = relation.columns.map((c) => resolveColumnType(c.typeOid, catalog?.types ?? NO_TYPES));
    this.typeOids = types.map((t) => t.oid);
    this.arrayElements = types.map((t) => t.arrayElement);
    this.arrayDelimiters = types.map((t) => t.delimiter);
    this.keyColumns = keyColumnsOf(relation, catalog?.primaryKey !== undefined ? catalog.primaryKey : ctx.primaryKeys?.get(this.label));
    this.records = ctx.messageKind === 'records';
    const subject = (action: ChangeAction): string =>
      this.records
        ? rowsSubject(ctx.subjectPrefix, ctx.databaseName, relation.schema, relation.name)
        : changeSubject(ctx.subjectPrefix, ctx.databaseName, relation.schema, relation.name, action);
    this.subjects = { insert: subject('insert'), update: subject('update'), delete: subject('delete'), read: subject('read'), truncate: subject('truncate') };
    this.metaHead = `"metadata":{"table_schema":${jsonString(relation.schema)},"table_name":${jsonString(relation.name)},"commit_timestamp":"`;
    this.metaTail = `"consumer":{"id":${jsonString(ctx.consumerId)},"name":${jsonString(ctx.consumerName)}}}}`;
  }

  subjectFor(action: ChangeAction): string {
    return this.subjects[action];
  }

  encodeInsert(message: InsertMessage, position: ChangePosition): EncodedChange {
    const record = this.recordJson(message.newTuple, null);
    return this.finish('insert', record.json, 'null', this.pksJson(message.newTuple), record.toastMissing, position);
  }

  encodeUpdate(message: UpdateMessage, position: ChangePosition): EncodedChange {
    // Unchanged TOASTed values are not sent; the whole old row (REPLICA IDENTITY FULL) has them.
    const fillFrom = message.oldKind === 'old' ? message.oldTuple : null;
    const record = this.recordJson(message.newTuple, fillFrom);
    const changes = message.oldTuple === null ? '{}' : this.changesJson(message.oldTuple, message.newTuple, message.oldKind === 'key');
    return this.finish('update', record.json, changes, this.pksJson(message.newTuple, fillFrom), record.toastMissing, position);
  }

  encodeDelete(message: DeleteMessage, position: ChangePosition): EncodedChange {
    const record = this.recordJson(message.oldTuple, null);
    return this.finish('delete', record.json, 'null', this.pksJson(message.oldTuple), record.toastMissing, position);
  }

  encodeTruncate(position: ChangePosition): EncodedChange {
    return this.finish('truncate', 'null', 'null', '[]', null, position);
  }

  /**
   * A row read from the table (snapshot or backfill), its values in Postgres's text form as
   * pgoutput would send them (same session settings), in the relation's column order.
   * `position.commitLsn` is the snapshot's LSN and `commitIdx` the row's number in the table's
   * read; the idempotency key names the table too (`<prefix><lsn>:read:<relation id>:<n>`), so
   * it never equals a change's key.
   */
  encodeRead(row: Tuple, position: ChangePosition): EncodedChange {
    const record = this.recordJson(row, null);
    const msgId = `${this.ctx.idempotencyPrefix}${position.commitLsn}:read:${this.relation.relationId}:${position.commitIdx}`;
    return this.finish('read', record.json, 'null', this.pksJson(row), record.toastMissing, position, msgId);
  }

  private valueJson(i: number, text: string): string {
    const element = this.arrayElements[i]!;
    return element < 0 ? valueToJson(this.typeOids[i]!, text) : arrayToJson(element, text, this.arrayDelimiters[i]);
  }

  private recordJson(tuple: Tuple, fillFrom: Tuple | null): { json: string; toastMissing: string[] | null } {
    let json = '{';
    let toastMissing: string[] | null = null;
    let first = true;
    for (let i = 0; i < this.keys.length; i++) {
      let value = tuple[i];
      if (value === undefined && fillFrom !== null) value = fillFrom[i];
      if (value === undefined) {
        (toastMissing ??= []).push(this.relation.columns[i]!.name);
        continue;
      }
      json += (first ? '' : ',') + this.keys[i]! + (value === null ? 'null' : this.valueJson(i, value));
      first = false;
    }
    return { json: `${json}}`, toastMissing };
  }

  /**
   * The old values of the columns whose value changed. Columns absent from either side are
   * skipped. A key-only old tuple (REPLICA IDENTITY DEFAULT or USING INDEX, when the key
   * changed) holds nulls for the other columns, which say nothing about their old values.
   */
  private changesJson(oldTuple: Tuple, newTuple: Tuple, keyOnly: boolean): string {
    let json = '{';
    let first = true;
    for (let i = 0; i < this.keys.length; i++) {
      if (keyOnly && !this.relation.columns[i]!.isKey) continue;
      const before = oldTuple[i];
      const after = newTuple[i];
      if (before === undefined || after === undefined || before === after) continue;
      json += (first ? '' : ',') + this.keys[i]! + (before === null ? 'null' : this.valueJson(i, before));
      first = false;
    }
    return `${json}}`;
  }

  private pksJson(tuple: Tuple, fillFrom: Tuple | null = null): string {
    let json = '[';
    for (let k = 0; k < this.keyColumns.length; k++) {
      const i = this.keyColumns[k]!;
      const value = tuple[i] ?? fillFrom?.[i];
      json += (k === 0 ? '' : ',') + (value === null || value === undefined ? 'null' : jsonString(value));
    }
    return `${json}]`;
  }

  private finish(
    action: ChangeAction,
    record: string,
    changes: string,
    pks: string,
    toastMissing: string[] | null,
    position: ChangePosition,
    msgId = idempotencyKey(this.ctx.idempotencyPrefix, position.commitLsn, position.commitIdx),
  ): EncodedChange {
    const toast = toastMissing === null ? '' : `"unchanged_toast_columns":${JSON.stringify(toastMissing)},`;
    // A record event says what the row is now: a deleted row (or, with record null, every row
    // of a truncated table) is flagged, as there is no action to tell.
    const deleted = this.records ? `"deleted":${action === 'delete' || action === 'truncate'},` : '';
    const json =
      (this.records ? `{"record":${record},` : `{"record":${record},"changes":${changes},"action":"${action}",`) +
      `${this.metaHead}${pgMicrosToIso(position.commitTime)}","commit_lsn":${position.commitLsn},"commit_idx":${position.commitIdx},` +
      `"database_name":${jsonString(this.ctx.databaseName)},"idempotency_key":${jsonString(msgId)},"record_pks":${pks},` +
      `"transaction_annotations":${position.annotations ?? 'null'},${toast}${deleted}${this.metaTail}`;
    return { subject: this.subjects[action], action, msgId, json };
  }
}
