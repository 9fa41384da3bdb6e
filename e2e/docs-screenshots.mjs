// Screenshots of the admin page for the documentation (docs/screenshots/).
//
//   node e2e/docs-screenshots.mjs        (from the repository root or from e2e/)
//
// Not a test and not part of `npm test`: it builds and starts catfish with a
// fresh DATA_DIR, starts the fake upstream, sets up realistic schemes and
// channels through the admin API (one of type anthropic, a few with extra
// headers, a scheme with aliases), sends a few hundred proxied requests
// (mostly successes, a few failovers and retries, some in Anthropic's
// dialect as Claude Code sends them, one channel whose breaker ends up
// open), then takes the pictures in English and Chinese.
//
// Every channel points at the fake upstream on 127.0.0.1; the provider is
// only in the channel's name and in the first path segment of its URL, which
// selects the fake's behaviour. Keys are made up.
import { mkdir } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startFakeUpstream } from './lib/fake-upstream.mjs';
import { startCatfish } from './lib/catfish.mjs';
import { launchBrowser, watchPage } from './lib/browser.mjs';

const OUT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'docs', 'screenshots');
const DESKTOP = { width: 1366, height: 1000 };
const PHONE = { width: 390, height: 844 };

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A seeded generator, so every run draws the same traffic.
let seed = 20240611;
function random() {
  seed = (seed * 1664525 + 1013904223) >>> 0;
  return seed / 2 ** 32;
}
const between = (lo, hi) => Math.round(lo + random() * (hi - lo));
const pick = (list) => list[Math.floor(random() * list.length)];

// fakeKey makes a key of the given shape that no provider ever issued.
function fakeKey(prefix, label, len, alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789') {
  const bytes = createHash('sha512').update(`catfish-docs-${label}`).digest();
  let s = '';
  for (let i = 0; i < len; i++) s += alphabet[bytes[i % bytes.length] % alphabet.length];
  return prefix + s;
}

const PROMPTS = [
  'Summarise this meeting transcript in five bullet points.',
  'Write a SQL query that returns the ten most active users this month.',
  'Translate the following paragraph into French.',
  'Explain the difference between a mutex and a semaphore.',
  'Draft a polite reply declining the invitation.',
  'Refactor this function to avoid the nested loops.',
  'What are the main risks in this contract clause?',
  'Generate three subject lines for the product launch email.',
];
const REPLIES = [
  'Here is a concise summary of the main points.',
  'Sure! Below is a query that does exactly that.',
  'The key difference is ownership: a mutex is held by one thread.',
  'Thank you for the kind invitation; unfortunately I cannot attend.',
  'Here is a refactored version that runs in linear time.',
];

// ---- fake providers --------------------------------------------------------

function completion(model, text, usage) {
  return {
    id: `chatcmpl-${between(1e9, 9e9).toString(36)}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
    usage,
  };
}

async function sendStream(res, model, text, usage) {
  const base = { id: `chatcmpl-${between(1e9, 9e9).toString(36)}`, object: 'chat.completion.chunk', created: Math.floor(Date.now() / 1000), model };
  res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
  const send = (o) => res.write(`data: ${JSON.stringify(o)}\n\n`);
  send({ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] });
  for (const word of text.split(/(?<= )/)) {
    send({ ...base, choices: [{ index: 0, delta: { content: word }, finish_reason: null }] });
    await sleep(between(8, 25));
  }
  send({ ...base, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] });
  send({ ...base, choices: [], usage });
  res.write('data: [DONE]\n\n');
  res.end();
}

// provider answers like an OpenAI-compatible API after a realistic delay.
// fails(n) decides, for the n-th request it sees, whether to answer with an
// error instead: it returns [status, message, type] or null. Unless
// `streaks` is set, it never fails twice in a row on its own, so a breaker
// only opens where the script means it to.
function provider({ ttfb, fails = () => null, streaks = false }) {
  let n = 0;
  let streak = 0;
  const p = {
    forced: 0, // the next `forced` requests fail the way this provider usually fails (fails.shape)
    handler: async (req, res, body) => {
      const i = n++;
      let failure = null;
      if (p.forced > 0) { p.forced--; failure = fails.shape; }
      else if (streaks || streak === 0) failure = fails(i);
      streak = failure ? streak + 1 : 0;
      await sleep(between(ttfb[0], ttfb[1]) * (failure ? 0.3 : 1));
      if (failure) {
        const [status, message, type] = failure;
        const b = JSON.stringify({ error: { message, type, param: null, code: null } });
        res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(b) });
        res.end(b);
        return;
      }
      const model = (body && body.model) || 'unknown';
      const text = pick(REPLIES);
      const maxTokens = body && body.max_tokens;
      const completionTokens = maxTokens && maxTokens < 5 ? maxTokens : between(40, 900);
      const promptTokens = between(60, 2400);
      const usage = { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
      if (body && body.stream) return sendStream(res, model, text, usage);
      const b = JSON.stringify(completion(model, text, usage));
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(b) });
      res.end(b);
    },
  };
  return p;
}

// anthropicProvider answers like Anthropic's Messages API (JSON or SSE),
// for a channel of type "anthropic".
function anthropicProvider({ ttfb }) {
  const p = {
    forced: 0, // the next `forced` requests answer 529 overloaded_error
    handler: async (req, res, body) => {
      if (p.forced > 0) {
        p.forced--;
        await sleep(between(ttfb[0], ttfb[1]) * 0.3);
        const b = JSON.stringify({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } });
        res.writeHead(529, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(b) });
        res.end(b);
        return;
      }
      await sleep(between(ttfb[0], ttfb[1]));
      const model = (body && body.model) || 'unknown';
      const text = pick(REPLIES);
      const input = between(60, 2400);
      const output = between(40, 900);
      const id = `msg_${between(1e9, 9e9).toString(36)}`;
      if (!body || !body.stream) {
        const b = JSON.stringify({
          id, type: 'message', role: 'assistant', model, content: [{ type: 'text', text }],
          stop_reason: 'end_turn', stop_sequence: null, usage: { input_tokens: input, output_tokens: output },
        });
        res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(b) });
        res.end(b);
        return;
      }
      res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
      const ev = (type, data) => res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
      ev('message_start', { message: { id, type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: input, output_tokens: 1 } } });
      ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } });
      for (const word of text.split(/(?<= )/)) {
        ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: word } });
        await sleep(between(8, 25));
      }
      ev('content_block_stop', { index: 0 });
      ev('message_delta', { delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: output } });
      ev('message_stop', {});
      res.end();
    },
  };
  return p;
}

const OPENAI_500 = [500, 'The server had an error while processing your request. Sorry about that!', 'server_error'];
const BUSY_503 = [503, 'Server is busy, please try again later.', 'server_error'];
const RELAY_502 = [502, 'upstream connect error or disconnect/reset before headers', 'upstream_error'];
const PROVIDER_502 = [502, 'Provider returned error', 'server_error'];

const incident = { openai: false, relayDown: false };
const openaiFails = (i) => (incident.openai ? (i % 3 === 0 ? OPENAI_500 : null) : (i % 11 === 6 ? OPENAI_500 : null));
openaiFails.shape = OPENAI_500;
const deepseekFails = (i) => (i % 17 === 9 ? BUSY_503 : null);
deepseekFails.shape = BUSY_503;
const relayFails = () => (incident.relayDown ? RELAY_502 : null);
relayFails.shape = RELAY_502;
const openrouterFails = () => null; // fails only when told to (forced)
openrouterFails.shape = PROVIDER_502;

const providers = {
  openai: provider({ ttfb: [180, 650], fails: openaiFails }),
  'azure-eastus': provider({ ttfb: [220, 800] }),
  relay: provider({ ttfb: [300, 1100], fails: relayFails, streaks: true }),
  deepseek: provider({ ttfb: [250, 900], fails: deepseekFails }),
  siliconflow: provider({ ttfb: [350, 1200] }),
  openrouter: provider({ ttfb: [450, 1500], fails: openrouterFails }),
  anthropic: anthropicProvider({ ttfb: [400, 1300] }),
};

// ---- setup -----------------------------------------------------------------

let fake;
let cf;
let browser;

async function main() {
  fake = await startFakeUpstream();
  for (const [name, p] of Object.entries(providers)) fake.set(name, p.handler);
  cf = await startCatfish();

  const HEX = '0123456789abcdef';
  const channels = [
    { scheme_name: 'gpt-4o', name: 'OpenAI (primary)', priority: 1, url: fake.base('openai'), max_retries: 0,
      api_key: fakeKey('sk-proj-', 'openai', 48) },
    { scheme_name: 'gpt-4o', name: 'Azure East US', priority: 2, url: fake.base('azure-eastus'),
      api_key: fakeKey('', 'azure', 32, HEX), model: 'gpt-4o-2024-11-20', headers: { 'api-key': fakeKey('', 'azure', 32, HEX) } },
    { scheme_name: 'gpt-4o', name: 'Backup relay', priority: 2, url: fake.base('relay'), max_retries: 0,
      consecutive_failure_threshold: 3, disable_duration_seconds: 900, api_key: fakeKey('sk-', 'relay', 48) },
    { scheme_name: 'deepseek-chat', name: 'DeepSeek official', priority: 1, url: fake.base('deepseek'),
      api_key: fakeKey('sk-', 'deepseek', 32, HEX) },
    { scheme_name: 'deepseek-chat', name: 'SiliconFlow', priority: 2, url: fake.base('siliconflow'),
      api_key: fakeKey('sk-', 'siliconflow', 48, 'abcdefghijklmnopqrstuvwxyz'), model: 'deepseek-ai/DeepSeek-V3' },
    { scheme_name: 'claude-sonnet', name: 'OpenRouter', priority: 1, url: fake.base('openrouter'),
      api_key: fakeKey('sk-or-v1-', 'openrouter', 64, HEX), model: 'anthropic/claude-sonnet-4',
      headers: { 'HTTP-Referer': 'https://chat.example.com', 'X-Title': 'Example Chat' } },
    { scheme_name: 'claude-sonnet', name: 'Anthropic', priority: 2, type: 'anthropic', url: fake.base('anthropic'),
      api_key: fakeKey('sk-ant-api03-', 'anthropic', 80), model: 'claude-sonnet-4-5' },
  ];
  const ids = {};
  for (const ch of channels) ids[ch.name] = (await cf.api('POST', '/admin/config', ch)).id;
  // Claude Code sends its own model names; these route them to claude-sonnet.
  await cf.api('PUT', '/admin/schemes/claude-sonnet', { aliases: ['claude-sonnet-4-*', 'claude-3-7-sonnet-*'] });

  const status = {};
  async function send(scheme, { stream = random() < 0.3 } = {}) {
    const extra = { messages: [{ role: 'user', content: pick(PROMPTS) }], stream };
    if (stream) extra.stream_options = { include_usage: true };
    const r = await cf.chat(scheme, extra);
    status[r.status] = (status[r.status] || 0) + 1;
    return r;
  }
  // sendMessages is Claude Code: Anthropic Messages, its own model name.
  async function sendMessages({ stream = random() < 0.6 } = {}) {
    const r = await fetch(`${cf.url}/v1/messages?beta=true`, {
      method: 'POST',
      headers: { 'x-api-key': cf.adminKey, 'anthropic-version': '2023-06-01', 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'claude-sonnet-4-5-20250929', max_tokens: 4096, stream, messages: [{ role: 'user', content: pick(PROMPTS) }] }),
    });
    await r.text();
    status[r.status] = (status[r.status] || 0) + 1;
    return r;
  }
  const someScheme = () => { const x = random(); return x < 0.5 ? 'gpt-4o' : x < 0.8 ? 'deepseek-chat' : 'claude-sonnet'; };

  async function pool(jobs, workers) {
    let next = 0;
    await Promise.all(Array.from({ length: workers }, async () => {
      while (next < jobs.length) await jobs[next++]();
    }));
  }

  // 1. Ordinary traffic: the primary fails now and then, the others take over.
  await pool(Array.from({ length: 220 }, () => {
    if (random() < 0.12) return () => sendMessages();
    const s = someScheme();
    return () => send(s);
  }), 8);
  // When OpenRouter fails twice (the try and its retry), the Anthropic
  // channel answers, translated; once it is overloaded too and the client
  // gets the error. The next request succeeds, so OpenRouter's breaker (3
  // failures in a row) stays closed.
  // DeepSeek official sometimes stays busy through its retry, and
  // SiliconFlow answers instead.
  for (let i = 0; i < 3; i++) {
    providers.openrouter.forced = 2;
    if (i === 1) providers.anthropic.forced = 2;
    await send('claude-sonnet');
    await send('claude-sonnet');
    providers.deepseek.forced = 2;
    await send('deepseek-chat');
    await send('deepseek-chat');
    for (let j = 0; j < 5; j++) await send(someScheme());
  }

  // 2. The backup relay goes down during a short burst of primary errors,
  //    until its breaker opens (3 failures in a row, open for 15 minutes).
  incident.openai = true;
  incident.relayDown = true;
  for (let i = 0; i < 80; i++) {
    await send('gpt-4o');
    const all = await cf.api('GET', '/admin/config');
    const relay = all['gpt-4o'].find((c) => c.id === ids['Backup relay']);
    if (relay.breaker && relay.breaker.state === 'open') break;
  }
  incident.openai = false;

  // 3. A calm tail, then the newest rows of the Logs tab, oldest first: a
  //    retry that ends on the second channel, a failover, a failed request.
  await pool(Array.from({ length: 40 }, () => { const s = someScheme(); return () => send(s); }), 4);
  const tail = [
    ['gpt-4o', true], ['claude-sonnet', false],
    ['deepseek-chat', true, 'deepseek'], // 503, 503 again, then SiliconFlow
    ['gpt-4o', false], ['claude-sonnet', true],
    ['gpt-4o', false, 'openai'], // 500, then Azure East US
    ['deepseek-chat', false],
    ['claude-sonnet', true, 'openrouter'], // 502 twice, then Anthropic (chat → messages)
    ['messages', true], // Claude Code over OpenRouter (messages → chat)
    ['claude-sonnet', false, 'openrouter', 'anthropic'], // both fail: the client gets the error
    ['claude-sonnet', false], ['gpt-4o', true],
    ['messages', false, 'openrouter'], // 502 twice, then Anthropic as is
    ['deepseek-chat', true], ['gpt-4o', false],
  ];
  for (const [scheme, stream, ...failing] of tail) {
    for (const f of failing) providers[f].forced = f === 'openai' ? 1 : 2;
    if (scheme === 'messages') await sendMessages({ stream });
    else await send(scheme, { stream });
  }
  console.log('responses by status:', JSON.stringify(status));

  const config = await cf.api('GET', '/admin/config');
  for (const [scheme, list] of Object.entries(config)) {
    for (const ch of list) console.log(`${scheme} / ${ch.name}: breaker ${ch.breaker?.state} (${ch.breaker?.consecutive_fails} in a row)`);
  }

  // ---- screenshots ---------------------------------------------------------
  await mkdir(OUT, { recursive: true });
  browser = await launchBrowser();
  const problems = [];

  async function open(locale, viewport) {
    const context = await browser.newContext({ locale, viewport, deviceScaleFactor: 1 });
    const page = await context.newPage();
    problems.push(watchPage(page));
    await page.goto(`${cf.url}/`);
    await page.locator('#login-key').fill(cf.adminKey);
    await page.locator('#login-form button[type=submit]').click();
    await page.locator('#app').waitFor({ state: 'visible' });
    return { context, page };
  }

  const READY = { channels: '#channels-body .scheme', stats: '#stats-body .cards', logs: '#requests-body tr.req-row' };
  async function showTab(page, tab) {
    await page.locator(`.tab[data-tab=${tab}]`).click();
    await page.locator(READY[tab]).first().waitFor();
    await sleep(600); // charts are drawn to the measured width
    await page.evaluate(() => { document.activeElement?.blur(); scrollTo(0, 0); });
  }

  // shoot saves the viewport, or the whole page when it is shorter. With
  // `until`, the picture ends below that element instead (if it is not far).
  async function shoot(page, file, until) {
    const vp = page.viewportSize();
    let height = await page.evaluate(() => document.documentElement.scrollHeight);
    height = Math.min(height, vp.height);
    if (until) {
      const box = await page.locator(until).first().boundingBox();
      if (box && box.y + box.height + 10 <= vp.height * 1.4) height = Math.ceil(box.y + box.height + 10);
    }
    const clip = { x: 0, y: 0, width: vp.width, height };
    await page.screenshot({ path: path.join(OUT, file), clip, fullPage: true });
    console.log(`wrote docs/screenshots/${file} (${clip.width}×${clip.height})`);
  }

  for (const [suffix, locale] of [['', 'en-US'], ['-zh', 'zh-CN']]) {
    const { context, page } = await open(locale, DESKTOP);
    for (const tab of ['channels', 'stats', 'logs']) {
      await showTab(page, tab);
      await shoot(page, `${tab}${suffix}.png`, tab === 'stats' ? '#stats-body .two-col' : null);
    }
    await context.close();
  }
  const phone = await open('en-US', PHONE);
  await showTab(phone.page, 'channels');
  await shoot(phone.page, 'phone.png');
  await phone.context.close();

  const found = problems.flatMap((p) => [...p.errors, ...p.dialogs]);
  if (found.length) throw new Error(`the page reported problems:\n${found.join('\n')}`);
}

try {
  await main();
} catch (err) {
  console.error(err);
  process.exitCode = 1;
} finally {
  await browser?.close().catch(() => {});
  await cf?.stop();
  await fake?.close();
}
