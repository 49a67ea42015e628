// The dashboard in headless Chromium (Debian's package, driven by
// playwright-core), against a real `billabong serve` that
// scripts/browser-test.sh started. Asserts:
//   - the page loads at desktop (1366×768) and phone (390×844) widths and
//     every chart has data,
//   - a live update arrives: after `PRODUCE_MORE` (a shell script producing
//     more records) runs, the page applies new live updates and its merged
//     views cover more offsets,
//   - no console error, page error, failed or >= 400 request, and no request
//     to anything but the server (the page must work offline),
//   - on the phone, nothing is wider than the screen.
// Screenshots go to OUT_DIR (target/browser/). Exit 1 with the reasons on failure.
//
// Environment: DASHBOARD_URL, CHROMIUM, PRODUCE_MORE, OUT_DIR.

import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const url = process.env.DASHBOARD_URL;
const outDir = process.env.OUT_DIR;
const produceMore = process.env.PRODUCE_MORE;
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
if (!url || !outDir || !produceMore) {
  console.error('DASHBOARD_URL, OUT_DIR and PRODUCE_MORE must be set');
  process.exit(2);
}
const origin = new URL(url).origin;
mkdirSync(outDir, { recursive: true });

const problems = [];
const started = Date.now();
const log = (message) => console.log(`[browser ${((Date.now() - started) / 1000).toFixed(1)} s] ${message}`);

// Charts that may be empty, with the reason they must then show.
const MAY_BE_EMPTY = {};

function watch(page, label) {
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') {
      problems.push(`${label}: console ${m.type()}: ${m.text()}`);
    }
  });
  page.on('pageerror', (e) => problems.push(`${label}: page error: ${e.message}`));
  page.on('requestfailed', (r) => {
    // EventSource and polling requests cut by closing the page are not failures.
    if (!page.isClosed()) {
      problems.push(`${label}: request failed: ${r.url()} ${r.failure()?.errorText}`);
    }
  });
  page.on('response', (r) => {
    if (r.status() >= 400) {
      problems.push(`${label}: HTTP ${r.status()} for ${r.url()}`);
    }
  });
}

async function newContext(browser, options) {
  const context = await browser.newContext(options);
  // Offline: anything not from the server is refused and reported.
  await context.route('**/*', (route) => {
    const requested = route.request().url();
    if (requested.startsWith(`${origin}/`) || requested.startsWith('data:')) {
      return route.continue();
    }
    problems.push(`request leaving the server: ${requested}`);
    return route.abort();
  });
  return context;
}

async function chartStates(page) {
  return page.$$eval('[data-chart]', (els) => els.map((el) => ({
    name: el.dataset.chart, points: Number(el.dataset.points || 0), empty: el.dataset.empty || null,
  })));
}

// Waits until every chart has data (or is allowed to be empty and says why).
async function waitForCharts(page, label, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let states = [];
  while (Date.now() < deadline) {
    states = await chartStates(page);
    const missing = states.filter((s) => s.points === 0 && !(MAY_BE_EMPTY[s.name]?.test(s.empty || '')));
    if (states.length > 0 && missing.length === 0) {
      return states;
    }
    await page.waitForTimeout(500);
  }
  const missing = states.filter((s) => s.points === 0).map((s) => `${s.name} (${s.empty})`);
  throw new Error(`${label}: charts without data after ${timeoutMs / 1000} s: ${missing.join(', ')}`);
}

const counters = (page) => page.evaluate(() => ({
  liveUpdates: Number(document.body.dataset.liveUpdates || 0),
  coveredOffsets: Number(document.body.dataset.coveredOffsets || 0),
  mode: document.body.dataset.liveMode,
}));

async function desktop(browser) {
  const context = await newContext(browser, { viewport: { width: 1366, height: 768 } });
  const page = await context.newPage();
  watch(page, 'desktop');
  await page.goto(url, { waitUntil: 'load' });
  await page.waitForSelector('body[data-loaded="true"]', { timeout: 30000 });
  const states = await waitForCharts(page, 'desktop', 60000);
  log(`desktop: every chart has data: ${states.map((s) => `${s.name}=${s.points}`).join(' ')}`);
  for (const s of states.filter((x) => x.points === 0)) {
    log(`desktop: ${s.name} is empty: ${s.empty}`);
  }
  const before = await counters(page);
  log(`desktop: live mode ${before.mode}; producing more records`);
  execFileSync('bash', [produceMore], { stdio: 'inherit' });
  const deadline = Date.now() + 120000;
  let now = before;
  while (Date.now() < deadline) {
    now = await counters(page);
    if (now.liveUpdates > before.liveUpdates && now.coveredOffsets > before.coveredOffsets) {
      break;
    }
    await page.waitForTimeout(500);
  }
  if (!(now.liveUpdates > before.liveUpdates && now.coveredOffsets > before.coveredOffsets)) {
    throw new Error(`no live update arrived: before ${JSON.stringify(before)}, after ${JSON.stringify(now)}`);
  }
  // Let the charts redraw with what arrived, then settle for the screenshot.
  await page.waitForTimeout(3000);
  const after = await counters(page);
  log(`desktop: live updates arrived: ${after.liveUpdates} updates, offsets covered ${before.coveredOffsets} → ${after.coveredOffsets}`);
  await page.screenshot({ path: join(outDir, 'dashboard-desktop.png'), fullPage: true });
  await context.close();
}

async function phone(browser) {
  const context = await newContext(browser, {
    viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true,
  });
  const page = await context.newPage();
  watch(page, 'phone');
  await page.goto(url, { waitUntil: 'load' });
  await page.waitForSelector('body[data-loaded="true"]', { timeout: 30000 });
  await waitForCharts(page, 'phone', 60000);
  await page.waitForTimeout(1500);
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  if (width > 390) {
    problems.push(`phone: the page is ${width} px wide on a 390 px screen`);
  }
  log(`phone: every chart has data; page width ${width} px`);
  await page.screenshot({ path: join(outDir, 'dashboard-phone.png'), fullPage: true });
  await context.close();
}

const browser = await chromium.launch({
  executablePath,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  // launch() always starts from a fresh temporary profile (--user-data-dir).
});
let failed = false;
try {
  await desktop(browser);
  await phone(browser);
} catch (error) {
  failed = true;
  console.error(`[browser] FAILED: ${error.message}`);
} finally {
  await browser.close();
}
for (const p of problems) {
  console.error(`[browser] PROBLEM: ${p}`);
}
if (failed || problems.length > 0) {
  process.exit(1);
}
log(`passed; screenshots in ${outDir}`);
