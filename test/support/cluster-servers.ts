/**
 * The servers of a test file that needs a NATS cluster: a throwaway Postgres and a 3-node
 * nats-server cluster started before its tests (with a connection that knows every node, and its
 * JetStream manager) and removed after them, even on failure. The cluster twin of servers.ts.
 */
import { after, before } from 'node:test';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { startPostgres, type PgServer } from '../harness/index.js';
import { startNatsCluster, type NatsCluster } from '../harness/nats-cluster.js';
import { must } from './servers.js';

export interface ClusterTestServers {
  readonly pg: PgServer;
  readonly cluster: NatsCluster;
  /** A connection of the test's own to every node, which reconnects by itself. */
  readonly nc: NatsConnection;
  readonly jsm: JetStreamManager;
}

export function useClusterServers(size = 3): ClusterTestServers {
  const servers: { pg?: PgServer; cluster?: NatsCluster; nc?: NatsConnection; jsm?: JetStreamManager } = {};
  before(async () => {
    [servers.pg, servers.cluster] = await Promise.all([startPostgres(), startNatsCluster({ size })]);
    servers.nc = await servers.cluster.connect();
    servers.jsm = await jetstreamManager(servers.nc);
  });
  after(async () => {
    await servers.nc?.close();
    await Promise.all([servers.pg?.dispose(), servers.cluster?.dispose()]);
  });
  return {
    get pg() {
      return must(servers.pg, 'Postgres');
    },
    get cluster() {
      return must(servers.cluster, 'the NATS cluster');
    },
    get nc() {
      return must(servers.nc, 'the NATS connection');
    },
    get jsm() {
      return must(servers.jsm, 'the JetStream manager');
    },
  };
}
