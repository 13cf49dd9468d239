/** Gathers the metrics of every thread into one Prometheus text (see thread-metrics.ts). */
import { AggregatorRegistry, collectDefaultMetrics, Registry } from 'prom-client';
import type { MetricsJson } from './thread-metrics.js';

/** prom-client's histogram still runs (it cannot be turned off alone): at this precision it wakes the thread once a minute. */
const HISTOGRAM_PRECISION_MS = 60_000;
const EVENT_LOOP_HISTOGRAM_METRICS = ['min', 'max', 'mean', 'stddev', 'p50', 'p90', 'p99'].map(
  (stat) => `nodejs_eventloop_lag_${stat}_seconds`,
);

export class MetricsGatherer {
  private readonly processRegistry = new Registry();

  constructor(
    private readonly mainThread: Registry,
    private readonly workers: () => Promise<MetricsJson>[],
  ) {
    // Process-wide CPU, memory and handles, once (on the main thread only). Without prom-client's
    // event-loop delay histogram: it wakes the main thread every 10 ms (its default precision),
    // 100 wake-ups a second, about a third of an idle wal2nats's CPU on the VMs we measure on
    // (docs/benchmarks.md, `oltp`); the main thread's delay is `wal2nats_event_loop_lag_seconds`
    // {thread="main"} (thread-metrics.ts). Its `nodejs_eventloop_lag_seconds`, measured at
    // each scrape, stays.
    collectDefaultMetrics({
      register: this.processRegistry,
      eventLoopMonitoringPrecision: HISTOGRAM_PRECISION_MS,
    });
    for (const name of EVENT_LOOP_HISTOGRAM_METRICS) this.processRegistry.removeSingleMetric(name);
  }

  private async aggregated(): Promise<Registry> {
    const parts = await Promise.all([
      this.processRegistry.getMetricsAsJSON(),
      this.mainThread.getMetricsAsJSON(),
      ...this.workers(),
    ]);
    return AggregatorRegistry.aggregate(parts as Parameters<typeof AggregatorRegistry.aggregate>[0]);
  }

  async text(): Promise<{ contentType: string; body: string }> {
    const aggregated = await this.aggregated();
    return { contentType: aggregated.contentType, body: await aggregated.metrics() };
  }

  /** The same metrics as values, for the console and `wal2nats status`. */
  async json(): Promise<MetricsJson> {
    return (await (await this.aggregated()).getMetricsAsJSON()) as MetricsJson;
  }
}
