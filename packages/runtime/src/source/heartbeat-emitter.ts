/**
 * Writes a tiny non-transactional logical message every interval, so that an idle slot (or one
 * whose tables are quiet while others write) still advances and Postgres can recycle WAL. The
 * message comes back through the slot in WAL order; the router confirms its LSN only once
 * everything before it is delivered.
 *
 * On the same connection it also asks for the server's current WAL end, for
 * `wal2nats_replication_lag_bytes`: the replication stream tells the reader the WAL end only in
 * keepalives and XLogData, and it reads neither while reading is paused for backpressure or the
 * stream is down, which is exactly when the lag grows.
 */
import pg from 'pg';
import { errorMessage, HEARTBEAT_PREFIX, parseLsn, type Config, type Lsn } from '@wal2nats/core';
import type { Logger } from '../log/logger.js';
import { clientConfig } from '../postgres/client-config.js';

export interface HeartbeatOptions {
  /** Heartbeat messages every this many ms, or null to write none (Postgres before 14). */
  readonly heartbeatMs: number | null;
  /** Asks for the server's WAL end every this many ms. */
  readonly walEndProbeMs: number;
  readonly onWalEnd: (lsn: Lsn) => void;
}

/** On a standby there is no insert position; the replayed position is its WAL end. */
const WAL_END_SQL =
  'CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END::text';

export class HeartbeatEmitter {
  private timer: NodeJS.Timeout | null = null;
  private client: pg.Client | null = null;
  private warned = false;
  private lastBeatAt = 0;
  private busy = false;
  private stopped = false;

  constructor(
    private readonly config: Config,
    private readonly options: HeartbeatOptions,
    private readonly log: Logger,
  ) {}

  start(): void {
    const every =
      this.options.heartbeatMs === null
        ? this.options.walEndProbeMs
        : Math.min(this.options.walEndProbeMs, this.options.heartbeatMs);
    this.lastBeatAt = Date.now();
    this.timer = setInterval(() => void this.tick(), every);
    this.timer.unref();
    void this.tick();
  }

  private async tick(): Promise<void> {
    if (this.busy || this.stopped) return;
    this.busy = true;
    const { heartbeatMs } = this.options;
    const beat = heartbeatMs !== null && Date.now() - this.lastBeatAt >= heartbeatMs;
    try {
      if (!this.client) {
        const client = new pg.Client(clientConfig(this.config));
        client.on('error', () => {
          this.client = null;
        });
        await client.connect();
        this.client = client;
      }
      if (beat) {
        this.lastBeatAt = Date.now();
        await this.client.query('SELECT pg_logical_emit_message(false, $1, $2)', [HEARTBEAT_PREFIX, '']);
      }
      const result = await this.client.query<{ wal_end: string | null }>(`SELECT ${WAL_END_SQL} AS wal_end`);
      const walEnd = result.rows[0]?.wal_end;
      if (walEnd) this.options.onWalEnd(parseLsn(walEnd));
    } catch (error) {
      const client = this.client;
      this.client = null;
      await client?.end().catch(() => {});
      if (!this.warned && !this.stopped) {
        this.warned = true;
        this.log.warn(
          'cannot write heartbeat messages or read the WAL end; an idle slot will advance only with new changes, and the lag metric only from the stream',
          { error: errorMessage(error) },
        );
      }
    } finally {
      this.busy = false;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.client?.end().catch(() => {});
    this.client = null;
  }
}
