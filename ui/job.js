// job.js - one job: its state, its definition (as the API gives it to this
// token: masked for a read-only one), and a timeline of its last runs
// (GET /runs?job=NAME&limit=50, older pages through before=ID) with
// duration bars coloured by status next to the status in words, and the
// lateness of each start.  Run now / pause / resume for a full token.

import { h, fill, fillIfChanged, badge, when, absAsGiven, span, duration,
  statusClass, table, pager, runLink } from './dom.js';
import { get, post, session } from './api.js';
import { say, refreshNow } from './app.js';

const N = 50;

// The runs its schedule started (what max_runs counts; "Run now" is not
// one of them): "N of MAX" under max_runs, nothing when none and no max.
function scheduledRuns(n, max) {
  if (!(max > 0) && !n) return null;
  return [h('dt', { text: 'Scheduled runs' }),
    h('dd', { id: 'scheduled-runs', text: max > 0 ? `${n} of ${max}` : String(n) })];
}

function stateList(s, max) {
  return h('dl', { class: 'kv' },
    h('dt', { text: 'Status' }), h('dd', { class: 'badges' },
      s.enabled ? null : badge('disabled'), s.paused ? badge('paused') : null,
      s.running > 0 ? badge('STARTED') : null,
      s.enabled && !s.paused && !s.running ? h('span', { text: 'scheduled' }) : null),
    h('dt', { text: 'Schedule' }), h('dd', { class: 'mono', text: s.schedule }),
    h('dt', { text: 'Next run' }), h('dd', {}, s.next_run && s.enabled
      ? [`${absAsGiven(s.next_run)} ${s.timezone || ''} \u00b7 `, when(s.next_run)] : '\u2014'),
    h('dt', { text: 'Last run' }), h('dd', {}, s.last_run
      ? [runLink(s.last_run.id), ' ', badge(s.last_run.status), ' ', when(s.last_run.ended)]
      : 'never'),
    scheduledRuns(s.run_count, max),
    h('dt', { text: 'Source' }), h('dd', { class: 'mono', text: s.source || '\u2014' }));
}

function timeline(runs) {
  const durs = runs.map((r) => span(r.started, r.ended || (r.started ? new Date().toISOString() : null)));
  const max = Math.max(1, ...durs.filter((d) => d !== null));
  return table('Run timeline', ['Run', 'Status', 'Trigger', 'Started', 'Late',
    { node: 'Duration', num: false }], runs.map((r, i) => {
    const bar = h('div', { class: `bar ${statusClass(r.status)}`, 'aria-hidden': 'true' });
    bar.style.width = `${Math.max(0.5, (100 * (durs[i] || 0)) / max)}%`;
    const late = span(r.scheduled_at, r.started);
    return h('tr', { 'data-run': r.id },
      h('td', {}, runLink(r.id)),
      h('td', {}, badge(r.status)),
      h('td', { text: r.trigger || '' }),
      h('td', {}, when(r.started || r.scheduled_at)),
      h('td', { text: late === null ? '\u2014' : duration(late) }),
      h('td', { class: 'barcell' }, h('span', { text: duration(durs[i]) }), bar));
  }));
}

export function jobView(root, name) {
  const st = { before: null, stack: [] };
  const head = h('div');
  const actions = h('div', { class: 'actions' });
  const state = h('div');
  const runsBox = h('div');
  const def = h('pre', { class: 'mono', id: 'definition' });
  fill(root, head, actions, h('h2', { text: 'State' }), state,
    h('h2', { text: `Last runs` }), runsBox,
    h('h2', { text: 'Definition' }), def);
  fill(head, h('h1', {}, 'Job ', h('span', { class: 'mono', text: name })));

  async function act(path, what) {
    try {
      const r = await post(`/jobs/${encodeURIComponent(name)}/${path}`);
      say(what);
      if (path === 'run' && r.data && r.data.id) {
        location.hash = `#/run/${r.data.id}`;
        return;
      }
      refreshNow();
    } catch (e) { say(e.message, true); }
  }

  function drawActions(s) {
    fillIfChanged(actions, [session.access, s.paused], () => session.full() ? [
      h('button', { type: 'button', class: 'primary', id: 'run-now',
        onclick: () => act('run', 'Run started') }, '\u25b6 Run now'),
      s.paused
        ? h('button', { type: 'button', id: 'resume', onclick: () => act('resume', 'Resumed') }, '\u25b6 Resume')
        : h('button', { type: 'button', id: 'pause', onclick: () => act('pause', 'Paused') }, '\u2016 Pause'),
    ] : []);
  }

  function older(runs) {
    if (runs.length < N) return null;
    return () => { st.stack.push(st.before); st.before = runs[runs.length - 1].id; refreshNow(); };
  }
  function newer() {
    if (st.before === null) return null;
    return () => { st.before = st.stack.pop() ?? null; refreshNow(); };
  }

  return {
    async refresh() {
      const j = (await get(`/jobs/${encodeURIComponent(name)}`)).data;
      const q = `/runs?job=${encodeURIComponent(name)}&limit=${N}` +
        (st.before ? `&before=${encodeURIComponent(st.before)}` : '');
      const runs = (await get(q)).data.runs || [];
      drawActions(j.state);
      const max = Number((j.definition || {}).max_runs) || 0;
      fillIfChanged(state, [j.state, max], () => stateList(j.state, max));
      fillIfChanged(def, j.definition, () => JSON.stringify(j.definition, null, 2));
      fillIfChanged(runsBox, [runs, st.before], () => [
        runs.length ? timeline(runs) : h('p', { class: 'muted', text: 'No run yet.' }),
        pager('Runs pages', newer(), older(runs),
          st.before ? `runs before #${st.before}` : 'newest runs', ['Newer', 'Older'])]);
    },
  };
}
