/**
 * A throwaway nats-server cluster on loopback: `size` nodes (NatsServer each, so each has its
 * own port, temp dir and JetStream store), named n1..nN, routed to each other, with clustered
 * JetStream. create() resolves once JetStream has a meta leader, i.e. streams can be created.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection, NodeConnectionOptions } from '@nats-io/transport-node';
import { connect } from '@nats-io/transport-node';
import { asyncDispose } from './cleanup.js';
import { freePort } from './free-port.js';
import { startNats, type NatsServer } from './nats.js';
import { waitFor } from './wait.js';

export interface NatsClusterOptions {
  /** Nodes (default 3). */
  size?: number;
  /** More configuration for every node (e.g. authorization). */
  config?: string;
}

export class NatsCluster {
  private constructor(readonly nodes: readonly NatsServer[]) {}

  static async create(options: NatsClusterOptions = {}): Promise<NatsCluster> {
    const size = options.size ?? 3;
    const clusterPorts = await Promise.all(Array.from({ length: size }, () => freePort()));
    const started = await Promise.allSettled(
      clusterPorts.map((port, i) => {
        const routes = clusterPorts
          .filter((_, j) => j !== i)
          .map((p) => JSON.stringify(`nats-route://127.0.0.1:${p}`));
        const config = [
          `server_name: n${i + 1}`,
          `cluster { name: wal2nats-test, listen: ${JSON.stringify(`127.0.0.1:${port}`)}, routes: [${routes.join(', ')}] }`,
          options.config ?? '',
        ].join('\n');
        return startNats({ config });
      }),
    );
    const nodes = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const cluster = new NatsCluster(nodes);
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      await cluster.dispose();
      throw failed.reason;
    }
    try {
      await cluster.waitForJetStream();
    } catch (err) {
      await cluster.dispose();
      throw err;
    }
    return cluster;
  }

  /** Every node's client URL, for --nats-url. */
  get urls(): string[] {
    return this.nodes.map((n) => n.url);
  }

  /** The node named `n<k>` (as JetStream reports leaders). */
  node(serverName: string): NatsServer {
    const index = Number(/^n(\d+)$/.exec(serverName)?.[1]) - 1;
    const node = this.nodes[index];
    if (!node) throw new Error(`no cluster node named ${serverName}`);
    return node;
  }

  /** The node serving `host:port` (as nats.js reports the server it is connected to). */
  nodeAt(hostPort: string): NatsServer {
    const node = this.nodes.find((n) => n.url.endsWith(`:${hostPort.split(':').pop()}`));
    if (!node) throw new Error(`no cluster node at ${hostPort}`);
    return node;
  }

  /** A client that knows every node and reconnects quickly and forever. */
  connect(options: Partial<NodeConnectionOptions> = {}): Promise<NatsConnection> {
    return connect({ servers: this.urls, reconnectTimeWait: 100, maxReconnectAttempts: -1, ...options });
  }

  /** Waits until JetStream answers account info (it has a meta leader). */
  async waitForJetStream(timeoutMs = 30_000): Promise<void> {
    const nc = await this.connect();
    try {
      await waitFor(async () => (await (await jetstreamManager(nc)).getAccountInfo()) !== undefined, {
        what: 'the JetStream cluster to elect a meta leader',
        timeoutMs,
        intervalMs: 200,
      });
    } finally {
      await nc.close();
    }
  }

  async dispose(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.dispose()));
  }

  [asyncDispose](): Promise<void> {
    return this.dispose();
  }
}

export function startNatsCluster(options: NatsClusterOptions = {}): Promise<NatsCluster> {
  return NatsCluster.create(options);
}
