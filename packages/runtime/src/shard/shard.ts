/**
 * One shard: decodes the raw pgoutput frames the reader sends, encodes each change as the
 * contract's JSON into its table's mailbox (or, in JetStream mode, its stream's chain),
 * publishes, and reports the delivered frontier back to the reader.
 *
 * Its dependencies come in through the constructor (where NATS is, what to report to, logger,
 * metrics, catalog, lease), so a shard runs in a worker thread (shard-worker.ts, the thin entry
 * that builds one) or in-process against a fake sink (shard.test.ts).
 */
import {
  ChangeEncoder,
  decodePgoutput,
  errorMessage,
  DEFAULT_BACKOFF,
  PgoutputTag,
  FrameKind,
  forEachFrame,
  idempotencyKeyPrefix,
  JsonBytes,
  peekRelationId,
  serializeError,
  WalRouterError,
  type Config,
  type EncoderContext,
  type FrameMeta,
  type RelationMessage,
  type RowBytesResult,
} from '@wal2nats/core';
import type { Logger } from '../log/logger.js';
import type { ShardMetrics } from '../metrics/shard-metrics.js';
import { CORE_CYCLES_IN_FLIGHT, CoreNatsSink } from '../sink/core-nats-sink.js';
import type { DeliverySink } from '../sink/delivery-sink.js';
import type { ChainStream } from '../sink/jetstream-check.js';
import type { NatsLink } from '../sink/nats-link.js';
import { NatsStreamClient } from '../sink/nats-stream-client.js';
import { isAtOrBelow, readStreamTail, type CommitPosition } from '../sink/stream-tail.js';
import type {
  BatchMessage,
  DeliveredMessage,
  ReaderToShard,
  RunOutcome,
  ShardStatus,
  ShardToReader,
} from '../threads/thread-messages.js';
import type { MessageTracker } from './message-tracker.js';
import { needsCatalog, type RelationCatalog } from './relation-catalog.js';
import { ShardPublisher } from './shard-publisher.js';
import {
  JETSTREAM_ACK_TIMEOUT_MS,
  JETSTREAM_WINDOW_BYTES,
  otherWriter,
  StreamPublisher,
} from './stream-publisher.js';

/** How often run() looks for a fatal error of the sink. */
const FATAL_CHECK_MS = 500;
const NO_RELATIONS: RelationMessage[] = [];

export interface ShardOptions {
  readonly shard: number;
  readonly config: Config;
  readonly systemIdentifier: string;
  readonly databaseName: string;
  readonly primaryKeys: Record<string, string[]>;
  /** JetStream mode: the stream of each shard (shard i publishes to streams[i]). */
  readonly streams: readonly ChainStream[];
}

export interface ShardDependencies {
  readonly log: Logger;
  readonly metrics: ShardMetrics;
  /** Primary keys and types of tables whose Relation message does not say enough. */
  readonly catalog: Pick<RelationCatalog, 'infoFor' | 'resolve' | 'close'>;
  /** What the console and `GET /api/messages` show of this shard. */
  readonly tracker: MessageTracker;
  /** Whether this process may publish now (high availability: ha/publish-lease.ts). */
  readonly mayPublish: () => boolean;
  /** Sends the reader a message (the delivered frontier). */
  readonly report: (message: ShardToReader) => void;
  /** Connects to NATS, waiting while it is unreachable (NatsLink.connect). */
  readonly connect: () => Promise<NatsLink>;
  /** Core NATS: the sink a connection publishes through. Default: CoreNatsSink. */
  readonly coreSink?: (link: NatsLink) => DeliverySink;
}

export class Shard {
  private readonly context: EncoderContext;
  private readonly encoders = new Map<number, ChangeEncoder>();
  private publisher: ShardPublisher | StreamPublisher | null = null;
  /** Core NATS: the shard's sink. JetStream mode: the stream's client (one chain per stream). */
  private sink: Pick<DeliverySink, 'connected' | 'fatalError' | 'close'> | null = null;
  /** JetStream mode: changes the stream already holds (read at start) are not published again. */
  private skipThrough: CommitPosition | null = null;
  /**
   * JetStream mode: read the stream's tail again before the next batch (set at start and after
   * every fence). A standby's shards start long before it takes over, and a fenced session may be
   * followed by another process's: the chain must continue from the stream's real last sequence
   * and skip what the other process stored, not from what it read at start.
   */
  private rereadTail: (() => Promise<boolean>) | null = null;
  private tailStale = false;
  private skipped = 0;
  private batchesReceived = 0;
  private draining = false;
  private failRun: ((outcome: RunOutcome) => void) | null = null;
  /**
   * A frame could not be decoded: nothing more is taken in. A later batch would move the
   * frontier past the change that was never enqueued, and the reader would confirm it.
   */
  private stoppedOnBadFrame = false;
  /** Why, for a run() that starts waiting after it stopped (a bad frame in a batch taken in at start). */
  private badFrameOutcome: RunOutcome | null = null;
  private readonly pendingBatches: ReaderToShard[] = [];
  private lookingUp = false;
  /** The Relation messages of the batch being ingested (relationsOf), and the next one's index. */
  private batchRelations: readonly RelationMessage[] = NO_RELATIONS;
  private nextRelation = 0;
  /** The encoder's scratch: one change's JSON body, and what it is. */
  private readonly body = new JsonBytes();
  private readonly row: RowBytesResult = {
    subject: '',
    action: 'insert',
    msgId: null,
    msgIdStart: -1,
    msgIdEnd: -1,
  };
  private readonly shardLabel: { shard: string };

  constructor(
    private readonly options: ShardOptions,
    private readonly deps: ShardDependencies,
  ) {
    const { config } = options;
    this.context = {
      subjectPrefix: config.subjectPrefix,
      databaseName: options.databaseName,
      idempotencyPrefix: idempotencyKeyPrefix(options.systemIdentifier, options.databaseName),
      consumerId: config.slot,
      consumerName: 'wal2nats',
      primaryKeys: new Map(Object.entries(options.primaryKeys)),
      messageKind: config.messageKind,
    };
    this.shardLabel = { shard: String(options.shard) };
    deps.metrics.natsConnected.set(this.shardLabel, 0);
    deps.metrics.natsReconnects.inc(this.shardLabel, 0);
  }

  /** A message from the reader: a batch of frames, or a fence. Handled in arrival order. */
  receive(message: ReaderToShard): void {
    this.pendingBatches.push(message);
    void this.ingestPending();
  }

  /** Connects to NATS and starts publishing. Resolves when the shard stops or fails for good. */
  async run(): Promise<RunOutcome> {
    const { shard, config } = this.options;
    const { metrics, log } = this.deps;
    let link: NatsLink;
    try {
      link = await this.deps.connect();
      metrics.natsConnected.set(this.shardLabel, 1);
      link.onEpochChange(() => metrics.natsConnected.set(this.shardLabel, link.connected ? 1 : 0));
      link.onReconnect(() => metrics.natsReconnects.inc(this.shardLabel));
      if (this.draining) {
        // Asked to stop while still connecting: nothing was published, nothing to deliver.
        await link.close();
        return { ok: true };
      }
      if (config.jetstream) return await this.runJetStream(link);
      this.sink = this.deps.coreSink ? this.deps.coreSink(link) : new CoreNatsSink(link);
    } catch (error) {
      return { ok: false, error: serializeError(error) };
    }
    const publisher = new ShardPublisher(
      {
        shard,
        backoff: { ...DEFAULT_BACKOFF, maxMs: config.maxBackoffMs },
        maxCycleMessages: 8192,
        // Core NATS confirms a whole cycle at once (JetStream mode publishes through a chain).
        tableWindow: 8192,
        maxCyclesInFlight: CORE_CYCLES_IN_FLIGHT,
        // A process that lost (or may have lost) the slot publishes nothing it still holds.
        mayPublish: this.deps.mayPublish,
      },
      this.sink as DeliverySink,
      metrics,
      log,
      (frontier) => this.report(frontier),
      this.deps.tracker,
    );
    this.publisher = publisher;
    void this.ingestPending();
    publisher.start();
    return this.untilFatal(() => this.sink?.fatalError ?? null);
  }

  /** Stops taking new work, delivers what it can within `timeoutMs`, and returns the frontier. */
  async drain(timeoutMs: number): Promise<DeliveredMessage> {
    this.draining = true;
    const deadline = Date.now() + timeoutMs;
    const publisher = this.publisher;
    if (publisher) {
      // Deliver what can be delivered now; a table that is backing off keeps its messages
      // undelivered (and so unconfirmed) for the next start.
      while (!publisher.isSettled() && Date.now() < deadline && this.sink?.connected) {
        await new Promise<void>((resolve) => setTimeout(resolve, 10));
      }
      await publisher.stop();
    }
    // A batch still waiting for the catalog stays undelivered, so unconfirmed: replayed next start.
    await this.deps.catalog.close();
    await this.sink?.close();
    const frontier = publisher?.frontier() ?? { frontier: 0, undelivered: 0 };
    this.failRun?.({ ok: true });
    return {
      type: 'delivered',
      frontier: frontier.frontier,
      undelivered: frontier.undelivered,
      batchesReceived: this.batchesReceived,
    };
  }

  status(): ShardStatus {
    return {
      shard: this.options.shard,
      natsConnected: this.sink?.connected ?? false,
      undelivered: this.publisher?.frontier().undelivered ?? 0,
      failing: this.failing(),
    };
  }

  /** The failing tables (for status, the console and the API). */
  failing(): ReturnType<ShardPublisher['failing']> {
    return this.publisher?.failing() ?? [];
  }

  /** Retries now the failing table whose head is `id`, or every failing table; returns how many. */
  retryNow(id?: string): number {
    return this.publisher?.retryNow(id) ?? 0;
  }

  private async runJetStream(link: NatsLink): Promise<RunOutcome> {
    const { shard, config } = this.options;
    const { metrics, log } = this.deps;
    const stream = this.options.streams[shard]!;
    const idempotencyPrefix = this.context.idempotencyPrefix!;
    const tail = await readStreamTail(link.nc, stream.name, idempotencyPrefix, log, () => this.draining);
    if (tail === null) {
      await link.close();
      return { ok: true };
    }
    this.skipThrough = tail.skipThrough;
    const client = new NatsStreamClient(link, stream);
    this.sink = client;
    const streamPublisher = new StreamPublisher(
      {
        shard,
        stream: stream.name,
        backoff: { ...DEFAULT_BACKOFF, maxMs: config.maxBackoffMs },
        window: config.jetstreamWindow,
        windowBytes: JETSTREAM_WINDOW_BYTES,
        ackTimeoutMs: JETSTREAM_ACK_TIMEOUT_MS,
        mayPublish: this.deps.mayPublish,
      },
      metrics,
      log,
      (frontier) => this.report(frontier),
      this.deps.tracker,
    );
    client.attach(streamPublisher.start(client, tail.lastSeq));
    this.rereadTail = async () => {
      // A chain that still holds messages keeps its sequence: if another process wrote
      // since, its next send says so (another writer: exit 3), which fences this one.
      if (!streamPublisher.isIdle()) return true;
      try {
        const fresh = await readStreamTail(link.nc, stream.name, idempotencyPrefix, log, () => this.draining);
        if (fresh === null) return false;
        streamPublisher.continueAfter(fresh.lastSeq);
        this.skipThrough = fresh.skipThrough;
        return true;
      } catch (error) {
        this.failRun?.({ ok: false, error: serializeError(error) });
        return false;
      }
    };
    this.tailStale = true;
    log.info('publishing to a JetStream stream in commit order', {
      stream: stream.name,
      last_sequence: tail.lastSeq,
      skip_through_lsn: tail.skipThrough?.lsn ?? null,
      skip_through_idx: tail.skipThrough?.idx ?? null,
    });
    this.publisher = streamPublisher;
    void this.ingestPending();
    return await this.untilFatal(
      () => this.sink?.fatalError ?? (streamPublisher.broken ? otherWriter(streamPublisher.broken) : null),
    );
  }

  private report(frontier: { frontier: number; undelivered: number }): void {
    this.deps.report({
      type: 'delivered',
      frontier: frontier.frontier,
      undelivered: frontier.undelivered,
      batchesReceived: this.batchesReceived,
    });
  }

  /** Whether the stream already holds this change (JetStream mode, after a restart). */
  private alreadyStored(lsn: number, idx: number): boolean {
    if (this.skipThrough === null) return false;
    if (isAtOrBelow(lsn, idx, this.skipThrough)) {
      this.skipped++;
      return true;
    }
    this.deps.log.info('skipped the changes the JetStream stream already holds', {
      changes: this.skipped,
      through_lsn: this.skipThrough.lsn,
      through_idx: this.skipThrough.idx,
    });
    this.skipThrough = null;
    return false;
  }

  /**
   * Every frame of a batch becomes bytes through one path: the encoder writes the change's JSON
   * body into `this.body`, and the publisher copies it into its slabs as the whole frame NATS
   * gets. Inserts, updates and deletes (change frames) and backfill rows (read frames, carried as
   * Insert messages) go from their pgoutput bytes to the body without being decoded to strings.
   */
  private readonly encodeFrame = (kind: FrameKind, meta: FrameMeta, payload: Uint8Array): void => {
    if (kind === FrameKind.relation) {
      const relation = this.batchRelations[this.nextRelation++];
      if (!relation) throw new WalRouterError('a relation frame that relationsOf() did not see');
      this.addEncoder(relation);
      return;
    }
    // A truncate of several tables numbers each table's event: checked per table there.
    if (kind === FrameKind.change && payload[0] === PgoutputTag.truncate) {
      this.encodeTruncate(meta, payload);
      return;
    }
    if (this.alreadyStored(meta.commitLsn, meta.commitIdx)) return;
    const encoder = this.encoders.get(peekRelationId(payload));
    const written =
      kind === FrameKind.read
        ? encoder?.encodeReadBytes(payload, meta, this.body, this.row)
        : encoder?.encodeRowBytes(payload, meta, this.body, this.row);
    if (!written) throw unreadableRow(kind, payload, encoder !== undefined);
    this.publisher!.enqueue(
      encoder!.relation.relationId,
      encoder!.label,
      meta.seq,
      meta.commitTime,
      this.row,
      this.body,
    );
  };

  /** A new version of a table: its encoder (the catalog's answer was looked up before). */
  private addEncoder(relation: RelationMessage): void {
    const info = needsCatalog(relation, this.context.primaryKeys?.get(`${relation.schema}.${relation.name}`))
      ? this.deps.catalog.infoFor(relation.relationId)
      : undefined;
    this.encoders.set(relation.relationId, new ChangeEncoder(relation, this.context, info));
  }

  /** One `truncate` event per table of this shard that the Truncate message names. */
  private encodeTruncate(meta: FrameMeta, payload: Uint8Array): void {
    const message = decodePgoutput(payload);
    if (message.tag !== 'truncate')
      throw new WalRouterError(`a truncate frame holds a ${message.tag} message`);
    message.relationIds.forEach((relationId, i) => {
      const encoder = this.encoders.get(relationId);
      // Tables owned by other shards are theirs to announce.
      if (!encoder || this.alreadyStored(meta.commitLsn, meta.commitIdx + i)) return;
      encoder.encodeTruncateBytes({ ...meta, commitIdx: meta.commitIdx + i }, this.body, this.row);
      this.publisher!.enqueue(relationId, encoder.label, meta.seq, meta.commitTime, this.row, this.body);
    });
  }

  private ingest(message: BatchMessage, relations: readonly RelationMessage[]): void {
    const skippedBefore = this.skipped;
    this.batchRelations = relations;
    this.nextRelation = 0;
    try {
      forEachFrame(message.batch, this.encodeFrame);
    } catch (error) {
      this.stopOnBadFrame(error);
      return;
    } finally {
      this.batchRelations = NO_RELATIONS;
    }
    this.batchesReceived++;
    this.publisher!.received(message.batch.lastSeq);
    // Skipped changes are never delivered: the frontier moves past them here.
    if (message.batch.changeCount === 0 || this.skipped !== skippedBefore)
      this.report(this.publisher!.frontier());
  }

  /**
   * The Relation messages of a batch, decoded (once: encodeFrame takes them from here), in frame
   * order. Only relation frames are not change frames: most batches have none.
   */
  private relationsOf(message: BatchMessage): RelationMessage[] {
    if (message.batch.frameCount === message.batch.changeCount) return NO_RELATIONS;
    const relations: RelationMessage[] = [];
    forEachFrame(message.batch, (kind, _meta, payload) => {
      if (kind !== FrameKind.relation) return;
      const relation = decodePgoutput(payload);
      if (relation.tag !== 'relation')
        throw new WalRouterError(`a relation frame holds a ${relation.tag} message`);
      relations.push(relation);
    });
    return relations;
  }

  /**
   * Ingests the waiting batches in order. A batch whose Relation messages need the catalog waits
   * for the lookup, and every batch behind it waits too (their number is bounded by the reader's
   * mailbox capacity, as they are not delivered).
   */
  private async ingestPending(): Promise<void> {
    const publisher = this.publisher;
    if (this.lookingUp || !publisher) return;
    this.lookingUp = true;
    try {
      while (this.pendingBatches.length > 0) {
        const message = this.pendingBatches[0]!;
        if (message.type === 'fence') {
          this.pendingBatches.shift();
          publisher.fence(message.throughSeq);
          this.report(publisher.frontier());
          this.tailStale = this.rereadTail !== null;
          continue;
        }
        if (this.stoppedOnBadFrame) return;
        if (this.tailStale && !(await this.rereadTail!())) return;
        this.tailStale = false;
        let relations: RelationMessage[];
        try {
          relations = this.relationsOf(message);
        } catch (error) {
          this.stopOnBadFrame(error);
          return;
        }
        const lookUp = relations.filter((relation) =>
          needsCatalog(relation, this.context.primaryKeys?.get(`${relation.schema}.${relation.name}`)),
        );
        if (lookUp.length > 0 && !(await this.deps.catalog.resolve(lookUp))) return;
        this.pendingBatches.shift();
        this.ingest(message, relations);
      }
    } finally {
      this.lookingUp = false;
    }
  }

  /** A frame we cannot decode must not be skipped: stop, so that nothing past it is confirmed. */
  private stopOnBadFrame(error: unknown): void {
    this.stoppedOnBadFrame = true;
    this.badFrameOutcome = { ok: false, error: serializeError(error) };
    this.deps.log.error('cannot decode a change; stopping', { error: errorMessage(error) });
    this.failRun?.(this.badFrameOutcome);
  }

  /** Runs until drain() or a fatal error (checked every 500 ms). */
  private untilFatal(fatalError: () => Error | null): Promise<RunOutcome> {
    return new Promise<RunOutcome>((resolve) => {
      this.failRun = resolve;
      // The batches that came before the connection are taken in before run() waits here.
      if (this.badFrameOutcome) {
        resolve(this.badFrameOutcome);
        return;
      }
      const fatalCheck = setInterval(() => {
        const error = fatalError();
        if (error) {
          clearInterval(fatalCheck);
          resolve({ ok: false, error: serializeError(error) });
        }
      }, FATAL_CHECK_MS);
      fatalCheck.unref();
    });
  }
}

/**
 * A row frame the encoder declined. It reads every row message pgoutput v1 sends (text values,
 * nulls, unchanged TOAST; binary values are never asked for), so the frame is broken or its
 * table's Relation message never came: the decoder says what is wrong (it throws a
 * PgoutputDecodeError for the same frames), and the shard stops on it.
 */
function unreadableRow(kind: FrameKind, payload: Uint8Array, hasEncoder: boolean): Error {
  const message = decodePgoutput(payload);
  const what = kind === FrameKind.read ? 'read' : 'change';
  if (!hasEncoder && 'relationId' in message)
    return new WalRouterError(`${what} of relation ${message.relationId} before its Relation message`);
  return new WalRouterError(`a ${what} frame holds a ${message.tag} message that cannot be encoded`);
}
