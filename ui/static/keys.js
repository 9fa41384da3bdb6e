// The Keys tab: client keys with their scope, limits and usage; the
// create/edit dialog; the secret, shown once after a create or a
// rotation; and the key choices the Statistics and Logs filters offer.
import { h, $, $$ } from './dom.js';
import { t, tn } from './i18n.js';
import { clock, compact, dateTime, num } from './format.js';

let ctx;
let editingId = null; // key being edited; null while creating

// keyOptions lists the client keys a filter offers: the configured ones
// and any other name seen in the data (a deleted or renamed key, and
// "admin" for ADMIN_KEY).
export function keyOptions(c, seen = []) {
  const names = new Set([...(c.state.keys || []).map((k) => k.name), ...seen.filter(Boolean)]);
  const label = (n) => (n === 'admin' ? t('ky.adminName') : n);
  return [['', t('ky.allKeys')], ...[...names].sort().map((n) => [n, label(n)])];
}

function expired(k) {
  return !!k.expires_at && new Date(k.expires_at) <= new Date();
}

function statusBadge(k) {
  if (!k.enabled) return h('span', { class: 'badge muted key-state', dataset: { state: 'disabled' } }, t('ky.disabled'));
  if (k.expired || expired(k)) return h('span', { class: 'badge fail key-state', dataset: { state: 'expired' } }, t('ky.expired'));
  return h('span', { class: 'badge ok key-state', dataset: { state: 'active' } }, h('span', { class: 'dot' }), t('ky.active'));
}

function scopeCell(k) {
  if (!k.schemes || !k.schemes.length) return h('span', { class: 'muted' }, t('ky.allSchemes'));
  return h('div', { class: 'scheme-chips' }, k.schemes.map((s) => h('span', { class: 'scheme-chip mono' }, s)));
}

// limitLine is one limit with what counts against it now.
function limitLine(label, used, limit, cls) {
  return h('div', { class: ['limit', cls] },
    h('span', { class: 'meta-k' }, label),
    h('span', { class: 'limit-v' }, `${compact(used)} / ${compact(limit)}`),
    h('progress', { max: String(limit), value: String(Math.min(used, limit)), 'aria-label': label }));
}

function limitsCell(k) {
  const m = k.minute || { requests: 0, tokens: 0 };
  const lines = [];
  if (k.rpm) lines.push(limitLine(t('ky.rpm'), m.requests, k.rpm, 'l-rpm'));
  if (k.tpm) lines.push(limitLine(t('ky.tpm'), m.tokens, k.tpm, 'l-tpm'));
  if (k.token_quota) {
    const used = (k.usage.prompt_tokens || 0) + (k.usage.completion_tokens || 0);
    lines.push(limitLine(t('ky.quota'), used, k.token_quota, ['l-quota', used >= k.token_quota && 'spent']));
  }
  if (!lines.length) return h('span', { class: 'muted' }, t('ky.noLimits'));
  return h('div', { class: 'limits' }, lines);
}

function usageCell(k) {
  const u = k.usage || {};
  const tokens = (u.prompt_tokens || 0) + (u.completion_tokens || 0);
  return h('div', { class: 'usage' },
    h('div', null, h('b', { class: 'u-requests' }, num(u.requests || 0)), ` ${tn('ky.requests', u.requests || 0)}`,
      u.failures ? h('span', { class: 'fail-text' }, ` · ${t('ky.failures', { n: num(u.failures) })}`) : null),
    h('div', { class: 'muted', title: t('ky.tokensTitle', { prompt: num(u.prompt_tokens || 0), completion: num(u.completion_tokens || 0) }) },
      t('ky.tokens', { n: compact(tokens) })),
    h('div', { class: 'muted small-text' }, u.last_used ? t('ky.lastUsed', { time: clock(u.last_used) }) : t('ky.neverUsed')));
}

function keyRow(k) {
  return h('tr', { class: ['key-row', !k.enabled && 'is-disabled'], dataset: { id: k.id } },
    h('td', { class: 'c-key', 'data-label': t('ky.col.key') },
      h('div', { class: 'ch-name' }, h('span', { class: 'ch-title key-name' }, k.name), statusBadge(k)),
      h('div', { class: 'mono key-masked' }, k.key),
      h('div', { class: 'muted small-text' },
        k.expires_at ? t('ky.expiresAt', { time: dateTime(k.expires_at) }) : t('ky.noExpiry'),
        ' · ', t('ky.created', { time: dateTime(k.created_at) }))),
    h('td', { class: 'c-scope', 'data-label': t('ky.col.scope') }, scopeCell(k)),
    h('td', { class: 'c-limits', 'data-label': t('ky.col.limits') }, limitsCell(k)),
    h('td', { class: 'c-usage', 'data-label': t('ky.col.usage') }, usageCell(k)),
    h('td', { class: 'c-enabled', 'data-label': t('ky.col.enabled') },
      h('input', {
        type: 'checkbox', class: 'switch', checked: !!k.enabled, 'aria-label': t('ky.enable', { name: k.name }),
        on: { change: (e) => toggle(k, e.target) },
      })),
    h('td', { class: 'c-actions', 'data-label': t('ky.col.actions') },
      h('div', { class: 'actions' },
        h('button', { type: 'button', class: 'btn small act-edit', on: { click: () => openForm(k) } }, t('ky.edit')),
        h('button', { type: 'button', class: 'btn small act-rotate', on: { click: () => rotate(k) } }, t('ky.rotate')),
        h('button', { type: 'button', class: 'btn small danger-ghost act-delete', on: { click: () => remove(k) } }, t('ky.delete')))));
}

export function renderKeys(c, lastSig) {
  ctx = c;
  const list = ctx.state.keys;
  if (!list) return;
  const sig = JSON.stringify([list, document.documentElement.lang]);
  if (lastSig.keys === sig) return;
  const body = $('#keys-body');
  const focused = document.activeElement;
  if (focused && body.contains(focused) && focused.matches('input')) return;
  lastSig.keys = sig;
  const active = list.filter((k) => k.enabled && !expired(k)).length;
  $('#ky-summary').textContent = list.length ? tn('ky.summary', list.length, { n: list.length, active }) : '';
  if (!list.length) {
    body.replaceChildren(h('div', { class: 'panel empty-state' },
      h('p', null, t('ky.empty')),
      h('button', { type: 'button', class: 'btn primary', on: { click: () => openForm(null) } }, t('ky.add'))));
    return;
  }
  const cols = [['key', 'key'], ['scope', 'scope'], ['limits', 'limits'], ['usage', 'usage'], ['enabled', 'enabled'], ['actions', 'actions']];
  body.replaceChildren(h('section', { class: 'panel' }, h('div', { class: 'table-wrap' }, h('table', { class: 'table keys' },
    h('thead', null, h('tr', null, cols.map(([k, cls]) => h('th', { class: `c-${cls}` }, t(`ky.col.${k}`))))),
    h('tbody', null, list.map(keyRow))))));
}

// ---- actions ----

function errText(e) {
  return t('toast.error', { msg: e.message });
}

async function toggle(k, input) {
  input.disabled = true;
  try {
    const v = await ctx.api('PUT', `/admin/keys/${encodeURIComponent(k.id)}`, { enabled: input.checked });
    ctx.toast(t(v.enabled ? 'ky.toastEnabled' : 'ky.toastDisabled', { name: v.name }));
  } catch (e) {
    input.checked = !input.checked;
    if (e.status !== 401) ctx.toast(errText(e), 'error');
  } finally {
    input.disabled = false;
    input.blur();
  }
  await ctx.refresh();
}

function confirmKey(title, text, ok) {
  const dlg = $('#key-confirm-dialog');
  $('#key-confirm-title').textContent = title;
  $('#key-confirm-body').textContent = text;
  $('#key-confirm-ok').textContent = ok;
  dlg.returnValue = '';
  return new Promise((resolve) => {
    dlg.addEventListener('close', () => resolve(dlg.returnValue === 'ok'), { once: true });
    dlg.showModal();
    $('#key-confirm-ok').focus();
  });
}

async function rotate(k) {
  if (!(await confirmKey(t('ky.rotateTitle'), t('ky.rotateBody', { name: k.name }), t('ky.rotate')))) return;
  try {
    const v = await ctx.api('POST', `/admin/keys/${encodeURIComponent(k.id)}/rotate`);
    showSecret(t('sec.rotatedTitle', { name: v.name }), v.key);
  } catch (e) {
    if (e.status !== 401) ctx.toast(errText(e), 'error');
  }
  await ctx.refresh();
}

async function remove(k) {
  if (!(await confirmKey(t('ky.deleteTitle'), t('ky.deleteBody', { name: k.name, key: k.key }), t('ky.delete')))) return;
  try {
    await ctx.api('DELETE', `/admin/keys/${encodeURIComponent(k.id)}`);
    ctx.toast(t('ky.toastDeleted', { name: k.name }));
  } catch (e) {
    if (e.status !== 401) ctx.toast(errText(e), 'error');
  }
  await ctx.refresh();
}

// ---- the secret, shown once ----

function showSecret(title, secret) {
  const dlg = $('#secret-dialog');
  $('#secret-title').textContent = title;
  $('#secret-label').textContent = t('sec.label');
  const input = $('#secret-value');
  input.value = secret;
  $('#secret-copied').textContent = '';
  dlg.showModal();
  input.focus();
  input.select();
}

async function copySecret() {
  const input = $('#secret-value');
  let ok = false;
  try {
    await navigator.clipboard.writeText(input.value);
    ok = true;
  } catch {
    // Not a secure context (plain http to another host): select and copy.
    input.focus();
    input.select();
    try { ok = document.execCommand('copy'); } catch { ok = false; }
  }
  $('#secret-copied').textContent = ok ? t('sec.copied') : t('sec.copyFailed');
}

// ---- the create/edit dialog ----

function clearErrors() {
  const form = $('#key-form');
  for (const el of $$('[data-error-for]', form)) { el.hidden = true; el.textContent = ''; }
  for (const el of $$('.invalid', form)) el.classList.remove('invalid');
  for (const el of $$('[aria-invalid]', form)) el.removeAttribute('aria-invalid');
  const fe = $('#key-form-error');
  fe.hidden = true;
  fe.textContent = '';
}

// showFieldError puts the API's message next to the field it names
// (schemes[2] belongs to schemes).
function showFieldError(param, message) {
  const form = $('#key-form');
  const field = String(param || '').replace(/\[\d+\]$/, '');
  const slot = field ? $(`[data-error-for="${CSS.escape(field)}"]`, form) : null;
  const msg = String(message || '');
  const fe = $('#key-form-error');
  if (!slot) {
    fe.textContent = msg;
    fe.hidden = false;
    return;
  }
  slot.textContent = param && msg.startsWith(`${param}: `) ? msg.slice(param.length + 2) : msg;
  slot.hidden = false;
  const box = slot.closest('[data-field]');
  box.classList.add('invalid');
  const input = $('input:not([type=checkbox])', box) || $('input', box);
  if (input) {
    input.setAttribute('aria-invalid', 'true');
    input.focus();
  }
  fe.textContent = t('form.fix');
  fe.hidden = false;
}

// localInput turns an RFC 3339 time into a datetime-local value.
function localInput(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function schemeChecks(selected) {
  const known = Object.keys(ctx.state.config || {});
  const names = [...new Set([...known, ...selected])].sort();
  const box = $('#key-schemes');
  if (!names.length) {
    box.replaceChildren(h('span', { class: 'muted small-text' }, t('kf.noSchemes')));
    return;
  }
  box.replaceChildren(...names.map((n) => h('label', { class: 'check-item' },
    h('input', { type: 'checkbox', name: 'scheme', value: n, checked: selected.includes(n) }),
    h('span', { class: 'mono' }, n))));
}

export function openForm(k) {
  const dlg = $('#key-dialog');
  const form = $('#key-form');
  form.reset();
  clearErrors();
  editingId = k ? k.id : null;
  $('#key-form-title').textContent = k ? t('kf.editTitle', { name: k.name }) : t('kf.addTitle');
  const el = form.elements;
  el.name.value = k ? k.name : '';
  schemeChecks(k ? k.schemes || [] : []);
  el.schemes_other.value = '';
  for (const f of ['rpm', 'tpm', 'token_quota']) el[f].value = k && k[f] ? String(k[f]) : '';
  el.expires_at.value = k ? localInput(k.expires_at) : '';
  el.enabled.checked = k ? !!k.enabled : true;
  dlg.showModal();
  el.name.focus();
}

function numberOrNull(v) {
  v = String(v).trim();
  return v === '' ? null : Number(v);
}

function formBody() {
  const el = $('#key-form').elements;
  const schemes = $$('#key-schemes input[name=scheme]').filter((c) => c.checked).map((c) => c.value);
  for (const s of el.schemes_other.value.split(',')) {
    const n = s.trim();
    if (n && !schemes.includes(n)) schemes.push(n);
  }
  let expires = null;
  if (el.expires_at.value) {
    const d = new Date(el.expires_at.value);
    expires = Number.isNaN(d.getTime()) ? el.expires_at.value : d.toISOString();
  }
  return {
    name: el.name.value.trim(),
    schemes,
    expires_at: expires,
    enabled: el.enabled.checked,
    rpm: numberOrNull(el.rpm.value),
    tpm: numberOrNull(el.tpm.value),
    token_quota: numberOrNull(el.token_quota.value),
  };
}

async function submitForm(event) {
  event.preventDefault();
  clearErrors();
  const body = formBody();
  const save = $('#key-save');
  save.disabled = true;
  save.textContent = t('form.saving');
  try {
    if (editingId) {
      const v = await ctx.api('PUT', `/admin/keys/${encodeURIComponent(editingId)}`, body);
      $('#key-dialog').close();
      ctx.toast(t('ky.toastSaved', { name: v.name }));
    } else {
      const v = await ctx.api('POST', '/admin/keys', body);
      $('#key-dialog').close();
      showSecret(t('sec.createdTitle', { name: v.name }), v.key);
    }
    await ctx.refresh();
  } catch (e) {
    if (e.status === 401) return;
    showFieldError(e.status === 400 ? e.param : '', e.message);
  } finally {
    save.disabled = false;
    save.textContent = t('form.save');
  }
}

export function initKeys(c) {
  ctx = c;
  $('#add-key').addEventListener('click', () => openForm(null));
  $('#key-form').addEventListener('submit', submitForm);
  const dlg = $('#key-dialog');
  for (const b of $$('[data-close]', dlg)) b.addEventListener('click', () => dlg.close());
  dlg.addEventListener('close', () => ctx.render(false));
  $('#key-form').addEventListener('input', (e) => {
    const field = e.target.closest('[data-field]');
    if (!field || !field.classList.contains('invalid')) return;
    field.classList.remove('invalid');
    e.target.removeAttribute('aria-invalid');
    const slot = $('[data-error-for]', field);
    if (slot) slot.hidden = true;
  });
  $('#secret-copy').addEventListener('click', copySecret);
  // Closing forgets the secret: it is in the page only while shown.
  $('#secret-dialog').addEventListener('close', () => {
    $('#secret-value').value = '';
    $('#secret-copied').textContent = '';
    ctx.render(false);
  });
  const confirm = $('#key-confirm-dialog');
  for (const b of $$('button[value]', confirm)) {
    b.addEventListener('click', (e) => { e.preventDefault(); confirm.close(b.value); });
  }
}
