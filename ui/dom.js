// dom.js - building the page from data as text only: every value goes in
// through createTextNode or textContent, never as HTML.  Times relative and
// absolute; status badges with an icon and a word, not colour alone.

// h(tag, props, ...children): props: class, text, attributes (id, href,
// type, for, title, scope, aria-*, data-*, hidden...), and on* handlers
// (functions, set as properties, never as attributes).
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = String(v);
    else if (k.startsWith('on') && typeof v === 'function') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

// Replaces the children of el.
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// Replaces el's content only when key (the data it shows, as JSON) changed
// since the last time: an unchanged table keeps its focus and scroll.
export function fillIfChanged(el, data, build) {
  const key = JSON.stringify(data);
  if (el.dataset.shown === key) return false;
  el.dataset.shown = key;
  fill(el, build());
  return true;
}

const ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone || 'local time';
export const viewerZone = ZONE;

function pad(n) { return String(n).padStart(2, '0'); }

// "2026-12-06 19:30:30" in the viewer's zone.
export function absLocal(iso) {
  const d = new Date(iso);
  if (isNaN(d)) return String(iso);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

// The wall time written in an API time ("2026-12-06T19:30:30+01:00" ->
// "2026-12-06 19:30:30 +01:00"): the API writes a job's times in its zone.
export function absAsGiven(iso) {
  const m = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(?:\.\d+)?(Z|[+-]\d\d:\d\d)?$/
    .exec(String(iso));
  return m ? `${m[1]} ${m[2]} ${m[3] === 'Z' ? '+00:00' : (m[3] || '')}`.trim()
    : String(iso);
}

// "3 min ago", "in 12 s".
export function relative(iso, now = Date.now()) {
  const t = new Date(iso).getTime();
  if (isNaN(t)) return '';
  const s = Math.round((t - now) / 1000), a = Math.abs(s);
  let txt;
  if (a < 2) return 'now';
  if (a < 60) txt = `${a} s`;
  else if (a < 3600) txt = `${Math.round(a / 60)} min`;
  else if (a < 86400 * 2) txt = `${Math.round(a / 3600)} h`;
  else txt = `${Math.round(a / 86400)} d`;
  return s < 0 ? `${txt} ago` : `in ${txt}`;
}

// A time as "3 min ago" with the absolute time (viewer's zone) below it.
export function when(iso) {
  if (!iso) return h('span', { class: 'muted', text: '\u2014' });
  return h('span', {},
    h('time', { class: 'rel', datetime: iso, title: `${absLocal(iso)} (${ZONE})` },
      relative(iso)),
    h('span', { class: 'sub', text: `${absLocal(iso)} ${ZONE}` }));
}

// Milliseconds between two API times, or null.
export function span(from, to) {
  if (!from || !to) return null;
  const d = new Date(to) - new Date(from);
  return isNaN(d) ? null : d;
}

// How long a span still going has lasted, "12.0 s so far", kept up to
// date in place by retime() while the view is not redrawn.
export function elapsed(from, now = Date.now()) {
  const ms = now - new Date(from);
  return h('span', { class: 'elapsed', 'data-from': from },
    isNaN(ms) ? '\u2014' : `${duration(Math.max(0, ms))} so far`);
}

// A span's duration: ended, or still going (its elapsed time), or unknown.
export function lasted(from, to, going) {
  if (from && !to && going) return elapsed(from);
  return h('span', { text: duration(span(from, to)) });
}

export function duration(ms) {
  if (ms === null || ms === undefined) return '\u2014';
  if (ms < 1000) return `${ms} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 2 : 1)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
}

const STATUS = {
  SUCCESS: ['succeeded', '\u2713', 'st-ok'],
  FAILURE: ['failed', '\u2717', 'st-bad'],
  LOST: ['lost', '\u2717', 'st-bad'],
  STARTED: ['running', '\u25b6', 'st-run'],
  PENDING: ['pending', '\u2026', 'st-run'],
  RETRY: ['retrying', '\u21bb', 'st-warn'],
  CANCELLED: ['cancelled', '\u25a0', 'st-off'],
  paused: ['paused', '\u2016', 'st-warn'],
  disabled: ['disabled', '\u2298', 'st-off'],
  never: ['never run', '\u2014', 'st-off'],
  up: ['up', '\u25b2', 'st-ok'],
  down: ['down', '\u25bc', 'st-bad'],
};

export function statusWord(s) {
  return (STATUS[s] || [String(s).toLowerCase()])[0];
}

export function statusClass(s) {
  return (STATUS[s] || [0, 0, 'st-off'])[2];
}

// A badge: icon and word, the colour only adds to them.
export function badge(s, extra) {
  const [word, icon, cls] = STATUS[s] || [String(s).toLowerCase(), '\u2022', 'st-off'];
  return h('span', { class: `badge ${cls}`, 'data-status': s },
    h('span', { 'aria-hidden': 'true', text: `${icon} ` }),
    extra ? `${word} ${extra}` : word);
}

export const FINAL = new Set(['SUCCESS', 'FAILURE', 'LOST', 'CANCELLED']);

// A table with <th scope="col"> headers (strings or nodes) and a tbody.
export function table(label, headers, rows) {
  return h('table', { 'aria-label': label },
    h('thead', {}, h('tr', {}, headers.map((x) =>
      h('th', { scope: 'col', class: x && x.num ? 'num' : null },
        x && x.node ? x.node : x)))),
    h('tbody', {}, rows));
}

// The pager button last pressed (its pager's label and side): the pager
// drawn next with that label, the new page's, takes the focus back to it
// (to the other button when it is disabled there), so a keyboard user
// paging on is not sent back to the top of the document.
let pressed = null;

function pageButton(label, side, fn, text) {
  return h('button', { type: 'button', disabled: !fn, 'data-page': side,
    onclick: fn && (() => { pressed = { label, side }; fn(); }) }, text);
}

// "Previous" / "Next" buttons (or the words given); either handler null
// disables it.
export function pager(label, prev, next, info, words = ['Previous', 'Next']) {
  const p = pageButton(label, 'prev', prev, `\u2190 ${words[0]}`);
  const n = pageButton(label, 'next', next, `${words[1]} \u2192`);
  if (pressed && pressed.label === label) {
    const want = pressed.side === 'prev' ? p : n;
    const to = want.disabled ? (want === p ? n : p) : want;
    pressed = null;
    queueMicrotask(() => { if (to.isConnected && !to.disabled) to.focus(); });
  }
  return h('div', { class: 'pager', role: 'navigation', 'aria-label': label },
    p, h('span', { class: 'muted', text: info || '' }), n);
}

export function jobLink(name) {
  return h('a', { href: `#/job/${encodeURIComponent(name)}` }, name);
}

export function runLink(id, text) {
  return h('a', { href: `#/run/${encodeURIComponent(id)}` }, text || `#${id}`);
}

// Brings every relative time under root up to now, in place (a view not
// redrawn because its data did not change still says "5 min ago" rightly).
export function retime(root) {
  const now = Date.now();
  for (const el of root.querySelectorAll('time.rel')) {
    const txt = relative(el.getAttribute('datetime'), now);
    if (el.textContent !== txt) el.textContent = txt;
  }
  for (const el of root.querySelectorAll('span.elapsed')) {
    const txt = elapsed(el.dataset.from, now).textContent;
    if (el.textContent !== txt) el.textContent = txt;
  }
}
