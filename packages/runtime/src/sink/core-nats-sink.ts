/**
 * Core NATS: a message counts as delivered when a flush round trip (PING/PONG) that follows it
 * succeeds on the same connection. One flush confirms the whole cycle.
 *
 * Several cycles may be in flight (ShardPublisher's `maxCyclesInFlight`): each settle() writes
 * a PING (while the shard is quiet, a few consecutive cycles share one: ping-linger.ts), and on
 * one connection the server answers PINGs in order, so the settles resolve in the order of
 * their cycles (nats.js keeps its pending PONGs in a FIFO and, on a disconnect, rejects them
 * all in that order). Each cycle writes through a WireEncoder of its own, whose
 * slabs are reused only after that cycle's PONG: nats.js may read them until the socket has
 * written them.
 */
import { errorMessage } from '@wal2nats/core';
import type { PermissionViolationError } from '@nats-io/transport-node';
import { allFailed, ALL_DELIVERED, type CycleResult, type DeliverySink } from './delivery-sink.js';
import type { NatsLink } from './nats-link.js';
import { PingLinger, type PingLingerOptions } from './ping-linger.js';
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

/** A PING that several cycles wait for (ping-linger.ts), with the refusals heard before its PONG. */
interface SharedPing {
  cycles: number;
  /** When the first cycle began to wait for it (Date.now()). */
  readonly since: number;
  readonly answered: Promise<readonly PermissionViolationError[]>;
  readonly resolve: (refused: readonly PermissionViolationError[]) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * While a shard is quiet, consecutive cycles share a PING (ping-linger.ts): at 100 one-row
 * transactions/s, ~50 cycles a second per shard, about three share a PONG. The confirmation of
 * the last cycle of a burst waits up to 200 ms (the slot's confirmation goes every 100 ms
 * anyway); above 2,000 messages/s per shard every cycle PINGs at once.
 */
export const PING_LINGER: PingLingerOptions = {
  lingerMs: 50,
  fallbackMs: 200,
  busyMessagesPerSecond: 2_000,
  windowMs: 1_000,
  maxCyclesPerPing: CORE_CYCLES_IN_FLIGHT - 1,
};

export class CoreNatsSink implements DeliverySink {
  private open: OpenCycle | null = null;
  /** The PING that cycles settling now wait for, not yet written. */
  private nextPing: SharedPing | null = null;
  private fallback: NodeJS.Timeout | null = null;
  private readonly linger: PingLinger;
  /** Encoders of settled cycles, to be reused (reset() starts afresh if theirs was not confirmed). */
  private readonly spare: WireEncoder[] = [];

  constructor(
    private readonly link: NatsLink,
    lingerOptions: PingLingerOptions = PING_LINGER,
  ) {
    this.linger = new PingLinger(lingerOptions);
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
    const now = Date.now();
    const lingering = this.linger.mayWait(
      now,
      count,
      this.nextPing?.cycles ?? 0,
      this.nextPing?.since ?? now,
    );
    // The messages go out now either way. A quiet shard's cycle that sends the PING writes its
    // last chunk in one write with it (or, when the connection is gone, leaves it queued in
    // nats.js, which drops its queue on a reconnect, as it would a write). Not when busy: nats.js
    // copies its queue into a fresh buffer, and at thousands of cycles a second those copies cost
    // more than the writes they save (measured: +6 % CPU at 5,000 one-row transactions/s).
    if (lingering || this.linger.isBusy) cycle.encoder.flush();
    else cycle.encoder.flushBeforePing();
    try {
      if (!this.link.connected || this.link.epoch !== cycle.epoch)
        return allFailed(count, 'not connected to NATS', true);
      const ping = this.joinNextPing();
      if (!lingering) this.sendPing(ping);
      let refused: readonly PermissionViolationError[];
      try {
        refused = await ping.answered;
      } catch (error) {
        return allFailed(count, `NATS did not confirm: ${errorMessage(error)}`, true);
      }
      if (this.link.epoch !== cycle.epoch)
        return allFailed(count, 'the NATS connection was lost before the server confirmed', true);
      // The PONG came on the connection the cycle was written to: the socket wrote all of it.
      cycle.encoder.confirmWritten();
      return refused.length === 0 ? ALL_DELIVERED : refusedMessages(cycle.subjects, refused);
    } finally {
      this.spare.push(cycle.encoder);
    }
  }

  /** The PING not yet sent that the cycles settling now wait for. */
  private joinNextPing(): SharedPing {
    let ping = this.nextPing;
    if (ping === null) {
      let resolve!: (refused: readonly PermissionViolationError[]) => void;
      let reject!: (error: unknown) => void;
      const answered = new Promise<readonly PermissionViolationError[]>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      ping = { cycles: 0, since: Date.now(), answered, resolve, reject };
      this.nextPing = ping;
      this.armFallback(this.linger.options.fallbackMs);
    }
    ping.cycles++;
    return ping;
  }

  /**
   * One timer for all PINGs, never cleared (a cleared Node timer wakes the thread anyway): when it
   * fires, it sends a PING that waited `fallbackMs`, or looks again when that one would be due.
   */
  private armFallback(delayMs: number): void {
    if (this.fallback !== null) return;
    this.fallback = setTimeout(() => {
      this.fallback = null;
      const ping = this.nextPing;
      if (ping === null) return;
      const due = ping.since + this.linger.options.fallbackMs - Date.now();
      if (due <= 0) this.sendPing(ping);
      else this.armFallback(due);
    }, delayMs);
  }

  /**
   * Writes the PING the waiting cycles share. The server answers in order: a refusal of their
   * messages came before its PONG, one of a later cycle's after it. So the errors heard since
   * the previous PONG are theirs, taken once for all of them.
   */
  private sendPing(ping: SharedPing): void {
    if (this.nextPing === ping) this.nextPing = null;
    this.link.nc.flush().then(
      () => {
        const refused = this.link.permissionErrors;
        this.link.permissionErrors = [];
        ping.resolve(refused);
      },
      (error: unknown) => ping.reject(error),
    );
  }

  close(): Promise<void> {
    if (this.nextPing) this.sendPing(this.nextPing);
    if (this.fallback !== null) clearTimeout(this.fallback);
    this.fallback = null;
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
