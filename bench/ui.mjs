// ui.mjs URL TOKEN FLOOR_URL ROUNDS JOB RUN_ID - the browser part of
// bench/ui.sh: ROUNDS rounds of headless chromium (playwright-core from
// $DC_UI_MODULES), a fresh context for each view of each round, against
// the dashboard at URL/ui/ (signed in with TOKEN put in sessionStorage
// before the page loads, as a signed-in tab has it) and the static floor
// pages FLOOR_URL/index.html (1,000 jobs) and page100.html (100).  Times
// are the page's own performance.now(), from navigation start: "first"
// when the first data row is painted (a requestAnimationFrame loop started
// with the document; the time is taken in a task queued from the frame
// that showed the row, so after its paint); "interactive" when the act
// done in the page right then, or once the document is parsed if that is
// later (filter box filled, a status chosen, the pager's Older clicked),
// shows its result painted; "input" that act's own
// time (dispatch to painted); "refresh" the next refresh cycle (the start
// of its first API request to the dashboard's "Updated" line) with the
// HTTP statuses it got; "heap" the JS heap used after a garbage
// collection (CDP Performance.getMetrics).  Prints each round's figures,
// the floors' beside the jobs view's, then medians and spreads.
import { createRequire } from 'node:module';

const require = createRequire(`${process.env.DC_UI_MODULES}/`);
const { chromium } = require('playwright-core');
const [url, token, floorUrl, roundsArg, job, runId] = process.argv.slice(2);
const ROUNDS = Number(roundsArg) || 5;
const ui = `${url}/ui/`;
const FIRST = 'tr[data-job], tr[data-run], section.item[data-node]';

// Runs in every document before its own scripts: puts the token where a
// signed-in tab keeps it, notes each fetch and each change of the
// "Updated" line, and watches the frames for the first data row.  Once it
// is painted, the view's act (filling the filter box, choosing a status,
// clicking a pager button: as soon as the page can take it, without the
// driver's round trips) and the frame that shows its result.
function probe([tok, first, act, want]) {
  if (tok) sessionStorage.setItem('distcron.token', tok);
  const B = window.__bench = { first: null, input: null, shown: null, fetches: [], updated: [] };
  const real = window.fetch;
  window.fetch = function (input, init) {
    const f = { url: String(input), t0: performance.now(), status: null };
    B.fetches.push(f);
    return real.call(this, input, init).then((r) => { f.status = r.status; return r; });
  };
  const painted = (ok, then) => {
    const frame = () => {
      if (!ok()) return requestAnimationFrame(frame);
      setTimeout(() => then(performance.now()), 0);
    };
    requestAnimationFrame(frame);
  };
  // What the act should bring: rows matching want.sel, want.count of them
  // (or some), all with the badge want.status, the first another run.
  const shows = (w) => () => {
    const rows = [...document.querySelectorAll(w.sel)];
    if (w.count !== undefined ? rows.length !== w.count : !rows.length) return false;
    if (w.status && !rows.every((r) => r.querySelector(`.badge[data-status="${w.status}"]`)))
      return false;
    return !w.notFirst || rows[0].getAttribute('data-run') !== w.notFirst;
  };
  const doAct = () => {
    const el = document.querySelector(act.sel);
    const w = { ...want };
    if (want.notFirst) w.notFirst = document.querySelector(want.sel).getAttribute('data-run');
    painted(shows(w), (t) => { B.shown = t; });
    B.input = performance.now();
    if (act.click) return el.click();
    el.value = act.value;
    el.dispatchEvent(new Event(act.event, { bubbles: true }));
  };
  // A static page paints rows while it is still parsed: its (deferred)
  // script, hence its filter box, works only once DOMContentLoaded has
  // come (readyState is "interactive" already before deferred scripts).
  let parsed = false, waiting = false;
  painted(() => document.querySelector(first), (t) => {
    B.first = t;
    if (!act) return;
    if (parsed) doAct();
    else waiting = true;
  });
  document.addEventListener('DOMContentLoaded', () => {
    parsed = true;
    if (waiting) setTimeout(doAct, 0);
    const st = document.getElementById('status');
    if (st) new MutationObserver(() => B.updated.push(performance.now()))
      .observe(st, { childList: true, characterData: true, subtree: true });
  });
}

// Once the probe has seen what it waits for (the first row painted, and
// the act's result when there is an act): its times.  Polled: a
// waitForFunction would need eval, which the dashboard's CSP forbids.
function probed(acted) {
  return new Promise((resolve, reject) => {
    const give = setTimeout(() => reject(new Error('nothing shown in 20 s')), 20000);
    const poll = () => {
      const B = window.__bench;
      if (B.first === null || (acted && B.shown === null)) return setTimeout(poll, 20);
      clearTimeout(give);
      resolve({ first: B.first, interactive: B.shown ?? undefined,
        input: B.shown === null ? undefined : B.shown - B.input });
    };
    poll();
  });
}

// The next refresh cycle after now: from the start of its first request to
// the next change of the "Updated" line; with the statuses it got.
function nextRefresh() {
  const B = window.__bench, from = performance.now();
  return new Promise((resolve, reject) => {
    const give = setTimeout(() => { clearInterval(t); reject(new Error('no refresh in 12 s')); }, 12000);
    const t = setInterval(() => {
      const fs = B.fetches.filter((f) => f.t0 > from);
      if (!fs.length) return;
      const end = B.updated.find((u) => u > fs[0].t0);
      if (end === undefined) return;
      clearInterval(t);
      clearTimeout(give);
      const mine = fs.filter((f) => f.t0 < end);
      resolve({ ms: end - fs[0].t0, statuses: [...new Set(mine.map((f) => f.status))].join('+') });
    }, 50);
  });
}

// What each view does once its first row is painted, and what it then shows.
const FILTER = { act: { sel: '#job-filter', value: 'j009', event: 'input' },
  want: { sel: 'tr[data-job]:not([hidden])', count: 10 } };
const VIEWS = {
  jobs: { path: '#/jobs', ...FILTER },
  floor: { file: 'index.html', ...FILTER },
  floor100: { file: 'page100.html', ...FILTER },
  runs: {
    path: '#/runs',
    act: { sel: '#runs-status', value: 'FAILURE', event: 'change' },
    want: { sel: 'tr[data-run]', status: 'FAILURE' },
  },
  job: {
    path: `#/job/${job}`,
    act: { sel: '[data-page="next"]', click: true },
    want: { sel: 'tr[data-run]', count: 50, notFirst: true },
  },
  run: { path: `#/run/${runId}` },
};

async function measure(browser, name) {
  const v = VIEWS[name];
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  try {
    const page = await ctx.newPage();
    page.setDefaultTimeout(20000);
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.addInitScript(probe, [v.file ? '' : token, FIRST, v.act || null, v.want || null]);
    await page.goto(v.file ? floorUrl + v.file : ui + v.path);
    const out = await page.evaluate(probed, !!v.act);
    if (name === 'jobs') {	// all of them fetched, 10 shown after the filter
      const c = await page.locator('.toolbar [aria-live]').innerText();
      if (!/^10 of 1000 jobs/.test(c)) throw new Error(`the jobs view says "${c}"`);
    }
    if (!v.file) {
      const r = await page.evaluate(nextRefresh);
      out.refresh = r.ms;
      out.statuses = r.statuses;
    }
    const cdp = await ctx.newCDPSession(page);
    await cdp.send('HeapProfiler.collectGarbage');
    await cdp.send('Performance.enable');
    const m = (await cdp.send('Performance.getMetrics')).metrics;
    out.heap = m.find((x) => x.name === 'JSHeapUsedSize').value / 1048576;
    if (errors.length) out.errors = errors.join('; ');
    return out;
  } finally {
    await ctx.close();
  }
}

const f0 = (x) => (x === undefined ? '-' : x.toFixed(0));
const f1 = (x) => (x === undefined ? '-' : x.toFixed(1));
const LABEL = {
  jobs: 'jobs (1,000, 100 a page)', floor: 'floor: static 1,000 rows',
  floor100: 'floor: static 100 rows',
  runs: 'runs (first 50)', job: `job ${job} (50 runs)`, run: `run #${runId}`,
};
const ORDER = ['jobs', 'floor', 'floor100', 'runs', 'job', 'run'];
const COLS = ['first', 'interactive', 'input', 'refresh', 'heap'];

function line(round, name, o) {
  return `${String(round).padEnd(6)}${LABEL[name].padEnd(28)}${f0(o.first).padStart(7)}` +
    `${f0(o.interactive).padStart(13)}${f0(o.input).padStart(8)}` +
    `${(o.refresh === undefined ? '-' : `${f0(o.refresh)} (${o.statuses})`).padStart(13)}` +
    `${f1(o.heap).padStart(9)}${o.errors ? `  page errors: ${o.errors}` : ''}`;
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--enable-precise-memory-info'],
});
const all = Object.fromEntries(ORDER.map((n) => [n, []]));
console.log(`${'round'.padEnd(6)}${'view'.padEnd(28)}${'first'.padStart(7)}` +
  `${'interactive'.padStart(13)}${'input'.padStart(8)}${'refresh'.padStart(13)}` +
  `${'heap MiB'.padStart(9)}   (ms from navigation start; input: event to painted)`);
try {
  for (let r = 1; r <= ROUNDS; r++) {
    for (const name of ORDER) {
      const o = await measure(browser, name);
      all[name].push(o);
      console.log(line(r, name, o));
    }
  }
} finally {
  await browser.close();
}

function stat(xs, d = 0) {
  const v = xs.filter((x) => x !== undefined).sort((a, b) => a - b);
  if (!v.length) return '-';
  const mid = v.length >> 1;
  const med = v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
  return `${med.toFixed(d)} (${v[0].toFixed(d)}-${v[v.length - 1].toFixed(d)})`;
}
console.log(`\nmedian (min-max) over ${ROUNDS} rounds`);
console.log(`${'view'.padEnd(28)}${COLS.map((c) => c.padStart(18)).join('')}`);
for (const name of ORDER)
  console.log(`${LABEL[name].padEnd(28)}` +
    COLS.map((c) => stat(all[name].map((o) => o[c]), c === 'heap' ? 1 : 0).padStart(18)).join(''));
