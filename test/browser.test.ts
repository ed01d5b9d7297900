/**
 * The live ring page in a real browser: headless Chromium (Debian's package,
 * driven by playwright-core) draws a ring of three, and marks a killed server
 * gone. Skipped, with the reason, where Chromium is not installed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createTestCluster } from '../src/node/cluster.js';
import { putItem } from '../src/client/client.js';
import { tempDir } from './helpers.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const unavailable = existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`;

test('the ring page draws three servers, and marks a killed one gone', { skip: unavailable }, async (t) => {
  const { chromium } = await import('playwright-core');
  const cluster = await createTestCluster(3, { heartbeatMs: 200 });
  t.after(() => cluster.stop());
  const [a, b] = cluster.addresses as [string, string];
  await putItem(a, 'index.html', '<h1>hello</h1>');
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
  t.after(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1100, height: 760 } });
  await page.goto(`http://${a}/_ring`);
  await page.waitForFunction('document.querySelectorAll(\'.server[data-status="alive"]\').length === 3', undefined, { timeout: 10_000 });
  const drawn = await Promise.all((await page.locator('.server').all()).map((server) => server.getAttribute('data-address')));
  assert.deepEqual(new Set(drawn), new Set(cluster.addresses));
  await page.waitForFunction('document.body.textContent.includes("1 items")', undefined, { timeout: 10_000 });

  await cluster.nodes[1]!.stop();
  await page.waitForSelector(`.server[data-status="gone"][data-address="${b}"]`, { timeout: 10_000 });
  assert.equal(await page.locator('.server[data-status="alive"]').count(), 2);
  const shot = join(await tempDir(t), 'ring-page.png');
  await page.screenshot({ path: shot });
  assert.ok(existsSync(shot));
  t.diagnostic(`screenshot: ${shot}`);
});
