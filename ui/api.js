// api.js - the dashboard's only way to the daemon: its public REST API,
// with the bearer token the user pasted, kept in this tab's sessionStorage
// (never localStorage, a cookie or a URL).  GETs send If-None-Match with
// the last ETag of the same path: a 304 gives back what was read then, so
// an unchanged answer costs nothing (and works without ETags as well).

const KEY = 'distcron.token';
const cache = new Map();	// path -> { etag, data }, oldest first
const CACHE_MAX = 100;		// paths kept: a long session pages a lot

export class AuthError extends Error {}
export class ApiError extends Error {
  constructor(status, msg) { super(msg); this.status = status; }
}

export const session = {
  access: 'full',
  token() { return sessionStorage.getItem(KEY); },
  set(t) { sessionStorage.setItem(KEY, t); },
  clear() { sessionStorage.removeItem(KEY); cache.clear(); this.access = 'full'; },
  full() { return this.access !== 'read'; },
  onAccess: null,	// called when the access learned changes
};

async function request(method, path, body) {
  const headers = { Authorization: `Bearer ${session.token() || ''}` };
  const c = method === 'GET' ? cache.get(path) : null;
  if (c && c.etag) headers['If-None-Match'] = c.etag;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const r = await fetch(path, {
    method, headers, cache: 'no-store', credentials: 'omit',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (r.status === 304 && c) return { data: c.data, changed: false, status: 304 };
  let data = null;
  const text = await r.text();
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (r.status === 401)
    throw new AuthError((data && data.error) || 'missing or wrong bearer token');
  if (r.status === 403 && data && /read-only/.test(data.error || '')) {
    readOnly();
    throw new ApiError(403, 'this token is read-only: it may not do that');
  }
  if (!r.ok)
    throw new ApiError(r.status, (data && data.error) || `HTTP ${r.status}`);
  const etag = r.headers.get('ETag');
  if (method === 'GET') {
    cache.delete(path);
    if (etag) cache.set(path, { etag, data });
    if (cache.size > CACHE_MAX) cache.delete(cache.keys().next().value);
  }
  return { data, changed: true, status: r.status };
}

function readOnly() {
  if (session.access === 'read') return;
  session.access = 'read';
  if (session.onAccess) session.onAccess();
}

export const get = (path) => request('GET', path);
export const post = (path, body) => request('POST', path, body === undefined ? {} : body);
export const del = (path) => request('DELETE', path);

// Pages of /jobs?limit=1000 followed through next_after: every job.
export async function allJobs() {
  let after = '', jobs = [], changed = false;
  for (let n = 0; n < 1000; n++) {
    const r = await get('/jobs?limit=1000' + (after ? `&after=${encodeURIComponent(after)}` : ''));
    changed = changed || r.changed;
    jobs = jobs.concat(r.data.jobs || []);
    if (!r.data.next_after) break;
    after = r.data.next_after;
  }
  return { jobs, changed };
}

// GET /: checks the token and learns its access ("full" or "read"; an
// answer without it counts as full).  A write refused 403 as read-only
// later turns the page read-only too (readOnly above).
export async function signIn() {
  const r = await get('/');
  session.access = (r.data && r.data.access) === 'read' ? 'read' : 'full';
  return r.data;
}
