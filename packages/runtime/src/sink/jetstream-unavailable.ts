/**
 * Whether a JetStream API request failed because JetStream cannot answer *right now*: the
 * request timed out (the node of the meta leader died and no new one is elected yet), or the
 * server answered 503 "JetStream system temporarily unavailable" (a cluster without quorum).
 * Such a failure is waited out; "not enabled", a refusal or a bad request is not.
 */
import { JetStreamApiError } from '@nats-io/jetstream';
import { TimeoutError } from '@nats-io/transport-node';
import type { BackoffPolicy } from '@wal2nats/core';

/** How a JetStream API request is retried while JetStream cannot answer (an election takes seconds). */
export const JETSTREAM_API_BACKOFF: BackoffPolicy = { initialMs: 250, maxMs: 5000, jitter: 0.2 };

/** nats-server's JSClusterNotAvailErr. */
const CLUSTER_NOT_AVAILABLE = 10008;

export function jetStreamTemporarilyUnavailable(error: unknown): boolean {
  if (error instanceof TimeoutError) return true;
  return error instanceof JetStreamApiError && (error.code === CLUSTER_NOT_AVAILABLE || error.status === 503);
}
