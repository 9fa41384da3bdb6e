// Node builders. Data only ever becomes text nodes or attribute values,
// never markup: nothing here parses HTML.

const SVG_NS = 'http://www.w3.org/2000/svg';
const PROPS = new Set(['checked', 'value', 'disabled', 'hidden', 'selected', 'open', 'type']);

function setProps(el, props, svg) {
  if (!props) return;
  for (const [k, v] of Object.entries(props)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') {
      const cls = Array.isArray(v) ? v.filter(Boolean).join(' ') : v;
      if (cls) el.setAttribute('class', cls);
    } else if (k === 'on') {
      for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
    } else if (k === 'text') {
      el.textContent = String(v);
    } else if (k === 'dataset') {
      for (const [dk, dv] of Object.entries(v)) el.dataset[dk] = String(dv);
    } else if (!svg && PROPS.has(k)) {
      el[k] = v;
    } else {
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
}

function addChildren(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// h builds an HTML element: h('td', {class: 'num'}, 'text', child).
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  setProps(el, props, false);
  addChildren(el, children);
  return el;
}

// svg builds an SVG element the same way; attributes are set as given.
export function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  setProps(el, attrs, true);
  addChildren(el, children);
  return el;
}

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

// fillSelect replaces a select's options ([value, label] pairs) when they
// changed, keeping the chosen value if it is still offered.
export function fillSelect(sel, options, value) {
  const sig = JSON.stringify(options);
  if (sel.dataset.sig !== sig) {
    sel.replaceChildren(...options.map(([v, label]) => h('option', { value: v }, label)));
    sel.dataset.sig = sig;
  }
  sel.value = options.some(([v]) => v === value) ? value : '';
}
