/**
 * Every thread keeps its own prom-client Registry; the main thread gathers them all into one
 * /metrics with AggregatorRegistry.aggregate (counters and buckets sum; each table's series
 * lives in one shard only, so gauges sum to the right value too).
 *
 * Process metrics (CPU, RSS) are collected once, on the main thread: collected in every worker
 * they would be summed (PITFALLS.md measured 371 MB shown for a 92 MB process). Per thread we
 * export event-loop lag and V8 heap, labelled with the thread.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import { Gauge, Registry, type MetricObjectWithValues, type MetricValue } from 'prom-client';

export type MetricsJson = MetricObjectWithValues<MetricValue<string>>[];

export function createThreadRegistry(thread: string): Registry {
  const registry = new Registry();
  const delay = monitorEventLoopDelay({ resolution: 20 });
  delay.enable();
  new Gauge({
    name: 'wal2nats_event_loop_lag_seconds',
    help: 'Event-loop delay of a thread (p99 since the last scrape).',
    labelNames: ['thread'],
    registers: [registry],
    collect() {
      this.set({ thread }, delay.percentile(99) / 1e9);
      delay.reset();
    },
  });
  new Gauge({
    name: 'wal2nats_thread_heap_used_bytes',
    help: 'V8 heap in use by a thread.',
    labelNames: ['thread'],
    registers: [registry],
    collect() {
      this.set({ thread }, getHeapStatistics().used_heap_size);
    },
  });
  return registry;
}

export async function registryJson(registry: Registry): Promise<MetricsJson> {
  return (await registry.getMetricsAsJSON()) as MetricsJson;
}
