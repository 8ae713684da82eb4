// nodes.js - the nodes (GET /nodes): roles, connection type, up or down
// since when, the last error and how many items each runs now.

import { h, fill, fillIfChanged, badge, when, table } from './dom.js';
import { get } from './api.js';

export function nodesView(root) {
  const box = h('div');
  fill(root, h('h1', { text: 'Nodes' }), box);
  return {
    async refresh() {
      const nodes = (await get('/nodes')).data.nodes || [];
      fillIfChanged(box, nodes, () => table('Nodes',
        ['Node', 'State', 'Since', 'Roles', 'Type', { node: 'Running', num: true }, 'Last error'],
        nodes.map((n) => h('tr', { 'data-node': n.name },
          h('td', { class: 'mono', text: n.name }),
          h('td', { class: 'badges' }, badge(n.status), n.enabled === false ? badge('disabled') : null),
          h('td', {}, when(n.since)),
          h('td', { text: (n.roles || []).join(', ') }),
          h('td', { text: n.connection_type || '' }),
          h('td', { class: 'num', text: String(n.running ?? 0) }),
          h('td', { text: n.last_error || '' })))));
    },
  };
}
