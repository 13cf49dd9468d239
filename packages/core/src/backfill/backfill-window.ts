/**
 * The reader thread's half of a backfill chunk (DBLog's "window"), pure logic.
 *
 * A chunk is read between a low and a high watermark (watermark-messages.ts). The reader sees the
 * WAL in commit order, so between the two watermarks it sees every change that committed after
 * the low one and before the high one: every change the chunk's SELECT may or may not have seen.
 * The window records the keys of the chunk's table that those changes touch; at the high
 * watermark it drops those keys from the chunk, and the rows left are routed as `read` events at
 * the high watermark's place in the table's ordered mailbox:
 *
 * - a row changed in the window is not read: its change (as new as the read, or newer) is
 *   published in the stream, so a stale read can never follow a newer change;
 * - a row not changed in the window was the same from the low watermark to the high one, so the
 *   read equals the row at the high watermark: after every change before it, before every later
 *   one.
 *
 * When it cannot tell (the table's columns changed in the window, a key value was not sent, the
 * replication connection was reset), the chunk is read again: `redo`.
 */
import type { Lsn } from '../lsn.js';
import type {
  DeleteMessage,
  InsertMessage,
  RelationMessage,
  Tuple,
  UpdateMessage,
} from '../pgoutput/pgoutput.types.js';
import type { WatermarkKind } from './watermark-messages.js';

export interface BackfillChunkRequest {
  /** Names this attempt at this chunk; the watermarks carry it. */
  readonly token: string;
  /** The table as pgoutput describes it, in the column order of the chunk's rows. */
  readonly relation: RelationMessage;
  /** Names of the columns the chunk is paged on (the primary key or replica identity index). */
  readonly keyColumns: readonly string[];
}

export type ChunkOutcome =
  | {
      readonly kind: 'routed';
      readonly token: string;
      readonly routed: number;
      readonly dropped: number;
      readonly commitEndLsn: Lsn;
    }
  | { readonly kind: 'redo'; readonly token: string; readonly reason: string };

/** What to route at a high watermark. */
export interface ChunkReads {
  readonly relation: RelationMessage;
  /** Each row with its index in the chunk as read (deterministic idempotency keys). */
  readonly rows: readonly { readonly index: number; readonly row: Tuple }[];
}

type State = 'idle' | 'expecting' | 'open' | 'closing';

/** `a` and `b` describe the same row layout and key flags. */
export function sameRelation(a: RelationMessage, b: RelationMessage): boolean {
  if (
    a.relationId !== b.relationId ||
    a.schema !== b.schema ||
    a.name !== b.name ||
    a.replicaIdentity !== b.replicaIdentity
  )
    return false;
  if (a.columns.length !== b.columns.length) return false;
  return a.columns.every((c, i) => {
    const d = b.columns[i]!;
    return c.name === d.name && c.typeOid === d.typeOid && c.typeMod === d.typeMod && c.isKey === d.isKey;
  });
}

function keyIndexes(relation: RelationMessage, names: readonly string[]): number[] | null {
  const indexes = names.map((name) => relation.columns.findIndex((c) => c.name === name));
  return indexes.every((i) => i >= 0) ? indexes : null;
}

/** The key of a tuple as one string; null when a key value was not sent (unchanged TOAST). */
export function keyOf(tuple: Tuple, indexes: readonly number[]): string | null {
  const values: (string | null)[] = [];
  for (const i of indexes) {
    const value = tuple[i];
    if (value === undefined) return null;
    values.push(value);
  }
  return JSON.stringify(values);
}

export class BackfillWindow {
  private state: State = 'idle';
  private request: BackfillChunkRequest | null = null;
  private onOutcome: ((outcome: ChunkOutcome) => void) | null = null;
  private rows: readonly Tuple[] | null = null;
  private readonly changedKeys = new Set<string>();
  private truncated = false;
  private redoReason: string | null = null;
  /** Key positions in the stream's current Relation message of the table (null: not seen yet). */
  private streamKeyIndexes: number[] | null = null;
  private routedCount = 0;
  private droppedCount = 0;
  /**
   * The relation id whose changes the router must show us: the chunk's table while the window
   * is open, else -1. A field, not a method, as the router checks it for every change.
   */
  watchedRelationId = -1;

  /** The table the chunk `token` reads, when it is the chunk in progress. */
  relationIdOf(token: string): number | undefined {
    return this.request?.token === token ? this.request.relation.relationId : undefined;
  }

  get busy(): boolean {
    return this.state !== 'idle';
  }

  /** Registers the next chunk before its low watermark is written. */
  expect(request: BackfillChunkRequest, onOutcome: (outcome: ChunkOutcome) => void): void {
    if (this.state !== 'idle')
      throw new Error(`a backfill chunk (${this.request?.token}) is still in progress`);
    this.state = 'expecting';
    this.request = request;
    this.onOutcome = onOutcome;
    this.rows = null;
    this.changedKeys.clear();
    this.truncated = false;
    this.redoReason = null;
    this.streamKeyIndexes = null;
  }

  /** The chunk's rows, in `request.relation`'s column order, once selected (before the high watermark is written). */
  attachRows(token: string, rows: readonly Tuple[]): void {
    if (this.request?.token === token) this.rows = rows;
  }

  /** Gives up the chunk in progress (`token`, or any): it will be read again. */
  cancel(reason: string, token?: string): void {
    if (this.state === 'idle' || (token !== undefined && this.request?.token !== token)) return;
    this.finish({ kind: 'redo', token: this.request!.token, reason });
  }

  /** A new replication connection replays from the confirmed position: the window's view is gone. */
  reset(): void {
    this.cancel('the replication connection was reset');
  }

  /** Every Relation message of the stream. */
  noteRelation(relation: RelationMessage): void {
    if (this.state !== 'open' || relation.relationId !== this.request!.relation.relationId) return;
    // A column added or dropped in the window: the rows read may predate it. (Other details of
    // the description do not matter here: the reads are encoded with the chunk's own.)
    const names = (r: RelationMessage): string => JSON.stringify(r.columns.map((c) => c.name));
    if (names(relation) !== names(this.request!.relation))
      this.redoReason ??= `the columns of ${relation.schema}.${relation.name} changed while a chunk was read`;
    this.streamKeyIndexes = keyIndexes(relation, this.request!.keyColumns);
  }

  /** A routed change of the watched table. */
  noteChange(message: InsertMessage | UpdateMessage | DeleteMessage): void {
    if (this.state !== 'open') return;
    const indexes = this.streamKeyIndexes;
    if (indexes === null) {
      this.redoReason ??= 'a change of the table came without its Relation message';
      return;
    }
    const tuples: Tuple[] =
      message.tag === 'insert'
        ? [message.newTuple]
        : message.tag === 'delete'
          ? [message.oldTuple]
          : message.oldTuple
            ? [message.newTuple, message.oldTuple]
            : [message.newTuple];
    for (const tuple of tuples) {
      const key = keyOf(tuple, indexes);
      if (key === null)
        this.redoReason ??= 'a change did not carry its key (an unchanged TOASTed key column)';
      else this.changedKeys.add(key);
    }
  }

  /** A routed truncate of these tables. */
  noteTruncate(relationIds: readonly number[]): void {
    if (this.state === 'open' && relationIds.includes(this.request!.relation.relationId))
      this.truncated = true;
  }

  /**
   * A watermark message. At the matching low one the window opens (`streamRelation`: the
   * table's latest Relation message in the stream). At the matching high one it returns the
   * reads to route, or null (not ours, or the chunk must be read again).
   */
  onWatermark(
    kind: WatermarkKind,
    token: string,
    streamRelation: RelationMessage | undefined,
  ): ChunkReads | null {
    if (this.request?.token !== token) return null;
    if (kind === 'low') {
      if (this.state !== 'expecting') return null;
      this.state = 'open';
      this.watchedRelationId = this.request.relation.relationId;
      if (streamRelation) this.streamKeyIndexes = keyIndexes(streamRelation, this.request.keyColumns);
      return null;
    }
    if (this.state !== 'open') return null;
    this.state = 'closing';
    this.watchedRelationId = -1;
    if (this.rows === null) this.redoReason ??= 'the chunk was not read before its high watermark';
    if (this.redoReason !== null) return null;
    const indexes = keyIndexes(this.request.relation, this.request.keyColumns);
    if (indexes === null) {
      this.redoReason = 'the key columns are not among the columns read';
      return null;
    }
    const rows: { index: number; row: Tuple }[] = [];
    if (!this.truncated) {
      this.rows!.forEach((row, index) => {
        const key = keyOf(row, indexes);
        if (key !== null && !this.changedKeys.has(key)) rows.push({ index, row });
      });
    }
    this.routedCount = rows.length;
    this.droppedCount = this.rows!.length - rows.length;
    return { relation: this.request.relation, rows };
  }

  /** A commit: the high watermark's transaction ends here. */
  noteCommit(endLsn: Lsn): void {
    if (this.state !== 'closing') return;
    const token = this.request!.token;
    if (this.redoReason !== null) this.finish({ kind: 'redo', token, reason: this.redoReason });
    else
      this.finish({
        kind: 'routed',
        token,
        routed: this.routedCount,
        dropped: this.droppedCount,
        commitEndLsn: endLsn,
      });
  }

  private finish(outcome: ChunkOutcome): void {
    const onOutcome = this.onOutcome;
    this.state = 'idle';
    this.request = null;
    this.onOutcome = null;
    this.rows = null;
    this.changedKeys.clear();
    this.watchedRelationId = -1;
    onOutcome?.(outcome);
  }
}
