// The Channels tab: schemes with their channels, the add/edit dialog, and
// the per-channel actions (enable, test, reset, delete).
import { h, $, $$ } from './dom.js';
import { t, tn } from './i18n.js';
import { clock, channelLabel, ms, shortId } from './format.js';

let ctx;
let editingId = null; // channel being edited; null while adding

// breakerOf is the breaker as people should read it now: an open breaker
// whose time is up lets the next request through as a probe.
export function breakerOf(ch, now = new Date()) {
  const b = ch.breaker || { state: 'closed', consecutive_fails: 0, open_until: null };
  let st = b.state;
  if (st === 'open' && b.open_until && new Date(b.open_until) <= now) st = 'half_open';
  return { state: st, until: b.open_until, fails: b.consecutive_fails || 0 };
}

export function breakerBadge(ch) {
  const b = breakerOf(ch);
  const cls = { closed: 'ok', open: 'fail', half_open: 'warn' }[b.state] || 'muted';
  const text = b.state === 'open' ? t('br.open', { time: clock(b.until) }) : t(`br.${b.state}`);
  const title = b.state === 'open' ? t('br.openTitle', { time: clock(b.until) })
    : b.state === 'half_open' ? t('br.halfOpenTitle') : t('br.closedTitle');
  return h('span', { class: ['badge', cls, 'breaker'], title, dataset: { state: b.state } }, h('span', { class: 'dot' }), text);
}

function testLine(ch) {
  const r = ctx.state.tests.get(ch.id);
  if (!r) return null;
  if (r.pending) return h('div', { class: 'test-result pending' }, h('span', { class: 'spinner' }), t('ch.testing'));
  const parts = [
    h('strong', null, r.ok ? `✓ ${t('test.ok')}` : `✗ ${t('test.fail')}`),
    h('span', null, r.status ? t('test.status', { status: r.status }) : t('test.noStatus')),
    h('span', null, ms(r.latency_ms)),
  ];
  if (r.model) parts.push(h('span', { class: 'muted' }, t('test.model', { model: r.model })));
  const detail = r.ok ? (r.reply ? t('test.reply', { text: r.reply }) : '') : r.error || '';
  return h('div', { class: ['test-result', r.ok ? 'ok' : 'fail'], role: 'status' },
    h('div', { class: 'test-summary' }, parts),
    detail ? h('div', { class: 'test-detail' }, detail) : null);
}

// typeOf is a channel's wire format; channels from before types were
// added are OpenAI-compatible.
export function typeOf(ch) {
  return ch && ch.type === 'anthropic' ? 'anthropic' : 'openai';
}

// headerNames lists a channel's extra header names; their values never
// reach the page unmasked and are never shown in rows.
function headerNames(ch) {
  return Object.keys(ch.headers || {}).sort((a, b) => a.toLowerCase().localeCompare(b.toLowerCase()));
}

function channelTags(ch) {
  const type = typeOf(ch);
  return [
    h('span', { class: ['tag', 'type-tag', `type-${type}`], title: t(`type.${type}Title`), dataset: { type } }, t(`type.${type}`)),
    type === 'openai' && ch.responses ? h('span', { class: 'tag responses-tag', title: t('ch.responsesTitle') }, t('ch.responses')) : null,
    ch.enabled ? null : h('span', { class: 'tag' }, t('ch.disabledNote')),
    ch.prefill_rejected ? h('span', { class: 'badge warn prefill-rejected', title: t('ch.prefillRejectedTitle') }, `⚠ ${t('ch.prefillRejected')}`) : null,
  ];
}

function channelRow(ch) {
  const name = channelLabel(ch);
  const b = breakerOf(ch);
  const pending = ctx.state.tests.get(ch.id)?.pending;
  const headers = headerNames(ch);
  return h('tr', { class: ['ch-row', !ch.enabled && 'is-disabled'], dataset: { id: ch.id } },
    h('td', { class: 'c-name', 'data-label': t('ch.col.channel') },
      h('div', { class: 'ch-name' },
        h('span', { class: 'ch-title' }, name),
        channelTags(ch)),
      h('div', { class: 'ch-url mono', title: ch.url }, ch.url),
      h('div', { class: 'ch-meta' },
        h('span', { class: 'meta', title: t('ch.col.key') }, h('span', { class: 'meta-k' }, t('ch.col.key')), h('span', { class: 'mono ch-key' }, ch.api_key)),
        h('span', { class: 'meta', title: t('ch.col.model') }, h('span', { class: 'meta-k' }, t('ch.col.model')),
          ch.model ? h('span', { class: 'mono ch-model' }, ch.model) : h('span', { class: 'ch-model' }, t('ch.modelKeep'))),
        headers.length ? h('span', { class: 'meta ch-headers', title: t('ch.headersTitle') },
          h('span', { class: 'meta-k' }, t('ch.col.headers')),
          h('span', { class: 'mono ch-header-names' }, headers.join(', '))) : null,
        ch.prefill === true || ch.prefill === false ? h('span', { class: 'meta ch-prefill', title: t('form.prefillHint') },
          h('span', { class: 'meta-k' }, t('ch.col.prefill')),
          h('span', null, t(ch.prefill ? 'form.prefillOn' : 'form.prefillOff'))) : null,
        h('span', { class: 'meta mono ch-id', title: ch.id }, shortId(ch.id))),
      testLine(ch)),
    h('td', { class: 'c-prio', 'data-label': t('ch.col.priority') }, h('span', { class: 'prio' }, String(ch.priority))),
    h('td', { class: 'c-breaker', 'data-label': t('ch.col.breaker') },
      h('div', null,
        breakerBadge(ch),
        b.fails > 0 ? h('div', { class: 'fails muted' }, t(b.fails === 1 ? 'ch.fails1' : 'ch.fails', { n: b.fails })) : null)),
    h('td', { class: 'c-enabled', 'data-label': t('ch.col.enabled') },
      h('input', {
        type: 'checkbox', class: 'switch', checked: !!ch.enabled, 'aria-label': t('ch.enable', { name }),
        on: { change: (e) => toggle(ch, e.target) },
      })),
    h('td', { class: 'c-actions', 'data-label': t('ch.col.actions') },
      h('div', { class: 'actions' },
        h('button', { type: 'button', class: 'btn small act-test', disabled: !!pending, on: { click: () => test(ch) } }, t('ch.test')),
        h('button', {
          type: 'button', class: 'btn small act-reset', disabled: b.state === 'closed' && b.fails === 0,
          on: { click: () => reset(ch) },
        }, t('ch.reset')),
        h('button', { type: 'button', class: 'btn small act-edit', on: { click: () => openForm(ch) } }, t('ch.edit')),
        h('button', { type: 'button', class: 'btn small danger-ghost act-delete', on: { click: () => remove(ch) } }, t('ch.delete')))));
}

// ---- scheme aliases ----

// aliasEdit is the open alias editor, kept here so that a re-render
// (polling, a language switch) does not lose what is being typed.
let aliasEdit = null; // {scheme, text, error, saving}
let mustRender = false; // the editor changed: render even if it has focus

function schemeListing(name) {
  return (ctx.state.schemes || []).find((s) => s.name === name) || null;
}

// parseAliases reads the editor: one alias per line or comma-separated.
export function parseAliases(text) {
  return String(text).split(/[,\n]/).map((a) => a.trim()).filter(Boolean);
}

function aliasLine(name, listing) {
  if (!listing) return null; // not loaded yet
  const aliases = listing.aliases || [];
  return h('div', { class: 'alias-line' },
    h('span', { class: 'meta-k', title: t('al.title') }, t('al.label')),
    aliases.length
      ? h('span', { class: 'alias-chips' }, aliases.map((a) => h('span', { class: 'alias-chip mono' }, a)))
      : h('span', { class: 'muted alias-none' }, t('al.none')),
    h('button', {
      type: 'button', class: 'btn small ghost act-aliases', 'aria-label': t('al.editFor', { name }),
      on: { click: () => openAliases(name, aliases) },
    }, t('al.edit')));
}

function aliasEditor(name) {
  const ed = aliasEdit;
  const id = `aliases-${[...name].map((c) => c.codePointAt(0).toString(16)).join('')}`;
  const input = h('textarea', {
    id, class: ['alias-input', 'mono'], rows: 3, spellcheck: 'false', autocomplete: 'off',
    placeholder: 'claude-*-haiku-*\nclaude-sonnet-4-5', 'aria-invalid': ed.error ? 'true' : null,
    'aria-describedby': `${id}-hint`,
    on: {
      input: (e) => { aliasEdit.text = e.target.value; },
      keydown: (e) => {
        if (e.key === 'Escape') { e.preventDefault(); e.stopPropagation(); closeAliases(); }
        if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); saveAliases(); }
      },
    },
  });
  input.value = ed.text;
  return h('div', { class: ['alias-editor', ed.error && 'invalid'] },
    h('label', { class: 'label', for: id }, t('al.editTitle', { name })),
    input,
    h('span', { class: 'hint', id: `${id}-hint` }, t('al.hint')),
    ed.error ? h('span', { class: 'field-error', role: 'alert' }, ed.error) : null,
    h('div', { class: 'alias-actions' },
      h('button', { type: 'button', class: 'btn small primary act-aliases-save', disabled: !!ed.saving, on: { click: saveAliases } },
        t(ed.saving ? 'form.saving' : 'form.save')),
      h('button', { type: 'button', class: 'btn small act-aliases-cancel', on: { click: closeAliases } }, t('form.cancel'))));
}

function openAliases(name, aliases) {
  aliasEdit = { scheme: name, text: aliases.join('\n'), error: '', saving: false };
  mustRender = true;
  ctx.render(false);
  focusAliases();
}

function closeAliases() {
  aliasEdit = null;
  mustRender = true;
  ctx.render(false);
}

function focusAliases() {
  const el = $('#channels-body .alias-input');
  if (!el) return;
  el.focus();
  el.setSelectionRange(el.value.length, el.value.length);
}

// aliasError names the alias the API refused (param "aliases[i]").
function aliasError(e, list) {
  const msg = String(e.message || '');
  const m = /^aliases\[(\d+)\]$/.exec(e.param || '');
  if (!m) return e.param && msg.startsWith(`${e.param}: `) ? msg.slice(e.param.length + 2) : msg;
  const text = msg.startsWith(`${e.param}: `) ? msg.slice(e.param.length + 2) : msg;
  const alias = list[Number(m[1])];
  if (alias === undefined || text.includes(JSON.stringify(alias))) return text;
  return t('al.errAt', { alias, msg: text });
}

async function saveAliases() {
  if (!aliasEdit || aliasEdit.saving) return;
  const ed = aliasEdit;
  const list = parseAliases(ed.text);
  ed.saving = true;
  ed.error = '';
  mustRender = true;
  ctx.render(false);
  try {
    const v = await ctx.api('PUT', `/admin/schemes/${encodeURIComponent(ed.scheme)}`, { aliases: list });
    const all = (ctx.state.schemes || []).filter((s) => s.name !== ed.scheme);
    ctx.state.schemes = [...all, v].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    if (aliasEdit === ed) aliasEdit = null;
    ctx.toast(t('al.saved', { name: ed.scheme }));
  } catch (e) {
    if (e.status === 401) return;
    ed.saving = false;
    ed.error = e.status === 400 ? aliasError(e, list) : errText(e);
  }
  ed.saving = false;
  mustRender = true;
  ctx.render(false);
  if (aliasEdit === ed) focusAliases();
  await ctx.refresh();
}

// schemeHead is a scheme's title and its aliases (or their editor, below).
function schemeHead(name, pill, listing) {
  const editing = aliasEdit && aliasEdit.scheme === name;
  const head = h('div', { class: 'scheme-head' },
    h('div', { class: 'scheme-main' },
      h('div', { class: 'scheme-title' },
        h('h3', null, h('span', { class: 'scheme-name' }, name)),
        pill,
        h('span', { class: 'muted scheme-hint' }, t(listing && listing.aliases.length ? 'ch.schemeHintAliases' : 'ch.schemeHint', { name }))),
      editing ? null : aliasLine(name, listing)),
    h('button', { type: 'button', class: 'btn small ghost', on: { click: () => openForm(null, name) } }, `+ ${t('ch.addTo')}`));
  return editing ? [head, aliasEditor(name)] : [head];
}

function schemeSection(name, list) {
  const listing = schemeListing(name);
  const available = list.filter((c) => c.enabled && breakerOf(c).state !== 'open').length;
  const head = schemeHead(name,
    h('span', { class: ['pill', available ? 'ok' : 'fail'] }, tn('ch.schemeCount', list.length, { n: list.length, available })), listing);
  const cols = [['channel', 'name'], ['priority', 'prio'], ['breaker', 'breaker'], ['enabled', 'enabled'], ['actions', 'actions']];
  const table = h('table', { class: 'table channels' },
    h('colgroup', null, cols.map(([, c]) => h('col', { class: `col-${c}` }))),
    h('thead', null, h('tr', null, cols.map(([k, c]) => h('th', { class: `c-${c}` }, t(`ch.col.${k}`))))),
    h('tbody', null, list.map(channelRow)));
  return h('section', { class: 'panel scheme', dataset: { scheme: name } }, head, table);
}

// A scheme that lost its channels keeps its aliases: shown so they can be
// seen and cleared; they route nothing until a channel joins.
function emptySchemeSection(listing) {
  const name = listing.name;
  const head = schemeHead(name, h('span', { class: 'pill' }, t('ch.noChannels')), listing);
  return h('section', { class: 'panel scheme scheme-empty', dataset: { scheme: name } }, head,
    h('p', { class: 'muted empty-row' }, t('al.noChannels')));
}

export function renderChannels(c, lastSig) {
  ctx = c;
  const { state } = ctx;
  const body = $('#channels-body');
  if (!state.config) return;
  const now = new Date();
  const ed = aliasEdit && [aliasEdit.scheme, aliasEdit.error, aliasEdit.saving];
  const sig = JSON.stringify([state.config, state.schemes, ed, [...state.tests], ctx.channels().map((ch) => breakerOf(ch, now).state),
    document.documentElement.lang]);
  if (lastSig.channels === sig && !mustRender) return;
  // Do not pull a control away from under the user's pointer or focus.
  const focused = document.activeElement;
  if (!mustRender && focused && body.contains(focused) && focused.matches('input, textarea')) return;
  mustRender = false;
  lastSig.channels = sig;
  const names = Object.keys(state.config).sort();
  const empty = (state.schemes || []).filter((s) => !(s.name in state.config) && s.aliases && s.aliases.length);
  if (aliasEdit && !(aliasEdit.scheme in state.config) && !empty.some((s) => s.name === aliasEdit.scheme)) aliasEdit = null;
  const all = ctx.channels();
  const available = all.filter((ch) => ch.enabled && breakerOf(ch, now).state !== 'open').length;
  $('#ch-summary').textContent = all.length
    ? tn('ch.summary', all.length, { channels: all.length, schemes: names.length, available }) : '';
  if (!all.length) {
    body.replaceChildren(h('div', { class: 'panel empty-state' },
      h('p', null, t('ch.empty')),
      h('button', { type: 'button', class: 'btn primary', on: { click: () => openForm(null) } }, t('ch.add'))),
    ...empty.map(emptySchemeSection));
    return;
  }
  body.replaceChildren(...names.map((n) => schemeSection(n, state.config[n])), ...empty.map(emptySchemeSection));
}

// ---- actions ----

function errText(e) {
  return t('toast.error', { msg: e.message });
}

async function toggle(ch, input) {
  input.disabled = true;
  try {
    const v = await ctx.api('PUT', `/admin/config/${encodeURIComponent(ch.id)}`, { enabled: input.checked });
    ctx.toast(t(v.enabled ? 'toast.enabled' : 'toast.disabled', { name: channelLabel(v) }));
  } catch (e) {
    input.checked = !input.checked;
    if (e.status !== 401) ctx.toast(errText(e), 'error');
  } finally {
    input.disabled = false;
    input.blur();
  }
  await ctx.refresh();
}

async function test(ch) {
  ctx.state.tests.set(ch.id, { pending: true });
  ctx.render(false);
  try {
    const r = await ctx.api('POST', `/admin/config/${encodeURIComponent(ch.id)}/test`, {});
    ctx.state.tests.set(ch.id, r);
  } catch (e) {
    if (e.status === 401) return;
    ctx.state.tests.set(ch.id, { ok: false, status: e.status || 0, latency_ms: null, error: e.message });
  }
  await ctx.refresh();
  ctx.render(false);
}

async function reset(ch) {
  try {
    await ctx.api('POST', `/admin/config/${encodeURIComponent(ch.id)}/reset`);
    ctx.toast(t('toast.reset', { name: channelLabel(ch) }));
  } catch (e) {
    if (e.status !== 401) ctx.toast(errText(e), 'error');
  }
  await ctx.refresh();
}

function confirmDialog(text) {
  const dlg = $('#confirm-dialog');
  $('#confirm-body').textContent = text;
  dlg.returnValue = '';
  return new Promise((resolve) => {
    dlg.addEventListener('close', () => resolve(dlg.returnValue === 'ok'), { once: true });
    dlg.showModal();
    $('#confirm-ok').focus();
  });
}

async function remove(ch) {
  const name = channelLabel(ch);
  if (!(await confirmDialog(t('confirm.body', { name, url: ch.url })))) return;
  try {
    await ctx.api('DELETE', `/admin/config/${encodeURIComponent(ch.id)}`);
    ctx.state.tests.delete(ch.id);
    ctx.toast(t('toast.deleted', { name }));
  } catch (e) {
    if (e.status !== 401) ctx.toast(errText(e), 'error');
  }
  await ctx.refresh();
}

// ---- the add/edit dialog ----

const NUMBER_FIELDS = ['consecutive_failure_threshold', 'disable_duration_seconds', 'timeout_seconds', 'max_retries'];

function clearErrors() {
  const form = $('#channel-form');
  for (const el of $$('[data-error-for]', form)) { el.hidden = true; el.textContent = ''; }
  for (const el of $$('.invalid', form)) el.classList.remove('invalid');
  const fe = $('#form-error');
  fe.hidden = true;
  fe.textContent = '';
}

// showFieldError puts the API's message next to the field it names.
// target, when given, is the input to mark and focus.
function showFieldError(param, message, target) {
  const form = $('#channel-form');
  const slot = param ? $(`[data-error-for="${CSS.escape(param)}"]`, form) : null;
  const msg = String(message || '');
  const text = param && msg.startsWith(`${param}: `) ? msg.slice(param.length + 2) : msg;
  if (!slot) {
    const fe = $('#form-error');
    fe.textContent = message;
    fe.hidden = false;
    return;
  }
  slot.textContent = text;
  slot.hidden = false;
  const field = slot.closest('[data-field]');
  field.classList.add('invalid');
  const details = field.closest('details');
  if (details) details.open = true;
  let input = target || $('input, select, textarea', field);
  if (target) {
    target.closest('.header-row')?.classList.add('invalid');
  } else if (param === 'headers') {
    // Point at the row the message names, when it names one.
    const row = headerRows().find((r) => namesHeader(text, r.name.value.trim()));
    if (row) {
      row.el.classList.add('invalid');
      input = row.name;
    }
  }
  if (input) {
    input.setAttribute('aria-invalid', 'true');
    input.focus();
  }
  const fe = $('#form-error');
  fe.textContent = t('form.fix');
  fe.hidden = false;
}

// namesHeader reports whether an API message about headers is about the
// header called name ("Host is set by the proxy", "\"x y\" is not a valid
// header name", "the value of X-Key must be ...").
function namesHeader(msg, name) {
  if (!name) return false;
  return msg.startsWith(`${name} `) || msg.includes(JSON.stringify(name)) || msg.includes(` ${name} `);
}

// ---- the headers editor ----
// Each row remembers the name it was loaded with and that header's masked
// value. An empty value keeps the stored one (sent back masked, which the
// API reads as "keep"), but only under the same name: a renamed or new
// header needs its value typed.

function headerRowEl(name, masked) {
  const original = masked === null ? null : name;
  const nameIn = h('input', {
    type: 'text', class: ['h-name', 'mono'], value: name, autocomplete: 'off', spellcheck: 'false', maxlength: 100,
    placeholder: t('form.headerNamePh'), 'aria-label': t('form.headerName'),
  });
  const valueIn = h('input', {
    type: 'password', class: ['h-value', 'mono'], value: '', autocomplete: 'new-password', spellcheck: 'false',
    placeholder: masked === null ? t('form.headerValuePh') : t('form.headerKeepPh', { masked }),
    'aria-label': t('form.headerValue'),
  });
  const row = h('div', { class: 'header-row', dataset: original === null ? {} : { original, masked } },
    nameIn, valueIn,
    h('button', {
      type: 'button', class: 'icon-btn h-remove', title: t('form.removeHeader'), 'aria-label': t('form.removeHeader'),
      on: {
        click: () => {
          const next = row.nextElementSibling || row.previousElementSibling;
          row.remove();
          updateHeadersHint();
          clearFieldError('headers');
          (next ? $('.h-name', next) : $('#add-header')).focus();
        },
      },
    }, '×'));
  return row;
}

function headerRows() {
  return $$('#header-rows .header-row').map((el) => ({
    el, name: $('.h-name', el), value: $('.h-value', el),
    original: el.dataset.original === undefined ? null : el.dataset.original,
    masked: el.dataset.masked === undefined ? null : el.dataset.masked,
  }));
}

function addHeaderRow() {
  const row = headerRowEl('', null);
  $('#header-rows').append(row);
  updateHeadersHint();
  $('.h-name', row).focus();
}

function updateHeadersHint() {
  const rows = headerRows();
  $('#headers-hint').textContent = t(rows.some((r) => r.original !== null) ? 'form.headersKeepHint' : 'form.headersHint');
}

function clearFieldError(param) {
  const slot = $(`#channel-form [data-error-for="${param}"]`);
  if (!slot || slot.hidden) return;
  slot.hidden = true;
  const field = slot.closest('[data-field]');
  field.classList.remove('invalid');
  for (const el of $$('.invalid, [aria-invalid]', field)) {
    el.classList.remove('invalid');
    el.removeAttribute('aria-invalid');
  }
}

class HeaderError extends Error {
  constructor(message, input) {
    super(message);
    this.input = input;
  }
}

// collectHeaders reads the editor into the API's object, or throws a
// HeaderError that names the row to fix.
function collectHeaders() {
  const out = {};
  const seen = new Map();
  for (const r of headerRows()) {
    const name = r.name.value.trim();
    const value = r.value.value;
    if (!name && !value && r.original === null) continue; // an untouched new row
    if (!name) throw new HeaderError(t('form.headerNameNeeded'), r.name);
    const lower = name.toLowerCase();
    if (seen.has(lower)) throw new HeaderError(t('form.headerTwice', { name }), r.name);
    seen.set(lower, true);
    if (value) out[name] = value;
    else if (r.original !== null && r.original === name) out[name] = r.masked; // keep the stored value
    else throw new HeaderError(t(r.original !== null ? 'form.headerRenamed' : 'form.headerValueNeeded', { name }), r.value);
  }
  return out;
}

// ---- type-dependent parts of the form ----

function syncType() {
  const form = $('#channel-form');
  const el = form.elements;
  const type = el.type.value === 'anthropic' ? 'anthropic' : 'openai';
  $('.responses-field', form).hidden = type !== 'openai';
  $('#type-hint').textContent = t(`form.typeHint.${type}`);
  el.url.placeholder = type === 'anthropic' ? 'https://api.anthropic.com/v1' : 'https://api.openai.com/v1';
  $('#url-hint').textContent = t('form.urlHint', { url: el.url.placeholder });
  $('#prefill-default-label').textContent = t('form.prefillDefaultIs', { v: t(type === 'anthropic' ? 'form.prefillOn' : 'form.prefillOff') });
  $('#key-hint').textContent = editingId
    ? t('form.keyKeep', { masked: el.api_key.placeholder })
    : t(`form.keyNew.${type}`);
}

function nextPriority(scheme) {
  const list = (ctx.state.config || {})[scheme] || [];
  return list.length ? Math.max(...list.map((c) => c.priority)) + 1 : 1;
}

export function openForm(ch, scheme) {
  const dlg = $('#channel-dialog');
  const form = $('#channel-form');
  form.reset();
  clearErrors();
  for (const i of $$('input, select', form)) i.removeAttribute('aria-invalid');
  editingId = ch ? ch.id : null;
  $('#channel-form-title').textContent = t(ch ? 'form.editTitle' : 'form.addTitle');
  const el = form.elements;
  const schemeName = ch ? ch.scheme_name : scheme || Object.keys(ctx.state.config || {}).sort()[0] || 'default';
  el.name.value = ch ? ch.name : '';
  el.scheme_name.value = schemeName;
  el.url.value = ch ? ch.url : '';
  el.api_key.value = '';
  el.api_key.placeholder = ch ? ch.api_key : 'sk-…';
  el.priority.value = String(ch ? ch.priority : nextPriority(schemeName));
  el.model.value = ch && ch.model ? ch.model : '';
  el.enabled.checked = ch ? !!ch.enabled : true;
  el.type.value = ch ? typeOf(ch) : 'openai';
  el.responses.checked = !!(ch && ch.responses);
  el.prefill.value = !ch || ch.prefill === null || ch.prefill === undefined ? 'default' : ch.prefill ? 'on' : 'off';
  $('#header-rows').replaceChildren(...(ch ? headerNames(ch) : []).map((n) => headerRowEl(n, String(ch.headers[n]))));
  updateHeadersHint();
  const rejected = $('#prefill-rejected-note');
  rejected.hidden = !(ch && ch.prefill_rejected);
  rejected.textContent = ch && ch.prefill_rejected ? t('form.prefillRejected') : '';
  syncType();
  let advanced = false;
  for (const f of NUMBER_FIELDS) {
    const v = ch ? ch[f] : null;
    el[f].value = v === null || v === undefined ? '' : String(v);
    if (v !== null && v !== undefined) advanced = true;
  }
  $('#advanced').open = advanced;
  const list = $('#scheme-options');
  list.replaceChildren(...Object.keys(ctx.state.config || {}).sort().map((n) => h('option', { value: n })));
  dlg.showModal();
  (ch ? el.name : el.url).focus();
}

function numberOrNull(v) {
  v = String(v).trim();
  return v === '' ? null : Number(v);
}

async function submitForm(event) {
  event.preventDefault();
  clearErrors();
  const form = $('#channel-form');
  const el = form.elements;
  const body = {
    name: el.name.value.trim(),
    url: el.url.value.trim(),
    priority: numberOrNull(el.priority.value),
    model: el.model.value.trim() || null,
    enabled: el.enabled.checked,
    type: el.type.value,
    responses: el.type.value === 'openai' && el.responses.checked,
    prefill: { on: true, off: false }[el.prefill.value] ?? null,
  };
  try {
    const headers = collectHeaders();
    if (Object.keys(headers).length) body.headers = headers;
    else if (editingId) body.headers = null; // every row removed: clear them
  } catch (e) {
    if (!(e instanceof HeaderError)) throw e;
    showFieldError('headers', e.message, e.input);
    return;
  }
  const scheme = el.scheme_name.value.trim();
  if (scheme || editingId) body.scheme_name = scheme;
  // An empty key on edit means "keep": the stored key never reaches the page.
  if (el.api_key.value || !editingId) body.api_key = el.api_key.value;
  for (const f of NUMBER_FIELDS) body[f] = numberOrNull(el[f].value);
  const save = $('#channel-save');
  save.disabled = true;
  save.textContent = t('form.saving');
  try {
    const v = editingId
      ? await ctx.api('PUT', `/admin/config/${encodeURIComponent(editingId)}`, body)
      : await ctx.api('POST', '/admin/config', body);
    el.api_key.value = '';
    $('#channel-dialog').close();
    ctx.toast(t(editingId ? 'toast.saved' : 'toast.created', { name: channelLabel(v) }));
    await ctx.refresh();
  } catch (e) {
    if (e.status === 401) return;
    showFieldError(e.status === 400 ? e.param : '', e.message);
  } finally {
    save.disabled = false;
    save.textContent = t('form.save');
  }
}

export function initChannels(c) {
  ctx = c;
  $('#add-channel').addEventListener('click', () => openForm(null));
  $('#channel-form').addEventListener('submit', submitForm);
  $('#channel-form').elements.type.addEventListener('change', syncType);
  $('#add-header').addEventListener('click', addHeaderRow);
  const dlg = $('#channel-dialog');
  for (const b of $$('[data-close]', dlg)) b.addEventListener('click', () => dlg.close());
  dlg.addEventListener('close', () => {
    $('#channel-form').elements.api_key.value = '';
    $('#header-rows').replaceChildren(); // typed header values do not outlive the dialog
    ctx.render(false);
  });
  // Clicking a field's input clears its error.
  $('#channel-form').addEventListener('input', (e) => {
    const field = e.target.closest('[data-field]');
    if (!field || !field.classList.contains('invalid')) return;
    field.classList.remove('invalid');
    e.target.removeAttribute('aria-invalid');
    for (const el of $$('.header-row.invalid, [aria-invalid]', field)) {
      el.classList.remove('invalid');
      el.removeAttribute('aria-invalid');
    }
    const slot = $('[data-error-for]', field);
    if (slot) slot.hidden = true;
  });
  const confirm = $('#confirm-dialog');
  for (const b of $$('button[value]', confirm)) {
    b.addEventListener('click', (e) => { e.preventDefault(); confirm.close(b.value); });
  }
}
