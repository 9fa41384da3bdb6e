// The official openai SDK (6.x) against the real catfish binary over every
// channel type, with the scripted fake LLM (lib/fake-llm.mjs) behind:
// chat completions over an `anthropic` channel (translated, tool calls,
// streamed, usage chunk), the Responses API over a chat-only `openai`
// channel, an `anthropic` channel and a `responses: true` channel
// (passthrough), errors and broken streams, and client keys.
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI, {
  APIError,
  AuthenticationError,
  BadRequestError,
  NotFoundError,
  RateLimitError,
} from 'openai';
import { startPool, sdkError } from '../lib/pool.mjs';

const TASK = 'Create a file named hello.txt containing exactly: hi from catfish';
const LONG = 'Catfish relays this answer in many small pieces, and the SDK must see every one of them exactly once.';
const writeParams = {
  type: 'object',
  properties: { path: { type: 'string' }, content: { type: 'string' } },
  required: ['path', 'content'],
  additionalProperties: false,
};

let pool;
let client;

before(async () => {
  pool = await startPool();
  await pool.channel('anth', 'a1', 'anthropic', { model: 'claude-upstream' });
  await pool.channel('chat', 'o1', 'openai');
  await pool.channel('resp', 'r1', 'responses');
  await pool.channel('other', 'x1', 'openai');
  client = new OpenAI({ apiKey: pool.cf.adminKey, baseURL: `${pool.cf.url}/v1`, maxRetries: 0, timeout: 20_000 });
});

after(async () => {
  await pool?.close();
});

beforeEach(() => pool.fake.reset());

const onChannel = (name, more = {}) => ({ when: (r) => r.path.startsWith(`/${name}/`), ...more });
const says = (text) => () => ({ text });

// ------------------------------------------------ chat over an anthropic channel

const chatTools = [{ type: 'function', function: { name: 'write_file', description: 'Write a file.', parameters: writeParams, strict: true } }];

test('chat over an anthropic channel: a tool call, then the tool result turn', async () => {
  const first = [{ role: 'user', content: TASK }];
  const res = await client.chat.completions.create({ model: 'anth', messages: first, tools: chatTools });
  const choice = res.choices[0];
  assert.equal(choice.finish_reason, 'tool_calls');
  assert.match(res.id, /^chatcmpl-/);
  const call = choice.message.tool_calls[0];
  assert.equal(call.type, 'function');
  assert.equal(call.function.name, 'write_file');
  assert.deepEqual(JSON.parse(call.function.arguments), { path: 'hello.txt', content: 'hi from catfish' });
  assert.ok(res.usage.prompt_tokens > 0 && res.usage.completion_tokens > 0);

  const done = await client.chat.completions.create({
    model: 'anth', tools: chatTools,
    messages: [...first, choice.message, { role: 'tool', tool_call_id: call.id, content: 'File created.' }],
  });
  assert.equal(done.choices[0].finish_reason, 'stop');
  assert.match(done.choices[0].message.content, /^Done: hello\.txt/);

  const [up1, up2] = pool.seen('a1');
  assert.equal(up1.dialect, 'messages');
  assert.equal(up1.headers['x-api-key'], 'sk-upstream-a1-0123456789abcdef');
  assert.equal(up1.body.model, 'claude-upstream');
  assert.ok(up1.body.max_tokens > 0, 'a Messages upstream needs max_tokens');
  assert.deepEqual(up1.body.tools.map((t) => [t.name, t.input_schema.required]), [['write_file', ['path', 'content']]]);
  const last = up2.body.messages.at(-1);
  assert.equal(last.role, 'user');
  assert.equal(last.content[0].type, 'tool_result');
  assert.equal(last.content[0].tool_use_id, up2.body.messages.at(-2).content.find((b) => b.type === 'tool_use').id);
});

test('chat over an anthropic channel, streamed: the SDK\'s stream helper assembles the tool call; the usage chunk when asked', async () => {
  const stream = client.chat.completions.stream({
    model: 'anth', messages: [{ role: 'user', content: TASK }], tools: chatTools,
    stream_options: { include_usage: true },
  });
  const argDeltas = [];
  let done = null;
  stream.on('tool_calls.function.arguments.delta', (e) => argDeltas.push(e.arguments_delta));
  stream.on('tool_calls.function.arguments.done', (e) => { done = e; });
  const chunks = [];
  for await (const c of stream) chunks.push(c);
  const final = await stream.finalChatCompletion();
  assert.ok(argDeltas.length > 1, 'the arguments did not arrive in pieces');
  assert.equal(done?.name, 'write_file');
  assert.deepEqual(done.parsed_arguments, { path: 'hello.txt', content: 'hi from catfish' });
  const msg = final.choices[0].message;
  assert.equal(final.choices[0].finish_reason, 'tool_calls');
  assert.equal(msg.tool_calls.length, 1);
  assert.deepEqual(JSON.parse(msg.tool_calls[0].function.arguments), { path: 'hello.txt', content: 'hi from catfish' });
  assert.equal(new Set(chunks.map((c) => c.id)).size, 1, 'chunks carry different ids');
  const usage = chunks.filter((c) => c.usage);
  assert.equal(usage.length, 1, 'exactly one usage chunk');
  assert.deepEqual(usage[0].choices, []);
  assert.ok(usage[0].usage.prompt_tokens > 0 && usage[0].usage.completion_tokens > 0);
  assert.equal(chunks.at(-1), usage[0], 'the usage chunk is the last');
  assert.equal(pool.seen('a1')[0].body.stream, true);
});

test('chat over an anthropic channel, streamed text without include_usage: the text once, no usage chunk', async () => {
  pool.fake.addFault(onChannel('a1', { plan: says(LONG) }));
  const stream = client.chat.completions.stream({ model: 'anth', messages: [{ role: 'user', content: 'hello' }] });
  let text = '';
  stream.on('content', (delta) => { text += delta; });
  const chunks = [];
  for await (const c of stream) chunks.push(c);
  const final = await stream.finalChatCompletion();
  assert.equal(text, LONG);
  assert.equal(final.choices[0].message.content, LONG);
  assert.equal(final.choices[0].finish_reason, 'stop');
  assert.ok(chunks.every((c) => !c.usage && c.choices.length === 1), 'a usage chunk reached a client that did not ask');
});

// ------------------------------------------------ responses over every channel type

const RESPONSE_ROUTES = [
  { scheme: 'chat', channel: 'o1', kind: 'openai (chat only)', up: 'chat', cut: 3 },
  { scheme: 'anth', channel: 'a1', kind: 'anthropic', up: 'messages', cut: 5 },
  { scheme: 'resp', channel: 'r1', kind: 'responses: true', up: 'responses', cut: 6 },
];
const respTools = [{ type: 'function', name: 'write_file', description: 'Write a file.', parameters: writeParams, strict: false }];

for (const route of RESPONSE_ROUTES) {
  test(`responses over an ${route.kind} channel: responses.create`, async () => {
    const res = await client.responses.create({ model: route.scheme, input: 'hello', instructions: 'Be brief.' });
    assert.equal(res.object, 'response');
    assert.equal(res.status, 'completed');
    assert.match(res.id, /^resp_/);
    assert.equal(res.output_text, 'OK.');
    assert.ok(res.usage.input_tokens > 0 && res.usage.output_tokens > 0, JSON.stringify(res.usage));
    const [up] = pool.seen(route.channel);
    assert.equal(up.dialect, route.up);
    assert.equal(up.body.stream ?? false, false);
    if (route.up === 'responses') assert.equal(up.body.instructions, 'Be brief.');
    if (route.up === 'chat') assert.deepEqual(up.body.messages[0], { role: 'system', content: 'Be brief.' });
    if (route.up === 'messages') assert.match(JSON.stringify(up.body.system), /Be brief\./);
  });

  test(`responses over an ${route.kind} channel: responses.stream delivers the text once, events in order`, async () => {
    pool.fake.addFault(onChannel(route.channel, { plan: says(LONG) }));
    const stream = client.responses.stream({ model: route.scheme, input: 'hello' });
    let text = '';
    const types = [];
    let seq = -1;
    for await (const e of stream) {
      types.push(e.type);
      assert.ok(e.sequence_number > seq, `sequence_number ${e.sequence_number} after ${seq}`);
      seq = e.sequence_number;
      if (e.type === 'response.output_text.delta') text += e.delta;
    }
    const final = await stream.finalResponse();
    assert.equal(text, LONG);
    assert.equal(final.output_text, LONG);
    assert.equal(final.status, 'completed');
    assert.equal(types[0], 'response.created');
    assert.equal(types.at(-1), 'response.completed');
    for (const t of ['response.output_item.added', 'response.content_part.added', 'response.output_text.done', 'response.output_item.done']) {
      assert.ok(types.includes(t), `no ${t} in ${types}`);
    }
    assert.equal(pool.seen(route.channel)[0].dialect, route.up);
  });

  test(`responses over an ${route.kind} channel: function calling, streamed, then the function_call_output turn`, async () => {
    const input = [{ role: 'user', content: TASK }];
    const stream = client.responses.stream({ model: route.scheme, input, tools: respTools });
    let argDeltas = 0;
    stream.on('response.function_call_arguments.delta', () => { argDeltas++; });
    const res = await stream.finalResponse();
    const call = res.output.find((o) => o.type === 'function_call');
    assert.ok(call, `no function_call in ${JSON.stringify(res.output)}`);
    assert.equal(call.name, 'write_file');
    assert.ok(call.call_id, 'no call_id');
    assert.deepEqual(JSON.parse(call.arguments), { path: 'hello.txt', content: 'hi from catfish' });
    assert.ok(argDeltas > 0, 'no function_call_arguments.delta events');

    const done = await client.responses.create({
      model: route.scheme, tools: respTools,
      input: [...input, ...res.output, { type: 'function_call_output', call_id: call.call_id, output: 'File created.' }],
    });
    assert.match(done.output_text, /^Done: hello\.txt/);
    const up2 = pool.seen(route.channel)[1];
    assert.equal(up2.dialect, route.up);
    if (route.up === 'chat') {
      const tool = up2.body.messages.find((m) => m.role === 'tool');
      assert.equal(tool.content, 'File created.');
    } else if (route.up === 'messages') {
      assert.equal(up2.body.messages.at(-1).content[0].type, 'tool_result');
    } else {
      assert.equal(up2.body.input.at(-1).type, 'function_call_output');
    }
  });

  test(`responses over an ${route.kind} channel: a stream broken after commit raises`, async () => {
    // The raw stream and the ResponseStream helper both raise an APIError.
    pool.fake.addFault(onChannel(route.channel, { plan: says(LONG), breakAfter: route.cut, times: 2 }));
    const raw = await client.responses.create({ model: route.scheme, input: 'hello', stream: true });
    let text = '';
    const types = [];
    await assert.rejects(
      (async () => {
        for await (const e of raw) {
          types.push(e.type);
          if (e.type === 'response.output_text.delta') text += e.delta;
        }
      })(),
      (err) => {
        assert.ok(err instanceof APIError, sdkError(err));
        assert.doesNotMatch(String(err.message), /127\.0\.0\.1/, 'the error gives the upstream address away');
        return true;
      },
    );
    assert.equal(text, LONG.slice(0, 16), 'the text before the break did not arrive first');
    assert.ok(!types.includes('response.completed'), 'a broken stream ended with response.completed');
    assert.equal(types.at(-1), 'response.failed', `events: ${types}`);

    const helper = client.responses.stream({ model: route.scheme, input: 'hello' });
    await assert.rejects(
      (async () => {
        for await (const e of helper) { /* drain */ }
        await helper.finalResponse();
      })(),
      (err) => {
        assert.ok(err instanceof APIError, sdkError(err));
        return true;
      },
    );
  });
}

test('responses errors: a wrong key, previous_response_id on a translated route, a malformed item', async () => {
  const wrong = new OpenAI({ apiKey: 'sk-wrong', baseURL: `${pool.cf.url}/v1`, maxRetries: 0 });
  await assert.rejects(wrong.responses.create({ model: 'chat', input: 'hello' }), (err) => {
    assert.ok(err instanceof AuthenticationError, sdkError(err));
    return true;
  });
  for (const scheme of ['chat', 'anth']) {
    await assert.rejects(client.responses.create({ model: scheme, input: 'hello', previous_response_id: 'resp_123' }), (err) => {
      assert.ok(err instanceof BadRequestError, sdkError(err));
      assert.equal(err.param, 'previous_response_id');
      return true;
    });
    await assert.rejects(client.responses.create({
      model: scheme, input: [{ type: 'function_call_output', call_id: 'call_nowhere', output: 'x' }],
    }), (err) => {
      assert.ok(err instanceof BadRequestError, sdkError(err));
      assert.match(`${err.param} ${err.message}`, /input\[0\]\.call_id/);
      return true;
    });
  }
  assert.deepEqual(pool.fake.requests.map((r) => r.path), [], 'a refused request reached an upstream');
});

test('chat over an anthropic channel: a broken stream raises', async () => {
  pool.fake.addFault(onChannel('a1', { plan: says(LONG), breakAfter: 5 }));
  const stream = await client.chat.completions.create({ model: 'anth', messages: [{ role: 'user', content: 'hello' }], stream: true });
  let text = '';
  await assert.rejects(
    (async () => { for await (const c of stream) text += c.choices[0]?.delta?.content ?? ''; })(),
    (err) => {
      assert.ok(err instanceof APIError, sdkError(err));
      return true;
    },
  );
  assert.equal(text, LONG.slice(0, 16));
});

// ------------------------------------------------ client keys

test('client key: works in scope (chat and responses), a scoped-out model is a NotFoundError', async () => {
  const k = await pool.key({ schemes: ['chat', 'anth'] });
  assert.match(k.key, /^sk-cf-[A-Za-z0-9]{32}$/);
  const app = new OpenAI({ apiKey: k.key, baseURL: `${pool.cf.url}/v1`, maxRetries: 0 });
  const c = await app.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hello' }] });
  assert.equal(c.choices[0].message.content, 'OK.');
  const r = await app.responses.create({ model: 'anth', input: 'hello' });
  assert.equal(r.output_text, 'OK.');
  const models = await app.models.list();
  assert.deepEqual(models.data.map((m) => m.id).sort(), ['anth', 'chat']);
  await assert.rejects(app.chat.completions.create({ model: 'other', messages: [{ role: 'user', content: 'hello' }] }), (err) => {
    assert.ok(err instanceof NotFoundError, sdkError(err));
    assert.equal(err.code, 'model_not_found');
    return true;
  });
  await assert.rejects(app.responses.create({ model: 'resp', input: 'hello' }), (err) => {
    assert.ok(err instanceof NotFoundError, sdkError(err));
    assert.equal(err.code, 'model_not_found');
    return true;
  });
  assert.equal(pool.seen('x1').length + pool.seen('r1').length, 0, 'a scoped-out request reached an upstream');
});

test('client key: over its rpm is a RateLimitError with Retry-After; admin routes answer 401', async () => {
  const k = await pool.key({ rpm: 1 });
  const app = new OpenAI({ apiKey: k.key, baseURL: `${pool.cf.url}/v1`, maxRetries: 0 });
  await app.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hello' }] });
  for (const call of [
    () => app.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hello' }] }),
    () => app.responses.create({ model: 'resp', input: 'hello' }),
  ]) {
    await assert.rejects(call(), (err) => {
      assert.ok(err instanceof RateLimitError, sdkError(err));
      assert.equal(err.code, 'rate_limit_exceeded');
      const ra = Number(err.headers.get('retry-after'));
      assert.ok(ra >= 1 && ra <= 60, `Retry-After ${err.headers.get('retry-after')}`);
      return true;
    });
  }
  assert.equal(pool.fake.requests.length, 1, 'a refused request reached an upstream');
  for (const [method, path] of [['GET', '/admin/config'], ['GET', '/admin/keys'], ['GET', '/admin/export'], ['POST', `/admin/keys/${k.id}/rotate`]]) {
    const r = await fetch(`${pool.cf.url}${path}`, { method, headers: { Authorization: `Bearer ${k.key}` } });
    assert.equal(r.status, 401, `${method} ${path} with a client key`);
  }
});

// ------------------------------------------------ a client that hangs up at the end

test('a client that hangs up at the final event (as Codex does) is a success, its tokens counted to its key', async () => {
  const k = await pool.key({});
  const cases = [
    ['/v1/responses', 'chat', { input: 'hello' }, /event: response\.completed/],
    ['/v1/responses', 'anth', { input: 'hello' }, /event: response\.completed/],
    ['/v1/responses', 'resp', { input: 'hello' }, /event: response\.completed/],
    ['/v1/messages', 'chat', { max_tokens: 16, messages: [{ role: 'user', content: 'hello' }] }, /event: message_stop/],
    ['/v1/chat/completions', 'anth', { messages: [{ role: 'user', content: 'hello' }] }, /data: \[DONE\]/],
  ];
  for (const [path, scheme, body, end] of cases) {
    pool.fake.reset();
    // The upstream waits a little after each event, its end marker
    // included, before it closes: the client is gone by then.
    pool.fake.addFault({ eventDelayMs: 100 });
    const ac = new AbortController();
    const r = await fetch(`${pool.cf.url}${path}`, {
      method: 'POST', signal: ac.signal,
      headers: { authorization: `Bearer ${k.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: scheme, stream: true, ...body }),
    });
    const id = r.headers.get('x-catfish-request-id');
    const reader = r.body.getReader();
    const dec = new TextDecoder();
    let text = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += dec.decode(value);
      if (end.test(text)) break;
    }
    assert.match(text, end, `${path} over ${scheme}: the stream did not end`);
    ac.abort();
    let rec;
    for (let i = 0; i < 50 && !rec; i++) {
      await new Promise((res) => setTimeout(res, 50));
      const all = await pool.cf.api('GET', '/admin/requests');
      rec = (Array.isArray(all) ? all : all.requests).find((e) => e.id === id);
    }
    assert.ok(rec, `request ${id} not in /admin/requests`);
    assert.deepEqual([rec.status, rec.outcome], [200, 'ok'], `${path} over ${scheme}: ${JSON.stringify(rec)}`);
    assert.ok(rec.tokens.total > 0, `${path} over ${scheme}: no tokens counted: ${JSON.stringify(rec.tokens)}`);
  }
  const usage = (await pool.cf.api('GET', `/admin/keys/${k.id}`)).usage;
  assert.equal(usage.requests, cases.length);
  assert.equal(usage.failures, 0);
  assert.ok(usage.prompt_tokens > 0 && usage.completion_tokens > 0, JSON.stringify(usage));
});
