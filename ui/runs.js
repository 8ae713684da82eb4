// runs.js - the latest runs of every job (GET /runs?limit=50, older pages
// through before=ID), filtered by status on the server.

import { h, fill, fillIfChanged, badge, when, span, duration, table, pager,
  jobLink, runLink } from './dom.js';
import { get } from './api.js';
import { refreshNow } from './app.js';

const N = 50;
const STATUSES = ['', 'PENDING', 'STARTED', 'RETRY', 'SUCCESS', 'FAILURE', 'LOST'];

export function runsView(root) {
  const st = { before: null, stack: [], status: '' };
  const sel = h('select', { id: 'runs-status' },
    STATUSES.map((s) => h('option', { value: s, text: s ? s.toLowerCase() : 'any status' })));
  const box = h('div');
  sel.onchange = () => { st.status = sel.value; st.before = null; st.stack = []; refreshNow(); };
  fill(root, h('h1', { text: 'Runs' }),
    h('div', { class: 'toolbar' }, h('label', { for: 'runs-status' }, 'Status', sel)), box);

  function rows(runs) {
    return table('Runs', ['Run', 'Job', 'Status', 'Trigger', 'Started', 'Duration', 'Nodes'],
      runs.map((r) => h('tr', { 'data-run': r.id },
        h('td', {}, runLink(r.id)), h('td', {}, jobLink(r.job)),
        h('td', {}, badge(r.status)), h('td', { text: r.trigger || '' }),
        h('td', {}, when(r.started || r.scheduled_at)),
        h('td', { text: duration(span(r.started, r.ended)) }),
        h('td', { class: 'mono', text: (r.items || []).map((i) => i.node).join(', ') }))));
  }

  return {
    async refresh() {
      const q = `/runs?limit=${N}` + (st.status ? `&status=${encodeURIComponent(st.status)}` : '') +
        (st.before ? `&before=${encodeURIComponent(st.before)}` : '');
      const runs = (await get(q)).data.runs || [];
      fillIfChanged(box, [runs, st.before, st.status], () => [
        runs.length ? rows(runs) : h('p', { class: 'muted', text: 'No run.' }),
        pager('Runs pages',
          st.before !== null ? () => { st.before = st.stack.pop() ?? null; refreshNow(); } : null,
          runs.length >= N ? () => { st.stack.push(st.before); st.before = runs[runs.length - 1].id; refreshNow(); } : null,
          st.before ? `runs before #${st.before}` : 'newest runs', ['Newer', 'Older'])]);
    },
  };
}
