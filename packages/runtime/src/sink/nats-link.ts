/**
 * One NATS connection of a shard and what happened to it.
 *
 * nats.js discards its outbound buffer on reconnect (PITFALLS.md), so a confirmation that
 * arrives on a *new* connection proves nothing about messages written on the old one: every
 * disconnect and reconnect bumps an epoch, and a cycle whose epoch changed has failed. The
 * status events are pushed synchronously by the protocol handler as they happen, so the epoch
 * changes before any later PONG or PubAck can resolve.
 */
import { connect, AuthorizationError, PermissionViolationError, type NatsConnection } from '@nats-io/transport-node';
import { ErrorCode, Wal2NatsError, type Config } from '@wal2nats/core';
import type { Logger } from '../log/logger.js';
import { natsConnectOptions } from './nats-connect-options.js';

function natsAuthError(error: Error): Wal2NatsError {
  return new Wal2NatsError(ErrorCode.NatsAuth, `NATS refused our credentials: ${error.message}`, 'check --nats-user/--nats-password, --nats-token, --nats-creds-file or --nats-nkey-seed-file', { cause: error });
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

  private constructor(readonly nc: NatsConnection, private readonly log: Logger) {
    void this.watchStatus();
  }

  static async connect(config: Config, name: string, log: Logger): Promise<NatsLink> {
    try {
      const nc = await connect(natsConnectOptions(config, name));
      log.info('connected to NATS', { server: nc.getServer() });
      return new NatsLink(nc, log);
    } catch (error) {
      if (error instanceof AuthorizationError) throw natsAuthError(error);
      throw error;
    }
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
          this.log.warn('disconnected from NATS; unconfirmed messages will be sent again', { server: status.server });
          break;
        case 'reconnect':
          this.epoch++;
          this.up = true;
          for (const listener of this.epochListeners) listener();
          this.log.info('reconnected to NATS', { server: status.server });
          for (const listener of this.reconnectListeners) listener();
          break;
        case 'error':
          if (status.error instanceof PermissionViolationError && status.error.operation === 'publish') {
            this.permissionErrors.push(status.error);
            for (const listener of this.permissionListeners) listener(status.error);
          }
          else if (status.error instanceof AuthorizationError) this.fatalError = natsAuthError(status.error);
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
