// Codex itself (@openai/codex, `codex exec`, unchanged) through the real
// catfish binary as a custom Responses provider, creating a file with its
// own tools: over a chat-only `openai` channel and an `anthropic` channel
// (Responses translated), over a `responses: true` channel (passthrough),
// and with failover between channel types inside each request. Both of
// Codex's request shapes (docs/captures.md): the default one, for a model
// it does not know (`fake-model`: top-level tools, exec_command), and the
// "responses lite" one, for a model it knows (`gpt-6.2-sol`: tools in an
// additional_tools input item, the custom `exec` tool running JavaScript
// that calls apply_patch). Scheme aliases route both model names.
//
// Codex looks up github.com and chatgpt.com on every run, so the whole
// file runs in a network namespace with only loopback (lib/agents.mjs
// isolate); without one the tests fail and say why.
import { isolate, agentMissing, freshDirs, fileIn, describeRun, runCodex, EXPECTED, hasToolResult, continuingPlan } from '../lib/agents.mjs';

const iso = await isolate(import.meta.url);
const { test, before, after, beforeEach } = await import('node:test');
const { default: assert } = await import('node:assert/strict');
const { startPool } = await import('../lib/pool.mjs');
const { rmSync } = await import('node:fs');

const RUN_MS = 90_000;
const SHAPES = [
  // The default shape writes with exec_command (printf, no newline); the
  // lite shape with apply_patch inside `exec`, which ends the line.
  { name: 'default shape', model: 'fake-model', tool: 'exec_command', content: EXPECTED },
  { name: 'lite shape', model: 'gpt-6.2-sol', tool: 'exec', content: `${EXPECTED}\n` },
];

let pool;
let key;
let lastRun;
const missing = agentMissing('codex');

before(async () => {
  if (missing || !iso.isolated) return;
  pool = await startPool();
  await pool.channel('aaa-decoy', 'decoy', 'openai');
  await pool.channel('cx-chat', 'cx-o', 'openai', { model: 'gpt-upstream' });
  await pool.channel('cx-anthropic', 'cx-a', 'anthropic', { model: 'claude-upstream' });
  await pool.channel('cx-responses', 'cx-r', 'responses');
  await pool.channel('cx-fo-r2a', 'cx-fo-r2a-1', 'responses', { priority: 1 });
  await pool.channel('cx-fo-r2a', 'cx-fo-r2a-2', 'anthropic', { priority: 2, model: 'claude-upstream' });
  await pool.channel('cx-fo-a2o', 'cx-fo-a2o-1', 'anthropic', { priority: 1, model: 'claude-upstream' });
  await pool.channel('cx-fo-a2o', 'cx-fo-a2o-2', 'openai', { priority: 2, model: 'gpt-upstream' });
  await pool.channel('cx-cont', 'cx-cont-1', 'openai', { priority: 1, model: 'gpt-upstream' });
  await pool.channel('cx-cont', 'cx-cont-2', 'anthropic', { priority: 2, model: 'claude-upstream' });
  key = (await pool.key({ name: 'codex' })).key;
});

after(async () => {
  await pool?.close();
});

beforeEach(() => pool?.fake.reset());

// codex runs Codex once with its model names aliased to scheme and checks
// that it created the file and exited 0, in one go (no reconnect).
async function codex(t, scheme, shape) {
  assert.ok(iso.isolated, `Codex cannot run here: ${iso.reason}`);
  assert.equal(missing, '', missing);
  await pool.aliases(scheme, [shape.model]);
  const since = Date.now();
  const dirs = freshDirs('codex');
  const run = await runCodex({ baseURL: pool.cf.url, key, dirs, model: shape.model, timeoutMs: RUN_MS });
  lastRun = run;
  t.diagnostic(`run took ${run.ms} ms, ${pool.fake.requests.length} upstream requests`);
  const requests = pool.fake.requests.map((r) => `${r.path} ${r.dialect} -> ${JSON.stringify(r.answer.status)} ${JSON.stringify(r.answer.plan || {})}`).join('\n');
  const why = `${describeRun(run)}\n--- upstream requests\n${requests}\n--- catfish log (tail)\n${pool.cf.output.join('').slice(-3000)}`;
  const content = fileIn(dirs);
  rmSync(dirs.base, { recursive: true, force: true });
  assert.equal(run.code, 0, why);
  assert.equal(content, shape.content, `hello.txt\n${why}`);
  assert.doesNotMatch(`${run.stdout}\n${run.stderr}`, /Reconnecting|stream disconnected|error=/i, `Codex had to retry\n${why}`);
  assert.equal(pool.seen('decoy').length, 0, 'a request went to the default scheme instead of the aliased one');
  const recent = await pool.cf.api('GET', '/admin/requests');
  return (Array.isArray(recent) ? recent : recent.requests || []).filter((r) => r.scheme === scheme && Date.parse(r.time) >= since);
}

// checkTurns: every request of one channel in the dialect expected; the
// first answered turn called Codex's file-writing tool, the last was text.
function checkTurns(recs, dialect, shape) {
  assert.ok(recs.length >= 2, `${recs.length} requests: a tool turn and a final turn expected`);
  for (const r of recs) assert.equal(r.dialect, dialect, `${r.path} is not ${dialect}`);
  const plans = recs.filter((r) => r.answer.status === 200).map((r) => r.answer.plan);
  assert.equal(plans[0]?.tool, shape.tool, `the first answered turn: ${JSON.stringify(plans[0])}`);
  assert.match(plans.at(-1)?.text || '', /^Done/, `the last answered turn: ${JSON.stringify(plans.at(-1))}`);
}

// checkThinkingRoundTrip: when Codex asked for reasoning (the lite shape
// sends an effort), the Messages upstream's signed thinking went to Codex
// as a reasoning item and came back, signature intact, in the next turn.
function checkThinkingRoundTrip(recs) {
  if (!recs[0].body.thinking) return;
  const blocks = recs[1].body.messages.filter((m) => m.role === 'assistant').flatMap((m) => m.content);
  const thinking = blocks.find((b) => b.type === 'thinking');
  assert.ok(thinking, `no thinking block in the next turn: ${JSON.stringify(blocks).slice(0, 500)}`);
  assert.match(thinking.signature || '', /^fake-sig-/, 'the thinking signature did not survive the round trip');
}

// toolNames lists the tools a translated upstream request offered.
const toolNames = (body) => (body.tools || []).map((t) => t.function?.name || t.name);

for (const shape of SHAPES) {
  test(`Codex (${shape.name}) over a chat-only openai channel: creates the file`, { timeout: 120_000 }, async (t) => {
    const recent = await codex(t, 'cx-chat', shape);
    const recs = pool.seen('cx-o');
    checkTurns(recs, 'chat', shape);
    for (const r of recs) {
      assert.equal(r.body.model, 'gpt-upstream');
      assert.equal(r.headers.authorization, 'Bearer sk-upstream-cx-o-0123456789abcdef');
      assert.equal(r.body.stream, true);
    }
    const names = toolNames(recs[0].body);
    assert.ok(names.includes(shape.tool), `tools upstream: ${names}`);
    assert.ok(!names.includes('web_search'), 'a hosted tool went to a chat upstream');
    if (shape.tool === 'exec') {
      // The custom tool became a function with one string parameter.
      const exec = recs[0].body.tools.find((t) => t.function?.name === 'exec');
      assert.deepEqual(Object.keys(exec.function.parameters.properties), ['input']);
    }
    assert.ok(recs.at(-1).body.messages.some((m) => m.role === 'tool'), 'the tool output did not go up as a tool message');
    assert.ok(recent.length >= 2 && recent.every((r) => r.dialect === 'responses' && r.attempts.at(-1).upstream === 'chat'), JSON.stringify(recent));
  });

  test(`Codex (${shape.name}) over an anthropic channel: creates the file`, { timeout: 120_000 }, async (t) => {
    const recent = await codex(t, 'cx-anthropic', shape);
    const recs = pool.seen('cx-a');
    checkTurns(recs, 'messages', shape);
    for (const r of recs) {
      assert.equal(r.body.model, 'claude-upstream');
      assert.equal(r.headers['x-api-key'], 'sk-upstream-cx-a-0123456789abcdef');
      assert.ok(r.body.max_tokens > 0, 'a Messages upstream needs max_tokens; Codex sends none');
    }
    assert.ok(toolNames(recs[0].body).includes(shape.tool), `tools upstream: ${toolNames(recs[0].body)}`);
    checkThinkingRoundTrip(recs);
    const last = recs.at(-1).body.messages.at(-1);
    assert.ok(last.role === 'user' && last.content.some((b) => b.type === 'tool_result'), `the last message upstream: ${JSON.stringify(last).slice(0, 500)}`);
    assert.ok(recent.length >= 2 && recent.every((r) => r.attempts.at(-1).upstream === 'messages'), JSON.stringify(recent));
  });

  test(`Codex (${shape.name}) over a responses: true channel (passthrough): creates the file`, { timeout: 120_000 }, async (t) => {
    const recent = await codex(t, 'cx-responses', shape);
    const recs = pool.seen('cx-r');
    checkTurns(recs, 'responses', shape);
    for (const r of recs) {
      assert.equal(r.path, '/cx-r/v1/responses');
      assert.equal(r.body.model, shape.model);
      assert.equal(r.headers.authorization, 'Bearer sk-upstream-cx-r-0123456789abcdef');
    }
    // Codex's own request, as it sent it: the shape really is the one named.
    const first = recs[0].body;
    if (shape.tool === 'exec') {
      assert.equal(first.tools, undefined, 'the lite shape has no top-level tools');
      assert.equal(first.input[0].type, 'additional_tools');
      assert.equal(recs[0].answer.plan.kind, 'custom');
      assert.ok(recs[1].body.input.some((i) => i.type === 'custom_tool_call_output'), 'no custom_tool_call_output in the second turn');
    } else {
      assert.ok(first.tools.some((t) => t.type === 'namespace'), 'the default shape has namespace tools');
      assert.ok(recs[1].body.input.some((i) => i.type === 'function_call_output'), 'no function_call_output in the second turn');
    }
    assert.ok(recs[1].body.input.some((i) => i.type === 'reasoning' && i.encrypted_content), 'the reasoning item was not echoed whole');
    assert.ok(recent.length >= 2 && recent.every((r) => r.attempts.length === 1 && r.attempts[0].upstream === 'responses'), JSON.stringify(recent));
  });
}

const FAILOVERS = [
  { scheme: 'cx-fo-r2a', first: 'responses', firstType: 'openai', status: 500, then: 'messages', thenType: 'anthropic' },
  { scheme: 'cx-fo-a2o', first: 'messages', firstType: 'anthropic', status: 529, then: 'chat', thenType: 'openai' },
];

for (const fo of FAILOVERS) {
  for (const shape of SHAPES) {
    test(`Codex (${shape.name}) with failover ${fo.first} channel (${fo.status}) -> ${fo.then} channel inside each request: creates the file`, { timeout: 120_000 }, async (t) => {
      pool.fake.addFault({ when: (r) => r.path.startsWith(`/${fo.scheme}-1/`), status: fo.status, times: Infinity });
      const recent = await codex(t, fo.scheme, shape);
      const firsts = pool.seen(`${fo.scheme}-1`);
      const seconds = pool.seen(`${fo.scheme}-2`);
      checkTurns(seconds, fo.then, shape);
      if (fo.then === 'messages') checkThinkingRoundTrip(seconds);
      assert.equal(firsts.length, seconds.length, 'each request should try the failing channel once, then the other');
      for (const r of firsts) {
        assert.equal(r.dialect, fo.first);
        assert.equal(r.answer.status, fo.status);
      }
      const order = pool.fake.requests.map((r) => r.path.split('/')[1].slice(-1)).join('');
      assert.equal(order, '12'.repeat(firsts.length));
      assert.equal(recent.length, seconds.length, `requests in /admin/requests: ${JSON.stringify(recent)}`);
      for (const r of recent) {
        assert.deepEqual(r.attempts.map((a) => [a.type, a.upstream, a.outcome === 'ok']),
          [[fo.firstType, fo.first, false], [fo.thenType, fo.then, true]], JSON.stringify(r.attempts));
      }
    });
  }
}

test('Codex: its final answer\'s stream breaks midway on an openai channel and is continued on an anthropic one (prefill): one whole answer', { timeout: 120_000 }, async (t) => {
  const DONE = 'Done: hello.txt now contains the requested text. The stream that carried this answer broke midway and went on elsewhere.';
  const onP = (r) => r.path.startsWith('/cx-cont-1/');
  pool.fake.addFault({ when: (r) => onP(r) && hasToolResult(r.body), plan: () => ({ text: DONE }), breakAfter: 1 + 5 });
  pool.fake.addFault({ when: (r) => r.path.startsWith('/cx-cont-2/'), plan: continuingPlan(DONE) });
  await codex(t, 'cx-cont', SHAPES[0]);
  const order = pool.fake.requests.map((r) => `${r.path.split('/')[1]}:${r.answer.broken ? 'broken' : r.answer.status}`);
  assert.deepEqual(order, ['cx-cont-1:200', 'cx-cont-1:broken', 'cx-cont-2:200'], 'Codex retried the turn itself');
  const prefill = pool.seen('cx-cont-2')[0].body.messages.at(-1);
  assert.equal(prefill.role, 'assistant', 'the anthropic channel got no prefill');
  const prefillText = typeof prefill.content === 'string' ? prefill.content : prefill.content.map((b) => b.text || '').join('');
  assert.equal(prefillText, DONE.slice(0, 40).trimEnd(), 'the prefill is the text Codex already has');
  t.diagnostic(`codex stdout: ${JSON.stringify(lastRun.stdout.slice(-300))}`);
  assert.equal(lastRun.stdout.trim().split('\n').at(-1), DONE, 'Codex\'s final answer');
});
