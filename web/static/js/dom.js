// Small DOM helpers. Elements are built from properties and text nodes
// only: customer data is never parsed as HTML.

let strings = {};
let lang = 'en';

// setStrings installs the agent's translations from the boot block.
export function setStrings(s, l) {
  strings = s || {};
  lang = l || 'en';
}

export function currentLang() {
  return lang;
}

// t translates key, filling {name} placeholders from vars.
export function t(key, vars) {
  let s = Object.prototype.hasOwnProperty.call(strings, key) ? strings[key] : key;
  if (vars) {
    s = s.replace(/\{(\w+)\}/g, (m, k) => (vars[k] === undefined ? m : String(vars[k])));
  }
  return s;
}

// h creates an element. props: class, dataset, on<event> listeners,
// boolean attributes (true/false), and other attributes as strings.
// Children are nodes or strings (added as text), nested arrays allowed.
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  setProps(el, props);
  append(el, children);
  return el;
}

function setProps(el, props) {
  if (!props) return;
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'value') el.value = v;
    else if (k === 'checked' || k === 'selected' || k === 'disabled' || k === 'hidden') el[k] = Boolean(v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'style') throw new Error('inline styles are refused by the CSP');
    else el.setAttribute(k, v === true ? '' : String(v));
  }
}

export function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
  return el;
}

// replace swaps el's children for the given ones.
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

export function $(sel, root = document) {
  return root.querySelector(sel);
}

export function $$(sel, root = document) {
  return Array.from(root.querySelectorAll(sel));
}

// Icons are drawn here rather than loaded: an inline SVG built with
// createElementNS needs no request and no inline style.
const ICONS = {
  chat: ['M4 5h16v10H8l-4 4z'],
  email: ['M3 6h18v12H3z', 'M3 7l9 6 9-6'],
  sms: ['M7 3h10v18H7z', 'M10 18h4'],
  phone: ['M7 3h10v18H7z', 'M10 18h4'],
  external: ['M12 12a4 4 0 1 0 0-8 4 4 0 0 0 0 8z', 'M4 21c1-4 4-6 8-6s7 2 8 6'],
  check: ['M5 12l5 5 9-10'],
  note: ['M5 4h14v11l-5 5H5z', 'M14 20v-5h5'],
  lock: ['M6 11h12v9H6z', 'M8 11V8a4 4 0 0 1 8 0v3'],
  warn: ['M12 3l10 18H2z', 'M12 10v5', 'M12 18v.5'],
};

export function icon(name, extra) {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  svg.setAttribute('class', 'icon icon-' + name + (extra ? ' ' + extra : ''));
  for (const d of ICONS[name] || ICONS.chat) {
    const p = document.createElementNS(ns, 'path');
    p.setAttribute('d', d);
    svg.appendChild(p);
  }
  return svg;
}

// srOnly is text for screen readers only.
export function srOnly(text) {
  return h('span', { class: 'sr-only' }, text);
}

// announce speaks a short status through the page's polite live region.
export function announce(text) {
  const region = document.getElementById('announce');
  if (!region) return;
  region.textContent = '';
  // A fresh text node after a tick makes screen readers repeat a message.
  setTimeout(() => { region.textContent = text; }, 30);
}

// parseTime returns a Date, or null for Go's zero time and empty values.
export function parseTime(s) {
  if (!s) return null;
  const d = new Date(s);
  if (isNaN(d.getTime()) || d.getUTCFullYear() < 1971) return null;
  return d;
}

function locale() {
  return lang === 'sv' ? 'sv-SE' : 'en-GB';
}

export function formatTime(d) {
  if (!d) return '';
  return new Intl.DateTimeFormat(locale(), { dateStyle: 'medium', timeStyle: 'short' }).format(d);
}

export function formatDate(d) {
  if (!d) return '';
  return new Intl.DateTimeFormat(locale(), { dateStyle: 'medium' }).format(d);
}

// age is a short relative time such as "5 min" or "3 d".
export function age(d, now = Date.now()) {
  if (!d) return '';
  const s = Math.max(0, Math.round((now - d.getTime()) / 1000));
  if (s < 60) return t('age_now');
  const m = Math.floor(s / 60);
  if (m < 60) return t('age_min', { n: m });
  const hrs = Math.floor(m / 60);
  if (hrs < 24) return t('age_hour', { n: hrs });
  const days = Math.floor(hrs / 24);
  if (days < 60) return t('age_day', { n: days });
  return formatDate(d);
}

// channelName is the translated name of a channel.
export function channelName(ch) {
  return t('channel_' + (ch || 'unknown'));
}

// debounce calls fn once, ms after the last call.
export function debounce(fn, ms) {
  let timer = 0;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

// uid returns a random id for idempotent requests.
export function uid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}
