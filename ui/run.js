// run.js - one run: job, trigger, attempt, status and times (a run or item
// still going shows how long it has lasted so far), then each
// node's item with its exit code, signal, error, stdout and stderr (as
// text, the cut marked when the output was truncated).  While the run is
// pending or running the view asks again every second (live), and an item
// still running shows its output so far under a "Live" mark that goes
// when it ends; a full token may cancel it.  The daemon gives a run still
// going as its runner knows it (status, start, items), not as its store's
// lagging record, so the view shows the answer as it is.

import { h, fill, fillIfChanged, badge, when, lasted, table, jobLink,
  FINAL } from './dom.js';
import { get, del, session } from './api.js';
import { say, refreshNow } from './app.js';

// The daemon's marks where it cut a stream (head and tail kept), or where
// the output memory budget cut it.
const CUT = /\[\.\.\. distcron: \d+ bytes omitted \.\.\.\]|\[distcron: output cut: [^\]\n]*\]/g;

const hasCut = (t) => !!t && t.search(CUT) >= 0;

// A truncated stream's text with each cut shown as a mark in place, and one
// at the end when endMark (the item is truncated, no stream has a mark).
function cutText(text, cut, endMark) {
  if (!cut) return [text];
  const parts = [];
  let last = 0;
  for (const m of text.matchAll(CUT)) {
    parts.push(text.slice(last, m.index),
      h('span', { class: 'cut', text: `\u2702 ${m[0]}` }));
    last = m.index + m[0].length;
  }
  parts.push(text.slice(last));
  if (endMark) parts.push(h('span', { class: 'cut', text: '\u2702 output cut here (truncated)' }));
  return parts;
}

function output(label, text, cut, endMark) {
  if (!text && !endMark) return null;
  return h('div', {},
    h('h4', { text: label }),
    h('pre', { class: 'mono output', 'data-stream': label }, cutText(text || '', cut, endMark)));
}

function summary(r) {
  return h('dl', { class: 'kv' },
    h('dt', { text: 'Job' }), h('dd', {}, jobLink(r.job)),
    h('dt', { text: 'Status' }), h('dd', { id: 'run-status' }, badge(r.status),
      FINAL.has(r.status) ? null
        : h('span', { class: 'muted', text: ' \u00b7 updating every second' })),
    h('dt', { text: 'Trigger' }), h('dd', { text: r.trigger || '\u2014' }),
    h('dt', { text: 'Attempt' }), h('dd', { text: String(r.attempt ?? '\u2014') }),
    h('dt', { text: 'Scheduled' }), h('dd', {}, when(r.scheduled_at)),
    h('dt', { text: 'Started' }), h('dd', {}, when(r.started)),
    h('dt', { text: 'Ended' }), h('dd', {}, when(r.ended)),
    h('dt', { text: 'Duration' }),
    h('dd', { id: 'run-duration' }, lasted(r.started, r.ended, !FINAL.has(r.status))),
    r.reason ? [h('dt', { text: 'Reason' }), h('dd', { text: r.reason })] : null);
}

// Said above an item's output while it still runs: what is shown is only
// what it has written so far (in words, the colour only adds to them).
function liveMark() {
  return h('p', { class: 'live-mark' },
    h('span', { 'aria-hidden': 'true', text: '\u25cf ' }),
    'Live: still running, output so far (more may come)');
}

function items(list) {
  if (!list.length) return h('p', { class: 'muted', text: 'No node has taken it yet.' });
  return [table('Items', ['Node', 'Status', 'Exit code', 'Signal', 'Started', 'Duration', 'Error'],
    list.map((it) => h('tr', {},
      h('td', { class: 'mono', text: it.node }),
      h('td', {}, badge(it.status)),
      h('td', { class: 'num', text: it.exit_code ?? '\u2014' }),
      h('td', { text: it.signal ?? '\u2014' }),
      h('td', {}, when(it.started)),
      h('td', {}, lasted(it.started, it.ended, !FINAL.has(it.status))),
      h('td', { text: it.error || '' })))),
  list.map((it) => h('section', { class: 'item', 'data-node': it.node },
    h('h3', {}, 'Output of ', h('span', { class: 'mono', text: it.node })),
    it.live ? liveMark() : null,
    output('stdout', it.output, it.truncated,
      it.truncated && !hasCut(it.output) && !hasCut(it.stderr)),
    output('stderr', it.stderr, it.truncated, false),
    !it.output && !it.stderr
      ? h('p', { class: 'muted', text: it.live ? 'No output yet.' : 'No output.' }) : null))];
}

export function runView(root, id) {
  const head = h('div');
  const actions = h('div', { class: 'actions' });
  const sum = h('div');
  const its = h('div');
  fill(root, head, actions, sum, h('h2', { text: 'Items' }), its);
  fill(head, h('h1', { text: `Run #${id}` }));
  const view = { every: 1000 };

  async function cancel() {
    try {
      await del(`/runs/${encodeURIComponent(id)}`);
      say('Cancelling');
      refreshNow();
    } catch (e) { say(e.message, true); }
  }

  view.refresh = async () => {
    const r = (await get(`/runs/${encodeURIComponent(id)}`)).data;
    const final = FINAL.has(r.status);
    view.every = final ? 5000 : 1000;
    fillIfChanged(actions, [session.access, final], () =>
      !final && session.full()
        ? h('button', { type: 'button', class: 'danger', id: 'cancel', onclick: cancel }, '\u25a0 Cancel run')
        : []);
    fillIfChanged(sum, r, () => summary(r));
    fillIfChanged(its, r.items || [], () => items(r.items || []));
  };
  return view;
}
