import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isLoopbackHost } from './loopback.js';

describe('isLoopbackHost', () => {
  it('knows the loopback addresses and localhost', () => {
    for (const host of [
      '127.0.0.1',
      '127.1.2.3',
      '::1',
      '[::1]',
      'localhost',
      'LOCALHOST',
      'app.localhost',
      '0:0:0:0:0:0:0:1',
      '::ffff:127.0.0.1',
    ]) {
      assert.equal(isLoopbackHost(host), true, host);
    }
  });

  it('takes every other address or name as reachable from the network', () => {
    for (const host of [
      '0.0.0.0',
      '::',
      '10.0.0.5',
      '192.168.1.2',
      'wal2nats.internal',
      'localhost.example.com',
      '128.0.0.1',
      '::2',
      '127.1',
      '127.0.0.256',
      '0127.0.0.1',
      '::ffff:127.0.0',
      '::ffff:10.0.0.1',
      '0:0:0:0:0:0:0:2',
    ]) {
      assert.equal(isLoopbackHost(host), false, host);
    }
  });
});
