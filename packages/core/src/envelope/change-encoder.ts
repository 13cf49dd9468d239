/**
 * Turns pgoutput row messages (their raw bytes) into the contract's JSON envelope
 * `{record, changes, action, metadata}` (docs/contract.md "Message body"), or with
 * `messageKind: 'records'` into record events `{record, metadata}` on the `rows` subjects.
 *
 * The one path from a change to the bytes NATS gets: inserts, updates and deletes from the WAL,
 * `read` rows of the initial snapshot and of backfill chunks (carried as Insert messages,
 * backfill/pgoutput-encoder.ts) and truncates are all written straight into a JsonBytes, never
 * through an object and JSON.stringify (so int8 keeps every digit) and without a string per
 * value where the value's text can be copied as it is; the others take the string converters
 * (values/value-to-json.ts, column-types.ts) and are written as UTF-8.
 *
 * One encoder per relation version: the JSON keys, the subjects and the metadata that do not
 * change per row are built once when the Relation message arrives, so that a row costs only its
 * values.
 */
import type { RelationMessage } from '../pgoutput/pgoutput.types.js';
import {
  columnValueToJson,
  resolveColumnType,
  type ColumnType,
  type PgTypeInfo,
} from '../values/column-types.js';
import { Buffer } from 'node:buffer';
import { isPlainAscii, type JsonBytes } from '../values/json-bytes.js';
import { quoteJson } from '../values/json-text.js';
import { valueToJson, writeValueBytes } from '../values/value-to-json.js';
import { RawKind, RawTuple } from './raw-tuple.js';
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

/** What the encoder says of the change it wrote (one object, reused by the caller). */
export interface RowBytesResult {
  subject: string;
  action: ChangeAction;
  /**
   * The msgId: null when it is `out`'s bytes [msgIdStart, msgIdEnd) (it is written in the body as
   * `metadata.idempotency_key` and needs no escaping), so that no string is made of it.
   */
  msgId: string | null;
  msgIdStart: number;
  msgIdEnd: number;
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

/** The key of a row read from its table (see encodeReadBytes): it never equals a change's. */
function readKey(prefix: string, commitLsn: number, relationId: number, index: number): string {
  return `${prefix}${commitLsn}:read:${relationId}:${index}`;
}

const NO_TYPES: ReadonlyMap<number, PgTypeInfo> = new Map();
const EMPTY = new Uint8Array(0);
const RECORD_OPEN = Buffer.from('{"record":');
const CHANGES_NULL = Buffer.from(',"changes":null');
const CHANGES_OPEN = Buffer.from(',"changes":');
const COMMIT_LSN = Buffer.from('","commit_lsn":');
const COMMIT_IDX = Buffer.from(',"commit_idx":');
const RECORD_PKS = Buffer.from(',"record_pks":');
const ANNOTATIONS = Buffer.from(',"transaction_annotations":');
const READ_KEY = Buffer.from(':read:');
const NO_PKS = Buffer.from('[]');

/** Text of src[start, end) decoded as UTF-8, as the decoder does. */
function utf8(src: Uint8Array, start: number, end: number): string {
  return Buffer.from(src.buffer, src.byteOffset + start, end - start).toString('utf8');
}

function sameBytes(src: Uint8Array, a: number, aEnd: number, b: number, bEnd: number): boolean {
  if (aEnd - a !== bEnd - b) return false;
  while (a < aEnd) if (src[a++] !== src[b++]) return false;
  return true;
}

export class ChangeEncoder {
  readonly schema: string;
  readonly table: string;
  /** `schema.table`, the metric label. */
  readonly label: string;
  /** Per column: the OID valueToJson converts by (a domain's base type) … */
  private readonly typeOids: number[];
  /** … or, for an array of a user-defined type, its element type (-1 otherwise) … */
  private readonly arrayElements: number[];
  /** … and how each column's values convert (column-types.ts). */
  private readonly columnTypes: ColumnType[];
  private readonly keyColumns: number[];
  private readonly subjects: Record<ChangeAction, string>;
  private readonly records: boolean;
  /** The parts of the body that do not change per row, as UTF-8 bytes. */
  private readonly bytes: {
    /** Per column: `"name":`. */
    readonly keys: Buffer[];
    readonly actions: Record<ChangeAction, Buffer>;
    /** `"metadata":{"table_schema":…,"table_name":…,"commit_timestamp":"`. */
    readonly metaHead: Buffer;
    /** `"database_name":"…","idempotency_key":`. */
    readonly database: Buffer;
    /** `"consumer":{…}}}`. */
    readonly metaTail: Buffer;
    /** The idempotency prefix needs no JSON escaping: msgIds are written as they are. */
    readonly plainMsgIds: boolean;
    readonly msgIdPrefix: Buffer;
  };
  private readonly isKey: boolean[];

  /**
   * `catalog`: the relation's primary key and user-defined types, when the catalog was asked;
   * without it, `ctx.primaryKeys` and the key flags give `record_pks`, and user-defined types
   * keep their text form.
   */
  constructor(
    readonly relation: RelationMessage,
    private readonly ctx: EncoderContext,
    catalog?: RelationCatalogInfo,
  ) {
    this.schema = relation.schema;
    this.table = relation.name;
    this.label = `${relation.schema}.${relation.name}`;
    const types = relation.columns.map((c) => resolveColumnType(c.typeOid, catalog?.types ?? NO_TYPES));
    this.typeOids = types.map((t) => t.oid);
    this.arrayElements = types.map((t) => t.arrayElement);
    this.columnTypes = types;
    this.keyColumns = keyColumnsOf(
      relation,
      catalog?.primaryKey !== undefined ? catalog.primaryKey : ctx.primaryKeys?.get(this.label),
    );
    this.records = ctx.messageKind === 'records';
    const subject = (action: ChangeAction): string =>
      this.records
        ? rowsSubject(ctx.subjectPrefix, ctx.databaseName, relation.schema, relation.name)
        : changeSubject(ctx.subjectPrefix, ctx.databaseName, relation.schema, relation.name, action);
    this.subjects = {
      insert: subject('insert'),
      update: subject('update'),
      delete: subject('delete'),
      read: subject('read'),
      truncate: subject('truncate'),
    };
    this.isKey = relation.columns.map((c) => c.isKey);
    const action = (a: ChangeAction): Buffer => Buffer.from(this.records ? ',' : `,"action":"${a}",`);
    const prefix = Buffer.from(ctx.idempotencyPrefix);
    this.bytes = {
      keys: relation.columns.map((c) => Buffer.from(`${jsonString(c.name)}:`)),
      actions: {
        insert: action('insert'),
        update: action('update'),
        delete: action('delete'),
        read: action('read'),
        truncate: action('truncate'),
      },
      metaHead: Buffer.from(
        `"metadata":{"table_schema":${jsonString(relation.schema)},"table_name":${jsonString(relation.name)},"commit_timestamp":"`,
      ),
      database: Buffer.from(`"database_name":${jsonString(ctx.databaseName)},"idempotency_key":`),
      metaTail: Buffer.from(
        `"consumer":{"id":${jsonString(ctx.consumerId)},"name":${jsonString(ctx.consumerName)}}}}`,
      ),
      plainMsgIds: isPlainAscii(prefix, 0, prefix.length),
      msgIdPrefix: prefix,
    };
  }

  subjectFor(action: ChangeAction): string {
    return this.subjects[action];
  }

  /**
   * The JSON body of the Insert, Update or Delete message `row` (its raw pgoutput bytes), written
   * into `out`, and what it is into `result`. Most values are copied from the message as they
   * are. Returns false, having written nothing useful, for any other message or one it cannot
   * read (cut short, a binary value, a tuple kind it does not know): pgoutput v1 without the
   * `binary` option never sends one, and the decoder refuses each of them too, so the caller asks
   * it why (Shard.explainUnreadable) and stops.
   */
  encodeRowBytes(row: Uint8Array, position: ChangePosition, out: JsonBytes, result: RowBytesResult): boolean {
    return this.writeRow(row, position, out, result, false);
  }

  /**
   * A row read from the table (initial snapshot or backfill chunk), carried as an Insert message
   * of its values in Postgres's text form as pgoutput would send them (same session settings), in
   * the relation's column order: a `read` event. `position.commitLsn` is the snapshot's (or the
   * chunk's) LSN and `commitIdx` the row's number in the table's read; the idempotency key names
   * the table too (`<prefix><lsn>:read:<relation id>:<n>`), so it never equals a change's key.
   * Returns false as encodeRowBytes does (also for any message but an Insert).
   */
  encodeReadBytes(
    row: Uint8Array,
    position: ChangePosition,
    out: JsonBytes,
    result: RowBytesResult,
  ): boolean {
    return this.writeRow(row, position, out, result, true);
  }

  /** The `truncate` event of this table (`record` null; a record event says `deleted`). */
  encodeTruncateBytes(position: ChangePosition, out: JsonBytes, result: RowBytesResult): void {
    out.reset();
    out.slice(RECORD_OPEN, 0, RECORD_OPEN.length);
    out.ascii('null');
    if (!this.records) out.bytes(CHANGES_NULL);
    this.writeMetadata('truncate', position, out, result, false);
    out.bytes(NO_PKS);
    this.writeMetadataTail('truncate', position, null, out);
    result.subject = this.subjects.truncate;
    result.action = 'truncate';
  }

  private writeRow(
    row: Uint8Array,
    position: ChangePosition,
    out: JsonBytes,
    result: RowBytesResult,
    read: boolean,
  ): boolean {
    // What it accepts is what the decoder accepts (pgoutput-decoder.ts), bytes after the last
    // tuple included: declining a row is stopping the shard.
    const end = row.length;
    if (end < 6) return false;
    const tag = row[0];
    let o = 5;
    const t = this.rawNew;
    const old = this.rawOld;
    let action: ChangeAction;
    let oldKind = 0;
    if (tag === 0x49 /* I */) {
      action = read ? 'read' : 'insert';
      if (row[o++] !== 0x4e /* N */ || t.read(row, o, end) < 0) return false;
    } else if (read) {
      return false;
    } else if (tag === 0x55 /* U */) {
      action = 'update';
      let marker = row[o++];
      if (marker === 0x4b /* K */ || marker === 0x4f /* O */) {
        oldKind = marker;
        o = old.read(row, o, end);
        if (o < 0 || o >= end) return false;
        marker = row[o++];
      }
      if (marker !== 0x4e || t.read(row, o, end) < 0) return false;
    } else if (tag === 0x44 /* D */) {
      action = 'delete';
      oldKind = row[o++]!;
      if ((oldKind !== 0x4b && oldKind !== 0x4f) || old.read(row, o, end) < 0) return false;
    } else {
      return false;
    }
    this.rawSource = row;
    out.reset();
    out.slice(RECORD_OPEN, 0, RECORD_OPEN.length);
    let toastMissing: string[] | null;
    if (action === 'update') {
      toastMissing = this.recordBytes(t, oldKind === 0 ? null : old, out, oldKind === 0x4b);
      if (!this.records) {
        out.bytes(CHANGES_OPEN);
        if (oldKind === 0) out.ascii('{}');
        else this.changesBytes(old, t, oldKind === 0x4b, out);
      }
    } else {
      toastMissing = this.recordBytes(action === 'delete' ? old : t, null, out);
      if (!this.records) out.bytes(CHANGES_NULL);
    }
    this.writeMetadata(action, position, out, result, read);
    if (action === 'update') this.pksBytes(t, oldKind === 0 ? null : old, out);
    else this.pksBytes(action === 'delete' ? old : t, null, out);
    this.writeMetadataTail(action, position, toastMissing, out);
    this.rawSource = EMPTY;
    result.subject = this.subjects[action];
    result.action = action;
    return true;
  }

  /** `,"action":…,"metadata":{…` up to `"record_pks":`, and the msgId into `result`. */
  private writeMetadata(
    action: ChangeAction,
    position: ChangePosition,
    out: JsonBytes,
    result: RowBytesResult,
    read: boolean,
  ): void {
    const b = this.bytes;
    out.bytes(b.actions[action]);
    out.bytes(b.metaHead);
    out.ascii(pgMicrosToIso(position.commitTime));
    out.bytes(COMMIT_LSN);
    out.integer(position.commitLsn);
    out.bytes(COMMIT_IDX);
    out.integer(position.commitIdx);
    out.byte(0x2c /* , */);
    out.bytes(b.database);
    if (b.plainMsgIds) {
      // idempotencyKey() (or readKey()), written straight into the body: no string is made of it.
      out.byte(0x22);
      result.msgIdStart = out.pos;
      out.bytes(b.msgIdPrefix);
      out.integer(position.commitLsn);
      if (read) {
        out.bytes(READ_KEY);
        out.integer(this.relation.relationId);
      }
      out.byte(0x3a /* : */);
      out.integer(position.commitIdx);
      result.msgIdEnd = out.pos;
      out.byte(0x22);
      result.msgId = null;
    } else {
      const prefix = this.ctx.idempotencyPrefix;
      const msgId = read
        ? readKey(prefix, position.commitLsn, this.relation.relationId, position.commitIdx)
        : idempotencyKey(prefix, position.commitLsn, position.commitIdx);
      out.text(quoteJson(msgId));
      result.msgIdStart = result.msgIdEnd = -1;
      result.msgId = msgId;
    }
    out.bytes(RECORD_PKS);
  }

  /** From `,"transaction_annotations":` to the end of the body. */
  private writeMetadataTail(
    action: ChangeAction,
    position: ChangePosition,
    toastMissing: string[] | null,
    out: JsonBytes,
  ): void {
    out.bytes(ANNOTATIONS);
    if (position.annotations === null) out.ascii('null');
    else out.text(position.annotations);
    out.byte(0x2c);
    if (toastMissing !== null) out.text(`"unchanged_toast_columns":${JSON.stringify(toastMissing)},`);
    // A record event says what the row is now: a deleted row (or, with record null, every row
    // of a truncated table) is flagged, as there is no action to tell.
    if (this.records) out.ascii(`"deleted":${action === 'delete' || action === 'truncate'},`);
    out.bytes(this.bytes.metaTail);
  }

  private readonly rawNew = new RawTuple();
  private readonly rawOld = new RawTuple();
  /** The message being written (for the values that take the string path). */
  private rawSource: Uint8Array = EMPTY;

  /**
   * Value `i` of `t` (kind text) into `out`: as it stands when it can, else its text through the
   * string converters (the string path, kept for the values that need it: numeric, dates,
   * arrays, non-ASCII text, user-defined types, …).
   */
  private valueBytes(i: number, t: RawTuple, out: JsonBytes): void {
    const src = this.rawSource;
    const start = t.starts[i]!;
    const end = t.ends[i]!;
    if (this.arrayElements[i]! < 0 && writeValueBytes(out, this.typeOids[i]!, src, start, end)) return;
    const text = utf8(src, start, end);
    out.text(
      this.arrayElements[i]! < 0
        ? valueToJson(this.typeOids[i]!, text)
        : columnValueToJson(this.columnTypes[i]!, text),
    );
  }

  /** `fillFrom`: where unchanged TOASTed values are taken from (its key columns only if `fillKeysOnly`). */
  private recordBytes(
    t: RawTuple,
    fillFrom: RawTuple | null,
    out: JsonBytes,
    fillKeysOnly = false,
  ): string[] | null {
    let toastMissing: string[] | null = null;
    let first = true;
    const keys = this.bytes.keys;
    out.byte(0x7b /* { */);
    for (let i = 0; i < keys.length; i++) {
      let source = t;
      let kind = t.kind(i);
      if (kind === RawKind.unchanged && fillFrom !== null && (!fillKeysOnly || this.isKey[i])) {
        source = fillFrom;
        kind = fillFrom.kind(i);
      }
      if (kind === RawKind.unchanged) {
        (toastMissing ??= []).push(this.relation.columns[i]!.name);
        continue;
      }
      if (!first) out.byte(0x2c);
      first = false;
      out.bytes(keys[i]!);
      if (kind === RawKind.null) out.ascii('null');
      else this.valueBytes(i, source, out);
    }
    out.byte(0x7d /* } */);
    return toastMissing;
  }

  private changesBytes(oldTuple: RawTuple, newTuple: RawTuple, keyOnly: boolean, out: JsonBytes): void {
    out.byte(0x7b /* { */);
    let first = true;
    const keys = this.bytes.keys;
    const src = this.rawSource;
    for (let i = 0; i < keys.length; i++) {
      if (keyOnly && !this.isKey[i]) continue;
      const before = oldTuple.kind(i);
      const after = newTuple.kind(i);
      if (before === RawKind.unchanged || after === RawKind.unchanged) continue;
      if (
        before === after &&
        (before === RawKind.null ||
          sameBytes(src, oldTuple.starts[i]!, oldTuple.ends[i]!, newTuple.starts[i]!, newTuple.ends[i]!))
      )
        continue;
      if (!first) out.byte(0x2c);
      first = false;
      out.bytes(keys[i]!);
      if (before === RawKind.null) out.ascii('null');
      else this.valueBytes(i, oldTuple, out);
    }
    out.byte(0x7d);
  }

  private pksBytes(t: RawTuple, fillFrom: RawTuple | null, out: JsonBytes): void {
    out.byte(0x5b /* [ */);
    const src = this.rawSource;
    for (let k = 0; k < this.keyColumns.length; k++) {
      const i = this.keyColumns[k]!;
      if (k > 0) out.byte(0x2c);
      // `tuple[i] ?? fillFrom?.[i]` of pksJson: a null or absent value takes the old row's.
      let source = t;
      if (t.kind(i) !== RawKind.text && fillFrom !== null) source = fillFrom;
      if (source.kind(i) !== RawKind.text) {
        out.ascii('null');
        continue;
      }
      const start = source.starts[i]!;
      const end = source.ends[i]!;
      if (isPlainAscii(src, start, end)) out.quoted(src, start, end);
      else out.text(quoteJson(utf8(src, start, end)));
    }
    out.byte(0x5d /* ] */);
  }
}
