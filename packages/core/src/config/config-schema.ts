/**
 * The one config schema. It drives the `Config` type (derived from it below), its checks, the CLI
 * flags, the environment variables (`WAL2NATS_<NAME>`), the keys of a `--config` YAML/JSON
 * file, and `--help`.
 * Precedence: flag > environment > file > default (docs/contract.md "Running it").
 */
export type OptionKind = 'string' | 'integer' | 'boolean' | 'duration' | 'list' | 'enum';

export interface OptionSpec {
  /** The flag name without `--`; the env var is WAL2NATS_ + upper snake case of it. */
  readonly flag: string;
  readonly kind: OptionKind;
  readonly description: string;
  readonly group: 'Source' | 'Sink' | 'NATS credentials' | 'Delivery' | 'Operations' | 'Backfill' | 'Status';
  /** Set for the options of one command only (listed in its --help, not in `run --help`). */
  readonly command?: 'backfill' | 'status';
  readonly default?: string | number | boolean | readonly string[];
  readonly required?: boolean;
  /** Never printed: in --help and logs the value shows as ***. */
  readonly secret?: boolean;
  readonly values?: readonly string[];
  readonly min?: number;
  readonly max?: number;
  /** For --help: what the value looks like. */
  readonly placeholder?: string;
}

export const CONFIG_SCHEMA = {
  postgresUrl: {
    flag: 'postgres-url',
    kind: 'string',
    group: 'Source',
    required: true,
    secret: true,
    placeholder: 'URL',
    description:
      'The source database, e.g. postgres://user:pass@host:5432/shop. The user needs REPLICATION (or superuser).',
  },
  slot: {
    flag: 'slot',
    kind: 'string',
    group: 'Source',
    default: 'wal2nats',
    placeholder: 'NAME',
    description: 'Logical replication slot (pgoutput); created when missing.',
  },
  publication: {
    flag: 'publication',
    kind: 'string',
    group: 'Source',
    default: 'wal2nats',
    placeholder: 'NAME',
    description: 'Publication; created when missing (FOR ALL TABLES unless --tables is given).',
  },
  tables: {
    flag: 'tables',
    kind: 'list',
    group: 'Source',
    default: [],
    placeholder: 'schema.table,...',
    description:
      'Only publish these tables; globs allowed (public.*, audit.*_log), "quoted"."names" taken literally. Applies to an existing publication too; a new one is created FOR TABLE these (FOR ALL TABLES if a glob is used).',
  },
  excludeTables: {
    flag: 'exclude-tables',
    kind: 'list',
    group: 'Source',
    default: [],
    placeholder: 'schema.table,...',
    description: 'Never publish these tables (globs as in --tables; wins over --tables).',
  },
  actions: {
    flag: 'actions',
    kind: 'list',
    group: 'Source',
    default: [],
    placeholder: 'ACTION,...',
    description: 'Only publish these actions: insert, update, delete, truncate, read. Default: all.',
  },
  databaseName: {
    flag: 'database-name',
    kind: 'string',
    group: 'Sink',
    placeholder: 'NAME',
    description: 'The <database_name> in subjects and metadata. Default: the Postgres database name.',
  },
  natsUrl: {
    flag: 'nats-url',
    kind: 'list',
    group: 'Sink',
    default: [],
    placeholder: 'URL[,URL...]',
    description: 'NATS server URL(s); wins over --nats-host/--nats-port.',
  },
  natsHost: {
    flag: 'nats-host',
    kind: 'string',
    group: 'Sink',
    default: 'localhost',
    placeholder: 'HOST',
    description: 'NATS host.',
  },
  natsPort: {
    flag: 'nats-port',
    kind: 'integer',
    group: 'Sink',
    default: 4222,
    min: 1,
    max: 65535,
    placeholder: 'PORT',
    description: 'NATS port.',
  },
  subjectPrefix: {
    flag: 'subject-prefix',
    kind: 'string',
    group: 'Sink',
    default: 'sequin',
    placeholder: 'PREFIX',
    description: 'First token(s) of every subject, e.g. acme.cdc.',
  },
  jetstream: {
    flag: 'jetstream',
    kind: 'boolean',
    group: 'Delivery',
    default: false,
    description: 'Publish with JetStream and wait for each PubAck.',
  },
  createStream: {
    flag: 'create-stream',
    kind: 'string',
    group: 'Delivery',
    placeholder: 'NAME',
    description: 'With --jetstream: create this file-backed stream on our subjects if it does not exist.',
  },
  jetstreamWindow: {
    flag: 'jetstream-window',
    kind: 'integer',
    group: 'Delivery',
    default: 1024,
    min: 1,
    max: 100_000,
    placeholder: 'N',
    description:
      'With --jetstream: messages in flight per stream (at most 4 MiB). The stream still stores them in commit order, whatever fails.',
  },
  messageKind: {
    flag: 'message-kind',
    kind: 'enum',
    group: 'Sink',
    default: 'changes',
    values: ['changes', 'records'],
    placeholder: 'KIND',
    description: 'changes: change events; records: record events on the rows subjects.',
  },
  initialSnapshot: {
    flag: 'initial-snapshot',
    kind: 'boolean',
    group: 'Source',
    default: false,
    description: 'When the slot is created, first publish every existing row as read events.',
  },
  backfillChunkRows: {
    flag: 'backfill-chunk-rows',
    kind: 'integer',
    group: 'Source',
    default: 5000,
    min: 1,
    max: 100_000,
    placeholder: 'N',
    description:
      'Rows per chunk of a backfill (wal2nats backfill), read in key order between two watermarks.',
  },
  backfillTables: {
    flag: 'table',
    kind: 'list',
    group: 'Backfill',
    command: 'backfill',
    default: [],
    placeholder: 'schema.table,...',
    description:
      'The table(s) to backfill, separated by commas (exact names; "quoted"."names" taken literally).',
  },
  backfillWait: {
    flag: 'wait',
    kind: 'boolean',
    group: 'Backfill',
    command: 'backfill',
    default: false,
    description: 'Wait until the backfill is done (exit 0) or failed (exit 1), printing its progress.',
  },
  maxBackoffMs: {
    flag: 'max-backoff',
    kind: 'duration',
    group: 'Delivery',
    default: 180_000,
    min: 1000,
    placeholder: 'DURATION',
    description: 'Longest delay between retries of a failing message (e.g. 30s, 3m).',
  },
  shards: {
    flag: 'shards',
    kind: 'integer',
    group: 'Delivery',
    default: 2,
    min: 1,
    max: 64,
    placeholder: 'N',
    description: 'Shard worker threads; each table belongs to one.',
  },
  mailboxCapacity: {
    flag: 'mailbox-capacity',
    kind: 'integer',
    group: 'Delivery',
    default: 5_000,
    min: 100,
    max: 10_000_000,
    placeholder: 'N',
    description: 'Undelivered changes per shard before reading from the slot pauses (bounds memory).',
  },
  httpHost: {
    flag: 'http-host',
    kind: 'string',
    group: 'Operations',
    default: '127.0.0.1',
    placeholder: 'HOST',
    description:
      'Address of the console (/), /metrics, /healthz, /readyz and /api/messages. It shows row data: beyond loopback it needs --http-token-file (or --http-allow-anonymous).',
  },
  httpPort: {
    flag: 'http-port',
    kind: 'integer',
    group: 'Operations',
    default: 9464,
    min: 0,
    max: 65535,
    placeholder: 'PORT',
    description: 'Port of the HTTP endpoints (0 picks a free one).',
  },
  httpToken: {
    flag: 'http-token',
    kind: 'string',
    group: 'Operations',
    secret: true,
    placeholder: 'TOKEN',
    description:
      'Bearer token for the console and /api (at least 16 characters; e.g. openssl rand -hex 32). /metrics, /healthz and /readyz stay open unless --http-protect-metrics.',
  },
  httpTokenFile: {
    flag: 'http-token-file',
    kind: 'string',
    group: 'Operations',
    placeholder: 'FILE',
    description:
      'File holding the HTTP token (one trailing newline dropped), e.g. a Kubernetes secret; read at start.',
  },
  httpAllowedHosts: {
    flag: 'http-allowed-hosts',
    kind: 'list',
    group: 'Operations',
    default: [],
    placeholder: 'NAME,...',
    description:
      'Host names the HTTP port answers to besides IP addresses, localhost and --http-host (against DNS rebinding), e.g. wal2nats.internal.',
  },
  httpProtectMetrics: {
    flag: 'http-protect-metrics',
    kind: 'boolean',
    group: 'Operations',
    default: false,
    description: '/metrics needs the HTTP token too (Prometheus: authorization.credentials_file).',
  },
  httpHideRowData: {
    flag: 'http-hide-row-data',
    kind: 'boolean',
    group: 'Operations',
    default: false,
    description:
      'Leave row values out of the console and /api/messages: keys and metadata only (for personal data).',
  },
  httpAllowAnonymous: {
    flag: 'http-allow-anonymous',
    kind: 'boolean',
    group: 'Operations',
    default: false,
    description:
      'Serve the console and /api without a token on a --http-host other than loopback (refused otherwise), e.g. behind an authenticating proxy.',
  },
  logLevel: {
    flag: 'log-level',
    kind: 'enum',
    group: 'Operations',
    default: 'info',
    values: ['debug', 'info', 'warn', 'error'],
    placeholder: 'LEVEL',
    description: 'Least severe log level written.',
  },
  natsUser: {
    flag: 'nats-user',
    kind: 'string',
    group: 'NATS credentials',
    placeholder: 'USER',
    description: 'NATS user (with --nats-password).',
  },
  natsPassword: {
    flag: 'nats-password',
    kind: 'string',
    group: 'NATS credentials',
    secret: true,
    placeholder: 'PASSWORD',
    description: 'NATS password.',
  },
  natsToken: {
    flag: 'nats-token',
    kind: 'string',
    group: 'NATS credentials',
    secret: true,
    placeholder: 'TOKEN',
    description: 'NATS token.',
  },
  natsNkeySeedFile: {
    flag: 'nats-nkey-seed-file',
    kind: 'string',
    group: 'NATS credentials',
    placeholder: 'FILE',
    description: 'File holding an NKey seed.',
  },
  natsCredsFile: {
    flag: 'nats-creds-file',
    kind: 'string',
    group: 'NATS credentials',
    placeholder: 'FILE',
    description: 'NATS credentials file (JWT and seed).',
  },
  natsTls: {
    flag: 'nats-tls',
    kind: 'boolean',
    group: 'NATS credentials',
    default: false,
    description: 'Require TLS, verifying the server against the system CAs.',
  },
  natsTlsCa: {
    flag: 'nats-tls-ca',
    kind: 'string',
    group: 'NATS credentials',
    placeholder: 'FILE',
    description: 'CA certificate(s) to verify the server with.',
  },
  natsTlsCert: {
    flag: 'nats-tls-cert',
    kind: 'string',
    group: 'NATS credentials',
    placeholder: 'FILE',
    description: 'Client certificate for mutual TLS (with --nats-tls-key).',
  },
  natsTlsKey: {
    flag: 'nats-tls-key',
    kind: 'string',
    group: 'NATS credentials',
    placeholder: 'FILE',
    description: 'Client key for mutual TLS.',
  },
} as const satisfies Record<string, OptionSpec>;

/**
 * `wal2nats status`: where the running instance answers, and its HTTP token given the same way as
 * to `wal2nats run` (the same flags and environment variables: the same specs).
 */
export const STATUS_SCHEMA = {
  httpUrl: {
    flag: 'http-url',
    kind: 'string',
    group: 'Status',
    command: 'status',
    default: 'http://127.0.0.1:9464',
    placeholder: 'URL',
    description: "The instance's HTTP address (--http-host and --http-port of wal2nats run).",
  },
  httpTokenFile: {
    ...CONFIG_SCHEMA.httpTokenFile,
    description: "File holding the instance's HTTP token (--http-token-file of wal2nats run).",
  },
  httpToken: {
    ...CONFIG_SCHEMA.httpToken,
    description:
      "The instance's HTTP token itself (prefer --http-token-file: a flag shows in the process list).",
  },
  json: {
    flag: 'json',
    kind: 'boolean',
    group: 'Status',
    command: 'status',
    default: false,
    description: 'Print the overview and the failing messages as JSON.',
  },
} as const satisfies Record<string, OptionSpec>;

/** The value an option holds once resolved, by its kind (an enum: one of its values). */
type ValueOf<S> = S extends { readonly kind: 'enum'; readonly values: readonly (infer V)[] }
  ? V
  : S extends { readonly kind: 'integer' | 'duration' }
    ? number
    : S extends { readonly kind: 'boolean' }
      ? boolean
      : S extends { readonly kind: 'list' }
        ? string[]
        : string;

/** An option with neither a default nor `required` may be unset. */
type Presence<S extends OptionSpec> = S extends { readonly default: unknown }
  ? ValueOf<S>
  : S extends { readonly required: true }
    ? ValueOf<S>
    : ValueOf<S> | undefined;

/** The resolved options of a schema: one field per option, typed by its kind. */
export type OptionsOf<Schema extends Readonly<Record<string, OptionSpec>>> = {
  -readonly [K in keyof Schema]: Presence<Schema[K]>;
};

/** The normalised configuration of `run` and `backfill`, derived from the schema. Units are in the names. */
export type Config = OptionsOf<typeof CONFIG_SCHEMA>;

/** The options of `wal2nats status`. */
export type StatusOptions = OptionsOf<typeof STATUS_SCHEMA>;

export type OptionName = keyof typeof CONFIG_SCHEMA;

/** `postgres-url` → `WAL2NATS_POSTGRES_URL` */
export function envNameOf(flag: string): string {
  return `WAL2NATS_${flag.toUpperCase().replace(/-/g, '_')}`;
}
