/** Entry of the reader thread: the WAL reader, controlled from the main thread over comlink. */
import { parentPort, workerData } from 'node:worker_threads';
import { serializeError } from '@wal2nats/core';
import { createLogger } from '../log/logger.js';
import { createReaderMetrics } from '../metrics/reader-metrics.js';
import { createThreadRegistry, registryJson } from '../metrics/thread-metrics.js';
import { exposeApi } from '../threads/comlink.js';
import type { ReaderApi, ReaderWorkerData } from '../threads/thread-messages.js';
import { WalReader } from './wal-reader.js';

const data = workerData as ReaderWorkerData;
const log = createLogger({ level: data.config.logLevel, format: data.logFormat, thread: 'reader' });
const registry = createThreadRegistry('reader');
const metrics = createReaderMetrics(registry);
const reader = new WalReader(
  { config: data.config, startLsn: data.startLsn, serverVersionNum: data.serverVersionNum, shardPorts: data.shardPorts },
  metrics,
  log,
);

const api: ReaderApi = {
  async run() {
    try {
      await reader.run();
      return { ok: true };
    } catch (error) {
      return { ok: false, error: serializeError(error) };
    }
  },
  async pause() {
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
