/** The options of issue 7: table and action filters, and secrets a config file points to. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { ErrorCode, Wal2NatsError } from '../errors.js';
import { resolveConfig, type ConfigSources } from './resolve-config.js';

const URL = 'postgres://wal2nats@localhost:5432/shop';

function resolve(sources: Partial<ConfigSources>) {
  return resolveConfig({
    flags: { 'postgres-url': URL, ...sources.flags },
    env: sources.env ?? {},
    ...(sources.file ? { file: sources.file } : {}),
    ...(sources.readFile ? { readFile: sources.readFile } : {}),
  });
}

function configErrorOf(fn: () => unknown): Wal2NatsError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof Wal2NatsError, String(error));
    assert.equal(error.code, ErrorCode.ConfigInvalid);
    return error;
  }
  return assert.fail('expected a config error');
}

describe('resolveConfig: --tables, --exclude-tables, --actions', () => {
  it('defaults to everything', () => {
    const c = resolve({});
    assert.deepEqual(c.excludeTables, []);
    assert.deepEqual(c.actions, []);
  });

  it('takes globs and quoted names', () => {
    const c = resolve({
      flags: { tables: 'public.*,audit.*_log,"Sales Team"."order.items"', 'exclude-tables': 'public.tmp_*' },
    });
    assert.deepEqual(c.tables, ['public.*', 'audit.*_log', '"Sales Team"."order.items"']);
    assert.deepEqual(c.excludeTables, ['public.tmp_*']);
  });

  it('takes the filters from env and file too', () => {
    assert.deepEqual(resolve({ env: { WAL2NATS_EXCLUDE_TABLES: 'a.b' } }).excludeTables, ['a.b']);
    assert.deepEqual(resolve({ file: { actions: ['insert', 'update'] } }).actions, ['insert', 'update']);
  });

  it('rejects a malformed pattern, naming the option', () => {
    const e = configErrorOf(() => resolve({ flags: { 'exclude-tables': 'public.a,orders' } }));
    assert.match(e.message, /^invalid option --exclude-tables: "orders" is not schema\.table/);
    assert.match(e.hint ?? '', /globs/);
    assert.match(
      configErrorOf(() => resolve({ flags: { tables: 'a.b.c' } })).message,
      /^invalid option --tables: .*quote a name/,
    );
  });

  it('accepts the contract actions and names a wrong one', () => {
    assert.deepEqual(resolve({ flags: { actions: 'insert, update,delete,truncate,read' } }).actions, [
      'insert',
      'update',
      'delete',
      'truncate',
      'read',
    ]);
    const e = configErrorOf(() => resolve({ flags: { actions: 'insert,upsert' } }));
    assert.equal(
      e.message,
      'invalid option --actions: "upsert" is not one of insert, update, delete, truncate, read',
    );
  });
});

describe('resolveConfig: { env } and { file } values in the config file', () => {
  it('reads a value from the environment variable it names', () => {
    const c = resolve({
      file: { 'nats-user': 'cdc', 'nats-password': { env: 'NATS_PW' } },
      env: { NATS_PW: 's3cret' },
    });
    assert.equal(c.natsPassword, 's3cret');
  });

  it('reads a value from the file it names, without the trailing newline', () => {
    const files: Record<string, string> = {
      '/run/secrets/token': 'tok-123\n',
      '/run/secrets/pg': 'postgres://u:p@db/shop\r\n',
    };
    const readFile = (path: string): string => {
      if (!(path in files)) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
      return files[path]!;
    };
    const c = resolveConfig({
      flags: {},
      env: {},
      file: { 'postgres-url': { file: '/run/secrets/pg' }, natsToken: { file: '/run/secrets/token' } },
      readFile,
    });
    assert.equal(c.natsToken, 'tok-123');
    assert.equal(c.postgresUrl, 'postgres://u:p@db/shop');
    const e = configErrorOf(() => resolve({ file: { 'nats-token': { file: '/nope' } }, readFile }));
    assert.equal(
      e.message,
      'invalid option --nats-token: cannot read /nope (ENOENT), named in the config file',
    );
  });

  it('still lets flags and env win over a file reference', () => {
    assert.equal(
      resolve({ flags: { 'nats-token': 'flag' }, file: { 'nats-token': { env: 'UNSET' } } }).natsToken,
      'flag',
    );
    assert.equal(
      resolve({ env: { WAL2NATS_NATS_TOKEN: 'env' }, file: { 'nats-token': { env: 'UNSET' } } }).natsToken,
      'env',
    );
  });

  it('names an unset variable, and never prints the value in an error', () => {
    assert.equal(
      configErrorOf(() => resolve({ file: { 'nats-token': { env: 'NATS_TOKEN' } } })).message,
      'invalid option --nats-token: environment variable NATS_TOKEN is not set (named in the config file)',
    );
    const e = configErrorOf(() =>
      resolve({ file: { 'nats-port': { env: 'PORT_SECRET' } }, env: { PORT_SECRET: 'hunter2' } }),
    );
    assert.match(
      e.message,
      /^invalid option --nats-port: "hunter2" is not a whole number \(from environment variable PORT_SECRET, named in the config file\)$/,
    );
    const secret = configErrorOf(() =>
      resolve({ file: { 'nats-password': { env: 'PW' } }, env: { PW: 'hunter2' } }),
    );
    assert.equal(secret.message.includes('hunter2'), false, secret.message);
  });

  it('rejects other objects', () => {
    assert.equal(
      configErrorOf(() => resolve({ file: { 'nats-token': { vault: 'x' } } })).message,
      'invalid option --nats-token: expected a value, { env: NAME } or { file: PATH } (from the config file)',
    );
    assert.match(
      configErrorOf(() => resolve({ file: { 'nats-token': { env: 'A', file: 'B' } } })).message,
      /expected a value, \{ env: NAME \}/,
    );
    assert.match(
      configErrorOf(() => resolve({ file: { 'nats-token': { env: 3 } } })).message,
      /expected a value, \{ env: NAME \}/,
    );
  });
});

describe('resolveConfig: one NATS authentication method', () => {
  it('rejects two methods at once, naming the second', () => {
    assert.equal(
      configErrorOf(() => resolve({ flags: { 'nats-user': 'u', 'nats-password': 'p', 'nats-token': 't' } }))
        .message,
      'invalid option --nats-token: it cannot be combined with --nats-user/--nats-password',
    );
    assert.equal(
      configErrorOf(() =>
        resolve({ flags: { 'nats-creds-file': '/a.creds', 'nats-nkey-seed-file': '/s.nk' } }),
      ).message,
      'invalid option --nats-nkey-seed-file: it cannot be combined with --nats-creds-file',
    );
  });

  it('lets a TLS client certificate go with any of them', () => {
    const c = resolve({ flags: { 'nats-token': 't', 'nats-tls-cert': '/c.pem', 'nats-tls-key': '/k.pem' } });
    assert.equal(c.natsTlsCert, '/c.pem');
  });
});

describe('resolveConfig: NATS URLs', () => {
  it('takes nats://, tls:// and bare host:port', () => {
    assert.deepEqual(resolve({ flags: { 'nats-url': 'nats://a:4222,tls://b:4443,c:4222' } }).natsUrl, [
      'nats://a:4222',
      'tls://b:4443',
      'c:4222',
    ]);
  });

  it('rejects other schemes, naming the option', () => {
    assert.equal(
      configErrorOf(() => resolve({ flags: { 'nats-url': 'nats://a:4222,ws://b:8080' } })).message,
      'invalid option --nats-url: "ws://b:8080" is not a nats:// or tls:// URL',
    );
  });

  it('rejects credentials in a URL without printing them', () => {
    for (const url of ['nats://alice:hunter2@a:4222', 'tls://hunter2@a:4222', 'alice:hunter2@a:4222']) {
      const e = configErrorOf(() => resolve({ flags: { 'nats-url': url } }));
      assert.match(e.message, /^invalid option --nats-url: ".*" holds credentials/);
      assert.equal(e.message.includes('hunter2'), false, e.message);
      assert.match(e.hint ?? '', /--nats-user/);
    }
  });
});
