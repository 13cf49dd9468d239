/** What the scenario runner hands to each scenario, and what a scenario hands back. */
import type { NatsConnection } from '@nats-io/transport-node';
import type { NatsServer, PgServer } from '../../test/harness/index.js';

export interface BenchContext {
  pg: PgServer;
  nats: NatsServer;
  /** The bench's own connection (the subscriber side). */
  nc: NatsConnection;
  quick: boolean;
  verbose: boolean;
}

/** One line of the results table: a consumer draining a slot, or a publisher. */
export interface ResultRow {
  scenario: string;
  variant: string;
  changes: number;
  seconds: number;
  changesPerSecond: number;
  mbPerSecond?: number;
  cpuPer100k?: number;
  peakRssMiB?: number;
  ok: boolean;
}

export interface ScenarioOutcome {
  name: string;
  ok: boolean;
  failures: string[];
  rows: ResultRow[];
  /** Everything measured, for the JSON file. */
  data: unknown;
}
