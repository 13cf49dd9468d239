/**
 * One NATS connection of a shard and what happened to it.
 *
 * nats.js discards its outbound buffer on reconnect (docs/pitfalls.md), so a confirmation that
 * arrives on a *new* connection proves nothing about messages written on the old one: every
 * disconnect and reconnect bumps an epoch, and a cycle whose epoch changed has failed. The
 * status events are pushed synchronously by the protocol handler as they happen, so the epoch
 * changes before any later PONG or PubAck can resolve.
 *
 * The first connection is retried here (every server of --nats-url in turn, then a backoff
 * with jitter), logging why each attempt failed; a refusal for good (credentials, TLS) ends it
 * with an exit-3 error. Once connected, nats.js reconnects by itself, forever, across the
 * servers it knows (those given and those the cluster announces), every second plus jitter.
 */
import {
  connect,
  AuthorizationError,
  PermissionViolationError,
  TimeoutError,
  UserAuthenticationExpiredError,
  type NatsConnection,
} from '@nats-io/transport-node';
import {
  errorMessage,
  natsServers,
  redactUrl,
  Wal2NatsError,
  type BackoffPolicy,
  type Config,
} from '@wal2nats/core';
import { retry } from '../async/retry.js';
import type { Logger } from '../log/logger.js';
import { natsConnectOptions } from './nats-connect-options.js';
import { mapNatsConnectError, natsAuthError } from './nats-errors.js';
import { diagnoseTls } from './nats-tls-diagnosis.js';

/** Between first-connection attempts: from 1 s, doubling, up to 10 s, ±20%. */
const FIRST_CONNECT_BACKOFF: BackoffPolicy = { initialMs: 1000, maxMs: 10_000, jitter: 0.2 };

export interface NatsLinkOptions {
  /** Stops waiting for a first connection: connect() then throws NatsConnectAborted. */
  readonly signal?: AbortSignal;
  /** Called once, when the first attempt failed and connect() starts waiting for NATS. */
  readonly onWaiting?: () => void;
}

/** connect() gave up waiting because its signal was aborted (we are stopping). */
export class NatsConnectAborted extends Error {
  override readonly name = 'NatsConnectAborted';
}

export class NatsLink {
  epoch = 0;
  private up = true;
  private readonly reconnectListeners: (() => void)[] = [];
  private readonly epochListeners: (() => void)[] = [];
  private readonly permissionListeners: ((error: PermissionViolationError) => void)[] = [];
  /** Publish permission errors since the last reset, by subject. */
  permissionErrors: PermissionViolationError[] = [];
  fatalError: Wal2NatsError | null = null;

  private constructor(
    readonly nc: NatsConnection,
    private readonly log: Logger,
  ) {
    void this.watchStatus();
  }

  /**
   * Connects, waiting for NATS as long as it is unreachable. Throws a Wal2NatsError when NATS
   * refuses us for good or the config is wrong, and NatsConnectAborted when `signal` aborts.
   */
  static async connect(
    config: Config,
    name: string,
    log: Logger,
    options: NatsLinkOptions = {},
  ): Promise<NatsLink> {
    const servers = natsServers(config).map(redactUrl).join(',');
    const stopped = (): NatsConnectAborted => new NatsConnectAborted('stopped while waiting for NATS');
    if (options.signal?.aborted) throw stopped();
    const connectOnce = async (): Promise<NatsLink> => {
      let nc: NatsConnection;
      const connectOptions = natsConnectOptions(config, name);
      try {
        nc = await connect(connectOptions);
      } catch (error) {
        const mapped = mapNatsConnectError(error, config);
        // A refused client certificate shows up as a timeout: ask the servers what it was.
        if (mapped.retryable && error instanceof TimeoutError) {
          const tlsError = await diagnoseTls(connectOptions);
          if (tlsError) throw mapNatsConnectError(tlsError, config);
        }
        throw mapped;
      }
      if (options.signal?.aborted) {
        await nc.close().catch(() => {});
        throw stopped();
      }
      log.info('connected to NATS', { server: nc.getServer(), connection: name });
      return new NatsLink(nc, log);
    };
    const link = await retry(connectOnce, {
      backoff: FIRST_CONNECT_BACKOFF,
      retryable: (error) => error instanceof Wal2NatsError && error.retryable,
      signal: options.signal,
      onRetry: ({ error, attempt, delayMs }) => {
        log.warn('waiting for NATS', { servers, error: errorMessage(error), attempt, retry_in_ms: delayMs });
        if (attempt === 1) options.onWaiting?.();
      },
    });
    if (!link) throw stopped();
    return link;
  }

  get connected(): boolean {
    return this.up && !this.nc.isClosed();
  }

  onReconnect(listener: () => void): void {
    this.reconnectListeners.push(listener);
  }

  /** Called when the server refuses a publish for lack of permission. */
  onPermissionError(listener: (error: PermissionViolationError) => void): void {
    this.permissionListeners.push(listener);
  }

  /** Called on every disconnect and reconnect. */
  onEpochChange(listener: () => void): void {
    this.epochListeners.push(listener);
  }

  private async watchStatus(): Promise<void> {
    for await (const status of this.nc.status()) {
      switch (status.type) {
        case 'disconnect':
          this.epoch++;
          this.up = false;
          for (const listener of this.epochListeners) listener();
          this.log.warn('disconnected from NATS; unconfirmed messages will be sent again', {
            server: status.server,
          });
          break;
        case 'reconnect':
          this.epoch++;
          this.up = true;
          for (const listener of this.epochListeners) listener();
          this.log.info('reconnected to NATS', { server: status.server });
          for (const listener of this.reconnectListeners) listener();
          break;
        case 'ldm':
          // The server is shutting down gracefully (lame duck mode): nats.js moves to another.
          this.log.info('the NATS server is entering lame duck mode; moving to another server', {
            server: status.server,
          });
          break;
        case 'staleConnection':
          this.log.warn('the NATS connection is stale (pings unanswered); reconnecting');
          break;
        case 'update':
          this.log.debug('the NATS cluster changed', {
            added: (status.added ?? []).join(','),
            deleted: (status.deleted ?? []).join(','),
          });
          break;
        case 'error':
          if (status.error instanceof PermissionViolationError && status.error.operation === 'publish') {
            this.permissionErrors.push(status.error);
            for (const listener of this.permissionListeners) listener(status.error);
          } else if (
            status.error instanceof AuthorizationError ||
            status.error instanceof UserAuthenticationExpiredError
          )
            this.fatalError = natsAuthError(status.error);
          else this.log.warn('NATS server error', { error: status.error.message });
          break;
        default:
          break;
      }
    }
  }

  async close(): Promise<void> {
    if (!this.nc.isClosed()) await this.nc.close();
  }
}
