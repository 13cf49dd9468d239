/**
 * Core NATS: a message counts as delivered when a flush round trip (PING/PONG) that follows it
 * succeeds on the same connection. One flush confirms the whole cycle.
 *
 * Several cycles may be in flight (ShardPublisher's `maxCyclesInFlight`): each settle() writes
 * its own PING, and on one connection the server answers PINGs in order, so the settles resolve
 * in the order of their cycles (nats.js keeps its pending PONGs in a FIFO and, on a disconnect,
 * rejects them all in that order). Each cycle writes through a WireEncoder of its own, whose
 * slabs are reused only after that cycle's PONG: nats.js may read them until the socket has
 * written them.
 */
import { errorMessage } from '@wal2nats/core';
import type { PermissionViolationError } from '@nats-io/transport-node';
import { allFailed, ALL_DELIVERED, type CycleResult, type DeliverySink } from './delivery-sink.js';
import type { NatsLink } from './nats-link.js';
import { WireEncoder, type WireMessage } from './wire-encoder.js';

/**
 * Cycles a shard keeps in flight in core NATS: a change queued while a cycle awaits its PONG goes
 * out at once instead of a round trip later. A few suffice to cover a round trip's tail.
 */
export const CORE_CYCLES_IN_FLIGHT = 4;

/** The cycle being written: begun, not yet settled. */
interface OpenCycle {
  epoch: number;
  readonly encoder: WireEncoder;
  /** The subject of each message, in publish order (a permission error names one). */
  readonly subjects: string[];
}

export class CoreNatsSink implements DeliverySink {
  private open: OpenCycle | null = null;
  /** Encoders of settled cycles, to be reused (reset() starts afresh if theirs was not confirmed). */
  private readonly spare: WireEncoder[] = [];

  constructor(private readonly link: NatsLink) {
    // Fails at once (exit 1) when the client lacks the internals the encoder writes through.
    this.spare.push(new WireEncoder(link.nc));
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
    // A cycle begun that published nothing (its first message refused) is begun again.
    const cycle = this.open ?? {
      epoch: 0,
      encoder: this.spare.pop() ?? new WireEncoder(this.link.nc),
      subjects: [],
    };
    cycle.epoch = this.link.epoch;
    cycle.subjects.length = 0;
    cycle.encoder.reset();
    this.open = cycle;
  }

  publishEncoded(message: WireMessage): void {
    const cycle = this.current();
    cycle.encoder.publish(message);
    cycle.subjects.push(message.subject);
  }

  async settle(): Promise<CycleResult> {
    const cycle = this.current();
    this.open = null;
    const count = cycle.subjects.length;
    cycle.encoder.flush();
    try {
      if (!this.link.connected || this.link.epoch !== cycle.epoch)
        return allFailed(count, 'not connected to NATS', true);
      try {
        await this.link.nc.flush();
      } catch (error) {
        return allFailed(count, `NATS did not confirm: ${errorMessage(error)}`, true);
      }
      if (this.link.epoch !== cycle.epoch)
        return allFailed(count, 'the NATS connection was lost before the server confirmed', true);
      // The PONG came on the connection the cycle was written to: the socket wrote all of it.
      cycle.encoder.confirmWritten();
      // The server answers in order: a refusal of this cycle's messages came before its PONG,
      // one of a later cycle's after it. So the errors heard since the previous PONG are this
      // cycle's.
      const refused = this.link.permissionErrors;
      this.link.permissionErrors = [];
      return refused.length === 0 ? ALL_DELIVERED : refusedMessages(cycle.subjects, refused);
    } finally {
      this.spare.push(cycle.encoder);
    }
  }

  close(): Promise<void> {
    return this.link.close();
  }

  private current(): OpenCycle {
    if (this.open === null) throw new Error('CoreNatsSink: publish or settle before beginCycle()');
    return this.open;
  }
}

/**
 * The messages on a subject the server refused fail, the others were delivered (the server
 * refuses a publish by its subject). A refusal that names no subject of the cycle fails it all.
 */
function refusedMessages(
  subjects: readonly string[],
  refused: readonly PermissionViolationError[],
): CycleResult {
  const reasons = new Map<string, string>();
  for (const error of refused)
    reasons.set(error.subject, `NATS refused to let us publish to ${error.subject}: ${error.message}`);
  const failures = new Map<number, string>();
  subjects.forEach((subject, index) => {
    const reason = reasons.get(subject);
    if (reason !== undefined) failures.set(index, reason);
  });
  if (failures.size > 0) return { failures, connectionLost: false };
  return allFailed(subjects.length, reasons.values().next().value!, false);
}
