// The Statistics tab: summary cards, hourly charts, each channel's share,
// and per-scheme and per-channel tables; or, with a client key chosen,
// that key's requests, tokens and hourly charts.
import { h, $, fillSelect } from './dom.js';
import { t } from './i18n.js';
import { num, compact, pct, ms, hourLabel, dayLabel, dateHour, channelLabel } from './format.js';
import { stackedBars, donut } from './charts.js';
import { breakerOf, breakerBadge } from './channels.js';
import { keyOptions } from './keys.js';

const PALETTE = 8;

function card(title, big, rows, cls) {
  return h('div', { class: ['card', cls] },
    h('div', { class: 'card-title' }, title),
    h('div', { class: 'card-big' }, big),
    h('div', { class: 'card-rows' }, rows));
}

function countsRows(c) {
  return [
    h('span', { class: 'kv ok' }, h('span', { class: 'dot' }), h('b', { class: 'v-success' }, num(c.success)), ` ${t('st.success')}`),
    h('span', { class: 'kv fail' }, h('span', { class: 'dot' }), h('b', { class: 'v-fail' }, num(c.fail)), ` ${t('st.fail')}`),
    h('span', { class: 'kv' }, h('b', { class: 'v-rate' }, pct(c.success, c.fail)), ` ${t('st.rate')}`),
  ];
}

function panel(title, extra, ...content) {
  return h('section', { class: 'panel' }, h('div', { class: 'panel-head' }, h('h3', null, title), extra), content);
}

function legend() {
  return h('div', { class: 'legend' },
    h('span', { class: 'legend-item' }, h('span', { class: 'sw sw-ok' }), t('st.legendOk')),
    h('span', { class: 'legend-item' }, h('span', { class: 'sw sw-fail' }), t('st.legendFail')));
}

function points(hours) {
  return hours.map((x) => ({ date: new Date(x.hour), ok: x.success || 0, fail: x.fail || 0 }));
}

function drawHourly(box, pts, days) {
  const width = box.clientWidth || 600;
  let xLabel;
  if (days) {
    const slotW = (width - 46) / pts.length;
    const every = slotW * 24 >= 56 ? 1 : 2;
    let n = 0;
    xLabel = (p) => (p.date.getHours() === 0 && n++ % every === 0 ? dayLabel(p.date) : null);
  } else {
    const step = width < 520 ? 6 : 3;
    xLabel = (p) => (p.date.getHours() % step === 0 ? hourLabel(p.date) : null);
  }
  const title = (p) => t('st.barTitle', { time: days ? dateHour(p.date) : hourLabel(p.date), ok: num(p.ok), fail: num(p.fail) });
  box.replaceChildren(stackedBars(pts, {
    width, height: days ? 190 : 210, xLabel, title, empty: t('st.noData'), compact,
    ariaLabel: days ? t('st.hourly7d') : t('st.hourly24'),
  }));
}

function shareSection(stats, channels) {
  const rows = channels.map((ch) => ({ ch, v: (stats.by_config_id[ch.id] || {}).success || 0 }))
    .filter((r) => r.v > 0).sort((a, b) => b.v - a.v);
  const total = rows.reduce((a, r) => a + r.v, 0);
  let slices = rows.map((r, i) => ({ label: channelLabel(r.ch), value: r.v, cls: `pal-${i % PALETTE}` }));
  if (slices.length > PALETTE) {
    const rest = slices.slice(PALETTE - 1).reduce((a, s) => a + s.value, 0);
    slices = [...slices.slice(0, PALETTE - 1), { label: t('st.others'), value: rest, cls: `pal-${PALETTE - 1}` }];
  }
  for (const s of slices) s.title = `${s.label}: ${num(s.value)} (${pct(s.value, total - s.value)})`;
  const chart = donut(slices, { centre: compact(total), sub: t('st.success'), empty: t('st.noData') });
  const items = slices.map((s) => h('li', { class: 'share-item' },
    h('span', { class: ['sw', s.cls] }),
    h('span', { class: 'share-name' }, s.label),
    h('span', { class: 'share-val' }, num(s.value)),
    h('span', { class: 'share-pct muted' }, pct(s.value, total - s.value))));
  return h('div', { class: 'share' }, chart, items.length ? h('ul', { class: 'share-list' }, items) : null);
}

function table(cols, rows, empty) {
  if (!rows.length) return h('p', { class: 'muted empty-row' }, empty);
  return h('div', { class: 'table-wrap' }, h('table', { class: 'table data' },
    h('thead', null, h('tr', null, cols.map((c) => h('th', { class: c.num ? 'num' : null }, c.label)))),
    h('tbody', null, rows.map((r) => h('tr', { dataset: r.id ? { id: r.id } : {} },
      cols.map((c, i) => h('td', { class: c.num ? 'num' : null }, r.cells[i])))))));
}

function channelTables(stats, channels) {
  const L = (k) => t(`st.col.${k}`);
  const nameCell = (ch) => h('span', { class: 'ch-title' }, channelLabel(ch));
  const all = channels.map((ch) => {
    const s = stats.by_config_id[ch.id] || {};
    const tk = s.tokens || {};
    const tt = s.ttfb || {};
    return {
      id: ch.id,
      cells: [nameCell(ch), ch.scheme_name, breakerBadge(ch),
        num((s.success || 0) + (s.fail || 0)), num(s.success || 0), num(s.fail || 0), pct(s.success, s.fail),
        num(breakerOf(ch).fails), tt.count ? ms(tt.p50_ms) : '–', tt.count ? ms(tt.p95_ms) : '–',
        h('span', { title: `${num(tk.prompt || 0)} + ${num(tk.completion || 0)}` }, compact(tk.total || 0))],
    };
  });
  const allCols = [{ label: L('channel') }, { label: L('scheme') }, { label: L('state') },
    { label: L('attempts'), num: true }, { label: L('success'), num: true }, { label: L('fail'), num: true },
    { label: L('rate'), num: true }, { label: L('consec'), num: true }, { label: L('p50'), num: true },
    { label: L('p95'), num: true }, { label: L('tokens'), num: true }];
  const today = channels.map((ch) => {
    const s = stats.today.by_config_id[ch.id] || {};
    return {
      id: ch.id,
      cells: [nameCell(ch), ch.scheme_name, num((s.success || 0) + (s.fail || 0)), num(s.success || 0), num(s.fail || 0), pct(s.success, s.fail)],
    };
  });
  const todayCols = [{ label: L('channel') }, { label: L('scheme') }, { label: L('attempts'), num: true },
    { label: L('success'), num: true }, { label: L('fail'), num: true }, { label: L('rate'), num: true }];
  return [
    h('section', { class: 'panel', id: 'ch-all' }, h('div', { class: 'panel-head' }, h('h3', null, t('st.chAll'))), table(allCols, all, t('st.none'))),
    h('section', { class: 'panel', id: 'ch-today' }, h('div', { class: 'panel-head' }, h('h3', null, t('st.chToday'))), table(todayCols, today, t('st.none'))),
  ];
}

function schemeTable(stats) {
  const L = (k) => t(`st.col.${k}`);
  const rows = Object.keys(stats.schemes || {}).sort().map((name) => {
    const s = stats.schemes[name];
    return {
      cells: [name, num(s.success + s.fail), pct(s.success, s.fail), compact((s.tokens || {}).total || 0),
        s.duration && s.duration.count ? ms(s.duration.p50_ms) : '–', s.duration && s.duration.count ? ms(s.duration.p95_ms) : '–'],
    };
  });
  return table([{ label: L('scheme') }, { label: L('requests'), num: true }, { label: L('rate'), num: true },
    { label: L('tokens'), num: true }, { label: L('dur50'), num: true }, { label: L('dur95'), num: true }], rows, t('st.noData'));
}

// keyHours spreads a key's sparse hourly counts over the hours of the
// whole chart (stats.hourly), so the bars line up with the unfiltered ones.
function keyHours(stats, k) {
  const byHour = new Map((k.hourly || []).map((x) => [new Date(x.hour).getTime(), x]));
  return (stats.hourly || []).map((x) => {
    const v = byHour.get(new Date(x.hour).getTime()) || {};
    return { hour: x.hour, success: v.success || 0, fail: v.fail || 0 };
  });
}

// renderKeyStats draws one client key's figures: what /admin/stats
// counts by key (requests, tokens, hours), not per channel or scheme.
function renderKeyStats(body, stats, name) {
  const k = (stats.by_key || {})[name] || { success: 0, fail: 0, tokens: {}, hourly: [] };
  const tok = k.tokens || {};
  const label = name === 'admin' ? t('ky.adminName') : name;
  const cards = h('div', { class: 'cards cards-key' },
    card(t('st.keyRequests', { name: label }), num(k.success + k.fail), countsRows(k), 'card-total'),
    card(t('st.tokens'), compact(tok.total || 0), [
      h('span', { class: 'kv' }, t('st.tokSummary', { prompt: compact(tok.prompt || 0), completion: compact(tok.completion || 0) })),
    ], 'card-tokens'));
  const box24 = h('div', { class: 'chart-box', id: 'chart-24h' });
  const box7d = h('div', { class: 'chart-box', id: 'chart-7d' });
  body.replaceChildren(
    cards,
    panel(t('st.hourly24'), legend(), box24),
    panel(t('st.hourly7d'), legend(), box7d),
    h('p', { class: 'muted key-note' }, t('st.keyNote')));
  const hours = points(keyHours(stats, k));
  drawHourly(box24, hours.slice(-24), false);
  drawHourly(box7d, hours, true);
}

export function initStats(ctx) {
  $('#st-key').addEventListener('change', (e) => {
    ctx.state.filters.key = e.target.value;
    ctx.render(false);
  });
}

export function renderStats(ctx, lastSig) {
  const { state } = ctx;
  const body = $('#stats-body');
  const stats = state.stats;
  if (!stats || !state.config) return;
  const channels = ctx.channels();
  const statesNow = channels.map((ch) => breakerOf(ch).state);
  const { generated_at: _g, ...rest } = stats; // the timestamp alone changes nothing shown
  const keyNames = (state.keys || []).map((k) => k.name);
  const sig = JSON.stringify([rest, state.config, statesNow, body.clientWidth, document.documentElement.lang, state.filters.key, keyNames]);
  if (lastSig.stats === sig) return;
  lastSig.stats = sig;
  $('#st-tz').textContent = t('st.tz', { tz: !stats.time_zone || stats.time_zone === 'Local' ? t('st.tzLocal') : stats.time_zone });
  fillSelect($('#st-key'), keyOptions(ctx, [...Object.keys(stats.by_key || {}), state.filters.key]), state.filters.key);
  state.filters.key = $('#st-key').value;
  if (state.filters.key) {
    renderKeyStats(body, stats, state.filters.key);
    return;
  }

  const brCount = { closed: 0, open: 0, half_open: 0 };
  for (const s of statesNow) brCount[s] = (brCount[s] || 0) + 1;
  const tok = { prompt: 0, completion: 0, total: 0 };
  for (const s of Object.values(stats.by_config_id)) {
    for (const k of Object.keys(tok)) tok[k] += (s.tokens || {})[k] || 0;
  }
  const cards = h('div', { class: 'cards' },
    card(t('st.total'), num(stats.total.success + stats.total.fail), countsRows(stats.total), 'card-total'),
    card(t('st.today', { date: stats.today.date }), num(stats.today.success + stats.today.fail), countsRows(stats.today), 'card-today'),
    card(t('st.channels'), num(channels.length), [
      h('span', { class: 'kv ok' }, h('span', { class: 'dot' }), h('b', null, num(brCount.closed)), ` ${t('st.closed')}`),
      h('span', { class: 'kv fail' }, h('span', { class: 'dot' }), h('b', null, num(brCount.open)), ` ${t('st.open')}`),
      h('span', { class: 'kv warn' }, h('span', { class: 'dot' }), h('b', null, num(brCount.half_open)), ` ${t('st.half')}`),
    ], 'card-breakers'),
    card(t('st.tokens'), compact(tok.total), [
      h('span', { class: 'kv' }, t('st.tokSummary', { prompt: compact(tok.prompt), completion: compact(tok.completion) })),
      stats.canceled ? h('span', { class: 'kv muted' }, t('st.canceled', { n: num(stats.canceled) })) : null,
    ], 'card-tokens'));

  const box24 = h('div', { class: 'chart-box', id: 'chart-24h' });
  const box7d = h('div', { class: 'chart-box', id: 'chart-7d' });
  body.replaceChildren(
    cards,
    panel(t('st.hourly24'), legend(), box24),
    panel(t('st.hourly7d'), legend(), box7d),
    h('div', { class: 'two-col' },
      h('section', { class: 'panel', id: 'share' }, h('div', { class: 'panel-head' }, h('h3', null, t('st.share'))), shareSection(stats, channels)),
      h('section', { class: 'panel', id: 'schemes' }, h('div', { class: 'panel-head' }, h('h3', null, t('st.schemes'))), schemeTable(stats))),
    ...channelTables(stats, channels));
  const hours = points(stats.hourly || []);
  drawHourly(box24, hours.slice(-24), false);
  drawHourly(box7d, hours, true);
}
