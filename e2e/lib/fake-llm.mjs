// A scripted fake LLM on a loopback port, speaking the three dialects Catfish
// serves, so that real coding agents (Claude Code, Codex) and SDKs can run a
// whole task against it:
//
//   POST /v1/messages[?...]            Anthropic Messages (JSON or SSE)
//   POST /v1/messages/count_tokens     Anthropic token count (an estimate)
//   POST /v1/chat/completions          OpenAI chat completions (JSON or SSE)
//   POST /v1/responses                 OpenAI Responses (JSON or SSE)
//   GET  /v1/models                    a one-model list (Anthropic or OpenAI shape)
//   GET  /_requests                    every request recorded so far (JSON array)
//   DELETE /_requests, POST /_reset    forget the requests (and, for /_reset, the faults)
//   POST /_faults                      add a fault (JSON, see addFault); DELETE /_faults clears
//
// Anything else is recorded and answered 404. The path may carry a prefix
// (e.g. /anything/v1/messages) and any query string.
//
// The scripted model: when a user turn asks to create/write a file ("Create a
// file named X containing exactly: Y") and no tool result follows that turn,
// it answers with a call to the client's own file-writing tool, picked from
// the tools the request offers (a Write-like tool, else apply_patch, else a
// shell tool). Otherwise it answers with a short text. When the request asks
// for thinking/reasoning it also emits a thinking block (Anthropic, with a
// signature) or a reasoning item (Responses, with a summary and
// encrypted_content), like a real reasoning model.
//
// Faults (addFault or POST /_faults) apply to matching model requests, in
// order, each `times` times (default 1; Infinity or -1 for ever):
//   when       {path: regex source, dialect: 'messages'|'chat'|'responses'|'count_tokens'|'models',
//               stream: bool, model: string} or, from JS, a function(record) -> bool
//   status     answer this HTTP status with an error body in the dialect's shape
//              (errorType, message, headers, body override it)
//   headers    extra response headers (e.g. {'retry-after': '1'})
//   delayMs    wait before answering
//   hangup     destroy the socket without an answer
//   breakAfter write this many SSE events, then destroy the socket (a reset)
//   endAfter   write this many SSE events, then end the response cleanly
//   stallAfter write this many SSE events, then nothing, keeping the response open
//   errorAfter write this many SSE events, then the dialect's in-stream error
//              (messages: event error; responses: response.failed; chat: an error chunk)
//   omit       SSE event names to leave out (e.g. ['ping'], ['response.completed'])
//   noEventLines  write SSE without `event:` lines (data only)
//   noDone     chat: no `data: [DONE]`
//   strip      field names removed from every SSE payload/JSON body, at any depth
//              (e.g. ['usage'], ['sequence_number'], ['signature'])
//   thinking   'signed' | 'unsigned' | 'none': override the thinking block
//              (Responses: a reasoning item with / without encrypted_content, or none)
//   asJson     answer a streaming request with a plain JSON body
//   mutate     (JS only) function(events|body, record) -> events|body
//   plan       (JS only) function(body, conversation) -> {tool, args} | {tool, input} | {text}:
//              answer this request with that instead of the scripted choice
import http from 'node:http';
import zlib from 'node:zlib';
import { pathToFileURL } from 'node:url';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- helpers

function rid(prefix, n) {
  return `${prefix}${String(n).padStart(4, '0')}${Math.random().toString(36).slice(2, 14)}`;
}

function estimateTokens(v) {
  const s = typeof v === 'string' ? v : JSON.stringify(v ?? '');
  return Math.max(1, Math.ceil(s.length / 4));
}

function stripKeys(v, keys) {
  if (!keys || !keys.length) return v;
  if (Array.isArray(v)) return v.map((x) => stripKeys(x, keys));
  if (v && typeof v === 'object') {
    const out = {};
    for (const [k, x] of Object.entries(v)) if (!keys.includes(k)) out[k] = stripKeys(x, keys);
    return out;
  }
  return v;
}

// textOf flattens any content value (string, blocks, parts) to text.
function textOf(c) {
  if (c == null) return '';
  if (typeof c === 'string') return c;
  if (Array.isArray(c)) return c.map(textOf).join('\n');
  if (typeof c === 'object') {
    if (typeof c.text === 'string') return c.text;
    if (c.content !== undefined) return textOf(c.content);
  }
  return '';
}

const TASK_RE = /\b(?:create|write|make)\b[^\n]*?\bfile\b[^\n]*?\b(?:named|called)\s+[`'"]?([^\s`'",]+)[`'"]?[^\n]*?\bcontaining(?:\s+exactly)?\s*:?\s*(.+)/i;

// parseTask finds "create a file named X containing exactly: Y" in a text.
export function parseTask(text) {
  const m = TASK_RE.exec(text || '');
  if (!m) return null;
  return { file: m[1], content: m[2].trim().replace(/^[`'"]|[`'"]$/g, '') };
}

function findCwd(text) {
  const m = /<cwd>\s*([^<\n]+?)\s*<\/cwd>/.exec(text) || /working directory:\s*(\/[^\s]+)/i.exec(text);
  return m ? m[1] : null;
}

// ------------------------------------------------ conversation per dialect

// Each returns {turns: [{kind: 'user'|'tool_result'|'other', text}], tools: [{name, kind, props}], system}
function conversationMessages(body) {
  const turns = [];
  for (const m of body.messages || []) {
    const blocks = typeof m.content === 'string' ? [{ type: 'text', text: m.content }] : (m.content || []);
    for (const b of blocks) {
      if (b.type === 'tool_result') turns.push({ kind: 'tool_result', text: textOf(b.content) });
      else if (m.role === 'user' && b.type === 'text') turns.push({ kind: 'user', text: b.text });
      else if (b.type === 'tool_use') turns.push({ kind: 'tool_call', name: b.name, text: '' });
      else turns.push({ kind: 'other', text: textOf(b) });
    }
  }
  const tools = (body.tools || []).map((t) => ({
    name: t.name, kind: t.type && t.type !== 'custom' ? t.type : 'function', props: t.input_schema?.properties || {}, description: t.description || '',
  }));
  return { turns, tools, system: textOf(body.system) };
}

function conversationChat(body) {
  const turns = [];
  let system = '';
  for (const m of body.messages || []) {
    if (m.role === 'tool') turns.push({ kind: 'tool_result', text: textOf(m.content) });
    else if (m.role === 'user') turns.push({ kind: 'user', text: textOf(m.content) });
    else if (m.role === 'system' || m.role === 'developer') system += `${textOf(m.content)}\n`;
    else {
      for (const tc of m.tool_calls || []) turns.push({ kind: 'tool_call', name: tc.function?.name, text: '' });
      turns.push({ kind: 'other', text: textOf(m.content) });
    }
  }
  const tools = (body.tools || []).map((t) => ({
    name: t.function?.name || t.name, kind: t.type === 'function' ? 'function' : t.type, props: t.function?.parameters?.properties || {},
    description: t.function?.description || t.description || '',
  }));
  return { turns, tools, system };
}

function flattenResponsesTools(list, out = [], ns = null) {
  for (const t of list || []) {
    if (t.type === 'namespace') flattenResponsesTools(t.tools, out, t.name);
    else out.push({ name: t.name, kind: t.type, props: t.parameters?.properties || {}, namespace: ns, format: t.format, description: t.description || '' });
  }
  return out;
}

function conversationResponses(body) {
  const turns = [];
  let system = textOf(body.instructions);
  const input = typeof body.input === 'string' ? [{ type: 'message', role: 'user', content: body.input }] : (body.input || []);
  const extraTools = [];
  for (const it of input) {
    const type = it.type || 'message';
    // Codex's "responses lite" mode sends its tools as an input item.
    if (type === 'additional_tools') { extraTools.push(...(it.tools || [])); continue; }
    if (type === 'message' && it.role === 'user') turns.push({ kind: 'user', text: textOf(it.content) });
    else if (type === 'message' && (it.role === 'developer' || it.role === 'system')) system += `\n${textOf(it.content)}`;
    else if (/_output$/.test(type)) turns.push({ kind: 'tool_result', text: textOf(it.output) });
    else if (/_call$/.test(type)) turns.push({ kind: 'tool_call', name: it.name, text: '' });
    else turns.push({ kind: 'other', text: textOf(it.content) });
  }
  return { turns, tools: flattenResponsesTools([...(body.tools || []), ...extraTools]), system };
}

// decide plays the model: a call to the client's file-writing tool while
// the task has no result of that tool yet, else a short text.
function decide(conv) {
  const plan = chooseWrite(conv);
  if (!plan?.tool) return plan;
  const after = conv.turns.slice(plan.taskIndex + 1);
  const called = after.findIndex((t) => t.kind === 'tool_call' && t.name === plan.tool.name);
  if (called >= 0 && after.slice(called + 1).some((t) => t.kind === 'tool_result')) {
    return { text: `Done: ${plan.task.file} now contains the requested text.` };
  }
  return plan;
}

function chooseWrite(conv) {
  let task = null;
  let taskIndex = -1;
  for (let i = conv.turns.length - 1; i >= 0; i--) {
    const t = conv.turns[i];
    if (t.kind === 'user') {
      const p = parseTask(t.text);
      if (p) { task = p; taskIndex = i; break; }
    }
  }
  if (!task) return { text: 'OK.' };
  const found = chooseTool(conv, task);
  return found.tool ? { ...found, task, taskIndex } : found;
}

function chooseTool(conv, task) {
  const all = `${conv.system}\n${conv.turns.map((t) => t.text).join('\n')}`;
  const cwd = findCwd(all);
  const abs = task.file.startsWith('/') || !cwd ? task.file : `${cwd.replace(/\/$/, '')}/${task.file}`;
  const tools = conv.tools;
  const pick = (keys, props) => keys.find((k) => props[k] !== undefined);
  // 1. A Write-like tool with a path and a content parameter.
  for (const t of tools) {
    if (!/write|create_file|save_file/i.test(t.name || '')) continue;
    const pk = pick(['file_path', 'path', 'filename', 'file', 'filePath'], t.props);
    const ck = pick(['content', 'contents', 'text', 'data'], t.props);
    if (pk && ck) return { tool: t, args: { [pk]: abs, [ck]: task.content } };
  }
  // 2. apply_patch, as a freeform custom tool or a function with one string.
  const patch = `*** Begin Patch\n*** Add File: ${task.file}\n+${task.content}\n*** End Patch\n`;
  for (const t of tools) {
    if (t.name !== 'apply_patch') continue;
    if (t.kind === 'custom') return { tool: t, input: patch };
    const k = pick(['input', 'patch'], t.props) || 'input';
    return { tool: t, args: { [k]: patch } };
  }
  // 3. A shell tool.
  const q = (s) => `'${s.replace(/'/g, `'\\''`)}'`;
  const sh = `printf '%s' ${q(task.content)} > ${q(task.file)}`;
  for (const t of tools) {
    if (!/^(shell|exec_command|bash|local_shell|shell_command|container\.exec)$/i.test(t.name || '') && t.kind !== 'local_shell') continue;
    const args = {};
    if (t.props.cmd) args.cmd = sh;
    else if (t.props.command?.type === 'array') args.command = ['bash', '-lc', sh];
    else args.command = sh;
    if (t.props.workdir && cwd) args.workdir = cwd;
    return { tool: t, args };
  }
  // 4. Codex's code mode: a freeform `exec` tool running JavaScript that
  // calls the nested tools (tools.apply_patch, tools.exec_command).
  // On a route that translated it for a chat or Messages model, the same
  // tool is a function with one string parameter `input`.
  for (const t of tools) {
    const wrapped = t.kind !== 'custom' && Object.keys(t.props).length === 1 && t.props.input?.type === 'string';
    if (t.name !== 'exec' || (t.kind !== 'custom' && !wrapped)) continue;
    const js = /tools\.apply_patch\b|`apply_patch`/.test(t.description || '')
      ? `const r = await tools.apply_patch(${JSON.stringify(patch)});\ntext(r);\n`
      : `const r = await tools.exec_command({ cmd: ${JSON.stringify(sh)} });\ntext(r);\n`;
    return wrapped ? { tool: t, args: { input: js } } : { tool: t, input: js };
  }
  return { text: `I cannot create ${task.file}: no file-writing tool was offered.` };
}

// ---------------------------------------------------------- answer builders

function messagesAnswer(body, plan, n, fault) {
  const model = body.model || 'fake-model';
  const blocks = [];
  const wantsThinking = body.thinking && body.thinking.type && body.thinking.type !== 'disabled';
  const thinkingMode = fault?.thinking || (wantsThinking ? 'signed' : 'none');
  if (thinkingMode !== 'none') {
    const th = { type: 'thinking', thinking: 'The user wants a file; I will use the tool offered.' };
    if (thinkingMode === 'signed') th.signature = `fake-sig-${Buffer.from(`t${n}`).toString('base64')}`;
    blocks.push(th);
  }
  if (plan.text) blocks.push({ type: 'text', text: plan.text });
  if (plan.tool) {
    blocks.push({ type: 'text', text: `I'll create the file.` });
    blocks.push({ type: 'tool_use', id: rid('toolu_', n), name: plan.tool.name, input: plan.args || { input: plan.input } });
  }
  const inTok = estimateTokens(body.messages) + estimateTokens(body.system) + estimateTokens(body.tools);
  const outTok = estimateTokens(blocks);
  const msg = {
    id: rid('msg_', n),
    type: 'message',
    role: 'assistant',
    model,
    content: blocks,
    stop_reason: plan.tool ? 'tool_use' : 'end_turn',
    stop_sequence: null,
    usage: { input_tokens: inTok, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: outTok, service_tier: 'standard' },
  };
  if (!body.stream) return { json: msg };
  const ev = (event, data) => ({ event, data: { type: event, ...data } });
  const events = [];
  events.push(ev('message_start', { message: { ...msg, content: [], stop_reason: null, usage: { ...msg.usage, output_tokens: 1 } } }));
  blocks.forEach((b, index) => {
    if (b.type === 'text') {
      events.push(ev('content_block_start', { index, content_block: { type: 'text', text: '' } }));
      if (index === 0) events.push(ev('ping', {}));
      for (const piece of chunk(b.text, 8)) events.push(ev('content_block_delta', { index, delta: { type: 'text_delta', text: piece } }));
    } else if (b.type === 'thinking') {
      events.push(ev('content_block_start', { index, content_block: { type: 'thinking', thinking: '', signature: '' } }));
      if (index === 0) events.push(ev('ping', {}));
      for (const piece of chunk(b.thinking, 16)) events.push(ev('content_block_delta', { index, delta: { type: 'thinking_delta', thinking: piece } }));
      if (b.signature) events.push(ev('content_block_delta', { index, delta: { type: 'signature_delta', signature: b.signature } }));
    } else if (b.type === 'tool_use') {
      events.push(ev('content_block_start', { index, content_block: { type: 'tool_use', id: b.id, name: b.name, input: {} } }));
      events.push(ev('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: '' } }));
      for (const piece of chunk(JSON.stringify(b.input), 12)) events.push(ev('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: piece } }));
    }
    events.push(ev('content_block_stop', { index }));
  });
  events.push(ev('message_delta', { delta: { stop_reason: msg.stop_reason, stop_sequence: null }, usage: { input_tokens: inTok, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: outTok } }));
  events.push(ev('message_stop', {}));
  return { sse: events };
}

function chunk(s, size) {
  const out = [];
  for (let i = 0; i < s.length; i += size) out.push(s.slice(i, i + size));
  return out.length ? out : [''];
}

function chatAnswer(body, plan, n) {
  const model = body.model || 'fake-model';
  const id = rid('chatcmpl-', n);
  const created = Math.floor(Date.now() / 1000);
  const inTok = estimateTokens(body.messages) + estimateTokens(body.tools);
  let message;
  if (plan.tool) {
    const args = JSON.stringify(plan.args || { input: plan.input });
    message = { role: 'assistant', content: null, tool_calls: [{ id: rid('call_', n), type: 'function', function: { name: plan.tool.name, arguments: args } }] };
  } else {
    message = { role: 'assistant', content: plan.text };
  }
  const finish = plan.tool ? 'tool_calls' : 'stop';
  const outTok = estimateTokens(message);
  const usage = { prompt_tokens: inTok, completion_tokens: outTok, total_tokens: inTok + outTok, prompt_tokens_details: { cached_tokens: 0 } };
  if (!body.stream) {
    return { json: { id, object: 'chat.completion', created, model, choices: [{ index: 0, message, logprobs: null, finish_reason: finish }], usage } };
  }
  const base = { id, object: 'chat.completion.chunk', created, model };
  const c = (delta, finishReason = null) => ({ data: { ...base, choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }] } });
  const events = [c({ role: 'assistant', content: plan.tool ? null : '' })];
  if (plan.tool) {
    const tc = message.tool_calls[0];
    events.push(c({ tool_calls: [{ index: 0, id: tc.id, type: 'function', function: { name: tc.function.name, arguments: '' } }] }));
    for (const piece of chunk(tc.function.arguments, 12)) events.push(c({ tool_calls: [{ index: 0, function: { arguments: piece } }] }));
  } else {
    for (const piece of chunk(plan.text, 8)) events.push(c({ content: piece }));
  }
  events.push(c({}, finish));
  if (body.stream_options?.include_usage) events.push({ data: { ...base, choices: [], usage } });
  return { sse: events, done: true };
}

function responsesAnswer(body, plan, n, fault) {
  const model = body.model || 'fake-model';
  const respId = rid('resp_', n);
  const created = Math.floor(Date.now() / 1000);
  const items = [];
  const wantsReasoning = body.reasoning && (body.reasoning.effort !== 'none');
  const thinkingMode = fault?.thinking || (wantsReasoning ? 'signed' : 'none');
  if (thinkingMode !== 'none') {
    const it = { id: rid('rs_', n), type: 'reasoning', summary: [{ type: 'summary_text', text: '**Planning**\n\nThe user wants a file; I will use the tool offered.' }] };
    if (thinkingMode === 'signed') it.encrypted_content = `fake-enc-${Buffer.from(`r${n}`).toString('base64')}`;
    items.push(it);
  }
  if (plan.text) {
    items.push({ id: rid('msg_', n), type: 'message', status: 'completed', role: 'assistant', content: [{ type: 'output_text', text: plan.text, annotations: [], logprobs: [] }] });
  }
  if (plan.tool) {
    if (plan.tool.kind === 'custom') {
      const it = { id: rid('ctc_', n), type: 'custom_tool_call', status: 'completed', call_id: rid('call_', n), name: plan.tool.name, input: plan.input };
      if (plan.tool.namespace && fault?.namespace !== false) it.namespace = plan.tool.namespace;
      items.push(it);
    } else {
      const it = { id: rid('fc_', n), type: 'function_call', status: 'completed', arguments: JSON.stringify(plan.args), call_id: rid('call_', n), name: plan.tool.name };
      if (plan.tool.namespace) it.namespace = plan.tool.namespace;
      items.push(it);
    }
  }
  const inTok = estimateTokens(body.input) + estimateTokens(body.instructions) + estimateTokens(body.tools);
  const outTok = estimateTokens(items);
  const usage = { input_tokens: inTok, input_tokens_details: { cached_tokens: 0 }, output_tokens: outTok, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: inTok + outTok };
  const response = (status, output, u) => ({
    id: respId,
    object: 'response',
    created_at: created,
    status,
    background: false,
    error: null,
    incomplete_details: null,
    instructions: body.instructions ?? null,
    max_output_tokens: body.max_output_tokens ?? null,
    model,
    output,
    parallel_tool_calls: body.parallel_tool_calls ?? true,
    previous_response_id: body.previous_response_id ?? null,
    prompt_cache_key: body.prompt_cache_key ?? null,
    reasoning: { effort: body.reasoning?.effort ?? null, summary: body.reasoning?.summary ?? null },
    store: body.store ?? false,
    temperature: 1,
    text: body.text ?? { format: { type: 'text' } },
    tool_choice: body.tool_choice ?? 'auto',
    tools: body.tools ?? [],
    top_p: 1,
    truncation: 'disabled',
    usage: u,
    user: null,
    metadata: {},
  });
  if (!body.stream) return { json: response('completed', items, usage) };
  const events = [];
  const ev = (type, data) => events.push({ event: type, data: { type, ...data } });
  ev('response.created', { response: response('in_progress', [], null) });
  ev('response.in_progress', { response: response('in_progress', [], null) });
  items.forEach((it, output_index) => {
    if (it.type === 'reasoning') {
      ev('response.output_item.added', { output_index, item: { ...it, summary: [] } });
      it.summary.forEach((s, summary_index) => {
        ev('response.reasoning_summary_part.added', { item_id: it.id, output_index, summary_index, part: { type: 'summary_text', text: '' } });
        for (const piece of chunk(s.text, 16)) ev('response.reasoning_summary_text.delta', { item_id: it.id, output_index, summary_index, delta: piece });
        ev('response.reasoning_summary_text.done', { item_id: it.id, output_index, summary_index, text: s.text });
        ev('response.reasoning_summary_part.done', { item_id: it.id, output_index, summary_index, part: s });
      });
    } else if (it.type === 'message') {
      ev('response.output_item.added', { output_index, item: { ...it, status: 'in_progress', content: [] } });
      it.content.forEach((part, content_index) => {
        ev('response.content_part.added', { item_id: it.id, output_index, content_index, part: { ...part, text: '' } });
        for (const piece of chunk(part.text, 8)) ev('response.output_text.delta', { item_id: it.id, output_index, content_index, delta: piece, logprobs: [] });
        ev('response.output_text.done', { item_id: it.id, output_index, content_index, text: part.text, logprobs: [] });
        ev('response.content_part.done', { item_id: it.id, output_index, content_index, part });
      });
    } else if (it.type === 'function_call') {
      ev('response.output_item.added', { output_index, item: { ...it, status: 'in_progress', arguments: '' } });
      for (const piece of chunk(it.arguments, 12)) ev('response.function_call_arguments.delta', { item_id: it.id, output_index, delta: piece });
      ev('response.function_call_arguments.done', { item_id: it.id, output_index, arguments: it.arguments });
    } else if (it.type === 'custom_tool_call') {
      ev('response.output_item.added', { output_index, item: { ...it, status: 'in_progress', input: '' } });
      for (const piece of chunk(it.input, 12)) ev('response.custom_tool_call_input.delta', { item_id: it.id, output_index, delta: piece });
      ev('response.custom_tool_call_input.done', { item_id: it.id, output_index, input: it.input });
    }
    ev('response.output_item.done', { output_index, item: it });
  });
  ev('response.completed', { response: response('completed', items, usage) });
  events.forEach((e, i) => { e.data.sequence_number = i; });
  return { sse: events };
}

// ------------------------------------------------------------ error shapes

const ANTHROPIC_ERROR_TYPES = {
  400: 'invalid_request_error', 401: 'authentication_error', 403: 'permission_error', 404: 'not_found_error',
  413: 'request_too_large', 429: 'rate_limit_error', 500: 'api_error', 503: 'overloaded_error', 529: 'overloaded_error',
};

function errorBody(dialect, status, type, message) {
  if (dialect === 'messages' || dialect === 'count_tokens') {
    return { type: 'error', error: { type: type || ANTHROPIC_ERROR_TYPES[status] || 'api_error', message } };
  }
  const t = type || (status === 429 ? 'rate_limit_error' : status >= 500 ? 'server_error' : 'invalid_request_error');
  return { error: { message, type: t, code: t, param: null } };
}

function streamErrorEvents(dialect, fault, seq) {
  const status = fault.errorStatus || 529;
  const message = fault.message || 'fake stream error';
  if (dialect === 'messages') {
    return [{ event: 'error', data: errorBody('messages', status, fault.errorType, message) }];
  }
  if (dialect === 'responses') {
    const code = fault.errorType || 'server_error';
    return [
      { event: 'response.failed', data: { type: 'response.failed', sequence_number: seq, response: { id: 'resp_failed', object: 'response', status: 'failed', error: { code, message }, output: [], usage: null } } },
      { event: 'error', data: { type: 'error', sequence_number: seq + 1, code, message, param: null } },
    ];
  }
  return [{ data: errorBody('chat', status, fault.errorType, message) }];
}

// ------------------------------------------------------------------ server

function classify(method, pathname) {
  if (method === 'POST' && /\/v1\/messages\/count_tokens$/.test(pathname)) return 'count_tokens';
  if (method === 'POST' && /\/v1\/messages$/.test(pathname)) return 'messages';
  if (method === 'POST' && /\/v1\/chat\/completions$/.test(pathname)) return 'chat';
  if (method === 'POST' && /\/v1\/responses$/.test(pathname)) return 'responses';
  if ((method === 'GET' || method === 'HEAD') && /\/v1\/models$/.test(pathname)) return 'models';
  return null;
}

function decodeBody(buf, encoding) {
  const enc = String(encoding || '').toLowerCase().trim();
  try {
    if (enc === 'gzip') return zlib.gunzipSync(buf);
    if (enc === 'deflate') return zlib.inflateSync(buf);
    if (enc === 'br') return zlib.brotliDecompressSync(buf);
    if (enc === 'zstd' && typeof zlib.zstdDecompressSync === 'function') return zlib.zstdDecompressSync(buf);
  } catch { /* recorded raw below */ }
  return enc && enc !== 'identity' ? null : buf;
}

function matches(when, rec) {
  if (!when) return true;
  if (typeof when === 'function') return !!when(rec);
  if (when.dialect && when.dialect !== rec.dialect) return false;
  if (when.path && !new RegExp(when.path).test(rec.path)) return false;
  if (when.stream !== undefined && !!rec.body?.stream !== !!when.stream) return false;
  if (when.model && rec.body?.model !== when.model) return false;
  return true;
}

export async function startFakeLLM({ host = '127.0.0.1', port = 0, log = null } = {}) {
  const requests = [];
  let faults = [];
  const sockets = new Set();
  let counter = 0;

  function addFault(f) {
    const fault = { times: 1, ...f };
    if (fault.times === -1 || fault.times === null) fault.times = Infinity;
    faults.push(fault);
    return fault;
  }

  function takeFault(rec) {
    for (const f of faults) {
      if (f.times > 0 && matches(f.when, rec)) {
        f.times -= 1;
        f.used = (f.used || 0) + 1;
        return f;
      }
    }
    return null;
  }

  function sendJSON(res, status, obj, headers = {}) {
    const b = JSON.stringify(obj);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(b), ...headers });
    res.end(b);
  }

  async function writeSSE(res, rec, dialect, answer, fault) {
    let events = answer.sse;
    if (fault?.omit) events = events.filter((e) => !fault.omit.includes(e.event || e.data?.type));
    if (fault?.strip) events = events.map((e) => ({ ...e, data: stripKeys(e.data, fault.strip) }));
    if (fault?.mutate) events = fault.mutate(events, rec) || events;
    let cut = events.length;
    let tail = [];
    if (fault?.breakAfter !== undefined) cut = Math.min(cut, fault.breakAfter);
    if (fault?.stallAfter !== undefined) cut = Math.min(cut, fault.stallAfter);
    if (fault?.endAfter !== undefined) cut = Math.min(cut, fault.endAfter);
    if (fault?.errorAfter !== undefined) {
      cut = Math.min(cut, fault.errorAfter);
      tail = streamErrorEvents(dialect, fault, cut);
    }
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', ...(fault?.headers || {}) });
    const write = (e) => {
      const data = typeof e.data === 'string' ? e.data : JSON.stringify(e.data);
      res.write(`${e.event && !fault?.noEventLines ? `event: ${e.event}\n` : ''}data: ${data}\n\n`);
    };
    const sent = events.slice(0, cut);
    for (const e of sent) {
      write(e);
      if (fault?.eventDelayMs) await sleep(fault.eventDelayMs);
    }
    rec.answer.events = sent.map((e) => e.event || e.data?.type || (e.data?.choices ? 'chunk' : 'data'));
    if (fault?.stallAfter !== undefined && fault.stallAfter < events.length) {
      // Keep the response open with nothing more until the client gives up.
      rec.answer.stalled = true;
      await new Promise((resolve) => res.on('close', resolve));
      rec.answer.stallClosedAfterMs = Date.now() - Date.parse(rec.time);
      return;
    }
    if (fault?.breakAfter !== undefined && fault.breakAfter < events.length) {
      rec.answer.broken = true;
      await sleep(20);
      res.socket?.destroy();
      return;
    }
    for (const e of tail) write(e);
    if (tail.length) rec.answer.events.push(...tail.map((e) => e.event || 'error'));
    if (answer.done && !fault?.noDone && cut === events.length) {
      res.write('data: [DONE]\n\n');
      rec.answer.events.push('[DONE]');
    }
    res.end();
  }

  async function handleModel(req, res, rec) {
    const dialect = rec.dialect;
    const fault = takeFault(rec);
    if (fault) rec.fault = Object.fromEntries(Object.entries(fault).filter(([k, v]) => typeof v !== 'function' && k !== 'used'));
    if (fault?.delayMs) await sleep(fault.delayMs);
    if (fault?.hangup) { rec.answer = { hangup: true }; res.socket?.destroy(); return; }
    if (fault?.status) {
      const body = fault.body || errorBody(dialect, fault.status, fault.errorType, fault.message || `fake ${fault.status}`);
      rec.answer = { status: fault.status };
      sendJSON(res, fault.status, body, fault.headers || {});
      return;
    }
    let body = rec.body || {};
    if (fault?.asJson) body = { ...body, stream: false };
    if (dialect === 'models') {
      const anthropic = !!req.headers['anthropic-version'] || !!req.headers['x-api-key'];
      const list = anthropic
        ? { data: [{ type: 'model', id: 'fake-model', display_name: 'Fake Model', created_at: '2025-01-01T00:00:00Z' }], has_more: false, first_id: 'fake-model', last_id: 'fake-model' }
        : { object: 'list', data: [{ id: 'fake-model', object: 'model', created: 0, owned_by: 'fake' }] };
      rec.answer = { status: 200 };
      sendJSON(res, 200, list, fault?.headers || {});
      return;
    }
    if (dialect === 'count_tokens') {
      const n = estimateTokens(body.messages) + estimateTokens(body.system) + estimateTokens(body.tools);
      rec.answer = { status: 200, input_tokens: n };
      sendJSON(res, 200, { input_tokens: n }, fault?.headers || {});
      return;
    }
    const n = ++counter;
    const conv = dialect === 'messages' ? conversationMessages(body) : dialect === 'chat' ? conversationChat(body) : conversationResponses(body);
    let plan = decide(conv);
    if (typeof fault?.plan === 'function') {
      // A scripted answer for this request: {tool: name, args} | {tool: name, input} | {text}.
      const p = fault.plan(body, conv);
      if (p?.tool) plan = { tool: conv.tools.find((t) => t.name === p.tool) || { name: p.tool, kind: 'function', props: {} }, args: p.args, input: p.input };
      else if (p?.text !== undefined) plan = { text: p.text };
    }
    rec.answer = { status: 200, stream: !!body.stream, plan: plan.tool ? { tool: plan.tool.name, kind: plan.tool.kind, args: plan.args, input: plan.input } : { text: plan.text } };
    const answer = dialect === 'messages' ? messagesAnswer(body, plan, n, fault) : dialect === 'chat' ? chatAnswer(body, plan, n) : responsesAnswer(body, plan, n, fault);
    if (answer.json) {
      let json = fault?.strip ? stripKeys(answer.json, fault.strip) : answer.json;
      if (fault?.mutate) json = fault.mutate(json, rec) || json;
      sendJSON(res, 200, json, { 'request-id': `req_fake${n}`, ...(fault?.headers || {}) });
      return;
    }
    await writeSSE(res, rec, dialect, answer, fault);
  }

  const server = http.createServer(async (req, res) => {
    const parts = [];
    for await (const c of req) parts.push(c);
    const raw = Buffer.concat(parts);
    const url = new URL(req.url, 'http://fake');
    const pathname = url.pathname;
    try {
      // Control endpoints are not recorded.
      if (pathname === '/_requests' && req.method === 'GET') { sendJSON(res, 200, requests); return; }
      if (pathname === '/_requests' && req.method === 'DELETE') { requests.length = 0; sendJSON(res, 200, { ok: true }); return; }
      if (pathname === '/_reset' && req.method === 'POST') { requests.length = 0; faults = []; sendJSON(res, 200, { ok: true }); return; }
      if (pathname === '/_faults' && req.method === 'POST') { addFault(JSON.parse(raw.toString('utf8') || '{}')); sendJSON(res, 200, { ok: true }); return; }
      if (pathname === '/_faults' && req.method === 'DELETE') { faults = []; sendJSON(res, 200, { ok: true }); return; }
      if (pathname === '/_faults' && req.method === 'GET') { sendJSON(res, 200, faults.map((f) => ({ ...f, when: typeof f.when === 'function' ? 'function' : f.when }))); return; }

      const decoded = decodeBody(raw, req.headers['content-encoding']);
      let body = null;
      let bodyRaw;
      if (decoded === null) bodyRaw = { encoding: req.headers['content-encoding'], base64: raw.toString('base64') };
      else if (decoded.length) {
        const s = decoded.toString('utf8');
        try { body = JSON.parse(s); } catch { bodyRaw = s; }
      }
      const dialect = classify(req.method, pathname);
      const rec = {
        time: new Date().toISOString(),
        method: req.method,
        path: pathname,
        query: url.search ? url.search.slice(1) : '',
        headers: { ...req.headers },
        rawHeaders: req.rawHeaders,
        httpVersion: req.httpVersion,
        body,
        ...(bodyRaw !== undefined ? { bodyRaw } : {}),
        dialect,
        answer: {},
      };
      requests.push(rec);
      if (log) log(`${req.method} ${req.url} ${dialect || '-'}${body?.stream ? ' stream' : ''}`);
      if (!dialect) {
        rec.answer = { status: 404 };
        sendJSON(res, 404, errorBody(req.headers['anthropic-version'] ? 'messages' : 'chat', 404, null, `fake-llm: no route ${req.method} ${pathname}`));
        return;
      }
      await handleModel(req, res, rec);
    } catch (err) {
      if (!res.headersSent) sendJSON(res, 500, { error: { message: String(err?.stack || err), type: 'fake_llm_bug' } });
      else res.end();
    }
  });
  server.keepAliveTimeout = 30_000;
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const addr = server.address();
  const origin = `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`;
  return {
    origin,
    url: origin,
    port: addr.port,
    requests,
    addFault,
    clearFaults: () => { faults = []; },
    reset: () => { requests.length = 0; faults = []; },
    close: () => new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}

// `node lib/fake-llm.mjs [port]` runs it by hand and logs each request.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const fake = await startFakeLLM({ port: Number(process.argv[2] || 0), log: (l) => console.log(l) });
  console.log(`fake-llm listening on ${fake.origin}`);
}
