/**
 * High availability: the replication slot is the lease (docs/architecture.md, "Running two").
 *
 * Postgres lets one walsender stream from a slot at a time, so every `wal2nats run` on the same
 * slot competes for it and the one that streams is the active one; the others are standbys that
 * look every 250 ms at who holds the slot and start streaming as soon as it is free. A killed
 * process's connection closes and its walsender ends at once; a frozen one is ended by Postgres
 * after `wal_sender_timeout`, which each of our replication connections sets to 5 s (and the
 * reader sends a status update every second, well within it).
 *
 * While active, this also proves how long the slot stays ours: Postgres keeps our walsender at
 * least `wal_sender_timeout` after the last status update it received, and
 * `pg_stat_replication.reply_time` is that update's send time in our own clock. The shards
 * publish only before that deadline less a margin (publish-lease.ts), so a process that wakes up
 * after losing the slot publishes nothing it still holds.
 *
 * Postgres shows `reply_time` only to superusers and roles with pg_read_all_stats, not to a plain
 * REPLICATION role, even for its own walsender. For such a role the proof is weaker: the probe
 * still shows that our walsender holds the slot, and the lease runs from the send time of the
 * last status update sent before the probe, assuming that update reached Postgres within the
 * margin (a warning at the first probe says so, and how to get the exact proof).
 */
import { hostname } from 'node:os';
import pg from 'pg';
import {
  ErrorCode,
  Wal2NatsError,
  holderFingerprint,
  holderMismatch,
  holderName,
  parseHolderName,
  quoteIdent,
  type Config,
  type SlotHolder,
} from '@wal2nats/core';
import type { Logger } from '../log/logger.js';
import { mapPostgresError } from '../postgres/pg-errors.js';
import { clientConfig, userOf } from '../postgres/client-config.js';
import type { PublishLease } from './publish-lease.js';
import { readSlotState, type SlotState } from './slot-state.js';

/** Set on each replication connection: how long Postgres keeps a walsender that hears nothing from us. */
export const WAL_SENDER_TIMEOUT_MS = 5_000;
/** The reader's status update interval must stay well inside WAL_SENDER_TIMEOUT_MS. */
export const STATUS_INTERVAL_MS = 1_000;
/** The shards stop starting publish cycles this long before Postgres could end our session. */
const LEASE_MARGIN_MS = 1_500;
/** How often a standby looks at the slot. */
const STANDBY_POLL_MS = 250;
/** How often the active one proves its session is alive (and so extends the publish lease). */
const RENEW_INTERVAL_MS = 500;
/** How long a slot held by something that is not wal2nats may take to be released (exit 3 after). */
const FOREIGN_HOLDER_GRACE_MS = 15_000;

export type Role = 'starting' | 'standby' | 'active';

export interface RoleStatus {
  readonly role: Role;
  /** When this process took its current role (ISO 8601). */
  readonly since: string;
  /** The process that streams from the slot (this one when active), when it is a wal2nats. */
  readonly active: { readonly host: string; readonly pid: number } | null;
  /** This process's name in `pg_stat_replication` while active. */
  readonly applicationName: string;
}

export class SlotLease {
  readonly applicationName: string;
  private readonly me: SlotHolder;
  private client: pg.Client | null = null;
  private role: Role = 'starting';
  private since = Date.now();
  private activeHolder: { host: string; pid: number } | null = null;
  private renewTimer: NodeJS.Timeout | null = null;
  private renewing = false;
  private lastWaitNote = '';
  /** When this session's START_REPLICATION was sent, and when our last status update was. */
  private sessionRequestedAt = 0;
  private statusSentAt: () => number = () => 0;
  private warnedHiddenDetails = false;

  constructor(
    private readonly config: Config,
    databaseName: string,
    private readonly publishLease: PublishLease,
    private readonly log: Logger,
    host = hostname(),
    pid = process.pid,
  ) {
    const fingerprint = holderFingerprint({ ...config, databaseName });
    this.me = { host, pid, ...fingerprint };
    this.applicationName = holderName(this.me);
  }

  /** The replication connection's settings: our holder name, and the per-session timeout that ends a frozen holder's session. */
  replicationConfig(base: pg.ClientConfig): pg.ClientConfig {
    return {
      ...base,
      application_name: this.applicationName,
      options: `${base.options ?? ''} -c wal_sender_timeout=${WAL_SENDER_TIMEOUT_MS}`.trim(),
    };
  }

  get isActive(): boolean {
    return this.role === 'active';
  }

  status(): RoleStatus {
    return {
      role: this.role,
      since: new Date(this.since).toISOString(),
      active: this.activeHolder,
      applicationName: this.applicationName,
    };
  }

  /**
   * Waits as a standby until the slot is free, and returns its confirmed position (where the
   * next session starts), or null when `stopping()` turned true. Throws when we may not wait:
   * the slot is gone, the active wal2nats publishes something else, or a foreign consumer holds
   * it past the grace period.
   */
  async acquire(stopping: () => boolean): Promise<string | null> {
    let foreignSince: number | null = null;
    while (!stopping()) {
      const state = await this.query();
      if (state === null) {
        throw new Wal2NatsError(
          ErrorCode.PgSlotMismatch,
          `the replication slot "${this.config.slot}" does not exist any more`,
          "someone dropped it, or a Postgres failover lost it (docs/operations.md). wal2nats does not create a new slot on its own here: the changes between the old slot's position and a new one would be missing without a trace. Find out what happened; restarting wal2nats creates a new slot from the current position",
        );
      }
      if (!state.active) return state.confirmedFlushLsn ?? '0/0';
      const holder = parseHolderName(state.holderName);
      if (holder) {
        foreignSince = null;
        this.refuseMismatch(holder);
        this.standBy(holder);
      } else {
        foreignSince ??= Date.now();
        if (Date.now() - foreignSince >= FOREIGN_HOLDER_GRACE_MS) {
          throw new Wal2NatsError(
            ErrorCode.PgSlotActive,
            `the slot "${this.config.slot}" is in use by another process that is not wal2nats (pid ${state.activePid}${state.holderName ? `, application_name "${state.holderName}"` : ''})`,
            'stop the other consumer of the slot, or give this one its own slot with --slot (a second wal2nats on the same slot is a standby, but it must run as the same Postgres user to see that the holder is wal2nats)',
          );
        }
        this.standBy(null, state.activePid);
      }
      await sleep(STANDBY_POLL_MS);
    }
    return null;
  }

  /**
   * The session started streaming (START_REPLICATION was sent at `requestedAtMs`). `onLost` is
   * called when the session can no longer be proven ours: the lease ran out (this process was
   * frozen or cut off) or another process holds the slot. `statusSentAt` tells when the reader
   * last sent Postgres a status update (epoch ms), for roles that may not see `reply_time`.
   */
  begin(requestedAtMs: number, onLost: (reason: string) => void, statusSentAt: () => number): void {
    this.sessionRequestedAt = requestedAtMs;
    this.statusSentAt = statusSentAt;
    // Postgres counts wal_sender_timeout from the start of streaming, at or after the request.
    this.publishLease.extendTo(requestedAtMs + WAL_SENDER_TIMEOUT_MS - LEASE_MARGIN_MS);
    const previous = this.role === 'standby' ? this.activeHolder : null;
    this.setRole('active', { host: this.me.host, pid: this.me.pid });
    if (previous !== null || this.lastWaitNote !== '')
      this.log.info('taking over: this process streams from the slot now', {
        slot: this.config.slot,
        ...(previous ? { previous_host: previous.host, previous_pid: previous.pid } : {}),
      });
    this.lastWaitNote = '';
    if (this.renewTimer) clearInterval(this.renewTimer);
    this.renewTimer = setInterval(() => void this.renew(onLost), RENEW_INTERVAL_MS);
  }

  /** The session ended: the shards may publish nothing more until the next one starts. */
  end(reason: string, stopping: boolean): void {
    if (this.renewTimer) clearInterval(this.renewTimer);
    this.renewTimer = null;
    this.publishLease.revoke();
    if (this.role !== 'active') return;
    if (!stopping) this.log.warn('lost the slot, standing by', { slot: this.config.slot, reason });
    this.setRole('standby', null);
  }

  async close(): Promise<void> {
    if (this.renewTimer) clearInterval(this.renewTimer);
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => {});
  }

  private async renew(onLost: (reason: string) => void): Promise<void> {
    // Checked before anything else: a process that wakes from a freeze runs its timers first.
    if (!this.publishLease.mayPublish()) {
      onLost(
        `no proof for ${WAL_SENDER_TIMEOUT_MS - LEASE_MARGIN_MS} ms that Postgres still keeps our session (this process was frozen, or cut off from Postgres)`,
      );
      return;
    }
    if (this.renewing) return;
    this.renewing = true;
    // Taken before the probe: Postgres counts a session's time from its start or our last update.
    const lastSignOfLife = Math.max(this.sessionRequestedAt, this.statusSentAt());
    try {
      const state = await this.query();
      if (state === null) return onLost('the slot is gone');
      const holder = state.active ? parseHolderName(state.holderName) : null;
      if (state.holderName === this.applicationName) {
        if (state.replyTimeMs !== null)
          this.publishLease.extendTo(state.replyTimeMs + WAL_SENDER_TIMEOUT_MS - LEASE_MARGIN_MS);
        else if (state.walSenderDetailsHidden) {
          this.warnHiddenDetails();
          this.publishLease.extendTo(lastSignOfLife + WAL_SENDER_TIMEOUT_MS - LEASE_MARGIN_MS);
        }
      } else if (holder !== null) {
        onLost(`wal2nats on ${holder.host} (pid ${holder.pid}) holds the slot`);
      }
      // Anything else (a row not visible yet, a foreign holder) extends nothing: the lease runs out.
    } catch {
      // A failed probe extends nothing either; the stream itself reports a lost connection.
    } finally {
      this.renewing = false;
    }
  }

  private warnHiddenDetails(): void {
    if (this.warnedHiddenDetails) return;
    this.warnedHiddenDetails = true;
    const user = userOf(this.config.postgresUrl);
    this.log.warn(
      'the Postgres user may not see pg_stat_replication.reply_time, so a frozen instance is fenced on a weaker proof (it assumes a status update reaches Postgres within 1.5 s); for the exact proof grant it the statistics role',
      { user, fix: `GRANT pg_read_all_stats TO ${quoteIdent(user)}` },
    );
  }

  private refuseMismatch(holder: SlotHolder): void {
    const mismatch = holderMismatch(this.me, holder);
    if (mismatch === null) return;
    const what =
      mismatch === 'publication'
        ? `another --publication (ours: "${this.config.publication}")`
        : 'other options that change the subjects or what is published (--subject-prefix, --database-name, --message-kind, --tables, --exclude-tables, --actions, --jetstream)';
    throw new Wal2NatsError(
      ErrorCode.ConfigInvalid,
      `the slot "${this.config.slot}" is streamed by wal2nats on ${holder.host} (pid ${holder.pid}) with ${what}; a standby must publish exactly what the active one publishes`,
      'start this one with the same --publication, --subject-prefix, --database-name, --message-kind, --tables, --exclude-tables, --actions and --jetstream as the active one, or give it its own --slot',
    );
  }

  private standBy(holder: SlotHolder | null, foreignPid?: number | null): void {
    this.setRole('standby', holder ? { host: holder.host, pid: holder.pid } : null);
    const note = holder ? `${holder.host}/${holder.pid}` : `foreign/${foreignPid}`;
    if (note === this.lastWaitNote) return;
    this.lastWaitNote = note;
    if (holder)
      this.log.info('standing by: another wal2nats streams from the slot', {
        slot: this.config.slot,
        active_host: holder.host,
        active_pid: holder.pid,
      });
    else
      this.log.info('the slot is in use by a process that is not wal2nats; waiting for it to be released', {
        slot: this.config.slot,
        pid: foreignPid ?? null,
      });
  }

  private setRole(role: Role, active: { host: string; pid: number } | null): void {
    if (role !== this.role) this.since = Date.now();
    this.role = role;
    this.activeHolder = active;
  }

  private async query(): Promise<SlotState | null> {
    try {
      if (!this.client) {
        const client = new pg.Client(clientConfig(this.config));
        client.on('error', () => {
          if (this.client === client) this.client = null;
        });
        this.client = client;
        await client.connect();
      }
      return await readSlotState(this.client, this.config.slot);
    } catch (error) {
      const client = this.client;
      this.client = null;
      await client?.end().catch(() => {});
      throw mapPostgresError(error, { user: userOf(this.config.postgresUrl), slot: this.config.slot });
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
