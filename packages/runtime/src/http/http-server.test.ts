import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { resolveConfig } from '@wal2nats/core';
import { httpAccessFromConfig } from './http-access.js';
import { HttpServer, type HttpHandlers } from './http-server.js';
import { CONSOLE_HTML } from './console-page.js';
import { HttpError } from './respond.js';
import type { MessageQuery } from '../messages/message-view.js';

const calls: { retry: Record<string, unknown>[]; messages: MessageQuery[] } = { retry: [], messages: [] };
let ready = true;

const handlers: HttpHandlers = {
  metrics: async () => ({ contentType: 'text/plain; version=0.0.4', body: 'wal2nats_up 1\n' }),
  readiness: async () =>
    ready ? { ready: true, reasons: [] } : { ready: false, reasons: ['shard 0 is not connected to NATS'] },
  overview: async () => ({ ready }) as never,
  messages: async (query) => {
    calls.messages.push(query);
    return [];
  },
  message: async (id) => {
    if (id !== 'a:b:1:2') throw new HttpError(404, `no message ${id}`);
    return {
      id,
      body: '{"record":{"email":"ann@example.com"},"changes":null,"action":"insert","metadata":{"record_pks":["1"]}}',
      body_truncated: false,
      body_length: 99,
    } as never;
  },
  retry: async (body) => {
    calls.retry.push(body);
    return { retried: 1 };
  },
};

const server = new HttpServer(handlers);
let base = '';
let port = 0;

const TOKEN = '6b1f0e2c9d8a7b6c5d4e3f2a1b0c9d8e';
const guarded = new HttpServer(handlers);
const metricsGuarded = new HttpServer(handlers);
let guardedPort = 0;
let metricsGuardedPort = 0;
const accessOf = (flags: Record<string, string | boolean>) =>
  httpAccessFromConfig(resolveConfig({ flags: { 'postgres-url': 'postgres://u@h/db', ...flags }, env: {} }));

before(async () => {
  port = (await server.listen('127.0.0.1', 0)).port;
  base = `http://127.0.0.1:${port}`;
  guardedPort = (
    await guarded.listen(
      '127.0.0.1',
      0,
      accessOf({
        'http-token': TOKEN,
        'http-allowed-hosts': 'wal2nats.internal',
        'http-hide-row-data': true,
      }),
    )
  ).port;
  metricsGuardedPort = (
    await metricsGuarded.listen(
      '127.0.0.1',
      0,
      accessOf({ 'http-token': TOKEN, 'http-protect-metrics': true }),
    )
  ).port;
});
after(() => Promise.all([server.close(), guarded.close(), metricsGuarded.close()]));

/** A request with any headers, Host and Origin included (fetch would not send a Host of our choosing). */
function call(
  to: number,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: to, method, path, headers }, (res) => {
      let text = '';
      res
        .setEncoding('utf8')
        .on('data', (chunk: string) => (text += chunk))
        .on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}
const bearer = { authorization: `Bearer ${TOKEN}` };
const json = { 'content-type': 'application/json' };

describe('HTTP endpoints', () => {
  it('answers /healthz at once and /readyz with 503 and the reasons when not ready', async () => {
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    ready = false;
    const response = await fetch(`${base}/readyz`);
    assert.equal(response.status, 503);
    assert.deepEqual(await response.json(), {
      status: 'not ready',
      reasons: ['shard 0 is not connected to NATS'],
    });
    ready = true;
    assert.equal((await fetch(`${base}/readyz`)).status, 200);
    assert.equal((await fetch(`${base}/readyz`, { method: 'HEAD' })).status, 200);
  });

  it('validates the messages query', async () => {
    const bad = await fetch(`${base}/api/messages?state=stuck`);
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { error: string }).error, /inflight, failing, delivered/);
    assert.equal((await fetch(`${base}/api/messages`)).status, 400);
    assert.equal((await fetch(`${base}/api/messages?state=failing&limit=0`)).status, 400);
    const ok = await fetch(`${base}/api/messages?state=delivered&limit=5&table=public.t`);
    assert.equal(ok.status, 200);
    assert.deepEqual(calls.messages.at(-1), { state: 'delivered', limit: 5, table: 'public.t' });
  });

  it('decodes the message id of the detail path', async () => {
    assert.equal((await fetch(`${base}/api/messages/${encodeURIComponent('a:b:1:2')}`)).status, 200);
    assert.equal((await fetch(`${base}/api/messages/nope`)).status, 404);
    assert.equal((await fetch(`${base}/api/messages/%E0%A4%A`)).status, 400);
  });

  it('takes retry only as a JSON POST (no cross-site form can press it)', async () => {
    const form = await fetch(`${base}/api/messages/retry`, {
      method: 'POST',
      body: 'id=x',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    assert.equal(form.status, 415);
    const bare = await fetch(`${base}/api/messages/retry`, { method: 'POST' });
    assert.equal(bare.status, 415);
    assert.equal(calls.retry.length, 0);
    const get = await fetch(`${base}/api/messages/retry`);
    assert.equal(get.status, 404);
    const all = await fetch(`${base}/api/messages/retry`, {
      method: 'POST',
      body: '{}',
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(all.status, 200);
    const one = await fetch(`${base}/api/messages/retry`, {
      method: 'POST',
      body: '{"id":"x"}',
      headers: { 'content-type': 'application/json; charset=utf-8' },
    });
    assert.deepEqual(await one.json(), { retried: 1 });
    assert.deepEqual(calls.retry, [{}, { id: 'x' }]);
    assert.equal(
      (
        await fetch(`${base}/metrics`, {
          method: 'POST',
          body: '{}',
          headers: { 'content-type': 'application/json' },
        })
      ).status,
      405,
    );
  });

  it('serves the console page with a strict CSP and its script and styles from the same origin', async () => {
    const page = await fetch(`${base}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /text\/html/);
    assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    const html = await page.text();
    assert.equal(html, CONSOLE_HTML);
    for (const ref of html.matchAll(/(?:src|href)="([^"]+)"/g)) {
      const url = ref[1]!;
      assert.ok(url.startsWith('/') || url.startsWith('data:'), `${url} is served by the process itself`);
    }
    const script = await fetch(`${base}/console/console.js`);
    assert.equal(script.status, 200);
    assert.match(script.headers.get('content-type') ?? '', /text\/javascript/);
    assert.equal((await fetch(`${base}/console.css`)).status, 200);
    assert.equal((await fetch(`${base}/nope`)).status, 404);
  });

  it('serves every module the console script imports, and nothing outside dist/console', async () => {
    const seen = new Set<string>();
    const pending = ['console.js'];
    while (pending.length > 0) {
      const name = pending.pop()!;
      if (seen.has(name)) continue;
      seen.add(name);
      const response = await fetch(`${base}/console/${name}`);
      assert.equal(response.status, 200, `/console/${name}`);
      for (const match of (await response.text()).matchAll(/^import .* from '\.\/([^']+)';$/gm))
        pending.push(match[1]!);
    }
    assert.ok(
      seen.has('dom.js') && seen.has('messages-view.js'),
      `the console's modules are served: ${[...seen].join(', ')}`,
    );
    assert.equal((await fetch(`${base}/console/..%2Fhttp%2Fhttp-server.js`)).status, 404);
    assert.equal((await fetch(`${base}/console/tsconfig.tsbuildinfo`)).status, 404);
  });
});

describe('HTTP guards without a token (loopback)', () => {
  it('refuses a foreign Host on every path, data and probes alike (DNS rebinding)', async () => {
    for (const path of ['/', '/api/overview', '/metrics', '/healthz']) {
      const response = await call(port, 'GET', path, { host: `rebind.evil.example:${port}` });
      assert.equal(response.status, 421, path);
      assert.match(response.text, /--http-allowed-hosts/);
    }
    assert.equal((await call(port, 'GET', '/api/overview', { host: `localhost:${port}` })).status, 200);
  });

  it('refuses a cross-site POST and retries nothing: foreign or null Origin, or text/plain', async () => {
    const before = calls.retry.length;
    const textPlain = await call(
      port,
      'POST',
      '/api/messages/retry',
      { origin: 'https://evil.example', 'content-type': 'text/plain' },
      '{}',
    );
    assert.equal(textPlain.status, 403);
    assert.equal(
      (await call(port, 'POST', '/api/messages/retry', { origin: 'https://evil.example', ...json }, '{}'))
        .status,
      403,
    );
    assert.equal(
      (await call(port, 'POST', '/api/messages/retry', { origin: 'null', ...json }, '{}')).status,
      403,
    );
    assert.equal(
      (
        await call(
          port,
          'POST',
          '/api/messages/retry',
          { origin: `http://127.0.0.1:${port}`, 'content-type': 'text/plain' },
          '{}',
        )
      ).status,
      415,
    );
    assert.equal(calls.retry.length, before, 'nothing was retried');
    assert.equal(
      (await call(port, 'POST', '/api/messages/retry', { origin: `http://127.0.0.1:${port}`, ...json }, '{}'))
        .status,
      200,
    );
    assert.equal(calls.retry.length, before + 1);
  });
});

describe('HTTP guards with a token', () => {
  it('answers the API 401 without the right token and 200 with it; the token is never in an answer', async () => {
    for (const path of ['/api/overview', '/api/messages?state=failing', '/api/messages/a:b:1:2']) {
      const none = await call(guardedPort, 'GET', path);
      assert.equal(none.status, 401, path);
      assert.match(String(none.headers['www-authenticate']), /^Bearer/);
      assert.equal(
        (await call(guardedPort, 'GET', path, { authorization: `Bearer ${TOKEN.slice(0, -1)}0` })).status,
        401,
        path,
      );
      const ok = await call(guardedPort, 'GET', path, bearer);
      assert.equal(ok.status, 200, path);
      assert.ok(!ok.text.includes(TOKEN) && !none.text.includes(TOKEN), path);
    }
    assert.deepEqual(JSON.parse((await call(guardedPort, 'GET', '/api/overview', bearer)).text).http, {
      token_required: true,
      metrics_protected: false,
      row_data_hidden: true,
      exposed_without_token: false,
    });
  });

  it('keeps the page, probes and /metrics open by default, and /metrics behind the token when asked', async () => {
    for (const path of ['/', '/console.css', '/console/console.js', '/healthz', '/readyz', '/metrics'])
      assert.equal((await call(guardedPort, 'GET', path)).status, 200, path);
    assert.equal((await call(metricsGuardedPort, 'GET', '/metrics')).status, 401);
    assert.equal((await call(metricsGuardedPort, 'GET', '/metrics', bearer)).status, 200);
    assert.equal((await call(metricsGuardedPort, 'GET', '/healthz')).status, 200);
  });

  it('takes a POST with the token whatever its Origin, and refuses one without the token', async () => {
    const before = calls.retry.length;
    assert.equal(
      (
        await call(
          guardedPort,
          'POST',
          '/api/messages/retry',
          { origin: `http://127.0.0.1:${guardedPort}`, ...json },
          '{}',
        )
      ).status,
      401,
    );
    assert.equal(
      (
        await call(
          guardedPort,
          'POST',
          '/api/messages/retry',
          { origin: 'https://evil.example', 'content-type': 'text/plain' },
          '{}',
        )
      ).status,
      401,
    );
    assert.equal(calls.retry.length, before);
    assert.equal(
      (await call(guardedPort, 'POST', '/api/messages/retry', { ...bearer, ...json }, '{}')).status,
      200,
    );
    assert.equal(calls.retry.length, before + 1);
  });

  it('answers to an allowed host name', async () => {
    assert.equal((await call(guardedPort, 'GET', '/healthz', { host: 'wal2nats.internal' })).status, 200);
    assert.equal((await call(guardedPort, 'GET', '/healthz', { host: 'other.internal' })).status, 421);
  });

  it('leaves row values out of a message detail with --http-hide-row-data', async () => {
    const open = await call(port, 'GET', '/api/messages/a:b:1:2');
    assert.match(open.text, /ann@example\.com/);
    const hidden = await call(guardedPort, 'GET', '/api/messages/a:b:1:2', bearer);
    assert.doesNotMatch(hidden.text, /ann@example\.com/);
    assert.match(hidden.text, /record_pks/);
  });
});
