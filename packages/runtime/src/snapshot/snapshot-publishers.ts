/**
 * The publishers the initial snapshot delivers its pages through, in the main thread: the same
 * classes the shards publish with. Core NATS: one ShardPublisher (a mailbox per table, pipelined
 * cycles, backoff, retry on reconnect) over one CoreNatsSink. JetStream: one StreamPublisher per
 * stream that captures a snapshot table, so the snapshot's rows enter the stream's ordered chain
 * after the stream's last sequence (read first, as a shard does), and a chain that meets another
 * writer stops the snapshot as it stops a shard (exit 3). The snapshot's Nats-Msg-Ids carry the
 * same prefix as every change (system identifier and database), so a shard that starts after it
 * recognises the stream's last message as ours; a `read` there gives no skip position
 * (sink/stream-tail.ts): streaming starts at the snapshot's consistent point, after every read.
 */
import { DEFAULT_BACKOFF, type Config } from '@wal2nats/core';
import type { Logger } from '../log/logger.js';
import type { ShardMetrics } from '../metrics/shard-metrics.js';
import { ShardPublisher } from '../shard/shard-publisher.js';
import {
  JETSTREAM_ACK_TIMEOUT_MS,
  JETSTREAM_WINDOW_BYTES,
  otherWriter,
  StreamPublisher,
} from '../shard/stream-publisher.js';
import { CORE_CYCLES_IN_FLIGHT, CoreNatsSink } from '../sink/core-nats-sink.js';
import { routeByStream, type ChainStream } from '../sink/jetstream-check.js';
import { NatsLink } from '../sink/nats-link.js';
import { NatsStreamClient } from '../sink/nats-stream-client.js';
import { readStreamTail } from '../sink/stream-tail.js';
import type { PageDelivery, SnapshotPublisher } from './page-delivery.js';

/** How often the publishers are looked at for a fatal error (as Shard.run does). */
const FATAL_CHECK_MS = 500;

export interface SnapshotPublishers {
  /** The publisher of a table. */
  for(schema: string, table: string): SnapshotPublisher;
  /** Stops publishing (after the cycles in flight) and closes the connections. */
  close(): Promise<void>;
}

export interface SnapshotPublishersOptions {
  readonly config: Config;
  readonly databaseName: string;
  readonly idempotencyPrefix: string;
  /** JetStream mode: the streams (pipeline's checkJetStream). */
  readonly streams: readonly ChainStream[];
  /** The snapshot's tables (JetStream: a publisher for each stream that captures one of them). */
  readonly tables: readonly { schema: string; name: string }[];
  readonly log: Logger;
  readonly metrics: ShardMetrics;
  readonly delivery: PageDelivery;
  readonly signal?: AbortSignal;
}

/** Connects and starts the publishers; null when stopped meanwhile. */
export async function startSnapshotPublishers(
  options: SnapshotPublishersOptions,
): Promise<SnapshotPublishers | null> {
  const { config, log, metrics, delivery, signal } = options;
  // The publishers' own lines ("delivery failed; will retry", …) name the snapshot.
  const publisherLog = prefixed(log, 'initial snapshot: ');
  const backoff = { ...DEFAULT_BACKOFF, maxMs: config.maxBackoffMs };
  const connect = (name: string): Promise<NatsLink> =>
    NatsLink.connect(config, name, log, signal ? { signal } : {});
  const links: NatsLink[] = [];
  const stops: (() => Promise<void>)[] = [];
  const fatalChecks: (() => Error | null)[] = [];
  const close = async (): Promise<void> => {
    clearInterval(fatalCheck);
    // Stopped first, so that closing the connection is not taken for an outage to report.
    const stopped = Promise.all(stops.map((stop) => stop()));
    await Promise.all(links.map((link) => link.close().catch(() => {})));
    await stopped;
  };
  const fatalCheck = setInterval(() => {
    for (const check of fatalChecks) {
      const error = check();
      if (error) delivery.fail(error);
    }
  }, FATAL_CHECK_MS);
  fatalCheck.unref();
  try {
    if (!config.jetstream) {
      const link = await connect('wal2nats snapshot');
      links.push(link);
      const sink = new CoreNatsSink(link);
      const publisher = new ShardPublisher(
        {
          shard: 'snapshot',
          backoff,
          maxCycleMessages: 8192,
          tableWindow: 8192,
          maxCyclesInFlight: CORE_CYCLES_IN_FLIGHT,
        },
        sink,
        metrics,
        publisherLog,
        () => {},
        delivery,
      );
      publisher.start();
      stops.push(() => publisher.stop());
      fatalChecks.push(() => link.fatalError);
      return { for: () => publisher, close };
    }
    const route = routeByStream(config, options.databaseName, options.streams);
    const used = [...new Set(options.tables.map((t) => route(t.schema, t.name)))];
    const publishers = new Map<number, StreamPublisher>();
    for (const index of used) {
      const stream = options.streams[index]!;
      const link = await connect(`wal2nats snapshot ${stream.name}`);
      links.push(link);
      const tail = await readStreamTail(
        link.nc,
        stream.name,
        options.idempotencyPrefix,
        log,
        () => signal?.aborted ?? false,
      );
      if (tail === null) {
        await close();
        return null;
      }
      const client = new NatsStreamClient(link, stream);
      const publisher = new StreamPublisher(
        {
          shard: 'snapshot',
          stream: stream.name,
          backoff,
          window: config.jetstreamWindow,
          windowBytes: JETSTREAM_WINDOW_BYTES,
          ackTimeoutMs: JETSTREAM_ACK_TIMEOUT_MS,
        },
        metrics,
        publisherLog,
        () => {},
        delivery,
      );
      client.attach(publisher.start(client, tail.lastSeq));
      stops.push(async () => publisher.stop());
      fatalChecks.push(() => link.fatalError ?? (publisher.broken ? otherWriter(publisher.broken) : null));
      publishers.set(index, publisher);
    }
    return { for: (schema, table) => publishers.get(route(schema, table))!, close };
  } catch (error) {
    await close();
    throw error;
  }
}

function prefixed(log: Logger, prefix: string): Logger {
  return {
    debug: (message, fields) => log.debug(prefix + message, fields),
    info: (message, fields) => log.info(prefix + message, fields),
    warn: (message, fields) => log.warn(prefix + message, fields),
    error: (message, fields) => log.error(prefix + message, fields),
    child: (fields) => prefixed(log.child(fields), prefix),
  };
}
