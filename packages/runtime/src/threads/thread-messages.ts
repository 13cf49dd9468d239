/**
 * The typed messages and apis between threads.
 *
 * Data path (plain MessagePorts, no comlink): reader → shard `batch` with a transferred
 * buffer; shard → reader `delivered` with its frontier. Control path (comlink): main → reader
 * and main → shard apis below.
 */
import type { ChangeBatch, Config, PgTypeInfo, SerializedError } from '@wal2nats/core';
import type { RoleStatus } from '../ha/slot-lease.js';
import type { MetricsJson } from '../metrics/thread-metrics.js';
import type { MessageCounts, MessageDetail, MessageQuery, MessageView } from '../messages/message-view.js';

export interface BatchMessage {
  readonly type: 'batch';
  readonly batch: ChangeBatch;
}

export interface DeliveredMessage {
  readonly type: 'delivered';
  /** Every change of the shard with seq <= frontier is delivered. */
  readonly frontier: number;
  /** Messages the shard holds undelivered. */
  readonly undelivered: number;
  /** Batches the shard has taken in so far. */
  readonly batchesReceived: number;
}

/** The replication session ended: drop every change up to `throughSeq`, publish none of it. */
export interface FenceMessage {
  readonly type: 'fence';
  readonly throughSeq: number;
}

export type ReaderToShard = BatchMessage | FenceMessage;
export type ShardToReader = DeliveredMessage;

/** What a run of a thread ended with. Errors cross as data so that their codes survive. */
export type RunOutcome = { readonly ok: true } | { readonly ok: false; readonly error: SerializedError };

export interface ShardStatus {
  readonly shard: number;
  readonly natsConnected: boolean;
  readonly undelivered: number;
  readonly failing: readonly {
    table: string;
    attempts: number;
    lastError: string | null;
    nextAttemptAt: number;
  }[];
}

export interface ShardApi {
  /** Connects to NATS and starts publishing. Resolves when the shard stops or fails for good. */
  run(): Promise<RunOutcome>;
  /** Stops taking new work, delivers what it can within `timeoutMs`, and returns the frontier. */
  drain(timeoutMs: number): Promise<DeliveredMessage>;
  metrics(): Promise<MetricsJson>;
  status(): ShardStatus;
  /** The messages view (console, `GET /api/messages`): in flight, failing, recently delivered. */
  messages(query: MessageQuery): MessageView[];
  /** One message with headers and body, or null when this shard does not hold it. */
  message(id: string): MessageDetail | null;
  messageCounts(): MessageCounts;
  /** Retries now the failing table whose head is `id`, or every failing table; returns how many. */
  retryNow(id?: string): number;
}

export interface ReaderStatus {
  readonly streaming: boolean;
  readonly confirmedLsn: string;
  readonly lastError: string | null;
  /** High availability: active or standby, since when, and who is active. */
  readonly ha: RoleStatus;
}

export interface ReaderApi {
  /** Streams until stopped; resolves with a fatal error if Postgres refuses us for good. */
  run(): Promise<RunOutcome>;
  /** Stops reading from the slot and hands out what was read. */
  pause(): Promise<void>;
  /** Takes the shards' final frontiers, confirms what they delivered, and closes. */
  finish(finalFrontiers: readonly DeliveredMessage[]): Promise<void>;
  metrics(): Promise<MetricsJson>;
  status(): ReaderStatus;
}

export interface ShardWorkerData {
  readonly shard: number;
  readonly config: Config;
  readonly systemIdentifier: string;
  readonly databaseName: string;
  readonly primaryKeys: Record<string, string[]>;
  /** Every user-defined type at start (shard/type-cache.ts). */
  readonly userTypes: readonly PgTypeInfo[];
  readonly readerPort: import('node:worker_threads').MessagePort;
  readonly logFormat: 'json' | 'pretty';
  /** The publish lease (ha/publish-lease.ts), shared with the reader. */
  readonly leaseBuffer: SharedArrayBuffer;
  /** JetStream mode: the stream of each shard (shard i publishes to streams[i]). */
  readonly streams: readonly import('../sink/jetstream-check.js').ChainStream[];
}

export interface ReaderWorkerData {
  readonly config: Config;
  readonly startLsn: string;
  readonly serverVersionNum: number;
  readonly shardPorts: readonly import('node:worker_threads').MessagePort[];
  readonly logFormat: 'json' | 'pretty';
  /** The `<database>` token of subjects: part of what a standby must share with the active one. */
  readonly databaseName: string;
  /** The publish lease (ha/publish-lease.ts), shared with the shards. */
  readonly leaseBuffer: SharedArrayBuffer;
  /** JetStream mode: tables are routed to the shard of the stream that captures them. */
  readonly streams: readonly import('../sink/jetstream-check.js').ChainStream[];
}
