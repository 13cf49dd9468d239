/**
 * A throwaway PKI for the TLS tests, made with the `openssl` command: a CA, a server
 * certificate for 127.0.0.1/localhost signed by it, a client certificate for mutual TLS, and a
 * second CA that signed nothing we use (to show a verification failure).
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runToCompletion } from '../harness/process.js';

export interface TestPki {
  readonly caCert: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly clientCert: string;
  readonly clientKey: string;
  /** A CA that signed neither certificate. */
  readonly otherCaCert: string;
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

async function openssl(dir: string, ...args: string[]): Promise<void> {
  await runToCompletion('openssl', args, { cwd: dir });
}

async function makeCa(dir: string, name: string): Promise<{ cert: string; key: string }> {
  const cert = join(dir, `${name}.pem`);
  const key = join(dir, `${name}.key`);
  await openssl(
    dir,
    'req',
    '-x509',
    ...EC,
    '-keyout',
    key,
    '-out',
    cert,
    '-days',
    '2',
    '-subj',
    `/CN=wal2nats test ${name}`,
  );
  return { cert, key };
}

async function makeLeaf(
  dir: string,
  name: string,
  ca: { cert: string; key: string },
  subject: string,
  extensions: string,
): Promise<{ cert: string; key: string }> {
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const cert = join(dir, `${name}.pem`);
  const ext = join(dir, `${name}.ext`);
  writeFileSync(ext, extensions);
  await openssl(dir, 'req', ...EC, '-keyout', key, '-out', csr, '-subj', subject);
  // A serial of its own: with -CAcreateserial the two leaves, signed at the same time, shared
  // ca.srl, and one could read it half-written ("Unable to load number from ca.srl").
  const serial = BigInt(`0x${randomBytes(16).toString('hex')}`).toString();
  await openssl(
    dir,
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    ca.cert,
    '-CAkey',
    ca.key,
    '-set_serial',
    serial,
    '-out',
    cert,
    '-days',
    '2',
    '-extfile',
    ext,
  );
  return { cert, key };
}

/** Writes the PKI into `dir` (which the caller owns and removes). */
export async function makeTestPki(dir: string): Promise<TestPki> {
  const [ca, other] = await Promise.all([makeCa(dir, 'ca'), makeCa(dir, 'other-ca')]);
  const [server, client] = await Promise.all([
    makeLeaf(
      dir,
      'server',
      ca,
      '/CN=localhost',
      'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n',
    ),
    makeLeaf(dir, 'client', ca, '/CN=wal2nats-client/O=wal2nats tests', 'extendedKeyUsage=clientAuth\n'),
  ]);
  return {
    caCert: ca.cert,
    serverCert: server.cert,
    serverKey: server.key,
    clientCert: client.cert,
    clientKey: client.key,
    otherCaCert: other.cert,
  };
}
