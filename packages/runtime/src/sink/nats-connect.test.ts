/** Connection options, error translation, identity and probe subjects, without a server. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  AuthorizationError,
  ConnectionError,
  nkeys,
  UserAuthenticationExpiredError,
} from '@nats-io/transport-node';
import { ErrorCode, resolveConfig, Wal2NatsError, type Config } from '@wal2nats/core';
import { natsConnectOptions, natsTlsRequired } from './nats-connect-options.js';
import { mapNatsConnectError } from './nats-errors.js';
import { natsIdentity } from './nats-identity.js';
import { publishSubjects } from './publish-permission-check.js';
import type { PublishedTable } from '../postgres/published-table.js';

const dir = mkdtempSync(join(tmpdir(), 'wal2nats-connect-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function config(flags: Record<string, string | boolean> = {}): Config {
  return resolveConfig({ flags: { 'postgres-url': 'postgres://u@h/db', ...flags }, env: {} });
}

function file(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

function withCode(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

describe('natsConnectOptions', () => {
  it('retries forever, with its own first-connection loop', () => {
    const options = natsConnectOptions(config({ 'nats-url': 'nats://a:1,nats://b:2' }), 'x');
    assert.deepEqual(options.servers, ['nats://a:1', 'nats://b:2']);
    assert.equal(options.maxReconnectAttempts, -1);
    assert.equal(options.waitOnFirstConnect, false);
    assert.equal(options.tls, undefined);
  });

  it('requires TLS for a tls:// URL or any TLS option', () => {
    assert.equal(natsTlsRequired(config({ 'nats-url': 'nats://a:1,tls://b:2' })), true);
    assert.equal(natsTlsRequired(config({ 'nats-tls': true })), true);
    assert.equal(natsTlsRequired(config({ 'nats-url': 'nats://a:1' })), false);
    assert.deepEqual(natsConnectOptions(config({ 'nats-url': 'tls://b:2' }), 'x').tls, {});
  });

  it('names the option of a missing or malformed file (exit 2)', () => {
    const cases: [Record<string, string>, RegExp][] = [
      [
        { 'nats-tls-ca': join(dir, 'none.pem') },
        /^invalid option --nats-tls-ca: cannot read .*none\.pem \(ENOENT\)$/,
      ],
      [
        { 'nats-tls-ca': file('junk.pem', 'junk') },
        /^invalid option --nats-tls-ca: .* does not hold a PEM certificate$/,
      ],
      [
        { 'nats-tls-cert': file('c.pem', 'x'), 'nats-tls-key': file('k.pem', 'x') },
        /^invalid option --nats-tls-cert: /,
      ],
      [
        { 'nats-nkey-seed-file': file('bad.nk', 'SUNOTASEED') },
        /^invalid option --nats-nkey-seed-file: .* does not hold an NKey seed$/,
      ],
      [
        { 'nats-creds-file': file('bad.creds', 'hello') },
        /^invalid option --nats-creds-file: .* is not a NATS credentials file/,
      ],
    ];
    for (const [flags, message] of cases) {
      assert.throws(
        () => natsConnectOptions(config(flags), 'x'),
        (e: unknown) =>
          e instanceof Wal2NatsError && e.code === ErrorCode.ConfigInvalid && message.test(e.message),
        JSON.stringify(flags),
      );
    }
  });

  it('never puts a key file in an error', () => {
    const key = '-----BEGIN PRIVATE KEY-----\nTOPSECRET\n-----END PRIVATE KEY-----\n';
    try {
      natsConnectOptions(
        config({ 'nats-tls-cert': file('c2.pem', 'x'), 'nats-tls-key': file('k2.pem', key) }),
        'x',
      );
      assert.fail('expected an error');
    } catch (error) {
      assert.equal(String(error).includes('TOPSECRET'), false);
    }
  });
});

describe('mapNatsConnectError', () => {
  const plain = config();
  it('makes refused credentials fatal (exit 3)', () => {
    const auth = mapNatsConnectError(new AuthorizationError('Authorization Violation'), plain);
    assert.equal(auth.code, ErrorCode.NatsAuth);
    assert.equal(auth.exitCode, 3);
    assert.match(
      mapNatsConnectError(new UserAuthenticationExpiredError('User Authentication Expired'), plain).message,
      /expired/,
    );
  });

  it('makes a server certificate that does not verify fatal, with the fix', () => {
    const noCa = mapNatsConnectError(
      withCode('unable to verify the first certificate', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'),
      plain,
    );
    assert.equal(noCa.code, ErrorCode.NatsTls);
    assert.match(noCa.hint ?? '', /--nats-tls-ca FILE/);
    const wrapped = mapNatsConnectError(
      new ConnectionError('tls failed', { cause: withCode('altname', 'ERR_TLS_CERT_ALTNAME_INVALID') }),
      plain,
    );
    assert.equal(wrapped.code, ErrorCode.NatsTls);
  });

  it('makes a refused client certificate fatal, suggesting one', () => {
    const refused = mapNatsConnectError(
      withCode('alert bad certificate', 'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE'),
      plain,
    );
    assert.equal(refused.code, ErrorCode.NatsTls);
    assert.match(refused.hint ?? '', /--nats-tls-cert/);
  });

  it('makes a missing TLS fatal only when we asked for TLS', () => {
    const error = new ConnectionError("server does not support 'tls'");
    assert.equal(mapNatsConnectError(error, config({ 'nats-url': 'tls://a:1' })).code, ErrorCode.NatsTls);
    assert.equal(mapNatsConnectError(error, plain).retryable, true);
  });

  it('retries everything else', () => {
    const refused = mapNatsConnectError(new ConnectionError('connection refused'), plain);
    assert.equal(refused.code, ErrorCode.Unavailable);
    assert.equal(refused.retryable, true);
    assert.equal(refused.message, 'cannot connect to NATS: connection refused');
  });
});

describe('natsIdentity', () => {
  it('names the user without any secret', () => {
    assert.equal(natsIdentity(config({ 'nats-user': 'cdc', 'nats-password': 'pw-secret' })), 'user "cdc"');
    assert.equal(natsIdentity(config({ 'nats-token': 'tok-secret' })), 'the user of --nats-token');
    const user = nkeys.createUser();
    const seed = new TextDecoder().decode(user.getSeed());
    assert.equal(
      natsIdentity(config({ 'nats-nkey-seed-file': file('u.nk', `${seed}\n`) })),
      `NKey user ${user.getPublicKey()}`,
    );
    assert.equal(natsIdentity(config()), 'the default user (no credentials given)');
  });
});

describe('publishSubjects', () => {
  /** Test tables written `schema.table`, split at the first dot (`public.order.items` is table `order.items` of schema `public`). */
  const tables = (...names: string[]): PublishedTable[] =>
    names.map((n) => ({ schema: n.slice(0, n.indexOf('.')), table: n.slice(n.indexOf('.') + 1) }));

  it('lists every kept table with every kept action', () => {
    const c = config({
      'subject-prefix': 'acme.cdc',
      tables: 'public.*',
      'exclude-tables': 'public.secret',
      actions: 'insert,delete,read',
    });
    assert.deepEqual(
      publishSubjects(
        c,
        'shop eu',
        tables('public.orders', 'public.secret', 'audit.log', 'public.order.items'),
      ),
      [
        'acme.cdc.changes.shop%20eu.public.orders.insert',
        'acme.cdc.changes.shop%20eu.public.orders.delete',
        'acme.cdc.changes.shop%20eu.public.orders.read',
        'acme.cdc.changes.shop%20eu.public.order%2Eitems.insert',
        'acme.cdc.changes.shop%20eu.public.order%2Eitems.delete',
        'acme.cdc.changes.shop%20eu.public.order%2Eitems.read',
      ],
    );
    assert.equal(publishSubjects(config(), 'db', tables('public.t')).length, 5);
    // A schema name with a dot stays one token: pairs, not "schema.table" split at a dot.
    assert.deepEqual(
      publishSubjects(config({ actions: 'insert' }), 'db', [{ schema: 'eu.west', table: 'orders' }]),
      ['sequin.changes.db.eu%2Ewest.orders.insert'],
    );
  });

  it('checks read whatever the options (a backfill may come at any time) unless --actions leaves it out, and uses the rows subject for record events', () => {
    assert.deepEqual(publishSubjects(config({ actions: 'insert,read' }), 'db', tables('public.t')), [
      'sequin.changes.db.public.t.insert',
      'sequin.changes.db.public.t.read',
    ]);
    assert.deepEqual(publishSubjects(config({ actions: 'insert,update' }), 'db', tables('public.t')), [
      'sequin.changes.db.public.t.insert',
      'sequin.changes.db.public.t.update',
    ]);
    assert.deepEqual(
      publishSubjects(config({ 'message-kind': 'records' }), 'db', tables('public.t', 'public.u')),
      ['sequin.rows.db.public.t', 'sequin.rows.db.public.u'],
    );
  });
});
