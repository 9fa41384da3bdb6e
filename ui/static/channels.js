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

function channelRow(ch) {
  const name = channelLabel(ch);
  const b = breakerOf(ch);
  const pending = ctx.state.tests.get(ch.id)?.pending;
  return h('tr', { class: ['ch-row', !ch.enabled && 'is-disabled'], dataset: { id: ch.id } },
    h('td', { class: 'c-name', 'data-label': t('ch.col.channel') },
      h('div', { class: 'ch-name' },
        h('span', { class: 'ch-title' }, name),
        ch.enabled ? null : h('span', { class: 'tag' }, t('ch.disabledNote'))),
      h('div', { class: 'ch-url mono', title: ch.url }, ch.url),
      h('div', { class: 'ch-meta' },
        h('span', { class: 'meta', title: t('ch.col.key') }, h('span', { class: 'meta-k' }, t('ch.col.key')), h('span', { class: 'mono ch-key' }, ch.api_key)),
        h('span', { class: 'meta', title: t('ch.col.model') }, h('span', { class: 'meta-k' }, t('ch.col.model')),
          ch.model ? h('span', { class: 'mono ch-model' }, ch.model) : h('span', { class: 'ch-model' }, t('ch.modelKeep'))),
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

function schemeSection(name, list) {
  const available = list.filter((c) => c.enabled && breakerOf(c).state !== 'open').length;
  const head = h('div', { class: 'scheme-head' },
    h('div', { class: 'scheme-title' },
      h('h3', null, h('span', { class: 'scheme-name' }, name)),
      h('span', { class: ['pill', available ? 'ok' : 'fail'] }, tn('ch.schemeCount', list.length, { n: list.length, available })),
      h('span', { class: 'muted scheme-hint' }, t('ch.schemeHint', { name }))),
    h('button', { type: 'button', class: 'btn small ghost', on: { click: () => openForm(null, name) } }, `+ ${t('ch.addTo')}`));
  const cols = [['channel', 'name'], ['priority', 'prio'], ['breaker', 'breaker'], ['enabled', 'enabled'], ['actions', 'actions']];
  const table = h('table', { class: 'table channels' },
    h('colgroup', null, cols.map(([, c]) => h('col', { class: `col-${c}` }))),
    h('thead', null, h('tr', null, cols.map(([k, c]) => h('th', { class: `c-${c}` }, t(`ch.col.${k}`))))),
    h('tbody', null, list.map(channelRow)));
  return h('section', { class: 'panel scheme', dataset: { scheme: name } }, head, table);
}

export function renderChannels(c, lastSig) {
  ctx = c;
  const { state } = ctx;
  const body = $('#channels-body');
  if (!state.config) return;
  const now = new Date();
  const sig = JSON.stringify([state.config, [...state.tests], ctx.channels().map((ch) => breakerOf(ch, now).state), document.documentElement.lang]);
  if (lastSig.channels === sig) return;
  // Do not pull a control away from under the user's pointer or focus.
  const focused = document.activeElement;
  if (focused && body.contains(focused) && focused.matches('input')) return;
  lastSig.channels = sig;
  const names = Object.keys(state.config).sort();
  const all = ctx.channels();
  const available = all.filter((ch) => ch.enabled && breakerOf(ch, now).state !== 'open').length;
  $('#ch-summary').textContent = all.length
    ? tn('ch.summary', all.length, { channels: all.length, schemes: names.length, available }) : '';
  if (!all.length) {
    body.replaceChildren(h('div', { class: 'panel empty-state' },
      h('p', null, t('ch.empty')),
      h('button', { type: 'button', class: 'btn primary', on: { click: () => openForm(null) } }, t('ch.add'))));
    return;
  }
  body.replaceChildren(...names.map((n) => schemeSection(n, state.config[n])));
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
function showFieldError(param, message) {
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
  const input = $('input', field);
  if (input) {
    input.setAttribute('aria-invalid', 'true');
    input.focus();
  }
  const fe = $('#form-error');
  fe.textContent = t('form.fix');
  fe.hidden = false;
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
  for (const i of $$('input', form)) i.removeAttribute('aria-invalid');
  editingId = ch ? ch.id : null;
  $('#channel-form-title').textContent = t(ch ? 'form.editTitle' : 'form.addTitle');
  const el = form.elements;
  const schemeName = ch ? ch.scheme_name : scheme || Object.keys(ctx.state.config || {}).sort()[0] || 'default';
  el.name.value = ch ? ch.name : '';
  el.scheme_name.value = schemeName;
  el.url.value = ch ? ch.url : '';
  el.api_key.value = '';
  el.api_key.placeholder = ch ? ch.api_key : 'sk-…';
  $('#key-hint').textContent = ch ? t('form.keyKeep', { masked: ch.api_key }) : t('form.keyNew');
  el.priority.value = String(ch ? ch.priority : nextPriority(schemeName));
  el.model.value = ch && ch.model ? ch.model : '';
  el.enabled.checked = ch ? !!ch.enabled : true;
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
  };
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
  const dlg = $('#channel-dialog');
  for (const b of $$('[data-close]', dlg)) b.addEventListener('click', () => dlg.close());
  dlg.addEventListener('close', () => {
    $('#channel-form').elements.api_key.value = '';
    ctx.render(false);
  });
  // Clicking a field's input clears its error.
  $('#channel-form').addEventListener('input', (e) => {
    const field = e.target.closest('[data-field]');
    if (!field || !field.classList.contains('invalid')) return;
    field.classList.remove('invalid');
    e.target.removeAttribute('aria-invalid');
    const slot = $('[data-error-for]', field);
    if (slot) slot.hidden = true;
  });
  const confirm = $('#confirm-dialog');
  for (const b of $$('button[value]', confirm)) {
    b.addEventListener('click', (e) => { e.preventDefault(); confirm.close(b.value); });
  }
}
