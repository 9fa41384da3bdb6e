// The admin page's parts for dialects and continuation, in a real browser
// (Debian's Chromium via playwright-core) against the real catfish binary
// and the scripted fake LLM: channel type, the Responses switch, extra
// headers (values masked, kept unless changed), prefill, scheme aliases,
// the attempt chain's dialects and continuations, and the mark of a channel
// that refused a prefill; English and Chinese, desktop and phone.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startFakeLLM } from '../lib/fake-llm.mjs';
import { startCatfish } from '../lib/catfish.mjs';
import {
  launchBrowser, pages, signIn as signInAt, eventually, assertClean as clean, DESKTOP, PHONE,
} from '../lib/browser.mjs';

const SHOTS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'screenshots');
// The answer both channels of the continuation scheme give, word for word:
// the second must repeat what the first sent before it broke.
const ANSWER = 'The quick brown fox jumps over the lazy dog, and then it rests.';

let llm;
let cf;
let browser;
let ui;

before(async () => {
  llm = await startFakeLLM();
  cf = await startCatfish();
  browser = await launchBrowser();
  ui = pages(browser);
});

after(async () => {
  await ui?.closeAll();
  await browser?.close();
  await cf?.stop();
  await llm?.close();
});

const open = (opts) => ui.open(opts);

const signIn = (page, tab = 'channels') => signInAt(page, cf, tab);

const row = (page, id) => page.locator(`tr.ch-row[data-id="${id}"]`);
const section = (page, scheme) => page.locator(`section.scheme[data-scheme="${scheme}"]`);

function create(body) {
  return cf.api('POST', '/admin/config', { priority: 1, api_key: 'sk-test-0000000000001234', ...body });
}

// stored returns a channel as the export has it: keys and header values in clear.
async function stored(id) {
  const { config } = await cf.api('GET', '/admin/export');
  return Object.values(config).flat().find((c) => c.id === id);
}

async function shown(id) {
  const all = await cf.api('GET', '/admin/config');
  return Object.values(all).flat().find((c) => c.id === id);
}

async function overflow(page) {
  return page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
}

test('channel form: an Anthropic channel with extra headers and prefill off; header errors inline', async () => {
  const { page, problems } = await open();
  await signIn(page);
  const dialog = page.locator('#channel-dialog');
  const form = page.locator('#channel-form');
  await page.locator('#add-channel').click();
  await dialog.waitFor({ state: 'visible' });
  assert.equal(await form.locator('[name=type]').inputValue(), 'openai', 'OpenAI-compatible by default');
  assert.ok(await form.locator('[name=responses]').isVisible(), 'the Responses switch is offered for openai');
  assert.match(await page.locator('#key-hint').textContent(), /Authorization: Bearer/);
  assert.equal(await page.locator('#prefill-default-label').textContent(), 'Default (Off)');

  await form.locator('[name=name]').fill('Claude direct');
  await form.locator('[name=scheme_name]').fill('dx-form');
  await form.locator('[name=type]').selectOption('anthropic');
  assert.equal(await form.locator('[name=responses]').isVisible(), false, 'no Responses switch for anthropic');
  assert.match(await page.locator('#key-hint').textContent(), /x-api-key/);
  assert.equal(await page.locator('#prefill-default-label').textContent(), 'Default (On)');
  assert.equal(await form.locator('[name=url]').getAttribute('placeholder'), 'https://api.anthropic.com/v1');
  await form.locator('[name=url]').fill(`${llm.url}/dx-form/v1`);
  await form.locator('[name=api_key]').fill('sk-ant-form-000000000000');
  await form.locator('.prefill-field .seg-item:has(input[value=off])').click();

  const rows = form.locator('#header-rows .header-row');
  await page.locator('#add-header').click();
  await rows.nth(0).locator('.h-name').fill('X-Org-Id');
  await rows.nth(0).locator('.h-value').fill('org-secret-value-9876');
  await page.locator('#add-header').click();
  await rows.nth(1).locator('.h-name').fill('HTTP-Referer');
  // A value is needed: said next to the headers, before anything is sent.
  await page.locator('#channel-save').click();
  const err = form.locator('[data-error-for=headers]');
  await err.waitFor({ state: 'visible' });
  assert.equal(await err.textContent(), 'Enter a value for HTTP-Referer.');
  assert.match(await rows.nth(1).getAttribute('class'), /invalid/);
  assert.equal(await page.evaluate(() => document.activeElement.classList.contains('h-value')), true, 'the value to fill has focus');
  await rows.nth(1).locator('.h-value').fill('https://catfish.example');
  assert.equal(await err.isVisible(), false, 'typing clears the error');

  // The API's own refusal lands next to the headers too, on the row it names.
  await page.locator('#add-header').click();
  await rows.nth(2).locator('.h-name').fill('Host');
  await rows.nth(2).locator('.h-value').fill('elsewhere.example');
  await page.locator('#add-header').click(); // an untouched empty row is ignored
  await page.locator('#channel-save').click();
  await err.waitFor({ state: 'visible' });
  assert.match(await err.textContent(), /^Host is set by the proxy/);
  assert.match(await rows.nth(2).getAttribute('class'), /invalid/);
  assert.doesNotMatch(await rows.nth(0).getAttribute('class'), /invalid/);
  assert.ok(await dialog.isVisible());
  assert.equal((await cf.api('GET', '/admin/config'))['dx-form'], undefined, 'nothing was created');
  await rows.nth(2).locator('.h-remove').click();
  assert.equal(await rows.count(), 3);

  await page.locator('#channel-save').click();
  await dialog.waitFor({ state: 'hidden' });
  const [made] = (await cf.api('GET', '/admin/config'))['dx-form'];
  const full = await stored(made.id);
  assert.equal(full.type, 'anthropic');
  assert.equal(full.responses, false);
  assert.equal(full.prefill, false);
  assert.deepEqual(full.headers, { 'X-Org-Id': 'org-secret-value-9876', 'HTTP-Referer': 'https://catfish.example' });

  const r = row(page, made.id);
  await r.waitFor();
  assert.equal(await r.locator('.type-tag').textContent(), 'Anthropic');
  assert.equal(await r.locator('.type-tag').getAttribute('data-type'), 'anthropic');
  assert.equal(await r.locator('.responses-tag').count(), 0);
  assert.equal(await r.locator('.ch-header-names').textContent(), 'HTTP-Referer, X-Org-Id');
  assert.match(await r.locator('.ch-prefill').textContent(), /Prefill\s*Off/);
  const html = await page.content();
  for (const secret of ['org-secret-value-9876', 'catfish.example', 'sk-ant-form-000000000000']) {
    assert.ok(!html.includes(secret), `${secret} is not in the page`);
  }

  // The channel works: its headers and key reach the upstream as set.
  const res = await fetch(`${cf.url}/v1/messages`, {
    method: 'POST',
    headers: { 'x-api-key': cf.adminKey, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
    body: JSON.stringify({ model: 'dx-form', max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] }),
  });
  assert.equal(res.status, 200);
  const seen = llm.requests.filter((q) => q.path.startsWith('/dx-form/')).at(-1);
  assert.equal(seen.headers['x-org-id'], 'org-secret-value-9876');
  assert.equal(seen.headers['http-referer'], 'https://catfish.example');
  assert.equal(seen.headers['x-api-key'], 'sk-ant-form-000000000000');
  clean(problems);
});

test('channel form: editing keeps masked header values; a renamed header needs its value; removing every row clears them', async () => {
  const ch = await create({
    name: 'Headers edit', scheme_name: 'dx-edit', type: 'anthropic', url: `${llm.url}/dx-edit/v1`,
    headers: { 'X-Keep': 'keep-secret-value-0001', 'X-Drop': 'drop-secret-value-0002', 'X-Rename': 'rename-secret-0003' },
  });
  const { page, problems } = await open();
  await signIn(page);
  const dialog = page.locator('#channel-dialog');
  const form = page.locator('#channel-form');
  const r = row(page, ch.id);
  await r.locator('.act-edit').click();
  await dialog.waitFor({ state: 'visible' });
  assert.equal(await form.locator('[name=type]').inputValue(), 'anthropic');
  assert.equal(await form.locator('.prefill-field input[value=default]').isChecked(), true);
  assert.equal(await page.locator('#prefill-default-label').textContent(), 'Default (On)');
  const rows = form.locator('#header-rows .header-row');
  assert.equal(await rows.count(), 3);
  const names = await rows.locator('.h-name').evaluateAll((els) => els.map((e) => e.value));
  assert.deepEqual(names, ['X-Drop', 'X-Keep', 'X-Rename']);
  for (const v of await rows.locator('.h-value').evaluateAll((els) => els.map((e) => [e.value, e.placeholder]))) {
    assert.equal(v[0], '', 'a stored value is never put in the field');
    assert.match(v[1], /^keep (\w+-)?…\d{4}$/, 'the field shows the masked value it keeps');
  }
  assert.match(await page.locator('#headers-hint').textContent(), /leave one empty to keep it/);
  const html = await page.content();
  for (const v of ['keep-secret-value-0001', 'drop-secret-value-0002', 'rename-secret-0003']) {
    assert.ok(!html.includes(v), `${v} is not in the page`);
  }

  await rows.nth(0).locator('.h-remove').click(); // X-Drop
  await rows.nth(1).locator('.h-name').fill('X-Renamed');
  await page.locator('#add-header').click();
  await rows.nth(2).locator('.h-name').fill('X-New');
  await rows.nth(2).locator('.h-value').fill('new-value-0005');
  await page.locator('#channel-save').click();
  const err = form.locator('[data-error-for=headers]');
  await err.waitFor({ state: 'visible' });
  assert.equal(await err.textContent(), 'X-Renamed was renamed: enter its value again.');
  await rows.nth(1).locator('.h-value').fill('renamed-value-0004');
  await page.locator('#channel-save').click();
  await dialog.waitFor({ state: 'hidden' });
  assert.deepEqual((await stored(ch.id)).headers,
    { 'X-Keep': 'keep-secret-value-0001', 'X-Renamed': 'renamed-value-0004', 'X-New': 'new-value-0005' });
  await eventually(async () => assert.equal(await r.locator('.ch-header-names').textContent(), 'X-Keep, X-New, X-Renamed'));

  // Saved again untouched: every value kept.
  await r.locator('.act-edit').click();
  await dialog.waitFor({ state: 'visible' });
  await page.locator('#channel-save').click();
  await dialog.waitFor({ state: 'hidden' });
  assert.deepEqual((await stored(ch.id)).headers,
    { 'X-Keep': 'keep-secret-value-0001', 'X-Renamed': 'renamed-value-0004', 'X-New': 'new-value-0005' });

  // Every row removed: no headers left.
  await r.locator('.act-edit').click();
  await dialog.waitFor({ state: 'visible' });
  while (await rows.count()) await rows.first().locator('.h-remove').click();
  await page.locator('#channel-save').click();
  await dialog.waitFor({ state: 'hidden' });
  const after = (await stored(ch.id)).headers;
  assert.ok(after === null || Object.keys(after).length === 0, `headers cleared, got ${JSON.stringify(after)}`);
  await eventually(async () => assert.equal(await r.locator('.ch-headers').count(), 0));
  clean(problems);
});

test('channel form: the Responses switch is only for OpenAI channels; a refused type is shown inline', async () => {
  const { page, problems } = await open();
  await signIn(page);
  const dialog = page.locator('#channel-dialog');
  const form = page.locator('#channel-form');
  await page.locator('#add-channel').click();
  await dialog.waitFor({ state: 'visible' });
  await form.locator('[name=name]').fill('OpenAI itself');
  await form.locator('[name=scheme_name]').fill('dx-resp');
  await form.locator('[name=url]').fill(`${llm.url}/dx-resp/v1`);
  await form.locator('[name=api_key]').fill('sk-resp-000000000000');
  await form.locator('.responses-field .check-row').click();
  assert.equal(await form.locator('[name=responses]').isChecked(), true);
  await page.locator('#channel-save').click();
  await dialog.waitFor({ state: 'hidden' });
  const [ch] = (await cf.api('GET', '/admin/config'))['dx-resp'];
  assert.equal(ch.type, 'openai');
  assert.equal(ch.responses, true);
  assert.equal(ch.prefill, null, 'prefill left at its default');
  const r = row(page, ch.id);
  await r.waitFor();
  assert.equal(await r.locator('.type-tag').textContent(), 'OpenAI');
  assert.equal(await r.locator('.responses-tag').textContent(), 'Responses');
  assert.equal(await r.locator('.ch-prefill').count(), 0, 'a default prefill is not spelled out');

  // A value the API refuses for `type` is said next to the type.
  await r.locator('.act-edit').click();
  await dialog.waitFor({ state: 'visible' });
  assert.equal(await form.locator('[name=responses]').isChecked(), true);
  await form.locator('[name=type]').evaluate((sel) => {
    sel.append(new Option('gemini', 'gemini'));
    sel.value = 'gemini';
  });
  await page.locator('#channel-save').click();
  const typeErr = form.locator('[data-error-for=type]');
  await typeErr.waitFor({ state: 'visible' });
  assert.match(await typeErr.textContent(), /must be "openai" or "anthropic"/);
  assert.equal(await form.locator('[name=type]').getAttribute('aria-invalid'), 'true');
  await form.locator('[name=type] option[value=gemini]').evaluate((o) => o.remove());

  // Anthropic: the switch goes away and is saved off.
  await form.locator('[name=type]').selectOption('anthropic');
  assert.equal(await typeErr.isVisible(), false);
  assert.equal(await form.locator('[name=responses]').isVisible(), false);
  await page.locator('#channel-save').click();
  await dialog.waitFor({ state: 'hidden' });
  const now = await shown(ch.id);
  assert.equal(now.type, 'anthropic');
  assert.equal(now.responses, false);
  await eventually(async () => assert.equal(await r.locator('.type-tag').textContent(), 'Anthropic'));
  assert.equal(await r.locator('.responses-tag').count(), 0);
  clean(problems);
});

test('scheme aliases: edited inline, a bad list refused inline, an alias routes a request', async () => {
  await create({ name: 'Haiku pool', scheme_name: 'dx-alias', url: `${llm.url}/dx-alias/v1` });
  const { page, problems } = await open();
  await signIn(page);
  const sec = section(page, 'dx-alias');
  const line = sec.locator('.alias-line');
  await line.waitFor();
  assert.match(await line.textContent(), /Aliases\s*none/);
  await sec.locator('.act-aliases').click();
  const input = sec.locator('textarea.alias-input');
  await input.waitFor();
  assert.equal(await page.evaluate(() => document.activeElement.classList.contains('alias-input')), true);

  await input.fill('claude-*-haiku-*, my-model\nmy-model');
  await sec.locator('.act-aliases-save').click();
  const err = sec.locator('.alias-editor .field-error');
  await err.waitFor();
  assert.equal(await err.textContent(), '"my-model" is listed twice');
  assert.match(await sec.locator('.alias-editor').getAttribute('class'), /invalid/);
  assert.deepEqual((await cf.api('GET', '/admin/schemes')).find((s) => s.name === 'dx-alias').aliases, [], 'nothing saved');
  // What was typed survives a re-render (here: switching language twice).
  await page.locator('.topbar .lang-toggle').click();
  await page.locator('.topbar .lang-toggle').click();
  assert.equal(await sec.locator('textarea.alias-input').inputValue(), 'claude-*-haiku-*, my-model\nmy-model');
  assert.equal(await err.textContent(), '"my-model" is listed twice');

  await input.fill('claude-*-haiku-*\nmy-model');
  await sec.locator('.act-aliases-save').click();
  await input.waitFor({ state: 'detached' });
  assert.deepEqual(await sec.locator('.alias-chip').allTextContents(), ['claude-*-haiku-*', 'my-model']);
  assert.deepEqual((await cf.api('GET', '/admin/schemes')).find((s) => s.name === 'dx-alias').aliases, ['claude-*-haiku-*', 'my-model']);
  assert.match(await sec.locator('.scheme-hint').textContent(), /or an alias/);

  // Claude Code's own model name now reaches this scheme.
  const res = await fetch(`${cf.url}/v1/messages`, {
    method: 'POST',
    headers: { 'x-api-key': cf.adminKey, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
    body: JSON.stringify({ model: 'claude-3-5-haiku-20241022', max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] }),
  });
  assert.equal(res.status, 200);
  assert.ok(llm.requests.some((q) => q.path === '/dx-alias/v1/chat/completions'), 'routed by the alias, translated to chat');

  // Escape leaves the editor without saving; an empty list clears them.
  await sec.locator('.act-aliases').click();
  await input.fill('something-else');
  await input.press('Escape');
  await input.waitFor({ state: 'detached' });
  assert.deepEqual(await sec.locator('.alias-chip').allTextContents(), ['claude-*-haiku-*', 'my-model']);
  await sec.locator('.act-aliases').click();
  assert.equal(await input.inputValue(), 'claude-*-haiku-*\nmy-model');
  await input.fill('');
  await sec.locator('.act-aliases-save').click();
  await input.waitFor({ state: 'detached' });
  assert.match(await line.textContent(), /Aliases\s*none/);
  assert.deepEqual((await cf.api('GET', '/admin/schemes')).find((s) => s.name === 'dx-alias').aliases, []);

  // A scheme with aliases but no channel is shown, so they can be cleared.
  await cf.api('PUT', '/admin/schemes/dx-orphan', { aliases: ['gpt-4o-mini'] });
  await page.reload();
  const orphan = section(page, 'dx-orphan');
  await orphan.waitFor();
  assert.equal(await orphan.locator('.pill').textContent(), 'no channels');
  assert.match(await orphan.textContent(), /route nothing until a channel joins/);
  assert.equal(await orphan.locator('tr.ch-row').count(), 0);
  await orphan.locator('.act-aliases').click();
  await orphan.locator('.alias-input').fill('');
  await orphan.locator('.act-aliases-save').click();
  await orphan.waitFor({ state: 'detached' });
  clean(problems);
});

// setupContinuation makes a scheme of two channels: an openai one whose stream
// breaks midway, then an anthropic channel (prefill on by default) that
// answers 400 to an assistant prefill and the whole answer to a restart.
async function setupContinuation(scheme) {
  const first = await create({ name: 'Flaky relay', scheme_name: scheme, url: `${llm.url}/${scheme}-cut/v1`, priority: 1 });
  const second = await create({ name: 'No-prefill Claude', scheme_name: scheme, type: 'anthropic', url: `${llm.url}/${scheme}-pf/v1`, priority: 2 });
  llm.addFault({ when: { path: `^/${scheme}-cut/` }, plan: () => ({ text: ANSWER }), breakAfter: 4 });
  llm.addFault({
    when: (q) => q.path.startsWith(`/${scheme}-pf/`) && (q.body?.messages || []).at(-1)?.role === 'assistant',
    status: 400, errorType: 'invalid_request_error', message: 'assistant message prefill is not supported',
  });
  llm.addFault({ when: { path: `^/${scheme}-pf/` }, plan: () => ({ text: ANSWER }) });
  return { first, second };
}

// chatStreamText sends one streamed chat request and joins its text.
async function chatStreamText(model) {
  const res = await fetch(`${cf.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${cf.adminKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model, stream: true, messages: [{ role: 'user', content: 'tell me' }] }),
  });
  assert.equal(res.status, 200);
  let text = '';
  for (const line of (await res.text()).split('\n')) {
    if (!line.startsWith('data: {')) continue;
    const ev = JSON.parse(line.slice(6));
    assert.equal(ev.error, undefined, `no error event: ${line}`);
    text += ev.choices?.[0]?.delta?.content || '';
  }
  return text;
}

test('logs and channels: dialect in → out per attempt, continuations marked, a refused prefill marked until an edit', async () => {
  const { first, second } = await setupContinuation('dx-cont');
  assert.equal(await chatStreamText('dx-cont'), ANSWER, 'one whole answer despite the break');
  const msg = await fetch(`${cf.url}/v1/messages`, {
    method: 'POST',
    headers: { 'x-api-key': cf.adminKey, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
    body: JSON.stringify({ model: 'dx-cont', max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] }),
  });
  assert.equal(msg.status, 200);
  assert.equal((await shown(second.id)).prefill_rejected, true);

  const { page, problems } = await open();
  await signIn(page, 'logs');
  await page.locator('#requests-body tr.req-row').first().waitFor();
  await page.locator('#f-scheme').selectOption('dx-cont');
  const rows = page.locator('#requests-body tr.req-row');
  await eventually(async () => assert.equal(await rows.count(), 2));

  // Newest first: the Messages request over the openai channel, translated.
  const translated = rows.nth(0);
  assert.equal(await translated.locator('.dialect-tag').textContent(), 'messages');
  const tchip = translated.locator('.chip');
  assert.equal(await tchip.count(), 1);
  assert.equal(await tchip.locator('.chip-way').textContent(), 'messages → chat');
  assert.equal(await tchip.locator('.chip-type').textContent(), 'openai');
  assert.match(await tchip.locator('.chip-route').getAttribute('class'), /translated/);
  assert.match(await tchip.getAttribute('title'), /client spoke messages, the channel was spoken to in chat/);

  // The chat stream: broken on the first channel, continued on the second,
  // whose prefill was refused and which then answered a restart.
  const cont = rows.nth(1);
  assert.equal(await cont.locator('.dialect-tag').textContent(), 'chat');
  assert.equal(await cont.getAttribute('data-attempts'), '3');
  const chips = cont.locator('.chip');
  const texts = await chips.allTextContents();
  assert.match(texts[0], /^Flaky relay\s*openai\s*chat\s*broken/);
  assert.match(texts[1], /^↻ continuation\s*No-prefill Claude\s*anthropic\s*chat → messages\s*prefill_refused/);
  assert.match(texts[2], /^↻ continuation\s*No-prefill Claude\s*anthropic\s*chat → messages\s*continued/);
  assert.equal(await chips.nth(0).getAttribute('data-continuation'), null);
  assert.equal(await chips.nth(1).getAttribute('data-continuation'), 'true');
  assert.match(await chips.nth(0).getAttribute('class'), /\bfail\b/);
  assert.match(await chips.nth(1).getAttribute('class'), /\bwarn\b.*is-cont|is-cont.*\bwarn\b/);
  assert.match(await chips.nth(2).getAttribute('class'), /\bok\b/);
  assert.match(await chips.nth(2).getAttribute('title'), /Took over a stream that broke midway/);
  assert.equal(await chips.nth(0).getAttribute('data-channel'), first.id);

  // The channel that refused the prefill is marked, with what clears it.
  await page.locator('.tab[data-tab=channels]').click();
  const r = row(page, second.id);
  const mark = r.locator('.prefill-rejected');
  await mark.waitFor();
  assert.equal(await mark.textContent(), '⚠ prefill refused');
  assert.match(await mark.getAttribute('title'), /Editing the channel clears this mark/);
  assert.equal(await row(page, first.id).locator('.prefill-rejected').count(), 0);
  await r.locator('.act-edit').click();
  const note = page.locator('#prefill-rejected-note');
  await note.waitFor({ state: 'visible' });
  assert.match(await note.textContent(), /Saving the channel clears this mark/);
  await page.locator('#channel-save').click();
  await page.locator('#channel-dialog').waitFor({ state: 'hidden' });
  await mark.waitFor({ state: 'detached' });
  assert.equal((await shown(second.id)).prefill_rejected, false);
  // The dialog of another channel does not carry the note over.
  await row(page, first.id).locator('.act-edit').click();
  await page.locator('#channel-dialog').waitFor({ state: 'visible' });
  assert.equal(await note.isVisible(), false);
  await page.keyboard.press('Escape');
  clean(problems);
});

test('Chinese and phone width: the new parts are translated and fit; screenshots', async () => {
  await mkdir(SHOTS, { recursive: true });
  // A channel with every new part showing, a prefill mark and aliases.
  const { second } = await setupContinuation('dx-shot');
  await cf.api('PUT', `/admin/config/${second.id}`, { headers: { 'anthropic-beta': 'prompt-caching-2024-07-31', 'X-Team': 'team-secret-value-1' } });
  assert.equal(await chatStreamText('dx-shot'), ANSWER);
  await cf.api('PUT', '/admin/schemes/dx-shot', { aliases: ['claude-sonnet-*', 'claude-opus-4-1', 'gpt-5-codex'] });
  await fetch(`${cf.url}/v1/messages`, {
    method: 'POST',
    headers: { 'x-api-key': cf.adminKey, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] }),
  });

  for (const [lang, locale] of [['zh', 'zh-CN'], ['en', 'en-US']]) {
    for (const [size, viewport] of [['phone', PHONE], ['desktop', DESKTOP]]) {
      const { page, problems } = await open({ locale, viewport });
      await signIn(page);
      const sec = section(page, 'dx-shot');
      await sec.locator('.alias-line').waitFor();
      const r = row(page, second.id);
      await r.locator('.prefill-rejected').waitFor();
      if (lang === 'zh') {
        assert.equal(await sec.locator('.alias-line .meta-k').textContent(), '别名');
        assert.equal(await sec.locator('.act-aliases').textContent(), '编辑别名');
        assert.equal(await r.locator('.prefill-rejected').textContent(), '⚠ 拒绝预填充');
        assert.match(await r.locator('.prefill-rejected').getAttribute('title'), /编辑该渠道会清除此标记/);
        assert.equal(await r.locator('.ch-headers .meta-k').textContent(), '请求头');
      }
      assert.ok(await overflow(page) <= 0, `${lang} ${size} channels: wider than the screen`);
      await sec.scrollIntoViewIfNeeded();
      await sec.screenshot({ path: path.join(SHOTS, `${lang}-${size}-dialects-scheme.png`) });

      await sec.locator('.act-aliases').click();
      await sec.locator('.alias-input').fill('claude-sonnet-*\nclaude-sonnet-*');
      await sec.locator('.act-aliases-save').click();
      await sec.locator('.alias-editor .field-error').waitFor();
      if (lang === 'zh') assert.equal(await sec.locator('.act-aliases-save').textContent(), '保存');
      assert.ok(await overflow(page) <= 0, `${lang} ${size} alias editor: wider than the screen`);
      await sec.screenshot({ path: path.join(SHOTS, `${lang}-${size}-dialects-aliases.png`) });
      await sec.locator('.act-aliases-cancel').click();

      await r.locator('.act-edit').click();
      const dialog = page.locator('#channel-dialog');
      await dialog.waitFor({ state: 'visible' });
      const form = page.locator('#channel-form');
      if (lang === 'zh') {
        assert.deepEqual(await form.locator('[name=type] option').allTextContents(), ['OpenAI 兼容（Chat Completions）', 'Anthropic（Messages）']);
        assert.deepEqual(await form.locator('.prefill-field .seg-item span').allTextContents(), ['默认（开）', '开', '关']);
        assert.equal(await form.locator('.headers-field legend').textContent(), '额外请求头');
        assert.equal(await page.locator('#add-header').textContent(), '+ 添加请求头');
      }
      await page.locator('#add-header').click();
      const fits = await form.evaluate((f) => [...f.querySelectorAll('.dialog-body *')].every((el) => {
        const b = el.getBoundingClientRect();
        const body = f.querySelector('.dialog-body').getBoundingClientRect();
        return b.width === 0 || (b.left >= body.left - 0.5 && b.right <= body.right + 0.5);
      }));
      assert.ok(fits, `${lang} ${size}: every part of the form fits the dialog`);
      await form.locator('.prefill-field').scrollIntoViewIfNeeded();
      await page.screenshot({ path: path.join(SHOTS, `${lang}-${size}-dialects-form.png`) });
      await page.keyboard.press('Escape');
      await dialog.waitFor({ state: 'hidden' });

      await page.locator('.tab[data-tab=logs]').click();
      await page.locator('#f-scheme').selectOption('dx-shot');
      const cont = page.locator('#requests-body tr.req-row[data-attempts="3"]').first();
      await cont.waitFor();
      if (lang === 'zh') assert.match(await cont.locator('.chip.is-cont').first().textContent(), /^↻ 续传/);
      assert.ok(await overflow(page) <= 0, `${lang} ${size} logs: wider than the screen`);
      const tbody = page.locator('#requests-body');
      await tbody.screenshot({ path: path.join(SHOTS, `${lang}-${size}-dialects-logs.png`) });
      clean(problems);
    }
  }
});
