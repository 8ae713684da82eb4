// cluster.js - cluster mode (GET /cluster, shown in the menu only when it
// answers): this member and its lease, the members, etcd's endpoints, and
// a warning naming the job files that differ between members.

import { h, fill, fillIfChanged, when, table } from './dom.js';
import { get } from './api.js';

function scalars(o) {
  return h('dl', { class: 'kv' }, Object.entries(o)
    .filter(([, v]) => v === null || typeof v !== 'object')
    .map(([k, v]) => [h('dt', { text: k.replace(/_/g, ' ') }), h('dd', { text: v === null ? '\u2014' : String(v) })]));
}

// A member's start: UNIX seconds, or an API time.
const at = (v) => (typeof v === 'number' ? new Date(v * 1000).toISOString() : v);

function draw(c) {
  const m = c.cluster || {};
  const members = m.members || c.members || [];
  const mism = Array.isArray(c.mismatch) ? c.mismatch : [];
  return [
    mism.length ? h('div', { class: 'msg warn', role: 'alert' },
      `\u26a0 Job files differ between members (${c.mismatch_jobs ?? mism.length} jobs):`,
      h('ul', {}, mism.map((line) => h('li', { class: 'mono', text: String(line) })))) : null,
    h('h2', { text: 'This member' }), scalars(c),
    c.claims && typeof c.claims === 'object' ? [h('h2', { text: 'Claims' }), scalars(c.claims)] : null,
    h('h2', { text: 'Members' }),
    table('Members', ['Member', 'Host', 'PID', 'Started', 'Version', 'Owned jobs'],
      members.map((x) => h('tr', {},
        h('td', { class: 'mono' }, x.member, x.self ? ' (this one)' : ''),
        h('td', { text: x.host || '' }), h('td', { text: String(x.pid ?? '') }),
        h('td', {}, when(at(x.started))), h('td', { text: x.version || '' }),
        h('td', { class: 'num', text: String(x.owned_jobs ?? '') })))),
    (c.endpoints || m.endpoints) ? [h('h2', { text: 'etcd endpoints' }),
      table('etcd endpoints', ['URL', 'Current', 'Healthy'], (c.endpoints || m.endpoints).map((e) =>
        h('tr', {}, h('td', { class: 'mono', text: e.url }), h('td', { text: e.current ? 'yes' : 'no' }),
          h('td', { text: e.healthy ? '\u2713 yes' : '\u2717 no' }))))] : null,
  ];
}

export function clusterView(root) {
  const box = h('div');
  fill(root, h('h1', { text: 'Cluster' }), box);
  return {
    async refresh() {
      const c = (await get('/cluster')).data;
      fillIfChanged(box, c, () => draw(c));
    },
  };
}
