/**
 * The pgoutput logical replication protocol, version 1, as discriminated unions.
 * https://www.postgresql.org/docs/15/protocol-logicalrep-message-formats.html
 */
import type { Lsn } from '../lsn.js';

/** Microseconds since 2000-01-01 UTC, Postgres's timestamp epoch. Exact as a number until year 2255. */
export type PgMicros = number;

export interface RelationColumn {
  readonly name: string;
  readonly typeOid: number;
  readonly typeMod: number;
  /** Part of the replica identity (the primary key under REPLICA IDENTITY DEFAULT). */
  readonly isKey: boolean;
}

/** `d` default, `n` nothing, `f` full, `i` index. */
export type ReplicaIdentity = 'd' | 'n' | 'f' | 'i';

/**
 * One column of a tuple: `null`, an unchanged TOASTed value that Postgres did not send
 * (`undefined`), or the value's text form.
 */
export type TupleValue = string | null | undefined;
export type Tuple = readonly TupleValue[];

export interface BeginMessage {
  readonly tag: 'begin';
  readonly commitLsn: Lsn;
  readonly commitTime: PgMicros;
  readonly xid: number;
}
export interface CommitMessage {
  readonly tag: 'commit';
  readonly flags: number;
  readonly commitLsn: Lsn;
  readonly endLsn: Lsn;
  readonly commitTime: PgMicros;
}
export interface OriginMessage {
  readonly tag: 'origin';
  readonly originLsn: Lsn;
  readonly name: string;
}
export interface RelationMessage {
  readonly tag: 'relation';
  readonly relationId: number;
  readonly schema: string;
  readonly name: string;
  readonly replicaIdentity: ReplicaIdentity;
  readonly columns: readonly RelationColumn[];
}
export interface TypeMessage {
  readonly tag: 'type';
  readonly typeOid: number;
  readonly schema: string;
  readonly name: string;
}
export interface InsertMessage {
  readonly tag: 'insert';
  readonly relationId: number;
  readonly newTuple: Tuple;
}
export interface UpdateMessage {
  readonly tag: 'update';
  readonly relationId: number;
  /** `key` when only the replica identity columns were sent, `old` for the whole old row (FULL). */
  readonly oldKind: 'key' | 'old' | null;
  readonly oldTuple: Tuple | null;
  readonly newTuple: Tuple;
}
export interface DeleteMessage {
  readonly tag: 'delete';
  readonly relationId: number;
  readonly oldKind: 'key' | 'old';
  readonly oldTuple: Tuple;
}
export interface TruncateMessage {
  readonly tag: 'truncate';
  readonly options: number;
  readonly relationIds: readonly number[];
}
export interface LogicalMessage {
  readonly tag: 'message';
  readonly transactional: boolean;
  readonly lsn: Lsn;
  readonly prefix: string;
  readonly content: string;
}

export type PgoutputMessage =
  | BeginMessage
  | CommitMessage
  | OriginMessage
  | RelationMessage
  | TypeMessage
  | InsertMessage
  | UpdateMessage
  | DeleteMessage
  | TruncateMessage
  | LogicalMessage;

/** The first byte of each message type. */
export const PgoutputTag = {
  begin: 0x42, // B
  commit: 0x43, // C
  origin: 0x4f, // O
  relation: 0x52, // R
  type: 0x59, // Y
  insert: 0x49, // I
  update: 0x55, // U
  delete: 0x44, // D
  truncate: 0x54, // T
  message: 0x4d, // M
} as const;
