// Claude Code itself (@anthropic-ai/claude-code, `claude -p`, unchanged)
// through the real catfish binary, doing a task that needs a tool: it must
// really write the file. Over an `openai` channel (Messages translated to
// chat completions), over an `anthropic` channel (passthrough), and with
// failover from one channel type to the other inside each request. Claude
// Code sends its own model names (claude-...): a scheme alias routes them,
// nothing in Claude Code is changed but its base URL and key (a client key).
//
// The whole file runs in a network namespace with only loopback
// (lib/agents.mjs isolate); the scripted fake LLM (lib/fake-llm.mjs) plays
// the model behind every channel.
import { isolate, agentMissing, freshDirs, fileIn, describeRun, runClaude, EXPECTED, hasToolResult, continuingPlan } from '../lib/agents.mjs';

const iso = await isolate(import.meta.url);
const { test, before, after, beforeEach } = await import('node:test');
const { default: assert } = await import('node:assert/strict');
const { startPool } = await import('../lib/pool.mjs');
const { rmSync } = await import('node:fs');

const RUN_MS = 90_000;
let pool;
let key;
const missing = agentMissing('claude');

before(async () => {
  if (missing) return;
  pool = await startPool();
  // First by name: where a model name matching no scheme and no alias
  // would go. Claude Code must never reach it.
  await pool.channel('aaa-decoy', 'decoy', 'openai');
  await pool.channel('cc-openai', 'cc-o', 'openai', { model: 'gpt-upstream' });
  await pool.channel('cc-anthropic', 'cc-a', 'anthropic');
  await pool.channel('cc-fo-a2o', 'cc-fo-a2o-1', 'anthropic', { priority: 1 });
  await pool.channel('cc-fo-a2o', 'cc-fo-a2o-2', 'openai', { priority: 2, model: 'gpt-upstream' });
  await pool.channel('cc-fo-o2a', 'cc-fo-o2a-1', 'openai', { priority: 1, model: 'gpt-upstream' });
  await pool.channel('cc-fo-o2a', 'cc-fo-o2a-2', 'anthropic', { priority: 2 });
  await pool.channel('cc-cont', 'cc-cont-1', 'anthropic', { priority: 1 });
  await pool.channel('cc-cont', 'cc-cont-2', 'openai', { priority: 2, model: 'gpt-upstream' });
  key = (await pool.key({ name: 'claude-code' })).key;
});

after(async () => {
  await pool?.close();
});

beforeEach(() => pool?.fake.reset());

// claude runs Claude Code once with its model names aliased to scheme and
// checks that it wrote the file and exited 0.
async function claude(t, scheme) {
  assert.equal(missing, '', missing);
  if (!iso.isolated) t.diagnostic(`not in a network namespace (${iso.reason}); Claude Code runs as it is, with CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1`);
  await pool.aliases(scheme, ['claude-*']);
  const since = Date.now();
  const dirs = freshDirs('claude');
  const run = await runClaude({ baseURL: pool.cf.url, key, dirs, timeoutMs: RUN_MS });
  t.diagnostic(`run took ${run.ms} ms, ${pool.fake.requests.length} upstream requests`);
  const requests = pool.fake.requests.map((r) => `${r.path}${r.query ? `?${r.query}` : ''} ${r.dialect} -> ${JSON.stringify(r.answer.status)} ${JSON.stringify(r.answer.plan || {})}`).join('\n');
  const why = `${describeRun(run)}\n--- upstream requests\n${requests}\n--- catfish log (tail)\n${pool.cf.output.join('').slice(-3000)}`;
  const content = fileIn(dirs);
  rmSync(dirs.base, { recursive: true, force: true });
  assert.equal(run.code, 0, why);
  assert.equal(content, EXPECTED, `hello.txt\n${why}`);
  assert.equal(pool.seen('decoy').length, 0, 'a request went to the default scheme instead of the aliased one');
  const recent = await pool.cf.api('GET', '/admin/requests');
  const mine = (Array.isArray(recent) ? recent : recent.requests || []).filter((r) => r.scheme === scheme && Date.parse(r.time) >= since);
  return { run, dirs, recent: mine };
}

// turns checks one channel's share of the traffic: every request in the
// dialect expected, each turn of the task (the Write call, then the final
// text) answered.
function checkTurns(recs, dialect) {
  assert.ok(recs.length >= 2, `${recs.length} requests: a tool turn and a final turn expected`);
  for (const r of recs) assert.equal(r.dialect, dialect, `${r.path} is not ${dialect}`);
  const plans = recs.filter((r) => r.answer.status === 200).map((r) => r.answer.plan);
  assert.equal(plans[0]?.tool, 'Write', `the first answered turn: ${JSON.stringify(plans[0])}`);
  assert.match(plans.at(-1)?.text || '', /^Done/, `the last answered turn: ${JSON.stringify(plans.at(-1))}`);
}

test('Claude Code over an openai channel (translated): writes the file', { timeout: 120_000 }, async (t) => {
  const { recent } = await claude(t, 'cc-openai');
  const recs = pool.seen('cc-o');
  checkTurns(recs, 'chat');
  for (const r of recs) {
    assert.equal(r.path, '/cc-o/v1/chat/completions');
    assert.equal(r.body.model, 'gpt-upstream', 'the channel model override replaces Claude Code\'s model name');
    assert.equal(r.headers.authorization, 'Bearer sk-upstream-cc-o-0123456789abcdef');
    assert.equal(r.headers['anthropic-beta'], undefined, 'anthropic-beta went to an openai channel');
    assert.equal(r.body.stream, true);
  }
  const tools = recs[0].body.tools.map((x) => x.function?.name);
  assert.ok(tools.includes('Write') && tools.includes('Bash'), `tools upstream: ${tools}`);
  assert.ok(!tools.includes('DeferredToolPlaceholder'), 'the deferred-tool placeholder went upstream');
  assert.ok(recs.at(-1).body.messages.some((m) => m.role === 'tool'), 'the Write result did not go up as a tool message');
  assert.ok(recent.length >= 2 && recent.every((r) => r.dialect === 'messages' && r.attempts.at(-1).upstream === 'chat'), JSON.stringify(recent));
});

test('Claude Code over an anthropic channel (passthrough): writes the file', { timeout: 120_000 }, async (t) => {
  const { recent } = await claude(t, 'cc-anthropic');
  const recs = pool.seen('cc-a');
  checkTurns(recs, 'messages');
  for (const r of recs) {
    assert.equal(r.path, '/cc-a/v1/messages');
    assert.equal(r.query, 'beta=true', 'the query string was not passed on');
    assert.match(r.body.model, /^claude-/, 'without an override Claude Code\'s model name passes through');
    assert.equal(r.headers['x-api-key'], 'sk-upstream-cc-a-0123456789abcdef');
    assert.match(r.headers['anthropic-beta'] || '', /claude-code-20250219/, 'anthropic-beta was not forwarded');
    assert.ok(r.body.context_management && r.body.thinking, 'passthrough dropped Claude Code\'s fields');
  }
  assert.ok(recent.length >= 2 && recent.every((r) => r.attempts.length === 1 && r.attempts[0].type === 'anthropic'), JSON.stringify(recent));
});

for (const fo of [
  { scheme: 'cc-fo-a2o', first: 'anthropic', status: 529, then: 'openai' },
  { scheme: 'cc-fo-o2a', first: 'openai', status: 500, then: 'anthropic' },
]) {
  test(`Claude Code with failover ${fo.first} (${fo.status}) -> ${fo.then} inside each request: writes the file`, { timeout: 120_000 }, async (t) => {
    pool.fake.addFault({ when: (r) => r.path.startsWith(`/${fo.scheme}-1/`), status: fo.status, times: Infinity });
    const { recent } = await claude(t, fo.scheme);
    const firsts = pool.seen(`${fo.scheme}-1`);
    const seconds = pool.seen(`${fo.scheme}-2`);
    checkTurns(seconds, fo.then === 'anthropic' ? 'messages' : 'chat');
    assert.equal(firsts.length, seconds.length, 'each request should try the failing channel once, then the other');
    for (const r of firsts) {
      assert.equal(r.dialect, fo.first === 'anthropic' ? 'messages' : 'chat');
      assert.equal(r.answer.status, fo.status);
    }
    // In order: failing channel, then the other, for every request.
    const order = pool.fake.requests.map((r) => r.path.split('/')[1].slice(-1)).join('');
    assert.equal(order, '12'.repeat(firsts.length));
    assert.equal(recent.length, seconds.length, `requests in /admin/requests: ${JSON.stringify(recent)}`);
    for (const r of recent) {
      assert.deepEqual(r.attempts.map((a) => [a.type, a.outcome === 'ok']), [[fo.first, false], [fo.then, true]], JSON.stringify(r.attempts));
    }
  });
}

// Claude Code retries a turn whose stream reported an api_error midway
// without streaming (docs/captures.md): the JSON path, translated and
// passed through. The break comes with the Write call in flight, which no
// continuation may take over, so Claude Code does see the error event.
for (const c of [
  { scheme: 'cc-openai', channel: 'cc-o', dialect: 'chat', cut: 4 },
  { scheme: 'cc-anthropic', channel: 'cc-a', dialect: 'messages', cut: 8 },
]) {
  test(`Claude Code over an ${c.dialect === 'chat' ? 'openai' : 'anthropic'} channel: a stream error midway, then its non-streaming retry`, { timeout: 120_000 }, async (t) => {
    pool.fake.addFault({ when: (r) => r.path.startsWith(`/${c.channel}/`) && r.body?.stream === true, errorAfter: c.cut, errorStatus: 500 });
    await claude(t, c.scheme);
    const recs = pool.seen(c.channel);
    assert.deepEqual(recs.map((r) => [r.dialect, !!r.body.stream, r.answer.events?.at(-1) ?? 'json']),
      [[c.dialect, true, 'error'], [c.dialect, false, 'json'], [c.dialect, true, c.dialect === 'chat' ? '[DONE]' : 'message_stop']]);
    assert.equal(recs[1].answer.plan.tool, 'Write');
    assert.equal(recs[1].body.max_tokens, 64000, 'the non-streaming retry is Claude Code\'s own');
  });
}

test('Claude Code: its final answer\'s stream breaks midway on an anthropic channel and is continued on an openai one: one whole answer', { timeout: 120_000 }, async (t) => {
  const DONE = 'Done: hello.txt now contains the requested text. The stream that carried this answer broke midway and went on elsewhere.';
  const onP = (r) => r.path.startsWith('/cc-cont-1/');
  // Thinking would make the answer more than text, which is not continued.
  pool.fake.addFault({ when: (r) => onP(r) && hasToolResult(r.body), plan: () => ({ text: DONE }), thinking: 'none', breakAfter: 3 + 5 });
  pool.fake.addFault({ when: onP, thinking: 'none' });
  pool.fake.addFault({ when: (r) => r.path.startsWith('/cc-cont-2/'), plan: continuingPlan(DONE) });
  const { run } = await claude(t, 'cc-cont');
  assert.equal(run.stdout.trim(), DONE, 'Claude Code\'s final answer');
  const order = pool.fake.requests.map((r) => `${r.path.split('/')[1]}:${r.answer.broken ? 'broken' : r.answer.status}`);
  assert.deepEqual(order, ['cc-cont-1:200', 'cc-cont-1:broken', 'cc-cont-2:200'], 'Claude Code retried the turn itself');
  const restart = pool.seen('cc-cont-2')[0];
  assert.notEqual(restart.body.messages.at(-1).role, 'assistant', 'an openai channel got a prefill');
});
