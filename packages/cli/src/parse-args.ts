/**
 * Splits argv into a command, flags and a config file path, with node:util's parseArgs. Values
 * are checked later by the one config schema; here only the shape: `--name value`,
 * `--name=value`, `--flag`, `--no-flag`.
 *
 * parseArgs runs with `strict: false` and its tokens are read here, because its strict errors
 * are not ours: an unknown option must reach the schema (which names it and points to --help),
 * and `--slot --jetstream` must say that --slot needs a value rather than take "--jetstream" as
 * the slot's name.
 */
import { parseArgs as parseArgv, type ParseArgsConfig } from 'node:util';
import { CONFIG_SCHEMA, configError, STATUS_SCHEMA, type OptionSpec } from '@wal2nats/core';

export interface ParsedArgs {
  readonly command: string | undefined;
  readonly flags: Record<string, string | boolean>;
  readonly configFile: string | undefined;
  readonly help: boolean;
  readonly version: boolean;
}

/** Every option of every command, by flag (status shares its token options with run). */
const SPECS = new Map<string, OptionSpec>(
  [...Object.values(CONFIG_SCHEMA), ...Object.values(STATUS_SCHEMA)].map((spec: OptionSpec) => [
    spec.flag,
    spec,
  ]),
);

const OPTIONS: NonNullable<ParseArgsConfig['options']> = {
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
  config: { type: 'string' },
  ...Object.fromEntries(
    [...SPECS.values()].map((spec) => [
      spec.flag,
      { type: spec.kind === 'boolean' ? 'boolean' : 'string' } as const,
    ]),
  ),
};

export function parseArgs(argv: readonly string[]): ParsedArgs {
  const { tokens } = parseArgv({
    args: [...argv],
    options: OPTIONS,
    strict: false,
    allowPositionals: true,
    allowNegative: true,
    tokens: true,
  });
  let command: string | undefined;
  const flags: Record<string, string | boolean> = {};
  let configFile: string | undefined;
  let help = false;
  let version = false;
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    if (token.kind === 'option-terminator') continue;
    if (token.kind === 'positional') {
      if (command === undefined) {
        command = token.value;
        continue;
      }
      throw configError(
        token.value,
        `unexpected argument "${token.value}"`,
        'options start with --; run wal2nats --help',
      );
    }
    if (token.name === 'help' || token.name === 'version') {
      if (token.name === 'help') help = true;
      else version = true;
      continue;
    }
    // `--no-X` negates a boolean; for any other X it is an option of its own (and unknown).
    const negated = token.rawName.startsWith('--no-') && OPTIONS[token.name]?.type !== 'boolean';
    const name = negated ? token.rawName.slice(2) : token.name;
    const type = negated ? undefined : OPTIONS[name]?.type;
    let value: string | boolean;
    if (type === 'boolean') {
      // `--no-jetstream` arrives as jetstream without a value; `--jetstream=false` keeps its text.
      value = token.value ?? !token.rawName.startsWith('--no-');
    } else if (type === 'string') {
      // Not strict, parseArgs takes the next argument whatever it is: `--slot --jetstream`.
      if (token.value === undefined || (!token.inlineValue && token.value.startsWith('--'))) {
        throw configError(
          name,
          'it needs a value',
          `write --${name} ${SPECS.get(name)?.placeholder ?? 'VALUE'}`,
        );
      }
      value = token.value;
    } else if (token.value !== undefined) {
      value = token.value;
    } else {
      // An unknown option takes the next argument as its value, as a known one would, so that
      // the schema's error names the option rather than "unexpected argument" its value.
      const next = tokens[i + 1];
      value = next?.kind === 'positional' ? next.value : true;
      if (next?.kind === 'positional') i++;
    }
    if (name === 'config') configFile = String(value);
    else if (SPECS.get(name)?.kind === 'list' && typeof flags[name] === 'string' && typeof value === 'string')
      flags[name] = `${flags[name]},${value}`;
    else flags[name] = value;
  }
  return { command, flags, configFile, help, version };
}
