/** The metrics of the reader thread: the slot's position and how far behind it is. */
import { Counter, Gauge, type Registry } from 'prom-client';

export interface ReaderMetrics {
  readonly confirmedFlushLsn: Gauge;
  readonly replicationLagBytes: Gauge;
  readonly changesReceived: Counter;
  readonly streaming: Gauge;
  readonly reconnects: Counter;
  readonly statusUpdates: Counter;
  readonly active: Gauge;
}

export function createReaderMetrics(registry: Registry): ReaderMetrics {
  const registers = [registry];
  return {
    confirmedFlushLsn: new Gauge({
      name: 'wal2nats_confirmed_flush_lsn',
      help: 'The LSN last confirmed to Postgres (everything before it is delivered).',
      registers,
    }),
    replicationLagBytes: new Gauge({
      name: 'wal2nats_replication_lag_bytes',
      help: 'Server WAL end minus the confirmed LSN.',
      registers,
    }),
    changesReceived: new Counter({
      name: 'wal2nats_changes_received_total',
      help: 'Row changes received from the slot.',
      registers,
    }),
    streaming: new Gauge({
      name: 'wal2nats_slot_streaming',
      help: '1 while the replication stream is open.',
      registers,
    }),
    statusUpdates: new Counter({
      name: 'wal2nats_standby_status_updates_total',
      help: 'Standby status updates sent to Postgres (each carries the confirmed LSN).',
      registers,
    }),
    active: new Gauge({
      name: 'wal2nats_active',
      help: '1 while this process streams from the slot (the active one), 0 on a standby.',
      registers,
    }),
    reconnects: new Counter({
      name: 'wal2nats_replication_reconnects_total',
      help: 'Replication connections opened again after a failure.',
      registers,
    }),
  };
}
