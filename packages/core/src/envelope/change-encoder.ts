/**
 * Turns decoded pgoutput row messages into the contract's JSON envelope
 * `{record, changes, action, metadata}` (CONTRACT.md "Message body").
 *
 * One encoder per relation version: the JSON keys, the subjects and the metadata that do not
 * change per row are built once when the Relation message arrives, so that a row costs only its
 * values. JSON is written as text, never through an object and JSON.stringify, so that int8
 * keeps every digit and nothing is built twice.
 */
import type { DeleteMessage, InsertMessage, RelationMessage, Tuple, UpdateMessage } from '../pgoutput/pgoutput.types.js';
import { valueToJson } from '../values/value-to-json.js';
import { pgMicrosToIso } from './pg-time.js';
import { idempotencyKey } from './idempotency-key.js';
import { changeSubject, type ChangeAction } from './subjects.js';

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
 */
function keyColumnsOf(relation: RelationMessage, primaryKey: readonly string[] | undefined): number[] {
  if (primaryKey && primaryKey.length > 0) {
    const indexes = primaryKey.map((name) => relation.columns.findIndex((c) => c.name === name));
    if (indexes.every((i) => i >= 0)) return indexes;
  }
  if (relation.replicaIdentity === 'f') return [];
  return relation.columns.flatMap((c, i) => (c.isKey ? [i] : []));
}

function jsonString(text: string): string {
  return JSON.stringify(text);
}

export class ChangeEncoder {
  readonly schema: string;
  readonly table: string;
  /** `schema.table`, the metric label. */
  readonly label: string;
  private readonly keys: string[];
  private readonly typeOids: number[];
  private readonly keyColumns: number[];
  private readonly subjects: Record<ChangeAction, string>;
  private readonly metaHead: string;
  private readonly metaTail: string;

  constructor(readonly relation: RelationMessage, private readonly ctx: EncoderContext) {
    this.schema = relation.schema;
    this.table = relation.name;
    this.label = `${relation.schema}.${relation.name}`;
    this.keys = relation.columns.map((c) => `${jsonString(c.name)}:`);
    this.typeOids = relation.columns.map((c) => c.typeOid);
    this.keyColumns = keyColumnsOf(relation, ctx.primaryKeys?.get(this.label));
    const subject = (action: ChangeAction): string => changeSubject(ctx.subjectPrefix, ctx.databaseName, relation.schema, relation.name, action);
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
      json += (first ? '' : ',') + this.keys[i]! + (value === null ? 'null' : valueToJson(this.typeOids[i]!, value));
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
      json += (first ? '' : ',') + this.keys[i]! + (before === null ? 'null' : valueToJson(this.typeOids[i]!, before));
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
  ): EncodedChange {
    const msgId = idempotencyKey(this.ctx.idempotencyPrefix, position.commitLsn, position.commitIdx);
    const toast = toastMissing === null ? '' : `"unchanged_toast_columns":${JSON.stringify(toastMissing)},`;
    const json =
      `{"record":${record},"changes":${changes},"action":"${action}",` +
      `${this.metaHead}${pgMicrosToIso(position.commitTime)}","commit_lsn":${position.commitLsn},"commit_idx":${position.commitIdx},` +
      `"database_name":${jsonString(this.ctx.databaseName)},"idempotency_key":${jsonString(msgId)},"record_pks":${pks},` +
      `"transaction_annotations":${position.annotations ?? 'null'},${toast}${this.metaTail}`;
    return { subject: this.subjects[action], action, msgId, json };
  }
}
