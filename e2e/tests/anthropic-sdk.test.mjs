// The official @anthropic-ai/sdk against the real catfish binary, over an
// `anthropic` channel (passthrough) and over an `openai` channel (Messages
// translated to chat completions and back), with the scripted fake LLM
// (lib/fake-llm.mjs) behind both: answers, streams, tool use, the SDK's
// own error classes, a broken stream, client keys and failover from one
// channel type to the other inside one request.
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic, {
  APIError,
  AuthenticationError,
  BadRequestError,
  NotFoundError,
  RateLimitError,
} from '@anthropic-ai/sdk';
import { startPool, sdkError } from '../lib/pool.mjs';

const TASK = 'Create a file named hello.txt containing exactly: hi from catfish';
const LONG = 'Catfish relays this answer in many small pieces, and the SDK must see every one of them exactly once.';
const writeTool = {
  name: 'Write',
  description: 'Write a file to the local filesystem.',
  input_schema: {
    type: 'object',
    properties: { file_path: { type: 'string' }, content: { type: 'string' } },
    required: ['file_path', 'content'],
    additionalProperties: false,
  },
};

let pool;
let client;

// Each route: the scheme the SDK names as its model, the channel behind
// it and that channel's kind.
const ROUTES = [
  { name: 'passthrough', scheme: 'anth', channel: 'a1', kind: 'anthropic' },
  { name: 'translated', scheme: 'oai', channel: 'o1', kind: 'openai' },
];

before(async () => {
  pool = await startPool();
  await pool.channel('anth', 'a1', 'anthropic');
  await pool.channel('oai', 'o1', 'openai', { model: 'gpt-upstream' });
  await pool.channel('fo', 'fo-anth', 'anthropic', { priority: 1 });
  await pool.channel('fo', 'fo-oai', 'openai', { priority: 2, model: 'gpt-upstream' });
  client = new Anthropic({ apiKey: pool.cf.adminKey, baseURL: pool.cf.url, maxRetries: 0, timeout: 20_000 });
});

after(async () => {
  await pool?.close();
});

beforeEach(() => pool.fake.reset());

const hello = [{ role: 'user', content: 'hello' }];
const onChannel = (name, more = {}) => ({ when: (r) => r.path.startsWith(`/${name}/`), ...more });
const says = (text) => () => ({ text });

// upstreamChecks: what the channel must have received for one request.
function checkUpstream(route, rec) {
  assert.ok(rec, `channel ${route.channel} got no request`);
  if (route.kind === 'anthropic') {
    assert.equal(rec.dialect, 'messages', `passthrough went to ${rec.path}`);
    assert.equal(rec.headers['x-api-key'], `sk-upstream-${route.channel}-0123456789abcdef`);
    assert.equal(rec.headers.authorization, undefined, 'the client key went upstream');
    assert.ok(rec.headers['anthropic-version'], 'no anthropic-version upstream');
    assert.equal(rec.body.model, route.scheme);
  } else {
    assert.equal(rec.dialect, 'chat', `translated route went to ${rec.path}`);
    assert.equal(rec.headers.authorization, `Bearer sk-upstream-${route.channel}-0123456789abcdef`);
    assert.equal(rec.headers['x-api-key'], undefined);
    assert.equal(rec.body.model, 'gpt-upstream', 'the channel model override is not applied');
  }
}

for (const route of ROUTES) {
  test(`${route.name} (${route.kind} channel): messages.create`, async () => {
    const msg = await client.messages.create({ model: route.scheme, max_tokens: 64, messages: hello });
    assert.equal(msg.type, 'message');
    assert.equal(msg.role, 'assistant');
    assert.match(msg.id, /^msg_/);
    assert.deepEqual(msg.content.map((b) => [b.type, b.text]), [['text', 'OK.']]);
    assert.equal(msg.stop_reason, 'end_turn');
    assert.ok(msg.usage.input_tokens > 0 && msg.usage.output_tokens > 0, JSON.stringify(msg.usage));
    const recs = pool.seen(route.channel);
    assert.equal(recs.length, 1);
    checkUpstream(route, recs[0]);
    assert.equal(recs[0].body.stream ?? false, false);
  });

  test(`${route.name} (${route.kind} channel): messages.stream delivers the text once`, async () => {
    pool.fake.addFault(onChannel(route.channel, { plan: says(LONG) }));
    const stream = client.messages.stream({ model: route.scheme, max_tokens: 256, messages: hello });
    let text = '';
    const types = [];
    stream.on('text', (delta) => { text += delta; });
    for await (const ev of stream) types.push(ev.type);
    const final = await stream.finalMessage();
    assert.equal(text, LONG);
    assert.equal(final.content.length, 1);
    assert.equal(final.content[0].text, LONG);
    assert.equal(final.stop_reason, 'end_turn');
    assert.equal(types[0], 'message_start');
    assert.equal(types.at(-1), 'message_stop');
    for (const t of ['content_block_start', 'content_block_delta', 'content_block_stop', 'message_delta']) assert.ok(types.includes(t), `no ${t} in ${types}`);
    checkUpstream(route, pool.seen(route.channel)[0]);
  });

  test(`${route.name} (${route.kind} channel): tool use, streamed, then the tool_result turn`, async () => {
    const system = 'Primary working directory: /tmp/w';
    const first = [{ role: 'user', content: TASK }];
    const stream = client.messages.stream({ model: route.scheme, max_tokens: 512, system, tools: [writeTool], messages: first });
    const jsonPieces = [];
    stream.on('inputJson', (partial) => jsonPieces.push(partial));
    const msg = await stream.finalMessage();
    assert.equal(msg.stop_reason, 'tool_use');
    const call = msg.content.find((b) => b.type === 'tool_use');
    assert.ok(call, `no tool_use block: ${JSON.stringify(msg.content)}`);
    assert.match(call.id, /^toolu_/);
    assert.equal(call.name, 'Write');
    assert.deepEqual(call.input, { file_path: '/tmp/w/hello.txt', content: 'hi from catfish' });
    assert.ok(jsonPieces.length > 1, 'the tool input did not arrive as input_json_delta pieces');

    const done = await client.messages.create({
      model: route.scheme, max_tokens: 512, system, tools: [writeTool],
      messages: [...first, { role: 'assistant', content: msg.content },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: call.id, content: 'File created.' }] }],
    });
    assert.equal(done.stop_reason, 'end_turn');
    assert.match(done.content.find((b) => b.type === 'text').text, /^Done: hello\.txt/);

    const [up1, up2] = pool.seen(route.channel);
    checkUpstream(route, up2);
    if (route.kind === 'openai') {
      // The tool went up as a function, the history as tool_calls and a tool message.
      const fn = up1.body.tools.find((t) => t.function?.name === 'Write');
      assert.equal(fn.type, 'function');
      assert.deepEqual(fn.function.parameters.required, ['file_path', 'content']);
      const asst = up2.body.messages.find((m) => m.role === 'assistant' && m.tool_calls);
      const tool = up2.body.messages.find((m) => m.role === 'tool');
      assert.equal(tool.tool_call_id, asst.tool_calls[0].id);
      assert.equal(tool.content, 'File created.');
      assert.deepEqual(JSON.parse(asst.tool_calls[0].function.arguments), call.input);
    } else {
      assert.equal(up2.body.messages.at(-1).content[0].tool_use_id, call.id);
    }
  });

  test(`${route.name} (${route.kind} channel): a stream broken after commit, with no other channel, raises`, async () => {
    // messages: message_start, content_block_start, ping, then deltas;
    // chat: a role chunk, then deltas. Either way two text deltas pass.
    const cut = route.kind === 'anthropic' ? 5 : 3;
    pool.fake.addFault(onChannel(route.channel, { plan: says(LONG), breakAfter: cut }));
    const stream = client.messages.stream({ model: route.scheme, max_tokens: 256, messages: hello });
    let text = '';
    stream.on('text', (delta) => { text += delta; });
    await assert.rejects(stream.finalMessage(), (err) => {
      assert.ok(err instanceof APIError, sdkError(err));
      assert.doesNotMatch(String(err.message), /127\.0\.0\.1/, 'the error gives the upstream address away');
      return true;
    });
    assert.equal(text, LONG.slice(0, 16), 'the text before the break did not arrive first');
  });
}

test('errors: a wrong key is an AuthenticationError, before any upstream', async () => {
  const wrong = new Anthropic({ apiKey: 'sk-cf-not-a-key-000000000000000000000', baseURL: pool.cf.url, maxRetries: 0 });
  for (const model of ['anth', 'oai']) {
    await assert.rejects(wrong.messages.create({ model, max_tokens: 16, messages: hello }), (err) => {
      assert.ok(err instanceof AuthenticationError, sdkError(err));
      assert.equal(err.error?.type, 'error');
      assert.equal(err.error?.error?.type, 'authentication_error');
      return true;
    });
  }
  // x-api-key, as Claude Code sends it, is refused the same way.
  const r = await fetch(`${pool.cf.url}/v1/messages`, {
    method: 'POST',
    headers: { 'x-api-key': 'wrong', 'anthropic-version': '2023-06-01', 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'anth', max_tokens: 16, messages: hello }),
  });
  assert.equal(r.status, 401);
  assert.equal((await r.json()).error.type, 'authentication_error');
  assert.equal(pool.fake.requests.length, 0);
});

test('errors: a scheme outside a client key\'s scope is a NotFoundError; the key works inside it', async () => {
  const k = await pool.key({ schemes: ['anth'] });
  const scoped = new Anthropic({ apiKey: k.key, baseURL: pool.cf.url, maxRetries: 0 });
  const ok = await scoped.messages.create({ model: 'anth', max_tokens: 16, messages: hello });
  assert.equal(ok.content[0].text, 'OK.');
  await assert.rejects(scoped.messages.create({ model: 'oai', max_tokens: 16, messages: hello }), (err) => {
    assert.ok(err instanceof NotFoundError, sdkError(err));
    assert.equal(err.error?.error?.type, 'not_found_error');
    return true;
  });
  assert.equal(pool.seen('o1').length, 0, 'a scoped-out request reached the upstream');
});

test('errors: over a client key\'s rpm is a RateLimitError with Retry-After', async () => {
  const k = await pool.key({ schemes: ['anth', 'oai'], rpm: 1 });
  const limited = new Anthropic({ apiKey: k.key, baseURL: pool.cf.url, maxRetries: 0 });
  await limited.messages.create({ model: 'oai', max_tokens: 16, messages: hello });
  await assert.rejects(limited.messages.create({ model: 'oai', max_tokens: 16, messages: hello }), (err) => {
    assert.ok(err instanceof RateLimitError, sdkError(err));
    assert.equal(err.error?.error?.type, 'rate_limit_error');
    const ra = Number(err.headers.get('retry-after'));
    assert.ok(ra >= 1 && ra <= 60, `Retry-After ${err.headers.get('retry-after')}`);
    return true;
  });
  assert.equal(pool.seen('o1').length, 1, 'the refused request reached the upstream');
});

test('errors: a malformed body is a BadRequestError naming the field, and nothing goes upstream', async () => {
  const cases = [
    { body: { max_tokens: 'many', messages: hello }, field: /max_tokens/ },
    { body: { max_tokens: 16, messages: [{ role: 'user', content: [{ type: 'no_such_block', text: 'x' }] }] }, field: /messages\.0\.content\.0|messages\[0\]\.content\[0\]/ },
    { body: { max_tokens: 16, messages: [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_nowhere', content: 'x' }] }] }, field: /tool_use_id|messages/ },
  ];
  for (const route of ROUTES) {
    for (const c of cases) {
      await assert.rejects(client.messages.create({ model: route.scheme, ...c.body }), (err) => {
        assert.ok(err instanceof BadRequestError, `${route.name} ${JSON.stringify(c.body)}: ${sdkError(err)}`);
        assert.equal(err.error?.error?.type, 'invalid_request_error');
        assert.match(err.message, c.field, `${route.name}: the error does not name the field`);
        return true;
      });
    }
  }
  assert.deepEqual(pool.fake.requests.map((r) => r.path), [], 'a malformed request reached an upstream');
});

test('failover from an anthropic channel (529) to an openai channel inside one request', async () => {
  pool.fake.addFault(onChannel('fo-anth', { status: 529, times: Infinity }));
  const msg = await client.messages.create({ model: 'fo', max_tokens: 64, messages: hello });
  assert.equal(msg.content[0].text, 'OK.');

  pool.fake.addFault(onChannel('fo-oai', { plan: says(LONG), times: Infinity }));
  const stream = client.messages.stream({ model: 'fo', max_tokens: 256, messages: hello });
  let text = '';
  stream.on('text', (d) => { text += d; });
  const final = await stream.finalMessage();
  assert.equal(text, LONG);
  assert.equal(final.content[0].text, LONG);

  const order = pool.fake.requests.map((r) => `${r.path.split('/')[1]}:${r.dialect}:${r.answer.status}`);
  assert.deepEqual(order, [
    'fo-anth:messages:529', 'fo-oai:chat:200',
    'fo-anth:messages:529', 'fo-oai:chat:200',
  ]);
});

test('messages.countTokens: passed to an anthropic channel; a scheme without one gets an estimate', async () => {
  const body = { messages: [{ role: 'user', content: 'How many tokens is this?' }], tools: [writeTool] };
  const passed = await client.messages.countTokens({ model: 'anth', ...body });
  assert.ok(passed.input_tokens > 0, JSON.stringify(passed));
  const [up] = pool.seen('a1');
  assert.equal(up?.dialect, 'count_tokens');
  assert.equal(up.headers['x-api-key'], 'sk-upstream-a1-0123456789abcdef');
  assert.deepEqual(up.body.tools, [writeTool]);
  const estimated = await client.messages.countTokens({ model: 'oai', ...body });
  assert.ok(estimated.input_tokens > 0, JSON.stringify(estimated));
  assert.equal(pool.seen('o1').length, 0, 'count_tokens went to an openai channel');
});
