/**
 * The contract's JSON body built as text from a decoded row message, every value through the
 * string converters (values/value-to-json.ts, column-types.ts): the string path the shards used
 * before the byte path was the only one, kept as the oracle of row-bytes.test.ts. The byte path
 * copies most values from the message as they are; this says what the converters alone would
 * write, so the copies are checked value by value. Not used by production code.
 */
import type { ChangePosition, EncoderContext } from '../../packages/core/src/envelope/change-encoder.js';
import { idempotencyKey } from '../../packages/core/src/envelope/idempotency-key.js';
import { pgMicrosToIso } from '../../packages/core/src/envelope/pg-time.js';
import { changeSubject, rowsSubject } from '../../packages/core/src/envelope/subjects.js';
import type {
  DeleteMessage,
  InsertMessage,
  RelationMessage,
  Tuple,
  UpdateMessage,
} from '../../packages/core/src/pgoutput/pgoutput.types.js';
import { columnValueToJson, resolveColumnType } from '../../packages/core/src/values/column-types.js';
import { quoteJson } from '../../packages/core/src/values/json-text.js';
import { valueToJson } from '../../packages/core/src/values/value-to-json.js';
import type { EncodedBody } from './byte-encoder.js';

export function referenceEnvelope(
  relation: RelationMessage,
  ctx: EncoderContext,
  message: InsertMessage | UpdateMessage | DeleteMessage,
  position: ChangePosition,
): EncodedBody {
  const records = ctx.messageKind === 'records';
  const label = `${relation.schema}.${relation.name}`;
  const types = relation.columns.map((c) => resolveColumnType(c.typeOid, new Map()));
  const keys = relation.columns.map((c) => `${JSON.stringify(c.name)}:`);
  const value = (i: number, text: string | null): string =>
    text === null
      ? 'null'
      : types[i]!.arrayElement < 0
        ? valueToJson(types[i]!.oid, text)
        : columnValueToJson(types[i]!, text);
  // record_pks: the primary key when given and all there, else the flagged identity columns.
  const primaryKey = ctx.primaryKeys?.get(label);
  let keyColumns = primaryKey?.map((name) => relation.columns.findIndex((c) => c.name === name)) ?? [];
  if (keyColumns.length === 0 || keyColumns.some((i) => i < 0))
    keyColumns =
      relation.replicaIdentity === 'f' || relation.replicaIdentity === 'n'
        ? []
        : relation.columns.flatMap((c, i) => (c.isKey ? [i] : []));

  const record = (tuple: Tuple, fillFrom: Tuple | null, fillKeysOnly: boolean): [string, string[] | null] => {
    const parts: string[] = [];
    let toastMissing: string[] | null = null;
    for (let i = 0; i < keys.length; i++) {
      let v = tuple[i];
      if (v === undefined && fillFrom !== null && (!fillKeysOnly || relation.columns[i]!.isKey))
        v = fillFrom[i];
      if (v === undefined) (toastMissing ??= []).push(relation.columns[i]!.name);
      else parts.push(keys[i]! + value(i, v));
    }
    return [`{${parts.join(',')}}`, toastMissing];
  };
  const changes = (oldTuple: Tuple, newTuple: Tuple, keyOnly: boolean): string => {
    const parts: string[] = [];
    for (let i = 0; i < keys.length; i++) {
      if (keyOnly && !relation.columns[i]!.isKey) continue;
      const before = oldTuple[i];
      const after = newTuple[i];
      if (before === undefined || after === undefined || before === after) continue;
      parts.push(keys[i]! + value(i, before));
    }
    return `{${parts.join(',')}}`;
  };
  const pks = (tuple: Tuple, fillFrom: Tuple | null): string =>
    `[${keyColumns
      .map((i) => {
        const v = tuple[i] ?? fillFrom?.[i];
        return v === null || v === undefined ? 'null' : quoteJson(v);
      })
      .join(',')}]`;

  let body: [string, string[] | null];
  let changesJson = 'null';
  let pksJson: string;
  if (message.tag === 'insert') {
    body = record(message.newTuple, null, false);
    pksJson = pks(message.newTuple, null);
  } else if (message.tag === 'update') {
    const keyOnly = message.oldKind === 'key';
    body = record(message.newTuple, message.oldTuple, keyOnly);
    changesJson = message.oldTuple === null ? '{}' : changes(message.oldTuple, message.newTuple, keyOnly);
    pksJson = pks(message.newTuple, message.oldTuple);
  } else {
    body = record(message.oldTuple, null, false);
    pksJson = pks(message.oldTuple, null);
  }
  const [recordJson, toastMissing] = body;
  const action = message.tag;
  const msgId = idempotencyKey(ctx.idempotencyPrefix, position.commitLsn, position.commitIdx);
  const toast = toastMissing === null ? '' : `"unchanged_toast_columns":${JSON.stringify(toastMissing)},`;
  const deleted = records ? `"deleted":${action === 'delete'},` : '';
  const json =
    (records
      ? `{"record":${recordJson},`
      : `{"record":${recordJson},"changes":${changesJson},"action":"${action}",`) +
    `"metadata":{"table_schema":${JSON.stringify(relation.schema)},"table_name":${JSON.stringify(relation.name)},` +
    `"commit_timestamp":"${pgMicrosToIso(position.commitTime)}","commit_lsn":${position.commitLsn},"commit_idx":${position.commitIdx},` +
    `"database_name":${JSON.stringify(ctx.databaseName)},"idempotency_key":${quoteJson(msgId)},"record_pks":${pksJson},` +
    `"transaction_annotations":${position.annotations ?? 'null'},${toast}${deleted}` +
    `"consumer":{"id":${JSON.stringify(ctx.consumerId)},"name":${JSON.stringify(ctx.consumerName)}}}}`;
  const subject = records
    ? rowsSubject(ctx.subjectPrefix, ctx.databaseName, relation.schema, relation.name)
    : changeSubject(ctx.subjectPrefix, ctx.databaseName, relation.schema, relation.name, action);
  return { subject, action, msgId, json };
}
