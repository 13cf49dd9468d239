/**
 * Every use wal2nats makes of nats.js internals, in one place: the protocol handler's
 * `sendCommand` (queue bytes as they are, behind whatever `publish()` queued before, ahead of
 * the PING of a later `flush()`; a reconnect drops them just the same) and `flushPending`
 * (write the queue to the socket now). wire-encoder.ts hands the shards' ready-made HPUB frames
 * over through it, without the per-message encoding `publish()` does (docs/architecture.md,
 * "How the chosen libraries are used").
 *
 * Written against @nats-io/transport-node 3.4.0 with @nats-io/nats-core 3.4.0, pinned exactly
 * in package.json. nats-protocol-adapter.test.ts fails when the installed versions differ or
 * the fast path is no longer taken. At run time, a connection without these internals is
 * refused at once with a clear error (exit 1) rather than served by a silent, slower fallback:
 * an upgrade must be a decision, made with the test.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { ErrorCode, Wal2NatsError } from '@wal2nats/core';

/** The versions these internals were read from. */
export const NATS_CLIENT_VERSION = '3.4.0';

interface ProtocolInternals {
  sendCommand(command: Uint8Array): void;
  flushPending(): void;
}

export class NatsProtocolAdapter {
  private constructor(private readonly protocol: ProtocolInternals) {}

  /** The adapter of `nc`'s protocol handler; throws a Wal2NatsError when it lacks the internals. */
  static of(nc: NatsConnection): NatsProtocolAdapter {
    const protocol = (nc as unknown as { protocol?: Partial<ProtocolInternals> }).protocol;
    const missing = [
      typeof protocol?.sendCommand === 'function' ? null : 'protocol.sendCommand',
      typeof protocol?.flushPending === 'function' ? null : 'protocol.flushPending',
    ].filter((name) => name !== null);
    if (missing.length > 0) {
      throw new Wal2NatsError(
        ErrorCode.Internal,
        `the installed NATS client lacks ${missing.join(' and ')}, the internals wal2nats writes its frames through (checked against @nats-io/transport-node ${NATS_CLIENT_VERSION})`,
        `install @nats-io/transport-node ${NATS_CLIENT_VERSION} exactly (as wal2nats's package.json pins it); to move to another version, adapt packages/runtime/src/sink/nats-protocol-adapter.ts until its test passes`,
      );
    }
    return new NatsProtocolAdapter(protocol as ProtocolInternals);
  }

  /**
   * Queues `chunk` (complete protocol frames) and writes it at once, alone: left queued, nats.js
   * would copy it together with the next chunk. nats.js reads `chunk` until the socket has
   * written it, so its memory must not be reused before the server confirms (a PONG, a PubAck).
   */
  send(chunk: Uint8Array): void {
    this.protocol.sendCommand(chunk);
    this.protocol.flushPending();
  }

  /**
   * Queues `chunk` without writing it: the `flush()` that must follow at once (same turn of the
   * event loop) writes it and its PING in one socket write (nats.js copies its queue together).
   * Why: at low rates a publish cycle is one small message, and a second write for the PING was a
   * second system call and a second wake-up of nats-server per transaction (docs/benchmarks.md,
   * `oltp`). Only for a cycle's last, small chunk: a copy of a large one would cost more than
   * the write it saves.
   */
  queueBeforePing(chunk: Uint8Array): void {
    this.protocol.sendCommand(chunk);
  }
}
