/**
 * Builds the normalised Config from flags, environment and a config file, by the one schema.
 * Every problem names the option (as a flag) and says what a valid value looks like.
 */
import { configError, redactUrl } from '../errors.js';
import { subjectPrefixProblem } from '../envelope/subjects.js';
import { FILTER_ACTIONS, parseTablePattern } from '../pipeline/change-filter.js';
import { isLoopbackHost } from './loopback.js';
import { CONFIG_SCHEMA, envNameOf, type Config, type OptionSpec, type OptionsOf } from './config-schema.js';

/** Raw values by flag name: flags and env as strings, a file's values as parsed YAML/JSON. */
export interface ConfigSources {
  readonly flags: Readonly<Record<string, string | boolean>>;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly file?: Readonly<Record<string, unknown>>;
  /**
   * Reads a file named by a `{ file: PATH }` value of the config file (the CLI passes
   * readFileSync; core does no I/O itself). Throws with a `code` (ENOENT, …) when it cannot.
   */
  readonly readFile?: (path: string) => string;
}

const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

export function parseDurationMs(text: string): number | null {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(text);
  if (!match) return null;
  return Math.round(Number(match[1]) * DURATION_UNITS_MS[match[2] ?? 's']!);
}

function camelOf(flag: string): string {
  return flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** A file may use `postgres-url`, `postgres_url` or `postgresUrl`. */
function fileValue(file: Readonly<Record<string, unknown>> | undefined, flag: string): unknown {
  if (!file) return undefined;
  for (const key of [flag, flag.replace(/-/g, '_'), camelOf(flag)]) if (key in file) return file[key];
  return undefined;
}

function convert(spec: OptionSpec, raw: unknown, source: string): unknown {
  const where = source === 'flag' ? '' : ` (from ${source})`;
  const fail = (problem: string): never => {
    throw configError(spec.flag, `${problem}${where}`);
  };
  switch (spec.kind) {
    case 'string': {
      if (typeof raw !== 'string' && typeof raw !== 'number') fail('expected a text value');
      const text = String(raw).trim();
      if (text === '') fail('it is empty');
      return text;
    }
    case 'integer': {
      const n = typeof raw === 'number' ? raw : /^\s*-?\d+\s*$/.test(String(raw)) ? Number(raw) : Number.NaN;
      if (!Number.isInteger(n)) fail(`"${String(raw)}" is not a whole number`);
      if (spec.min !== undefined && n < spec.min) fail(`${n} is below the minimum ${spec.min}`);
      if (spec.max !== undefined && n > spec.max) fail(`${n} is above the maximum ${spec.max}`);
      return n;
    }
    case 'boolean': {
      if (typeof raw === 'boolean') return raw;
      const text = String(raw).trim().toLowerCase();
      if (['1', 'true', 'yes', 'on'].includes(text)) return true;
      if (['0', 'false', 'no', 'off'].includes(text)) return false;
      return fail(`"${String(raw)}" is not true or false`);
    }
    case 'duration': {
      const ms = typeof raw === 'number' ? raw * 1000 : parseDurationMs(String(raw));
      if (ms === null || !Number.isFinite(ms))
        return fail(`"${String(raw)}" is not a duration; write e.g. 500ms, 30s, 3m or 1h`);
      if (spec.min !== undefined && ms < spec.min)
        fail(`${String(raw)} is shorter than the minimum ${spec.min / 1000}s`);
      return ms;
    }
    case 'list': {
      const items = Array.isArray(raw) ? raw.map(String) : String(raw).split(',');
      return items.map((s) => s.trim()).filter((s) => s !== '');
    }
    case 'enum': {
      const text = String(raw).trim();
      if (!spec.values!.includes(text)) fail(`"${text}" is not one of ${spec.values!.join(', ')}`);
      return text;
    }
  }
}

export function resolveConfig(sources: ConfigSources): Config {
  const config = resolveOptions(CONFIG_SCHEMA, sources, 'run');
  validateTogether(config);
  return config;
}

/**
 * The options of `schema` from flags, environment, file and defaults, each converted and checked
 * by its spec (the checks between options are the command's). `command` names the --help to
 * point to when a flag is unknown.
 */
export function resolveOptions<Schema extends Readonly<Record<string, OptionSpec>>>(
  schema: Schema,
  sources: ConfigSources,
  command: string,
): OptionsOf<Schema> {
  const known = new Set<string>(Object.values(schema).map((s) => s.flag));
  for (const flag of Object.keys(sources.flags)) {
    if (!known.has(flag))
      throw configError(flag, 'unknown option', `run \`wal2nats ${command} --help\` for the list of options`);
  }
  const out: Partial<Record<keyof Schema, unknown>> = {};
  for (const name of Object.keys(schema) as (keyof Schema & string)[]) {
    const spec: OptionSpec = schema[name]!;
    const env = envNameOf(spec.flag);
    let value: unknown;
    if (sources.flags[spec.flag] !== undefined) value = convert(spec, sources.flags[spec.flag], 'flag');
    else if (sources.env[env] !== undefined && sources.env[env] !== '')
      value = convert(spec, sources.env[env], `environment variable ${env}`);
    else if (fileValue(sources.file, spec.flag) !== undefined) {
      const { raw, source } = dereference(spec, fileValue(sources.file, spec.flag), sources);
      value = convert(spec, raw, source);
    } else if (spec.default !== undefined)
      value = Array.isArray(spec.default) ? [...spec.default] : spec.default;
    else if (spec.required)
      throw configError(
        spec.flag,
        'it is required',
        `pass --${spec.flag}, set ${env}, or put "${spec.flag}" in the --config file`,
      );
    out[name] = value;
  }
  // convert() gives each option the type its kind stands for in OptionsOf (config-schema.ts),
  // and every option of the schema got a value or stayed unset only where it may.
  return out as OptionsOf<Schema>;
}

/**
 * A value of the config file may name where it really is, so that secrets stay out of the file:
 * `{ env: NAME }` takes environment variable NAME, `{ file: PATH }` the content of a file (one
 * trailing newline dropped, e.g. a Docker or Kubernetes secret). Any other value is taken as is.
 * Errors name the variable or the path, never the value.
 */
function dereference(
  spec: OptionSpec,
  raw: unknown,
  sources: ConfigSources,
): { raw: unknown; source: string } {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    return { raw, source: 'the config file' };
  const keys = Object.keys(raw);
  const ref = raw as Record<string, unknown>;
  if (
    keys.length !== 1 ||
    (keys[0] !== 'env' && keys[0] !== 'file') ||
    typeof ref[keys[0]] !== 'string' ||
    ref[keys[0]] === ''
  ) {
    throw configError(spec.flag, 'expected a value, { env: NAME } or { file: PATH } (from the config file)');
  }
  if (keys[0] === 'env') {
    const name = String(ref.env);
    const value = sources.env[name];
    if (value === undefined || value === '')
      throw configError(spec.flag, `environment variable ${name} is not set (named in the config file)`);
    return { raw: value, source: `environment variable ${name}, named in the config file` };
  }
  const path = String(ref.file);
  if (!sources.readFile) throw configError(spec.flag, `cannot read ${path} (files cannot be read here)`);
  let text: string;
  try {
    text = sources.readFile(path);
  } catch (error) {
    const reason = error instanceof Error && 'code' in error ? String(error.code) : 'unreadable';
    throw configError(spec.flag, `cannot read ${path} (${reason}), named in the config file`);
  }
  return { raw: text.replace(/\r?\n$/, ''), source: `file ${path}, named in the config file` };
}

function validateTogether(config: Config): void {
  if (!/^postgres(ql)?:\/\//.test(config.postgresUrl)) {
    throw configError('postgres-url', 'expected a URL starting with postgres:// or postgresql://');
  }
  // libpq's multi-host URLs (h1:5432,h2:5432, target_session_attrs) are not understood by
  // node-postgres, which would fail with a bare "Invalid URL".
  if (/^postgres(ql)?:\/\/[^/?#]*,/.test(config.postgresUrl)) {
    throw configError(
      'postgres-url',
      'several hosts in one URL are not supported',
      'point --postgres-url at one name that always reaches the primary: a DNS record or virtual IP moved on promotion, or a proxy such as Patroni\'s HAProxy or CloudNativePG\'s -rw service (docs/operations.md, "Postgres primary failover")',
    );
  }
  const prefixProblem = subjectPrefixProblem(config.subjectPrefix);
  if (prefixProblem)
    throw configError(
      'subject-prefix',
      `"${config.subjectPrefix}" is not a valid prefix: ${prefixProblem}`,
      'use dot-separated tokens such as acme.cdc',
    );
  for (const name of [config.slot]) {
    if (!/^[a-z0-9_]{1,63}$/.test(name))
      throw configError(
        'slot',
        `"${name}" is not a valid slot name`,
        'use lower-case letters, digits and _ (at most 63)',
      );
  }
  for (const [flag, patterns] of [
    ['tables', config.tables],
    ['exclude-tables', config.excludeTables],
  ] as const) {
    for (const pattern of patterns) {
      const parsed = parseTablePattern(pattern);
      if ('problem' in parsed)
        throw configError(
          flag,
          parsed.problem,
          'list tables as schema.table separated by commas; * and ? are globs; quote a name that holds a dot: "Sales Team"."order.items"',
        );
    }
  }
  for (const action of config.actions) {
    if (!FILTER_ACTIONS.includes(action as (typeof FILTER_ACTIONS)[number])) {
      throw configError(
        'actions',
        `"${action}" is not one of ${FILTER_ACTIONS.join(', ')}`,
        'e.g. --actions insert,update',
      );
    }
  }
  if ((config.natsUser === undefined) !== (config.natsPassword === undefined)) {
    throw configError(
      config.natsUser === undefined ? 'nats-user' : 'nats-password',
      'a NATS user and password go together',
    );
  }
  for (const url of config.natsUrl) {
    const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(url)?.[1]?.toLowerCase();
    if (scheme !== undefined && scheme !== 'nats' && scheme !== 'tls') {
      throw configError(
        'nats-url',
        `"${redactUrl(url)}" is not a nats:// or tls:// URL`,
        'write nats://HOST:PORT, tls://HOST:PORT (TLS required) or HOST:PORT',
      );
    }
    // nats.js ignores credentials in a URL: say so rather than fail to authenticate.
    if (/^(?:[A-Za-z][A-Za-z0-9+.-]*:\/\/)?[^/@]+@/.test(url)) {
      throw configError(
        'nats-url',
        `"${url.replace(/^((?:[A-Za-z][A-Za-z0-9+.-]*:\/\/)?)[^/@]+@/, '$1…@')}" holds credentials, which are not taken from a URL`,
        'pass them with --nats-user/--nats-password or --nats-token',
      );
    }
  }
  const authMethods = [
    ...(config.natsUser !== undefined ? ['--nats-user/--nats-password'] : []),
    ...(config.natsToken !== undefined ? ['--nats-token'] : []),
    ...(config.natsCredsFile !== undefined ? ['--nats-creds-file'] : []),
    ...(config.natsNkeySeedFile !== undefined ? ['--nats-nkey-seed-file'] : []),
  ];
  if (authMethods.length > 1) {
    throw configError(
      authMethods[1]!.slice(2).split('/')[0]!,
      `it cannot be combined with ${authMethods[0]}`,
      'choose one NATS authentication method (a TLS client certificate may go with any)',
    );
  }
  if ((config.natsTlsCert === undefined) !== (config.natsTlsKey === undefined)) {
    throw configError(
      config.natsTlsCert === undefined ? 'nats-tls-cert' : 'nats-tls-key',
      'a client certificate and key go together',
    );
  }
  validateHttpAccess(config);
  if (config.createStream !== undefined && !config.jetstream) {
    throw configError(
      'create-stream',
      'it only applies with --jetstream',
      'add --jetstream, or drop --create-stream',
    );
  }
  if (config.createStream !== undefined && !/^[A-Za-z0-9_-]{1,255}$/.test(config.createStream)) {
    throw configError(
      'create-stream',
      `"${config.createStream}" is not a valid stream name`,
      'use letters, digits, _ and -',
    );
  }
}

/** A shorter token could be guessed by trying: the HTTP port has no rate limit. */
export const MIN_HTTP_TOKEN_LENGTH = 16;

function validateHttpAccess(config: Config): void {
  if (config.httpToken !== undefined && config.httpTokenFile !== undefined) {
    throw configError(
      'http-token-file',
      'it cannot be combined with --http-token',
      'give the HTTP token one way',
    );
  }
  if (config.httpToken !== undefined && config.httpToken.length < MIN_HTTP_TOKEN_LENGTH) {
    throw configError(
      'http-token',
      `it is shorter than ${MIN_HTTP_TOKEN_LENGTH} characters`,
      'generate one with: openssl rand -hex 32',
    );
  }
  const hasToken = config.httpToken !== undefined || config.httpTokenFile !== undefined;
  if (config.httpProtectMetrics && !hasToken) {
    throw configError(
      'http-protect-metrics',
      'it needs an HTTP token',
      'add --http-token-file (or --http-token)',
    );
  }
  // Refused rather than warned about: a warning in a log nobody reads leaves row data and
  // "retry now" open to the network (docs/operations.md "Securing the HTTP port").
  if (!hasToken && !config.httpAllowAnonymous && !isLoopbackHost(config.httpHost)) {
    throw configError(
      'http-host',
      `"${config.httpHost}" is reachable from other machines, and without a token the console and /api would show row data and let anyone retry messages`,
      'add --http-token-file FILE (or --http-token); or --http-allow-anonymous to serve them open anyway (e.g. behind an authenticating proxy)',
    );
  }
}

/** The NATS servers to connect to. */
export function natsServers(config: Config): string[] {
  return config.natsUrl.length > 0 ? config.natsUrl : [`nats://${config.natsHost}:${config.natsPort}`];
}
