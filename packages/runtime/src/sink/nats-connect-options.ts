/**
 * NATS connection options from the config: servers, credentials and TLS. Secrets are read here
 * and go nowhere else (never into logs, errors or metrics).
 */
import { readFileSync } from 'node:fs';
import { credsAuthenticator, nkeyAuthenticator, type NodeConnectionOptions } from '@nats-io/transport-node';
import { configError, natsServers, type Config } from '@wal2nats/core';

function readSecretFile(option: string, path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (error) {
    const reason = error instanceof Error && 'code' in error ? String(error.code) : 'unreadable';
    throw configError(option, `cannot read ${path} (${reason})`);
  }
}

export function natsConnectOptions(config: Config, name: string): NodeConnectionOptions {
  const options: NodeConnectionOptions = {
    servers: natsServers(config),
    name,
    // Never give up: an unreachable server is retried, never fatal (CONTRACT.md "Exit codes").
    maxReconnectAttempts: -1,
    waitOnFirstConnect: true,
    reconnectTimeWait: 1000,
    reconnectJitter: 500,
    pingInterval: 10_000,
    maxPingOut: 3,
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
  if (config.natsCredsFile !== undefined) options.authenticator = credsAuthenticator(readSecretFile('nats-creds-file', config.natsCredsFile));
  else if (config.natsNkeySeedFile !== undefined) {
    const seed = new TextEncoder().encode(new TextDecoder().decode(readSecretFile('nats-nkey-seed-file', config.natsNkeySeedFile)).trim());
    options.authenticator = nkeyAuthenticator(seed);
  }
  if (config.natsTls || config.natsTlsCa !== undefined || config.natsTlsCert !== undefined) {
    options.tls = {
      ...(config.natsTlsCa !== undefined ? { caFile: config.natsTlsCa } : {}),
      ...(config.natsTlsCert !== undefined ? { certFile: config.natsTlsCert } : {}),
      ...(config.natsTlsKey !== undefined ? { keyFile: config.natsTlsKey } : {}),
    };
  }
  return options;
}
