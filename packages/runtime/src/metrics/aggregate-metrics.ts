/** Gathers the metrics of every thread into one Prometheus text (see thread-metrics.ts). */
import { AggregatorRegistry, collectDefaultMetrics, Registry } from 'prom-client';
import type { MetricsJson } from './thread-metrics.js';

export class MetricsGatherer {
  private readonly processRegistry = new Registry();

  constructor(private readonly mainThread: Registry, private readonly workers: () => Promise<MetricsJson>[]) {
    // Process-wide CPU, memory and handles, once (on the main thread only).
    collectDefaultMetrics({ register: this.processRegistry });
  }

  async text(): Promise<{ contentType: string; body: string }> {
    const parts = await Promise.all([this.processRegistry.getMetricsAsJSON(), this.mainThread.getMetricsAsJSON(), ...this.workers()]);
    const aggregated = AggregatorRegistry.aggregate(parts as Parameters<typeof AggregatorRegistry.aggregate>[0]);
    return { contentType: aggregated.contentType, body: await aggregated.metrics() };
  }
}
