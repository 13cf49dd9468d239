/**
 * The HTTP port lets in only whom it should (docs/operations.md "Securing the HTTP port"),
 * against the real `wal2nats run` with real Postgres and NATS:
 * - with a token: the API answers 401 without it and 200 with it; probes stay open; /metrics
 *   needs it with --http-protect-metrics; a foreign Host is refused; a cross-site POST is
 *   refused and retries nothing (while the token's POST does retry); `wal2nats status` sends
 *   the token; the token is never in a log line, /api/overview or an error;
 * - --http-hide-row-data leaves row values out of the API and the console, and no row value is
 *   in the log at info;
 * - the console in Chromium asks for the token, then works;
 * - a non-loopback --http-host without a token is refused (exit 2) unless
 *   --http-allow-anonymous, which warns in the log and the console.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Browser } from 'playwright-core';
import type { MessageDetail, MessageView } from '@wal2nats/runtime';
import { startNats, startPostgres, waitFor, type NatsServer, type PgServer } from './harness/index.js';
import { launchChromium } from './support/chromium.js';
import { CLI_PATH, runArgs, Wal2NatsProcess } from './support/wal2nats-process.js';

const TOKEN = '7c2e9a41b6d85f03e1a7c9b24d6f8e10';
/** A row value that must never show: not in the API, the console, or the log at info. */
const SECRET_VALUE = 'ann.secret-person@example.com';

let pg: PgServer;
let nats: NatsServer;
let browser: Browser;
let dir: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'wal2nats-http-'));
  [pg, nats, browser] = await Promise.all([
    startPostgres(),
    startNats({ config: 'max_payload: 4096' }),
    launchChromium(),
  ]);
});

after(async () => {
  await browser?.close();
  await Promise.all([pg?.dispose(), nats?.dispose()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const bearer = { authorization: `Bearer ${TOKEN}` };

async function getJson<T>(url: string, headers: Record<string, string> = bearer): Promise<T> {
  const response = await fetch(url, { headers });
  assert.equal(response.status, 200, `${url}: ${await response.clone().text()}`);
  return (await response.json()) as T;
}

/** The DOM the functions run in the page use (the tests' tsconfig has no DOM lib). */
declare const document: { getElementById(id: string): { textContent: string | null } | null };

describe('the HTTP port with a token', () => {
  it('lets in only the token, refuses foreign hosts and cross-site posts, hides row values, and the console asks for the token', async () => {
    const tokenFile = join(dir, 'http-token');
    writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
    const url = await pg.createDatabase('people');
    const client = await pg.connect('people');
    await client.query(
      'CREATE TABLE users (id int PRIMARY KEY, email text); CREATE TABLE attachments (id int PRIMARY KEY, body text)',
    );
    const w2n = new Wal2NatsProcess([
      ...runArgs({
        postgresUrl: url,
        natsUrl: nats.url,
        extra: [
          '--slot',
          'secured',
          '--max-backoff',
          '1m',
          '--http-token-file',
          tokenFile,
          '--http-protect-metrics',
          '--http-hide-row-data',
        ],
      }),
      '--log-level',
      'info', // last wins: the row must not be in the log at info
    ]);
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(`page error: ${error.message}`));
    try {
      await w2n.streaming();
      const http = await w2n.httpBase();
      const port = new URL(http).port;
      await client.query(`INSERT INTO users VALUES (1, '${SECRET_VALUE}')`);
      // Over NATS's max_payload: fails, and is retried with backoff.
      await client.query(`INSERT INTO attachments VALUES (1, repeat('x', 10000))`);

      // No token → 401 on the API; the right token → 200. Probes open; /metrics protected as asked.
      for (const path of ['/api/overview', '/api/messages?state=delivered', '/metrics']) {
        assert.equal((await fetch(`${http}${path}`)).status, 401, path);
        assert.equal(
          (
            await fetch(`${http}${path}`, {
              headers: { authorization: 'Bearer 7c2e9a41b6d85f03e1a7c9b24d6f8e11' },
            })
          ).status,
          401,
          path,
        );
        assert.equal((await fetch(`${http}${path}`, { headers: bearer })).status, 200, path);
      }
      assert.equal((await fetch(`${http}/healthz`)).status, 200);
      await waitFor(async () => (await fetch(`${http}/readyz`)).status === 200 || undefined, {
        what: '/readyz 200 without a token',
        timeoutMs: 30_000,
      });
      assert.equal((await fetch(`${http}/`)).status, 200, 'the page itself holds no data');

      // A foreign Host (DNS rebinding) is refused, token or not.
      assert.equal(await statusWithHost(Number(port), '/api/overview', 'rebind.attacker.example'), 421);
      assert.equal(await statusWithHost(Number(port), '/healthz', `rebind.attacker.example:${port}`), 421);
      assert.equal(await statusWithHost(Number(port), '/api/overview', `localhost:${port}`), 200);

      // Row values: not in the API.
      const delivered = await waitFor(
        async () =>
          (await getJson<MessageView[]>(`${http}/api/messages?state=delivered`)).find(
            (m) => m.table === 'public.users',
          ),
        { what: 'the users row delivered', timeoutMs: 30_000 },
      );
      const detail = await getJson<MessageDetail>(`${http}/api/messages/${encodeURIComponent(delivered.id)}`);
      assert.ok(!JSON.stringify(detail).includes(SECRET_VALUE), 'the row value is not in the API');
      assert.match(detail.body, /"record_pks":\["1"\]/, 'the key stays');

      // A cross-site POST (foreign Origin, text/plain, no token) is refused and retries nothing.
      const due = await waitFor(
        async () => {
          const [m] = await getJson<MessageView[]>(`${http}/api/messages?state=failing`);
          return m && m.deliver_count >= 2 && Date.parse(m.next_attempt_at!) - Date.now() > 4000
            ? m
            : undefined;
        },
        { what: 'a failing message whose next attempt is seconds away', timeoutMs: 60_000 },
      );
      const crossSite = await fetch(`${http}/api/messages/retry`, {
        method: 'POST',
        headers: { origin: 'https://attacker.example', 'content-type': 'text/plain' },
        body: JSON.stringify({ id: due.id }),
      });
      assert.ok(crossSite.status === 401 || crossSite.status === 403, `refused (${crossSite.status})`);
      const sameOriginNoToken = await fetch(`${http}/api/messages/retry`, {
        method: 'POST',
        headers: { origin: http, 'content-type': 'application/json' },
        body: JSON.stringify({ id: due.id }),
      });
      assert.equal(sameOriginNoToken.status, 401);
      const [after] = await getJson<MessageView[]>(`${http}/api/messages?state=failing`);
      assert.ok(Date.now() < Date.parse(due.next_attempt_at!), 'checked before the next attempt was due');
      assert.equal(after!.deliver_count, due.deliver_count, 'nothing was retried');
      // The control: the token's POST does retry at once, so the check above could have failed.
      assert.equal(
        (
          await fetch(`${http}/api/messages/retry`, {
            method: 'POST',
            headers: { ...bearer, 'content-type': 'application/json' },
            body: JSON.stringify({ id: due.id }),
          })
        ).status,
        200,
      );
      await waitFor(
        async () =>
          ((await getJson<MessageView[]>(`${http}/api/messages?state=failing`))[0]?.deliver_count ?? 0) >
            due.deliver_count || undefined,
        { what: 'the retry with the token', timeoutMs: 10_000 },
      );
      assert.ok(
        Date.now() < Date.parse(due.next_attempt_at!),
        'the retry came before it was due: the token retried it',
      );

      // The console asks for the token, refuses a wrong one, then works; row values hidden there too.
      await page.goto(`${http}/`);
      await page.waitForSelector('#token-dialog:not(.hidden)', { timeout: 10_000 });
      await page.fill('#token-input', 'not-the-token-0000000000000000');
      await page.click('#token-submit');
      await page.waitForFunction(
        () => /not accepted/.test(document.getElementById('token-error')?.textContent ?? ''),
        undefined,
        { timeout: 10_000 },
      );
      await page.fill('#token-input', TOKEN);
      await page.click('#token-submit');
      await page.waitForSelector('#token-dialog.hidden', { state: 'attached', timeout: 10_000 });
      await page.waitForFunction(
        () =>
          document.getElementById('ready')?.textContent === 'Ready' ||
          document.getElementById('ready')?.textContent === 'Not ready',
        undefined,
        { timeout: 10_000 },
      );
      await page.click('.tab[data-state="delivered"]');
      const row = page.locator(`tr.message-row[data-id="${delivered.id}"]`);
      await row.waitFor({ timeout: 10_000 });
      await row.click();
      await page.waitForFunction(
        () => /record_pks/.test(document.getElementById('detail-body')?.textContent ?? ''),
        undefined,
        { timeout: 10_000 },
      );
      const shown = (await page.locator('#detail-body').textContent()) ?? '';
      assert.ok(!shown.includes(SECRET_VALUE), 'the row value is not in the console');
      assert.match(shown, /hidden \(--http-hide-row-data\)/);
      // The token is kept for the tab: a reload does not ask again.
      await page.reload();
      await page.waitForFunction(
        () =>
          document.getElementById('ready')?.textContent === 'Ready' ||
          document.getElementById('ready')?.textContent === 'Not ready',
        undefined,
        { timeout: 10_000 },
      );
      assert.equal(
        await page.locator('#token-dialog.hidden').count(),
        1,
        'no second question within the tab',
      );
      assert.deepEqual(errors, [], 'no script errors');

      // wal2nats status reads the API with the token, and says what is missing without it.
      const withoutToken = await promisify(execFile)(process.execPath, [
        CLI_PATH,
        'status',
        '--http-url',
        http,
        '--json',
      ]).then(
        () => null,
        (e: { code: number; stderr: string }) => e,
      );
      assert.equal(withoutToken?.code, 1);
      assert.match(withoutToken!.stderr, /needs the HTTP token/);
      const status = await promisify(execFile)(
        process.execPath,
        [CLI_PATH, 'status', '--http-url', http, '--json'],
        { env: { ...process.env, WAL2NATS_HTTP_TOKEN_FILE: tokenFile } },
      ).catch((e: { stdout: string }) => e); // exit 1: a message is failing
      assert.equal((JSON.parse(status.stdout) as { failing: MessageView[] }).failing[0]?.id, due.id);

      // The token is never in the overview, an error, or the log; no row value in the log at info.
      const overview = await (await fetch(`${http}/api/overview`, { headers: bearer })).text();
      assert.ok(!overview.includes(TOKEN));
      assert.match(overview, /"token_required":true/);
      const refusal = await (
        await fetch(`${http}/api/overview`, { headers: { authorization: `Bearer ${TOKEN}0` } })
      ).text();
      assert.ok(!refusal.includes(TOKEN));
      assert.equal(await w2n.stop(), 0);
      const log = w2n.lines.map((l) => JSON.stringify(l)).join('\n');
      assert.ok(log.length > 0 && !log.includes(TOKEN), 'the token is not in the log');
      assert.ok(!w2n.lines.some((l) => l.level === 'debug'), 'the process logged at info');
      assert.ok(!log.includes(SECRET_VALUE), 'no row value in the log at info');
    } finally {
      await page.close();
      w2n.kill();
      await client.end();
    }
  });
});

describe('the HTTP port beyond loopback', () => {
  it('refuses to start without a token (exit 2), and with --http-allow-anonymous starts but warns', async () => {
    const url = await pg.createDatabase('exposed');
    const refused = new Wal2NatsProcess(
      runArgs({
        postgresUrl: url,
        natsUrl: nats.url,
        extra: ['--slot', 'exposed', '--http-host', '0.0.0.0'],
      }),
    );
    assert.equal(await refused.exited, 2);
    assert.match(
      refused.lines.map((l) => JSON.stringify(l)).join('\n') + refused.stdout.join(''),
      /--http-host.*reachable from other machines/,
    );

    const open = new Wal2NatsProcess(
      runArgs({
        postgresUrl: url,
        natsUrl: nats.url,
        extra: ['--slot', 'exposed', '--http-host', '0.0.0.0', '--http-allow-anonymous'],
      }),
    );
    try {
      await open.waitForLog(
        (l) => l.level === 'warn' && /open to the network without a token/.test(String(l.msg)),
        'the warning',
      );
      const http = await open.httpBase();
      const overview = await getJson<{ http: { exposed_without_token: boolean; token_required: boolean } }>(
        `${http}/api/overview`,
        {},
      );
      assert.deepEqual([overview.http.exposed_without_token, overview.http.token_required], [true, false]);
      assert.equal((await fetch(`${http}/metrics`)).status, 200);
      const page = await browser.newPage();
      try {
        await page.goto(`${http}/`);
        await page.waitForSelector('#exposed-banner:not(.hidden)', { timeout: 10_000 });
        assert.match((await page.locator('#exposed-banner').textContent()) ?? '', /without a token/);
      } finally {
        await page.close();
      }
      assert.equal(await open.stop(), 0);
    } finally {
      open.kill();
    }
  });
});

/** GET with a Host header of our choosing (fetch sends the URL's), with the token. */
function statusWithHost(port: number, path: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host, ...bearer } }, (res) => {
      res.resume();
      resolve(res.statusCode!);
    });
    req.on('error', reject);
    req.end();
  });
}
