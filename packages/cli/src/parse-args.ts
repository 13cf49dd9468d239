/**
 * Splits argv into a command, flags and a config file path. Values are checked later by the one
 * config schema; here only the shape: `--name value`, `--name=value`, `--flag`, `--no-flag`.
 */
import { CONFIG_SCHEMA, configError } from '@wal2nats/core';

export interface ParsedArgs {
  readonly command: string | undefined;
  readonly flags: Record<string, string | boolean>;
  readonly configFile: string | undefined;
  readonly help: boolean;
  readonly version: boolean;
}

const BOOLEAN_FLAGS = new Set<string>(Object.values(CONFIG_SCHEMA).filter((s) => s.kind === 'boolean').map((s) => s.flag));
/** A list option given twice (`--table a --table b`) means both, not only the last. */
const LIST_FLAGS = new Set<string>(Object.values(CONFIG_SCHEMA).filter((s) => s.kind === 'list').map((s) => s.flag));

export function parseArgs(argv: readonly string[]): ParsedArgs {
  let command: string | undefined;
  const flags: Record<string, string | boolean> = {};
  let configFile: string | undefined;
  let help = false;
  let version = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') { help = true; continue; }
    if (arg === '--version' || arg === '-v') { version = true; continue; }
    if (!arg.startsWith('--')) {
      if (command === undefined) { command = arg; continue; }
      throw configError(arg, `unexpected argument "${arg}"`, 'options start with --; run wal2nats --help');
    }
    const eq = arg.indexOf('=');
    let name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
    let value: string | boolean | undefined = eq >= 0 ? arg.slice(eq + 1) : undefined;
    if (name.startsWith('no-') && BOOLEAN_FLAGS.has(name.slice(3)) && value === undefined) {
      name = name.slice(3);
      value = false;
    } else if (BOOLEAN_FLAGS.has(name) && value === undefined) {
      value = true;
    } else if (value === undefined) {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) throw configError(name, 'it needs a value', `write --${name} VALUE`);
      value = next;
      i++;
    }
    if (name === 'config') configFile = String(value);
    else if (LIST_FLAGS.has(name) && typeof flags[name] === 'string' && typeof value === 'string') flags[name] = `${flags[name]},${value}`;
    else flags[name] = value;
  }
  return { command, flags, configFile, help, version };
}
