// Runs the real coding agents (Claude Code, Codex) headless against a
// Catfish on loopback, as capture.mjs does, for the e2e tests:
//
//   isolate(import.meta.url)  puts the whole test file in a network
//                             namespace that has only loopback (root:
//                             `unshare -n`; otherwise `unshare -r -n` where
//                             user namespaces are allowed), so nothing an
//                             agent tries can leave the machine. Codex looks
//                             up github.com and chatgpt.com on every run
//                             (docs/captures.md), so it must not run without.
//   runClaude / runCodex      one bounded run in a fresh HOME (and
//                             CODEX_HOME) and working directory; the process
//                             group is killed after timeoutMs.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildCatfish } from './catfish.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const e2eDir = path.resolve(here, '..');
export const bin = (name) => path.join(e2eDir, 'node_modules', '.bin', name);

export const TASK = 'Create a file named hello.txt containing exactly: hi from catfish';
export const EXPECTED = 'hi from catfish';

const NETNS_ENV = 'CATFISH_E2E_NETNS';

// isolate re-runs the calling test file inside a new network namespace
// with only loopback up, and exits with its status; inside, it returns
// {isolated: true}. Where no such namespace can be made it returns
// {isolated: false, reason} and the caller decides (Codex tests fail with
// the reason; Claude Code, whose only connection with
// CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 is to its base URL, may run
// as it is). The catfish binary is built before, outside, where the Go
// module cache or proxy is reachable, and handed in by path.
export async function isolate(metaUrl) {
  if (process.env[NETNS_ENV] === '1') return { isolated: true };
  if (process.env[NETNS_ENV] === 'off') return { isolated: false, reason: `${NETNS_ENV}=off` };
  const file = fileURLToPath(metaUrl);
  const inner = 'ip link set lo up && exec "$0" "$@"';
  const tries = process.getuid?.() === 0 ? [['-n'], ['-r', '-n']] : [['-r', '-n']];
  let reason = '';
  for (const flags of tries) {
    const probe = spawnSync('unshare', [...flags, 'sh', '-c', 'ip link set lo up'], { encoding: 'utf8', timeout: 10_000 });
    if (probe.status !== 0) {
      reason += `\`unshare ${flags.join(' ')} sh -c 'ip link set lo up'\` failed: ${(probe.error?.message || probe.stderr || `exit ${probe.status}`).trim()}. `;
      continue;
    }
    const catfishBin = await buildCatfish();
    const r = spawnSync('unshare', [...flags, 'sh', '-c', inner, process.execPath, ...process.execArgv, file, ...process.argv.slice(2)], {
      stdio: 'inherit',
      env: { ...process.env, [NETNS_ENV]: '1', CATFISH_E2E_BIN: catfishBin },
    });
    process.exit(r.status ?? 1);
  }
  return {
    isolated: false,
    reason: `${reason}The agents must run in a network namespace with only loopback (root with unshare(1) and ip(8) from util-linux and iproute2, or unprivileged user namespaces).`,
  };
}

// freshDirs makes an empty HOME, CODEX_HOME and working directory.
export function freshDirs(prefix) {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), `catfish-e2e-${prefix}-`));
  const dirs = { base, home: path.join(base, 'home'), codexHome: path.join(base, 'home', '.codex'), work: path.join(base, 'work') };
  for (const d of [dirs.home, dirs.codexHome, dirs.work]) fs.mkdirSync(d, { recursive: true });
  return dirs;
}

// run spawns one agent in its own process group and kills the group at
// the deadline, or when it exits (so no helper it started lingers).
export async function run(file, argv, { cwd, env, timeoutMs = 90_000 }) {
  const started = Date.now();
  const child = spawn(file, argv, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b) => { stdout += b; });
  child.stderr.on('data', (b) => { stderr += b; });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
  }, timeoutMs);
  const exit = await new Promise((resolve) => {
    child.on('error', (err) => resolve({ code: null, signal: null, error: err.message }));
    child.on('close', (code, signal) => resolve({ code, signal }));
  });
  clearTimeout(timer);
  try { process.kill(-child.pid, 'SIGKILL'); } catch { /* group already gone */ }
  return { ...exit, timedOut, ms: Date.now() - started, stdout, stderr };
}

// fileIn reads a file of the run's working directory, or null.
export function fileIn(dirs, name = 'hello.txt') {
  const p = path.join(dirs.work, name);
  return fs.existsSync(p) ? fs.readFileSync(p, 'utf8') : null;
}

// describeRun is what a failed assertion shows of a run.
export function describeRun(r) {
  return `exit ${r.code ?? r.signal}${r.timedOut ? ' (killed at the deadline)' : ''}${r.error ? ` (${r.error})` : ''} after ${r.ms} ms\n` +
    `--- stdout (tail)\n${r.stdout.slice(-1500)}\n--- stderr (tail)\n${r.stderr.slice(-2500)}`;
}

// runClaude runs `claude -p TASK` with Catfish as its Anthropic endpoint.
export function runClaude({ baseURL, key, dirs, prompt = TASK, env = {}, timeoutMs }) {
  return run(bin('claude'), ['-p', prompt, '--permission-mode', 'acceptEdits'], {
    cwd: dirs.work,
    timeoutMs,
    env: {
      PATH: process.env.PATH,
      HOME: dirs.home,
      LANG: 'C.UTF-8',
      ANTHROPIC_BASE_URL: baseURL,
      ANTHROPIC_API_KEY: key,
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
      ...env,
    },
  });
}

// runCodex runs `codex exec TASK` with Catfish as a custom Responses
// provider. A model Codex knows (gpt-6.2-sol) makes it send its "lite"
// request shape (tools in an additional_tools input item, a custom `exec`
// tool); an unknown one the default shape (docs/captures.md).
export function runCodex({ baseURL, key, dirs, model, prompt = TASK, env = {}, timeoutMs }) {
  const provider = `model_providers.catfish={name="catfish",base_url="${baseURL}/v1",env_key="CATFISH_KEY",wire_api="responses"}`;
  // analytics.enabled=false: otherwise Codex spends 5 s at exit trying to
  // send usage analytics to OpenAI, which the namespace does not reach.
  return run(bin('codex'), ['exec', '-c', provider, '-c', 'model_provider=catfish', '-c', 'analytics.enabled=false', '-m', model,
    '--skip-git-repo-check', '-s', 'workspace-write', prompt], {
    cwd: dirs.work,
    timeoutMs,
    env: {
      PATH: process.env.PATH,
      HOME: dirs.home,
      LANG: 'C.UTF-8',
      CODEX_HOME: dirs.codexHome,
      CATFISH_KEY: key,
      ...env,
    },
  });
}

// agentMissing says why an agent's binary cannot run here, or ''.
export function agentMissing(name) {
  const r = spawnSync(bin(name), ['--version'], { encoding: 'utf8', timeout: 30_000, env: { PATH: process.env.PATH, HOME: os.tmpdir() } });
  if (r.status === 0) return '';
  return `${bin(name)} --version failed (${r.error?.message || `exit ${r.status}`}): ${(r.stderr || '').slice(0, 500)}. Run \`npm ci\` in e2e/ (its postinstall puts the native binary in place).`;
}

// hasToolResult: a model request whose history holds a tool's result
// (chat, Messages or Responses), i.e. a turn after the tool ran.
export function hasToolResult(body) {
  if (Array.isArray(body?.input)) return body.input.some((i) => /_call_output$/.test(i.type || ''));
  return (body?.messages || []).some((m) => m.role === 'tool'
    || (Array.isArray(m.content) && m.content.some((b) => b.type === 'tool_result')));
}

// continuingPlan is a fake-llm plan that answers text, or the rest of it
// after an assistant prefill (a continuation's request), as a model that
// continues its own text does.
export function continuingPlan(text) {
  return (body) => {
    const last = Array.isArray(body?.messages) ? body.messages.at(-1) : null;
    if (last?.role === 'assistant') {
      const p = typeof last.content === 'string' ? last.content : (last.content || []).map((b) => b.text || '').join('');
      if (text.startsWith(p)) return { text: text.slice(p.length) };
    }
    return { text };
  };
}
