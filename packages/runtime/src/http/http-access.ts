/**
 * Who may use the HTTP port (docs/operations.md "Securing the HTTP port"): the bearer token of
 * the console and the API, whether /metrics needs it too, the host names that the port answers
 * to, and whether row values are left out. Built once at start from the config; the token file
 * is read here, and neither the token nor the file's content ever appears in an error or a log.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { configError, isLoopbackHost, MIN_HTTP_TOKEN_LENGTH, type Config } from '@wal2nats/core';

export interface HttpAccess {
  /** SHA-256 of the token; null when the port is open (no token configured). */
  readonly tokenDigest: Buffer | null;
  readonly protectMetrics: boolean;
  /** Lower-case host names accepted in `Host` besides IP addresses and localhost. */
  readonly allowedHosts: readonly string[];
  readonly hideRowData: boolean;
  /** Bound beyond loopback with no token (--http-allow-anonymous): the console says so. */
  readonly exposedWithoutToken: boolean;
}

/** What /api/overview tells the console about the port's protection (never the token). */
export interface HttpAccessView {
  readonly token_required: boolean;
  readonly metrics_protected: boolean;
  readonly row_data_hidden: boolean;
  readonly exposed_without_token: boolean;
}

/** No token, loopback only, nothing hidden: the defaults. */
export const OPEN_ACCESS: HttpAccess = {
  tokenDigest: null,
  protectMetrics: false,
  allowedHosts: [],
  hideRowData: false,
  exposedWithoutToken: false,
};

const digest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

export function httpAccessFromConfig(
  config: Config,
  readFile: (path: string) => string = (path) => readFileSync(path, 'utf8'),
): HttpAccess {
  let token = config.httpToken ?? null;
  if (config.httpTokenFile !== undefined) {
    token = readHttpTokenFile(config.httpTokenFile, readFile);
    if (token.length < MIN_HTTP_TOKEN_LENGTH) {
      throw configError(
        'http-token-file',
        `the token in ${config.httpTokenFile} is shorter than ${MIN_HTTP_TOKEN_LENGTH} characters`,
        'generate one with: openssl rand -hex 32',
      );
    }
  }
  const allowedHosts = [config.httpHost, ...config.httpAllowedHosts].map((host) =>
    host
      .trim()
      .toLowerCase()
      .replace(/^\[(.*)\]$/, '$1'),
  );
  return {
    tokenDigest: token === null ? null : digest(token),
    protectMetrics: config.httpProtectMetrics,
    allowedHosts,
    hideRowData: config.httpHideRowData,
    exposedWithoutToken: token === null && !isLoopbackHost(config.httpHost),
  };
}

/** The token in a --http-token-file (one trailing newline dropped); the error names the file, never its content. */
export function readHttpTokenFile(
  path: string,
  readFile: (path: string) => string = (p) => readFileSync(p, 'utf8'),
): string {
  try {
    return readFile(path).replace(/\r?\n$/, '');
  } catch (error) {
    const reason = error instanceof Error && 'code' in error ? String(error.code) : 'unreadable';
    throw configError(
      'http-token-file',
      `cannot read ${path} (${reason})`,
      'give a file that holds the token, e.g. from openssl rand -hex 32',
    );
  }
}

/**
 * Whether `Authorization: Bearer <token>` carries the token. Both sides are hashed first, so
 * the comparison takes the same time whatever the length or the first wrong character.
 */
export function presentsToken(access: HttpAccess, authorization: string | undefined): boolean {
  if (access.tokenDigest === null) return false;
  const match = /^Bearer[ ]+(\S+)\s*$/i.exec(authorization ?? '');
  return match !== null && timingSafeEqual(digest(match[1]!), access.tokenDigest);
}

export function accessView(access: HttpAccess): HttpAccessView {
  return {
    token_required: access.tokenDigest !== null,
    metrics_protected: access.protectMetrics,
    row_data_hidden: access.hideRowData,
    exposed_without_token: access.exposedWithoutToken,
  };
}
