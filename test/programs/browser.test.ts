/**
 * The live ring page in a real browser: headless Chromium (Debian's package,
 * driven by playwright-core). The page shows the membership of the server it
 * was opened from (a paused member turns suspect, then dead) and the figures
 * that server reports, and fits a desktop window and a phone. Layout and
 * figures are checked on a stand-in server that answers a fixed `/_ring`, so
 * any ring can be drawn. Skipped, with the reason, where Chromium is not installed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { ringPage } from '../../src/http/ring-page.js';
import type { MemberReport, RingReport } from '../../src/http/ring-model.js';
import { at, tempDir } from '../helpers.js';
import { killAll, startServer } from '../processes.js';

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
const SIZES = [
  { name: 'desktop', width: 1280, height: 800 },
  { name: 'phone', width: 390, height: 844 },
] as const;

async function launch(t: { after(fn: () => Promise<void>): void }): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
  t.after(() => browser.close());
  return browser;
}

/** Where screenshots go: RING_PAGE_SHOTS keeps them, to look at; otherwise a directory removed after the test. */
async function shotsDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const kept = process.env.RING_PAGE_SHOTS;
  if (kept === undefined) return tempDir(t);
  await mkdir(kept, { recursive: true });
  return kept;
}

/** A stand-in server: the ring page, a fixed `/_ring` report, and traffic around its ring on `/_events`. */
async function standIn(t: { after(fn: () => Promise<void>): void }, report: RingReport): Promise<string> {
  const ring = report.ring ?? [];
  const types = ['FORWARD_PUT', 'FORWARD_GET', 'PING', 'UPDATE', 'DIGEST'];
  const server = createServer((req, res) => {
    if (req.url === '/_ring' && (req.headers.accept ?? '').includes('text/html')) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(ringPage(report.self));
    } else if (req.url === '/_ring') {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(report));
    } else if (req.url === '/_events') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
      let n = 0;
      const timer = setInterval(() => {
        const from = ring[n % ring.length]!;
        const to = ring[(n + 1) % ring.length]!;
        res.write(`data: ${JSON.stringify({ type: types[n++ % types.length], from, to })}\n\n`);
      }, 60);
      req.on('close', () => clearInterval(timer));
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return `127.0.0.1:${(server.address() as { port: number }).port}`;
}

function member(port: number, status: MemberReport['status'], figures: Partial<MemberReport> = {}): MemberReport {
  return { address: `127.0.0.1:${port}`, status, incarnation: 0, lastHeardMsAgo: status === 'alive' ? 300 : 4200, ...figures };
}

/** Waits until the drawing fits a window of `width` and nodes have stopped moving to their places. */
async function settled(page: Page, width: number): Promise<void> {
  await page.waitForFunction(`document.getElementById('ring').getAttribute('width') <= ${width} && document.getAnimations().length === 0`);
}

/** No sideways scroll, and every member drawn or listed inside the window's width. */
interface Fit {
  scroll: number;
  inner: number;
  servers: Array<{ address: string; left: number; right: number; width: number; height: number }>;
  rows: number;
}

/** Measured in the page at one moment (it redraws every second): widths, where each member is, the table's rows. */
const FIT = `(() => ({
  scroll: document.documentElement.scrollWidth,
  inner: window.innerWidth,
  servers: [...document.querySelectorAll('.server')].map((server) => {
    const box = server.getBoundingClientRect();
    return { address: server.dataset.address, left: box.left, right: box.right, width: box.width, height: box.height };
  }),
  rows: document.querySelectorAll('tr.member').length,
}))()`;

async function assertFits(page: Page, members: number, what: string): Promise<void> {
  const fit = await page.evaluate<Fit>(FIT);
  assert.ok(fit.scroll <= fit.inner, `${what}: the page is ${fit.scroll} px wide in a ${fit.inner} px window`);
  assert.equal(fit.servers.length, members, `${what}: one .server per member`);
  for (const server of fit.servers) {
    assert.ok(server.width > 0 && server.height > 0, `${what}: ${server.address} is visible`);
    assert.ok(
      server.left >= 0 && server.right <= fit.inner + 0.5,
      `${what}: ${server.address} (x ${server.left}..${server.right}) is inside the window`,
    );
  }
  assert.equal(fit.rows, members, `${what}: a row per member`);
}

/** Measured in the page: the drawing's scale, its smallest label font, the room between neighbours, overlapping labels. */
const LEGIBILITY = `(() => {
    const svg = document.getElementById('ring');
    const scale = svg.getBoundingClientRect().width / Number(svg.getAttribute('viewBox').split(' ')[2]);
    const arc = document.getElementById('arc').getBoundingClientRect();
    const centre = [arc.x + arc.width / 2, arc.y + arc.height / 2];
    const nodes = [...document.querySelectorAll('g.server')].map((g) => {
      const circle = g.querySelector('circle').getBoundingClientRect();
      return { x: circle.x + circle.width / 2, y: circle.y + circle.height / 2, r: circle.width / 2 };
    });
    const fonts = [...document.querySelectorAll('g.server text')].map((text) => parseFloat(getComputedStyle(text).fontSize));
    // Room between neighbours where their labels start, just outside the nodes.
    const room = nodes.map((a, i) => {
      const b = nodes[(i + 1) % nodes.length];
      const radius = Math.hypot(a.x - centre[0], a.y - centre[1]);
      return (Math.hypot(a.x - b.x, a.y - b.y) * (radius + a.r + 6)) / radius;
    });
    const boxes = [...document.querySelectorAll('g.server text:not(.label)')].map((text) => ({
      owner: text.parentElement.dataset.address,
      box: text.getBoundingClientRect(),
    }));
    const overlaps = boxes.flatMap((a, i) =>
      boxes
        .slice(i + 1)
        .filter(
          (b) =>
            a.owner !== b.owner &&
            a.box.left < b.box.right &&
            b.box.left < a.box.right &&
            a.box.top < b.box.bottom &&
            b.box.top < a.box.bottom,
        )
        .map((b) => a.owner + ' and ' + b.owner),
    );
    return { scale, smallestFont: Math.min(...fonts), tightest: nodes.length > 1 ? Math.min(...room) : 1e9, overlaps };
})()`;

/** Labels on the circle are at least 12 px, unscaled, and neighbours have room for them. */
async function assertLegibleCircle(page: Page, what: string): Promise<void> {
  const facts = await page.evaluate<{ scale: number; smallestFont: number; tightest: number; overlaps: string[] }>(LEGIBILITY);
  assert.ok(Math.abs(facts.scale - 1) < 0.01, `${what}: the drawing is not scaled (${facts.scale})`);
  assert.ok(facts.smallestFont >= 12, `${what}: labels of ${facts.smallestFont} px`);
  assert.ok(facts.tightest >= 14, `${what}: neighbouring labels ${facts.tightest.toFixed(1)} px apart`);
  assert.deepEqual(facts.overlaps, [], `${what}: no labels overlap`);
}

/**
 * At the page's window size: waits for the drawing to settle, asserts every member fits and the circle is legible,
 * then keeps a screenshot (ring-of-MEMBERS-SIZE.png in `shots`) to look at.
 */
async function assertLayout(
  page: Page,
  size: (typeof SIZES)[number],
  { members, what, shots, fullPage = true }: { members: number; what: string; shots: string; fullPage?: boolean },
): Promise<void> {
  await settled(page, size.width);
  await assertFits(page, members, `${what} on a ${size.name}`);
  await assertLegibleCircle(page, `${what} on a ${size.name}`);
  await page.screenshot({ path: join(shots, `ring-of-${members}-${size.name}.png`), fullPage });
}

async function rowText(page: Page, address: string): Promise<string[]> {
  return page.locator(`tr.member[data-address="${address}"] td`).allInnerTexts();
}

test('the ring page shows the membership of its server: a paused member turns suspect, then dead', { skip: unavailable }, async (t) => {
  const flags = ['--listen', '127.0.0.1:0', '--memory', '--heartbeat', '0.3', '--suspicion-timeout', '3'];
  const a = await startServer(flags);
  const b = await startServer([...flags, ...at(a.address)]);
  const c = await startServer([...flags, ...at(b.address)]);
  t.after(async () => {
    c.process.kill('SIGCONT');
    await killAll();
  });
  const browser = await launch(t);
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const asked = new Set<string>();
  page.on('request', (request) => asked.add(new URL(request.url()).host));
  await page.goto(`http://${a.address}/_ring`);
  await page.waitForFunction('document.querySelectorAll(\'g.server[data-status="alive"]\').length === 3', undefined, { timeout: 10_000 });
  const drawn = await Promise.all((await page.locator('.server').all()).map((server) => server.getAttribute('data-address')));
  assert.deepEqual(new Set(drawn), new Set([a.address, b.address, c.address]));
  assert.equal(await page.locator('g.server[data-self="true"]').getAttribute('data-address'), a.address);
  await page.waitForSelector('#log li'); // this server's traffic, from /_events

  c.process.kill('SIGSTOP');
  await page.waitForSelector(`g.server[data-status="suspect"][data-address="${c.address}"]`, { timeout: 10_000 });
  await page.waitForSelector(`.server[data-status="dead"][data-address="${c.address}"]`, { timeout: 10_000 });
  // Dead members leave the circle for the list beside it; the others stay alive on it.
  assert.equal(await page.locator(`g.server[data-address="${c.address}"]`).count(), 0);
  assert.equal(await page.locator('g.server[data-status="alive"]').count(), 2);
  assert.deepEqual([...asked], [a.address], 'the page asks only the server it came from');

  const shots = await shotsDir(t);
  for (const size of SIZES) {
    await page.setViewportSize(size);
    await assertLayout(page, size, { members: 3, what: 'three servers', shots });
  }
  t.diagnostic(`screenshots in ${shots}`);
});

test('with --read-token, the page shows the ring once the browser has the token', { skip: unavailable }, async (t) => {
  const flags = ['--listen', '127.0.0.1:0', '--memory', '--heartbeat', '0.3', '--read-token', 'reader-secret'];
  const a = await startServer(flags);
  const b = await startServer([...flags, ...at(a.address)]);
  t.after(() => Promise.all([a.kill(), b.kill()]).then(() => undefined));
  const browser = await launch(t);
  // What a person types at the browser's prompt: any user name, the token as the password.
  const context = await browser.newContext({ httpCredentials: { username: 'reader', password: 'reader-secret' } });
  const page = await context.newPage();
  await page.goto(`http://${a.address}/_ring`);
  await page.waitForFunction('document.querySelectorAll(\'g.server[data-status="alive"]\').length === 2', undefined, { timeout: 10_000 });
  await page.waitForSelector('#log li');
  assert.equal(await page.locator('#trouble').innerText(), '');
});

test('the ring page shows the figures its server gathered, and "–" where there are none', { skip: unavailable }, async (t) => {
  const base = 4101;
  const report: RingReport = {
    self: `127.0.0.1:${base}`,
    uptimeSeconds: 5400,
    incarnation: 0,
    ring: [base, base + 1, base + 2, base + 3].map((port) => `127.0.0.1:${port}`),
    members: [
      member(base, 'alive', { version: '1.4.0', items: 1204, bytes: 18_400_000, inSync: true, lastHeardMsAgo: undefined }),
      member(base + 1, 'alive', { version: '1.4.0', items: 1204, bytes: 18_400_000, inSync: true }),
      member(base + 2, 'alive', { version: '1.3.2', items: 1187, bytes: 18_100_000, inSync: false }),
      member(base + 3, 'suspect'),
      member(base + 4, 'dead', { lastHeardMsAgo: 95_000 }),
    ],
    items: 1204,
    bytes: 18_400_000,
    digest: '0123456789abcdef',
    version: '1.4.0',
    health: { ok: true },
  };
  const address = await standIn(t, report);
  const browser = await launch(t);
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await page.goto(`http://${address}/_ring`);
  await page.waitForSelector('tr.member[data-address="127.0.0.1:4105"]');
  await settled(page, 1280);
  assert.deepEqual(await rowText(page, '127.0.0.1:4101'), ['127.0.0.1:4101', 'alive', '1,204', 'yes', '1.4.0', 'here']);
  assert.deepEqual(await rowText(page, '127.0.0.1:4103'), ['127.0.0.1:4103', 'alive', '1,187', 'no', '1.3.2', '0.3 s']);
  assert.deepEqual(await rowText(page, '127.0.0.1:4104'), ['127.0.0.1:4104', 'suspect', '–', '–', '–', '4.2 s']);
  assert.deepEqual(await rowText(page, '127.0.0.1:4105'), ['127.0.0.1:4105', 'dead', '–', '–', '–', '95 s']);
  assert.equal(await page.locator('#health').innerText(), 'healthy');
  assert.match(await page.locator('#summary').innerText(), /5 members: 3 alive, 1 suspect, 1 dead/);
  assert.equal(await page.locator('g.server[data-address="127.0.0.1:4103"] text.count').textContent(), '1,187 items');
  await page.waitForSelector('circle.dot'); // the traffic moves round the ring

  const shots = await shotsDir(t);
  for (const size of SIZES) {
    await page.setViewportSize(size);
    await assertLayout(page, size, { members: 5, what: 'five servers', shots, fullPage: size.name === 'phone' });
  }
  t.diagnostic(`screenshots in ${shots}`);
});

test('the ring page stays legible with 32 members, on a desktop and on a phone', { skip: unavailable }, async (t) => {
  const statuses: Array<MemberReport['status']> = [
    ...Array<'alive'>(26).fill('alive'),
    'suspect',
    'suspect',
    'dead',
    'dead',
    'dead',
    'left',
  ];
  const members = statuses.map((status, i) =>
    member(4201 + i, status, i % 3 === 2 ? {} : { version: '1.4.0', items: 5000 + i, bytes: 1e8, inSync: i % 7 !== 3 }),
  );
  const report: RingReport = {
    self: members[0]!.address,
    uptimeSeconds: 86_400 * 3,
    ring: members.filter((m) => m.status === 'alive' || m.status === 'suspect').map((m) => m.address),
    members,
    items: 5000,
    bytes: 1e8,
    digest: '0123456789abcdef',
  };
  const address = await standIn(t, report);
  const browser = await launch(t);
  const shots = await shotsDir(t);
  for (const size of SIZES) {
    const page = await browser.newPage({ viewport: size });
    await page.goto(`http://${address}/_ring`);
    await page.waitForFunction('document.querySelectorAll("tr.member").length === 32');
    await assertLayout(page, size, { members: 32, what: '32 servers', shots });
    assert.equal(await page.locator('g.server').count(), 28, 'alive and suspect members on the circle');
    assert.equal(await page.locator('#outside .server').count(), 4, 'dead and left members beside it');
    await page.close();
  }
  t.diagnostic(`screenshots in ${shots}`);
});
