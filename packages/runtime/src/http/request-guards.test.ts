import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { crossSiteProblem, hostName, hostProblem } from './request-guards.js';

describe('the Host guard (DNS rebinding)', () => {
  it('accepts IP addresses, localhost and the allowed names, with or without a port', () => {
    for (const host of [
      '127.0.0.1:9464',
      '10.1.2.3:9464',
      '[::1]:9464',
      '[fe80::1]',
      'localhost:9464',
      'LOCALHOST',
      'wal2nats.internal:9464',
      undefined,
    ]) {
      assert.equal(hostProblem(host, ['wal2nats.internal']), null, String(host));
    }
  });

  it('refuses any other name, naming the option that allows it', () => {
    assert.match(
      hostProblem('evil.example.com:9464', ['wal2nats.internal']) ?? '',
      /"evil\.example\.com".*--http-allowed-hosts/,
    );
    assert.notEqual(hostProblem('wal2nats.internal.evil.com', ['wal2nats.internal']), null);
    assert.notEqual(hostProblem('127.0.0.1.nip.io:9464', []), null);
    assert.notEqual(hostProblem('a b', []), null);
  });

  it('takes the name out of a Host header', () => {
    assert.equal(hostName('Example.COM:80'), 'example.com');
    assert.equal(hostName('[::1]:9464'), '::1');
    assert.equal(hostName('x:y:z'), null);
  });
});

describe('the cross-site guard', () => {
  it('lets same-origin and non-browser requests through', () => {
    assert.equal(crossSiteProblem({ host: '127.0.0.1:9464', origin: 'http://127.0.0.1:9464' }), null);
    assert.equal(crossSiteProblem({ host: '127.0.0.1:9464' }), null);
    assert.equal(crossSiteProblem({ host: '127.0.0.1:9464', 'sec-fetch-site': 'same-origin' }), null);
  });

  it('refuses a foreign, null or different-port origin, and a browser that says cross-site', () => {
    assert.match(
      crossSiteProblem({ host: '127.0.0.1:9464', origin: 'https://evil.example.com' }) ?? '',
      /not ours/,
    );
    assert.notEqual(crossSiteProblem({ host: '127.0.0.1:9464', origin: 'null' }), null);
    assert.notEqual(crossSiteProblem({ host: '127.0.0.1:9464', origin: 'http://127.0.0.1:8080' }), null);
    assert.notEqual(crossSiteProblem({ host: '127.0.0.1:9464', 'sec-fetch-site': 'cross-site' }), null);
  });
});
