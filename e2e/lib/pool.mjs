// One catfish binary in front of one scripted fake LLM (lib/fake-llm.mjs),
// for the dialect tests: every channel points at the same fake under its
// own path prefix (http://127.0.0.1:PORT/<name>/v1), so the fake's
// request log and its faults tell the channels apart.
import { startCatfish } from './catfish.mjs';
import { startFakeLLM } from './fake-llm.mjs';

// Channel kinds: the channel fields each one means.
const KINDS = {
  openai: { type: 'openai' },
  anthropic: { type: 'anthropic' },
  responses: { type: 'openai', responses: true },
};

export async function startPool({ env = {} } = {}) {
  const fake = await startFakeLLM();
  let cf;
  try {
    cf = await startCatfish({ env });
  } catch (err) {
    await fake.close();
    throw err;
  }

  // channel adds a channel named `name` (its path prefix at the fake) of
  // kind openai | anthropic | responses to scheme. Retries and the breaker
  // are off unless asked, so that a fault scripted for one test never
  // spills into the next.
  async function channel(scheme, name, kind, extra = {}) {
    if (!KINDS[kind]) throw new Error(`unknown channel kind ${kind}`);
    return cf.api('POST', '/admin/config', {
      scheme_name: scheme,
      name,
      url: `${fake.origin}/${name}/v1`,
      api_key: `sk-upstream-${name}-0123456789abcdef`,
      priority: 1,
      max_retries: 0,
      consecutive_failure_threshold: 0,
      ...KINDS[kind],
      ...extra,
    });
  }

  // key creates a client key and returns its secret and id.
  async function key(fields = {}) {
    const k = await cf.api('POST', '/admin/keys', { name: `k-${Math.random().toString(36).slice(2, 10)}`, ...fields });
    return k;
  }

  // aliases points the globs at scheme and takes them off every other
  // scheme (aliases match in scheme-name order).
  async function aliases(scheme, globs) {
    const all = await cf.api('GET', '/admin/schemes');
    const list = Array.isArray(all) ? all : Object.entries(all).map(([name, v]) => ({ name, ...v }));
    for (const s of list) {
      if (s.name !== scheme && (s.aliases || []).length) await cf.api('PUT', `/admin/schemes/${s.name}`, { aliases: [] });
    }
    await cf.api('PUT', `/admin/schemes/${scheme}`, { aliases: globs });
  }

  // seen lists the model requests the fake received for channel `name`.
  const seen = (name) => fake.requests.filter((r) => r.path.startsWith(`/${name}/`) && r.dialect);

  async function close() {
    await cf?.stop();
    await fake.close();
  }

  return { fake, cf, channel, key, aliases, seen, close };
}

// sdkError shows an error thrown by an SDK in an assertion message.
export function sdkError(err) {
  return `${err?.constructor?.name} status=${err?.status} ${err?.message}`;
}
