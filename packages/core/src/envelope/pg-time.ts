/** Postgres's epoch (2000-01-01) in Unix milliseconds. */
const PG_EPOCH_MS = 946_684_800_000;

let lastMicros = Number.NaN;
let lastIso = '';

/**
 * A commit time (microseconds since 2000-01-01 UTC) as ISO 8601 with microseconds and `Z`.
 * Every change of a transaction shares its commit time, so the last result is memoised.
 */
export function pgMicrosToIso(micros: number): string {
  if (micros === lastMicros) return lastIso;
  const ms = Math.floor(micros / 1000);
  const extra = micros - ms * 1000;
  const iso = new Date(ms + PG_EPOCH_MS).toISOString();
  lastIso = `${iso.slice(0, 23)}${String(extra).padStart(3, '0')}Z`;
  lastMicros = micros;
  return lastIso;
}

/** Unix milliseconds as Postgres microseconds since 2000-01-01 (standby status clocks). */
export function unixMsToPgMicros(ms: number): number {
  return (ms - PG_EPOCH_MS) * 1000;
}

/** A commit time as Unix milliseconds (fractional), for latency metrics. */
export function pgMicrosToUnixMs(micros: number): number {
  return micros / 1000 + PG_EPOCH_MS;
}
