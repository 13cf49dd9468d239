/**
 * The reader thread's one job after receiving: number each change and route its raw bytes to
 * the shard that owns its table, without decoding rows (the shards do that, in parallel).
 *
 * - Each change gets a global sequence number (`seq`), its transaction's commit LSN (known at
 *   Begin as the final LSN) and its index in the transaction (`commit_idx`).
 * - A table is pinned to a shard the first time its Relation message is seen, so a rename
 *   within a session cannot split its order across shards.
 * - Commits, and wal2nats heartbeats between transactions, become watermark entries: the slot
 *   may be confirmed to them once every change before them is delivered.
 * - With a filter (`--tables`, `--exclude-tables`, `--actions`), the changes it leaves out are
 *   not routed at all (a filtered table's Relation message neither), but they keep their place
 *   in `commit_idx`, so a change's idempotency key does not depend on the filter; their
 *   transactions' commits are noted as usual, so the slot advances past them.
 * - Backfill (`wal2nats backfill`): the watermarks of a chunk open and close a `BackfillWindow`;
 *   while open, the changes of its table are shown to it; at the high watermark the rows it
 *   keeps are routed as `read` frames to the table's shard, as part of the high watermark's
 *   transaction, so the slot is confirmed past it only once they are delivered. The state
 *   table `wal2nats.backfills` is never routed, whatever the filter.
 */
import { decodePgoutput } from '../pgoutput/pgoutput-decoder.js';
import { PgoutputTag } from '../pgoutput/pgoutput.types.js';
import { peekRelationId } from '../pgoutput/pgoutput-decoder.js';
import type { DeliveryWatermark } from '../delivery/watermark.js';
import { readLsn } from '../lsn.js';
import { ChangeBatchWriter, FrameKind, type ChangeBatch, type FrameMeta } from './change-batch.js';
import type { ChangeFilter } from './change-filter.js';
import { shardForTable } from './shard.js';
import { BackfillWindow, sameRelation, type ChunkReads } from '../backfill/backfill-window.js';
import { encodeRelationMessage, writeRowMessage } from '../backfill/pgoutput-encoder.js';
import { JsonBytes } from '../values/json-bytes.js';
import {
  isBackfillStateTable,
  parseWatermarkContent,
  watermarkKindOf,
} from '../backfill/watermark-messages.js';
import type { RelationMessage } from '../pgoutput/pgoutput.types.js';

/** `pg_logical_emit_message` prefixes (docs/contract.md "Message body", transaction_annotations). */
export const ANNOTATIONS_SET_PREFIX = 'sequin:transaction_annotations.set';
export const ANNOTATIONS_CLEAR_PREFIX = 'sequin:transaction_annotations.clear';
/** Non-transactional messages that wal2nats writes itself so that an idle slot still advances. */
export const HEARTBEAT_PREFIX = 'wal2nats:heartbeat';

export interface WalRouterOptions {
  readonly shardCount: number;
  /**
   * Which shard a table goes to; by default `shardForTable` (a hash). JetStream mode routes by
   * the stream that captures the table's subjects (one ordered chain per stream, in one shard).
   */
  readonly shardOf?: (schema: string, table: string) => number;
  /** A batch is handed over once it holds this many frames. */
  readonly maxBatchFrames: number;
  readonly onWarning?: (message: string) => void;
  /** Which tables and actions to publish; everything when absent. */
  readonly filter?: ChangeFilter;
  /** The backfill chunk in progress, if backfills run in this reader. */
  readonly backfill?: BackfillWindow;
}

export class WalRouterError extends Error {
  override readonly name = 'WalRouterError';
}

export class WalRouter {
  private readonly writers: ChangeBatchWriter[];
  private readonly shardOfRelation = new Map<number, number>();
  /** Relations whose latest Relation message named a table the filter leaves out. */
  private readonly excludedRelations = new Set<number>();
  /** By pgoutput tag: whether the filter leaves that action out. */
  private readonly skipsAction: Readonly<Record<number, boolean>>;
  private readonly skipsReads: boolean;
  /** The latest Relation message routed per relation, with its bytes (what its shard knows). */
  private readonly routedRelations = new Map<number, { relation: RelationMessage; bytes: Uint8Array }>();
  private readonly backfill: BackfillWindow | null;
  /** A backfill row's Insert message, written here before append() copies it into a batch. */
  private readonly rowScratch = new JsonBytes(16 * 1024);
  private seq = 0;
  private inTransaction = false;
  private readonly meta: FrameMeta = { seq: 0, commitLsn: 0, commitTime: 0, commitIdx: 0, annotations: null };

  constructor(
    private readonly options: WalRouterOptions,
    private readonly watermark: DeliveryWatermark,
    /** Receives each full batch; it must take ownership of the buffer. */
    private readonly deliverBatch: (shard: number, batch: ChangeBatch) => void,
  ) {
    this.writers = Array.from({ length: options.shardCount }, () => new ChangeBatchWriter());
    this.backfill = options.backfill ?? null;
    const filter = options.filter;
    this.skipsAction = {
      [PgoutputTag.insert]: filter ? !filter.includesAction('insert') : false,
      [PgoutputTag.update]: filter ? !filter.includesAction('update') : false,
      [PgoutputTag.delete]: filter ? !filter.includesAction('delete') : false,
      [PgoutputTag.truncate]: filter ? !filter.includesAction('truncate') : false,
    };
    this.skipsReads = filter ? !filter.includesAction('read') : false;
  }

  private shardForNewTable(schema: string, table: string): number {
    return this.options.shardOf
      ? this.options.shardOf(schema, table)
      : shardForTable(schema, table, this.options.shardCount);
  }

  /** The last sequence number given out. */
  get lastSeq(): number {
    return this.seq;
  }
  get isInTransaction(): boolean {
    return this.inTransaction;
  }

  /** A new replication connection starts again at a transaction boundary. */
  resetTransaction(): void {
    this.inTransaction = false;
    this.meta.annotations = null;
    this.backfill?.reset();
  }

  /** Routes one pgoutput message. The bytes may be reused by the caller afterwards. */
  route(bytes: Uint8Array): void {
    switch (bytes[0]) {
      case PgoutputTag.begin: {
        const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        this.meta.commitLsn = readLsn(view, 1);
        this.meta.commitTime = view.getInt32(9) * 0x1_0000_0000 + view.getUint32(13);
        this.meta.commitIdx = 0;
        this.meta.annotations = null;
        this.inTransaction = true;
        return;
      }
      case PgoutputTag.commit: {
        const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        const endLsn = readLsn(view, 10);
        this.watermark.noteCommit(endLsn, this.seq);
        this.inTransaction = false;
        this.backfill?.noteCommit(endLsn);
        return;
      }
      case PgoutputTag.relation: {
        const relation = decodePgoutput(bytes);
        if (relation.tag !== 'relation') throw new WalRouterError('relation message did not decode as one');
        // Decided again at every Relation message: a rename may move a table in or out.
        if (
          isBackfillStateTable(relation.schema, relation.name) ||
          (this.options.filter && !this.options.filter.includesTable(relation.schema, relation.name))
        ) {
          this.excludedRelations.add(relation.relationId);
          return;
        }
        this.excludedRelations.delete(relation.relationId);
        let shard = this.shardOfRelation.get(relation.relationId);
        if (shard === undefined) {
          shard = this.shardForNewTable(relation.schema, relation.name);
          this.shardOfRelation.set(relation.relationId, shard);
        }
        this.append(shard, FrameKind.relation, bytes, 0);
        // A copy: `bytes` is a Node Buffer over the protocol parser's read buffer, which the next
        // socket read overwrites, and Buffer's slice() would only be a view of it.
        this.routedRelations.set(relation.relationId, { relation, bytes: new Uint8Array(bytes) });
        this.backfill?.noteRelation(relation);
        return;
      }
      case PgoutputTag.insert:
      case PgoutputTag.update:
      case PgoutputTag.delete: {
        const relationId = peekRelationId(bytes);
        if (this.skipsAction[bytes[0]!] || this.excludedRelations.has(relationId)) {
          this.meta.commitIdx++;
          return;
        }
        const shard = this.shardOf(relationId);
        if (relationId === this.backfill?.watchedRelationId) {
          const change = decodePgoutput(bytes);
          if (change.tag === 'insert' || change.tag === 'update' || change.tag === 'delete')
            this.backfill.noteChange(change);
        }
        this.seq++;
        this.append(shard, FrameKind.change, bytes, this.seq);
        this.meta.commitIdx++;
        return;
      }
      case PgoutputTag.truncate: {
        const truncate = decodePgoutput(bytes);
        if (truncate.tag !== 'truncate') throw new WalRouterError('truncate message did not decode as one');
        // One frame per shard involved; each shard emits the events of the tables it owns,
        // with commit_idx = this base + the table's position in the message.
        if (!this.skipsAction[PgoutputTag.truncate]) {
          const routed = truncate.relationIds.filter((id) => !this.excludedRelations.has(id));
          const shards = new Set(routed.map((id) => this.shardOf(id)));
          this.backfill?.noteTruncate(routed);
          for (const shard of shards) {
            this.seq++;
            this.append(shard, FrameKind.change, bytes, this.seq);
          }
        }
        this.meta.commitIdx += truncate.relationIds.length;
        return;
      }
      case PgoutputTag.message:
        this.routeLogicalMessage(bytes);
        return;
      default:
        // Origin and Type messages carry nothing that we publish.
        return;
    }
  }

  private routeLogicalMessage(bytes: Uint8Array): void {
    const message = decodePgoutput(bytes);
    if (message.tag !== 'message') return;
    if (message.transactional) {
      if (message.prefix === ANNOTATIONS_SET_PREFIX) {
        try {
          JSON.parse(message.content);
          this.meta.annotations = message.content;
        } catch {
          this.options.onWarning?.(
            `ignored transaction annotations that are not JSON: ${message.content.slice(0, 200)}`,
          );
        }
      } else if (message.prefix === ANNOTATIONS_CLEAR_PREFIX) {
        this.meta.annotations = null;
      } else if (this.backfill) {
        const kind = watermarkKindOf(message.prefix);
        const token = kind === null ? null : parseWatermarkContent(message.content);
        if (kind !== null && token !== null) {
          const reads = this.backfill.onWatermark(kind, token, this.backfillStreamRelation(token));
          if (reads) this.routeReads(reads);
        }
      }
      return;
    }
    // A heartbeat between transactions: every change before it has a smaller seq, and every
    // transaction committing after it has a larger commit LSN, so confirming its LSN once all
    // is delivered skips nothing undelivered on restart.
    if (message.prefix === HEARTBEAT_PREFIX && !this.inTransaction)
      this.watermark.noteCommit(message.lsn, this.seq);
  }

  /** The stream's latest Relation message of the table the chunk `token` reads, if routed. */
  private backfillStreamRelation(token: string): RelationMessage | undefined {
    const relationId = this.backfill?.relationIdOf(token);
    return relationId === undefined ? undefined : this.routedRelations.get(relationId)?.relation;
  }

  /**
   * Routes the rows of a chunk as `read` frames, inside the high watermark's transaction (so
   * its commit is confirmed only once they are delivered). When the shard may know the table
   * otherwise than the chunk was read (no change of it in this session yet, or a schema change
   * since), a Relation frame describing the chunk goes first, and the stream's own after, so
   * that the changes that follow decode as before.
   */
  private routeReads(reads: ChunkReads): void {
    const { relation } = reads;
    // The backfill driver refuses tables and actions the filter leaves out; this is a backstop.
    if (this.excludedRelations.has(relation.relationId) || this.skipsReads) return;
    const known = this.routedRelations.get(relation.relationId);
    const same = known !== undefined && sameRelation(known.relation, relation);
    let shard = this.shardOfRelation.get(relation.relationId);
    if (shard === undefined) {
      shard = this.shardForNewTable(relation.schema, relation.name);
      this.shardOfRelation.set(relation.relationId, shard);
    }
    if (!same) this.append(shard, FrameKind.relation, encodeRelationMessage(relation), 0);
    const commitIdx = this.meta.commitIdx;
    for (const { index, row } of reads.rows) {
      this.seq++;
      // The row's place in the chunk as read: its idempotency key does not depend on which
      // rows the window dropped.
      this.meta.commitIdx = index;
      // Copied into the batch by append(): one scratch buffer serves every row.
      this.append(
        shard,
        FrameKind.read,
        writeRowMessage(this.rowScratch, relation.relationId, row),
        this.seq,
      );
    }
    this.meta.commitIdx = commitIdx;
    if (!same && known !== undefined) this.append(shard, FrameKind.relation, known.bytes, 0);
  }

  private shardOf(relationId: number): number {
    const shard = this.shardOfRelation.get(relationId);
    if (shard === undefined)
      throw new WalRouterError(`change for relation ${relationId} before its Relation message`);
    return shard;
  }

  private append(shard: number, kind: FrameKind, bytes: Uint8Array, seq: number): void {
    this.meta.seq = seq;
    const writer = this.writers[shard]!;
    writer.append(kind, this.meta, bytes);
    if (kind !== FrameKind.relation) {
      this.watermark.noteSent(shard, seq);
    }
    if (writer.frameCount >= this.options.maxBatchFrames) this.flushShard(shard);
  }

  /** Hands over every non-empty batch. */
  flush(): void {
    for (let shard = 0; shard < this.writers.length; shard++) this.flushShard(shard);
  }

  /** Whether some frames wait in a writer. */
  hasUnflushed(): boolean {
    return this.writers.some((w) => w.frameCount > 0);
  }

  private flushShard(shard: number): void {
    const writer = this.writers[shard]!;
    if (writer.frameCount === 0) return;
    this.deliverBatch(shard, writer.take());
  }
}
