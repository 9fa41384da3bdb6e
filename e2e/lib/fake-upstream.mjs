// A fake OpenAI-compatible upstream for end-to-end tests.
//
// A channel picks a behaviour through its base URL's first path segment:
// http://127.0.0.1:PORT/<behaviour>/v1. A request header
// "x-fake-behaviour" overrides it per request. Built-in behaviours:
//   ok       chat completion JSON (SSE when the body asks for stream)
//   sse      always an SSE stream
//   fail500  500 with an OpenAI error body
//   fail429  429 with an OpenAI error body
//   fail401  401 with an OpenAI error body
//   slow     ok after 1.5 s
// fake.set(name, spec) adds or replaces one:
//   spec = {status, json, text, headers, delayMs, sse: [objects], done}
//   or a function (req, res, body) that answers itself.
import http from 'node:http';

function completion(model, content = 'pong') {
  return {
    id: 'chatcmpl-fake',
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: model || 'fake-model',
    choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 7, completion_tokens: 1, total_tokens: 8 },
  };
}

function chunks(model, text = 'pong') {
  const base = { id: 'chatcmpl-fake', object: 'chat.completion.chunk', created: Math.floor(Date.now() / 1000), model: model || 'fake-model' };
  return [
    { ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] },
    ...[...text].map((c) => ({ ...base, choices: [{ index: 0, delta: { content: c }, finish_reason: null }] })),
    { ...base, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] },
    { ...base, choices: [], usage: { prompt_tokens: 7, completion_tokens: text.length, total_tokens: 7 + text.length } },
  ];
}

function errorBody(message, type, code) {
  return { error: { message, type, param: null, code } };
}

const builtins = {
  ok: (req, body) => (body && body.stream ? { sse: chunks(body.model) } : { json: completion(body && body.model) }),
  sse: (req, body) => ({ sse: chunks(body && body.model) }),
  fail500: () => ({ status: 500, json: errorBody('fake upstream failure', 'server_error', 'fake_500') }),
  fail429: () => ({ status: 429, json: errorBody('fake rate limit', 'rate_limit_error', 'rate_limit_exceeded') }),
  fail401: () => ({ status: 401, json: errorBody('fake upstream: invalid api key', 'invalid_request_error', 'invalid_api_key') }),
  slow: (req, body) => ({ delayMs: 1500, json: completion(body && body.model) }),
};

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function startFakeUpstream() {
  const custom = new Map();
  const requests = []; // {behaviour, method, path, headers, body}
  const sockets = new Set();

  async function answer(spec, req, res) {
    if (spec.delayMs) await sleep(spec.delayMs);
    const headers = { ...(spec.headers || {}) };
    if (spec.sse) {
      res.writeHead(spec.status || 200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', ...headers });
      for (const ev of spec.sse) {
        res.write(`data: ${typeof ev === 'string' ? ev : JSON.stringify(ev)}\n\n`);
        if (spec.eventDelayMs) await sleep(spec.eventDelayMs);
      }
      if (spec.done !== false) res.write('data: [DONE]\n\n');
      res.end();
      return;
    }
    if (spec.json !== undefined) {
      const b = JSON.stringify(spec.json);
      res.writeHead(spec.status || 200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(b), ...headers });
      res.end(b);
      return;
    }
    res.writeHead(spec.status || 200, { 'Content-Type': 'text/plain', ...headers });
    res.end(spec.text || '');
  }

  const server = http.createServer(async (req, res) => {
    const chunksIn = [];
    for await (const c of req) chunksIn.push(c);
    const raw = Buffer.concat(chunksIn).toString('utf8');
    let body = null;
    try { body = raw ? JSON.parse(raw) : null; } catch { body = null; }
    const url = new URL(req.url, 'http://fake');
    const seg = url.pathname.split('/').filter(Boolean);
    const behaviour = String(req.headers['x-fake-behaviour'] || seg[0] || 'ok');
    requests.push({ behaviour, method: req.method, path: url.pathname, headers: req.headers, body });
    try {
      if (req.method === 'GET' && url.pathname.endsWith('/models')) {
        await answer({ json: { object: 'list', data: [{ id: 'fake-model', object: 'model', created: 0, owned_by: 'fake' }] } }, req, res);
        return;
      }
      const c = custom.get(behaviour);
      if (typeof c === 'function') {
        await c(req, res, body);
        return;
      }
      const spec = c || (builtins[behaviour] ? builtins[behaviour](req, body) : null);
      if (!spec) {
        await answer({ status: 404, json: errorBody(`fake upstream: no behaviour "${behaviour}"`, 'invalid_request_error', 'not_found') }, req, res);
        return;
      }
      await answer(spec, req, res);
    } catch (err) {
      if (!res.headersSent) res.writeHead(500);
      res.end(String(err));
    }
  });
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  const origin = `http://127.0.0.1:${port}`;
  return {
    origin,
    port,
    requests,
    // base returns a channel base URL that selects behaviour.
    base: (behaviour) => `${origin}/${behaviour}/v1`,
    set: (name, spec) => { custom.set(name, spec); },
    hits: (behaviour) => requests.filter((r) => r.behaviour === behaviour).length,
    close: () => new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}
