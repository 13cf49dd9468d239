/** `--help`, generated from the one config schema. */
import { CONFIG_SCHEMA, envNameOf, type OptionSpec } from '@wal2nats/core';

export const GENERAL_HELP = `wal2nats — stream every change of a Postgres database to NATS

Usage:
  wal2nats run [options]     stream changes (see: wal2nats run --help)
  wal2nats backfill --table schema.table
                             publish a table's current rows as read events while
                             streaming goes on (see: wal2nats backfill --help)
  wal2nats status            a running instance at a glance (see: wal2nats status --help)
  wal2nats --version         print the version

Every change is published in commit order per table to
  <prefix>.changes.<database>.<schema>.<table>.<action>
as JSON {record, changes, action, metadata} with a Nats-Msg-Id header.
The slot is confirmed only up to what NATS has accepted.
`;

function defaultOf(spec: OptionSpec): string {
  if (spec.default === undefined) return spec.required ? ' (required)' : '';
  if (Array.isArray(spec.default)) return spec.default.length ? ` (default: ${spec.default.join(',')})` : '';
  if (spec.kind === 'duration') return ` (default: ${Number(spec.default) / 1000}s)`;
  if (spec.kind === 'boolean') return '';
  return ` (default: ${String(spec.default)})`;
}

/** Two lines per option: flag and description, then its environment variable. */
export function optionLines(specs: readonly OptionSpec[]): string[] {
  const lines: string[] = [];
  for (const spec of specs) {
    const left = `  --${spec.flag}${spec.placeholder ? ` ${spec.placeholder}` : ''}`;
    lines.push(`${left.padEnd(38)}${spec.description}${defaultOf(spec)}`);
    lines.push(`${''.padEnd(38)}env ${envNameOf(spec.flag)}`);
  }
  return lines;
}

export function runHelp(): string {
  const groups = new Map<string, OptionSpec[]>();
  for (const spec of Object.values(CONFIG_SCHEMA) as OptionSpec[]) {
    if (spec.command !== undefined) continue;
    const list = groups.get(spec.group) ?? [];
    list.push(spec);
    groups.set(spec.group, list);
  }
  const lines = ['Usage: wal2nats run --postgres-url URL [options]', ''];
  for (const [group, specs] of groups) {
    lines.push(`${group}:`);
    lines.push(...optionLines(specs));
    lines.push('');
  }
  lines.push('Other:');
  lines.push(`${'  --config FILE'.padEnd(38)}YAML or JSON file with any of the options above as keys`);
  lines.push(`${''.padEnd(38)}(flags win over environment, environment over the file)`);
  lines.push(`${'  --help'.padEnd(38)}this help`);
  lines.push('');
  lines.push('Exit codes: 0 clean stop, 2 bad configuration, 3 refused by Postgres or NATS, 1 unexpected.');
  return `${lines.join('\n')}\n`;
}
