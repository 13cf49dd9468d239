/**
 * What a core-NATS publisher (ShardPublisher) publishes through: CoreNatsSink, delivery
 * confirmed by a flush round trip. (JetStream publishes through an ordered chain instead:
 * jetstream-chain.ts.) A publish cycle is: begin, publish each message in order, then settle,
 * which says which messages were delivered. A cycle begun with nothing published needs no
 * settle. The next cycle may begin before the previous settle resolved (several cycles in
 * flight; their settles resolve in cycle order).
 */
export interface CycleResult {
  /**
   * Index (in publish order within the cycle) → why it was not delivered. Every message not
   * listed was delivered.
   */
  readonly failures: ReadonlyMap<number, string>;
  /** The whole cycle failed because the connection was lost: retry as soon as it is back. */
  readonly connectionLost: boolean;
}

import type { WireMessage } from './wire-encoder.js';

export interface DeliverySink {
  readonly connected: boolean;
  /** Set when the server refused us for good; the shard stops and the process exits 3. */
  readonly fatalError: Error | null;
  onReconnect(listener: () => void): void;
  beginCycle(): void;
  /**
   * Publishes a message encoded as its bytes (shard/outgoing-message.ts). Throws synchronously
   * when the client refuses it (e.g. over max_payload).
   */
  publishEncoded(message: WireMessage): void;
  settle(): Promise<CycleResult>;
  close(): Promise<void>;
}

/** A result where every one of `count` messages failed for `reason`. */
export function allFailed(count: number, reason: string, connectionLost: boolean): CycleResult {
  const failures = new Map<number, string>();
  for (let i = 0; i < count; i++) failures.set(i, reason);
  return { failures, connectionLost };
}

export const ALL_DELIVERED: CycleResult = { failures: new Map(), connectionLost: false };
