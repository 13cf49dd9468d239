import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { waitFor } from './wait.js';

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface SpawnOptions {
  cwd: string;
  /** stdout and stderr are appended here (the file survives restarts, for post-mortems). */
  logFile: string;
  /** Run as this user (root must not run Postgres). */
  user?: { uid: number; gid: number } | undefined;
}

/** The state letter of /proc/<pid>/stat, or undefined when the process is gone. */
function procState(pid: number): { state: string; ppid: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) S ppid ...": comm may hold spaces and parentheses, so cut at the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0] ?? '', ppid: Number(fields[1]) };
  } catch {
    return undefined;
  }
}

/** Gone or a zombie: either way it no longer holds ports, files or shared memory. */
function isGone(pid: number): boolean {
  const s = procState(pid);
  return s === undefined || s.state === 'Z' || s.state === 'X';
}

function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    const child = Number(entry);
    if (Number.isInteger(child) && procState(child)?.ppid === pid) children.push(child);
  }
  return children;
}

function signalQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone.
  }
}

/**
 * A server process we own. It runs in its own session (detached) so that a Ctrl-C in the
 * terminal reaches only the test or demo, which then shuts the servers down in order; the
 * exit hooks in cleanup.ts make sure it never outlives us. It is unref'd so that a test
 * which forgot to dispose still lets the process end (and the exit hook then kills it).
 */
export class ServerProcess {
  readonly pid: number;
  readonly exited: Promise<ExitInfo>;
  private exitInfo: ExitInfo | undefined;

  private constructor(
    private readonly child: ChildProcess,
    pid: number,
  ) {
    this.pid = pid;
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        resolve(this.exitInfo);
      });
    });
    child.unref();
  }

  static async spawn(command: string, args: string[], options: SpawnOptions): Promise<ServerProcess> {
    const log = openSync(options.logFile, 'a');
    try {
      const child = spawn(command, args, {
        cwd: options.cwd,
        stdio: ['ignore', log, log],
        detached: true,
        ...(options.user ?? {}),
      });
      await new Promise<void>((resolve, reject) => {
        child.once('spawn', resolve);
        child.once('error', (err) => reject(new Error(`cannot start ${command}: ${err.message}`)));
      });
      if (child.pid === undefined) throw new Error(`cannot start ${command}: no pid`);
      return new ServerProcess(child, child.pid);
    } finally {
      closeSync(log); // the child has its own copy of the descriptor
    }
  }

  get running(): boolean {
    return this.exitInfo === undefined;
  }

  get exit(): ExitInfo | undefined {
    return this.exitInfo;
  }

  signal(signal: NodeJS.Signals): void {
    if (this.running) signalQuietly(this.pid, signal);
  }

  /** Waits for the exit, up to `timeoutMs`; undefined if it is still running then. */
  async waitForExit(timeoutMs: number): Promise<ExitInfo | undefined> {
    if (!this.running) return this.exitInfo;
    // While someone awaits the exit, the child must keep the event loop alive.
    this.child.ref();
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), timeoutMs);
      });
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
      this.child.unref();
    }
  }

  /**
   * SIGKILL the process and its direct children at once: a crash, as far as the data on
   * disk is concerned. Postgres backends put themselves in their own sessions, so a
   * process-group kill would miss them; they would die soon after the postmaster anyway,
   * but a restart must not race them for the shared memory they still hold.
   * Synchronous and non-waiting, so that it can run from the process 'exit' hook.
   */
  killTreeNow(): number[] {
    if (!this.running) return [];
    const victims = [this.pid, ...childrenOf(this.pid)];
    for (const pid of victims) signalQuietly(pid, 'SIGKILL');
    return victims;
  }

  /** killTreeNow, then wait until every killed process is really gone. */
  async killTree(): Promise<void> {
    const victims = this.killTreeNow();
    await this.waitForExit(10_000);
    await waitFor(() => victims.every(isGone), {
      what: `processes ${victims.join(', ')} to die after SIGKILL`,
      timeoutMs: 10_000,
      intervalMs: 10,
    });
  }
}

/** The last `maxChars` of a log file written since `fromByte`, for error messages. */
export function logTail(file: string, fromByte = 0, maxChars = 3000): string {
  let text: string;
  try {
    text = readFileSync(file).subarray(fromByte).toString('utf8');
  } catch {
    return '(no log)';
  }
  return text.length > maxChars ? `…${text.slice(-maxChars)}` : text;
}

/** The current size of a file (0 if missing), to read only what a new start logs. */
export function fileSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

/** Runs a command to completion (e.g. initdb); rejects with its output when it fails. */
export function runToCompletion(
  command: string,
  args: string[],
  options: { cwd: string; user?: { uid: number; gid: number } | undefined },
): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(options.user ?? {}),
    });
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.once('error', (err) => reject(new Error(`cannot run ${command}: ${err.message}`)));
    child.once('close', (code, signal) => {
      if (code === 0) resolve();
      else
        reject(
          new Error(`${command} ${args.join(' ')} failed (${signal ?? `exit ${code}`}):\n${output.trim()}`),
        );
    });
  });
}
