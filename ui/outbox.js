// outbox.js - reports and notifications waiting to go out: each sink's
// figures (GET /monitor's outbox) and the parked entries (GET /outbox),
// which a full token may send again (POST /outbox/retry).

import { h, fill, fillIfChanged, table } from './dom.js';
import { get, post, session } from './api.js';
import { say, refreshNow } from './app.js';

async function retry(body, what) {
  try {
    const r = await post('/outbox/retry', body);
    say(`${what}: ${r.data.requeued} re-queued`);
    refreshNow();
  } catch (e) { say(e.message, true); }
}

function sinks(ob) {
  const names = Object.keys(ob || {});
  if (!names.length) return h('p', { class: 'muted', text: 'No sinks configured.' });
  const cols = ['depth', 'oldest_age_s', 'delivered', 'retried', 'dropped', 'parked'];
  return table('Sinks', ['Sink', ...cols.map((c) => ({ node: c.replace(/_/g, ' '), num: true }))],
    names.map((n) => h('tr', {}, h('td', { class: 'mono', text: n }),
      cols.map((c) => h('td', { class: 'num', text: String(ob[n][c] ?? '') })))));
}

function parked(list) {
  if (!list.length) return h('p', { class: 'muted', text: 'Nothing parked.' });
  const full = session.full();
  return [full ? h('div', { class: 'actions' }, h('button', { type: 'button', id: 'retry-all',
    onclick: () => retry({ all: true }, 'Retry all') }, '\u21bb Retry all')) : null,
  table('Parked entries', ['Entry', 'Run', 'Job', 'Sink', 'Event', 'Attempts', 'Why', full ? 'Action' : null]
    .filter((x) => x !== null),
  list.map((p) => h('tr', {},
    h('td', { text: String(p.id) }), h('td', { text: String(p.run_id ?? '') }),
    h('td', { class: 'mono', text: p.job || '' }), h('td', { text: p.sink || '' }),
    h('td', { text: p.event || '' }), h('td', { class: 'num', text: String(p.attempts ?? '') }),
    h('td', { text: p.why || '' }),
    full ? h('td', {}, h('button', { type: 'button', class: 'retry',
      onclick: () => retry({ id: p.id }, `Retry of entry ${p.id}`) }, '\u21bb Retry')) : null)))];
}

export function outboxView(root) {
  const a = h('div'), b = h('div');
  fill(root, h('h1', { text: 'Outbox' }), h('h2', { text: 'Sinks' }), a,
    h('h2', { text: 'Parked entries' }), b);
  return {
    async refresh() {
      const mon = (await get('/monitor')).data;
      const pk = (await get('/outbox')).data.parked || [];
      fillIfChanged(a, mon.outbox || {}, () => sinks(mon.outbox));
      fillIfChanged(b, [pk, session.access], () => parked(pk));
    },
  };
}
