import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection, NodeConnectionOptions } from '@nats-io/transport-node';
import { natsServerBin } from './binaries.js';
import { asyncDispose, onProcessExit } from './cleanup.js';
import { freePort } from './free-port.js';
import { ServerProcess, fileSize, logTail } from './process.js';
import { waitFor } from './wait.js';

export interface NatsOptions {
  /** Enable JetStream, stored in the temp dir (default true). */
  jetstream?: boolean;
  /**
   * More nats-server configuration, appended to the generated file (which sets `listen` and
   * `jetstream`): e.g. an `authorization { ... }` or `tls { ... }` block.
   */
  config?: string;
  /** How long start() waits for "Server is ready" (default 30 s). */
  startTimeoutMs?: number;
}

const READY = 'Server is ready';

/** A throwaway nats-server in a temp dir, on its own port, run by us. */
export class NatsServer {
  readonly url: string;
  readonly configFile: string;
  readonly storeDir: string;
  readonly logFile: string;
  private proc: ServerProcess | undefined;
  private disposed = false;
  private readonly removeExitHook: () => void;

  private constructor(
    readonly port: number,
    readonly dir: string,
    private readonly startTimeoutMs: number,
  ) {
    this.url = `nats://127.0.0.1:${port}`;
    this.configFile = join(dir, 'nats.conf');
    this.storeDir = join(dir, 'jetstream');
    this.logFile = join(dir, 'nats.log');
    this.removeExitHook = onProcessExit(() => {
      this.proc?.killTreeNow();
      rmSync(this.dir, { recursive: true, force: true });
    });
  }

  /** Use startNats(). */
  static async create(options: NatsOptions = {}): Promise<NatsServer> {
    const dir = mkdtempSync(join(tmpdir(), 'wal2nats-nats-'));
    const server = new NatsServer(await freePort(), dir, options.startTimeoutMs ?? 30_000);
    try {
      // A config file rather than flags, so that auth/TLS tests can add blocks to it.
      const lines = [`listen: ${JSON.stringify(`127.0.0.1:${server.port}`)}`];
      if (options.jetstream ?? true)
        lines.push(`jetstream { store_dir: ${JSON.stringify(server.storeDir)} }`);
      if (options.config) lines.push(options.config);
      writeFileSync(server.configFile, lines.join('\n') + '\n');
      await server.start();
      return server;
    } catch (err) {
      await server.dispose();
      throw err;
    }
  }

  get running(): boolean {
    return this.proc?.running ?? false;
  }

  logTail(maxChars = 3000): string {
    return logTail(this.logFile, 0, maxChars);
  }

  /**
   * A client connected to this server. It reconnects quickly and forever by default, so a
   * test that kills and restarts the server gets it back; close() it when done.
   */
  connect(options: Partial<NodeConnectionOptions> = {}): Promise<NatsConnection> {
    return connect({ servers: this.url, reconnectTimeWait: 100, maxReconnectAttempts: -1, ...options });
  }

  /** Starts the server (same port, config and JetStream store); resolves once it is ready. */
  async start(): Promise<void> {
    if (this.disposed) throw new Error('NatsServer: start() after dispose()');
    if (this.running) return;
    const logFrom = fileSize(this.logFile);
    const proc = await ServerProcess.spawn(natsServerBin(), ['-c', this.configFile], {
      cwd: this.dir,
      logFile: this.logFile,
    });
    this.proc = proc;
    const fail = (why: string) =>
      new Error(`nats-server on port ${this.port} ${why}; log:\n${logTail(this.logFile, logFrom)}`);
    let state: 'ready' | 'exited';
    try {
      // nats-server logs READY once it listens, after JetStream has recovered its store.
      state = await waitFor(
        () => {
          if (!proc.running) return 'exited' as const;
          return readFileSync(this.logFile).subarray(logFrom).includes(READY)
            ? ('ready' as const)
            : undefined;
        },
        {
          what: `nats-server on port ${this.port} to log "${READY}"`,
          timeoutMs: this.startTimeoutMs,
          intervalMs: 20,
        },
      );
    } catch (err) {
      await proc.killTree();
      throw fail(`did not start: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (state === 'exited') throw fail(`exited during start (${JSON.stringify(proc.exit)})`);
  }

  /** Graceful stop (SIGTERM), waiting for the exit; SIGKILL if it hangs. */
  async stop(timeoutMs = 10_000): Promise<void> {
    const proc = this.proc;
    if (!proc?.running) return;
    proc.signal('SIGTERM');
    if (await proc.waitForExit(timeoutMs)) return;
    await proc.killTree();
  }

  /** SIGKILL: a crash. start() brings it back with whatever JetStream had on disk. */
  async kill(): Promise<void> {
    await this.proc?.killTree();
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** Stops the server and deletes its temp dir. Safe to call twice. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    try {
      await this.stop();
    } finally {
      rmSync(this.dir, { recursive: true, force: true });
      this.removeExitHook();
    }
  }

  [asyncDispose](): Promise<void> {
    return this.dispose();
  }
}

/** Starts a throwaway nats-server (JetStream on by default) and waits until it is ready. */
export function startNats(options: NatsOptions = {}): Promise<NatsServer> {
  return NatsServer.create(options);
}
