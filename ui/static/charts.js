// Charts as inline SVG built node by node: stacked hourly bars and a donut.
// Colours come from classes in style.css, so no style attribute is needed.
import { svg } from './dom.js';

// niceScale returns a round top value and step for a y axis up to max.
export function niceScale(max, ticks = 4) {
  if (!(max > 0)) return { top: ticks, step: 1 };
  const raw = max / ticks;
  const mag = 10 ** Math.floor(Math.log10(raw));
  let step = mag;
  for (const m of [1, 2, 5, 10]) {
    if (m * mag >= raw) { step = m * mag; break; }
  }
  step = Math.max(1, step);
  return { top: step * Math.ceil(max / step), step };
}

// stackedBars draws one bar per point, success below and failures on top.
// points: [{date, ok, fail}]; xLabel(point, i) returns a label or null;
// title(point) is the hover text.
export function stackedBars(points, { width, height = 200, xLabel, title, empty, ariaLabel, compact }) {
  const m = { l: 44, r: 16, t: 10, b: 24 };
  const w = Math.max(240, Math.floor(width));
  const pw = w - m.l - m.r;
  const ph = height - m.t - m.b;
  const max = points.reduce((a, p) => Math.max(a, p.ok + p.fail), 0);
  const { top, step } = niceScale(max);
  const y = (v) => m.t + ph - (v / top) * ph;
  const root = svg('svg', {
    class: 'chart', width: w, height, viewBox: `0 0 ${w} ${height}`, role: 'img', 'aria-label': ariaLabel || '',
  });
  const grid = svg('g', { class: 'grid' });
  for (let v = 0; v <= top + 1e-9; v += step) {
    const yy = Math.round(y(v)) + 0.5;
    grid.append(
      svg('line', { x1: m.l, x2: w - m.r, y1: yy, y2: yy, class: v === 0 ? 'axis' : 'gridline' }),
      svg('text', { x: m.l - 6, y: yy + 4, class: 'tick', 'text-anchor': 'end' }, compact(v)),
    );
  }
  root.append(grid);
  const slot = pw / points.length;
  const gap = slot >= 8 ? Math.min(6, slot * 0.22) : slot >= 3 ? 1 : 0;
  const bw = Math.max(1, slot - gap);
  const bars = svg('g', { class: 'bars' });
  const labels = svg('g', { class: 'xlabels' });
  points.forEach((p, i) => {
    const x = m.l + i * slot + gap / 2;
    const g = svg('g', { class: 'bar' });
    g.append(svg('title', null, title(p)));
    g.append(svg('rect', { class: 'hit', x: m.l + i * slot, y: m.t, width: slot, height: ph }));
    const okH = (p.ok / top) * ph;
    const failH = (p.fail / top) * ph;
    if (p.ok > 0) g.append(svg('rect', { class: 'seg-ok', x, y: m.t + ph - okH, width: bw, height: okH }));
    if (p.fail > 0) g.append(svg('rect', { class: 'seg-fail', x, y: m.t + ph - okH - failH, width: bw, height: failH }));
    bars.append(g);
    const label = xLabel(p, i);
    if (label) {
      const lx = m.l + i * slot + slot / 2;
      labels.append(
        svg('line', { x1: lx, x2: lx, y1: m.t + ph, y2: m.t + ph + 4, class: 'axis' }),
        svg('text', { x: lx, y: height - 6, class: 'tick', 'text-anchor': 'middle' }, label),
      );
    }
  });
  root.append(bars, labels);
  if (max === 0 && empty) {
    root.append(svg('text', { x: m.l + pw / 2, y: m.t + ph / 2, class: 'empty-note', 'text-anchor': 'middle' }, empty));
  }
  return root;
}

// donut draws slices [{label, value, cls, title}] around a centre text.
export function donut(slices, { size = 168, centre, sub, empty }) {
  const r = size / 2 - 14;
  const c = 2 * Math.PI * r;
  const total = slices.reduce((a, s) => a + s.value, 0);
  const root = svg('svg', { class: 'donut', width: size, height: size, viewBox: `0 0 ${size} ${size}`, role: 'img' });
  root.append(svg('circle', { class: 'track', cx: size / 2, cy: size / 2, r }));
  let offset = 0;
  if (total > 0) {
    for (const s of slices) {
      if (s.value <= 0) continue;
      const len = (s.value / total) * c;
      const arc = svg('circle', {
        class: ['slice', s.cls], cx: size / 2, cy: size / 2, r,
        'stroke-dasharray': `${len} ${c - len}`, 'stroke-dashoffset': -offset,
        transform: `rotate(-90 ${size / 2} ${size / 2})`,
      });
      arc.append(svg('title', null, s.title || s.label));
      root.append(arc);
      offset += len;
    }
  }
  root.append(
    svg('text', { x: size / 2, y: size / 2 + (sub ? 2 : 6), class: 'donut-big', 'text-anchor': 'middle' }, total > 0 ? centre : '0'),
    svg('text', { x: size / 2, y: size / 2 + 20, class: 'donut-sub', 'text-anchor': 'middle' }, total > 0 ? sub || '' : empty || ''),
  );
  return root;
}
