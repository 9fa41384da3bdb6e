// Mid-stream continuation (SPEC 11) as real clients see it: a primary
// channel whose stream dies midway (a reset, an error event, an early end,
// a stall) and a secondary that completes. The openai SDK's chat stream,
// the Anthropic SDK's message stream and the openai SDK's Responses stream
// must each collect exactly the deterministic full text, once (no
// duplicate, no gap), and raise nothing. Both continuation kinds are
// covered: a restart on a channel without prefill (its answer must begin
// with the text already sent, which is skipped) and a prefill on an
// anthropic channel (the text already sent goes up as an assistant turn).
// A Responses stream relayed byte for byte from a responses: true channel
// is continued too, as the same response.
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { startPool, sdkError } from '../lib/pool.mjs';

// The fake streams text 8 characters an event: after 4 events the client
// has "Streams break midway every day. " (ending in a space, which a
// prefill must not end in), after 6 "...A relay that goe" (mid-word).
const FULL = 'Streams break midway every day. A relay that goes on elsewhere gives one whole answer: no duplicate, no gap, and the same words in the same order.';

// Events each upstream dialect sends before its first text delta.
const LEAD = { chat: 1, messages: 3, responses: 4 };

// A responses: true primary, whose stream passes through byte for byte,
// broken after `chunks` text deltas, and the secondary that goes on.
const PASS_CASES = [
  { secondary: 'openai', fault: 'breakAfter', chunks: 4, kind: 'restart' },
  { secondary: 'responses', fault: 'errorAfter', chunks: 6, kind: 'restart' },
  { secondary: 'anthropic', fault: 'endAfter', chunks: 5, kind: 'prefill' },
];
const passName = (c) => `r-pass-${c.secondary}-${c.fault}`;

let pool;
let openai;
let anthropic;

// prefillOf is the assistant text a continuation request ends with, or null.
function prefillOf(body) {
  const last = Array.isArray(body.messages) ? body.messages.at(-1) : null;
  if (last?.role !== 'assistant') return null;
  if (typeof last.content === 'string') return last.content;
  return (last.content || []).map((b) => b.text || '').join('');
}

// continuing answers FULL, or the rest of it after a prefill, as a model
// that continues its own text would.
const continuing = (body) => {
  const p = prefillOf(body);
  return { text: p !== null && FULL.startsWith(p) ? FULL.slice(p.length) : FULL };
};

// Each case: the client dialect, the two channels' kinds, the fault that
// breaks the primary after `chunks` text deltas, and the continuation
// kind the secondary needs.
const CASES = [
  { client: 'chat', primary: 'openai', secondary: 'openai', fault: 'breakAfter', chunks: 4, kind: 'restart' },
  { client: 'chat', primary: 'openai', secondary: 'anthropic', fault: 'endAfter', chunks: 6, kind: 'prefill' },
  { client: 'chat', primary: 'anthropic', secondary: 'openai', fault: 'stallAfter', chunks: 5, kind: 'restart' },
  { client: 'messages', primary: 'anthropic', secondary: 'anthropic', fault: 'breakAfter', chunks: 4, kind: 'prefill' },
  { client: 'messages', primary: 'anthropic', secondary: 'openai', fault: 'errorAfter', chunks: 6, kind: 'restart' },
  { client: 'messages', primary: 'openai', secondary: 'anthropic', fault: 'breakAfter', chunks: 5, kind: 'prefill' },
  { client: 'responses', primary: 'openai', secondary: 'anthropic', fault: 'breakAfter', chunks: 4, kind: 'prefill' },
  { client: 'responses', primary: 'anthropic', secondary: 'openai', fault: 'errorAfter', chunks: 6, kind: 'restart' },
  { client: 'responses', primary: 'openai', secondary: 'openai', fault: 'endAfter', chunks: 5, kind: 'restart' },
];

const upDialect = (kind) => ({ anthropic: 'messages', responses: 'responses' })[kind] || 'chat';
const nameOf = (c) => `${c.client}-${c.primary}-${c.secondary}-${c.fault}`;

before(async () => {
  // A stall is noticed by the stream idle timeout: 2 s here, 90 s by default.
  pool = await startPool({ env: { STREAM_IDLE_TIMEOUT: '2s' } });
  for (const c of CASES) {
    const scheme = nameOf(c);
    await pool.channel(scheme, `${scheme}-p`, c.primary, { priority: 1 });
    await pool.channel(scheme, `${scheme}-s`, c.secondary, { priority: 2 });
  }
  for (const c of PASS_CASES) {
    const scheme = passName(c);
    await pool.channel(scheme, `${scheme}-p`, 'responses', { priority: 1 });
    await pool.channel(scheme, `${scheme}-s`, c.secondary, { priority: 2 });
  }
  openai = new OpenAI({ apiKey: pool.cf.adminKey, baseURL: `${pool.cf.url}/v1`, maxRetries: 0, timeout: 30_000 });
  anthropic = new Anthropic({ apiKey: pool.cf.adminKey, baseURL: pool.cf.url, maxRetries: 0, timeout: 30_000 });
});

after(async () => {
  await pool?.close();
});

beforeEach(() => pool.fake.reset());

// collect runs one streamed request with the client's official SDK and
// returns the text deltas joined, the final object's text, and what
// marks one stream (chunk ids, message_start / response.created counts).
async function collect(client, model) {
  const input = [{ role: 'user', content: 'Tell me about broken streams.' }];
  if (client === 'chat') {
    const stream = openai.chat.completions.stream({ model, messages: input });
    let text = '';
    const ids = new Set();
    stream.on('content', (d) => { text += d; });
    stream.on('chunk', (c) => ids.add(c.id));
    const final = await stream.finalChatCompletion();
    assert.equal(final.choices[0].finish_reason, 'stop');
    assert.equal(ids.size, 1, `the chunks carry ${ids.size} ids: ${[...ids]}`);
    return { text, final: final.choices[0].message.content };
  }
  if (client === 'messages') {
    const stream = anthropic.messages.stream({ model, max_tokens: 1024, messages: input });
    let text = '';
    const types = [];
    stream.on('text', (d) => { text += d; });
    stream.on('streamEvent', (e) => types.push(e.type));
    const final = await stream.finalMessage();
    assert.equal(final.stop_reason, 'end_turn');
    assert.equal(types.filter((t) => t === 'message_start').length, 1, `events: ${types}`);
    assert.equal(types.at(-1), 'message_stop');
    return { text, final: final.content.filter((b) => b.type === 'text').map((b) => b.text).join('') };
  }
  const stream = openai.responses.stream({ model, input });
  let text = '';
  const types = [];
  for await (const e of stream) {
    types.push(e.type);
    if (e.type === 'response.output_text.delta') text += e.delta;
  }
  const final = await stream.finalResponse();
  assert.equal(final.status, 'completed');
  assert.equal(types.filter((t) => t === 'response.created').length, 1, `events: ${types}`);
  assert.equal(types.at(-1), 'response.completed');
  return { text, final: final.output_text };
}

for (const c of CASES) {
  const scheme = nameOf(c);
  test(`${c.client} client, ${c.primary} channel ${c.fault} after ${c.chunks} deltas -> ${c.secondary} channel (${c.kind}): the whole text once`, async () => {
    const cut = LEAD[upDialect(c.primary)] + c.chunks;
    pool.fake.addFault({ when: (r) => r.path.startsWith(`/${scheme}-p/`), plan: continuing, [c.fault]: cut });
    pool.fake.addFault({ when: (r) => r.path.startsWith(`/${scheme}-s/`), plan: continuing });

    let got;
    try {
      got = await collect(c.client, scheme);
    } catch (err) {
      assert.fail(`the SDK raised: ${sdkError(err)}\nupstream requests: ${pool.fake.requests.map((r) => `${r.path} ${JSON.stringify(r.answer.events?.slice(-2))}`).join('; ')}`);
    }
    assert.equal(got.text, FULL, 'the text deltas the SDK saw');
    assert.equal(got.final, FULL, 'the SDK\'s accumulated answer');

    const [p, s, ...rest] = pool.fake.requests;
    assert.equal(rest.length, 0, 'more than two upstream requests');
    assert.ok(p.path.startsWith(`/${scheme}-p/`) && s.path.startsWith(`/${scheme}-s/`), `${p.path} then ${s.path}`);
    assert.equal(p.dialect, upDialect(c.primary));
    assert.equal(s.dialect, upDialect(c.secondary));
    const sent = FULL.slice(0, 8 * c.chunks);
    const prefill = prefillOf(s.body);
    if (c.kind === 'prefill') {
      assert.equal(prefill, sent.trimEnd(), 'the prefill is the text already sent (no trailing whitespace)');
    } else {
      assert.equal(prefill, null, 'a channel without prefill got an assistant turn');
    }
  });
}

for (const c of PASS_CASES) {
  const scheme = passName(c);
  test(`responses client, a responses: true channel ${c.fault} after ${c.chunks} deltas -> ${c.secondary} channel (${c.kind}): continued as the same response, the whole text once`, async () => {
    pool.fake.addFault({ when: (r) => r.path.startsWith(`/${scheme}-p/`), plan: continuing, [c.fault]: LEAD.responses + c.chunks });
    pool.fake.addFault({ when: (r) => r.path.startsWith(`/${scheme}-s/`), plan: continuing });
    const stream = openai.responses.stream({ model: scheme, input: [{ role: 'user', content: 'Tell me about broken streams.' }] });
    let text = '';
    const seqs = [];
    const types = [];
    const responses = new Set();
    const items = new Set();
    let final;
    try {
      for await (const e of stream) {
        types.push(e.type);
        seqs.push(e.sequence_number);
        if (e.response?.id) responses.add(e.response.id);
        if (e.item_id) items.add(e.item_id);
        if (e.type === 'response.output_text.delta') text += e.delta;
      }
      final = await stream.finalResponse();
    } catch (err) {
      assert.fail(`the SDK raised: ${sdkError(err)}\nupstream requests: ${pool.fake.requests.map((r) => `${r.path} ${JSON.stringify(r.answer.events?.slice(-2))}`).join('; ')}`);
    }
    assert.equal(text, FULL, 'the text deltas the SDK saw');
    assert.equal(final.status, 'completed');
    assert.equal(final.output_text, FULL, 'the SDK\'s final response');
    // One response: created once, one id, one message item, its events
    // numbered on across the seam without a gap.
    assert.equal(types.filter((t) => t === 'response.created').length, 1, `events: ${types}`);
    assert.equal(types.at(-1), 'response.completed');
    assert.deepEqual([...responses], [final.id], 'the response ids the stream carried');
    assert.equal(items.size, 1, `item ids: ${[...items]}`);
    assert.deepEqual(seqs, seqs.map((_, i) => i), 'sequence numbers');

    const [p, s, ...rest] = pool.fake.requests;
    assert.equal(rest.length, 0, 'more than two upstream requests');
    assert.equal(p.dialect, 'responses');
    assert.equal(s.dialect, upDialect(c.secondary));
    const prefill = prefillOf(s.body);
    if (c.kind === 'prefill') {
      assert.equal(prefill, FULL.slice(0, 8 * c.chunks).trimEnd(), 'the prefill is the text already sent');
    } else {
      assert.equal(prefill, null, 'a channel without prefill got an assistant turn');
    }
  });
}
