#!/usr/bin/env node
// Runs the real coding agents (Claude Code, Codex) headless against the
// scripted fake LLM (lib/fake-llm.mjs) and records what they send and how they
// react to answers with parts left out, HTTP errors and broken streams.
//
//   node capture.mjs                 all scenarios
//   node capture.mjs --list          names only
//   node capture.mjs --only a,b      some scenarios (a name or a prefix: cc-, cx-)
//   node capture.mjs --timeout 120   seconds before a client run is killed
//   node capture.mjs --dump DIR      also write every scenario's full requests to DIR/<name>.jsonl
//
// Writes (relative to this file):
//   captures/claude-code.jsonl   golden request fixtures (one request a line)
//   captures/codex.jsonl
//   captures/experiments.json    one summary per scenario (what was answered,
//                                what the client did next, exit code, file)
// With --only, the experiments of the other scenarios already in
// experiments.json are kept, and a golden file is rewritten only when one
// of its scenarios ran.
//
// Isolation: as root with unshare(1) at hand, the script re-runs itself in a
// new network namespace (only loopback, up) and mount namespace whose
// /etc/resolv.conf points at a logging DNS stub on 127.0.0.53, so nothing a
// client tries can leave the machine and every name it looks up, and every
// connect() it makes (strace, when installed), is recorded.
import { spawn, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startFakeLLM } from './lib/fake-llm.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const bin = (name) => path.join(here, 'node_modules', '.bin', name);
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const TIMEOUT_S = Number(opt('--timeout', 120));
const ONLY = opt('--only', '') ? opt('--only', '').split(',') : null;
const OUT = path.join(here, 'captures');
const DUMP = opt('--dump', ''); // a directory for every scenario's full requests
const TASK = 'Create a file named hello.txt containing exactly: hi from catfish';
const EXPECTED = 'hi from catfish';
const CLAUDE_KEY = 'sk-ant-fake-capture-0000000000000000';
const CODEX_KEY = 'sk-fake-capture-codex-000000000000';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------ isolation

if (!process.env.CATFISH_CAPTURE_NETNS && !args.includes('--no-netns') && process.getuid?.() === 0
  && spawnSync('unshare', ['--version']).status === 0 && spawnSync('ip', ['-V']).status === 0) {
  const resolv = path.join(os.tmpdir(), 'catfish-capture-resolv.conf');
  fs.writeFileSync(resolv, 'nameserver 127.0.0.53\noptions timeout:1 attempts:1\n');
  const inner = `ip link set lo up && mount --bind ${resolv} /etc/resolv.conf && exec "$0" "$@"`;
  const r = spawnSync('unshare', ['-n', '-m', '--propagation', 'private', 'sh', '-c', inner, process.execPath, fileURLToPath(import.meta.url), ...args],
    { stdio: 'inherit', env: { ...process.env, CATFISH_CAPTURE_NETNS: '1' } });
  process.exit(r.status ?? 1);
}

// A DNS stub that logs each question and answers NXDOMAIN.
async function startDnsLogger() {
  const names = [];
  const sock = dgram.createSocket('udp4');
  sock.on('message', (msg, rinfo) => {
    try {
      let i = 12;
      const labels = [];
      while (i < msg.length && msg[i] !== 0) { labels.push(msg.slice(i + 1, i + 1 + msg[i]).toString()); i += msg[i] + 1; }
      const qtype = msg.readUInt16BE(i + 1);
      names.push({ name: labels.join('.'), qtype });
      const resp = Buffer.from(msg.slice(0, i + 5));
      resp.writeUInt16BE(0x8183, 2); // response, recursion desired/available, NXDOMAIN
      resp.writeUInt16BE(0, 6); resp.writeUInt16BE(0, 8); resp.writeUInt16BE(0, 10);
      sock.send(resp, rinfo.port, rinfo.address);
    } catch { /* ignore a malformed packet */ }
  });
  try {
    await new Promise((resolve, reject) => { sock.once('error', reject); sock.bind(53, '127.0.0.53', resolve); });
  } catch {
    sock.close();
    return { names, active: false, close() {} };
  }
  return { names, active: true, close: () => sock.close() };
}

// --------------------------------------------------------------- helpers

function version(name) {
  const r = spawnSync(bin(name), ['--version'], { encoding: 'utf8', env: { PATH: process.env.PATH, HOME: os.tmpdir() } });
  return (r.stdout || '').trim().split(/\s+/).find((w) => /^\d+\.\d+\.\d+/.test(w)) || 'unknown';
}

function freshDir(p) {
  fs.rmSync(p, { recursive: true, force: true });
  fs.mkdirSync(p, { recursive: true });
  return p;
}

const hasStrace = spawnSync('strace', ['-V']).status === 0;

function parseStrace(file) {
  if (!fs.existsSync(file)) return [];
  const seen = new Map();
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const m = /connect\(\d+, \{sa_family=(AF_INET6?|AF_UNIX)(.*?)\}, \d+\)\s*=\s*(.*)$/.exec(line);
    if (!m) continue;
    let dest = m[2];
    const port = /htons\((\d+)\)/.exec(dest)?.[1];
    const addr = /inet_addr\("([^"]+)"\)/.exec(dest)?.[1] || /inet_pton\(AF_INET6, "([^"]+)"/.exec(dest)?.[1] || /sun_path="?([^",}]+)/.exec(dest)?.[1];
    dest = `${m[1]} ${addr || '?'}${port ? `:${port}` : ''}`;
    const result = m[3].replace(/\(.*\)/, '').trim();
    const k = `${dest} => ${result}`;
    seen.set(k, (seen.get(k) || 0) + 1);
  }
  return [...seen].map(([k, n]) => `${k} (x${n})`);
}

function sanitize(v, keys) {
  if (typeof v === 'string') {
    let s = v;
    for (const [k, rep] of keys) s = s.split(k).join(rep);
    return s;
  }
  if (Array.isArray(v)) return v.map((x) => sanitize(x, keys));
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, sanitize(x, keys)]));
  return v;
}

const SECRETS = [[CLAUDE_KEY, 'sk-ant-PLACEHOLDER'], [CODEX_KEY, 'sk-PLACEHOLDER']];

// ------------------------------------------------------------ client runs

const CLIENTS = {
  claude: {
    name: 'claude-code',
    version: () => version('claude'),
    command(port, dirs, sc) {
      const argv = ['-p'];
      if (!sc.stdin) argv.push(sc.prompt ?? TASK);
      argv.push('--permission-mode', 'acceptEdits', ...(sc.args || []));
      const env = {
        PATH: process.env.PATH,
        HOME: dirs.home,
        LANG: 'C.UTF-8',
        ANTHROPIC_BASE_URL: `http://127.0.0.1:${port}`,
        ANTHROPIC_API_KEY: CLAUDE_KEY,
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
        ...(sc.env || {}),
      };
      for (const [k, v] of Object.entries(env)) if (v === null) delete env[k];
      return { file: bin('claude'), argv, env };
    },
  },
  codex: {
    name: 'codex',
    version: () => version('codex'),
    command(port, dirs, sc) {
      const provider = `model_providers.fake={name="fake",base_url="http://127.0.0.1:${port}/v1",env_key="FAKE_KEY",wire_api="${sc.wireApi || 'responses'}"${sc.providerExtra || ''}}`;
      const argv = ['exec', '-c', provider, '-c', 'model_provider=fake', '-m', sc.model || 'fake-model',
        '--skip-git-repo-check', '-s', 'workspace-write', ...(sc.args || [])];
      if (!sc.stdin) argv.push(sc.prompt ?? TASK);
      const env = {
        PATH: process.env.PATH,
        HOME: dirs.home,
        LANG: 'C.UTF-8',
        CODEX_HOME: dirs.codexHome,
        FAKE_KEY: CODEX_KEY,
        ...(sc.env || {}),
      };
      return { file: bin('codex'), argv, env };
    },
  },
};

async function runScenario(sc, versions, dns) {
  const client = CLIENTS[sc.client];
  const fake = await startFakeLLM();
  for (const f of sc.faults || []) fake.addFault(f);
  // Fixed paths, so that captures do not change from run to run.
  const base = path.join(os.tmpdir(), `catfish-capture-${sc.client}`);
  const dirs = { home: freshDir(path.join(base, 'home')), work: freshDir(path.join(base, 'work')), codexHome: null };
  if (sc.client === 'codex') dirs.codexHome = freshDir(path.join(base, 'codex-home'));
  if (sc.setup) sc.setup(dirs);
  const cmd = client.command(fake.port, dirs, sc);
  const straceFile = path.join(base, 'strace.txt');
  let file = cmd.file;
  let argv = cmd.argv;
  if (sc.strace && hasStrace) {
    argv = ['-f', '-qq', '-e', 'trace=connect', '-o', straceFile, file, ...argv];
    file = 'strace';
  }
  const dnsBefore = dns.names.length;
  const started = Date.now();
  const child = spawn(file, argv, { cwd: dirs.work, env: cmd.env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b) => { stdout += b; });
  child.stderr.on('data', (b) => { stderr += b; });
  child.stdin.on('error', () => {});
  child.stdin.end(sc.stdin ? sc.stdin() : '');
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
  }, (sc.timeout || TIMEOUT_S) * 1000);
  const exit = await new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  clearTimeout(timer);
  try { process.kill(-child.pid, 'SIGKILL'); } catch { /* group already gone */ }
  const ms = Date.now() - started;
  await sleep(100);
  const target = path.join(dirs.work, 'hello.txt');
  const content = fs.existsSync(target) ? fs.readFileSync(target, 'utf8') : null;
  const requests = fake.requests.map((r) => ({ ...r, t: Date.parse(r.time) - started }));
  await fake.close();
  const summary = {
    scenario: sc.name,
    client: client.name,
    version: versions[sc.client],
    note: sc.note,
    faults: (sc.faults || []).map((f) => Object.fromEntries(Object.entries(f).map(([k, v]) => [k, typeof v === 'function' ? `fn: ${v.toString().slice(0, 200)}` : v]))),
    exit: { ...exit, timedOut, ms },
    file: content === null ? 'missing' : content === EXPECTED ? 'ok' : content === `${EXPECTED}\n` ? 'ok+newline' : `wrong: ${JSON.stringify(content)}`,
    requests: requests.map((r) => ({
      t: r.t,
      method: r.method,
      path: r.path + (r.query ? `?${r.query}` : ''),
      stream: r.body?.stream,
      model: r.body?.model,
      retry: r.headers['x-stainless-retry-count'],
      n_messages: r.body?.messages?.length ?? r.body?.input?.length,
      fault: r.fault ? Object.keys(r.fault).filter((k) => !['when', 'times'].includes(k)).join(',') : undefined,
      answer: r.answer,
    })),
    stdout: stdout.slice(-1500),
    stderr: stderr.slice(-2500),
  };
  if (sc.strace && hasStrace) summary.connects = parseStrace(straceFile);
  if (dns.active) summary.dns = dns.names.slice(dnsBefore).map((q) => `${q.name} (type ${q.qtype})`);
  if (sc.inspect) summary.inspect = sc.inspect(requests);
  return { summary, requests };
}

// ------------------------------------------------------------- scenarios

const msgs = { dialect: 'messages' };
const resp = { dialect: 'responses' };
const ALWAYS = Infinity;
const lastMessages = (reqs) => reqs.filter((r) => r.dialect === 'messages').at(-1)?.body;

// A stdio MCP server with 80 tools of ~150 words each.
const MCP80 = ['--mcp-config', JSON.stringify({ mcpServers: { fake: { type: 'stdio', command: process.execPath, args: [path.join(here, 'lib', 'fake-mcp.mjs'), '80', '150'] } } })];
const MCP10 = ['--mcp-config', JSON.stringify({ mcpServers: { fake: { type: 'stdio', command: process.execPath, args: [path.join(here, 'lib', 'fake-mcp.mjs'), '10', '20'] } } })];
const MCP400 = ['--mcp-config', JSON.stringify({ mcpServers: { fake: { type: 'stdio', command: process.execPath, args: [path.join(here, 'lib', 'fake-mcp.mjs'), '400', '300'] } } })];
const toolCounts = (reqs) => reqs.filter((r) => r.dialect === 'messages' || r.dialect === 'count_tokens')
  .map((r) => `${r.dialect}: ${(r.body.tools || []).length} tools, ${(r.body.tools || []).filter((t) => t.defer_loading).length} deferred`).join('; ');

const SCENARIOS = [
  // ---- Claude Code
  { client: 'claude', name: 'cc-baseline', golden: 'claude-code.jsonl', strace: true, note: 'the task with the default fake: stream, thinking signed' },
  { client: 'claude', name: 'cc-auth-token', env: { ANTHROPIC_API_KEY: null, ANTHROPIC_AUTH_TOKEN: CLAUDE_KEY }, note: 'ANTHROPIC_AUTH_TOKEN instead of ANTHROPIC_API_KEY',
    inspect: (reqs) => JSON.stringify(reqs.map((r) => ({ 'x-api-key': r.headers['x-api-key'], authorization: r.headers.authorization, beta: r.headers['anthropic-beta'] }))) },
  { client: 'claude', name: 'cc-no-event-lines', faults: [{ when: msgs, times: ALWAYS, noEventLines: true }], note: 'SSE with data: lines only' },
  { client: 'claude', name: 'cc-no-ping', faults: [{ when: msgs, times: ALWAYS, omit: ['ping'] }] },
  { client: 'claude', name: 'cc-no-usage-in-message-start', faults: [{ when: msgs, times: ALWAYS, mutate: (evs) => evs.map((e) => (e.event === 'message_start' ? { ...e, data: { ...e.data, message: { ...e.data.message, usage: undefined } } } : e)) }] },
  { client: 'claude', name: 'cc-no-usage-anywhere', faults: [{ when: msgs, times: ALWAYS, strip: ['usage'] }] },
  { client: 'claude', name: 'cc-thinking-unsigned', faults: [{ when: msgs, times: ALWAYS, thinking: 'unsigned' }],
    inspect: (reqs) => JSON.stringify(lastMessages(reqs)?.messages?.find((m) => m.role === 'assistant')?.content?.[0] ?? null) },
  { client: 'claude', name: 'cc-no-thinking', faults: [{ when: msgs, times: ALWAYS, thinking: 'none' }] },
  { client: 'claude', name: 'cc-no-message-stop', faults: [{ when: msgs, times: ALWAYS, omit: ['message_stop'] }] },
  { client: 'claude', name: 'cc-no-content-block-stop', faults: [{ when: msgs, times: ALWAYS, omit: ['content_block_stop'] }] },
  { client: 'claude', name: 'cc-no-message-delta', faults: [{ when: msgs, times: ALWAYS, omit: ['message_delta'] }] },
  { client: 'claude', name: 'cc-json-for-stream', golden: 'claude-code.jsonl', faults: [{ when: msgs, times: ALWAYS, asJson: true }], note: 'a JSON body (application/json) to a stream:true request' },
  { client: 'claude', name: 'cc-http-429-x2-retry-after-3', faults: [{ when: msgs, times: 2, status: 429, headers: { 'retry-after': '3' } }] },
  { client: 'claude', name: 'cc-http-429-x2-no-retry-after', faults: [{ when: msgs, times: 2, status: 429 }] },
  { client: 'claude', name: 'cc-http-429-always-retry-after-1', faults: [{ when: msgs, times: ALWAYS, status: 429, headers: { 'retry-after': '1' } }] },
  { client: 'claude', name: 'cc-http-429-always', timeout: 300, faults: [{ when: msgs, times: ALWAYS, status: 429 }], note: 'no Retry-After; a longer time limit to see whether it gives up' },
  { client: 'claude', name: 'cc-http-500-always', timeout: 300, faults: [{ when: msgs, times: ALWAYS, status: 500 }] },
  { client: 'claude', name: 'cc-http-500-x2', faults: [{ when: msgs, times: 2, status: 500 }] },
  { client: 'claude', name: 'cc-http-529-x2', faults: [{ when: msgs, times: 2, status: 529 }] },
  { client: 'claude', name: 'cc-http-529-always', faults: [{ when: msgs, times: ALWAYS, status: 529 }] },
  { client: 'claude', name: 'cc-http-400', faults: [{ when: msgs, times: 1, status: 400, message: 'fake: messages.1.content: bad block' }] },
  { client: 'claude', name: 'cc-http-401', faults: [{ when: msgs, times: 1, status: 401, message: 'fake: invalid x-api-key' }] },
  { client: 'claude', name: 'cc-stream-break-once', faults: [{ when: msgs, times: 1, breakAfter: 5 }], note: 'socket destroyed after 5 SSE events, first request only' },
  { client: 'claude', name: 'cc-stream-break-always', faults: [{ when: { ...msgs, stream: true }, times: ALWAYS, breakAfter: 5 }], note: 'every streaming request breaks; non-streaming ones are answered' },
  { client: 'claude', name: 'cc-stream-end-early-once', faults: [{ when: msgs, times: 1, endAfter: 5 }], note: 'clean end of the response after 5 events, no message_stop' },
  { client: 'claude', name: 'cc-stream-error-event-once', faults: [{ when: msgs, times: 1, errorAfter: 5, errorStatus: 529 }], note: 'event: error (overloaded_error) after 5 events' },
  { client: 'claude', name: 'cc-http-400-always', faults: [{ when: msgs, times: ALWAYS, status: 400, message: 'fake: messages.1.content: bad block' }] },
  { client: 'claude', name: 'cc-http-401-always', faults: [{ when: msgs, times: ALWAYS, status: 401, message: 'fake: invalid x-api-key' }] },
  { client: 'claude', name: 'cc-http-400-prompt-too-long', faults: [{ when: msgs, times: 1, status: 400, message: 'prompt is too long: 250000 tokens > 200000 maximum' }] },
  { client: 'claude', name: 'cc-stream-stall-once', timeout: 330, faults: [{ when: msgs, times: 1, stallAfter: 5 }], note: 'after 5 events the stream sends nothing more and stays open' },
  { client: 'claude', name: 'cc-stream-error-event-api-error-once', faults: [{ when: msgs, times: 1, errorAfter: 5, errorStatus: 500 }], note: 'event: error (api_error) after 5 events' },
  { client: 'claude', name: 'cc-large-prompt', stdin: () => `${TASK}\n\nContext follows, ignore it.\n${'lorem ipsum dolor sit amet '.repeat(24000)}`, note: 'a ~650 KB prompt on stdin' },
  { client: 'claude', name: 'cc-context-command', prompt: '/context', note: 'the /context slash command in -p mode' },
  { client: 'claude', name: 'cc-context-command-count-tokens-404', prompt: '/context', faults: [{ when: { dialect: 'count_tokens' }, times: ALWAYS, status: 404 }] },
  { client: 'claude', name: 'cc-context-command-count-tokens-500', prompt: '/context', faults: [{ when: { dialect: 'count_tokens' }, times: ALWAYS, status: 500 }] },
  { client: 'claude', name: 'cc-mcp-80-tools', args: MCP80,
    inspect: toolCounts },
  { client: 'claude', name: 'cc-mcp-10-tools-tool-search-auto', golden: 'claude-code.jsonl', env: { ENABLE_TOOL_SEARCH: 'auto' }, args: MCP10, inspect: toolCounts, note: 'a small MCP server, so that the fixture shows count_tokens and mcp__ tools at a modest size' },
  { client: 'claude', name: 'cc-mcp-80-tools-tool-search-auto', env: { ENABLE_TOOL_SEARCH: 'auto' }, args: MCP80,
    inspect: toolCounts },
  { client: 'claude', name: 'cc-mcp-80-tools-tool-search-auto-count-tokens-404', env: { ENABLE_TOOL_SEARCH: 'auto' }, args: MCP80, faults: [{ when: { dialect: 'count_tokens' }, times: ALWAYS, status: 404 }], inspect: toolCounts },
  { client: 'claude', name: 'cc-mcp-80-tools-tool-search-auto-count-tokens-500', env: { ENABLE_TOOL_SEARCH: 'auto' }, args: MCP80, faults: [{ when: { dialect: 'count_tokens' }, times: ALWAYS, status: 500 }], inspect: toolCounts },
  { client: 'claude', name: 'cc-mcp-80-tools-tool-search-auto-count-tokens-huge', env: { ENABLE_TOOL_SEARCH: 'auto' }, args: MCP80, faults: [{ when: { dialect: 'count_tokens' }, times: ALWAYS, status: 200, body: { input_tokens: 900000 } }], inspect: toolCounts, note: 'count_tokens answers 900000' },
  { client: 'claude', name: 'cc-mcp-400-tools-tool-search-auto', env: { ENABLE_TOOL_SEARCH: 'auto' }, args: MCP400, inspect: toolCounts },
  { client: 'claude', name: 'cc-mcp-400-tools-tool-search-auto-count-tokens-404', env: { ENABLE_TOOL_SEARCH: 'auto' }, args: MCP400, faults: [{ when: { dialect: 'count_tokens' }, times: ALWAYS, status: 404 }], inspect: toolCounts },
  { client: 'claude', name: 'cc-tool-search-select', golden: 'claude-code.jsonl', args: MCP10, faults: [{ when: msgs, times: 1, plan: () => ({ tool: 'ToolSearch', args: { query: 'select:mcp__fake__fake_tool_003' } }) }],
    note: 'the model first calls ToolSearch to load a deferred MCP tool',
    inspect: (reqs) => JSON.stringify(reqs.filter((r) => r.dialect === 'messages').map((r) => ({ tools: (r.body.tools || []).map((t) => t.name).filter((n) => n.startsWith('mcp__') || n === 'ToolSearch'), last: r.body.messages.at(-1).content }))).slice(0, 3000) },
  { client: 'claude', name: 'cc-mcp-80-tools-tool-search-false', env: { ENABLE_TOOL_SEARCH: 'false' }, args: MCP80,
    inspect: toolCounts },

  // ---- Codex
  { client: 'codex', name: 'cx-baseline', golden: 'codex.jsonl', strace: true, note: 'the task, -m fake-model (unknown to Codex: fallback model metadata)' },
  { client: 'codex', name: 'cx-known-model', golden: 'codex.jsonl', model: 'gpt-6.2-sol', note: 'the task, -m gpt-6.2-sol (a model Codex knows)' },
  { client: 'codex', name: 'cx-known-model-no-namespace', model: 'gpt-6.2-sol', faults: [{ when: resp, times: ALWAYS, namespace: false }], note: 'the custom_tool_call for `exec` without namespace:"functions"' },
  { client: 'codex', name: 'cx-known-model-no-reasoning', model: 'gpt-6.2-sol', faults: [{ when: resp, times: ALWAYS, thinking: 'none' }] },
  { client: 'codex', name: 'cx-no-event-lines', faults: [{ when: resp, times: ALWAYS, noEventLines: true }] },
  { client: 'codex', name: 'cx-no-created-in-progress', faults: [{ when: resp, times: ALWAYS, omit: ['response.created', 'response.in_progress'] }] },
  { client: 'codex', name: 'cx-no-output-item-done', faults: [{ when: resp, times: ALWAYS, omit: ['response.output_item.done'] }] },
  { client: 'codex', name: 'cx-no-output-item-added', faults: [{ when: resp, times: ALWAYS, omit: ['response.output_item.added'] }] },
  { client: 'codex', name: 'cx-no-content-part', faults: [{ when: resp, times: ALWAYS, omit: ['response.content_part.added', 'response.content_part.done'] }] },
  { client: 'codex', name: 'cx-no-deltas', faults: [{ when: resp, times: ALWAYS, omit: ['response.output_text.delta', 'response.function_call_arguments.delta', 'response.reasoning_summary_text.delta'] }] },
  { client: 'codex', name: 'cx-no-sequence-number', faults: [{ when: resp, times: ALWAYS, strip: ['sequence_number'] }] },
  { client: 'codex', name: 'cx-completed-without-usage', faults: [{ when: resp, times: ALWAYS, mutate: (evs) => evs.map((e) => (e.event === 'response.completed' ? { ...e, data: { ...e.data, response: { ...e.data.response, usage: undefined } } } : e)) }] },
  { client: 'codex', name: 'cx-no-reasoning-item', faults: [{ when: resp, times: ALWAYS, thinking: 'none' }] },
  { client: 'codex', name: 'cx-no-completed-once', faults: [{ when: resp, times: 1, omit: ['response.completed'] }], note: 'stream ends cleanly without response.completed, first request only' },
  { client: 'codex', name: 'cx-no-completed-always', faults: [{ when: resp, times: ALWAYS, omit: ['response.completed'] }] },
  { client: 'codex', name: 'cx-response-failed-once', faults: [{ when: resp, times: 1, errorAfter: 4, errorType: 'server_error' }], note: 'response.failed + error after 4 events' },
  { client: 'codex', name: 'cx-response-failed-context-length-once', faults: [{ when: resp, times: 1, errorAfter: 4, errorType: 'context_length_exceeded', message: 'Your input exceeds the context window of this model.' }] },
  { client: 'codex', name: 'cx-stream-break-once', faults: [{ when: resp, times: 1, breakAfter: 4 }] },
  { client: 'codex', name: 'cx-stream-break-always', faults: [{ when: resp, times: ALWAYS, breakAfter: 4 }] },
  { client: 'codex', name: 'cx-json-for-stream', faults: [{ when: resp, times: ALWAYS, asJson: true }] },
  { client: 'codex', name: 'cx-http-429-x2-retry-after-3', faults: [{ when: resp, times: 2, status: 429, headers: { 'retry-after': '3' } }] },
  { client: 'codex', name: 'cx-http-429-always', faults: [{ when: resp, times: ALWAYS, status: 429, headers: { 'retry-after': '1' } }] },
  { client: 'codex', name: 'cx-http-429-insufficient-quota', faults: [{ when: resp, times: 1, status: 429, errorType: 'insufficient_quota', message: 'You exceeded your current quota.' }] },
  { client: 'codex', name: 'cx-http-401-always', faults: [{ when: resp, times: ALWAYS, status: 401, message: 'fake: invalid api key' }] },
  { client: 'codex', name: 'cx-wire-api-chat', wireApi: 'chat', note: 'wire_api="chat" in the provider' },
  { client: 'codex', name: 'cx-http-500-x2', faults: [{ when: resp, times: 2, status: 500 }] },
  { client: 'codex', name: 'cx-http-500-always', faults: [{ when: resp, times: ALWAYS, status: 500 }] },
  { client: 'codex', name: 'cx-http-529-x2', faults: [{ when: resp, times: 2, status: 529 }] },
  { client: 'codex', name: 'cx-http-400', faults: [{ when: resp, times: 1, status: 400, message: 'fake: input[3]: bad item' }] },
  { client: 'codex', name: 'cx-http-401', faults: [{ when: resp, times: 1, status: 401, message: 'fake: invalid api key' }] },
];

// ------------------------------------------------------------------ main

if (args.includes('--list')) {
  for (const s of SCENARIOS) console.log(`${s.name}${s.golden ? ` (golden: ${s.golden})` : ''}${s.note ? ` - ${s.note}` : ''}`);
  process.exit(0);
}

const selected = SCENARIOS.filter((s) => !ONLY || ONLY.some((o) => s.name === o || (o.endsWith('-') && s.name.startsWith(o))));
const versions = { claude: CLIENTS.claude.version(), codex: CLIENTS.codex.version() };
console.log(`claude-code ${versions.claude}, codex ${versions.codex}; ${selected.length} scenarios; netns ${process.env.CATFISH_CAPTURE_NETNS ? 'yes' : 'no'}; strace ${hasStrace ? 'yes' : 'no'}`);
fs.mkdirSync(OUT, { recursive: true });
const dns = await startDnsLogger();
const expFile = path.join(OUT, 'experiments.json');
const experiments = new Map();
if (ONLY && fs.existsSync(expFile)) for (const e of JSON.parse(fs.readFileSync(expFile, 'utf8'))) experiments.set(e.scenario, e);
const goldens = new Map();
// With --only, keep the golden lines of the scenarios that did not run.
const ranGolden = new Set(selected.filter((s) => s.golden).map((s) => s.name));
if (ONLY) {
  for (const name of new Set(selected.filter((s) => s.golden).map((s) => s.golden))) {
    const file = path.join(OUT, name);
    if (!fs.existsSync(file)) continue;
    goldens.set(name, fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((l) => !ranGolden.has(l.scenario)));
  }
}
let failures = 0;
for (const sc of selected) {
  const { summary, requests } = await runScenario(sc, versions, dns);
  experiments.set(sc.name, summary);
  const path_ = summary.requests.map((r) => `${r.method} ${r.path.replace(/\?.*/, '')}${r.stream ? '~' : ''}:${r.answer?.status ?? '-'}`).join(' ');
  console.log(`${sc.name}: exit ${summary.exit.code ?? summary.exit.signal}${summary.exit.timedOut ? ' (timeout)' : ''} in ${summary.exit.ms} ms, file ${summary.file}, ${requests.length} requests: ${path_}`);
  const toLine = (r, i) => sanitize({
    client: { name: summary.client, version: summary.version },
    scenario: sc.name,
    seq: i,
    method: r.method,
    path: r.path,
    query: r.query,
    headers: r.headers,
    rawHeaders: r.rawHeaders,
    body: r.body,
    ...(r.bodyRaw !== undefined ? { bodyRaw: r.bodyRaw } : {}),
    answer: r.answer,
  }, SECRETS);
  if (DUMP) {
    fs.mkdirSync(DUMP, { recursive: true });
    fs.writeFileSync(path.join(DUMP, `${sc.name}.jsonl`), requests.map((r, i) => `${JSON.stringify(toLine(r, i))}\n`).join(''));
  }
  if (sc.golden) {
    if (!summary.file.startsWith('ok') || summary.exit.code !== 0) { failures++; console.log(`  golden scenario ${sc.name} did not complete the task`); }
    const lines = goldens.get(sc.golden) || [];
    for (const [i, r] of requests.entries()) lines.push(toLine(r, i));
    goldens.set(sc.golden, lines);
  }
}
dns.close();
const order = SCENARIOS.map((s) => s.name);
for (const [name, lines] of goldens) {
  lines.sort((a, b) => order.indexOf(a.scenario) - order.indexOf(b.scenario) || a.seq - b.seq);
  fs.writeFileSync(path.join(OUT, name), `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
}
fs.writeFileSync(expFile, `${JSON.stringify(sanitize([...experiments.values()].sort((a, b) => order.indexOf(a.scenario) - order.indexOf(b.scenario)), SECRETS), null, 1)}\n`);
process.exit(failures ? 1 : 0);
