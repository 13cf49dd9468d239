/**
 * Whether an HTTP bind address is reachable from this machine only. Binding anywhere else
 * exposes the console's row data and its "retry now" to the network, which the config refuses
 * without a token (docs/operations.md "Securing the HTTP port").
 *
 * Pure text checks, not node:net's isIP: core holds no I/O modules (docs/architecture.md,
 * "Import rules"), and only the loopback forms below need recognising.
 */

/** A dotted IPv4 address, each part 0–255 without leading zeros (as node:net's isIPv4). */
const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]\d|\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]\d|\d)$/;

export function isLoopbackHost(host: string): boolean {
  const bare = host
    .trim()
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1');
  if (bare === 'localhost' || bare.endsWith('.localhost')) return true;
  if (IPV4.test(bare)) return bare.startsWith('127.');
  if (bare === '::1' || /^(0:){7}0*1$/.test(bare)) return true;
  // An IPv4-mapped IPv6 address of 127.0.0.0/8.
  const mapped = /^::ffff:(.*)$/.exec(bare);
  return mapped !== null && IPV4.test(mapped[1]!) && mapped[1]!.startsWith('127.');
}
