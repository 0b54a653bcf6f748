// @ts-check
/**
 * DOM and formatting helpers of the console. Data only ever goes in as text nodes or as checked
 * attribute values: the console never parses data as HTML.
 */

/** @typedef {Node | string | null | undefined | false} Child */

/**
 * An element with attributes (`class` sets the class name; `true` sets an empty attribute; `false`
 * and `undefined` skip it) and children (strings become text nodes).
 * @param {string} tag
 * @param {Record<string, string | boolean | undefined>} [attrs]
 * @param {...Child} children
 * @returns {HTMLElement}
 */
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    if (name === 'class') node.className = String(value);
    else node.setAttribute(name, value === true ? '' : value);
  }
  for (const child of children) {
    if (child !== null && child !== undefined && child !== false) node.append(child);
  }
  return node;
}

/**
 * The element with this id (the page's skeleton always has it).
 * @param {string} id
 * @returns {HTMLElement}
 */
export function byId(id) {
  const node = document.getElementById(id);
  if (!node) throw new Error(`missing #${id}`);
  return node;
}

/**
 * `<dl>` of label → value pairs; empty values are left out.
 * @param {Array<[string, Child]>} rows
 */
export function facts(rows) {
  const list = h('dl', { class: 'facts' });
  for (const [label, value] of rows) {
    if (value === null || value === undefined || value === '' || value === false) continue;
    list.append(h('dt', {}, label), h('dd', {}, value));
  }
  return list;
}

/**
 * A value as indented JSON in a `<pre>`.
 * @param {unknown} value
 * @param {string} [label] accessible name of the block
 */
export function json(value, label) {
  const text = value === undefined ? 'undefined' : JSON.stringify(value, null, 2);
  return h('pre', { class: 'json', tabindex: '0', 'aria-label': label }, text);
}

export { asObject } from './values.js';

/**
 * A value as short display text ('' for null / undefined).
 * @param {unknown} value
 */
export function text(value) {
  if (value === null || value === undefined) return '';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/**
 * The first 8 characters of an id (enough to tell runs apart on screen).
 * @param {string | null | undefined} id
 */
export function shortId(id) {
  return id ? id.slice(0, 8) : '—';
}

/**
 * A time of day (today) or date and time, in the browser's locale.
 * @param {unknown} iso
 */
export function formatTime(iso) {
  const t = Date.parse(String(iso));
  if (Number.isNaN(t)) return '';
  const d = new Date(t);
  const today = new Date().toDateString() === d.toDateString();
  return today ? d.toLocaleTimeString() : d.toLocaleString();
}

/**
 * A duration as `1 h 02 min`, `4:05` or `0:09`.
 * @param {number} ms
 */
export function duration(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const hours = Math.floor(s / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  const seconds = s % 60;
  if (hours > 0) return `${hours} h ${String(minutes).padStart(2, '0')} min`;
  return `${minutes}:${String(seconds).padStart(2, '0')}`;
}

/**
 * The live countdown text of a deadline, and how close it is.
 * @param {string} iso
 * @param {number} now
 * @returns {{ label: string, level: 'ok' | 'soon' | 'over' }}
 */
export function countdown(iso, now) {
  const left = Date.parse(iso) - now;
  if (Number.isNaN(left)) return { label: '', level: 'ok' };
  if (left <= 0) return { label: 'expired', level: 'over' };
  return { label: `expires in ${duration(left)}`, level: left < 5 * 60_000 ? 'soon' : 'ok' };
}

/**
 * A `<span>` whose countdown the page's clock keeps current (see `tick` in console.js).
 * @param {string} iso
 */
export function countdownView(iso) {
  const span = h('span', { class: 'expires', 'data-expires': iso });
  updateCountdown(span, Date.now());
  return span;
}

/**
 * @param {HTMLElement} span a `countdownView`
 * @param {number} now
 */
export function updateCountdown(span, now) {
  const { label, level } = countdown(span.dataset.expires ?? '', now);
  if (span.textContent !== label) span.textContent = label;
  span.classList.toggle('soon', level === 'soon');
  span.classList.toggle('over', level === 'over');
}

/**
 * How long ago, short: `12 s`, `4 min`, `3 h`, `2 d`.
 * @param {unknown} iso
 * @param {number} now
 */
export function age(iso, now) {
  const t = Date.parse(String(iso));
  if (Number.isNaN(t)) return '';
  const s = Math.max(0, Math.floor((now - t) / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h`;
  return `${Math.floor(s / 86_400)} d`;
}

/**
 * An actor as people read it: `user:rita` → `rita`, `service:billing` → `billing (service)`,
 * `system:timeout` → `timeout`; the signed-in principal is `you`.
 * @param {unknown} actor
 * @param {string | null} [me] this tab's actor
 */
export function actorName(actor, me = null) {
  const a = text(actor);
  if (me && a === me) return 'you';
  const [kind, ...rest] = a.split(':');
  const name = rest.join(':');
  if (!name) return a;
  if (kind === 'user') return name;
  if (kind === 'service') return `${name} (service)`;
  if (kind === 'system') return name === 'timeout' ? 'timeout' : a;
  if (kind === 'provider') return `${name} (provider)`;
  return a;
}

/**
 * An estimated cost in USD, or `cost unknown`.
 * @param {unknown} value
 */
export function money(value) {
  if (typeof value !== 'number') return 'cost unknown';
  return value === 0 ? '$0' : `$${value < 0.01 ? value.toFixed(4) : value.toFixed(2)}`;
}

/**
 * The first line of a text, cut to `max` characters.
 * @param {unknown} value
 * @param {number} [max]
 */
export function snippet(value, max = 80) {
  const line = text(value).replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/**
 * A value as one line of JSON (strings as they are), for tables.
 * @param {unknown} value
 */
export function inline(value) {
  if (value === undefined) return '—';
  return typeof value === 'string' ? value : JSON.stringify(value);
}
