/**
 * How every Postgres connection of wal2nats is opened: one place for the connection settings that
 * the text of values depends on, so no module opens a session that formats values differently.
 */
import type pg from 'pg';
import type { Config } from '@wal2nats/core';

/** The user name in `--postgres-url`, for error messages and hints (never the password). */
export function userOf(postgresUrl: string): string {
  try {
    return decodeURIComponent(new URL(postgresUrl).username) || 'postgres';
  } catch {
    return 'postgres';
  }
}

export function clientConfig(config: Config, extra: pg.ClientConfig = {}): pg.ClientConfig {
  return {
    connectionString: config.postgresUrl,
    application_name: 'wal2nats',
    connectionTimeoutMillis: 10_000,
    // Text output of timestamps, floats and intervals depends on these (docs/contract.md "Values").
    options: '-c TimeZone=UTC -c DateStyle=ISO -c IntervalStyle=postgres -c extra_float_digits=3',
    ...extra,
  };
}
