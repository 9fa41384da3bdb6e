// Builds the catfish binary once per test process and runs it on a free
// loopback port with a fresh DATA_DIR and ADMIN_KEY.
import { spawn, execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
let built = null;

function goEnv() {
  const env = { ...process.env };
  env.PATH = `${env.PATH || ''}:/usr/local/go/bin`;
  return env;
}

// buildCatfish compiles the server into a temporary directory, once per
// process; CATFISH_E2E_BIN names a binary built already (a test file that
// re-runs itself in a network namespace builds outside and hands it in).
export function buildCatfish() {
  if (!built && process.env.CATFISH_E2E_BIN) built = Promise.resolve(process.env.CATFISH_E2E_BIN);
  if (!built) {
    built = (async () => {
      const dir = await mkdtemp(path.join(os.tmpdir(), 'catfish-e2e-bin-'));
      process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
      const bin = path.join(dir, 'catfish');
      const go = process.env.GO || 'go';
      await new Promise((resolve, reject) => {
        execFile(go, ['build', '-o', bin, '.'], { cwd: repoRoot, env: goEnv(), timeout: 600_000 }, (err, stdout, stderr) => {
          if (err) reject(new Error(`go build failed: ${err.message}\n${stderr}`));
          else resolve();
        });
      });
      return bin;
    })();
  }
  return built;
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// startCatfish runs the binary; env adds or overrides variables.
export async function startCatfish({ env = {} } = {}) {
  const bin = await buildCatfish();
  const work = await mkdtemp(path.join(os.tmpdir(), 'catfish-e2e-run-'));
  const dataDir = path.join(work, 'data');
  const adminKey = `e2e-${randomBytes(12).toString('hex')}`;
  const port = await freePort();
  const childEnv = { ...process.env };
  for (const k of Object.keys(childEnv)) {
    if (/^(ADMIN_KEY|PORT|HOST|LISTEN|DATA_DIR|DEFAULT_SCHEME|BREAKER_|MAX_RETRIES|LOG_)/.test(k)) delete childEnv[k];
  }
  Object.assign(childEnv, { ADMIN_KEY: adminKey, HOST: '127.0.0.1', PORT: String(port), DATA_DIR: dataDir }, env);
  const output = [];
  // cwd is the run's own directory, so no .env of the repository is read.
  const proc = spawn(bin, [], { cwd: work, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout.on('data', (b) => output.push(b.toString()));
  proc.stderr.on('data', (b) => output.push(b.toString()));
  let exited = null;
  const exitPromise = new Promise((resolve) => proc.on('exit', (code, signal) => { exited = { code, signal }; resolve(exited); }));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (exited) throw new Error(`catfish exited at start (${JSON.stringify(exited)}):\n${output.join('')}`);
    try {
      const r = await fetch(`${url}/healthz`);
      if (r.ok) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`catfish did not answer /healthz within 20 s:\n${output.join('')}`);
    }
    await sleep(50);
  }

  async function api(method, p, body) {
    const headers = { Authorization: `Bearer ${adminKey}` };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const r = await fetch(`${url}${p}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await r.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch { json = null; }
    if (!r.ok) {
      const e = new Error(`${method} ${p}: ${r.status} ${text}`);
      e.status = r.status;
      e.body = json;
      throw e;
    }
    return json;
  }

  // chat sends one proxied chat completion and returns status, headers, body.
  async function chat(model, extra = {}) {
    const r = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${adminKey}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }], ...extra }),
    });
    const text = await r.text();
    return { status: r.status, headers: r.headers, text };
  }

  async function stop() {
    if (!exited) {
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await exitPromise;
      clearTimeout(timer);
    }
    await rm(work, { recursive: true, force: true });
  }

  return { url, port, adminKey, dataDir, proc, output, api, chat, stop };
}
