/** Gathers the metrics of every thread into one Prometheus text (see thread-metrics.ts). */
import { AggregatorRegistry, collectDefaultMetrics, Registry } from 'prom-client';
import type { MetricsJson } from './thread-metrics.js';

export class MetricsGatherer {
  private readonly processRegistry = new Registry();

  constructor(private readonly mainThread: Registry, private readonly workers: () => Promise<MetricsJson>[]) {
    // Process-wide CPU, memory and handles, once (on the main thread only).
    collectDefaultMetrics({ register: this.processRegistry });
  }

  private async aggregated(): Promise<Registry> {
    const parts = await Promise.all([this.processRegistry.getMetricsAsJSON(), this.mainThread.getMetricsAsJSON(), ...this.workers()]);
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
