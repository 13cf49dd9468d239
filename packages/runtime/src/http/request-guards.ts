/**
 * Guards that a browser cannot talk past.
 *
 * DNS rebinding: a foreign page whose name is made to resolve to our address can read our
 * answers, but its requests still carry its own name in `Host`. So a `Host` must be an IP
 * address (no name to rebind), localhost, or a name given in --http-host or --http-allowed-hosts.
 *
 * Cross-site requests: a foreign page can make the operator's browser POST to us with a
 * `text/plain` body and no preflight. A state-changing request must therefore be
 * application/json (checked where the body is read) and come from our own origin — browsers
 * send `Origin` on every POST, so a foreign or `null` one is refused — unless it carries the
 * token, which no foreign page can add without a preflight we never grant.
 */
import { isIP } from 'node:net';
import type { IncomingHttpHeaders } from 'node:http';

/** The host name of a `Host` header, without port or IPv6 brackets, lower-case; null if malformed. */
export function hostName(host: string): string | null {
  const match = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+)(?::\d{1,5})?$/.exec(host.trim());
  return match ? match[1]!.toLowerCase().replace(/^\[(.*)\]$/, '$1') : null;
}

/** Why `Host` is refused, or null when it is fine. A request without `Host` is not a browser's. */
export function hostProblem(host: string | undefined, allowedHosts: readonly string[]): string | null {
  if (host === undefined) return null;
  const name = hostName(host);
  if (name === null) return 'the Host header is not a host name';
  if (isIP(name) !== 0 || name === 'localhost' || name.endsWith('.localhost') || allowedHosts.includes(name))
    return null;
  return `this server does not answer to the host name "${name}"; add it to --http-allowed-hosts if it is ours`;
}

/** Why a state-changing request looks cross-site, or null. */
export function crossSiteProblem(headers: IncomingHttpHeaders): string | null {
  if (headers['sec-fetch-site'] === 'cross-site') return 'cross-site requests are refused';
  const origin = headers.origin;
  if (origin === undefined) return null;
  let originHost: string;
  try {
    const url = new URL(origin);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return `the origin ${origin} is not ours`;
    originHost = url.host;
  } catch {
    return `the origin ${origin} is not ours`;
  }
  const host = (headers.host ?? '').toLowerCase();
  return originHost === host
    ? null
    : `the origin ${origin} is not ours (${host || 'no Host'}); requests from other pages are refused`;
}
