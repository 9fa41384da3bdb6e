// The Keys tab in a real browser (Debian's Chromium via playwright-core)
// against the real catfish binary: create (the secret shown once, copied),
// edit scope and limits, disable, rotate, delete; English and Chinese;
// phone width; the statistics and request filters by key.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startCatfish } from '../lib/catfish.mjs';
import {
  launchBrowser, pages, signIn as signInAt, eventually, assertClean as clean, DESKTOP, PHONE,
} from '../lib/browser.mjs';

const SHOTS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'screenshots');
const SECRET = /^sk-cf-[0-9A-Za-z]{32}$/;

let cf;
let browser;
let ui;

before(async () => {
  cf = await startCatfish();
  browser = await launchBrowser();
  ui = pages(browser);
  for (const scheme of ['main', 'fast']) {
    await cf.api('POST', '/admin/config', { priority: 1, api_key: 'sk-test-0000000000001234', url: 'https://upstream.invalid/v1', scheme_name: scheme });
  }
});

after(async () => {
  await ui?.closeAll();
  await browser?.close();
  await cf?.stop();
});

const open = (opts) => ui.open({ ...opts, clipboard: cf.url });

const signIn = (page, tab = 'keys') => signInAt(page, cf, tab);

const keyRow = (page, id) => page.locator(`tr.key-row[data-id="${id}"]`);

async function keyByName(name) {
  return (await cf.api('GET', '/admin/keys')).find((k) => k.name === name);
}

// pageText is everything the page holds as text or in a field.
function pageText(page) {
  return page.evaluate(() => document.documentElement.outerHTML + [...document.querySelectorAll('input')].map((i) => i.value).join('\n'));
}

// createInForm fills the create dialog and saves; returns the secret shown.
async function createInForm(page, name, fill = async () => {}) {
  await page.locator('#add-key').click();
  await page.locator('#key-dialog').waitFor({ state: 'visible' });
  await page.locator('#key-form [name=name]').fill(name);
  await fill(page.locator('#key-form'));
  await page.locator('#key-save').click();
  await page.locator('#secret-dialog').waitFor({ state: 'visible' });
  return page.locator('#secret-value').inputValue();
}

test('create: the secret is shown once, with a warning and a copy button; then only masked', async () => {
  const { page, problems } = await open();
  await signIn(page);
  await page.locator('#keys-body .empty-state').waitFor();
  assert.match(await page.locator('#keys-body').textContent(), /No client keys yet/);

  // A refused create keeps the dialog open and names the field.
  await page.locator('#add-key').click();
  await page.locator('#key-form [name=name]').fill('admin');
  await page.locator('#key-save').click();
  const nameErr = page.locator('#key-form [data-error-for=name]');
  await nameErr.waitFor({ state: 'visible' });
  assert.match(await nameErr.textContent(), /ADMIN_KEY/);
  assert.ok(await page.locator('#key-dialog').isVisible());
  assert.deepEqual(await cf.api('GET', '/admin/keys'), [], 'nothing was created');
  await page.locator('#key-dialog [data-close]').first().click();

  const secret = await createInForm(page, 'mobile-app', async (form) => {
    await form.locator('input[name=scheme][value=main]').check();
    await form.locator('[name=rpm]').fill('60');
    await form.locator('[name=token_quota]').fill('100000');
  });
  assert.match(secret, SECRET);
  assert.match(await page.locator('#secret-dialog .warn-box').textContent(), /will not be shown again/);
  await page.locator('#secret-copy').click();
  await eventually(async () => assert.match(await page.locator('#secret-copied').textContent(), /Copied/));
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), secret, 'the clipboard holds the secret');

  await page.locator('#secret-done').click();
  await page.locator('#secret-dialog').waitFor({ state: 'hidden' });
  assert.equal(await page.locator('#secret-value').inputValue(), '', 'closing the dialog forgets the secret');
  const k = await keyByName('mobile-app');
  assert.deepEqual(k.schemes, ['main']);
  assert.equal(k.rpm, 60);
  assert.equal(k.token_quota, 100000);
  assert.equal(k.key, `sk-cf-…${secret.slice(-4)}`);
  const r = keyRow(page, k.id);
  await r.waitFor();
  assert.equal(await r.locator('.key-masked').textContent(), k.key);
  assert.equal(await r.locator('.key-state').getAttribute('data-state'), 'active');
  assert.match(await r.locator('.c-scope').textContent(), /main/);
  assert.match(await r.locator('.c-limits').textContent(), /0 \/ 60/);
  assert.ok(!(await pageText(page)).includes(secret), 'the secret is nowhere in the page');
  await page.reload();
  await r.waitFor();
  assert.ok(!(await pageText(page)).includes(secret), 'nor after a reload');
  clean(problems);
});

test('edit scope and limits, disable with the switch, enable again', async () => {
  const created = await cf.api('POST', '/admin/keys', { name: 'edit-me' });
  const { page, problems } = await open();
  await signIn(page);
  const r = keyRow(page, created.id);
  await r.waitFor();
  assert.match(await r.locator('.c-scope').textContent(), /All schemes/);
  assert.match(await r.locator('.c-limits').textContent(), /No limits/);

  await r.locator('.act-edit').click();
  const form = page.locator('#key-form');
  await page.locator('#key-dialog').waitFor({ state: 'visible' });
  assert.equal(await form.locator('[name=name]').inputValue(), 'edit-me');
  await form.locator('input[name=scheme][value=fast]').check();
  await form.locator('[name=schemes_other]').fill('later-scheme');
  await form.locator('[name=tpm]').fill('0');
  await page.locator('#key-save').click();
  const tpmErr = form.locator('[data-error-for=tpm]');
  await tpmErr.waitFor({ state: 'visible' });
  assert.match(await tpmErr.textContent(), /at least 1|between 1/);
  await form.locator('[name=tpm]').fill('5000');
  await form.locator('[name=expires_at]').fill('2031-02-03T04:05');
  await page.locator('#key-save').click();
  await page.locator('#key-dialog').waitFor({ state: 'hidden' });
  const k = await keyByName('edit-me');
  assert.deepEqual(k.schemes, ['fast', 'later-scheme']);
  assert.equal(k.tpm, 5000);
  assert.equal(k.rpm, null);
  const local = await page.evaluate(() => new Date('2031-02-03T04:05').toISOString());
  assert.equal(new Date(k.expires_at).toISOString(), local, 'the expiry is the local time entered');
  await eventually(async () => assert.match(await r.locator('.c-scope').textContent(), /fast.*later-scheme/));
  assert.match(await r.locator('.c-limits').textContent(), /0 \/ 5,000/);

  const sw = r.locator('input.switch');
  await sw.click();
  await eventually(async () => assert.equal((await keyByName('edit-me')).enabled, false));
  await eventually(async () => assert.equal(await r.locator('.key-state').getAttribute('data-state'), 'disabled'));
  await sw.click();
  await eventually(async () => assert.equal((await keyByName('edit-me')).enabled, true));
  clean(problems);
});

test('rotate shows a new secret once; delete asks first', async () => {
  const created = await cf.api('POST', '/admin/keys', { name: 'rotate-me' });
  const { page, problems } = await open();
  await signIn(page);
  const r = keyRow(page, created.id);
  await r.waitFor();

  await r.locator('.act-rotate').click();
  const confirm = page.locator('#key-confirm-dialog');
  await confirm.waitFor({ state: 'visible' });
  assert.match(await page.locator('#key-confirm-body').textContent(), /stops working at once/);
  await page.locator('#key-confirm-ok').click();
  await page.locator('#secret-dialog').waitFor({ state: 'visible' });
  const secret = await page.locator('#secret-value').inputValue();
  assert.match(secret, SECRET);
  assert.notEqual(secret, created.key);
  await page.keyboard.press('Escape'); // closing any way forgets it
  await page.locator('#secret-dialog').waitFor({ state: 'hidden' });
  assert.equal(await page.locator('#secret-value').inputValue(), '');
  await eventually(async () => assert.equal(await r.locator('.key-masked').textContent(), `sk-cf-…${secret.slice(-4)}`));
  assert.ok(!(await pageText(page)).includes(secret));

  await r.locator('.act-delete').click();
  await confirm.waitFor({ state: 'visible' });
  assert.match(await page.locator('#key-confirm-body').textContent(), /rotate-me/);
  await confirm.locator('button[value=cancel]').click();
  await confirm.waitFor({ state: 'hidden' });
  assert.ok(await keyByName('rotate-me'), 'cancel keeps the key');
  await r.locator('.act-delete').click();
  await page.locator('#key-confirm-ok').click();
  await r.waitFor({ state: 'detached' });
  assert.equal(await keyByName('rotate-me'), undefined);
  clean(problems);
});

test('statistics and recent requests filter by key', async () => {
  await cf.api('POST', '/admin/keys', { name: 'filter-me' });
  const res = await cf.chat('main'); // by ADMIN_KEY
  assert.ok(res.status >= 400, 'the upstream does not exist');
  const { page, problems } = await open();
  await signIn(page, 'stats');
  await page.locator('#stats-body .cards').waitFor();
  const sel = page.locator('#st-key');
  await eventually(async () => assert.ok((await sel.locator('option').allTextContents()).includes('filter-me')));
  assert.equal(await sel.inputValue(), '');
  await sel.selectOption('filter-me');
  await page.locator('#stats-body .cards-key').waitFor();
  assert.match(await page.locator('.card-total .card-title').textContent(), /filter-me/);
  assert.equal(await page.locator('#chart-24h .bar').count(), 24);
  assert.match(await page.locator('.key-note').textContent(), /All keys/);
  assert.equal(await page.locator('#ch-all').count(), 0, 'per-channel tables are for all keys');

  // The choice carries over to the request list.
  await page.locator('.tab[data-tab=logs]').click();
  await eventually(async () => assert.equal(await page.locator('#f-key').inputValue(), 'filter-me'));
  await eventually(async () => assert.match(await page.locator('#requests-body').textContent(), /No request matches/));
  await page.locator('#f-key').selectOption('');
  await page.locator('#requests-body tr.req-row').first().waitFor();
  await page.locator('.tab[data-tab=stats]').click();
  await page.locator('#stats-body .cards:not(.cards-key)').waitFor();
  clean(problems);
});

test('XSS canary: markup in a key name or scheme is shown as text', async () => {
  const evil = '<img src=x onerror=window.__xss=1>';
  const k = await cf.api('POST', '/admin/keys', { name: evil, schemes: ['<svg onload=window.__xss=2>'] });
  const { page, problems } = await open();
  await signIn(page);
  const r = keyRow(page, k.id);
  await r.waitFor();
  assert.equal(await r.locator('.key-name').textContent(), evil);
  await page.locator('.tab[data-tab=stats]').click();
  await eventually(async () => assert.ok((await page.locator('#st-key option').allTextContents()).includes(evil)));
  assert.equal(await page.evaluate(() => window.__xss), undefined);
  assert.equal(await page.locator('#app img:not(.logo), #app svg svg').count(), 0);
  await cf.api('DELETE', `/admin/keys/${k.id}`);
  clean(problems);
});

test('Chinese, phone width: the tab fits and reads in Chinese; screenshots', async () => {
  await mkdir(SHOTS, { recursive: true });
  await cf.api('POST', '/admin/keys', { name: '手机应用', schemes: ['main'], rpm: 30, tpm: 20000, token_quota: 500000, expires_at: '2030-06-01T00:00:00Z' });
  for (const [lang, locale] of [['zh', 'zh-CN'], ['en', 'en-US']]) {
    for (const [size, viewport] of [['phone', PHONE], ['desktop', DESKTOP]]) {
      const { page, problems } = await open({ locale, viewport });
      await signIn(page);
      await page.locator('#keys-body tr.key-row').first().waitFor();
      if (lang === 'zh') {
        assert.equal(await page.locator('.tab[data-tab=keys]').textContent(), '密钥');
        assert.equal(await page.locator('#view-keys h2').textContent(), '客户端密钥');
      } else {
        assert.equal(await page.locator('#view-keys h2').textContent(), 'Client keys');
      }
      const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(await overflow() <= 0, `${lang} ${size}: the keys tab is wider than the screen`);
      const sw = await page.locator('#keys-body tr.key-row input.switch').first().boundingBox();
      assert.ok(sw.width >= 30, `${lang} ${size}: the enable switch is ${sw.width}px wide`);
      await page.screenshot({ path: path.join(SHOTS, `keys-${lang}-${size}-list.png`), fullPage: true });

      const secret = await createInForm(page, `shot-${lang}-${size}`);
      assert.match(secret, SECRET);
      const warning = await page.locator('#secret-dialog .warn-box').textContent();
      assert.match(warning, lang === 'zh' ? /不会再次显示/ : /will not be shown again/);
      const box = await page.locator('#secret-dialog').boundingBox();
      assert.ok(box.x >= 0 && box.x + box.width <= viewport.width, `${lang} ${size}: the secret dialog fits`);
      assert.ok(await page.locator('#secret-copy').isVisible());
      await page.screenshot({ path: path.join(SHOTS, `keys-${lang}-${size}-secret.png`) });
      await page.locator('#secret-done').click();

      await page.locator('#add-key').click();
      await page.locator('#key-dialog').waitFor({ state: 'visible' });
      assert.ok(await overflow() <= 0, `${lang} ${size}: the key dialog is wider than the screen`);
      await page.screenshot({ path: path.join(SHOTS, `keys-${lang}-${size}-dialog.png`) });
      await page.keyboard.press('Escape');
      clean(problems);
    }
  }
});
