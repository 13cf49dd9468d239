/** The metrics a shard worker updates as it publishes (names: docs/contract.md "HTTP"). */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface ShardMetrics {
  readonly published: Counter<'table' | 'action'>;
  readonly retries: Counter<'table'>;
  readonly backoffSeconds: Gauge<'table'>;
  readonly mailboxDepth: Gauge<'shard'>;
  readonly endToEndLatency: Histogram;
  readonly publishDuration: Histogram;
  readonly orderBreaks: Counter<'table'>;
  /** 1 while the shard's NATS connection is up (one series per shard, so the sum across threads is the shards connected). */
  readonly natsConnected: Gauge<'shard'>;
  readonly natsReconnects: Counter<'shard'>;
  /** Columns published in their text form because their type could not be resolved (counted per Relation message). */
  readonly unknownColumnTypes: Counter<'table'>;
}

export function createShardMetrics(registry: Registry): ShardMetrics {
  const registers = [registry];
  return {
    published: new Counter({
      name: 'wal2nats_messages_published_total',
      help: 'Messages delivered to NATS.',
      labelNames: ['table', 'action'],
      registers,
    }),
    retries: new Counter({
      name: 'wal2nats_publish_retries_total',
      help: 'Failed delivery attempts that will be retried.',
      labelNames: ['table'],
      registers,
    }),
    backoffSeconds: new Gauge({
      name: 'wal2nats_backoff_seconds',
      help: 'Current backoff delay of a table, 0 when healthy.',
      labelNames: ['table'],
      registers,
    }),
    mailboxDepth: new Gauge({
      name: 'wal2nats_mailbox_depth',
      help: 'Undelivered changes in a shard.',
      labelNames: ['shard'],
      registers,
    }),
    endToEndLatency: new Histogram({
      name: 'wal2nats_end_to_end_latency_seconds',
      help: 'From commit timestamp to delivery.',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers,
    }),
    natsConnected: new Gauge({
      name: 'wal2nats_nats_connected',
      help: 'Whether a shard is connected to NATS (1) or not (0).',
      labelNames: ['shard'],
      registers,
    }),
    natsReconnects: new Counter({
      name: 'wal2nats_nats_reconnects_total',
      help: 'Times a shard got its NATS connection back after losing it.',
      labelNames: ['shard'],
      registers,
    }),
    unknownColumnTypes: new Counter({
      name: 'wal2nats_unknown_column_types_total',
      help: 'Columns whose type could not be resolved (dropped before wal2nats saw it): their values are published in Postgres text form. Counted per Relation message.',
      labelNames: ['table'],
      registers,
    }),
    orderBreaks: new Counter({
      name: 'wal2nats_order_breaks_total',
      help: 'Times a later change of a table was accepted before an earlier one that failed (a tripwire: 0 by construction).',
      labelNames: ['table'],
      registers,
    }),
    publishDuration: new Histogram({
      name: 'wal2nats_publish_duration_seconds',
      help: 'From publishing a batch to its confirmation by the server.',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
      registers,
    }),
  };
}
