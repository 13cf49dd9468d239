/**
 * Who we are to NATS, in words an operator can find in the server's configuration: the user
 * name, the NKey public key, the JWT's name and subject, the TLS certificate's subject. Never a
 * secret (no password, token or seed).
 */
import { Buffer } from 'node:buffer';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { nkeys } from '@nats-io/transport-node';
import type { Config } from '@wal2nats/core';

function tryRead(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/** The claims of the user JWT in a creds file (the JWT is signed, not secret; the seed is). */
function credsUser(path: string): { name?: string; sub?: string } | null {
  const text = tryRead(path);
  const jwt = text ? /-+BEGIN NATS USER JWT-+\s*([A-Za-z0-9_.-]+)\s*-+END/.exec(text)?.[1] : undefined;
  const payload = jwt?.split('.')[1];
  if (!payload) return null;
  try {
    return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { name?: string; sub?: string };
  } catch {
    return null;
  }
}

export function natsIdentity(config: Config): string {
  if (config.natsCredsFile !== undefined) {
    const claims = credsUser(config.natsCredsFile);
    if (claims?.sub)
      return `user ${claims.name ? `"${claims.name}" ` : ''}(${claims.sub}) of ${config.natsCredsFile}`;
    return `the user of ${config.natsCredsFile}`;
  }
  if (config.natsNkeySeedFile !== undefined) {
    const seed = tryRead(config.natsNkeySeedFile)?.trim();
    try {
      if (seed) return `NKey user ${nkeys.fromSeed(new TextEncoder().encode(seed)).getPublicKey()}`;
    } catch {
      // Not a seed: described by its file below.
    }
    return `the NKey user of ${config.natsNkeySeedFile}`;
  }
  if (config.natsUser !== undefined) return `user "${config.natsUser}"`;
  if (config.natsToken !== undefined) return 'the user of --nats-token';
  if (config.natsTlsCert !== undefined) {
    const pem = tryRead(config.natsTlsCert);
    try {
      if (pem) return `the TLS certificate user ${new X509Certificate(pem).subject.replace(/\n/g, ', ')}`;
    } catch {
      // Not a certificate: described by its file below.
    }
    return `the TLS certificate user of ${config.natsTlsCert}`;
  }
  return 'the default user (no credentials given)';
}
