import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { ErrorCode, Wal2NatsError } from '../errors.js';
import { envNameOf } from './config-schema.js';
import { natsServers, parseDurationMs, resolveConfig, type ConfigSources } from './resolve-config.js';

const URL = 'postgres://wal2nats:secret@localhost:5432/shop';

function resolve(sources: Partial<ConfigSources>) {
  return resolveConfig({
    flags: { 'postgres-url': URL, ...sources.flags },
    env: sources.env ?? {},
    ...(sources.file ? { file: sources.file } : {}),
  });
}

/** Expects a config error that names `--flag` and whose message matches `problem`. */
function assertConfigError(fn: () => unknown, flag: string, problem?: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof Wal2NatsError, String(error));
    assert.equal(error.code, ErrorCode.ConfigInvalid);
    assert.equal(error.exitCode, 2);
    assert.ok(error.message.startsWith(`invalid option --${flag}: `), error.message);
    if (problem) assert.match(error.message, problem);
    return true;
  });
}

describe('resolveConfig: defaults', () => {
  it('fills the contract defaults', () => {
    const c = resolve({});
    assert.equal(c.postgresUrl, URL);
    assert.equal(c.slot, 'wal2nats');
    assert.equal(c.publication, 'wal2nats');
    assert.deepEqual(c.tables, []);
    assert.equal(c.databaseName, undefined);
    assert.deepEqual(c.natsUrl, []);
    assert.equal(c.natsHost, 'localhost');
    assert.equal(c.natsPort, 4222);
    assert.equal(c.subjectPrefix, 'sequin');
    assert.equal(c.jetstream, false);
    assert.equal(c.messageKind, 'changes');
    assert.equal(c.initialSnapshot, false);
    assert.equal(c.httpHost, '127.0.0.1');
    assert.equal(c.httpPort, 9464);
    assert.equal(c.maxBackoffMs, 3 * 60 * 1000);
    assert.equal(c.natsUser, undefined);
    assert.equal(c.natsPassword, undefined);
    assert.equal(c.natsTls, false);
  });

  it('does not share the default list between results', () => {
    const a = resolve({});
    a.tables.push('public.x');
    assert.deepEqual(resolve({}).tables, []);
  });
});

describe('resolveConfig: precedence flag > env > file > default', () => {
  it('takes the flag over env and file', () => {
    const c = resolve({
      flags: { slot: 'from_flag' },
      env: { WAL2NATS_SLOT: 'from_env' },
      file: { slot: 'from_file' },
    });
    assert.equal(c.slot, 'from_flag');
  });

  it('takes env over file', () => {
    assert.equal(
      resolve({ env: { WAL2NATS_SLOT: 'from_env' }, file: { slot: 'from_file' } }).slot,
      'from_env',
    );
  });

  it('takes the file over the default', () => {
    assert.equal(resolve({ file: { slot: 'from_file' } }).slot, 'from_file');
  });

  it('treats an empty environment variable as unset', () => {
    assert.equal(resolve({ env: { WAL2NATS_SLOT: '' }, file: { slot: 'from_file' } }).slot, 'from_file');
    assert.equal(resolve({ env: { WAL2NATS_SLOT: '' } }).slot, 'wal2nats');
  });

  it('reads the required postgres URL from env or file too', () => {
    assert.equal(resolveConfig({ flags: {}, env: { WAL2NATS_POSTGRES_URL: URL } }).postgresUrl, URL);
    assert.equal(resolveConfig({ flags: {}, env: {}, file: { 'postgres-url': URL } }).postgresUrl, URL);
  });

  it('names env variables WAL2NATS_ + upper snake case', () => {
    assert.equal(envNameOf('postgres-url'), 'WAL2NATS_POSTGRES_URL');
    assert.equal(envNameOf('nats-tls-ca'), 'WAL2NATS_NATS_TLS_CA');
    assert.equal(resolve({ env: { WAL2NATS_NATS_NKEY_SEED_FILE: '/s.nk' } }).natsNkeySeedFile, '/s.nk');
  });

  it('accepts file keys in kebab, snake and camel case', () => {
    assert.equal(resolve({ file: { 'subject-prefix': 'a.b' } }).subjectPrefix, 'a.b');
    assert.equal(resolve({ file: { subject_prefix: 'c.d' } }).subjectPrefix, 'c.d');
    assert.equal(resolve({ file: { subjectPrefix: 'e.f' } }).subjectPrefix, 'e.f');
    assert.equal(resolve({ file: { nats_tls_ca: '/ca.pem' } }).natsTlsCa, '/ca.pem');
    assert.equal(resolve({ file: { maxBackoff: '30s' } }).maxBackoffMs, 30_000);
  });
});

describe('resolveConfig: conversions and their errors', () => {
  it('integer: accepts whole numbers from text and from a file number', () => {
    assert.equal(resolve({ flags: { 'nats-port': '4333' } }).natsPort, 4333);
    assert.equal(resolve({ env: { WAL2NATS_NATS_PORT: ' 4444 ' } }).natsPort, 4444);
    assert.equal(resolve({ file: { 'nats-port': 4555 } }).natsPort, 4555);
    assert.equal(resolve({ flags: { 'http-port': '0' } }).httpPort, 0);
  });

  it('integer: rejects non-numbers, fractions and out-of-range values, naming the option', () => {
    assertConfigError(
      () => resolve({ flags: { 'nats-port': 'abc' } }),
      'nats-port',
      /"abc" is not a whole number/,
    );
    assertConfigError(() => resolve({ flags: { 'nats-port': '42.5' } }), 'nats-port', /not a whole number/);
    assertConfigError(() => resolve({ flags: { 'nats-port': '1e3' } }), 'nats-port', /not a whole number/);
    assertConfigError(() => resolve({ file: { 'nats-port': 4.5 } }), 'nats-port', /not a whole number/);
    assertConfigError(
      () => resolve({ flags: { 'nats-port': '65536' } }),
      'nats-port',
      /65536 is above the maximum 65535/,
    );
    assertConfigError(
      () => resolve({ flags: { 'nats-port': '0' } }),
      'nats-port',
      /0 is below the minimum 1/,
    );
    assertConfigError(() => resolve({ flags: { shards: '65' } }), 'shards', /maximum 64/);
  });

  it('says where a bad value came from when it is not a flag', () => {
    assertConfigError(
      () => resolve({ env: { WAL2NATS_NATS_PORT: 'x' } }),
      'nats-port',
      /\(from environment variable WAL2NATS_NATS_PORT\)/,
    );
    assertConfigError(() => resolve({ file: { natsPort: 'x' } }), 'nats-port', /\(from the config file\)/);
  });

  it('boolean: accepts true/false words and booleans', () => {
    assert.equal(resolve({ flags: { jetstream: true } }).jetstream, true);
    for (const word of ['1', 'true', 'TRUE', 'yes', 'on'])
      assert.equal(resolve({ env: { WAL2NATS_JETSTREAM: word } }).jetstream, true, word);
    for (const word of ['0', 'false', 'no', 'Off'])
      assert.equal(resolve({ env: { WAL2NATS_JETSTREAM: word } }).jetstream, false, word);
    assert.equal(resolve({ file: { jetstream: true } }).jetstream, true);
    assert.equal(
      resolve({ flags: { jetstream: false }, env: { WAL2NATS_JETSTREAM: 'true' } }).jetstream,
      false,
    );
  });

  it('boolean: rejects other words', () => {
    assertConfigError(
      () => resolve({ env: { WAL2NATS_JETSTREAM: 'maybe' } }),
      'jetstream',
      /"maybe" is not true or false/,
    );
  });

  it('string: trims, accepts a file number, rejects empty and non-text values', () => {
    assert.equal(resolve({ flags: { slot: '  myslot ' } }).slot, 'myslot');
    assert.equal(resolve({ file: { 'database-name': 2024 } }).databaseName, '2024');
    assertConfigError(() => resolve({ flags: { 'database-name': '   ' } }), 'database-name', /it is empty/);
    assertConfigError(
      () => resolve({ flags: { 'database-name': true } }),
      'database-name',
      /expected a text value/,
    );
    assertConfigError(
      () => resolve({ file: { 'database-name': ['a'] } }),
      'database-name',
      /expected a text value/,
    );
  });

  it('list: splits on commas, trims, drops empties; a file may give an array', () => {
    assert.deepEqual(resolve({ flags: { tables: 'public.a, public.b,,  sales.c ' } }).tables, [
      'public.a',
      'public.b',
      'sales.c',
    ]);
    assert.deepEqual(resolve({ file: { tables: ['public.a', ' public.b '] } }).tables, [
      'public.a',
      'public.b',
    ]);
    assert.deepEqual(resolve({ flags: { 'nats-url': 'nats://a:4222,nats://b:4222' } }).natsUrl, [
      'nats://a:4222',
      'nats://b:4222',
    ]);
  });

  it('enum: accepts listed values and names them when rejecting', () => {
    assert.equal(resolve({ flags: { 'log-level': 'debug' } }).logLevel, 'debug');
    assertConfigError(
      () => resolve({ flags: { 'log-level': 'verbose' } }),
      'log-level',
      /"verbose" is not one of debug, info, warn, error/,
    );
    assertConfigError(
      () => resolve({ flags: { 'message-kind': 'rows' } }),
      'message-kind',
      /is not one of changes, records/,
    );
  });

  it('duration: ms, s, m, h, and a bare number as seconds', () => {
    assert.equal(resolve({ flags: { 'max-backoff': '1500ms' } }).maxBackoffMs, 1500);
    assert.equal(resolve({ flags: { 'max-backoff': '30s' } }).maxBackoffMs, 30_000);
    assert.equal(resolve({ flags: { 'max-backoff': '3m' } }).maxBackoffMs, 180_000);
    assert.equal(resolve({ flags: { 'max-backoff': '1h' } }).maxBackoffMs, 3_600_000);
    assert.equal(resolve({ flags: { 'max-backoff': '45' } }).maxBackoffMs, 45_000);
    assert.equal(resolve({ file: { 'max-backoff': 20 } }).maxBackoffMs, 20_000);
    assert.equal(resolve({ env: { WAL2NATS_MAX_BACKOFF: '2.5s' } }).maxBackoffMs, 2500);
  });

  it('duration: rejects junk and values below the minimum, naming the option', () => {
    assertConfigError(
      () => resolve({ flags: { 'max-backoff': 'soon' } }),
      'max-backoff',
      /"soon" is not a duration; write e\.g\. 500ms, 30s, 3m or 1h/,
    );
    assertConfigError(() => resolve({ flags: { 'max-backoff': '3d' } }), 'max-backoff', /is not a duration/);
    assertConfigError(() => resolve({ flags: { 'max-backoff': '-5s' } }), 'max-backoff', /is not a duration/);
    assertConfigError(
      () => resolve({ flags: { 'max-backoff': '500ms' } }),
      'max-backoff',
      /500ms is shorter than the minimum 1s/,
    );
  });
});

describe('parseDurationMs', () => {
  it('parses the units the help text promises', () => {
    assert.equal(parseDurationMs('500ms'), 500);
    assert.equal(parseDurationMs('30s'), 30_000);
    assert.equal(parseDurationMs('3m'), 180_000);
    assert.equal(parseDurationMs('1h'), 3_600_000);
    assert.equal(parseDurationMs('10'), 10_000);
    assert.equal(parseDurationMs(' 2 m '), 120_000);
    assert.equal(parseDurationMs('0.5s'), 500);
    assert.equal(parseDurationMs('0'), 0);
  });

  it('returns null for anything else', () => {
    for (const text of ['', ' ', 's', '1d', '1 hour', '-1s', '1e3', '1.s', 'ms', '1m30s', '3M']) {
      assert.equal(parseDurationMs(text), null, JSON.stringify(text));
    }
  });
});

describe('resolveConfig: other checks', () => {
  it('rejects an unknown flag, naming it', () => {
    assertConfigError(() => resolve({ flags: { 'nats-prot': '4222' } }), 'nats-prot', /unknown option/);
  });

  it('refuses a multi-host --postgres-url with the fix, without printing the password', () => {
    assert.throws(
      () =>
        resolveConfig({
          flags: { 'postgres-url': 'postgres://u:pw-secret@a:5432,b:5432/db?target_session_attrs=primary' },
          env: {},
        }),
      (error: unknown) =>
        error instanceof Wal2NatsError &&
        error.exitCode === 2 &&
        /--postgres-url: several hosts/.test(error.message) &&
        /reaches the primary/.test(error.hint ?? '') &&
        !error.describe().includes('pw-secret'),
    );
  });

  it('requires --postgres-url and says how to give it', () => {
    assert.throws(
      () => resolveConfig({ flags: {}, env: {} }),
      (error: unknown) =>
        error instanceof Wal2NatsError &&
        error.message === 'invalid option --postgres-url: it is required' &&
        (error.hint ?? '').includes('WAL2NATS_POSTGRES_URL') &&
        error.exitCode === 2,
    );
  });

  it('requires a postgres:// or postgresql:// URL', () => {
    assert.equal(
      resolve({ flags: { 'postgres-url': 'postgresql://h/db' } }).postgresUrl,
      'postgresql://h/db',
    );
    assertConfigError(
      () => resolve({ flags: { 'postgres-url': 'mysql://h/db' } }),
      'postgres-url',
      /postgres:\/\//,
    );
  });

  it('validates the subject prefix', () => {
    assert.equal(resolve({ flags: { 'subject-prefix': 'acme.cdc' } }).subjectPrefix, 'acme.cdc');
    assertConfigError(
      () => resolve({ flags: { 'subject-prefix': 'acme..cdc' } }),
      'subject-prefix',
      /"acme\.\.cdc" is not a valid prefix/,
    );
    assertConfigError(() => resolve({ flags: { 'subject-prefix': 'acme.>' } }), 'subject-prefix', /wildcard/);
    assertConfigError(
      () => resolve({ env: { WAL2NATS_SUBJECT_PREFIX: 'a b' } }),
      'subject-prefix',
      /white space/,
    );
  });

  it('validates the slot name and the table list', () => {
    assertConfigError(() => resolve({ flags: { slot: 'Bad-Slot' } }), 'slot', /not a valid slot name/);
    assertConfigError(() => resolve({ flags: { slot: 'x'.repeat(64) } }), 'slot');
    assert.equal(resolve({ flags: { slot: 'x'.repeat(63) } }).slot, 'x'.repeat(63));
    assertConfigError(
      () => resolve({ flags: { tables: 'public.a,orders' } }),
      'tables',
      /"orders" is not schema\.table/,
    );
  });

  it('pairs NATS user and password, naming the missing one', () => {
    const c = resolve({ flags: { 'nats-user': 'u', 'nats-password': 'p' } });
    assert.equal(c.natsUser, 'u');
    assert.equal(c.natsPassword, 'p');
    assertConfigError(
      () => resolve({ flags: { 'nats-user': 'u' } }),
      'nats-password',
      /user and password go together/,
    );
    assertConfigError(
      () => resolve({ env: { WAL2NATS_NATS_PASSWORD: 'p' } }),
      'nats-user',
      /user and password go together/,
    );
  });

  it('pairs the TLS client certificate and key, naming the missing one', () => {
    assertConfigError(() => resolve({ flags: { 'nats-tls-cert': '/c.pem' } }), 'nats-tls-key');
    assertConfigError(() => resolve({ flags: { 'nats-tls-key': '/k.pem' } }), 'nats-tls-cert');
    assert.equal(
      resolve({ flags: { 'nats-tls-cert': '/c.pem', 'nats-tls-key': '/k.pem' } }).natsTlsKey,
      '/k.pem',
    );
  });

  it('never puts a secret in an error message', () => {
    try {
      resolve({ flags: { 'nats-password': 'hunter2' } });
      assert.fail('expected an error');
    } catch (error) {
      assert.ok(error instanceof Wal2NatsError);
      assert.equal(error.message.includes('hunter2'), false, error.message);
      assert.equal((error.hint ?? '').includes('hunter2'), false);
    }
  });
});

describe('natsServers', () => {
  it('uses --nats-url when given, else host and port', () => {
    assert.deepEqual(natsServers(resolve({ flags: { 'nats-host': 'nats.internal', 'nats-port': '4333' } })), [
      'nats://nats.internal:4333',
    ]);
    assert.deepEqual(
      natsServers(resolve({ flags: { 'nats-url': 'nats://a:1,tls://b:2', 'nats-host': 'ignored' } })),
      ['nats://a:1', 'tls://b:2'],
    );
    assert.deepEqual(natsServers(resolve({})), ['nats://localhost:4222']);
  });
});

describe('resolveConfig: the HTTP port', () => {
  const TOKEN = 'a-token-of-32-characters-0123456';

  it('refuses a non-loopback --http-host without a token, naming the way out, never the token', () => {
    assertConfigError(
      () => resolve({ flags: { 'http-host': '0.0.0.0' } }),
      'http-host',
      /reachable from other machines/,
    );
    assert.throws(
      () => resolve({ flags: { 'http-host': '0.0.0.0' } }),
      (error: Error & { hint?: string }) =>
        /--http-token-file/.test(error.hint ?? '') && /--http-allow-anonymous/.test(error.hint ?? ''),
    );
    assert.equal(resolve({ flags: { 'http-host': '0.0.0.0', 'http-token': TOKEN } }).httpToken, TOKEN);
    assert.equal(
      resolve({ flags: { 'http-host': '0.0.0.0', 'http-token-file': '/run/secrets/http' } }).httpTokenFile,
      '/run/secrets/http',
    );
    assert.equal(
      resolve({ flags: { 'http-host': '0.0.0.0', 'http-allow-anonymous': true } }).httpAllowAnonymous,
      true,
    );
    assert.equal(resolve({ flags: { 'http-host': 'localhost' } }).httpToken, undefined);
  });

  it('takes the token from the environment, and refuses a short one without echoing it', () => {
    assert.equal(resolve({ env: { WAL2NATS_HTTP_TOKEN: TOKEN } }).httpToken, TOKEN);
    assert.throws(
      () => resolve({ flags: { 'http-token': 'short-secret' } }),
      (error: Error) => {
        assert.match(error.message, /^invalid option --http-token: it is shorter than 16 characters/);
        assert.doesNotMatch(error.message, /short-secret/);
        return true;
      },
    );
    assertConfigError(
      () => resolve({ flags: { 'http-token': TOKEN, 'http-token-file': '/x' } }),
      'http-token-file',
      /cannot be combined/,
    );
  });

  it('protects /metrics only with a token, and lists allowed host names', () => {
    assertConfigError(
      () => resolve({ flags: { 'http-protect-metrics': true } }),
      'http-protect-metrics',
      /needs an HTTP token/,
    );
    const c = resolve({
      flags: {
        'http-protect-metrics': true,
        'http-token': TOKEN,
        'http-allowed-hosts': 'wal2nats.internal, cdc.example.com',
        'http-hide-row-data': true,
      },
    });
    assert.deepEqual(
      [c.httpProtectMetrics, c.httpAllowedHosts, c.httpHideRowData],
      [true, ['wal2nats.internal', 'cdc.example.com'], true],
    );
    assert.deepEqual(
      [
        resolve({}).httpProtectMetrics,
        resolve({}).httpAllowedHosts,
        resolve({}).httpHideRowData,
        resolve({}).httpAllowAnonymous,
      ],
      [false, [], false, false],
    );
  });
});
