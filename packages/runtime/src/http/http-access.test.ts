import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { resolveConfig, Wal2NatsError } from '@wal2nats/core';
import { accessView, httpAccessFromConfig, presentsToken } from './http-access.js';

const TOKEN = 'f3c1b2a4d5e6f708192a3b4c5d6e7f80';
const config = (flags: Record<string, string | boolean>) =>
  resolveConfig({ flags: { 'postgres-url': 'postgres://u@h/db', ...flags }, env: {} });

describe('HTTP access from the config', () => {
  it('accepts exactly the token, as a bearer token', () => {
    const access = httpAccessFromConfig(config({ 'http-token': TOKEN }));
    assert.equal(presentsToken(access, `Bearer ${TOKEN}`), true);
    assert.equal(presentsToken(access, `bearer   ${TOKEN}`), true);
    for (const wrong of [
      undefined,
      '',
      TOKEN,
      `Basic ${TOKEN}`,
      `Bearer ${TOKEN}x`,
      `Bearer ${TOKEN.slice(0, -1)}`,
      'Bearer x',
      `Bearer ${TOKEN.toUpperCase()}`,
    ]) {
      assert.equal(presentsToken(access, wrong), false, String(wrong));
    }
  });

  it('accepts no token at all when none is configured', () => {
    const access = httpAccessFromConfig(config({}));
    assert.equal(presentsToken(access, 'Bearer anything-at-all-here-1234'), false);
    assert.deepEqual(accessView(access), {
      token_required: false,
      metrics_protected: false,
      row_data_hidden: false,
      exposed_without_token: false,
    });
  });

  it('reads the token file, dropping one trailing newline, and never echoes its content', () => {
    const access = httpAccessFromConfig(
      config({ 'http-token-file': '/run/secrets/http', 'http-protect-metrics': true }),
      () => `${TOKEN}\n`,
    );
    assert.equal(presentsToken(access, `Bearer ${TOKEN}`), true);
    assert.equal(accessView(access).metrics_protected, true);
    assert.throws(
      () =>
        httpAccessFromConfig(config({ 'http-token-file': '/nope' }), () => {
          throw Object.assign(new Error('x'), { code: 'ENOENT' });
        }),
      (error: unknown) =>
        error instanceof Wal2NatsError &&
        error.exitCode === 2 &&
        /--http-token-file: cannot read \/nope \(ENOENT\)/.test(error.message),
    );
    assert.throws(
      () => httpAccessFromConfig(config({ 'http-token-file': '/short' }), () => 'tiny-secret\n'),
      (error: unknown) =>
        error instanceof Wal2NatsError &&
        /shorter than 16/.test(error.message) &&
        !error.message.includes('tiny-secret'),
    );
  });

  it('says when the port is open to the network without a token', () => {
    assert.equal(
      httpAccessFromConfig(config({ 'http-host': '0.0.0.0', 'http-allow-anonymous': true }))
        .exposedWithoutToken,
      true,
    );
    assert.equal(
      httpAccessFromConfig(config({ 'http-host': '0.0.0.0', 'http-token': TOKEN })).exposedWithoutToken,
      false,
    );
  });
});
