/**
 * Entry of a shard worker thread: decodes the raw pgoutput frames the reader sends, encodes
 * each change as the contract's JSON into its table's mailbox, publishes, and reports the
 * delivered frontier back to the reader.
 */
import { parentPort, workerData } from 'node:worker_threads';
import {
  ChangeEncoder,
  decodePgoutput,
  DEFAULT_BACKOFF,
  ErrorCode,
  PgoutputTag,
  Wal2NatsError,
  FrameKind,
  forEachFrame,
  idempotencyKeyPrefix,
  JsonBytes,
  peekRelationId,
  serializeError,
  WalRouterError,
  type EncoderContext,
  type FrameMeta,
  type RelationMessage,
  type RowBytesResult,
} from '@wal2nats/core';
import { createLogger } from '../log/logger.js';
import { createShardMetrics } from '../metrics/shard-metrics.js';
import { createThreadRegistry, registryJson } from '../metrics/thread-metrics.js';
import { CoreNatsSink } from '../sink/core-nats-sink.js';
import type { DeliverySink } from '../sink/delivery-sink.js';
import type { ChainBroken } from '../sink/jetstream-chain.js';
import { NatsLink } from '../sink/nats-link.js';
import { NatsStreamClient } from '../sink/nats-stream-client.js';
import { isAtOrBelow, readStreamTail, type CommitPosition } from '../sink/stream-tail.js';
import { exposeApi } from '../threads/comlink.js';
import type { BatchMessage, DeliveredMessage, ReaderToShard, RunOutcome, ShardApi, ShardStatus, ShardToReader, ShardWorkerData } from '../threads/thread-messages.js';
import { needsCatalog, RelationCatalog } from './relation-catalog.js';
import { MessageTracker } from './message-tracker.js';
import { ShardPublisher } from './shard-publisher.js';
import { PublishLease } from '../ha/publish-lease.js';
import { StreamPublisher } from './stream-publisher.js';

const data = workerData as ShardWorkerData;
/** Bytes in flight per stream at most (with --jetstream-window messages). */
const JETSTREAM_WINDOW_BYTES = 4 * 1024 * 1024;
/** A send unanswered this long is resent (alone, after the window settles): it costs a repair. */
const JETSTREAM_ACK_TIMEOUT_MS = 2000;
const { config, shard, readerPort } = data;
const thread = `shard-${shard}`;
const log = createLogger({ level: config.logLevel, format: data.logFormat, thread });
const registry = createThreadRegistry(thread);
const metrics = createShardMetrics(registry);
metrics.natsConnected.set({ shard: String(shard) }, 0);
metrics.natsReconnects.inc({ shard: String(shard) }, 0);
/** What the console and `GET /api/messages` show of this shard. */
const tracker = new MessageTracker({ shard });
const lease = new PublishLease(data.leaseBuffer);

const context: EncoderContext = {
  subjectPrefix: config.subjectPrefix,
  databaseName: data.databaseName,
  idempotencyPrefix: idempotencyKeyPrefix(data.systemIdentifier, data.databaseName),
  consumerId: config.slot,
  consumerName: 'wal2nats',
  primaryKeys: new Map(Object.entries(data.primaryKeys)),
  messageKind: config.messageKind,
};
const encoders = new Map<number, ChangeEncoder>();
const catalog = new RelationCatalog(config, log, data.userTypes, (unknown) => metrics.unknownColumnTypes.inc({ table: unknown.table }));
let publisher: ShardPublisher | StreamPublisher | null = null;
/** Core NATS: the shard's sink. JetStream mode: the stream's client (one chain per stream). */
let sink: Pick<DeliverySink, 'connected' | 'fatalError' | 'close'> | null = null;
/** JetStream mode: changes the stream already holds (read at start) are not published again. */
let skipThrough: CommitPosition | null = null;
/**
 * JetStream mode: read the stream's tail again before the next batch (set at start and after
 * every fence). A standby's shards start long before it takes over, and a fenced session may be
 * followed by another process's: the chain must continue from the stream's real last sequence
 * and skip what the other process stored, not from what it read at start.
 */
let rereadTail: (() => Promise<boolean>) | null = null;
let tailStale = false;
let skipped = 0;
let batchesReceived = 0;
let draining = false;
let failRun: ((outcome: RunOutcome) => void) | null = null;
const pendingBatches: ReaderToShard[] = [];

function report(frontier: { frontier: number; undelivered: number }): void {
  const message: ShardToReader = { type: 'delivered', frontier: frontier.frontier, undelivered: frontier.undelivered, batchesReceived };
  readerPort.postMessage(message);
}

/** The byte path's scratch: one change's JSON body, and what it is. */
const body = new JsonBytes();
const row: RowBytesResult = { subject: '', action: 'insert', msgId: null, msgIdStart: -1, msgIdEnd: -1 };

/** Whether the stream already holds this change (JetStream mode, after a restart). */
function alreadyStored(lsn: number, idx: number): boolean {
  if (skipThrough === null) return false;
  if (isAtOrBelow(lsn, idx, skipThrough)) {
    skipped++;
    return true;
  }
  log.info('skipped the changes the JetStream stream already holds', { changes: skipped, through_lsn: skipThrough.lsn, through_idx: skipThrough.idx });
  skipThrough = null;
  return false;
}

function encodeFrame(kind: FrameKind, meta: FrameMeta, payload: Uint8Array): void {
  // A truncate of several tables numbers each table's event: checked per table below.
  if (kind !== FrameKind.relation && payload[0] !== PgoutputTag.truncate && alreadyStored(meta.commitLsn, meta.commitIdx)) return;
  if (kind === FrameKind.change) {
    // Inserts, updates and deletes go from pgoutput bytes to JSON bytes (no string per value);
    // anything else, or a row it declines, takes the decoder's path below.
    const encoder = encoders.get(peekRelationId(payload));
    if (encoder?.encodeRowBytes(payload, meta, body, row)) {
      publisher!.enqueueBody(encoder.relation.relationId, encoder.label, meta.seq, meta.commitTime, row, body);
      return;
    }
  }
  const message = decodePgoutput(payload);
  if (kind === FrameKind.relation) {
    if (message.tag === 'relation') {
      const info = needsCatalog(message, context.primaryKeys?.get(`${message.schema}.${message.name}`)) ? catalog.infoFor(message.relationId) : undefined;
      encoders.set(message.relationId, new ChangeEncoder(message, context, info));
    }
    return;
  }
  const target = publisher!;
  if (kind === FrameKind.read) {
    // A row of a backfill chunk (wal2nats backfill), carried as an Insert message: a `read`.
    if (message.tag !== 'insert') throw new WalRouterError(`a read frame holds a ${message.tag} message`);
    const encoder = encoders.get(message.relationId);
    if (!encoder) throw new WalRouterError(`read of relation ${message.relationId} before its Relation message`);
    target.enqueue(message.relationId, encoder.label, { seq: meta.seq, commitTime: meta.commitTime, ...encoder.encodeRead(message.newTuple, meta) });
    return;
  }
  switch (message.tag) {
    case 'insert':
    case 'update':
    case 'delete': {
      const encoder = encoders.get(message.relationId);
      if (!encoder) throw new WalRouterError(`change for relation ${message.relationId} before its Relation message`);
      const encoded =
        message.tag === 'insert' ? encoder.encodeInsert(message, meta) : message.tag === 'update' ? encoder.encodeUpdate(message, meta) : encoder.encodeDelete(message, meta);
      target.enqueue(message.relationId, encoder.label, { seq: meta.seq, commitTime: meta.commitTime, ...encoded });
      return;
    }
    case 'truncate': {
      message.relationIds.forEach((relationId, i) => {
        const encoder = encoders.get(relationId);
        // Tables owned by other shards are theirs to announce.
        if (!encoder || alreadyStored(meta.commitLsn, meta.commitIdx + i)) return;
        const encoded = encoder.encodeTruncate({ ...meta, commitIdx: meta.commitIdx + i });
        target.enqueue(relationId, encoder.label, { seq: meta.seq, commitTime: meta.commitTime, ...encoded });
      });
      return;
    }
    default:
      return;
  }
}

function ingest(message: BatchMessage): void {
  const skippedBefore = skipped;
  try {
    forEachFrame(message.batch, encodeFrame);
  } catch (error) {
    // A frame we cannot decode must not be skipped: stop, so that nothing past it is confirmed.
    log.error('cannot decode a change; stopping', { error: error instanceof Error ? error.message : String(error) });
    failRun?.({ ok: false, error: serializeError(error) });
    return;
  }
  batchesReceived++;
  publisher!.received(message.batch.lastSeq);
  // Skipped changes are never delivered: the frontier moves past them here.
  if (message.batch.changeCount === 0 || skipped !== skippedBefore) report(publisher!.frontier());
}

/** The Relation messages of a batch that need the catalog before their rows can be encoded. */
function relationsToLookUp(message: BatchMessage): RelationMessage[] {
  // Only relation frames are not change frames: most batches have none.
  if (message.batch.frameCount === message.batch.changeCount) return [];
  const relations: RelationMessage[] = [];
  forEachFrame(message.batch, (kind, _meta, payload) => {
    if (kind !== FrameKind.relation) return;
    const relation = decodePgoutput(payload);
    if (relation.tag === 'relation' && needsCatalog(relation, context.primaryKeys?.get(`${relation.schema}.${relation.name}`))) relations.push(relation);
  });
  return relations;
}

let lookingUp = false;

/**
 * Ingests the waiting batches in order. A batch whose Relation messages need the catalog waits
 * for the lookup, and every batch behind it waits too (their number is bounded by the reader's
 * mailbox capacity, as they are not delivered).
 */
async function ingestPending(): Promise<void> {
  if (lookingUp || !publisher) return;
  lookingUp = true;
  try {
    while (pendingBatches.length > 0) {
      const message = pendingBatches[0]!;
      if (message.type === 'fence') {
        pendingBatches.shift();
        publisher.fence(message.throughSeq);
        report(publisher.frontier());
        tailStale = rereadTail !== null;
        continue;
      }
      if (tailStale && !(await rereadTail!())) return;
      tailStale = false;
      let relations: RelationMessage[];
      try {
        relations = relationsToLookUp(message);
      } catch (error) {
        log.error('cannot decode a change; stopping', { error: error instanceof Error ? error.message : String(error) });
        failRun?.({ ok: false, error: serializeError(error) });
        return;
      }
      if (relations.length > 0 && !(await catalog.resolve(relations))) return;
      pendingBatches.shift();
      ingest(message);
    }
  } finally {
    lookingUp = false;
  }
}

/** Runs until drain() or a fatal error (checked every 500 ms). */
function untilFatal(fatalError: () => Error | null): Promise<RunOutcome> {
  return new Promise<RunOutcome>((resolve) => {
    failRun = resolve;
    const fatalCheck = setInterval(() => {
      const error = fatalError();
      if (error) {
        clearInterval(fatalCheck);
        resolve({ ok: false, error: serializeError(error) });
      }
    }, 500);
    fatalCheck.unref();
  });
}

function otherWriter(broken: ChainBroken): Wal2NatsError {
  return new Wal2NatsError(
    ErrorCode.JetStreamOtherWriter,
    `JetStream stream ${broken.stream} is written by someone else: ${broken.message}`,
    'wal2nats keeps a stream in the database\'s commit order and must be its only writer: if another wal2nats took over this slot, this instance is stale and stopped on purpose; otherwise move the other writer to another stream',
  );
}

readerPort.on('message', (message: ReaderToShard) => {
  pendingBatches.push(message);
  void ingestPending();
});

const api: ShardApi = {
  async run(): Promise<RunOutcome> {
    try {
      const link = await NatsLink.connect(config, `wal2nats shard ${shard}`, log);
      metrics.natsConnected.set({ shard: String(shard) }, 1);
      link.onEpochChange(() => metrics.natsConnected.set({ shard: String(shard) }, link.connected ? 1 : 0));
      link.onReconnect(() => metrics.natsReconnects.inc({ shard: String(shard) }));
      if (draining) {
        // Asked to stop while still connecting: nothing was published, nothing to deliver.
        await link.close();
        return { ok: true };
      }
      if (config.jetstream) {
        const stream = data.streams[shard]!;
        const tail = await readStreamTail(link.nc, stream.name, context.idempotencyPrefix!, log, () => draining);
        if (tail === null) {
          await link.close();
          return { ok: true };
        }
        skipThrough = tail.skipThrough;
        const client = new NatsStreamClient(link, stream);
        sink = client;
        const streamPublisher = new StreamPublisher(
          { shard, stream: stream.name, backoff: { ...DEFAULT_BACKOFF, maxMs: config.maxBackoffMs }, window: config.jetstreamWindow, windowBytes: JETSTREAM_WINDOW_BYTES, ackTimeoutMs: JETSTREAM_ACK_TIMEOUT_MS, mayPublish: () => lease.mayPublish() },
          metrics,
          log,
          report,
          tracker,
        );
        client.attach(streamPublisher.start(client, tail.lastSeq));
        rereadTail = async () => {
          // A chain that still holds messages keeps its sequence: if another process wrote
          // since, its next send says so (another writer: exit 3), which fences this one.
          if (!streamPublisher.isIdle()) return true;
          try {
            const fresh = await readStreamTail(link.nc, stream.name, context.idempotencyPrefix!, log, () => draining);
            if (fresh === null) return false;
            streamPublisher.continueAfter(fresh.lastSeq);
            skipThrough = fresh.skipThrough;
            return true;
          } catch (error) {
            failRun?.({ ok: false, error: serializeError(error) });
            return false;
          }
        };
        tailStale = true;
        log.info('publishing to a JetStream stream in commit order', { stream: stream.name, last_sequence: tail.lastSeq, skip_through_lsn: tail.skipThrough?.lsn ?? null, skip_through_idx: tail.skipThrough?.idx ?? null });
        publisher = streamPublisher;
        void ingestPending();
        return await untilFatal(() => sink?.fatalError ?? (streamPublisher.broken ? otherWriter(streamPublisher.broken) : null));
      }
      sink = new CoreNatsSink(link);
    } catch (error) {
      return { ok: false, error: serializeError(error) };
    }
    publisher = new ShardPublisher(
      {
        shard,
        backoff: { ...DEFAULT_BACKOFF, maxMs: config.maxBackoffMs },
        maxCycleMessages: 8192,
        // Core NATS confirms a whole cycle at once (JetStream mode publishes through a chain).
        tableWindow: 8192,
        // A process that lost (or may have lost) the slot publishes nothing it still holds.
        mayPublish: () => lease.mayPublish(),
      },
      sink as CoreNatsSink,
      metrics,
      log,
      report,
      tracker,
    );
    void ingestPending();
    publisher.start();
    return untilFatal(() => sink?.fatalError ?? null);
  },

  async drain(timeoutMs: number): Promise<DeliveredMessage> {
    draining = true;
    const deadline = Date.now() + timeoutMs;
    if (publisher) {
      // Deliver what can be delivered now; a table that is backing off keeps its messages
      // undelivered (and so unconfirmed) for the next start.
      while (!publisher.isSettled() && Date.now() < deadline && sink?.connected) {
        await new Promise<void>((resolve) => setTimeout(resolve, 10));
      }
      await publisher.stop();
    }
    // A batch still waiting for the catalog stays undelivered, so unconfirmed: replayed next start.
    await catalog.close();
    await sink?.close();
    const frontier = publisher?.frontier() ?? { frontier: 0, undelivered: 0 };
    failRun?.({ ok: true });
    return { type: 'delivered', frontier: frontier.frontier, undelivered: frontier.undelivered, batchesReceived };
  },

  metrics: () => registryJson(registry),

  status(): ShardStatus {
    return { shard, natsConnected: sink?.connected ?? false, undelivered: publisher?.frontier().undelivered ?? 0, failing: publisher?.failing() ?? [] };
  },

  messages: (query) => tracker.list(query, publisher?.failing() ?? []),
  message: (id) => tracker.detail(id, publisher?.failing() ?? []),
  messageCounts: () => tracker.counts(),
  retryNow: (id) => publisher?.retryNow(id) ?? 0,
};

exposeApi(api, parentPort!);
