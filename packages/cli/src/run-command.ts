/** `wal2nats run`: the composition root of the pipeline, with clean shutdown on signals. */
import { readFileSync } from 'node:fs';
import {
  errorMessage,
  ExitCode,
  resolveConfig,
  Wal2NatsError,
  deserializeError,
  type Config,
} from '@wal2nats/core';
import { createLogger, Pipeline } from '@wal2nats/runtime';
import { loadConfigFile } from './load-config-file.js';
import type { ParsedArgs } from './parse-args.js';

export function configFrom(args: ParsedArgs, env: NodeJS.ProcessEnv): Config {
  const configFile = args.configFile ?? env.WAL2NATS_CONFIG;
  // `readFile` serves `{ file: PATH }` values of the config file (secrets kept out of it).
  return resolveConfig({
    flags: args.flags,
    env,
    ...(configFile ? { file: loadConfigFile(configFile) } : {}),
    readFile: (path) => readFileSync(path, 'utf8'),
  });
}

export async function runCommand(config: Config): Promise<number> {
  const logFormat = process.stderr.isTTY ? 'pretty' : 'json';
  const log = createLogger({ level: config.logLevel, format: logFormat, thread: 'main' });
  const abort = new AbortController();
  const pipeline = new Pipeline({ config, log, logFormat, signal: abort.signal });
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (signalled) {
      log.warn('second signal: exiting now; undelivered changes stay unconfirmed and will be sent again', {
        signal,
      });
      process.exit(ExitCode.unexpected);
    }
    signalled = true;
    log.info('stopping', { signal });
    abort.abort();
    void pipeline.stop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const outcome = await pipeline.run();
    if (outcome.ok) {
      log.info('stopped cleanly');
      return ExitCode.ok;
    }
    const error = deserializeError(outcome.error);
    if (error instanceof Wal2NatsError) {
      log.error(error.message, { code: error.code, ...(error.hint ? { hint: error.hint } : {}) });
      return error.exitCode;
    }
    log.error(`unexpected error: ${error.message}`, { stack: error.stack });
    return ExitCode.unexpected;
  } catch (error) {
    await pipeline.stop().catch(() => {});
    if (error instanceof Wal2NatsError) {
      log.error(error.message, { code: error.code, ...(error.hint ? { hint: error.hint } : {}) });
      return error.exitCode;
    }
    log.error(`unexpected error: ${errorMessage(error)}`, {
      stack: error instanceof Error ? error.stack : undefined,
    });
    return ExitCode.unexpected;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
