/**
 * The console (GET /) driven in a real headless Chromium (Debian's `chromium` with
 * playwright-core): it loads with no script errors and nothing from other origins, shows the
 * numbers at a glance under load, shows a failing message (a row over NATS's max_payload) with
 * its deliver count and last error, opens it to subject, headers and body, and "Retry now"
 * makes the next attempt happen at once.
 *
 * WAL2NATS_SCREENSHOTS=docs also writes docs/console.png and docs/console-message.png.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import type { MessageView } from '@wal2nats/runtime';
import { startNats, startPostgres, waitFor, type NatsServer, type PgServer } from './harness/index.js';
import { launchChromium } from './support/chromium.js';
import { runArgs, Wal2NatsProcess } from './support/wal2nats-process.js';

let pg: PgServer;
let nats: NatsServer;
let browser: Browser;

before(async () => {
  [pg, nats, browser] = await Promise.all([
    startPostgres(),
    startNats({ config: 'max_payload: 4096' }),
    launchChromium(),
  ]);
});

after(async () => {
  await browser?.close();
  await Promise.all([pg?.dispose(), nats?.dispose()]);
});

async function failingMessages(http: string): Promise<MessageView[]> {
  return (await (await fetch(`${http}/api/messages?state=failing`)).json()) as MessageView[];
}

/** The little of the DOM that the functions run in the page use (the tests' tsconfig has no DOM lib). */
declare const document: {
  getElementById(id: string): { textContent: string | null } | null;
  querySelector(
    selector: string,
  ): { textContent: string | null; getBoundingClientRect(): { bottom: number } } | null;
  querySelectorAll(
    selector: string,
  ): ArrayLike<{ textContent: string | null }> & Iterable<{ textContent: string | null }>;
};

const text = async (page: Page, selector: string): Promise<string> =>
  (await page.locator(selector).first().textContent()) ?? '';

describe('the console', () => {
  it('shows throughput and a failing message with its deliver count and last error, and retries it now', async () => {
    const url = await pg.createDatabase('shop');
    const client = await pg.connect('shop');
    await client.query(`CREATE TABLE orders (id serial PRIMARY KEY, total numeric(10,2), status text);
      CREATE TABLE inventory (sku text PRIMARY KEY, qty int);
      CREATE SCHEMA "Sales Team"; CREATE TABLE "Sales Team"."order.items" (id serial PRIMARY KEY, order_id int, qty int);
      CREATE TABLE attachments (id int PRIMARY KEY, body text);
      INSERT INTO inventory SELECT 'SKU-' || g, 1000 FROM generate_series(1, 20) g;`);
    const w2n = new Wal2NatsProcess(
      runArgs({
        postgresUrl: url,
        natsUrl: nats.url,
        extra: ['--slot', 'console', '--max-backoff', '1m', '--log-level', 'info'],
      }),
    );
    // A steady load once the slot streams, until the test ends (at most 3 minutes).
    let loading = true;
    const load = (async () => {
      await w2n.streaming();
      const deadline = Date.now() + 180_000;
      for (let i = 1; loading && Date.now() < deadline; i++) {
        await client.query(`BEGIN;
          INSERT INTO orders (total, status) VALUES (${(i * 7.31) % 500}, 'pending');
          INSERT INTO "Sales Team"."order.items" (order_id, qty) VALUES (${i}, ${1 + (i % 3)});
          UPDATE inventory SET qty = qty - 1 WHERE sku = 'SKU-${(i % 20) + 1}';
          ${i % 4 === 0 ? `UPDATE orders SET status = 'paid' WHERE id = ${i - 2};` : ''}
          COMMIT;`);
        if (i === 50) await client.query(`INSERT INTO attachments VALUES (1, repeat('x', 10000))`);
      }
    })();
    const page = await browser.newPage({ viewport: { width: 1500, height: 1000 }, colorScheme: 'dark' });
    const errors: string[] = [];
    const foreign: string[] = [];
    page.on('pageerror', (error) => errors.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(`console error: ${message.text()}`);
    });
    try {
      await w2n.streaming();
      const http = await w2n.httpBase();
      page.on('request', (request) => {
        if (!request.url().startsWith(http) && !request.url().startsWith('data:'))
          foreign.push(request.url());
      });
      await page.goto(`${http}/`);

      // At a glance: live numbers and charts.
      await page.waitForFunction(
        () =>
          Number((document.getElementById('v-throughput')?.textContent ?? '0').replace(/[^0-9.]/g, '')) > 0,
        undefined,
        { timeout: 30_000 },
      );
      await page.waitForSelector('#c-throughput path.line', { timeout: 10_000 });
      assert.equal(await text(page, '#ready'), 'Ready');

      // The failing message: the tab opens on it, with its deliver count and last error.
      const failing = await waitFor(async () => (await failingMessages(http))[0], {
        what: 'a failing message in the API',
        timeoutMs: 30_000,
      });
      await page.waitForFunction(() => document.getElementById('n-failing')?.textContent === '1', undefined, {
        timeout: 10_000,
      });
      assert.equal(await page.getAttribute('.tab[data-state="failing"]', 'aria-selected'), 'true');
      const row = page.locator(`tr.message-row[data-id="${failing.id}"]`);
      await row.waitFor({ timeout: 10_000 });
      assert.equal(await row.locator('.cell-table').textContent(), 'public.attachments');
      assert.ok(Number(await row.locator('.deliver-count').textContent()) >= 1);
      assert.match((await row.locator('.last-error').textContent()) ?? '', /max_payload/);
      assert.match(await text(page, '#banner'), /1 table is failing/);

      if (process.env.WAL2NATS_SCREENSHOTS) {
        // Let the charts fill a little under load, then take the picture for docs/.
        await waitFor(
          async () =>
            ((await (await fetch(`${http}/api/overview`)).json()) as { history: unknown[] }).history.length >=
              20 || undefined,
          { what: 'some history', timeoutMs: 90_000, intervalMs: 500 },
        );
        await page.waitForFunction(
          () => document.querySelectorAll('#c-lag path.line').length > 0,
          undefined,
          { timeout: 10_000 },
        );
        mkdirSync(process.env.WAL2NATS_SCREENSHOTS, { recursive: true });
        const bottom = await page.evaluate(() =>
          Math.ceil(document.querySelector('main')!.getBoundingClientRect().bottom),
        );
        await page.screenshot({
          path: join(process.env.WAL2NATS_SCREENSHOTS, 'console.png'),
          clip: { x: 0, y: 0, width: 1500, height: Math.min(1000, bottom) },
        });
      }

      // It opens to subject, headers, body, deliver count and last error.
      await row.click();
      await page.waitForSelector('#drawer:not(.hidden)');
      await page.waitForFunction(
        (id) => document.querySelector('#detail-headers')?.textContent?.includes(id),
        failing.id,
        { timeout: 10_000 },
      );
      assert.equal(await text(page, '#detail-subject'), 'sequin.changes.shop.public.attachments.insert');
      assert.match(await text(page, '#detail-headers'), /Nats-Msg-Id/);
      assert.match(await text(page, '#detail-error'), /max_payload/);
      const body = await text(page, '#detail-body');
      assert.match(body, /"record": \{/);
      assert.match(body, /x{1000}/);
      assert.match(body, new RegExp(`"idempotency_key": "${failing.id}"`));

      // Retry now: once the next attempt is seconds away, press and see it happen at once.
      const due = await waitFor(
        async () => {
          const [m] = await failingMessages(http);
          return m && m.deliver_count >= 3 && Date.parse(m.next_attempt_at!) - Date.now() > 2500
            ? m
            : undefined;
        },
        { what: 'a failing message whose next attempt is seconds away', timeoutMs: 30_000 },
      );
      await page.waitForFunction(
        (n) => Number(document.getElementById('detail-deliver-count')?.textContent) >= n,
        due.deliver_count,
        { timeout: 10_000 },
      );
      const shown = Number(await text(page, '#detail-deliver-count'));
      if (process.env.WAL2NATS_SCREENSHOTS)
        await page.screenshot({ path: join(process.env.WAL2NATS_SCREENSHOTS, 'console-message.png') });
      await page.click('#detail-retry');
      await page.waitForFunction(
        (n) => Number(document.getElementById('detail-deliver-count')?.textContent) > n,
        shown,
        { timeout: 10_000 },
      );
      assert.ok(
        Date.now() < Date.parse(due.next_attempt_at!),
        'the console showed a new attempt before it was due: retry now worked',
      );
      await page.waitForSelector('.toast >> text=Retrying public.attachments now', { timeout: 5_000 });

      // The other tabs: delivered messages of the tables that flow.
      await page.keyboard.press('Escape');
      await page.waitForSelector('#drawer.hidden', { state: 'attached' });
      await page.click('.tab[data-state="delivered"]');
      await page.waitForFunction(
        () =>
          [...document.querySelectorAll('tr.message-row .cell-table')].some(
            (c) => c.textContent === 'public.orders',
          ),
        undefined,
        { timeout: 10_000 },
      );
      await page.click('.tab[data-state="inflight"]');
      await page.waitForSelector('.tab[data-state="inflight"][aria-selected="true"]');

      assert.deepEqual(errors, [], 'no script errors');
      assert.deepEqual(foreign, [], 'nothing is fetched from elsewhere');
      loading = false;
      await load;
      assert.equal(await w2n.stop(), 0);
    } finally {
      loading = false;
      await load.catch(() => {});
      await page.close();
      w2n.kill();
      await client.end();
    }
  });
});
