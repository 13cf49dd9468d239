import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { HttpServer, type HttpHandlers } from './http-server.js';
import { CONSOLE_HTML } from './console-page.js';
import { HttpError } from './respond.js';
import type { MessageQuery } from '../shard/message-tracker.js';

const calls: { retry: Record<string, unknown>[]; messages: MessageQuery[] } = { retry: [], messages: [] };
let ready = true;

const handlers: HttpHandlers = {
  metrics: async () => ({ contentType: 'text/plain; version=0.0.4', body: 'wal2nats_up 1\n' }),
  readiness: async () => (ready ? { ready: true, reasons: [] } : { ready: false, reasons: ['shard 0 is not connected to NATS'] }),
  overview: async () => ({ ready }) as never,
  messages: async (query) => {
    calls.messages.push(query);
    return [];
  },
  message: async (id) => {
    if (id !== 'a:b:1:2') throw new HttpError(404, `no message ${id}`);
    return { id } as never;
  },
  retry: async (body) => {
    calls.retry.push(body);
    return { retried: 1 };
  },
};

const server = new HttpServer(handlers);
let base = '';

before(async () => {
  const address = await server.listen('127.0.0.1', 0);
  base = `http://127.0.0.1:${address.port}`;
});
after(() => server.close());

describe('HTTP endpoints', () => {
  it('answers /healthz at once and /readyz with 503 and the reasons when not ready', async () => {
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    ready = false;
    const response = await fetch(`${base}/readyz`);
    assert.equal(response.status, 503);
    assert.deepEqual(await response.json(), { status: 'not ready', reasons: ['shard 0 is not connected to NATS'] });
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
    const form = await fetch(`${base}/api/messages/retry`, { method: 'POST', body: 'id=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.equal(form.status, 415);
    const bare = await fetch(`${base}/api/messages/retry`, { method: 'POST' });
    assert.equal(bare.status, 415);
    assert.equal(calls.retry.length, 0);
    const get = await fetch(`${base}/api/messages/retry`);
    assert.equal(get.status, 404);
    const all = await fetch(`${base}/api/messages/retry`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    assert.equal(all.status, 200);
    const one = await fetch(`${base}/api/messages/retry`, { method: 'POST', body: '{"id":"x"}', headers: { 'content-type': 'application/json; charset=utf-8' } });
    assert.deepEqual(await one.json(), { retried: 1 });
    assert.deepEqual(calls.retry, [{}, { id: 'x' }]);
    assert.equal((await fetch(`${base}/metrics`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } })).status, 405);
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
      for (const match of (await response.text()).matchAll(/^import .* from '\.\/([^']+)';$/gm)) pending.push(match[1]!);
    }
    assert.ok(seen.has('dom.js') && seen.has('messages-view.js'), `the console's modules are served: ${[...seen].join(', ')}`);
    assert.equal((await fetch(`${base}/console/..%2Fhttp%2Fhttp-server.js`)).status, 404);
    assert.equal((await fetch(`${base}/console/tsconfig.tsbuildinfo`)).status, 404);
  });
});
