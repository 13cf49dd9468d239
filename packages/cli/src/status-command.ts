/**
 * `wal2nats status`: the console's at-a-glance view in a terminal, read from a running
 * instance's HTTP API (`/api/overview` and `/api/messages?state=failing`).
 *
 * Exit codes: 0 ready and nothing failing; 1 not ready, a message failing, or the instance
 * cannot be reached; 2 bad usage.
 */
import { configError, ExitCode, resolveOptions, STATUS_SCHEMA, type OptionSpec } from '@wal2nats/core';
import { readHttpTokenFile, type BackfillOverview, type MessageView, type Overview } from '@wal2nats/runtime';
import { optionLines } from './help-text.js';
import { parseArgs } from './parse-args.js';

export const STATUS_HELP = `Usage: wal2nats status [--http-url URL] [--http-token-file FILE] [--json]

Shows a running wal2nats at a glance: readiness, throughput, replication lag, latency,
backoff, every table, a backfill in progress, and the failing messages with their deliver
count and last error.

${optionLines(Object.values(STATUS_SCHEMA) as OptionSpec[]).join('\n')}
  --help                              this help

Exit codes: 0 ready and nothing failing, 1 not ready, failing, or unreachable, 2 bad usage.
`;

export interface StatusArgs {
  readonly httpUrl: string;
  /** A file holding the HTTP token; else the token of --http-token (WAL2NATS_HTTP_TOKEN), if any. */
  readonly httpTokenFile: string | undefined;
  readonly httpToken?: string | undefined;
  readonly json: boolean;
  readonly help: boolean;
}

/** The options of `wal2nats status` (argv after the command), by the status schema. */
export function parseStatusArgs(argv: readonly string[], env: NodeJS.ProcessEnv): StatusArgs {
  const args = parseArgs(argv);
  if (args.command !== undefined)
    throw configError(args.command, `unexpected argument "${args.command}"`, 'run wal2nats status --help');
  const flags = args.configFile === undefined ? args.flags : { ...args.flags, config: args.configFile };
  const options = resolveOptions(STATUS_SCHEMA, { flags, env }, 'status');
  try {
    const url = new URL(options.httpUrl);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('not http');
  } catch {
    throw configError(
      'http-url',
      `"${options.httpUrl}" is not an http:// URL`,
      'write --http-url http://HOST:PORT',
    );
  }
  return {
    httpUrl: options.httpUrl.replace(/\/+$/, ''),
    httpTokenFile: options.httpTokenFile,
    httpToken: options.httpToken,
    json: options.json,
    help: args.help,
  };
}

const TOKEN_ONLY = { httpToken: STATUS_SCHEMA.httpToken };

/** The `authorization` header for the instance's token, if one is given (never printed). */
export function authorizationHeader(args: StatusArgs, env: NodeJS.ProcessEnv): Record<string, string> {
  const token =
    args.httpTokenFile !== undefined
      ? readHttpTokenFile(args.httpTokenFile)
      : (args.httpToken ?? resolveOptions(TOKEN_ONLY, { flags: {}, env }, 'status').httpToken);
  return token ? { authorization: `Bearer ${token}` } : {};
}

async function getJson<T>(base: string, path: string, auth: Record<string, string>): Promise<T> {
  const response = await fetch(`${base}${path}`, {
    signal: AbortSignal.timeout(10_000),
    headers: { accept: 'application/json', ...auth },
  });
  if (response.status === 401)
    throw new Error(`${path} needs the HTTP token: give --http-token-file FILE or WAL2NATS_HTTP_TOKEN`);
  if (!response.ok) throw new Error(`${path} answered ${response.status} ${response.statusText}`);
  return (await response.json()) as T;
}

export async function statusCommand(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const args = parseStatusArgs(argv, env);
  if (args.help) {
    process.stdout.write(STATUS_HELP);
    return ExitCode.ok;
  }
  const auth = authorizationHeader(args, env);
  let overview: Overview;
  let failing: MessageView[];
  try {
    [overview, failing] = await Promise.all([
      getJson<Overview>(args.httpUrl, '/api/overview', auth),
      getJson<MessageView[]>(args.httpUrl, '/api/messages?state=failing&limit=20', auth),
    ]);
  } catch (error) {
    const reason =
      error instanceof Error
        ? error.cause instanceof Error
          ? error.cause.message
          : error.message
        : String(error);
    process.stderr.write(
      `wal2nats status: cannot read ${args.httpUrl}: ${reason}\n  is wal2nats running there? (--http-url, default http://127.0.0.1:9464)\n`,
    );
    return ExitCode.unexpected;
  }
  // A wal2nats before /api/overview had `backfills` answers without it.
  const backfills = overview.backfills ?? [];
  if (args.json) process.stdout.write(`${JSON.stringify({ overview, failing, backfills }, null, 2)}\n`);
  else
    process.stdout.write(
      renderStatus(
        overview,
        failing,
        args.httpUrl,
        colours(process.stdout.isTTY === true && !env.NO_COLOR),
        Date.parse(overview.now),
        backfills,
      ),
    );
  return overview.ready && overview.messages.failing === 0 ? ExitCode.ok : ExitCode.unexpected;
}

// --- rendering -------------------------------------------------------------------------------

export interface Colours {
  bold(s: string): string;
  dim(s: string): string;
  red(s: string): string;
  green(s: string): string;
  yellow(s: string): string;
  cyan(s: string): string;
}

export function colours(enabled: boolean): Colours {
  const wrap =
    (open: number, close: number) =>
    (s: string): string =>
      enabled ? `\x1b[${open}m${s}\x1b[${close}m` : s;
  return {
    bold: wrap(1, 22),
    dim: wrap(2, 22),
    red: wrap(31, 39),
    green: wrap(32, 39),
    yellow: wrap(33, 39),
    cyan: wrap(36, 39),
  };
}

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

function rate(n: number): string {
  if (!Number.isFinite(n) || n <= 0) return '0';
  if (n >= 10_000) return `${(n / 1000).toFixed(0)}k`;
  if (n >= 1000) return `${(n / 1000).toFixed(1)}k`;
  return n >= 100 ? n.toFixed(0) : n.toFixed(1);
}

function bytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = Math.max(0, n);
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${unit === 0 || value >= 100 ? value.toFixed(0) : value.toFixed(1)} ${units[unit]}`;
}

function seconds(s: number | null): string {
  if (s === null || !Number.isFinite(s)) return '–';
  if (s < 1) return `${(s * 1000).toFixed(s < 0.01 ? 1 : 0)} ms`;
  if (s < 60) return `${s.toFixed(s < 10 ? 2 : 1)} s`;
  if (s < 3600) return `${(s / 60).toFixed(1)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

function span(ms: number): string {
  const s = Math.round(Math.abs(ms) / 1000);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86_400)} d ${Math.floor((s % 86_400) / 3600)} h`;
}

function until(iso: string | null, now: number): string {
  if (!iso) return 'now';
  const ms = Date.parse(iso) - now;
  return ms <= 500 ? 'now' : `in ${span(ms)}`;
}

const BLOCKS = '▁▂▃▄▅▆▇█';

/** A one-line chart of the last `width` values. */
export function sparkline(values: readonly (number | null)[], width = 24): string {
  const recent = values.slice(-width);
  const max = Math.max(0, ...recent.map((v) => (v !== null && Number.isFinite(v) ? v : 0)));
  return recent
    .map((v) =>
      v === null || !Number.isFinite(v) ? ' ' : BLOCKS[max > 0 ? Math.min(7, Math.round((v / max) * 7)) : 0],
    )
    .join('')
    .padStart(width, ' ');
}

function lsnText(n: number): string {
  const hi = Math.floor(n / 4294967296);
  return `${hi.toString(16).toUpperCase()}/${(n - hi * 4294967296).toString(16).toUpperCase()}`;
}

function truncate(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, Math.max(0, width - 1))}…`;
}

function table(rows: readonly string[][], align: readonly ('l' | 'r')[]): string[] {
  // Widths without colour codes, so that coloured cells still line up.
  const visible = (s: string): number => s.replace(/\x1b\[[0-9;]*m/g, '').length;
  const widths = align.map((_, c) => Math.max(...rows.map((r) => visible(r[c] ?? ''))));
  return rows.map((row) =>
    row
      .map((cell, c) => {
        const padding = ' '.repeat(Math.max(0, widths[c]! - visible(cell)));
        return align[c] === 'r' ? padding + cell : cell + padding;
      })
      .join('   ')
      .trimEnd(),
  );
}

/** High availability: "active since …", or "standby since … · active: host pid …". */
export function roleLine(o: Overview, now: number, c: Colours): string {
  const { role, since, active_host: host, active_pid: pid } = o.role;
  const age = since === null ? '' : ` for ${span(Math.max(0, now - Date.parse(since)))}`;
  if (role === 'active') return `${c.green('▶ active')}${c.dim(`${age} · streams from the slot`)}`;
  if (role === 'standby')
    return `${c.cyan('◦ standby')}${c.dim(age)} · active: ${host === null ? 'a process that is not wal2nats' : `${host} pid ${pid}`}`;
  return c.dim('◦ starting');
}

export function renderStatus(
  o: Overview,
  failing: readonly MessageView[],
  httpUrl: string,
  c: Colours,
  now = Date.parse(o.now),
  backfills: readonly BackfillOverview[] = [],
): string {
  const t = o.totals;
  const lines: string[] = [];
  const col = <K extends keyof Overview['history'][number]>(key: K): (number | null)[] =>
    o.history.map((p) => p[key] as number | null);
  lines.push(
    `${c.bold('wal2nats')}  ${o.source.database ?? '?'} · slot ${o.source.slot} → ${o.sink.servers.join(', ')}${o.sink.jetstream ? ' (JetStream)' : ''}   ${c.dim(httpUrl)}`,
  );
  const readiness = o.ready ? c.green('● ready') : c.red('● not ready');
  lines.push(
    `${readiness}   ${c.dim(`up ${span(o.uptime_seconds * 1000)} · pid ${o.process.pid} · RSS ${bytes(o.process.rss_bytes)}${o.process.cpu_percent === null ? '' : ` · CPU ${o.process.cpu_percent.toFixed(0)}%`}`)}`,
  );
  for (const reason of o.reasons) lines.push(`  ${c.red('✗')} ${reason}`);
  lines.push(roleLine(o, now, c));
  lines.push('');

  const failingTables = t.failing_tables;
  const kpis: string[][] = [
    [
      'Throughput',
      `${rate(t.published_per_s)} msg/s`,
      c.cyan(sparkline(col('published_per_s'))),
      `received ${rate(t.received_per_s)}/s · ${integer.format(t.published)} published`,
    ],
    [
      'Lag',
      bytes(o.source.lag_bytes),
      c.cyan(sparkline(col('lag_bytes'))),
      `confirmed ${o.source.confirmed_lsn ?? '–'} · ${o.source.streaming ? 'streaming' : c.red('not streaming')}${o.source.last_error ? ` · ${o.source.last_error}` : ''}`,
    ],
    [
      'Latency p99',
      seconds(t.latency_p99_seconds),
      c.cyan(sparkline(col('latency_p99_seconds'))),
      `p50 ${seconds(t.latency_p50_seconds)} · commit → NATS`,
    ],
    [
      'Undelivered',
      integer.format(t.mailbox_depth),
      c.cyan(sparkline(col('mailbox_depth'))),
      `${o.sink.connected_shards}/${o.sink.shards} shards on NATS`,
    ],
    [
      'Backoff',
      failingTables > 0 ? c.red(`${seconds(t.max_backoff_seconds)} max`) : c.green('0 s'),
      failingTables > 0
        ? c.red(sparkline(col('max_backoff_seconds')))
        : c.cyan(sparkline(col('max_backoff_seconds'))),
      failingTables > 0
        ? c.red(
            `${failingTables} ${failingTables === 1 ? 'table' : 'tables'} failing · ${rate(t.retries_per_s)} retries/s`,
          )
        : `${integer.format(t.retries)} retries in total`,
    ],
  ];
  for (const line of table(kpis, ['l', 'r', 'l', 'l'])) lines.push(`  ${line}`);
  for (const b of backfills) {
    const of =
      b.estimated === null
        ? ''
        : ` of ~${integer.format(b.estimated)}${b.estimated > 0 ? ` (${Math.min(100, Math.floor((b.rows / b.estimated) * 100))}%)` : ''}`;
    lines.push(`  ${'Backfill'.padEnd(12)}${b.table}: ${integer.format(b.rows)}${of} rows delivered`);
  }
  lines.push('');

  const shown = o.tables.slice(0, 15);
  const tableRows: string[][] = [
    [c.dim('TABLE'), c.dim('MSG/S'), c.dim('PUBLISHED'), c.dim('RETRIES'), c.dim('STATUS')],
  ];
  for (const row of shown) {
    tableRows.push([
      truncate(row.table, 40),
      rate(row.published_per_s),
      integer.format(row.published),
      integer.format(row.retries),
      row.backoff_seconds > 0 ? c.red(`backoff ${seconds(row.backoff_seconds)}`) : c.green('ok'),
    ]);
  }
  if (o.tables.length === 0) lines.push(c.dim('  no change published yet'));
  else for (const line of table(tableRows, ['l', 'r', 'r', 'r', 'l'])) lines.push(`  ${line}`);
  if (o.tables.length > shown.length)
    lines.push(c.dim(`  … and ${o.tables.length - shown.length} more tables`));
  lines.push('');

  if (failing.length === 0) {
    lines.push(
      `${c.green('✓')} nothing failing   ${c.dim(`${integer.format(o.messages.inflight)} in flight · ${integer.format(o.messages.delivered)} recently delivered`)}`,
    );
  } else {
    lines.push(c.bold(c.red(`FAILING (${o.messages.failing})`)));
    for (const m of failing) {
      lines.push(`  ${c.bold(m.table)}  ${lsnText(m.commit_lsn)} #${m.commit_idx}  ${c.dim(m.subject)}`);
      const behind = m.queued_behind ? ` · ${integer.format(m.queued_behind)} waiting behind it` : '';
      lines.push(
        `    deliver count ${c.red(String(m.deliver_count))} · next attempt ${until(m.next_attempt_at, now)}${behind}`,
      );
      lines.push(`    last error: ${c.red(m.last_error ?? '–')}`);
      lines.push(c.dim(`    id ${m.id}`));
    }
    lines.push(
      c.dim(
        `  retry now: curl -X POST -H 'content-type: application/json' -d '{}' ${httpUrl}/api/messages/retry   (or the console: ${httpUrl}/)`,
      ),
    );
  }
  return `${lines.join('\n')}\n`;
}
