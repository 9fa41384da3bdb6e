// Number, time and label formatting, following the chosen language.
import { locale, t } from './i18n.js';

export function num(n) {
  return new Intl.NumberFormat(locale()).format(Number(n) || 0);
}

export function compact(n) {
  n = Number(n) || 0;
  if (Math.abs(n) < 10000) return num(n);
  return new Intl.NumberFormat(locale(), { notation: 'compact', maximumFractionDigits: 1 }).format(n);
}

export function pct(ok, fail) {
  const total = (ok || 0) + (fail || 0);
  if (!total) return '–';
  const p = (100 * (ok || 0)) / total;
  return `${p >= 99.95 || p === 0 ? p.toFixed(0) : p.toFixed(1)}%`;
}

export function ms(v) {
  if (v === null || v === undefined || Number.isNaN(Number(v))) return '–';
  v = Number(v);
  if (v === 0) return '<1 ms';
  if (v >= 10000) return `${(v / 1000).toFixed(1)} s`;
  if (v >= 100) return `${Math.round(v)} ms`;
  return `${v.toFixed(v >= 10 ? 0 : 1)} ms`;
}

function sameDay(a, b) {
  return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
}

// clock shows a time of day, with the date when it is not today.
export function clock(iso) {
  const d = iso instanceof Date ? iso : new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const opts = { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' };
  if (!sameDay(d, new Date())) Object.assign(opts, { month: 'short', day: 'numeric' });
  return new Intl.DateTimeFormat(locale(), opts).format(d);
}

export function hourLabel(d) {
  return new Intl.DateTimeFormat(locale(), { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(d);
}

export function dayLabel(d) {
  return new Intl.DateTimeFormat(locale(), { weekday: 'short', month: 'numeric', day: 'numeric' }).format(d);
}

export function dateHour(d) {
  return new Intl.DateTimeFormat(locale(), { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(d);
}

export function host(url) {
  try { return new URL(url).host; } catch { return String(url || ''); }
}

// channelLabel is what people call a channel: its name, else its host.
export function channelLabel(ch) {
  if (!ch) return '';
  return ch.name || host(ch.url) || t('ch.unnamed');
}

export function shortId(id) {
  return String(id || '').slice(0, 8);
}

// dateTime shows a date and time of day, to the minute.
export function dateTime(iso) {
  const d = iso instanceof Date ? iso : new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return new Intl.DateTimeFormat(locale(), { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(d);
}
