/**
 * nats.js and Node TLS errors translated into wal2nats errors, in this one place (like
 * postgres/pg-errors.ts for Postgres): refusals for good (credentials, TLS) are fatal with a hint, exit 3;
 * everything else means "not reachable yet" and is retried.
 *
 * nats.js raises TLS failures as Node's own errors (with OpenSSL's `code`), and a server that
 * offers no TLS as a plain ConnectionError whose text is the only clue; that text is read here
 * and nowhere else.
 */
import {
  AuthorizationError,
  ConnectionError,
  InvalidArgumentError,
  UserAuthenticationExpiredError,
} from '@nats-io/transport-node';
import { errorMessage, ErrorCode, Wal2NatsError, type Config } from '@wal2nats/core';
import { natsTlsRequired } from './nats-connect-options.js';

/** Node's codes for a server certificate that does not verify. */
const CERT_VERIFY_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'INVALID_CA',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

const AUTH_HINT =
  "check --nats-user/--nats-password, --nats-token, --nats-creds-file or --nats-nkey-seed-file, and the user in the NATS server's configuration";

/** The first `code` along an error's cause chain (nats.js wraps Node's errors). */
function codeOf(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

export function natsAuthError(error: Error): Wal2NatsError {
  if (error instanceof UserAuthenticationExpiredError) {
    return new Wal2NatsError(
      ErrorCode.NatsAuth,
      `NATS refused our credentials: they expired (${error.message})`,
      'renew the user JWT (e.g. nsc generate creds) and its --nats-creds-file',
      { cause: error },
    );
  }
  return new Wal2NatsError(ErrorCode.NatsAuth, `NATS refused our credentials: ${error.message}`, AUTH_HINT, {
    cause: error,
  });
}

/** Translates a failed connection attempt. `retryable` errors mean: try again later. */
export function mapNatsConnectError(error: unknown, config: Config): Wal2NatsError {
  if (error instanceof Wal2NatsError) return error;
  if (error instanceof AuthorizationError || error instanceof UserAuthenticationExpiredError)
    return natsAuthError(error);
  const code = codeOf(error);
  const message = errorMessage(error);
  if (code !== undefined && CERT_VERIFY_CODES.has(code)) {
    return new Wal2NatsError(
      ErrorCode.NatsTls,
      `the NATS server's TLS certificate does not verify: ${message} (${code})`,
      config.natsTlsCa !== undefined
        ? `check that --nats-tls-ca ${config.natsTlsCa} holds the CA that signed the server's certificate, and that the certificate names the host of --nats-url`
        : "pass the CA that signed the server's certificate with --nats-tls-ca FILE (the system CAs are used otherwise)",
      { cause: error },
    );
  }
  if (code !== undefined && code.startsWith('ERR_SSL_') && code.includes('ALERT')) {
    return new Wal2NatsError(
      ErrorCode.NatsTls,
      `the NATS server refused our TLS connection: ${message} (${code})`,
      config.natsTlsCert !== undefined
        ? 'check that the server trusts the CA that signed --nats-tls-cert, and that the certificate is valid'
        : 'the server may require a client certificate: pass --nats-tls-cert FILE and --nats-tls-key FILE',
      { cause: error },
    );
  }
  const noTls =
    (error instanceof ConnectionError && /does not support 'tls'/.test(message)) ||
    (error instanceof InvalidArgumentError && /tls/i.test(message) && /not available/.test(message));
  if (noTls && natsTlsRequired(config)) {
    return new Wal2NatsError(
      ErrorCode.NatsTls,
      'the NATS server does not offer TLS, but --nats-tls, --nats-tls-ca, --nats-tls-cert or a tls:// URL asks for it',
      'enable TLS on the server (a tls { cert_file, key_file } block), or connect without the TLS options and with nats:// URLs',
      { cause: error },
    );
  }
  return new Wal2NatsError(
    ErrorCode.Unavailable,
    `cannot connect to NATS: ${message}${code !== undefined && !message.includes(code) ? ` (${code})` : ''}`,
    undefined,
    { cause: error },
  );
}
