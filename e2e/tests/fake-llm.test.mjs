// The scripted fake LLM (lib/fake-llm.mjs) read by the official SDKs: each
// dialect parses, the scripted tool call comes back, and faults surface as
// the SDK's own errors. No catfish binary is needed here.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { startFakeLLM, parseTask } from '../lib/fake-llm.mjs';

const TASK = 'Create a file named hello.txt containing exactly: hi from catfish';
let fake;
let anthropic;
let openai;

before(async () => {
  fake = await startFakeLLM();
  anthropic = new Anthropic({ apiKey: 'sk-ant-test', baseURL: fake.origin, maxRetries: 0 });
  openai = new OpenAI({ apiKey: 'sk-test', baseURL: `${fake.origin}/v1`, maxRetries: 0 });
});
after(() => fake.close());

const writeTool = { name: 'Write', description: 'write a file', input_schema: { type: 'object', properties: { file_path: { type: 'string' }, content: { type: 'string' } }, required: ['file_path', 'content'] } };

test('parseTask reads the file name and the content', () => {
  assert.deepEqual(parseTask(TASK), { file: 'hello.txt', content: 'hi from catfish' });
  assert.equal(parseTask('hello'), null);
});

test('messages: a streamed tool call with signed thinking, then a final text', async () => {
  fake.reset();
  const stream = anthropic.messages.stream({
    model: 'claude-test', max_tokens: 100, tools: [writeTool], thinking: { type: 'enabled', budget_tokens: 1024 },
    system: 'Primary working directory: /tmp/w',
    messages: [{ role: 'user', content: TASK }],
  });
  const msg = await stream.finalMessage();
  assert.equal(msg.stop_reason, 'tool_use');
  assert.equal(msg.content[0].type, 'thinking');
  assert.ok(msg.content[0].signature);
  const call = msg.content.find((b) => b.type === 'tool_use');
  assert.deepEqual(call.input, { file_path: '/tmp/w/hello.txt', content: 'hi from catfish' });
  const done = await anthropic.messages.create({
    model: 'claude-test', max_tokens: 100, tools: [writeTool],
    messages: [
      { role: 'user', content: TASK },
      { role: 'assistant', content: msg.content },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: call.id, content: 'ok' }] },
    ],
  });
  assert.equal(done.stop_reason, 'end_turn');
  assert.match(done.content[0].text, /^Done/);
  const reqs = await (await fetch(`${fake.origin}/_requests`)).json();
  assert.equal(reqs.length, 2);
  // @anthropic-ai/sdk 1.x sends the key as a Bearer token, 0.x as x-api-key.
  assert.ok(reqs[0].headers['x-api-key'] === 'sk-ant-test' || reqs[0].headers.authorization === 'Bearer sk-ant-test');
  assert.equal(reqs[0].body.stream, true);
});

test('messages: HTTP faults and a broken or erroring stream raise in the SDK', async () => {
  fake.reset();
  fake.addFault({ when: { dialect: 'messages' }, status: 529 });
  await assert.rejects(anthropic.messages.create({ model: 'm', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }),
    (e) => e.status === 529 && e.error?.error?.type === 'overloaded_error');
  fake.addFault({ when: { dialect: 'messages' }, errorAfter: 3 });
  await assert.rejects(anthropic.messages.stream({ model: 'm', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }).finalMessage(),
    /overloaded_error|fake stream error/);
  fake.addFault({ when: { dialect: 'messages' }, breakAfter: 2 });
  await assert.rejects(anthropic.messages.stream({ model: 'm', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }).finalMessage());
});

test('count_tokens and models answer', async () => {
  const r = await anthropic.messages.countTokens({ model: 'm', messages: [{ role: 'user', content: 'hello there' }] });
  assert.ok(r.input_tokens > 0);
  const models = await openai.models.list();
  assert.equal(models.data[0].id, 'fake-model');
});

test('chat: streamed tool_calls deltas and the usage chunk', async () => {
  fake.reset();
  const stream = await openai.chat.completions.create({
    model: 'm', stream: true, stream_options: { include_usage: true },
    tools: [{ type: 'function', function: { name: 'write_file', parameters: { type: 'object', properties: { path: { type: 'string' }, content: { type: 'string' } } } } }],
    messages: [{ role: 'user', content: TASK }],
  });
  let args = '';
  let finish = null;
  let usage = null;
  for await (const c of stream) {
    const d = c.choices[0];
    if (d?.delta?.tool_calls) args += d.delta.tool_calls[0].function.arguments || '';
    if (d?.finish_reason) finish = d.finish_reason;
    if (c.usage) usage = c.usage;
  }
  assert.equal(finish, 'tool_calls');
  assert.deepEqual(JSON.parse(args), { path: 'hello.txt', content: 'hi from catfish' });
  assert.ok(usage.prompt_tokens > 0);
  const plain = await openai.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] });
  assert.equal(plain.choices[0].message.content, 'OK.');
});

test('responses: the full event sequence, a custom tool call, and response.failed', async () => {
  fake.reset();
  const stream = openai.responses.stream({
    model: 'm', reasoning: { summary: 'auto' }, input: TASK,
    tools: [{ type: 'custom', name: 'apply_patch', description: 'patch' }],
  });
  const types = [];
  let last = -1;
  for await (const e of stream) {
    types.push(e.type);
    assert.ok(e.sequence_number > last);
    last = e.sequence_number;
  }
  const final = await stream.finalResponse();
  assert.equal(types[0], 'response.created');
  assert.equal(types.at(-1), 'response.completed');
  for (const t of ['response.in_progress', 'response.output_item.added', 'response.output_item.done', 'response.custom_tool_call_input.delta', 'response.reasoning_summary_text.delta']) assert.ok(types.includes(t), t);
  assert.equal(final.output[0].type, 'reasoning');
  assert.ok(final.output[0].encrypted_content);
  assert.equal(final.output[1].type, 'custom_tool_call');
  assert.match(final.output[1].input, /\*\*\* Add File: hello\.txt\n\+hi from catfish/);

  const text = openai.responses.stream({ model: 'm', input: 'hello' });
  const seen = [];
  for await (const e of text) seen.push(e.type);
  for (const t of ['response.content_part.added', 'response.output_text.delta', 'response.output_text.done', 'response.content_part.done']) assert.ok(seen.includes(t), t);
  assert.equal((await text.finalResponse()).output_text, 'OK.');

  fake.addFault({ when: { dialect: 'responses' }, errorAfter: 3 });
  await assert.rejects(async () => {
    const s = openai.responses.stream({ model: 'm', input: 'hello' });
    for await (const e of s) { /* drain */ }
    await s.finalResponse();
  });
  fake.addFault({ when: { dialect: 'responses' }, status: 429, headers: { 'retry-after': '1' } });
  await assert.rejects(openai.responses.create({ model: 'm', input: 'hello' }), (e) => e.status === 429);
});
