/**
 * Structured logs: one JSON object per line on stderr, or a readable line when stderr is a
 * terminal. Every thread has its own logger with a `thread` field. Callers never pass secrets;
 * URLs go through redactUrl() first.
 */
import { isMainThread, threadId } from 'node:worker_threads';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type LogFields = Record<string, string | number | boolean | null | undefined>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

export interface LoggerOptions {
  readonly level: LogLevel;
  /** JSON lines, or human-readable lines. Default: pretty when stderr is a TTY. */
  readonly format?: 'json' | 'pretty';
  readonly thread?: string;
}

export function createLogger(options: LoggerOptions, base: LogFields = {}): Logger {
  const threshold = RANK[options.level];
  // Worker threads' stderr is piped through the main thread and is never a TTY; the main
  // thread decides the format and passes it down.
  const format = options.format ?? (process.stderr.isTTY ? 'pretty' : 'json');
  const thread = options.thread ?? (isMainThread ? 'main' : `worker-${threadId}`);
  const write = (level: LogLevel, message: string, fields?: LogFields): void => {
    if (RANK[level] < threshold) return;
    const all = { ...base, ...fields };
    let line: string;
    if (format === 'json') {
      line = JSON.stringify({ time: new Date().toISOString(), level, thread, msg: message, ...all });
    } else {
      const extras = Object.entries(all)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => `${k}=${typeof v === 'string' && /\s/.test(v) ? JSON.stringify(v) : String(v)}`)
        .join(' ');
      line = `${new Date().toISOString().slice(11, 23)} ${level.toUpperCase().padEnd(5)} [${thread}] ${message}${extras ? `  ${extras}` : ''}`;
    }
    process.stderr.write(`${line}\n`);
  };
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
    child: (fields) => createLogger({ ...options, format, thread }, { ...base, ...fields }),
  };
}
