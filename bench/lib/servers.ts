/**
 * What every benchmark script does around its measurement: start a throwaway Postgres and
 * nats-server, hand them over, and always tear them down (also when the measurement throws);
 * write a results file; turn main()'s outcome into the exit code.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { NatsConnection } from '@nats-io/transport-node';
import { startNats, startPostgres } from '../../test/harness/index.js';
import type { NatsOptions, NatsServer, PgServer, PostgresOptions } from '../../test/harness/index.js';

export interface BenchServers {
  pg: PgServer;
  nats: NatsServer;
  /** A connection of the bench's own (the subscriber side). */
  nc: NatsConnection;
}

/** Starts both servers, runs `body`, then closes the connection and disposes both servers. */
export async function withServers<T>(
  options: { postgres?: PostgresOptions; nats?: NatsOptions },
  body: (servers: BenchServers) => Promise<T>,
): Promise<T> {
  const started = await Promise.allSettled([startPostgres(options.postgres), startNats(options.nats)]);
  const [pgResult, natsResult] = started;
  const pg = pgResult.status === 'fulfilled' ? pgResult.value : undefined;
  const nats = natsResult.status === 'fulfilled' ? natsResult.value : undefined;
  let nc: NatsConnection | undefined;
  try {
    if (!pg || !nats) {
      const failed = started.find((r) => r.status === 'rejected') as PromiseRejectedResult;
      throw failed.reason;
    }
    nc = await nats.connect();
    return await body({ pg, nats, nc });
  } finally {
    await nc?.close().catch(() => {});
    await Promise.allSettled([pg?.dispose(), nats?.dispose()]);
  }
}

/** The results directory, bench/results/. */
export const RESULTS_DIR = fileURLToPath(new URL('../results/', import.meta.url));

/** A file-name-safe timestamp: 2026-11-28T21-51-55-170Z. */
export function fileStamp(date = new Date()): string {
  return date.toISOString().replace(/[:.]/g, '-');
}

/** Writes bench/results/<name>-<timestamp>.<ext>; returns its path. */
export function writeResult(name: string, body: string, ext = 'json', date = new Date()): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = `${RESULTS_DIR}${name}-${fileStamp(date)}.${ext}`;
  writeFileSync(file, body);
  return file;
}

/** Runs a script's main() and exits with its code (1 on an exception, printed). */
export function runMain(main: () => Promise<number>): void {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
