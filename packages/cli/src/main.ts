#!/usr/bin/env node
/** The `wal2nats` command. */
import { CONFIG_SCHEMA, configError, ExitCode, Wal2NatsError } from '@wal2nats/core';
import { backfillCommand, backfillHelp } from './backfill-command.js';
import { GENERAL_HELP, runHelp } from './help-text.js';
import { packageVersion } from './package-version.js';
import { parseArgs } from './parse-args.js';
import { configFrom, runCommand } from './run-command.js';
import { statusCommand } from './status-command.js';

async function main(argv: readonly string[]): Promise<number> {
  // `status` has options of its own (STATUS_SCHEMA), not those of run.
  if (argv[0] === 'status') return statusCommand(argv.slice(1));
  const args = parseArgs(argv);
  if (args.version) {
    process.stdout.write(`wal2nats ${packageVersion()}\n`);
    return ExitCode.ok;
  }
  if (args.command === undefined || args.command === 'help') {
    process.stdout.write(GENERAL_HELP);
    return args.help || args.command === 'help' ? ExitCode.ok : ExitCode.badConfig;
  }
  if (args.command === 'backfill') {
    if (args.help) {
      process.stdout.write(backfillHelp());
      return ExitCode.ok;
    }
    return backfillCommand(configFrom(args, process.env));
  }
  if (args.command !== 'run') {
    process.stderr.write(`wal2nats: unknown command "${args.command}"\n\n${GENERAL_HELP}`);
    return ExitCode.badConfig;
  }
  if (args.help) {
    process.stdout.write(runHelp());
    return ExitCode.ok;
  }
  const config = configFrom(args, process.env);
  for (const spec of Object.values(CONFIG_SCHEMA)) {
    if ('command' in spec && args.flags[spec.flag] !== undefined)
      throw configError(spec.flag, `it is an option of wal2nats ${spec.command}, not of run`);
  }
  return runCommand(config);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof Wal2NatsError) {
      process.stderr.write(`wal2nats: ${error.describe()}\n`);
      process.exitCode = error.exitCode;
    } else {
      process.stderr.write(
        `wal2nats: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
      process.exitCode = ExitCode.unexpected;
    }
  },
);
