/**
 * wal2nats's own view of latency, read from its /metrics: the histogram
 * `wal2nats_end_to_end_latency_seconds` (commit timestamp → the moment NATS confirmed the
 * message, one sample per table and publish cycle: its oldest change, so the worst of that
 * cycle). Read at the start and the end of a steady phase, it splits the subscriber's latency
 * into what happened up to NATS's confirmation and what happened after it (nats-server
 * delivering to the subscriber, the subscriber reading).
 */
import { quantileBetween } from '@wal2nats/runtime';
import { scrape } from '../../test/support/metrics.js';

const FAMILY = 'wal2nats_end_to_end_latency_seconds';

/** Cumulative buckets [upper bound in s, count], summed over every series (tables, shards). */
export async function latencyBuckets(httpBase: string): Promise<[number, number][]> {
  const family = (await scrape(httpBase)).get(FAMILY);
  const byBound = new Map<number, number>();
  for (const sample of family?.samples ?? []) {
    if (sample.name !== `${FAMILY}_bucket`) continue;
    const le = sample.labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(sample.labels.le);
    byBound.set(le, (byBound.get(le) ?? 0) + sample.value);
  }
  return [...byBound.entries()].sort((a, b) => a[0] - b[0]);
}

export interface Wal2NatsLatency {
  /** Samples (table-cycles) between the two reads. */
  cycles: number;
  /** Share of them confirmed within 50 ms of the commit. */
  within50ms: number;
  /** p99 in ms, interpolated within the histogram's buckets (5, 10, 25, 50, 100, 250 ms, ...). */
  p99Ms: number | null;
}

export function latencyBetween(before: [number, number][], after: [number, number][]): Wal2NatsLatency {
  const start = new Map(before);
  const delta = (bound: number): number =>
    (after.find(([b]) => b === bound)?.[1] ?? 0) - (start.get(bound) ?? 0);
  const cycles = delta(Number.POSITIVE_INFINITY);
  const p99 = quantileBetween(before, after, 0.99);
  return {
    cycles,
    within50ms: cycles > 0 ? delta(0.05) / cycles : Number.NaN,
    p99Ms: p99 === null ? null : p99 * 1000,
  };
}
