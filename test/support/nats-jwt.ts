/**
 * Decentralised NATS auth for the creds-file test, without `nsc`: an operator, an account and a
 * user, as NKeys (from nats.js's own nkeys), with the JWTs that nats-server expects
 * (https://docs.nats.io/running-a-nats-service/configuration/securing_nats/jwt): a JSON claim
 * set with header {typ: JWT, alg: ed25519-nkey}, signed by the issuer's key. The operator signs
 * itself and the account; the account signs the user. The server trusts the operator JWT and
 * finds the account JWT in a preloaded memory resolver.
 */
import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import { nkeys } from '@nats-io/transport-node';

type KeyPair = ReturnType<typeof nkeys.createUser>;

const b64url = (data: string | Uint8Array): string => Buffer.from(data).toString('base64url');

function encodeJwt(issuer: KeyPair, claims: Record<string, unknown>): string {
  const body = { ...claims, iat: Math.floor(Date.now() / 1000), iss: issuer.getPublicKey() };
  // jti: a hash of the claims, as the Go library makes it (the server does not check it).
  const jti = createHash('sha256')
    .update(JSON.stringify(body))
    .digest('base64url')
    .toUpperCase()
    .replace(/[^A-Z0-9]/g, '');
  const signingInput = `${b64url(JSON.stringify({ typ: 'JWT', alg: 'ed25519-nkey' }))}.${b64url(JSON.stringify({ jti, ...body }))}`;
  return `${signingInput}.${b64url(issuer.sign(Buffer.from(signingInput)))}`;
}

export interface OperatorSetup {
  /** nats-server configuration: operator, memory resolver with the account preloaded. */
  readonly serverConfig: string;
  /** The content of a creds file for the user. */
  readonly creds: string;
  readonly userPublicKey: string;
  readonly userName: string;
}

const UNLIMITED = { subs: -1, data: -1, payload: -1 };

export function makeOperatorSetup(userName = 'wal2nats-cdc'): OperatorSetup {
  const operator = nkeys.createOperator();
  const account = nkeys.createAccount();
  const user = nkeys.createUser();
  const operatorJwt = encodeJwt(operator, {
    sub: operator.getPublicKey(),
    name: 'test-operator',
    nats: { type: 'operator', version: 2 },
  });
  const accountJwt = encodeJwt(operator, {
    sub: account.getPublicKey(),
    name: 'CDC',
    nats: {
      limits: { ...UNLIMITED, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1 },
      default_permissions: { pub: {}, sub: {} },
      type: 'account',
      version: 2,
    },
  });
  const userJwt = encodeJwt(account, {
    sub: user.getPublicKey(),
    name: userName,
    nats: { pub: {}, sub: {}, ...UNLIMITED, type: 'user', version: 2 },
  });
  const creds = [
    '-----BEGIN NATS USER JWT-----',
    userJwt,
    '------END NATS USER JWT------',
    '',
    '************************* IMPORTANT *************************',
    'NKEY Seed printed below can be used to sign and prove identity.',
    'NKEYs are sensitive and should be treated as secrets.',
    '',
    '-----BEGIN USER NKEY SEED-----',
    new TextDecoder().decode(user.getSeed()),
    '------END USER NKEY SEED------',
    '',
  ].join('\n');
  const serverConfig = [
    `operator: ${operatorJwt}`,
    'resolver: MEMORY',
    `resolver_preload: { ${account.getPublicKey()}: ${accountJwt} }`,
  ].join('\n');
  return { serverConfig, creds, userPublicKey: user.getPublicKey(), userName };
}
