// The official openai npm SDK (6.x) against the real catfish binary and a
// fake upstream: what real clients see, answers and errors alike. Each
// scheme (the SDK's `model`) is wired to one fake behaviour.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI, {
  APIError,
  AuthenticationError,
  BadRequestError,
  InternalServerError,
} from 'openai';
import { startFakeUpstream } from '../lib/fake-upstream.mjs';
import { startCatfish } from '../lib/catfish.mjs';

let fake;
let cf;
let client;

const base = { id: 'chatcmpl-sdk', object: 'chat.completion.chunk', created: 1, model: 'fake-model' };
const delta = (content) => ({ ...base, choices: [{ index: 0, delta: { content }, finish_reason: null }] });
const finish = { ...base, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] };
const usageChunk = { ...base, choices: [], usage: { prompt_tokens: 7, completion_tokens: 4, total_tokens: 11 } };

// A stream like OpenAI's: the usage chunk only when asked for.
function streamLikeOpenAI(req, res, body) {
  res.writeHead(200, { 'Content-Type': 'text/event-stream' });
  const events = [delta('po'), delta('ng'), finish];
  if (body?.stream_options?.include_usage) events.push(usageChunk);
  for (const ev of events) res.write(`data: ${JSON.stringify(ev)}\n\n`);
  res.end('data: [DONE]\n\n');
}

const EMBEDDING = [0.5, -0.25, 1, 0.125];

function embeddings(req, res, body) {
  let embedding = EMBEDDING;
  if (body?.encoding_format === 'base64') {
    embedding = Buffer.from(new Float32Array(EMBEDDING).buffer).toString('base64');
  }
  const doc = {
    object: 'list',
    data: [{ object: 'embedding', index: 0, embedding }],
    model: 'fake-embedding',
    usage: { prompt_tokens: 2, total_tokens: 2 },
  };
  res.writeHead(200, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(doc));
}

before(async () => {
  fake = await startFakeUpstream();
  fake.set('chat', (req, res, body) => {
    if (body?.stream) return streamLikeOpenAI(req, res, body);
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({
      id: 'chatcmpl-sdk', object: 'chat.completion', created: 1, model: 'fake-model',
      choices: [{ index: 0, message: { role: 'assistant', content: 'pong' }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 7, completion_tokens: 1, total_tokens: 8 },
    }));
  });
  fake.set('embed', embeddings);
  fake.set('badreq', {
    status: 400,
    json: { error: { message: 'fake upstream: messages[0].content is too weird', type: 'invalid_request_error', param: 'messages', code: 'invalid_value' } },
  });
  // Two chunks, then the upstream hangs up without a finish_reason.
  fake.set('cut', (req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/event-stream' });
    res.write(`data: ${JSON.stringify(delta('par'))}\n\n`);
    res.write(`data: ${JSON.stringify(delta('tial'))}\n\n`);
    setTimeout(() => res.end(), 50);
  });
  // Two chunks, then the connection is destroyed (a reset).
  fake.set('reset', (req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/event-stream' });
    res.write(`data: ${JSON.stringify(delta('par'))}\n\n`);
    res.write(`data: ${JSON.stringify(delta('tial'))}\n\n`);
    setTimeout(() => res.socket.destroy(), 50);
  });

  cf = await startCatfish();
  const add = (scheme, behaviour, extra = {}) => cf.api('POST', '/admin/config', {
    scheme_name: scheme, url: fake.base(behaviour), api_key: 'sk-fake-upstream-000000001', priority: 1, ...extra,
  });
  await add('chat', 'chat');
  await add('embed', 'embed');
  await add('badreq', 'badreq');
  await add('cut', 'cut');
  await add('reset', 'reset');
  const breakerOnFirstFailure = { consecutive_failure_threshold: 1, disable_duration_seconds: 600, max_retries: 0 };
  await add('down', 'fail500', breakerOnFirstFailure);
  await add('down', 'fail500', { ...breakerOnFirstFailure, priority: 2 });

  client = new OpenAI({ apiKey: cf.adminKey, baseURL: `${cf.url}/v1`, maxRetries: 0, timeout: 20_000 });
});

after(async () => {
  await cf?.stop();
  await fake?.close();
});

const messages = [{ role: 'user', content: 'ping' }];

// lastBody returns what the fake upstream received last for behaviour.
function lastBody(behaviour) {
  const reqs = fake.requests.filter((r) => r.behaviour === behaviour);
  return reqs[reqs.length - 1]?.body;
}

test('chat, not streamed: the answer and its usage', async () => {
  const res = await client.chat.completions.create({ model: 'chat', messages });
  assert.equal(res.choices[0].message.content, 'pong');
  assert.equal(res.choices[0].finish_reason, 'stop');
  assert.deepEqual(res.usage, { prompt_tokens: 7, completion_tokens: 1, total_tokens: 8 });
});

test('chat, streamed without include_usage: no usage chunk reaches the SDK', async () => {
  const stream = await client.chat.completions.create({ model: 'chat', messages, stream: true });
  const chunks = [];
  for await (const c of stream) chunks.push(c);
  assert.equal(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join(''), 'pong');
  assert.equal(chunks.at(-1).choices[0].finish_reason, 'stop');
  for (const c of chunks) {
    assert.ok(!c.usage, `a chunk carries usage: ${JSON.stringify(c)}`);
    assert.ok(c.choices.length > 0, `a usage-only chunk reached the SDK: ${JSON.stringify(c)}`);
  }
  // The proxy asked for usage upstream to count tokens, and hid it.
  assert.equal(lastBody('chat').stream_options?.include_usage, true);
});

test('chat, streamed with include_usage: the SDK sees the usage chunk', async () => {
  const stream = await client.chat.completions.create({
    model: 'chat', messages, stream: true, stream_options: { include_usage: true },
  });
  const chunks = [];
  for await (const c of stream) chunks.push(c);
  assert.equal(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join(''), 'pong');
  const last = chunks.at(-1);
  assert.deepEqual(last.choices, []);
  assert.deepEqual(last.usage, { prompt_tokens: 7, completion_tokens: 4, total_tokens: 11 });
  assert.equal(chunks.filter((c) => c.usage).length, 1);
});

test('embeddings', async () => {
  const res = await client.embeddings.create({ model: 'embed', input: 'hello' });
  assert.equal(res.data.length, 1);
  assert.deepEqual(Array.from(res.data[0].embedding), EMBEDDING);
  assert.equal(res.usage.total_tokens, 2);
  assert.equal(fake.requests.filter((r) => r.behaviour === 'embed').at(-1).path, '/embed/v1/embeddings');
});

test('a wrong key is an AuthenticationError (401)', async () => {
  const wrong = new OpenAI({ apiKey: 'sk-not-the-key', baseURL: `${cf.url}/v1`, maxRetries: 0, timeout: 20_000 });
  const hitsBefore = fake.requests.length;
  await assert.rejects(wrong.chat.completions.create({ model: 'chat', messages }), (err) => {
    assert.ok(err instanceof AuthenticationError, `got ${err?.constructor?.name}: ${err}`);
    assert.equal(err.status, 401);
    assert.equal(err.code, 'invalid_api_key');
    return true;
  });
  assert.equal(fake.requests.length, hitsBefore, 'the upstream was called without a valid key');
});

test("an upstream 400 is a BadRequestError with the upstream's message", async () => {
  await assert.rejects(client.chat.completions.create({ model: 'badreq', messages }), (err) => {
    assert.ok(err instanceof BadRequestError, `got ${err?.constructor?.name}: ${err}`);
    assert.equal(err.status, 400);
    assert.match(err.message, /messages\[0\]\.content is too weird/);
    assert.equal(err.code, 'invalid_value');
    assert.equal(err.param, 'messages');
    return true;
  });
  assert.equal(fake.hits('badreq'), 1, 'a bad request was sent more than once');
});

test('every breaker open: an InternalServerError with status 503 and Retry-After', async () => {
  // The first request trips both breakers (threshold 1) and gets the last
  // upstream error, a 500.
  await assert.rejects(client.chat.completions.create({ model: 'down', messages }), (err) => {
    assert.ok(err instanceof InternalServerError, `got ${err?.constructor?.name}: ${err}`);
    assert.equal(err.status, 500);
    return true;
  });
  const hits = fake.hits('fail500');
  assert.equal(hits, 2);
  await assert.rejects(client.chat.completions.create({ model: 'down', messages }), (err) => {
    assert.ok(err instanceof InternalServerError, `got ${err?.constructor?.name}: ${err}`);
    assert.ok(err instanceof APIError);
    assert.equal(err.status, 503);
    assert.equal(err.code, 'no_channel_available');
    const ra = Number(err.headers.get('retry-after'));
    assert.ok(ra > 500 && ra <= 600, `Retry-After ${err.headers.get('retry-after')}`);
    return true;
  });
  assert.equal(fake.hits('fail500'), hits, 'an open channel was called');
});

for (const kind of ['cut', 'reset']) {
  test(`a stream ${kind === 'cut' ? 'that ends' : 'reset'} midway makes the SDK's iterator throw`, async () => {
    const stream = await client.chat.completions.create({ model: kind, messages, stream: true });
    const got = [];
    await assert.rejects(
      (async () => {
        for await (const c of stream) got.push(c.choices[0].delta.content);
      })(),
      (err) => {
        assert.ok(err instanceof APIError, `got ${err?.constructor?.name}: ${err}`);
        assert.match(err.message, /upstream stream/);
        assert.doesNotMatch(err.message, /127\.0\.0\.1/, 'the error gives the upstream address away');
        return true;
      },
    );
    assert.deepEqual(got, ['par', 'tial'], 'the chunks before the break arrive first');
  });
}
