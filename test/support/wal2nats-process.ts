/**
 * Runs the real `wal2nats` command (the built CLI) as a child process, the way users run it,
 * and lets a test wait on its log events and its exit.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../harness/index.js';

export const CLI_PATH = fileURLToPath(new URL('../../packages/cli/dist/main.js', import.meta.url));

export interface LogLine {
  readonly level?: string;
  readonly msg?: string;
  readonly [key: string]: unknown;
}

export class Wal2NatsProcess {
  readonly lines: LogLine[] = [];
  readonly stdout: string[] = [];
  private readonly waiters = new Set<{ test: (l: LogLine) => boolean; resolve: (l: LogLine) => void }>();
  readonly exited: Promise<number | null>;
  private readonly child: ChildProcess;

  constructor(args: readonly string[], env: NodeJS.ProcessEnv = {}) {
    if (!existsSync(CLI_PATH)) throw new Error(`${CLI_PATH} is missing: run pnpm build first`);
    this.child = spawn(process.execPath, [CLI_PATH, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let buffered = '';
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
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
        this.lines.push(line);
        if (process.env.WAL2NATS_TEST_VERBOSE) process.stderr.write(`[wal2nats] ${text}\n`);
        for (const waiter of this.waiters) {
          if (waiter.test(line)) {
            this.waiters.delete(waiter);
            waiter.resolve(line);
          }
        }
      }
    });
    this.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => this.stdout.push(chunk));
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
  }

  /** Resolves with the first log line (past or future) that passes `test`; rejects on exit or timeout. */
  waitForLog(test: (line: LogLine) => boolean, what: string, timeoutMs = 30_000): Promise<LogLine> {
    const seen = this.lines.find(test);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const waiter = { test, resolve: (l: LogLine) => { clearTimeout(timer); resolve(l); } };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for wal2nats to log ${what}; last lines:\n${this.tail()}`));
      }, timeoutMs);
      this.waiters.add(waiter);
      void this.exited.then((code) => {
        if (!this.waiters.has(waiter)) return;
        this.waiters.delete(waiter);
        clearTimeout(timer);
        reject(new Error(`wal2nats exited (code ${code}) before logging ${what}; last lines:\n${this.tail()}`));
      });
    });
  }

  /** Waits until the replication stream is open. */
  streaming(timeoutMs = 60_000): Promise<LogLine> {
    return this.waitForLog((l) => l.msg === 'streaming from the slot', '"streaming from the slot"', timeoutMs);
  }

  /** Waits until /readyz says ready: the slot streams and every shard is connected to NATS. */
  async ready(timeoutMs = 60_000): Promise<void> {
    await this.streaming(timeoutMs);
    const base = await this.httpBase();
    await waitFor(async () => (await fetch(`${base}/readyz`)).status === 200 || undefined, { what: 'wal2nats /readyz to answer 200', timeoutMs });
  }

  /** The HTTP port from the "HTTP listening" line. */
  async httpBase(): Promise<string> {
    const line = await this.waitForLog((l) => l.msg === 'HTTP listening', '"HTTP listening"');
    return String(line.metrics).replace(/\/metrics$/, '');
  }

  tail(count = 15): string {
    return this.lines.slice(-count).map((l) => JSON.stringify(l)).join('\n');
  }

  /** Sends a signal and waits for the exit code. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 30_000): Promise<number | null> {
    if (this.child.exitCode !== null) return this.child.exitCode;
    this.child.kill(signal);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`wal2nats did not exit within ${timeoutMs} ms of ${signal}; last lines:\n${this.tail()}`)), timeoutMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  kill(): void {
    this.child.kill('SIGKILL');
  }
}

/** The usual arguments for a test run. */
export function runArgs(options: { postgresUrl: string; natsUrl: string; extra?: readonly string[] }): string[] {
  return ['run', '--postgres-url', options.postgresUrl, '--nats-url', options.natsUrl, '--http-port', '0', '--log-level', 'debug', ...(options.extra ?? [])];
}
