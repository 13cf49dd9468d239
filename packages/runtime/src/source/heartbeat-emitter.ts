/**
 * Writes a tiny non-transactional logical message every interval, so that an idle slot (or one
 * whose tables are quiet while others write) still advances and Postgres can recycle WAL. The
 * message comes back through the slot in WAL order; the router confirms its LSN only once
 * everything before it is delivered.
 */
import pg from 'pg';
import { HEARTBEAT_PREFIX, type Config } from '@wal2nats/core';
import type { Logger } from '../log/logger.js';
import { clientConfig } from './replication-setup.js';

export class HeartbeatEmitter {
  private timer: NodeJS.Timeout | null = null;
  private client: pg.Client | null = null;
  private warned = false;

  constructor(private readonly config: Config, private readonly intervalMs: number, private readonly log: Logger) {}

  start(): void {
    this.timer = setInterval(() => void this.beat(), this.intervalMs);
    this.timer.unref();
  }

  private async beat(): Promise<void> {
    try {
      if (!this.client) {
        const client = new pg.Client(clientConfig(this.config));
        client.on('error', () => { this.client = null; });
        await client.connect();
        this.client = client;
      }
      await this.client.query('SELECT pg_logical_emit_message(false, $1, $2)', [HEARTBEAT_PREFIX, '']);
    } catch (error) {
      const client = this.client;
      this.client = null;
      await client?.end().catch(() => {});
      if (!this.warned) {
        this.warned = true;
        this.log.warn('cannot write heartbeat messages; an idle slot will advance only with new changes', { error: error instanceof Error ? error.message : String(error) });
      }
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.client?.end().catch(() => {});
    this.client = null;
  }
}
