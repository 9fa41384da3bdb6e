// Catfish admin page: sign-in, tabs, polling. Each tab's view lives in its
// own module; they share the ctx object built here. Data is only ever put
// into the page as text (see dom.js).
import { h, $, $$ } from './dom.js';
import { t, pickLanguage, setLanguage, language, translateStatic } from './i18n.js';
import { createApi } from './api.js';
import { clock } from './format.js';
import { initChannels, renderChannels } from './channels.js';
import { initStats, renderStats } from './stats.js';
import { initLogs, renderLogs } from './logs.js';
import { initKeys, renderKeys } from './keys.js';

const KEY_STORE = 'catfish.adminKey';
const POLL_MS = 3000;
const TABS = ['channels', 'keys', 'stats', 'logs'];

function readKey() {
  try { return sessionStorage.getItem(KEY_STORE) || ''; } catch { return ''; }
}

function writeKey(key) {
  try {
    if (key) sessionStorage.setItem(KEY_STORE, key);
    else sessionStorage.removeItem(KEY_STORE);
  } catch { /* storage off: the key lives in memory only */ }
}

const state = {
  key: readKey(),
  signedIn: false,
  tab: 'channels',
  config: null, // {scheme: [channel]}
  schemes: null, // [{name, aliases, channels}]: scheme settings
  keys: null, // [client key], masked
  stats: null,
  requests: null,
  logs: null,
  tests: new Map(), // channel id → {pending: true} or a test answer
  filters: { scheme: '', channel: '', status: '', key: '' }, // key: shared by Statistics and Logs
  updated: null,
  error: '',
};

const ctx = {
  state,
  // A 401 ends a session; during sign-in the form itself says the key is wrong.
  api: createApi(() => state.key, () => { if (state.signedIn) signOut('login.expired'); }),
  refresh: () => refresh(),
  render: (force) => render(force),
  toast,
};

// channels returns every channel, schemes by name, in the server's order.
ctx.channels = () => {
  const out = [];
  for (const name of Object.keys(state.config || {}).sort()) out.push(...state.config[name]);
  return out;
};
ctx.channelById = () => new Map(ctx.channels().map((c) => [c.id, c]));

// ---- sign-in ----

function showLogin(messageKey, vars) {
  $('#app').hidden = true;
  $('#login').hidden = false;
  const err = $('#login-error');
  err.hidden = !messageKey;
  err.textContent = messageKey ? t(messageKey, vars) : '';
  const input = $('#login-key');
  input.value = '';
  input.focus();
}

function showApp() {
  $('#login').hidden = true;
  $('#app').hidden = false;
  selectTab(state.tab);
}

async function signIn(event) {
  event.preventDefault();
  const key = $('#login-key').value.trim();
  const err = $('#login-error');
  if (!key) {
    err.textContent = t('login.empty');
    err.hidden = false;
    return;
  }
  const btn = $('#login-form button[type=submit]');
  btn.disabled = true;
  state.key = key;
  try {
    state.config = await ctx.api('GET', '/admin/config');
    writeKey(key);
    state.signedIn = true;
    $('#login-key').value = '';
    showApp();
    refresh().then(schedule);
  } catch (e) {
    state.key = '';
    err.textContent = e.status === 401 ? t('login.wrong') : t('login.unreachable', { msg: e.message });
    err.hidden = false;
    $('#login-key').select();
  } finally {
    btn.disabled = false;
  }
}

// signOut forgets the key and every piece of data shown.
function signOut(messageKey) {
  const wasIn = state.signedIn || state.key;
  state.key = '';
  state.signedIn = false;
  writeKey('');
  Object.assign(state, { config: null, schemes: null, keys: null, stats: null, requests: null, logs: null, updated: null, error: '' });
  state.filters.key = '';
  state.tests.clear();
  clearTimeout(pollTimer);
  for (const id of ['#channels-body', '#keys-body', '#stats-body', '#requests-body', '#raw-logs', '#ch-summary', '#ky-summary', '#st-tz', '#lg-count']) {
    $(id).replaceChildren();
  }
  for (const d of $$('dialog')) if (d.open) d.close();
  render(true);
  showLogin(wasIn ? messageKey : null);
}

// ---- tabs and rendering ----

function selectTab(tab) {
  if (!TABS.includes(tab)) tab = 'channels';
  state.tab = tab;
  for (const b of $$('.tab')) {
    const on = b.dataset.tab === tab;
    b.classList.toggle('active', on);
    b.setAttribute('aria-selected', on ? 'true' : 'false');
  }
  for (const v of $$('.view')) v.hidden = v.dataset.view !== tab;
  if (location.hash !== `#${tab}`) history.replaceState(null, '', `#${tab}`);
  render(true);
}

const lastSig = {};

// render draws the visible tab; a view skips the work when its data and
// layout are unchanged (sig), so polling does not disturb the reader.
function render(force) {
  if (force) for (const k of Object.keys(lastSig)) delete lastSig[k];
  renderLive();
  if (!state.signedIn) return;
  const views = { channels: renderChannels, keys: renderKeys, stats: renderStats, logs: renderLogs };
  views[state.tab](ctx, lastSig);
}

function renderLive() {
  const el = $('#live');
  el.classList.toggle('error', !!state.error);
  if (state.error) el.textContent = t('live.error', { msg: state.error });
  else if (document.visibilityState !== 'visible') el.textContent = t('live.paused');
  else el.textContent = state.updated ? t('live.updated', { time: clock(state.updated) }) : '';
}

// ---- polling: only the visible tab, only while the page is visible ----

let pollTimer = 0;
let inflight = null;

async function refresh() {
  if (!state.key) return;
  if (inflight) return inflight;
  const tab = state.tab;
  inflight = (async () => {
    try {
      const jobs = [ctx.api('GET', '/admin/config').then((v) => { state.config = v; })];
      if (tab === 'channels') jobs.push(ctx.api('GET', '/admin/schemes').then((v) => { state.schemes = v || []; }));
      // Keys: their tab, and the key filters of Statistics and Logs.
      if (tab !== 'channels') jobs.push(ctx.api('GET', '/admin/keys').then((v) => { state.keys = v || []; }));
      if (tab === 'stats') jobs.push(ctx.api('GET', '/admin/stats').then((v) => { state.stats = v; }));
      if (tab === 'logs') {
        jobs.push(ctx.api('GET', '/admin/requests').then((v) => { state.requests = v || []; }));
        jobs.push(ctx.api('GET', '/admin/logs').then((v) => { state.logs = v || []; }));
      }
      await Promise.all(jobs);
      if (!state.key) return;
      state.signedIn = true;
      state.updated = new Date();
      state.error = '';
    } catch (e) {
      if (e.status !== 401) state.error = e.network ? t('err.network') : e.message;
    } finally {
      inflight = null;
    }
    render(false);
  })();
  return inflight;
}

function schedule() {
  clearTimeout(pollTimer);
  if (!state.key || document.visibilityState !== 'visible') return;
  pollTimer = setTimeout(async () => {
    await refresh();
    schedule();
  }, POLL_MS);
}

document.addEventListener('visibilitychange', () => {
  renderLive();
  if (document.visibilityState === 'visible') {
    refresh().then(schedule);
  } else {
    clearTimeout(pollTimer);
  }
});

// ---- toasts ----

function toast(message, kind = 'ok') {
  const box = $('#toasts');
  const el = h('div', { class: ['toast', kind], role: kind === 'error' ? 'alert' : 'status' }, message);
  box.append(el);
  setTimeout(() => el.classList.add('leaving'), 3600);
  setTimeout(() => el.remove(), 4000);
}

// ---- start ----

function applyLanguage(lang, save) {
  setLanguage(lang, save);
  translateStatic(document);
  render(true);
}

function start() {
  applyLanguage(pickLanguage(), false);
  for (const b of $$('.lang-toggle')) {
    b.addEventListener('click', () => applyLanguage(language() === 'zh' ? 'en' : 'zh', true));
  }
  $('#login-form').addEventListener('submit', signIn);
  $('#logout').addEventListener('click', () => signOut(null));
  for (const b of $$('.tab')) b.addEventListener('click', () => { selectTab(b.dataset.tab); refresh(); });
  window.addEventListener('hashchange', () => {
    const tab = location.hash.slice(1);
    if (TABS.includes(tab) && tab !== state.tab) { selectTab(tab); refresh(); }
  });
  let resizeTimer = 0;
  window.addEventListener('resize', () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => render(true), 150);
  });
  initChannels(ctx);
  initKeys(ctx);
  initLogs(ctx);
  initStats(ctx);
  const tab = location.hash.slice(1);
  state.tab = TABS.includes(tab) ? tab : 'channels';
  if (state.key) {
    state.signedIn = true;
    showApp();
    refresh().then(schedule);
  } else {
    showLogin(null);
  }
}

start();
