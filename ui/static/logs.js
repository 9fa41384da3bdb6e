// The Logs tab: recent requests with their attempt chains, filtered by
// scheme, channel, status and client key, and the server's raw log lines.
import { h, $, fillSelect } from './dom.js';
import { t } from './i18n.js';
import { num, ms, clock, channelLabel, shortId } from './format.js';
import { keyOptions } from './keys.js';

const MAX_ROWS = 300;
const NEUTRAL = /^(client_error_|context_length|canceled|request_timeout|pending|prefill_refused)/;
const OK = new Set(['ok', 'continued']);
// The request filters: state.filters field → select. The key filter is
// shared with the Statistics tab.
const FILTERS = [['scheme', '#f-scheme'], ['channel', '#f-channel'], ['status', '#f-status'], ['key', '#f-key']];

let ctx;

function outcomeClass(outcome) {
  if (OK.has(outcome)) return 'ok';
  if (NEUTRAL.test(outcome || '')) return 'warn';
  return 'fail';
}

function statusClass(status) {
  if (status >= 200 && status < 300) return 'ok';
  if (status >= 400 && status < 500 && status !== 429) return 'warn';
  return 'fail';
}

// route says how an attempt spoke to its channel: the client's dialect,
// then the channel's when the attempt was translated ("messages → chat").
export function route(clientDialect, a) {
  if (!a.upstream) return '';
  return clientDialect && a.upstream !== clientDialect ? `${clientDialect} → ${a.upstream}` : a.upstream;
}

function attemptTitle(r, a) {
  const lines = [a.channel_id];
  if (a.type) lines.push(t('lg.typeTitle', { type: t(`type.${a.type === 'anthropic' ? 'anthropic' : 'openai'}`) }));
  if (a.upstream) {
    lines.push(r.dialect && a.upstream !== r.dialect
      ? t('lg.translatedTitle', { from: r.dialect, to: a.upstream })
      : t('lg.passthroughTitle', { dialect: a.upstream }));
  }
  if (a.continuation) lines.push(t('lg.contTitle'));
  if (a.status) lines.push(`HTTP ${a.status}`);
  return lines.join('\n');
}

function attemptChip(r, a, byId) {
  const ch = byId.get(a.channel_id);
  const name = ch ? channelLabel(ch) : `${shortId(a.channel_id)} (${t('lg.deleted')})`;
  const way = route(r.dialect, a);
  const translated = !!(a.upstream && r.dialect && a.upstream !== r.dialect);
  return h('span', {
    class: ['chip', outcomeClass(a.outcome), a.continuation && 'is-cont'], title: attemptTitle(r, a),
    dataset: a.continuation ? { channel: a.channel_id, continuation: 'true' } : { channel: a.channel_id },
  },
  a.continuation ? h('span', { class: 'chip-cont' }, `↻ ${t('lg.continuation')}`) : null,
  h('span', { class: 'chip-name' }, name),
  a.type || way ? h('span', { class: ['chip-route', translated && 'translated'] },
    a.type ? h('span', { class: 'chip-type' }, a.type) : null,
    way ? h('span', { class: 'chip-way' }, way) : null) : null,
  h('span', { class: 'chip-outcome' }, a.outcome),
  h('span', { class: 'chip-ms' }, ms(a.latency_ms)));
}

function chain(r, byId) {
  const list = r.attempts || [];
  if (!list.length) return h('span', { class: 'muted' }, t('lg.noAttempt'));
  const out = [];
  list.forEach((a, i) => {
    if (i) out.push(h('span', { class: 'arrow', 'aria-hidden': 'true' }, '→'));
    out.push(attemptChip(r, a, byId));
  });
  return h('div', { class: 'chain' }, out);
}

function requestRow(r, byId) {
  const tokens = r.tokens && r.tokens.total ? num(r.tokens.total) : '–';
  return h('tr', { class: 'req-row', dataset: { id: r.id, attempts: (r.attempts || []).length } },
    h('td', { class: 'c-time mono', 'data-label': t('lg.col.time'), title: r.time }, clock(r.time)),
    h('td', { class: 'c-req', 'data-label': t('lg.col.request') },
      h('div', null, h('strong', null, r.scheme || '–'),
        r.model && r.model !== r.scheme ? h('span', { class: 'muted' }, ` · ${r.model}`) : null),
      h('div', { class: 'mono muted small-text' }, r.path,
        r.dialect ? h('span', { class: 'tag dialect-tag', title: t('lg.dialectTitle') }, r.dialect) : null,
        r.stream ? h('span', { class: 'tag' }, t('lg.stream')) : null),
      r.key ? h('div', { class: 'small-text req-key', title: t('lg.keyTitle') }, h('span', { class: 'meta-k' }, t('lg.key')), ' ', r.key) : null),
    h('td', { class: 'c-status', 'data-label': t('lg.col.status') },
      h('div', { class: 'status-cell' },
        h('span', { class: ['badge', statusClass(r.status)], title: r.outcome }, String(r.status || '–')),
        h('span', { class: 'muted small-text outcome' }, r.outcome))),
    h('td', { class: 'c-dur num', 'data-label': t('lg.col.duration') }, ms(r.duration_ms)),
    h('td', { class: 'c-chain', 'data-label': t('lg.col.attempts') }, chain(r, byId)),
    h('td', { class: 'c-tok num', 'data-label': t('lg.col.tokens') }, tokens));
}

function matches(r, f) {
  if (f.scheme && r.scheme !== f.scheme) return false;
  if (f.channel && !(r.attempts || []).some((a) => a.channel_id === f.channel)) return false;
  if (f.status === 'ok' && !(r.status >= 200 && r.status < 300)) return false;
  if (f.status === 'fail' && r.status >= 200 && r.status < 300) return false;
  if (/^\d+$/.test(f.status) && String(r.status) !== f.status) return false;
  if (f.key && r.key !== f.key) return false;
  return true;
}

function renderFilters(requests) {
  const f = ctx.state.filters;
  const schemes = new Set([...Object.keys(ctx.state.config || {}), ...requests.map((r) => r.scheme).filter(Boolean)]);
  fillSelect($('#f-scheme'), [['', t('lg.allSchemes')], ...[...schemes].sort().map((s) => [s, s])], f.scheme);
  const chans = ctx.channels().map((ch) => [ch.id, `${channelLabel(ch)} · ${ch.scheme_name}`]);
  const seen = new Set(chans.map(([id]) => id));
  for (const r of requests) {
    for (const a of r.attempts || []) {
      if (!seen.has(a.channel_id)) { seen.add(a.channel_id); chans.push([a.channel_id, `${shortId(a.channel_id)} (${t('lg.deleted')})`]); }
    }
  }
  fillSelect($('#f-channel'), [['', t('lg.allChannels')], ...chans], f.channel);
  const codes = [...new Set(requests.map((r) => r.status).filter(Boolean))].sort((a, b) => a - b);
  fillSelect($('#f-status'), [['', t('lg.allStatus')], ['ok', t('lg.okStatus')], ['fail', t('lg.failStatus')],
    ...codes.map((c) => [String(c), String(c)])], f.status);
  fillSelect($('#f-key'), keyOptions(ctx, [...requests.map((r) => r.key), f.key]), f.key);
  for (const [k, id] of FILTERS) f[k] = $(id).value;
}

function renderRequests(lastSig) {
  const { state } = ctx;
  const requests = state.requests || [];
  const byId = ctx.channelById();
  const sig = JSON.stringify([requests.length ? [requests.length, requests[requests.length - 1].id] : 0, state.filters,
    ctx.channels().map((c) => [c.id, c.name, c.url, c.scheme_name]), (state.keys || []).map((k) => k.name),
    document.documentElement.lang]);
  if (lastSig.requests === sig) return;
  lastSig.requests = sig;
  renderFilters(requests);
  const shown = requests.filter((r) => matches(r, state.filters)).reverse();
  $('#lg-count').textContent = requests.length ? t('lg.showing', { n: num(shown.length), total: num(requests.length) }) : '';
  const body = $('#requests-body');
  if (!shown.length) {
    body.replaceChildren(h('p', { class: 'muted empty-row' }, requests.length ? t('lg.noMatch') : t('lg.empty')));
    return;
  }
  const cols = ['time', 'request', 'status', 'duration', 'attempts', 'tokens'];
  body.replaceChildren(h('div', { class: 'table-wrap' }, h('table', { class: 'table requests' },
    h('thead', null, h('tr', null, cols.map((c) => h('th', { class: `c-${c}` }, t(`lg.col.${c}`))))),
    h('tbody', null, shown.slice(0, MAX_ROWS).map((r) => requestRow(r, byId))))));
}

function renderRaw(lastSig) {
  const lines = ctx.state.logs || [];
  const sig = JSON.stringify([lines.length, lines[lines.length - 1] || '', document.documentElement.lang]);
  if (lastSig.raw === sig) return;
  lastSig.raw = sig;
  const box = $('#raw-logs');
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 24;
  if (!lines.length) {
    box.replaceChildren(h('div', { class: 'muted' }, t('lg.noLines')));
    return;
  }
  box.replaceChildren(...lines.map((l) => h('div', {
    class: ['line', / level=(WARN|ERROR)|"level":"(WARN|ERROR)"/.test(l) ? 'warn' : null],
  }, l)));
  if ($('#log-follow').checked || atBottom) box.scrollTop = box.scrollHeight;
}

export function renderLogs(c, lastSig) {
  ctx = c;
  if (!ctx.state.config) return;
  if (ctx.state.requests) renderRequests(lastSig);
  if (ctx.state.logs) renderRaw(lastSig);
}

export function initLogs(c) {
  ctx = c;
  for (const [k, id] of FILTERS) {
    $(id).addEventListener('change', (e) => {
      ctx.state.filters[k] = e.target.value;
      ctx.render(false);
    });
  }
}
