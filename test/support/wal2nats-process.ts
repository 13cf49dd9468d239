/**
 * Runs the real `wal2nats` command (the built CLI) as a child process, the way users run it,
 * and lets a test wait on its log events and its exit. The benchmarks use it too: they also
 * need the pid (for /proc), the time each log line arrived, extra node flags (--cpu-prof), and
 * a stop that never leaves the child behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { onProcessExit } from '../harness/cleanup.js';
import { waitFor } from '../harness/index.js';

/**
 * The checkout's built CLI; `WAL2NATS_CLI` names another build instead (an A/B of two commits
 * with the same bench: `WAL2NATS_CLI=/path/to/old/packages/cli/dist/main.js pnpm bench`).
 */
export const CLI_PATH =
  process.env.WAL2NATS_CLI ?? fileURLToPath(new URL('../../packages/cli/dist/main.js', import.meta.url));

export interface LogLine {
  readonly level?: string;
  readonly msg?: string;
  readonly [key: string]: unknown;
}

export interface TimedLogLine {
  /** performance.now() when the line arrived on our side of the pipe. */
  readonly at: number;
  readonly line: LogLine;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Wal2NatsProcessOptions {
  /** Node flags before the script, e.g. --cpu-prof. */
  readonly nodeFlags?: readonly string[];
  /** Echo every log line to our stderr (also WAL2NATS_TEST_VERBOSE=1). */
  readonly verbose?: boolean;
  /** The script to run instead of the checkout's CLI, e.g. an installed package's `bin`. */
  readonly script?: string;
}

export class Wal2NatsProcess {
  readonly pid: number;
  /** performance.now() just before spawn. */
  readonly startedAt: number;
  readonly lines: LogLine[] = [];
  /** The same lines with their arrival times. */
  readonly timedLines: TimedLogLine[] = [];
  readonly stdout: string[] = [];
  /** The exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>;
  /** The exit code and signal. */
  readonly exitInfo: Promise<ExitInfo>;
  exit: ExitInfo | undefined;
  private readonly waiters = new Set<{ test: (l: LogLine) => boolean; resolve: (l: TimedLogLine) => void }>();
  private readonly child: ChildProcess;

  constructor(args: readonly string[], env: NodeJS.ProcessEnv = {}, options: Wal2NatsProcessOptions = {}) {
    const script = options.script ?? CLI_PATH;
    if (!existsSync(script))
      throw new Error(`${script} is missing${script === CLI_PATH ? ': run pnpm build first' : ''}`);
    const verbose = options.verbose ?? Boolean(process.env.WAL2NATS_TEST_VERBOSE);
    this.startedAt = performance.now();
    this.child = spawn(process.execPath, [...(options.nodeFlags ?? []), script, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (this.child.pid === undefined) throw new Error('could not spawn wal2nats');
    this.pid = this.child.pid;
    // A crashed or interrupted run (SIGINT/SIGTERM/exit) must not leave wal2nats running.
    const child = this.child;
    const removeHook = onProcessExit(() => {
      child.kill('SIGKILL');
    });
    let buffered = '';
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      const at = performance.now();
      buffered += chunk;
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const text = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        let line: LogLine;
        try {
          line = JSON.parse(text) as LogLine;
        } catch {
          line = { msg: text };
        }
        const timed = { at, line };
        this.lines.push(line);
        this.timedLines.push(timed);
        if (verbose) process.stderr.write(`[wal2nats] ${text}\n`);
        for (const waiter of this.waiters) {
          if (waiter.test(line)) {
            this.waiters.delete(waiter);
            waiter.resolve(timed);
          }
        }
      }
    });
    this.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => this.stdout.push(chunk));
    this.exitInfo = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => {
        removeHook();
        this.exit = { code, signal };
        resolve(this.exit);
      }),
    );
    this.exited = this.exitInfo.then((e) => e.code);
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  /** The first log line (past or future) passing `test`, with its arrival time; rejects on exit or timeout. */
  waitForTimedLog(test: (line: LogLine) => boolean, what: string, timeoutMs = 30_000): Promise<TimedLogLine> {
    const seen = this.timedLines.find((l) => test(l.line));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const waiter = {
        test,
        resolve: (l: TimedLogLine) => {
          clearTimeout(timer);
          resolve(l);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(
          new Error(
            `timed out after ${timeoutMs} ms waiting for wal2nats to log ${what}; last lines:\n${this.tail()}`,
          ),
        );
      }, timeoutMs);
      this.waiters.add(waiter);
      void this.exitInfo.then((exit) => {
        if (!this.waiters.has(waiter)) return;
        this.waiters.delete(waiter);
        clearTimeout(timer);
        reject(
          new Error(
            `wal2nats exited (code ${exit.code}${exit.signal ? `, ${exit.signal}` : ''}) before logging ${what}; last lines:\n${this.tail()}`,
          ),
        );
      });
    });
  }

  /** Resolves with the first log line (past or future) that passes `test`; rejects on exit or timeout. */
  async waitForLog(test: (line: LogLine) => boolean, what: string, timeoutMs = 30_000): Promise<LogLine> {
    return (await this.waitForTimedLog(test, what, timeoutMs)).line;
  }

  /** Waits until the replication stream is open. */
  async streaming(timeoutMs = 60_000): Promise<LogLine> {
    return (await this.streamingTimed(timeoutMs)).line;
  }

  /** Waits until the replication stream is open; with the time the line arrived. */
  streamingTimed(timeoutMs = 60_000): Promise<TimedLogLine> {
    return this.waitForTimedLog(
      (l) => l.msg === 'streaming from the slot',
      '"streaming from the slot"',
      timeoutMs,
    );
  }

  /** Waits until /readyz says ready: the slot streams and every shard is connected to NATS. */
  async ready(timeoutMs = 60_000): Promise<void> {
    await this.streaming(timeoutMs);
    const base = await this.httpBase();
    await waitFor(async () => (await fetch(`${base}/readyz`)).status === 200 || undefined, {
      what: 'wal2nats /readyz to answer 200',
      timeoutMs,
    });
  }

  /** The HTTP port from the "HTTP listening" line. */
  async httpBase(): Promise<string> {
    const line = await this.waitForLog((l) => l.msg === 'HTTP listening', '"HTTP listening"');
    return String(line.metrics).replace(/\/metrics$/, '');
  }

  /** Log lines at warn level or worse. */
  problems(): LogLine[] {
    return this.lines.filter((l) => l.level === 'warn' || l.level === 'error' || l.level === 'fatal');
  }

  tail(count = 15): string {
    return this.lines
      .slice(-count)
      .map((l) => JSON.stringify(l))
      .join('\n');
  }

  /** Sends a signal and waits for the exit code; rejects if it has not exited within `timeoutMs`. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 30_000): Promise<number | null> {
    if (this.exit) return this.exit.code;
    this.child.kill(signal);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new Error(
              `wal2nats did not exit within ${timeoutMs} ms of ${signal}; last lines:\n${this.tail()}`,
            ),
          ),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGTERM, then SIGKILL if it has not exited within `timeoutMs`: never leaves the child behind. */
  async terminate(timeoutMs = 30_000): Promise<{ exit: ExitInfo; killed: boolean }> {
    if (this.exit) return { exit: this.exit, killed: false };
    try {
      await this.stop('SIGTERM', timeoutMs);
      return { exit: this.exit!, killed: false };
    } catch {
      this.child.kill('SIGKILL');
      return { exit: await this.exitInfo, killed: true };
    }
  }

  kill(): void {
    this.child.kill('SIGKILL');
  }
}

/** The usual arguments for a test run. */
export function runArgs(options: {
  postgresUrl: string;
  natsUrl: string;
  extra?: readonly string[];
}): string[] {
  return [
    'run',
    '--postgres-url',
    options.postgresUrl,
    '--nats-url',
    options.natsUrl,
    '--http-port',
    '0',
    '--log-level',
    'debug',
    ...(options.extra ?? []),
  ];
}
