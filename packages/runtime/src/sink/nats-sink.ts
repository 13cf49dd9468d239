/**
 * Publishing to core NATS with a delivery confirmation.
 *
 * A message counts as delivered when a flush round trip (PING/PONG) that follows it succeeds on
 * the same connection. nats.js discards its outbound buffer on reconnect (PITFALLS.md), so a
 * flush that succeeds on a *new* connection proves nothing: every disconnect bumps an epoch,
 * and a confirmation whose epoch changed is a failure — everything since the last confirmation
 * is resent. Publishing is gated on the connection being up, so nothing is handed to a client
 * that would drop it.
 */
import { connect, headers, AuthorizationError, PermissionViolationError, type NatsConnection } from '@nats-io/transport-node';
import { ErrorCode, Wal2NatsError, type Config } from '@wal2nats/core';
import type { Logger } from '../log/logger.js';
import { natsConnectOptions } from './nats-connect-options.js';

export class DeliveryError extends Error {
  override readonly name = 'DeliveryError';
  constructor(message: string, readonly connectionLost: boolean) {
    super(message);
  }
}

export class NatsSink {
  private epoch = 0;
  private up = false;
  private readonly reconnectListeners: (() => void)[] = [];
  private permissionErrors: PermissionViolationError[] = [];
  private fatal: Wal2NatsError | null = null;

  private constructor(private readonly nc: NatsConnection, private readonly log: Logger) {
    this.up = true;
    void this.watchStatus();
  }

  static async connect(config: Config, name: string, log: Logger): Promise<NatsSink> {
    try {
      const nc = await connect(natsConnectOptions(config, name));
      log.info('connected to NATS', { server: nc.getServer() });
      return new NatsSink(nc, log);
    } catch (error) {
      if (error instanceof AuthorizationError) {
        throw new Wal2NatsError(ErrorCode.NatsAuth, `NATS refused our credentials: ${error.message}`, 'check --nats-user/--nats-password, --nats-token, --nats-creds-file or --nats-nkey-seed-file', { cause: error });
      }
      throw error;
    }
  }

  get connected(): boolean { return this.up && !this.nc.isClosed(); }
  /** Set when the server refused us for good; the shard reports it and the process exits 3. */
  get fatalError(): Wal2NatsError | null { return this.fatal; }

  onReconnect(listener: () => void): void {
    this.reconnectListeners.push(listener);
  }

  /** Starts a confirmation window. */
  mark(): number {
    this.permissionErrors = [];
    return this.epoch;
  }

  /** Throws synchronously when the client refuses the message (e.g. over max_payload). */
  publish(subject: string, json: string, msgId: string): void {
    const h = headers();
    h.set('Nats-Msg-Id', msgId);
    this.nc.publish(subject, json, { headers: h });
  }

  /** Resolves when everything published since mark() reached the server. */
  async confirm(mark: number): Promise<void> {
    if (!this.connected || this.epoch !== mark) throw new DeliveryError('not connected to NATS', true);
    try {
      await this.nc.flush();
    } catch (error) {
      throw new DeliveryError(`NATS did not confirm: ${error instanceof Error ? error.message : String(error)}`, true);
    }
    if (this.epoch !== mark) throw new DeliveryError('the NATS connection was lost before the server confirmed', true);
    const refused = this.permissionErrors[0];
    if (refused) throw new DeliveryError(`NATS refused to let us publish to ${refused.subject}: ${refused.message}`, false);
  }

  private async watchStatus(): Promise<void> {
    for await (const status of this.nc.status()) {
      switch (status.type) {
        case 'disconnect':
          this.epoch++;
          this.up = false;
          this.log.warn('disconnected from NATS; unconfirmed messages will be sent again', { server: status.server });
          break;
        case 'reconnect':
          this.epoch++;
          this.up = true;
          this.log.info('reconnected to NATS', { server: status.server });
          for (const listener of this.reconnectListeners) listener();
          break;
        case 'error':
          if (status.error instanceof PermissionViolationError && status.error.operation === 'publish') {
            this.permissionErrors.push(status.error);
          } else if (status.error instanceof AuthorizationError) {
            this.fatal = new Wal2NatsError(ErrorCode.NatsAuth, `NATS refused our credentials: ${status.error.message}`, 'check the NATS credentials options');
          } else {
            this.log.warn('NATS server error', { error: status.error.message });
          }
          break;
        default:
          break;
      }
    }
  }

  async close(): Promise<void> {
    if (this.nc.isClosed()) return;
    await this.nc.close();
  }
}
