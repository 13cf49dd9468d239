/**
 * The start-up check of JetStream mode: a stream must capture the subjects we publish to, and
 * its duplicate window must cover a replay after a restart (the changes after the last confirmed
 * transaction are published again with the same Nats-Msg-Id; the window drops them only if they
 * come back within it). With --create-stream, the stream is created when missing.
 */
import { jetstreamManager, StorageType, type JetStreamManager, type StreamInfo } from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import { changeSubject, ErrorCode, escapeSubjectToken, Wal2NatsError, type Config } from '@wal2nats/core';
import type { Logger } from '../log/logger.js';
import { NatsConnectAborted, NatsLink } from './nats-link.js';
import type { PublishedTable } from '../source/replication-setup.js';

/** A replay after a restart must come back within the window; shorter is warned about. */
const RECOMMENDED_DUPLICATE_WINDOW_MS = 120_000;
const CREATED_DUPLICATE_WINDOW_MS = 10 * 60_000;

export interface JetStreamTarget {
  readonly stream: string;
  readonly duplicateWindowMs: number;
}

function subjectsFilter(config: Config, databaseName: string): string[] {
  const db = escapeSubjectToken(databaseName);
  return [`${config.subjectPrefix}.changes.${db}.>`, `${config.subjectPrefix}.rows.${db}.>`];
}

/** Resolves null when `signal` aborted the wait for NATS (a stop during start-up). */
export async function checkJetStream(config: Config, databaseName: string, tables: readonly PublishedTable[], log: Logger, signal?: AbortSignal): Promise<JetStreamTarget | null> {
  let link: NatsLink;
  try {
    link = await NatsLink.connect(config, 'wal2nats start-up check', log, signal ? { signal } : {});
  } catch (error) {
    if (error instanceof NatsConnectAborted) return null;
    throw error;
  }
  try {
    let jsm: JetStreamManager;
    try {
      jsm = await jetstreamManager(link.nc);
    } catch (error) {
      throw new Wal2NatsError(ErrorCode.ConfigInvalid, `invalid option --jetstream: the NATS server does not offer JetStream (${error instanceof Error ? error.message : String(error)})`, 'enable JetStream on the server (nats-server -js), or run without --jetstream', { cause: error });
    }
    if (config.createStream !== undefined) await ensureStream(jsm, config.createStream, subjectsFilter(config, databaseName), log);
    // Every published table must land in one stream (a sample subject per table and action).
    const samples = (tables.length > 0 ? tables : [{ schema: 'public', table: 'wal2nats_probe' }]).map(({ schema, table }) => changeSubject(config.subjectPrefix, databaseName, schema, table, 'insert'));
    let info: StreamInfo | null = null;
    for (const subject of samples) {
      let name: string;
      try {
        name = await jsm.streams.find(subject);
      } catch {
        throw new Wal2NatsError(
          ErrorCode.ConfigInvalid,
          `invalid option --jetstream: no JetStream stream captures ${subject}`,
          `create a stream on ${subjectsFilter(config, databaseName).join(' and ')} (for example with --create-stream CDC), or run without --jetstream`,
        );
      }
      if (!info || info.config.name !== name) info = await jsm.streams.info(name);
    }
    const duplicateWindowMs = info!.config.duplicate_window / 1e6;
    if (duplicateWindowMs < RECOMMENDED_DUPLICATE_WINDOW_MS) {
      log.warn('the stream\'s duplicate window is short: changes replayed after a restart that takes longer than it will be stored twice', {
        stream: info!.config.name,
        duplicate_window_s: duplicateWindowMs / 1000,
        recommended_s: RECOMMENDED_DUPLICATE_WINDOW_MS / 1000,
      });
    }
    log.info('publishing with JetStream acknowledgements', { stream: info!.config.name, duplicate_window_s: duplicateWindowMs / 1000 });
    return { stream: info!.config.name, duplicateWindowMs };
  } finally {
    await link.close();
  }
}


async function ensureStream(jsm: JetStreamManager, name: string, subjects: string[], log: Logger): Promise<void> {
  try {
    await jsm.streams.info(name);
    return;
  } catch {
    // Not found: create it below.
  }
  await jsm.streams.add({ name, subjects, storage: StorageType.File, duplicate_window: nanos(CREATED_DUPLICATE_WINDOW_MS) });
  log.info('created JetStream stream', { stream: name, subjects: subjects.join(' '), duplicate_window_s: CREATED_DUPLICATE_WINDOW_MS / 1000 });
}
