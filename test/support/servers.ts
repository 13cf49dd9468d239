/**
 * The servers of one test file: a throwaway Postgres and nats-server started before its tests
 * (with a NATS connection for the test itself) and removed after them, even on failure.
 */
import { after, before } from 'node:test';
import type { NatsConnection } from '@nats-io/transport-node';
import {
  startNats,
  startPostgres,
  type NatsOptions,
  type NatsServer,
  type PgServer,
  type PostgresOptions,
} from '../harness/index.js';

export interface TestServers {
  readonly pg: PgServer;
  readonly nats: NatsServer;
  /** A connection of the test's own, which reconnects by itself. */
  readonly nc: NatsConnection;
}

export interface UseServersOptions {
  readonly postgres?: PostgresOptions;
  readonly nats?: NatsOptions;
  /** Runs once the servers are up, in the same hook (node:test gives root hooks no order to rely on). */
  readonly afterStart?: (servers: TestServers) => Promise<void>;
  /** Runs after the tests and before the servers go (e.g. stop what uses them); they go even if it throws. */
  readonly beforeStop?: () => Promise<void>;
}

export function useServers(options: UseServersOptions = {}): TestServers {
  const servers: { pg?: PgServer; nats?: NatsServer; nc?: NatsConnection } = {};
  before(async () => {
    [servers.pg, servers.nats] = await Promise.all([
      startPostgres(options.postgres),
      startNats(options.nats),
    ]);
    servers.nc = await servers.nats.connect();
    await options.afterStart?.(started);
  });
  after(async () => {
    try {
      await options.beforeStop?.();
    } finally {
      await servers.nc?.close();
      await Promise.all([servers.pg?.dispose(), servers.nats?.dispose()]);
    }
  });
  const started: TestServers = {
    get pg() {
      return must(servers.pg, 'Postgres');
    },
    get nats() {
      return must(servers.nats, 'nats-server');
    },
    get nc() {
      return must(servers.nc, 'the NATS connection');
    },
  };
  return started;
}

/** A server of a test file's before() hook, or a clear error when used outside a test. */
export function must<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`${what} is not started: use it inside a test, after before()`);
  return value;
}
