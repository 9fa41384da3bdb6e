// The admin page in a real browser (Debian's Chromium via playwright-core)
// against the real catfish binary and a fake upstream.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startFakeUpstream } from '../lib/fake-upstream.mjs';
import { startCatfish } from '../lib/catfish.mjs';
import {
  launchBrowser, pages, signIn as signInAt, eventually, sleep, assertClean as clean, DESKTOP, PHONE,
} from '../lib/browser.mjs';

const SHOTS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'screenshots');

let fake;
let cf;
let browser;
let ui;

before(async () => {
  fake = await startFakeUpstream();
  cf = await startCatfish();
  browser = await launchBrowser();
  ui = pages(browser);
});

after(async () => {
  await ui?.closeAll();
  await browser?.close();
  await cf?.stop();
  await fake?.close();
});

const open = (opts) => ui.open(opts);

const signIn = (page) => signInAt(page, cf);

// clean asserts the page had no script error, no CSP violation, no dialog.

const row = (page, id) => page.locator(`tr.ch-row[data-id="${id}"]`);

function create(body) {
  return cf.api('POST', '/admin/config', { priority: 1, api_key: 'sk-test-0000000000001234', ...body });
}

async function channelsOf(scheme) {
  const all = await cf.api('GET', '/admin/config');
  return all[scheme] || [];
}

test('the page is served with a strict Content-Security-Policy', async () => {
  for (const p of ['/', '/app.js', '/style.css']) {
    const r = await fetch(`${cf.url}${p}`);
    assert.equal(r.status, 200, p);
    const csp = r.headers.get('content-security-policy');
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(r.headers.get('x-frame-options'), 'DENY');
    assert.equal(r.headers.get('referrer-policy'), 'no-referrer');
    assert.equal(r.headers.get('cache-control'), 'no-cache');
  }
  const html = await (await fetch(`${cf.url}/`)).text();
  assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script');
  assert.doesNotMatch(html, /\sstyle=|\son\w+=/, 'no inline style or handler');
});

test('sign-in: a wrong key is refused with a message, the right key opens the page, sign-out forgets it', async () => {
  const { page, problems } = await open();
  await page.goto(`${cf.url}/`);
  await page.locator('#login').waitFor({ state: 'visible' });
  await page.locator('#login-key').fill('not-the-key');
  await page.locator('#login-form button[type=submit]').click();
  const err = page.locator('#login-error');
  await err.waitFor({ state: 'visible' });
  assert.match(await err.textContent(), /Wrong admin key/);
  assert.equal(await page.locator('#app').isVisible(), false);
  assert.equal(await page.locator('#login-key').inputValue(), 'not-the-key', 'the typed key stays to be corrected');
  assert.equal(await page.evaluate(() => sessionStorage.getItem('catfish.adminKey')), null);

  await page.locator('#login-key').fill(cf.adminKey);
  await page.locator('#login-form button[type=submit]').click();
  await page.locator('#app').waitFor({ state: 'visible' });
  assert.equal(await page.locator('.tab.active').textContent(), 'Channels');
  assert.equal(await page.evaluate(() => sessionStorage.getItem('catfish.adminKey')), cf.adminKey);

  await page.reload();
  await page.locator('#app').waitFor({ state: 'visible' });
  assert.equal(await page.locator('#login').isVisible(), false, 'the session survives a reload');

  await page.locator('#logout').click();
  await page.locator('#login').waitFor({ state: 'visible' });
  assert.equal(await page.evaluate(() => sessionStorage.getItem('catfish.adminKey')), null);

  // A stored key the server rejects (e.g. ADMIN_KEY changed) ends the session.
  await page.evaluate(() => sessionStorage.setItem('catfish.adminKey', 'stale-key'));
  await page.reload();
  await page.locator('#login-error').waitFor({ state: 'visible' });
  assert.match(await page.locator('#login-error').textContent(), /session ended/);
  assert.equal(await page.evaluate(() => sessionStorage.getItem('catfish.adminKey')), null);
  clean(problems);
});

test('channels: create (with inline validation), edit, move to another scheme, delete', async () => {
  const { page, problems } = await open();
  await signIn(page);
  const secret = 'sk-crud-secret-key-000111';
  const dialog = page.locator('#channel-dialog');
  const form = page.locator('#channel-form');

  await page.locator('#add-channel').click();
  await dialog.waitFor({ state: 'visible' });
  await form.locator('[name=name]').fill('Primary');
  await form.locator('[name=scheme_name]').fill('crud');
  await form.locator('[name=url]').fill('ftp://example.invalid/v1');
  await form.locator('[name=api_key]').fill(secret);
  await form.locator('[name=priority]').fill('3');
  await page.locator('#channel-save').click();
  const urlErr = form.locator('[data-error-for=url]');
  await urlErr.waitFor({ state: 'visible' });
  assert.match(await urlErr.textContent(), /http/);
  assert.ok(await dialog.isVisible(), 'the dialog stays open on a rejected save');
  assert.deepEqual(await channelsOf('crud'), [], 'nothing was created');

  await form.locator('[name=url]').fill(fake.base('ok'));
  assert.equal(await urlErr.isVisible(), false, 'editing the field clears its error');
  await page.locator('#channel-save').click();
  await dialog.waitFor({ state: 'hidden' });
  const [ch] = await channelsOf('crud');
  assert.equal(ch.name, 'Primary');
  const r = row(page, ch.id);
  await r.waitFor();
  assert.equal(await r.locator('.ch-title').textContent(), 'Primary');
  assert.equal(await r.locator('.prio').textContent(), '3');
  assert.equal(await r.locator('.ch-key').textContent(), ch.api_key);
  assert.match(ch.api_key, /…/);
  assert.ok(!(await page.content()).includes(secret), 'the real key is not in the page');

  // Edit: the key field starts empty and an empty key keeps the stored one.
  await r.locator('.act-edit').click();
  await dialog.waitFor({ state: 'visible' });
  assert.equal(await form.locator('[name=api_key]').inputValue(), '');
  assert.equal(await form.locator('[name=url]').inputValue(), fake.base('ok'));
  await form.locator('[name=name]').fill('Primary edited');
  await form.locator('[name=priority]').fill('7');
  await form.locator('#advanced summary').click();
  await form.locator('[name=timeout_seconds]').fill('0');
  await page.locator('#channel-save').click();
  const toErr = form.locator('[data-error-for=timeout_seconds]');
  await toErr.waitFor({ state: 'visible' });
  assert.match(await toErr.textContent(), /between 1 and/);
  await form.locator('[name=timeout_seconds]').fill('');
  await page.locator('#channel-save').click();
  await dialog.waitFor({ state: 'hidden' });
  await eventually(async () => assert.equal(await r.locator('.ch-title').textContent(), 'Primary edited'));
  assert.equal(await r.locator('.prio').textContent(), '7');
  const exported = (await cf.api('GET', '/admin/export')).config;
  assert.equal(exported.crud[0].api_key, secret, 'an empty key field keeps the key');
  assert.equal(exported.crud[0].timeout_seconds, null);

  // Move to another scheme.
  await r.locator('.act-edit').click();
  await dialog.waitFor({ state: 'visible' });
  await form.locator('[name=scheme_name]').fill('crud-moved');
  await page.locator('#channel-save').click();
  await dialog.waitFor({ state: 'hidden' });
  await page.locator(`section[data-scheme="crud-moved"] tr[data-id="${ch.id}"]`).waitFor();
  assert.equal(await page.locator('section[data-scheme="crud"]').count(), 0, 'the emptied scheme is gone');
  assert.equal((await channelsOf('crud-moved'))[0].id, ch.id);

  // Delete asks first; cancel keeps the channel.
  await r.locator('.act-delete').click();
  const confirm = page.locator('#confirm-dialog');
  await confirm.waitFor({ state: 'visible' });
  assert.match(await page.locator('#confirm-body').textContent(), /Primary edited/);
  await confirm.locator('button[value=cancel]').click();
  await confirm.waitFor({ state: 'hidden' });
  assert.equal((await channelsOf('crud-moved')).length, 1);
  await r.locator('.act-delete').click();
  await page.locator('#confirm-ok').click();
  await r.waitFor({ state: 'detached' });
  assert.deepEqual(await channelsOf('crud-moved'), []);
  clean(problems);
});

test('enable switch turns a channel off and on', async () => {
  const ch = await create({ name: 'Toggle me', scheme_name: 'toggle', url: fake.base('ok') });
  const { page, problems } = await open();
  await signIn(page);
  const r = row(page, ch.id);
  const sw = r.locator('input.switch');
  await sw.waitFor();
  assert.equal(await sw.isChecked(), true);
  await sw.click();
  await eventually(async () => assert.equal((await channelsOf('toggle'))[0].enabled, false));
  await eventually(async () => assert.match(await r.getAttribute('class'), /is-disabled/));
  assert.equal(await sw.isChecked(), false);
  await sw.click();
  await eventually(async () => assert.equal((await channelsOf('toggle'))[0].enabled, true));
  await eventually(async () => assert.doesNotMatch(await r.getAttribute('class'), /is-disabled/));
  clean(problems);
});

test('test button shows status, latency and the upstream error', async () => {
  const good = await create({ name: 'Test good', scheme_name: 'tests', url: fake.base('ok') });
  const bad = await create({ name: 'Test bad', scheme_name: 'tests', url: fake.base('fail500'), priority: 2 });
  const { page, problems } = await open();
  await signIn(page);
  await row(page, good.id).locator('.act-test').click();
  const okBox = row(page, good.id).locator('.test-result.ok');
  await okBox.waitFor();
  const okText = await okBox.textContent();
  assert.match(okText, /HTTP 200/);
  assert.match(okText, /\d ms/);
  await row(page, bad.id).locator('.act-test').click();
  const failBox = row(page, bad.id).locator('.test-result.fail');
  await failBox.waitFor();
  const failText = await failBox.textContent();
  assert.match(failText, /HTTP 500/);
  assert.match(failText, /\d ms/);
  assert.match(failText, /fake upstream failure/, "the upstream's own error message");
  clean(problems);
});

test('breaker: opened by proxy traffic, shown with its time, reset from the page', async () => {
  const ch = await create({
    name: 'Breaks', scheme_name: 'brk', url: fake.base('fail500'),
    consecutive_failure_threshold: 1, disable_duration_seconds: 600, max_retries: 0,
  });
  const { page, problems } = await open();
  await signIn(page);
  const badge = row(page, ch.id).locator('.breaker');
  await badge.waitFor();
  assert.equal(await badge.getAttribute('data-state'), 'closed');
  assert.equal(await row(page, ch.id).locator('.act-reset').isDisabled(), true);

  const res = await cf.chat('brk');
  assert.equal(res.status, 500);
  await eventually(async () => assert.equal(await badge.getAttribute('data-state'), 'open'));
  const [{ breaker }] = await channelsOf('brk');
  assert.equal(breaker.state, 'open');
  const until = await page.evaluate((iso) => new Date(iso).toLocaleTimeString('en-GB', { hour12: false }), breaker.open_until);
  assert.match(await badge.textContent(), new RegExp(`^Open until .*${until}$`));

  await row(page, ch.id).locator('.act-reset').click();
  await eventually(async () => assert.equal(await badge.getAttribute('data-state'), 'closed'));
  assert.equal(await badge.textContent(), 'Closed');
  assert.equal((await channelsOf('brk'))[0].breaker.state, 'closed');
  clean(problems);
});

// chartSums adds up the hover texts of the 24 h chart's bars.
async function chartSums(page) {
  const titles = await page.locator('#chart-24h .bar title').allTextContents();
  let ok = 0;
  let fail = 0;
  for (const s of titles) {
    const m = s.match(/(\d+) success, (\d+) failed/);
    ok += Number(m[1]);
    fail += Number(m[2]);
  }
  return { ok, fail, bars: titles.length };
}

test('statistics: cards, charts and tables follow traffic', async () => {
  const good = await create({ name: 'Stats good', scheme_name: 'stats', url: fake.base('ok') });
  await create({ name: 'Stats bad', scheme_name: 'stats-bad', url: fake.base('fail500'), consecutive_failure_threshold: 0, max_retries: 0 });
  const { page, problems } = await open();
  await signIn(page);
  await page.locator('.tab[data-tab=stats]').click();
  const total = page.locator('.card-total .card-big');
  await total.waitFor();
  const num = async (loc) => Number((await loc.textContent()).replace(/[^\d]/g, ''));
  const before = await num(total);
  const todayBefore = await num(page.locator('.card-today .card-big'));
  const bars = await chartSums(page);
  assert.equal(bars.bars, 24);
  assert.equal(await page.locator('#chart-7d .bar').count(), 168);

  for (let i = 0; i < 3; i++) assert.equal((await cf.chat('stats')).status, 200);
  for (let i = 0; i < 2; i++) assert.equal((await cf.chat('stats-bad')).status, 500);

  await eventually(async () => assert.equal(await num(total), before + 5));
  assert.equal(await num(page.locator('.card-today .card-big')), todayBefore + 5);
  const after = await chartSums(page);
  assert.ok(after.ok >= bars.ok + 3, `success bar ${bars.ok} → ${after.ok}`);
  assert.ok(after.fail >= bars.fail + 2, `failure bar ${bars.fail} → ${after.fail}`);
  assert.ok(await page.locator('#chart-24h rect.seg-ok').count() > 0);
  assert.ok(await page.locator('#chart-24h rect.seg-fail').count() > 0);
  assert.ok(await page.locator('#chart-7d rect.seg-fail').count() > 0);
  assert.ok(await page.locator('#share svg circle.slice').count() > 0, 'the share donut has slices');
  assert.ok((await page.locator('#share .share-name').allTextContents()).includes('Stats good'));
  const cells = await page.locator(`#ch-all tr[data-id="${good.id}"] td`).allTextContents();
  assert.equal(cells[0], 'Stats good');
  assert.equal(cells[3], '3', 'attempts');
  assert.equal(cells[5], '0', 'failures');
  assert.match(cells[8], /ms/, 'TTFB p50');
  assert.notEqual(cells[10], '0', 'tokens');
  const today = await page.locator(`#ch-today tr[data-id="${good.id}"] td`).allTextContents();
  assert.equal(today[2], '3');
  clean(problems);
});

test('logs: a request that failed over shows both attempts, filters narrow the list', async () => {
  const first = await create({ name: 'Dual first', scheme_name: 'dual', url: fake.base('fail500'), priority: 1, max_retries: 0, consecutive_failure_threshold: 0 });
  const second = await create({ name: 'Dual second', scheme_name: 'dual', url: fake.base('ok'), priority: 2 });
  const res = await cf.chat('dual');
  assert.equal(res.status, 200);
  const attempts = res.headers.get('x-catfish-attempts');
  assert.match(attempts, new RegExp(`${first.id}=http_500`));
  assert.match(attempts, new RegExp(`${second.id}=ok`));

  const { page, problems } = await open();
  await signIn(page);
  await page.locator('.tab[data-tab=logs]').click();
  await page.locator('#requests-body tr.req-row').first().waitFor();
  await page.locator('#f-scheme').selectOption('dual');
  const rows = page.locator('#requests-body tr.req-row');
  await eventually(async () => assert.equal(await rows.count(), 1));
  const rowEl = rows.first();
  assert.equal(await rowEl.getAttribute('data-attempts'), '2');
  const chips = rowEl.locator('.chip');
  assert.equal(await chips.count(), 2);
  assert.match(await chips.nth(0).getAttribute('class'), /fail/);
  assert.match(await chips.nth(0).textContent(), /Dual first.*http_500.*ms/);
  assert.match(await chips.nth(1).getAttribute('class'), /ok/);
  assert.match(await chips.nth(1).textContent(), /Dual second.*ok.*ms/);
  assert.match(await rowEl.locator('.c-status .badge').textContent(), /200/);

  await page.locator('#f-status').selectOption('fail');
  await eventually(async () => assert.equal(await rows.count(), 0));
  assert.match(await page.locator('#requests-body').textContent(), /No request matches/);
  await page.locator('#f-status').selectOption('ok');
  await page.locator('#f-channel').selectOption(first.id);
  await eventually(async () => assert.equal(await rows.count(), 1));
  await page.locator('#f-scheme').selectOption('');
  await page.locator('#f-channel').selectOption(second.id);
  await eventually(async () => assert.ok(await rows.count() >= 1));

  const raw = await page.locator('#raw-logs').textContent();
  assert.match(raw, /msg=request/);
  assert.match(raw, /scheme=dual/);
  clean(problems);
});

test('XSS canary: markup in names is shown as text, never run', async () => {
  const evil = '<img src=x onerror=window.__xss=1>';
  const evilScheme = '<svg onload=window.__xss=2>';
  // A header name is an HTTP token: no tags, but an entity that markup
  // parsing would turn into "<". Its value and the aliases may hold anything.
  const evilHeader = "x-'&lt";
  const evilValue = '<img src=x onerror=window.__xss=3>';
  const evilAliases = ['<img src=x onerror=window.__xss=4>', '<b>bold</b>-*'];
  const { page, problems } = await open();
  await signIn(page);
  await page.locator('#add-channel').click();
  const form = page.locator('#channel-form');
  await form.locator('[name=name]').fill(evil);
  await form.locator('[name=scheme_name]').fill(evilScheme);
  await form.locator('[name=url]').fill(fake.base('ok'));
  await form.locator('[name=api_key]').fill('sk-xss-00000000000000');
  await page.locator('#add-header').click();
  await form.locator('.header-row .h-name').fill(evilHeader);
  await form.locator('.header-row .h-value').fill(evilValue);
  await page.locator('#channel-save').click();
  await page.locator('#channel-dialog').waitFor({ state: 'hidden' });
  const [ch] = await channelsOf(evilScheme);
  assert.deepEqual(Object.keys(ch.headers), [evilHeader]);
  const r = row(page, ch.id);
  await r.waitFor();
  assert.equal(await r.locator('.ch-title').textContent(), evil);
  assert.equal(await r.locator('.ch-header-names').textContent(), evilHeader);
  assert.equal(await page.locator(`section.scheme[data-scheme="${evilScheme}"] .scheme-name`).textContent(), evilScheme);
  // The edit dialog shows the header's name and its masked value as text.
  await r.locator('.act-edit').click();
  await page.locator('#channel-dialog').waitFor({ state: 'visible' });
  assert.equal(await form.locator('.header-row .h-name').inputValue(), evilHeader);
  assert.equal(await form.locator('.header-row .h-value').inputValue(), '');
  assert.equal(await form.locator('.header-row .h-value').getAttribute('placeholder'), `keep ${ch.headers[evilHeader]}`);
  await page.keyboard.press('Escape');
  await page.locator('#channel-dialog').waitFor({ state: 'hidden' });
  // Aliases: typed in the inline editor, shown back as text.
  const sec = page.locator(`section.scheme[data-scheme="${evilScheme}"]`);
  await sec.locator('.act-aliases').click();
  await sec.locator('.alias-input').fill(evilAliases.join('\n'));
  await sec.locator('.act-aliases-save').click();
  await sec.locator('.alias-input').waitFor({ state: 'detached' });
  assert.deepEqual(await sec.locator('.alias-chip').allTextContents(), evilAliases);
  assert.deepEqual((await cf.api('GET', '/admin/schemes')).find((s) => s.name === evilScheme).aliases, evilAliases);
  await sec.locator('.act-aliases').click();
  assert.equal(await sec.locator('.alias-input').inputValue(), evilAliases.join('\n'));
  await sec.locator('.act-aliases-cancel').click();
  assert.equal((await cf.chat(evilScheme)).status, 200);
  await r.locator('.act-test').click();
  await r.locator('.test-result.ok').waitFor();

  await page.locator('.tab[data-tab=stats]').click();
  await eventually(async () => assert.ok((await page.locator('#share .share-name').allTextContents()).includes(evil)));
  await page.locator('.tab[data-tab=logs]').click();
  await eventually(async () => assert.ok((await page.locator('.chip-name').allTextContents()).includes(evil)));
  assert.ok((await page.locator('#f-scheme option').allTextContents()).includes(evilScheme));

  assert.equal(await page.evaluate(() => window.__xss), undefined);
  assert.equal(await page.locator('#app img:not(.logo), #app svg svg, .alias-chip *, dialog img').count(), 0, 'no element made from a name');
  assert.ok(!(await page.content()).includes(evilValue), 'a header value never reaches the page');
  clean(problems);
});

test('language: follows the browser, switches, and remembers the choice', async () => {
  const zh = await open({ locale: 'zh-CN' });
  await zh.page.goto(`${cf.url}/`);
  await zh.page.locator('#login').waitFor({ state: 'visible' });
  assert.equal(await zh.page.locator('#login h1').textContent(), '登录');
  await signIn(zh.page);
  assert.deepEqual(await zh.page.locator('.tab').allTextContents(), ['渠道', '密钥', '统计', '日志']);
  assert.equal(await zh.page.evaluate(() => document.documentElement.lang), 'zh-CN');
  await zh.page.locator('.topbar .lang-toggle').click();
  assert.deepEqual(await zh.page.locator('.tab').allTextContents(), ['Channels', 'Keys', 'Statistics', 'Logs']);
  assert.match(await zh.page.locator('#ch-summary').textContent(), /channels in/);
  await zh.page.reload();
  await zh.page.locator('#app').waitFor({ state: 'visible' });
  assert.deepEqual(await zh.page.locator('.tab').allTextContents(), ['Channels', 'Keys', 'Statistics', 'Logs'], 'the choice is kept');
  await zh.page.locator('.topbar .lang-toggle').click();
  await zh.page.locator('.tab[data-tab=stats]').click();
  await zh.page.locator('.card-total').waitFor();
  assert.equal(await zh.page.locator('.card-total .card-title').textContent(), '全部请求');
  clean(zh.problems);

  const en = await open({ locale: 'en-US' });
  await en.page.goto(`${cf.url}/`);
  await en.page.locator('#login').waitFor({ state: 'visible' });
  assert.equal(await en.page.locator('#login h1').textContent(), 'Sign in');
  clean(en.problems);
});

test('polls only while the page is visible', async () => {
  const { page, problems } = await open();
  await signIn(page);
  let calls = 0;
  page.on('request', (req) => { if (req.url().includes('/admin/')) calls++; });
  await eventually(() => assert.ok(calls >= 1, 'polls while visible'), 6000);
  const setVisibility = (state) => page.evaluate((s) => {
    Object.defineProperty(document, 'visibilityState', { value: s, configurable: true });
    document.dispatchEvent(new Event('visibilitychange'));
  }, state);
  await setVisibility('hidden');
  await sleep(300);
  calls = 0;
  await sleep(7000);
  assert.equal(calls, 0, 'no polling while hidden');
  await setVisibility('visible');
  await eventually(() => assert.ok(calls >= 1, 'polls again at once when visible'), 2000);
  clean(problems);
});

test('screenshots: each tab in English and Chinese, desktop and phone', async () => {
  await mkdir(SHOTS, { recursive: true });
  // A little traffic so every view has something to show.
  for (let i = 0; i < 4; i++) await cf.chat('stats');
  await cf.chat('dual');
  await cf.chat('brk'); // opens its breaker again, so the pages show one
  for (const [lang, locale] of [['en', 'en-US'], ['zh', 'zh-CN']]) {
    for (const [size, viewport] of [['desktop', DESKTOP], ['phone', PHONE]]) {
      const { page, problems } = await open({ locale, viewport });
      await page.goto(`${cf.url}/`);
      await page.locator('#login').waitFor({ state: 'visible' });
      await page.screenshot({ path: path.join(SHOTS, `${lang}-${size}-login.png`) });
      await signIn(page);
      for (const tab of ['channels', 'keys', 'stats', 'logs']) {
        await page.locator(`.tab[data-tab=${tab}]`).click();
        const ready = {
          channels: '#channels-body .scheme', keys: '#keys-body .key-row, #keys-body .empty-state',
          stats: '#stats-body .cards', logs: '#requests-body tr.req-row',
        }[tab];
        await page.locator(ready).first().waitFor();
        await sleep(300);
        await page.evaluate(() => scrollTo(0, 0));
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        assert.ok(overflow <= 0, `${lang} ${size} ${tab}: the page is ${overflow}px wider than the screen`);
        await page.screenshot({ path: path.join(SHOTS, `${lang}-${size}-${tab}.png`), fullPage: true });
        if (size === 'phone') await page.screenshot({ path: path.join(SHOTS, `${lang}-${size}-${tab}-top.png`) });
      }
      await page.locator('.tab[data-tab=channels]').click();
      await page.locator('tr.ch-row .act-edit').first().click();
      await page.locator('#channel-dialog').waitFor({ state: 'visible' });
      await page.screenshot({ path: path.join(SHOTS, `${lang}-${size}-edit-dialog.png`) });
      await page.keyboard.press('Escape');
      clean(problems);
    }
  }
});
