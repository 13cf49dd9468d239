/**
 * NATS connection options from the config: servers, credentials and TLS. Secrets are read here
 * and go nowhere else (never into logs, errors or metrics).
 *
 * Files (creds, seed, CA, certificate, key) are read and checked here, at start, so that a
 * wrong path or a wrong file is a configuration error naming the option (exit 2) rather than a
 * connection that never succeeds.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  credsAuthenticator,
  nkeyAuthenticator,
  nkeys,
  type NodeConnectionOptions,
} from '@nats-io/transport-node';
import { configError, natsServers, type Config } from '@wal2nats/core';

function readSecretFile(option: string, path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (error) {
    const reason = error instanceof Error && 'code' in error ? String(error.code) : 'unreadable';
    throw configError(option, `cannot read ${path} (${reason})`);
  }
}

/** The NKey seed of a seed file (surrounding white space dropped), checked to be one. */
export function readNkeySeed(path: string): Uint8Array {
  const seed = new TextEncoder().encode(
    new TextDecoder().decode(readSecretFile('nats-nkey-seed-file', path)).trim(),
  );
  try {
    nkeys.fromSeed(seed);
  } catch {
    throw configError(
      'nats-nkey-seed-file',
      `${path} does not hold an NKey seed`,
      'the file should hold one line starting with SU (a user seed), e.g. from `nk -gen user`',
    );
  }
  return seed;
}

/** A creds file: a user JWT and its seed, as `nsc` writes them. */
export function readCredsFile(path: string): Uint8Array {
  const creds = readSecretFile('nats-creds-file', path);
  const text = new TextDecoder().decode(creds);
  if (!/-----BEGIN NATS USER JWT-----/.test(text) || !/-----BEGIN USER NKEY SEED-----/.test(text)) {
    throw configError(
      'nats-creds-file',
      `${path} is not a NATS credentials file (it needs a user JWT and a user seed)`,
      'generate one with `nsc generate creds`',
    );
  }
  return creds;
}

/** A PEM file, checked to hold a certificate or a private key (the key's text is never shown). */
function readPem(option: string, path: string, kind: 'certificate' | 'key'): string {
  const text = new TextDecoder().decode(readSecretFile(option, path));
  try {
    if (kind === 'certificate') new X509Certificate(text);
    else createPrivateKey(text);
  } catch {
    throw configError(
      option,
      `${path} does not hold a PEM ${kind === 'certificate' ? 'certificate' : 'private key'}`,
    );
  }
  return text;
}

/** Whether TLS is required: a TLS option, or a `tls://` server URL. */
export function natsTlsRequired(config: Config): boolean {
  return (
    config.natsTls ||
    config.natsTlsCa !== undefined ||
    config.natsTlsCert !== undefined ||
    natsServers(config).some((url) => /^tls:\/\//i.test(url))
  );
}

export function natsConnectOptions(config: Config, name: string): NodeConnectionOptions {
  const options: NodeConnectionOptions = {
    servers: natsServers(config),
    name,
    // Never give up: an unreachable server is retried, never fatal (docs/contract.md "Exit codes").
    maxReconnectAttempts: -1,
    // The first connection is retried by NatsLink.connect, which logs each failure and knows
    // which ones are for good (credentials, TLS); nats.js would retry those silently.
    waitOnFirstConnect: false,
    // Per connection attempt (TCP, TLS, CONNECT, first PONG); nats.go uses 2 s.
    timeout: 5000,
    reconnectTimeWait: 1000,
    reconnectJitter: 500,
    pingInterval: 10_000,
    maxPingOut: 3,
    // Without it nats.js builds an Error per request() for async stack traces: about a quarter
    // of the CPU of a request-heavy client in an experiment here (docs/pitfalls.md).
    noAsyncTraces: true,
  };
  // nats.js writes its buffer to the socket every 32 KiB by default; the shard profile showed
  // the socket writes as a large cost, so a cycle is written in larger pieces. (A hidden option
  // of nats-core's protocol handler, read in its constructor.)
  Object.assign(options, { pendingLimit: 512 * 1024 });
  if (config.natsUser !== undefined && config.natsPassword !== undefined) {
    options.user = config.natsUser;
    options.pass = config.natsPassword;
  }
  if (config.natsToken !== undefined) options.token = config.natsToken;
  if (config.natsCredsFile !== undefined)
    options.authenticator = credsAuthenticator(readCredsFile(config.natsCredsFile));
  else if (config.natsNkeySeedFile !== undefined)
    options.authenticator = nkeyAuthenticator(readNkeySeed(config.natsNkeySeedFile));
  // nats.js ignores a URL's scheme and only upgrades to TLS when the server offers it; a `tls`
  // object makes TLS required (a server without it is refused) and verifies the server's
  // certificate (against --nats-tls-ca, else the system CAs). Without one, a server that
  // requires TLS still gets it, verified against the system CAs.
  if (natsTlsRequired(config)) {
    const tls: NonNullable<NodeConnectionOptions['tls']> = {};
    if (config.natsTlsCa !== undefined) tls.ca = readPem('nats-tls-ca', config.natsTlsCa, 'certificate');
    if (config.natsTlsCert !== undefined)
      tls.cert = readPem('nats-tls-cert', config.natsTlsCert, 'certificate');
    if (config.natsTlsKey !== undefined) tls.key = readPem('nats-tls-key', config.natsTlsKey, 'key');
    options.tls = tls;
  }
  return options;
}
