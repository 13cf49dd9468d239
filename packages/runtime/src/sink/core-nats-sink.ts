/**
 * Core NATS: a message counts as delivered when a flush round trip (PING/PONG) that follows it
 * succeeds on the same connection. One flush confirms the whole cycle.
 */
import { errorMessage } from '@wal2nats/core';
import { allFailed, ALL_DELIVERED, type CycleResult, type DeliverySink } from './delivery-sink.js';
import type { NatsLink } from './nats-link.js';
import { WireEncoder, type WireMessage } from './wire-encoder.js';

export class CoreNatsSink implements DeliverySink {
  private epochAtBegin = 0;
  private published = 0;
  private readonly wire: WireEncoder;

  constructor(private readonly link: NatsLink) {
    this.wire = new WireEncoder(link.nc);
  }

  get connected(): boolean {
    return this.link.connected;
  }
  get fatalError(): Error | null {
    return this.link.fatalError;
  }
  onReconnect(listener: () => void): void {
    this.link.onReconnect(listener);
  }

  beginCycle(): void {
    this.epochAtBegin = this.link.epoch;
    this.published = 0;
    this.link.permissionErrors = [];
    this.wire.reset();
  }

  publishEncoded(message: WireMessage): void {
    this.wire.publish(message);
    this.published++;
  }

  async settle(): Promise<CycleResult> {
    const count = this.published;
    this.wire.flush();
    if (!this.link.connected || this.link.epoch !== this.epochAtBegin)
      return allFailed(count, 'not connected to NATS', true);
    try {
      await this.link.nc.flush();
    } catch (error) {
      return allFailed(count, `NATS did not confirm: ${errorMessage(error)}`, true);
    }
    if (this.link.epoch !== this.epochAtBegin)
      return allFailed(count, 'the NATS connection was lost before the server confirmed', true);
    // The PONG came on the connection the cycle was written to: the socket wrote all of it.
    this.wire.confirmWritten();
    const refused = this.link.permissionErrors[0];
    // Core NATS does not say which message was refused; fail the cycle and let each table retry.
    if (refused)
      return allFailed(
        count,
        `NATS refused to let us publish to ${refused.subject}: ${refused.message}`,
        false,
      );
    return ALL_DELIVERED;
  }

  close(): Promise<void> {
    return this.link.close();
  }
}
