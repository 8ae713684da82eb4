// jobs.js - the jobs view: every job (GET /jobs pages of 1000 followed
// through next_after), filtered, sorted and shown 100 rows at a time, so
// a thousand jobs stay quick.  The filter box and sort buttons redraw only
// the table's body; a refresh whose data did not change redraws nothing.

import { h, fill, badge, when, absAsGiven, absLocal,
  viewerZone, table, pager, jobLink } from './dom.js';
import { allJobs } from './api.js';

const PAGE = 100;

// The one status a job shows first, for filtering and sorting.
function glance(j) {
  if (!j.enabled) return 'disabled';
  if (j.running > 0) return 'STARTED';
  if (j.paused) return 'paused';
  return j.last_run ? j.last_run.status : 'never';
}

const FILTERS = [
  ['', 'any status'], ['STARTED', 'running now'], ['FAILURE', 'last run failed'],
  ['SUCCESS', 'last run succeeded'], ['paused', 'paused'],
  ['never', 'never run'], ['disabled', 'disabled'],
];

function matches(j, text, st) {
  if (st) {
    const g = glance(j);
    const hit = st === 'FAILURE' ? (j.last_run && ['FAILURE', 'LOST'].includes(j.last_run.status))
      : st === 'SUCCESS' ? (j.last_run && j.last_run.status === 'SUCCESS')
      : st === 'paused' ? j.paused : g === st;
    if (!hit) return false;
  }
  if (!text) return true;
  return j.name.toLowerCase().includes(text) ||
    (j.description || '').toLowerCase().includes(text);
}

const KEYS = {
  name: (j) => j.name,
  status: (j) => glance(j),
  next: (j) => (j.next_run ? new Date(j.next_run).getTime() : Infinity),
  last: (j) => (j.last_run && j.last_run.ended ? new Date(j.last_run.ended).getTime() : -Infinity),
};

function statusCell(j) {
  const b = [];
  if (!j.enabled) b.push(badge('disabled'));
  if (j.running > 0) b.push(badge('STARTED', j.running > 1 ? `\u00d7${j.running}` : ''));
  if (j.paused) b.push(badge('paused'));
  if (j.last_run) b.push(h('span', { class: 'muted', text: 'last:' }), badge(j.last_run.status));
  else b.push(badge('never'));
  return h('div', { class: 'badges' }, b);
}

function nextCell(j) {
  if (!j.next_run || !j.enabled) return h('span', { class: 'muted', text: '\u2014' });
  return h('span', {},
    h('time', { datetime: j.next_run, title: `${absLocal(j.next_run)} ${viewerZone}` },
      `${absAsGiven(j.next_run)} ${j.timezone || ''}`),
    h('span', { class: 'sub', text: `${absLocal(j.next_run)} ${viewerZone} (yours)` }));
}

function row(j) {
  return h('tr', { 'data-job': j.name },
    h('td', {}, jobLink(j.name), j.description ? h('span', { class: 'sub', text: j.description }) : null),
    h('td', {}, statusCell(j)),
    h('td', { class: 'mono', text: j.schedule }),
    h('td', {}, nextCell(j)),
    h('td', {}, j.last_run ? when(j.last_run.ended) : h('span', { class: 'muted', text: 'never' })));
}

export function jobsView(root) {
  const st = { jobs: [], text: '', status: '', key: 'name', dir: 1, page: 0 };
  const filter = h('input', { id: 'job-filter', type: 'search', placeholder: 'name or description' });
  const sel = h('select', { id: 'job-status' },
    FILTERS.map(([v, t]) => h('option', { value: v, text: t })));
  const count = h('span', { class: 'muted', 'aria-live': 'polite' });
  const body = h('div');
  const sortBtns = {};

  function header(label, key) {
    const b = h('button', { type: 'button', class: 'sort', 'data-sort': key,
      onclick: () => { st.dir = st.key === key ? -st.dir : 1; st.key = key; st.page = 0; draw(); } },
    label);
    sortBtns[key] = b;
    return { node: b };
  }
  const heads = [header('Name', 'name'), header('Status', 'status'), 'Schedule',
    header('Next run (job\u2019s zone / yours)', 'next'), header('Last run', 'last')];

  function draw() {
    const text = st.text.toLowerCase();
    const k = KEYS[st.key];
    const list = st.jobs.filter((j) => matches(j, text, st.status)).sort((a, b) => {
      const x = k(a), y = k(b);
      return (x < y ? -1 : x > y ? 1 : a.name < b.name ? -1 : 1) * st.dir;
    });
    const pages = Math.max(1, Math.ceil(list.length / PAGE));
    st.page = Math.min(st.page, pages - 1);
    const shown = list.slice(st.page * PAGE, st.page * PAGE + PAGE);
    count.textContent = `${list.length} of ${st.jobs.length} jobs`;
    // aria-sort belongs on the column header (a button may not carry it);
    // the arrow after the sorted column's name shows it on screen.
    for (const [key, b] of Object.entries(sortBtns)) {
      if (key === st.key) b.parentNode.setAttribute('aria-sort', st.dir > 0 ? 'ascending' : 'descending');
      else b.parentNode.removeAttribute('aria-sort');
    }
    const tbody = body.querySelector('tbody');
    fill(tbody, shown.length ? shown.map(row)
      : h('tr', {}, h('td', { colspan: 5, class: 'muted', text: 'No job matches.' })));
    fill(body.querySelector('.pagerbox'), pager('Jobs pages',
      st.page > 0 ? () => { st.page--; draw(); } : null,
      st.page < pages - 1 ? () => { st.page++; draw(); } : null,
      `page ${st.page + 1} of ${pages}`));
  }

  filter.oninput = () => { st.text = filter.value; st.page = 0; draw(); };
  sel.onchange = () => { st.status = sel.value; st.page = 0; draw(); };
  fill(body, table('Jobs', heads, []), h('div', { class: 'pagerbox' }));
  fill(root, h('h1', { text: 'Jobs' }),
    h('div', { class: 'toolbar' },
      h('label', { for: 'job-filter' }, 'Filter', filter),
      h('label', { for: 'job-status' }, 'Status', sel), count),
    body);

  return {
    async refresh() {
      const r = await allJobs();
      if (!r.changed && st.loaded) return;
      if (st.loaded && JSON.stringify(r.jobs) === JSON.stringify(st.jobs)) return;
      st.jobs = r.jobs;
      st.loaded = true;
      draw();
    },
  };
}
