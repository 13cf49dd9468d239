import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Histogram, Registry } from 'prom-client';
import { buckets, quantileBetween, seriesOf, sumBy, total } from './metrics-json.js';
import { createThreadRegistry, registryJson, threadCpuReader } from './thread-metrics.js';

describe('metrics as values', () => {
  it('reads counters, gauges and histogram buckets back from the JSON form', async () => {
    const registry = new Registry();
    const histogram = new Histogram({
      name: 'x_seconds',
      help: 'x',
      buckets: [0.1, 1, 10],
      registers: [registry],
    });
    for (const v of [0.05, 0.05, 0.5, 5]) histogram.observe(v);
    const json = await registryJson(registry);
    assert.deepEqual(buckets(json, 'x_seconds'), [
      [0.1, 2],
      [1, 3],
      [10, 4],
      [Number.POSITIVE_INFINITY, 4],
    ]);
    assert.equal(total(json, 'x_seconds_count'), 4);
    assert.equal(seriesOf(json, 'x_seconds_sum')[0]!.value, 5.6);
    assert.ok(Number.isNaN(total(json, 'missing')));
  });

  it('computes a quantile of what was observed between two snapshots, like histogram_quantile', () => {
    const before: [number, number][] = [
      [0.1, 10],
      [1, 10],
      [Number.POSITIVE_INFINITY, 10],
    ];
    const after: [number, number][] = [
      [0.1, 10],
      [1, 20],
      [Number.POSITIVE_INFINITY, 20],
    ];
    // Ten new observations, all in (0.1, 1]: the median interpolates to the middle.
    assert.ok(Math.abs(quantileBetween(before, after, 0.5)! - 0.55) < 1e-9);
    assert.equal(quantileBetween(after, after, 0.5), null);
    // Above the last finite bucket: its bound.
    assert.equal(
      quantileBetween(
        [
          [1, 0],
          [Number.POSITIVE_INFINITY, 0],
        ],
        [
          [1, 0],
          [Number.POSITIVE_INFINITY, 3],
        ],
        0.99,
      ),
      1,
    );
  });

  it('labels the per-thread metrics with the thread, with CPU time where the platform tells it', async () => {
    const json = await registryJson(createThreadRegistry('shard-7'));
    assert.ok(sumBy(json, 'wal2nats_event_loop_lag_seconds', 'thread').has('shard-7'));
    assert.ok(sumBy(json, 'wal2nats_thread_heap_used_bytes', 'thread').get('shard-7')! > 0);
    if (process.platform === 'linux') {
      assert.ok(threadCpuReader(), 'Linux tells each thread its CPU time');
      assert.ok(sumBy(json, 'wal2nats_thread_cpu_seconds_total', 'thread').has('shard-7'));
    }
  });
});
