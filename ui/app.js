// app.js - the dashboard: sign-in, the hash router (#/jobs, #/job/NAME,
// #/run/ID, #/runs, #/nodes, #/cluster, #/outbox) and the refresh loop.
// Each view is a function (root, params) -> { refresh(), every } that
// reads the API and updates only what changed; the loop calls refresh()
// every few seconds (every second on a live run) without reloading.

import { h, fill, retime } from './dom.js';
import { session, signIn, get, AuthError } from './api.js';
import { jobsView } from './jobs.js';
import { jobView } from './job.js';
import { runView } from './run.js';
import { runsView } from './runs.js';
import { nodesView } from './nodes.js';
import { clusterView } from './cluster.js';
import { outboxView } from './outbox.js';

const main = document.getElementById('main');
const status = document.getElementById('status');
const nav = document.getElementById('nav');
const REFRESH_MS = 3000;

const routes = {
  jobs: jobsView, job: jobView, run: runView, runs: runsView,
  nodes: nodesView, cluster: clusterView, outbox: outboxView,
};

let current = null;	// { view, timer, gen }
let gen = 0;

let sayUntil = 0;	// an action's message stays this long over "Updated"

// The status line: what an action did (kept for 5 s), or an error.
export function say(text, error) {
  status.textContent = text;
  status.classList.toggle('error', !!error);
  sayUntil = text ? Date.now() + 5000 : 0;
}

function sayUpdated() {
  if (Date.now() < sayUntil) return;
  status.textContent = `Updated ${new Date().toLocaleTimeString()}`;
  status.classList.remove('error');
}

function stop() {
  if (current && current.timer) clearTimeout(current.timer);
  current = null;
}

function parseHash() {
  const parts = location.hash.replace(/^#\/?/, '').split('/');
  const name = routes[parts[0]] ? parts[0] : 'jobs';
  return { name, arg: parts.length > 1 ? decodeURIComponent(parts.slice(1).join('/')) : null };
}

async function tick(my) {
  if (!current || current.gen !== my) return;
  try {
    await current.view.refresh();
    if (!current || current.gen !== my) return;
    retime(main);
    sayUpdated();
  } catch (e) {
    if (e instanceof AuthError) return signOut('The API refused the token (401): sign in again.');
    say(e.message, true);
  }
  if (current && current.gen === my)
    current.timer = setTimeout(() => tick(my), current.view.every || REFRESH_MS);
}

function markNav(name) {
  for (const a of nav.querySelectorAll('a')) {
    const on = a.getAttribute('href') === `#/${name}` ||
      (name === 'job' && a.getAttribute('href') === '#/jobs') ||
      (name === 'run' && a.getAttribute('href') === '#/runs');
    if (on) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

function route() {
  if (!session.token()) return showSignIn();
  stop();
  const { name, arg } = parseHash();
  markNav(name);
  const root = fill(main);
  const my = ++gen;
  current = { view: routes[name](root, arg), timer: null, gen: my };
  tick(my);
}

// Re-runs the current view now (after an action).
export function refreshNow() {
  if (!current) return;
  clearTimeout(current.timer);
  tick(current.gen);
}

function chrome(signedIn) {
  nav.hidden = !signedIn;
  document.getElementById('signout').hidden = !signedIn;
  const acc = document.getElementById('access');
  acc.hidden = !signedIn || session.full();
  acc.textContent = 'read-only token';
}

function showSignIn(message) {
  stop();
  chrome(false);
  say('');
  const input = h('input', { id: 'token', type: 'password', autocomplete: 'off',
    spellcheck: 'false', required: true });
  const msg = h('p', { id: 'signin-msg', class: message ? 'msg error' : 'msg',
    role: 'alert', text: message || '' });
  const form = h('form', { class: 'signin', 'aria-labelledby': 'signin-title' },
    h('h1', { id: 'signin-title', text: 'Sign in to distcron' }),
    h('p', { class: 'muted', text: 'Paste the API token (api_token, or the state ' +
      "directory's api.token; api_read_token for read-only). It stays in this " +
      'tab only and is sent to this daemon alone.' }),
    h('label', { for: 'token', text: 'API token' }), input, msg,
    h('button', { type: 'submit', class: 'primary', text: 'Sign in' }));
  form.onsubmit = (ev) => { ev.preventDefault(); submit(input.value.trim(), msg); };
  fill(main, form);
  input.focus();
}

async function submit(token, msg) {
  if (!token) return;
  session.set(token);
  try {
    await signIn();
  } catch (e) {
    session.clear();
    msg.className = 'msg error';
    msg.textContent = e instanceof AuthError
      ? 'Wrong token: the API refused it (401 Unauthorized).'
      : `Cannot reach the API: ${e.message}`;
    return;
  }
  await start();
}

async function start() {
  chrome(true);
  try {
    await get('/cluster');
    document.getElementById('nav-cluster').hidden = false;
  } catch (e) {
    if (e instanceof AuthError) return signOut('The API refused the token (401).');
    document.getElementById('nav-cluster').hidden = true;
  }
  if (!location.hash || location.hash === '#' || location.hash === '#/')
    location.hash = '#/jobs';
  else route();
}

function signOut(message) {
  session.clear();
  showSignIn(message);
}

session.onAccess = () => { chrome(true); route(); };
document.getElementById('signout').onclick = () => signOut();
window.addEventListener('hashchange', route);

if (session.token()) {
  signIn().then(start, (e) => {
    if (e instanceof AuthError) signOut('The API refused the stored token (401).');
    else say(e.message, true);
  });
} else {
  showSignIn();
}
