/**
 * Reading values back out of prom-client's JSON form (`getMetricsAsJSON()`), for the console's
 * overview and `wal2nats status`: the same numbers as /metrics, from one source.
 */
import type { MetricsJson } from './thread-metrics.js';

export type Labels = Readonly<Record<string, string | number>>;

export interface Series {
  readonly labels: Labels;
  readonly value: number;
}

/** Every series of metric `name` (for a histogram, `name_bucket`, `name_sum`, `name_count`). */
export function seriesOf(metrics: MetricsJson, name: string): Series[] {
  const out: Series[] = [];
  for (const metric of metrics) {
    if (String(metric.type) === 'histogram') {
      if (!name.startsWith(`${metric.name}_`)) continue;
      for (const value of metric.values) {
        const v = value as { metricName?: string; labels: Labels; value: number };
        if (v.metricName === name) out.push({ labels: v.labels, value: v.value });
      }
    } else if (metric.name === name) {
      for (const value of metric.values) out.push({ labels: value.labels as Labels, value: value.value });
    }
  }
  return out;
}

/** The sum of every series of `name` (NaN when there is none). */
export function total(metrics: MetricsJson, name: string): number {
  const series = seriesOf(metrics, name);
  return series.length === 0 ? Number.NaN : series.reduce((sum, s) => sum + s.value, 0);
}

/** Sum by one label: label value → sum. */
export function sumBy(metrics: MetricsJson, name: string, label: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of seriesOf(metrics, name)) {
    const key = String(s.labels[label] ?? '');
    out.set(key, (out.get(key) ?? 0) + s.value);
  }
  return out;
}

/** Cumulative bucket counts of a histogram, by upper bound (+Inf last), summed over labels. */
export function buckets(metrics: MetricsJson, name: string): [number, number][] {
  const byBound = new Map<number, number>();
  for (const s of seriesOf(metrics, `${name}_bucket`)) {
    const le = s.labels.le;
    const bound = le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le);
    byBound.set(bound, (byBound.get(bound) ?? 0) + s.value);
  }
  return [...byBound.entries()].sort((a, b) => a[0] - b[0]);
}

/**
 * The `q` quantile of the observations between two snapshots of cumulative buckets, with
 * Prometheus's histogram_quantile interpolation; null when nothing was observed.
 */
export function quantileBetween(
  before: readonly [number, number][],
  after: readonly [number, number][],
  q: number,
): number | null {
  const start = new Map(before);
  const deltas = after.map(
    ([bound, count]) => [bound, Math.max(0, count - (start.get(bound) ?? 0))] as const,
  );
  const observed = deltas.at(-1)?.[1] ?? 0;
  if (observed <= 0) return null;
  const rank = q * observed;
  let previousBound = 0;
  let previousCount = 0;
  for (const [bound, count] of deltas) {
    if (count >= rank) {
      // Above the highest finite bucket: the best known answer is that bound.
      if (!Number.isFinite(bound)) return previousBound;
      const inBucket = count - previousCount;
      return inBucket <= 0
        ? bound
        : previousBound + ((bound - previousBound) * (rank - previousCount)) / inBucket;
    }
    previousBound = Number.isFinite(bound) ? bound : previousBound;
    previousCount = count;
  }
  return previousBound;
}
