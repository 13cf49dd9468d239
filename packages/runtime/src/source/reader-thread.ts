/** Entry of the reader thread: the WAL reader, controlled from the main thread over comlink. */
import { parentPort, workerData } from 'node:worker_threads';
import { BackfillWindow, serializeError } from '@wal2nats/core';
import { BackfillDriver } from '../backfill/backfill-driver.js';
import { createBackfillMetrics } from '../backfill/backfill-metrics.js';
import { createLogger } from '../log/logger.js';
import { createReaderMetrics } from '../metrics/reader-metrics.js';
import { createThreadRegistry, registryJson } from '../metrics/thread-metrics.js';
import { exposeApi } from '../threads/comlink.js';
import type { ReaderApi, ReaderWorkerData } from '../threads/thread-messages.js';
import { WalReader } from './wal-reader.js';
import { PublishLease } from '../ha/publish-lease.js';
import { SlotLease } from '../ha/slot-lease.js';
import { routeByStream } from '../sink/jetstream-check.js';

const data = workerData as ReaderWorkerData;
const log = createLogger({ level: data.config.logLevel, format: data.logFormat, thread: 'reader' });
const registry = createThreadRegistry('reader');
const metrics = createReaderMetrics(registry);
// Backfills run beside the reader, in this thread, so that a chunk's rows are in the window
// before its high watermark can be decoded (backfill/backfill-driver.ts).
const window = new BackfillWindow();
let driver: BackfillDriver | null = null;
const lease = new SlotLease(data.config, data.databaseName, new PublishLease(data.leaseBuffer), log);
const reader = new WalReader(
  {
    config: data.config,
    startLsn: data.startLsn,
    serverVersionNum: data.serverVersionNum,
    shardPorts: data.shardPorts,
    ...(data.streams.length > 0
      ? { shardOf: routeByStream(data.config, data.databaseName, data.streams) }
      : {}),
    backfill: window,
    onConfirmed: () => driver?.noteConfirmed(),
    lease,
  },
  metrics,
  log,
);
// pgoutput sends logical decoding messages (the watermarks) from Postgres 14 on.
if (data.serverVersionNum >= 140000) {
  driver = new BackfillDriver({
    config: data.config,
    serverVersionNum: data.serverVersionNum,
    window,
    confirmedLsn: () => reader.confirmedLsn,
    isActive: () => lease.isActive,
    metrics: createBackfillMetrics(registry),
    log,
  });
}

const api: ReaderApi = {
  async run() {
    try {
      driver?.start();
      await reader.run();
      return { ok: true };
    } catch (error) {
      return { ok: false, error: serializeError(error) };
    }
  },
  async pause() {
    // No new chunk while stopping; a chunk not yet delivered is read again next time.
    // Bounded: a stop must not hang on a Postgres query.
    if (driver)
      await Promise.race([driver.stop(), new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
    reader.pause();
  },
  finish: (finalFrontiers) => reader.finish(finalFrontiers),
  async metrics() {
    reader.collect();
    metrics.changesReceived.reset();
    metrics.changesReceived.inc(reader.changesRouted);
    return registryJson(registry);
  },
  status: () => reader.status(),
};

exposeApi(api, parentPort!);
