/**
 * The start-up check of JetStream mode: a stream must capture every subject we publish to, all
 * subjects of one table must be in one stream (each stream gets one ordered chain and one
 * shard), and a stream's duplicate window should cover a replay after a restart (a chain skips
 * what its stream holds, but a restart before the first PubAck still replays with the same
 * Nats-Msg-Id). With --create-stream, the stream is created when missing. Also warns about
 * clustered servers older than 2.10.12 (nats-io/nats-server#5179).
 */
import {
  jetstreamManager,
  JetStreamApiCodes,
  JetStreamApiError,
  StorageType,
  type JetStreamManager,
  type StreamInfo,
} from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import {
  errorMessage,
  ErrorCode,
  escapeSubjectToken,
  streamCapturing,
  Wal2NatsError,
  type Config,
} from '@wal2nats/core';
import type { Logger } from '../log/logger.js';
import { NatsConnectAborted, NatsLink } from './nats-link.js';
import type { PublishedTable } from '../postgres/published-table.js';
import { publishSubjects } from './publish-permission-check.js';
import { JETSTREAM_API_BACKOFF, jetStreamTemporarilyUnavailable } from './jetstream-unavailable.js';
import { retry } from '../async/retry.js';

/** A replay after a restart must come back within the window; shorter is warned about. */
const RECOMMENDED_DUPLICATE_WINDOW_MS = 120_000;
const CREATED_DUPLICATE_WINDOW_MS = 10 * 60_000;

/** A stream wal2nats publishes to: one ordered chain (and one shard) each. */
export interface ChainStream {
  readonly name: string;
  readonly subjects: readonly string[];
  /** The stream's max_msg_size in bytes, -1 for no limit. */
  readonly maxMsgSize: number;
}

export interface JetStreamTarget {
  /** The streams that capture our tables; shard i publishes to streams[i]. */
  readonly streams: readonly ChainStream[];
}

/**
 * JetStream mode's routing: a table goes to the shard of the stream that captures its
 * subjects (shard i publishes to streams[i]); a table no stream captures (created while
 * running) goes to shard 0, where its message shows as failing with "no stream captures".
 */
export function routeByStream(
  config: Config,
  databaseName: string,
  streams: readonly ChainStream[],
): (schema: string, table: string) => number {
  return (schema, table) => {
    const subject = publishSubjects(config, databaseName, [{ schema, table }])[0];
    const index = subject === undefined ? -1 : streamCapturing(streams, subject);
    return Math.max(0, index);
  };
}

/** nats-server 2.10.12 fixed a clustered stream dropping messages after rejected duplicates. */
const FIXED_VERSION = [2, 10, 12] as const;

function subjectsFilter(config: Config, databaseName: string): string[] {
  const db = escapeSubjectToken(databaseName);
  return [`${config.subjectPrefix}.changes.${db}.>`, `${config.subjectPrefix}.rows.${db}.>`];
}

/** Whether version `a.b.c` is older than FIXED_VERSION (an unreadable version is not). */
export function olderThanFixedVersion(version: string | undefined): boolean {
  const parts = /^v?(\d+)\.(\d+)\.(\d+)/.exec(version ?? '');
  if (!parts) return false;
  for (let i = 0; i < 3; i++) {
    const n = Number(parts[i + 1]);
    if (n !== FIXED_VERSION[i]) return n < FIXED_VERSION[i]!;
  }
  return false;
}

/** Resolves null when `signal` aborted the wait for NATS (a stop during start-up). */
export async function checkJetStream(
  config: Config,
  databaseName: string,
  tables: readonly PublishedTable[],
  log: Logger,
  signal?: AbortSignal,
): Promise<JetStreamTarget | null> {
  let link: NatsLink;
  try {
    link = await NatsLink.connect(config, 'wal2nats start-up check', log, signal ? { signal } : {});
  } catch (error) {
    if (error instanceof NatsConnectAborted) return null;
    throw error;
  }
  try {
    const info = link.nc.info;
    if (info?.cluster !== undefined && olderThanFixedVersion(info.version)) {
      log.warn(
        'this clustered nats-server is older than 2.10.12: after a leader change it can drop new messages of a stream without an answer when duplicates were rejected (nats-io/nats-server#5179); wal2nats avoids replaying what the stream holds, but upgrade the servers',
        { server_version: info.version, cluster: info.cluster },
      );
    }
    // A cluster electing its meta leader (or without quorum) answers nothing or 503 for a
    // while: waited out with a warning, never reported as a server without JetStream.
    return await retry(() => readTarget(link, config, databaseName, tables, log), {
      backoff: JETSTREAM_API_BACKOFF,
      retryable: jetStreamTemporarilyUnavailable,
      signal,
      onRetry: ({ error, attempt, delayMs }) =>
        log.warn('waiting for JetStream to answer (the cluster may have no meta leader right now)', {
          attempt,
          retry_in_ms: delayMs,
          error: errorMessage(error),
        }),
    });
  } finally {
    await link.close();
  }
}

/** The streams our tables go to, read (or with --create-stream created) through the JetStream API. */
async function readTarget(
  link: NatsLink,
  config: Config,
  databaseName: string,
  tables: readonly PublishedTable[],
  log: Logger,
): Promise<JetStreamTarget> {
  let jsm: JetStreamManager;
  try {
    jsm = await jetstreamManager(link.nc);
  } catch (error) {
    if (jetStreamTemporarilyUnavailable(error)) throw error;
    throw new Wal2NatsError(
      ErrorCode.ConfigInvalid,
      `invalid option --jetstream: the NATS server does not offer JetStream (${errorMessage(error)})`,
      'enable JetStream on the server (nats-server -js), or run without --jetstream',
      { cause: error },
    );
  }
  if (config.createStream !== undefined)
    await ensureStream(jsm, config.createStream, subjectsFilter(config, databaseName), log);
  const all: StreamInfo[] = [];
  for await (const stream of jsm.streams.list()) all.push(stream);
  const candidates = all.map((s) => ({ name: s.config.name, subjects: s.config.subjects ?? [] }));
  // Every subject of a table must land in one stream: its changes form one ordered chain.
  const used = new Map<string, StreamInfo>();
  const probed = tables.length > 0 ? tables : [{ schema: 'public', table: 'wal2nats_probe' }];
  for (const table of probed) {
    let first: { subject: string; stream: string } | null = null;
    for (const subject of publishSubjects(config, databaseName, [table])) {
      const index = streamCapturing(candidates, subject);
      if (index < 0) {
        throw new Wal2NatsError(
          ErrorCode.ConfigInvalid,
          `invalid option --jetstream: no JetStream stream captures ${subject}`,
          `create a stream on ${subjectsFilter(config, databaseName).join(' and ')} (for example with --create-stream CDC), or run without --jetstream`,
        );
      }
      const stream = all[index]!;
      if (first && first.stream !== stream.config.name) {
        throw new Wal2NatsError(
          ErrorCode.ConfigInvalid,
          `invalid option --jetstream: the changes of ${table.schema}.${table.table} are captured by two streams, ${first.stream} (${first.subject}) and ${stream.config.name} (${subject})`,
          "JetStream mode keeps each stream in the database's commit order with one ordered chain per stream, so all subjects of a table must be in one stream: change the streams' subjects",
        );
      }
      first ??= { subject, stream: stream.config.name };
      used.set(stream.config.name, stream);
    }
  }
  const streams = [...used.values()].sort((a, b) => a.config.name.localeCompare(b.config.name));
  for (const stream of streams) {
    const duplicateWindowMs = stream.config.duplicate_window / 1e6;
    if (duplicateWindowMs < RECOMMENDED_DUPLICATE_WINDOW_MS) {
      log.warn(
        "the stream's duplicate window is short: changes replayed after a restart that takes longer than it will be stored twice",
        {
          stream: stream.config.name,
          duplicate_window_s: duplicateWindowMs / 1000,
          recommended_s: RECOMMENDED_DUPLICATE_WINDOW_MS / 1000,
        },
      );
    }
    log.info('publishing with JetStream acknowledgements, one ordered chain per stream', {
      stream: stream.config.name,
      replicas: stream.config.num_replicas,
      duplicate_window_s: duplicateWindowMs / 1000,
    });
  }
  return {
    streams: streams.map((s) => ({
      name: s.config.name,
      subjects: s.config.subjects ?? [],
      maxMsgSize: s.config.max_msg_size ?? -1,
    })),
  };
}

async function ensureStream(
  jsm: JetStreamManager,
  name: string,
  subjects: string[],
  log: Logger,
): Promise<void> {
  try {
    await jsm.streams.info(name);
    return;
  } catch (error) {
    // Not found: created below. Anything else (no leader right now) is the caller's to retry.
    if (!(error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound)) throw error;
  }
  await jsm.streams.add({
    name,
    subjects,
    storage: StorageType.File,
    duplicate_window: nanos(CREATED_DUPLICATE_WINDOW_MS),
  });
  log.info('created JetStream stream', {
    stream: name,
    subjects: subjects.join(' '),
    duplicate_window_s: CREATED_DUPLICATE_WINDOW_MS / 1000,
  });
}
