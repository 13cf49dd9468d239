/**
 * Entry of a shard worker thread: builds one Shard (shard.ts) from the worker's data, wires its
 * reports to the reader's port, and exposes its control api to the main thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createLogger } from '../log/logger.js';
import { createShardMetrics } from '../metrics/shard-metrics.js';
import { createThreadRegistry, registryJson } from '../metrics/thread-metrics.js';
import { NatsLink } from '../sink/nats-link.js';
import { exposeApi } from '../threads/comlink.js';
import type { ReaderToShard, ShardApi, ShardWorkerData } from '../threads/thread-messages.js';
import { PublishLease } from '../ha/publish-lease.js';
import { DeliveryReports } from './delivery-reports.js';
import { MessageTracker } from './message-tracker.js';
import { RelationCatalog } from './relation-catalog.js';
import { Shard } from './shard.js';

/** At most one delivery report per this many ms while the reader has room (delivery-reports.ts). */
const REPORT_INTERVAL_MS = 100;

const data = workerData as ShardWorkerData;
const { config, shard, readerPort } = data;
const thread = `shard-${shard}`;
const log = createLogger({ level: config.logLevel, format: data.logFormat, thread });
const registry = createThreadRegistry(thread);
const metrics = createShardMetrics(registry);
const tracker = new MessageTracker({ shard });
const lease = new PublishLease(data.leaseBuffer);
const reports = new DeliveryReports(
  { intervalMs: REPORT_INTERVAL_MS, urgentOutstanding: Math.ceil(config.mailboxCapacity / 2) },
  (message) => readerPort.postMessage(message),
);

const worker = new Shard(data, {
  log,
  metrics,
  catalog: new RelationCatalog(config, log, data.userTypes, (unknown) =>
    metrics.unknownColumnTypes.inc({ table: unknown.table }),
  ),
  tracker,
  mayPublish: () => lease.mayPublish(),
  report: (message) => reports.report(message),
  connect: () => NatsLink.connect(config, `wal2nats shard ${shard}`, log),
});

readerPort.on('message', (message: ReaderToShard) => {
  if (message.type === 'batch') reports.arrived(message.batch.changeCount);
  worker.receive(message);
});

const api: ShardApi = {
  run: () => worker.run(),
  drain: (timeoutMs) => worker.drain(timeoutMs),
  metrics: () => registryJson(registry),
  status: () => worker.status(),
  messages: (query) => tracker.list(query, worker.failing()),
  message: (id) => tracker.detail(id, worker.failing()),
  messageCounts: () => tracker.counts(),
  retryNow: (id) => worker.retryNow(id),
};

exposeApi(api, parentPort!);
