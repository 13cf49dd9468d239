/**
 * Whether an HTTP bind address is reachable from this machine only. Binding anywhere else
 * exposes the console's row data and its "retry now" to the network, which the config refuses
 * without a token (docs/operations.md "Securing the HTTP port").
 */
import { isIP } from 'node:net';

export function isLoopbackHost(host: string): boolean {
  const bare = host.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (bare === 'localhost' || bare.endsWith('.localhost')) return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  if (isIP(bare) === 6) return bare === '::1' || /^(0:){7}0*1$/.test(bare) || /^::ffff:127\./.test(bare);
  return false;
}
