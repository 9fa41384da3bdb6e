// Debian's Chromium driven by playwright-core; never a downloaded browser.
import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

export function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

// watchPage records what must never happen on the admin page: script
// errors, console errors (CSP violations land there) and dialogs.
export function watchPage(page) {
  const problems = { errors: [], dialogs: [] };
  page.on('pageerror', (e) => problems.errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const text = m.text();
    // The browser logs every non-2xx fetch; a wrong key (401) and a
    // rejected form (400) are expected answers that the page shows.
    if (/Failed to load resource: the server responded with a status of (400|401)\b/.test(text)) return;
    problems.errors.push(`console: ${text}`);
  });
  page.on('dialog', (d) => {
    problems.dialogs.push(`${d.type()}: ${d.message()}`);
    d.dismiss().catch(() => {});
  });
  return problems;
}

export const DESKTOP = { width: 1366, height: 900 };
export const PHONE = { width: 390, height: 844 };

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// eventually retries fn until it stops throwing (the page polls every 3 s).
export async function eventually(fn, timeout = 12_000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(150);
    }
  }
}

// pages opens browser contexts (one page each, watched) and closes them
// all at the end. clipboard grants the page's origin clipboard access.
export function pages(browser) {
  const contexts = [];
  return {
    async open({ locale = 'en-US', viewport = DESKTOP, clipboard = '' } = {}) {
      const context = await browser.newContext({ locale, viewport });
      if (clipboard) await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: clipboard });
      contexts.push(context);
      const page = await context.newPage();
      return { context, page, problems: watchPage(page) };
    },
    async closeAll() {
      for (const c of contexts) await c.close().catch(() => {});
    },
  };
}

// signIn opens the page at tab (none: the first tab) and signs in with
// catfish's admin key.
export async function signIn(page, cf, tab = '') {
  await page.goto(tab ? `${cf.url}/#${tab}` : `${cf.url}/`);
  await page.locator('#login-key').fill(cf.adminKey);
  await page.locator('#login-form button[type=submit]').click();
  await page.locator('#app').waitFor({ state: 'visible' });
}

// assertClean fails on any script error, console error or dialog seen.
export function assertClean(problems) {
  assert.deepEqual(problems.errors, [], 'page errors');
  assert.deepEqual(problems.dialogs, [], 'page dialogs');
}
