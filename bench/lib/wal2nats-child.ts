/**
 * The built `wal2nats` CLI as a child process, like test/support/wal2nats-process.ts, but
 * exposing what a benchmark needs: the pid (for /proc), the time each log line arrived, extra
 * node flags (--cpu-prof) and a hard kill that never leaves the child behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { onProcessExit } from '../../test/harness/cleanup.js';

export const CLI_PATH = fileURLToPath(new URL('../../packages/cli/dist/main.js', import.meta.url));

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


export class Wal2NatsChild {
  readonly pid: number;
  /** performance.now() just before spawn. */
  readonly startedAt: number;
  readonly lines: TimedLogLine[] = [];
  readonly exited: Promise<ExitInfo>;
  exit: ExitInfo | undefined;
  private readonly child: ChildProcess;
  private readonly waiters = new Set<{ test: (l: LogLine) => boolean; resolve: (l: TimedLogLine) => void }>();

  constructor(args: readonly string[], options: { nodeFlags?: readonly string[]; verbose?: boolean } = {}) {
    if (!existsSync(CLI_PATH)) throw new Error(`${CLI_PATH} is missing: run pnpm build first`);
    this.startedAt = performance.now();
    this.child = spawn(process.execPath, [...(options.nodeFlags ?? []), CLI_PATH, ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    if (this.child.pid === undefined) throw new Error('could not spawn wal2nats');
    this.pid = this.child.pid;
    // A benchmark that crashes or is interrupted (SIGINT/SIGTERM/exit) must not leave wal2nats
    // running: the harness's exit hooks cover signals as well as 'exit'.
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
        this.lines.push(timed);
        if (options.verbose) process.stderr.write(`[wal2nats] ${text}\n`);
        for (const waiter of this.waiters) {
          if (waiter.test(line)) {
            this.waiters.delete(waiter);
            waiter.resolve(timed);
          }
        }
      }
    });
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => {
        removeHook();
        this.exit = { code, signal };
        resolve(this.exit);
      }),
    );
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  /** The first log line (past or future) passing `test`; rejects on exit or timeout. */
  waitForLog(test: (line: LogLine) => boolean, what: string, timeoutMs: number): Promise<TimedLogLine> {
    const seen = this.lines.find((l) => test(l.line));
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
        reject(new Error(`timed out after ${timeoutMs} ms waiting for wal2nats to log ${what}; last lines:\n${this.tail()}`));
      }, timeoutMs);
      this.waiters.add(waiter);
      void this.exited.then((exit) => {
        if (!this.waiters.has(waiter)) return;
        this.waiters.delete(waiter);
        clearTimeout(timer);
        reject(new Error(`wal2nats exited (${JSON.stringify(exit)}) before logging ${what}; last lines:\n${this.tail()}`));
      });
    });
  }

  /** Waits until the replication stream is open. */
  streaming(timeoutMs = 60_000): Promise<TimedLogLine> {
    return this.waitForLog((l) => l.msg === 'streaming from the slot', '"streaming from the slot"', timeoutMs);
  }

  /** Log lines at warn level or worse. */
  problems(): LogLine[] {
    return this.lines.map((l) => l.line).filter((l) => l.level === 'warn' || l.level === 'error' || l.level === 'fatal');
  }

  tail(count = 15): string {
    return this.lines
      .slice(-count)
      .map((l) => JSON.stringify(l.line))
      .join('\n');
  }

  /** SIGTERM, then SIGKILL if it has not exited within `timeoutMs`; resolves with the exit. */
  async stop(timeoutMs = 30_000): Promise<{ exit: ExitInfo; killed: boolean }> {
    if (this.exit) return { exit: this.exit, killed: false };
    this.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const first = await Promise.race([this.exited, timedOut]);
    clearTimeout(timer);
    if (first !== 'timeout') return { exit: first, killed: false };
    this.child.kill('SIGKILL');
    return { exit: await this.exited, killed: true };
  }
}
