import { appendFileSync, chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Pool, escapeIdentifier } from 'pg';
import type { QueryResult, QueryResultRow } from 'pg';
import { postgresBin } from './binaries.js';
import { asyncDispose, onProcessExit } from './cleanup.js';
import { freePort } from './free-port.js';
import { ServerProcess, fileSize, logTail, runToCompletion } from './process.js';
import { postgresRunAs } from './users.js';
import type { OsUser } from './users.js';
import { waitFor } from './wait.js';

export interface PostgresOptions {
  /** Default 'logical'; 'replica' lets a test check that wal2nats refuses such a server. */
  walLevel?: 'logical' | 'replica';
  /** More postgresql.conf settings, e.g. { wal_sender_timeout: '5s' }; they win over ours. */
  extraConf?: Record<string, string>;
  /** How long start() waits for the server to accept connections (default 60 s). */
  startTimeoutMs?: number;
}

/** smart = wait for clients to leave, fast = disconnect them, immediate = no checkpoint. */
export type ShutdownMode = 'smart' | 'fast' | 'immediate';

const shutdownSignal: Record<ShutdownMode, NodeJS.Signals> = {
  smart: 'SIGTERM',
  fast: 'SIGINT',
  immediate: 'SIGQUIT',
};

/** Settings for a disposable test server: durability traded for speed, room for many slots. */
function baseConf(port: number, socketDir: string, walLevel: string): Record<string, string> {
  return {
    port: String(port),
    listen_addresses: '127.0.0.1',
    unix_socket_directories: socketDir,
    wal_level: walLevel,
    max_replication_slots: '20',
    max_wal_senders: '20',
    fsync: 'off',
    synchronous_commit: 'off',
    full_page_writes: 'off',
    shared_buffers: '128MB',
  };
}

function confLine(key: string, value: string): string {
  // Any value may be quoted in postgresql.conf; quoting all of them spares us knowing types.
  return `${key} = '${value.replace(/'/g, "''")}'\n`;
}

/** A throwaway Postgres server in a temp dir, on its own port, run by us. */
export class PgServer {
  readonly url: string;
  readonly dataDir: string;
  readonly logFile: string;
  private proc: ServerProcess | undefined;
  private pool: Pool | undefined;
  private disposed = false;
  private readonly removeExitHook: () => void;

  private constructor(
    readonly port: number,
    readonly dir: string,
    private readonly runAs: OsUser | undefined,
    private readonly startTimeoutMs: number,
  ) {
    this.url = this.urlFor('postgres');
    this.dataDir = join(dir, 'data');
    this.logFile = join(dir, 'postgres.log');
    this.removeExitHook = onProcessExit(() => {
      this.proc?.killTreeNow();
      rmSync(this.dir, { recursive: true, force: true });
    });
  }

  /** Use startPostgres(). */
  static async create(options: PostgresOptions = {}): Promise<PgServer> {
    const runAs = postgresRunAs();
    const dir = mkdtempSync(join(tmpdir(), 'wal2nats-pg-'));
    if (runAs) chownSync(dir, runAs.uid, runAs.gid);
    const server = new PgServer(await freePort(), dir, runAs, options.startTimeoutMs ?? 60_000);
    try {
      await server.initdb();
      const conf = { ...baseConf(server.port, dir, options.walLevel ?? 'logical'), ...options.extraConf };
      appendFileSync(
        join(server.dataDir, 'postgresql.conf'),
        '\n# wal2nats test harness\n' +
          Object.entries(conf)
            .map(([k, v]) => confLine(k, v))
            .join(''),
      );
      await server.start();
      return server;
    } catch (err) {
      await server.dispose();
      throw err;
    }
  }

  private async initdb(): Promise<void> {
    const args = ['-D', this.dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync'];
    const options = { cwd: this.dir, user: this.runAs };
    try {
      await runToCompletion(postgresBin('initdb'), [...args, '--locale=C.UTF-8'], options);
    } catch {
      // A libc without the C.UTF-8 locale: plain C sorts the same, it only lacks Unicode case rules.
      rmSync(this.dataDir, { recursive: true, force: true });
      await runToCompletion(postgresBin('initdb'), [...args, '--locale=C'], options);
    }
  }

  urlFor(database: string): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${encodeURIComponent(database)}`;
  }

  get running(): boolean {
    return this.proc?.running ?? false;
  }

  /** The server log since the temp dir was made (all starts), shortened to its end. */
  logTail(maxChars = 3000): string {
    return logTail(this.logFile, 0, maxChars);
  }

  /** Runs one statement on a pooled connection to the `postgres` database. */
  query<R extends QueryResultRow = QueryResultRow>(sql: string, params?: unknown[]): Promise<QueryResult<R>> {
    if (!this.pool) {
      this.pool = new Pool({ connectionString: this.url, max: 4, allowExitOnIdle: true });
      // Tests kill this server on purpose; a dropped idle connection must not crash the run.
      this.pool.on('error', () => {});
    }
    return this.pool.query<R>(sql, params);
  }

  /** A connected client of its own (for a session, a transaction, another database); end() it. */
  async connect(database = 'postgres'): Promise<Client> {
    const client = new Client({ connectionString: this.urlFor(database) });
    client.on('error', () => {}); // same reason as the pool's
    await client.connect();
    return client;
  }

  /** CREATE DATABASE, then runs `setupSql` in it (if given); returns its URL. */
  async createDatabase(name: string, setupSql?: string): Promise<string> {
    await this.query(`CREATE DATABASE ${escapeIdentifier(name)}`);
    if (setupSql !== undefined) {
      const client = await this.connect(name);
      try {
        await client.query(setupSql);
      } finally {
        await client.end();
      }
    }
    return this.urlFor(name);
  }

  /** Starts the server on its data dir and port; resolves once it accepts connections. */
  async start(): Promise<void> {
    if (this.disposed) throw new Error('PgServer: start() after dispose()');
    if (this.running) return;
    const logFrom = fileSize(this.logFile);
    const proc = await ServerProcess.spawn(postgresBin('postgres'), ['-D', this.dataDir], {
      cwd: this.dir,
      logFile: this.logFile,
      user: this.runAs,
    });
    this.proc = proc;
    const fail = (why: string) =>
      new Error(`Postgres on port ${this.port} ${why}; log:\n${logTail(this.logFile, logFrom)}`);
    let state: 'ready' | 'exited';
    try {
      state = await waitFor(
        async () => {
          if (!proc.running) return 'exited' as const;
          const client = new Client({ connectionString: this.url, connectionTimeoutMillis: 2000 });
          client.on('error', () => {});
          try {
            await client.connect(); // "the database system is starting up" until recovery is done
            await client.query('SELECT 1');
            return 'ready' as const;
          } finally {
            await client.end().catch(() => {});
          }
        },
        {
          what: `Postgres on port ${this.port} to accept connections`,
          timeoutMs: this.startTimeoutMs,
          intervalMs: 25,
        },
      );
    } catch (err) {
      await proc.killTree();
      throw fail(`did not start: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (state === 'exited') throw fail(`exited during start (${JSON.stringify(proc.exit)})`);
  }

  /** Shuts the server down (fast by default) and waits for it to exit; escalates if it hangs. */
  async stop(mode: ShutdownMode = 'fast', timeoutMs = 30_000): Promise<void> {
    this.endPool();
    const proc = this.proc;
    if (!proc?.running) return;
    proc.signal(shutdownSignal[mode]);
    if (await proc.waitForExit(timeoutMs)) return;
    // A logical walsender can hold up a fast shutdown while its client does not confirm.
    proc.signal('SIGQUIT');
    if (await proc.waitForExit(5_000)) return;
    await proc.killTree();
  }

  /** SIGKILL the postmaster and its backends: a crash. start() then runs crash recovery. */
  async kill(): Promise<void> {
    this.endPool();
    await this.proc?.killTree();
  }

  async restart(mode: ShutdownMode = 'fast'): Promise<void> {
    await this.stop(mode);
    await this.start();
  }

  /** Stops the server and deletes its temp dir. Safe to call twice. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    try {
      await this.stop('immediate', 10_000); // the data is about to be deleted: skip the checkpoint
    } finally {
      rmSync(this.dir, { recursive: true, force: true });
      this.removeExitHook();
    }
  }

  [asyncDispose](): Promise<void> {
    return this.dispose();
  }

  private endPool(): void {
    const pool = this.pool;
    this.pool = undefined;
    // Not awaited: a query stuck on a dying server must not hold up the shutdown.
    pool?.end().catch(() => {});
  }
}

/** Starts a throwaway Postgres (wal_level=logical by default) and waits until it is ready. */
export function startPostgres(options: PostgresOptions = {}): Promise<PgServer> {
  return PgServer.create(options);
}
