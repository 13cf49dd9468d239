/**
 * `wal2nats backfill --table schema.table[,...]`: asks the running `wal2nats run` of the same
 * slot to publish the current rows of the tables as `read` events while streaming goes on
 * (docs/data.md "Backfill"). It checks each table (exists, is published, has a key to page on),
 * records a request in `wal2nats.backfills` (created when missing) and returns; with `--wait` it
 * follows the requests until they are done.
 *
 * Exit codes: 0 requested (or, with --wait, done); 2 bad input (the table, the options);
 * 3 Postgres refuses us; 1 a backfill failed (--wait) or anything unexpected.
 */
import {
  CONFIG_SCHEMA,
  configError,
  ExitCode,
  parseTablePattern,
  type Config,
  type OptionSpec,
} from '@wal2nats/core';
import { requestBackfills } from '@wal2nats/runtime';
import { optionLines } from './help-text.js';

export function backfillHelp(): string {
  const specs = Object.values(CONFIG_SCHEMA) as OptionSpec[];
  const pick = (flags: readonly string[]): OptionSpec[] => flags.map((f) => specs.find((s) => s.flag === f)!);
  return `Usage: wal2nats backfill --table schema.table[,...] --postgres-url URL [--slot NAME] [--wait]

Publishes the current rows of a table as read events while streaming goes on, without ever
publishing a stale row over a newer change (watermarks in the WAL, after Netflix's DBLog).
The request is stored in the database (table wal2nats.backfills, created when missing); the
running \`wal2nats run\` with the same --slot picks it up within a second, reads the table in
chunks in key order and saves its progress, so a restart resumes where it stopped.
The table must be in the publication and have a primary key (or a replica identity index).

${optionLines(pick(['table', 'wait', 'postgres-url'])).join('\n')}
${'  --slot NAME'.padEnd(38)}The slot of the wal2nats run that does the backfill (default: wal2nats)
${''.padEnd(38)}env WAL2NATS_SLOT
${'  --publication NAME'.padEnd(38)}Its publication: the table must be in it (default: wal2nats)
${''.padEnd(38)}env WAL2NATS_PUBLICATION
${'  --config FILE'.padEnd(38)}YAML or JSON file with options (as for wal2nats run)
${'  --help'.padEnd(38)}this help

Follow progress: --wait, the log lines "backfill: progress" of wal2nats run, the metric
wal2nats_backfill_rows_total{table}, or SELECT * FROM wal2nats.backfills.
Chunk size: wal2nats run --backfill-chunk-rows N (default 5000).

Exit codes: 0 requested (with --wait: done), 2 bad input, 3 refused by Postgres, 1 failed or unexpected.
`;
}

/** The tables named by --table, as exact names. */
function requestedTables(config: Config): { schema: string; table: string }[] {
  if (config.backfillTables.length === 0)
    throw configError('table', 'it is required', 'write --table schema.table');
  return config.backfillTables.map((text) => {
    const parsed = parseTablePattern(text);
    if ('problem' in parsed)
      throw configError(
        'table',
        parsed.problem,
        'write schema.table; quote a name that holds a dot: "Sales Team"."order.items"',
      );
    if (parsed.schema.literal === null || parsed.table.literal === null)
      throw configError(
        'table',
        `"${text}" has a glob; name each table exactly`,
        'list the tables: --table public.a,public.b',
      );
    return { schema: parsed.schema.literal, table: parsed.table.literal };
  });
}

export async function backfillCommand(
  config: Config,
  out: (line: string) => void = (l) => process.stdout.write(`${l}\n`),
): Promise<number> {
  const outcome = await requestBackfills(config, requestedTables(config), out);
  return outcome === 'failed' ? ExitCode.unexpected : ExitCode.ok;
}
