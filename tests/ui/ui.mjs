// ui.mjs URL TOKEN READ_TOKEN SHOTS_DIR - the dashboard in headless Debian
// chromium (playwright-core, through lib.mjs), against the daemon
// tests/integration/ui.sh started.  Prints "ok - CHECK" / "FAIL - CHECK"
// per named check, writes a screenshot of each view into SHOTS_DIR, exits
// 1 when a check failed.
import { start } from './lib.mjs';

const [url, token, readToken, shots] = process.argv.slice(2);
const t = await start(url, shots);
const { ui, step, shot, signIn, dialogs } = t;
const api = (path, tok = token) => t.api(path, tok);

const statusText = (page) => page.locator('#run-status .badge').innerText();

const page = await t.newPage();

await step('the /ui/ answer carries the CSP, and the API still wants a token', async () => {
  const r = await fetch(ui);
  const csp = r.headers.get('content-security-policy') || '';
  const api401 = (await fetch(`${url}/jobs`)).status;
  return (csp.includes("script-src 'self'") && !csp.includes('unsafe') && api401 === 401) ||
    `csp=${csp} GET /jobs without token=${api401}`;
});

await step('the daemon\'s address opens the dashboard in a browser', async () => {
  await page.goto(`${url}/`);
  await page.waitForSelector('#token');
  return page.url() === ui || page.url();
});

await step('a wrong token is refused with the message shown', async () => {
  await page.goto(ui);
  await shot(page, 'signin');
  await signIn(page, `${token}-wrong`);
  await page.waitForSelector('#signin-msg.error');
  const msg = await page.locator('#signin-msg').innerText();
  const stored = await page.evaluate(() => sessionStorage.length);
  return (/wrong token/i.test(msg) && /401/.test(msg) && stored === 0) || `message "${msg}"`;
});

await step('sign in with the full token: the example jobs appear', async () => {
  await signIn(page, token);
  for (const j of ['hello', 'heartbeat', 'disk-usage'])
    await page.waitForSelector(`tr[data-job="${j}"]`, { timeout: 10000 });
  const inLocal = await page.evaluate(() => localStorage.length + document.cookie.length);
  await shot(page, 'jobs');
  return inLocal === 0 || 'the token went beyond sessionStorage';
});

await step('the filter box narrows the jobs to those matching', async () => {
  await page.fill('#job-filter', 'load average');
  await page.locator('tr[data-job]').nth(1).waitFor({ state: 'detached' });
  const only = await page.locator('tr[data-job]').getAttribute('data-job');
  await page.fill('#job-filter', '');
  await page.waitForSelector('tr[data-job="hello"]');
  return only === 'heartbeat' || `left ${only}`;
});

await step('keyboard: Tab reaches the nav links and Enter opens a view', async () => {
  await page.reload();		// the focus starts at the top, still signed in
  await page.waitForSelector('tr[data-job="hello"]');
  let on = '';
  const seen = [];
  for (let i = 0; i < 10 && on !== '#/nodes'; i++) {
    await page.keyboard.press('Tab');
    on = await page.evaluate(() => document.activeElement.getAttribute('href') ||
      document.activeElement.id || document.activeElement.tagName);
    seen.push(on);
  }
  if (on !== '#/nodes') return `Tab never reached the Nodes link: ${seen.join(' ')}`;
  await page.keyboard.press('Enter');
  await page.waitForSelector('tr[data-node="local"]', { timeout: 5000 });
  await shot(page, 'nodes');
  return page.url().endsWith('#/nodes') || page.url();
});

await step('a refresh of an unchanged view redraws nothing but its relative times (304 when the API gives ETags)', async () => {
  const seen = [];
  const onResp = (r) => {
    if (new URL(r.url()).pathname === '/nodes')
      seen.push([r.status(), r.headers().etag || '']);
  };
  await page.locator('table[aria-label="Nodes"]').evaluate((t) => { t.dataset.kept = 'yes'; });
  page.on('response', onResp);
  await page.waitForTimeout(3500);		// one refresh (every 3 s)
  page.off('response', onResp);
  const since = page.locator('tr[data-node="local"] time.rel');
  await since.evaluate((el) => { el.textContent = 'stale'; });
  await page.locator('tr[data-node="local"] time.rel', { hasText: 'stale' }).waitFor({ state: 'detached', timeout: 5000 });
  const kept = await page.locator('table[aria-label="Nodes"][data-kept="yes"]').count();
  if (kept !== 1) return 'the nodes table was drawn again';
  if (!seen.length) return 'no refresh of /nodes seen';
  if (!seen.some(([, e]) => e)) {
    console.log('# the API gives no ETag: every refresh is a 200');
    return true;
  }
  return seen.every(([st]) => st === 304) || `answers: ${JSON.stringify(seen)}`;
});

// Presses Tab until the focused element satisfies is (given its id, href
// and data-sort), at most n times; returns what was focused on the way.
async function tabTo(pg, is, n = 25) {
  const seen = [];
  for (let i = 0; i < n; i++) {
    await pg.keyboard.press('Tab');
    const on = await pg.evaluate(() => {
      const e = document.activeElement;
      return { id: e.id, href: e.getAttribute('href'), sort: e.dataset.sort, tag: e.tagName };
    });
    seen.push(on.id || on.href || on.sort || on.tag);
    if (is(on)) return { ok: true, seen };
  }
  return { ok: false, seen };
}

await step('keyboard: Tab reaches the filter then a sort button, whose Enter and Space turn its column\'s aria-sort', async () => {
  await page.goto(`${ui}#/jobs`);
  await page.reload();
  await page.waitForSelector('tr[data-job="hello"]');
  const sortOf = (k) => page.locator(`th:has(> button[data-sort="${k}"])`).getAttribute('aria-sort');
  const to = await tabTo(page, (on) => on.sort === 'name');
  if (!to.ok || !to.seen.includes('job-filter'))
    return `Tab order: ${to.seen.join(' ')}`;
  const seen = [await sortOf('name')];
  await page.keyboard.press('Enter');
  seen.push(await sortOf('name'));
  await page.keyboard.press('Space');
  seen.push(await sortOf('name'));
  await page.keyboard.press('Tab');
  await page.keyboard.press('Enter');
  seen.push(await sortOf('status'), await sortOf('name'));
  const onButton = await page.locator('button[aria-sort]').count();
  const want = ['ascending', 'descending', 'ascending', 'ascending', null];
  return (JSON.stringify(seen) === JSON.stringify(want) && onButton === 0) ||
    `aria-sort name, after Enter, after Space, then status and name: ${JSON.stringify(seen)}` +
    ` (want ${JSON.stringify(want)}); on a button: ${onButton}`;
});

await step('run now from the keyboard: the run page shows the output so far, marked live, then all of it', async () => {
  await page.goto(`${ui}#/job/live`);
  await page.waitForSelector('#run-now');
  await page.reload();
  await page.waitForSelector('#run-now');
  await page.evaluate(() => { window.notReloaded = true; });
  const to = await tabTo(page, (on) => on.id === 'run-now');
  if (!to.ok) return `Tab never reached Run now: ${to.seen.join(' ')}`;
  await page.keyboard.press('Enter');
  await page.waitForURL(/#\/run\/\d+$/);
  const snap = () => page.evaluate(() => ({
    status: document.querySelector('#run-status .badge')?.dataset.status,
    out: document.querySelector('pre[data-stream="stdout"]')?.innerText || '',
    mark: [...document.querySelectorAll('.live-mark')].map((m) => m.innerText).join(' | '),
    lasted: document.querySelector('#run-duration')?.innerText || '',
  }));
  await page.locator('pre[data-stream="stdout"]', { hasText: 'first' }).waitFor();
  const mid = await snap();
  await page.waitForTimeout(1500);
  const later = await snap();
  await shot(page, 'run-live');
  await page.locator('#run-status .badge[data-status="SUCCESS"]').waitFor();
  await page.locator('pre[data-stream="stdout"]', { hasText: 'second' }).waitFor({ timeout: 5000 });
  const end = await snap();
  const still = await page.evaluate(() => window.notReloaded === true);
  const midOk = mid.status === 'STARTED' && /first/.test(mid.out) && !/second/.test(mid.out) &&
    /live/i.test(mid.mark) && /so far/i.test(mid.mark) &&
    /so far/.test(mid.lasted) && later.lasted !== mid.lasted;
  const endOk = /first\s+second/.test(end.out) && end.mark === '' &&
    /^[\d.]+ (ms|s)$/.test(end.lasted);
  return (midOk && endOk && still) ||
    `while running: ${JSON.stringify(mid)}, then ${JSON.stringify(later)}; at the end: ${JSON.stringify(end)}; page kept: ${still}`;
});

await step('the job page counts scheduled runs against max_runs, not Run now, and hides the count with neither', async () => {
  await page.goto(`${ui}#/job/live`);
  const n = await page.locator('#scheduled-runs').innerText();
  const label = await page.locator('dt', { hasText: 'Scheduled runs' }).count();
  await page.goto(`${ui}#/job/slow`);
  await page.waitForSelector('#definition:not(:empty)');
  await page.locator('#main dl.kv dt', { hasText: 'Source' }).waitFor();
  const onSlow = await page.locator('#main dl.kv dt', { hasText: /Runs/i }).count();
  return (n === '0 of 5' && label === 1 && onSlow === 0) ||
    `live (max_runs 5, one manual run): "${n}" labelled: ${label}; a count on slow: ${onSlow}`;
});

let runId = null;
await step('run now: the run page shows the run live until it succeeds, without a reload', async () => {
  await page.goto(`${ui}#/job/slow`);
  await page.waitForSelector('#run-now');
  await page.evaluate(() => { window.notReloaded = true; });
  await page.click('#run-now');
  await page.waitForURL(/#\/run\/\d+$/);
  runId = page.url().replace(/.*#\/run\//, '');
  const seen = new Set();
  let cancel = false;
  for (let i = 0; i < 100; i++) {
    try { seen.add(await statusText(page)); } catch { /* not drawn yet */ }
    cancel = cancel || await page.locator('#cancel').isVisible();
    if ([...seen].some((s) => /succeeded/.test(s))) break;
    await page.waitForTimeout(200);
  }
  const still = await page.evaluate(() => window.notReloaded === true);
  await shot(page, 'run');
  const list = [...seen].join(', ');
  const gone = await page.locator('#cancel').count() === 0;
  return (still && /running|pending/.test(list) && /succeeded/.test(list) && cancel && gone) ||
    `statuses seen: ${list}; page kept: ${still}; cancel shown while running: ${cancel}, gone at the end: ${gone}`;
});

await step('its output is shown', async () => {
  const out = await page.locator('pre[data-stream="stdout"]').innerText();
  return /slow run done/.test(out) || `stdout: ${out}`;
});

await step('output cut by output_limit is marked as cut', async () => {
  const r = await fetch(`${url}/jobs/big/run`, { method: 'POST', headers: { Authorization: `Bearer ${token}` } });
  const { id } = await r.json();
  await page.goto(`${ui}#/run/${id}`);
  await page.locator('#run-status .badge[data-status="SUCCESS"]').waitFor();
  const out = await page.locator('pre[data-stream="stdout"]').innerText();
  const mark = page.locator('pre[data-stream="stdout"] .cut');
  const cut = await mark.count() === 1 && /bytes omitted/.test(await mark.innerText());
  return (cut && out.startsWith('1\n2\n3\n') && out.trimEnd().endsWith('\n5000') &&
    !out.includes('\n2500\n')) || `cut marked: ${cut}; output ${JSON.stringify(out.slice(0, 20))}` +
    `...${JSON.stringify(out.slice(-20))}`;
});

await step('pause then resume: the page and the API agree', async () => {
  await page.goto(`${ui}#/job/slow`);
  await page.click('#pause');
  await page.waitForSelector('#resume');
  await page.waitForSelector('.badge[data-status="paused"]');
  const p1 = (await api('/jobs/slow')).state.paused;
  await page.click('#resume');
  await page.waitForSelector('#pause');
  await page.locator('#main dl .badge[data-status="paused"]').waitFor({ state: 'detached' });
  const p2 = (await api('/jobs/slow')).state.paused;
  await shot(page, 'job');
  return (p1 === true && p2 === false) || `paused after pause: ${p1}, after resume: ${p2}`;
});

await step('HTML in a job\'s output and description is shown as text, no script runs', async () => {
  await page.goto(`${ui}#/jobs`);
  const row = page.locator('tr[data-job="xss"]');
  await row.waitFor();
  const desc = await row.locator('td').first().locator('.sub').innerText();
  await page.goto(`${ui}#/job/xss`);
  await page.click('#run-now');
  await page.waitForURL(/#\/run\/\d+$/);
  await page.locator('#run-status .badge[data-status="SUCCESS"]').waitFor({ timeout: 20000 });
  const out = await page.locator('pre[data-stream="stdout"]').innerText();
  const scripts = await page.evaluate(() => [...document.scripts].map((s) => s.src || 'inline'));
  const imgs = await page.locator('#main img').count();
  await page.waitForTimeout(500);
  if (!out.includes('<script>alert(1)</script>')) return `stdout shown: ${out}`;
  if (!desc.includes('<img src=x onerror=alert(2)>')) return `description shown: ${desc}`;
  if (scripts.length !== 1 || !scripts[0].endsWith('/ui/app.js')) return `scripts: ${scripts}`;
  if (imgs !== 0) return `${imgs} img elements made from data`;
  return dialogs.length === 0 || `dialogs: ${dialogs}`;
});

await step('the runs view lists the runs', async () => {
  await page.goto(`${ui}#/runs`);
  await page.waitForSelector(`tr[data-run="${runId}"]`);
  await shot(page, 'runs');
});

await step('keyboard: Tab reaches the runs view\'s Older; after Enter the focus stays on the pager', async () => {
  for (let i = 0; i < 55; i++)
    await fetch(`${url}/jobs/quick/run`, { method: 'POST', headers: { Authorization: `Bearer ${token}` } });
  await page.goto(`${ui}#/runs`);
  await page.locator('.pager button[data-page="next"]:not([disabled])').waitFor();
  await page.reload();
  await page.locator('.pager button[data-page="next"]:not([disabled])').waitFor();
  const to = await tabTo(page, (on) => on.tag === 'BUTTON' && on.id === '' && !on.sort, 140);
  if (!to.ok) return `Tab never reached a pager button: ${to.seen.slice(-5).join(' ')}`;
  const focused = () => page.evaluate(() => {
    const e = document.activeElement;
    return e.closest('.pager') && !e.disabled ? e.dataset.page : e.tagName;
  });
  await page.keyboard.press('Enter');
  await page.locator('.pager', { hasText: 'runs before #' }).waitFor();
  const first = await focused();
  if (first !== 'prev' && first !== 'next') return `focus after Older: ${first}`;
  const info = await page.locator('.pager span').innerText();
  await page.keyboard.press('Enter');
  await page.locator('.pager span', { hasNotText: info }).waitFor();
  const second = await focused();
  return second === 'prev' || second === 'next' || `focus after Enter again: ${second}`;
});

await step('the outbox view shows each sink and the parked report, which Retry re-queues', async () => {
  await page.goto(`${ui}#/outbox`);
  await page.waitForSelector('table[aria-label="Sinks"] tbody tr');
  const row = page.locator('table[aria-label="Parked entries"] tbody tr', { hasText: 'notified' });
  await row.first().waitFor();
  await shot(page, 'outbox');
  await row.first().locator('button.retry').click();
  await page.locator('#status', { hasText: 're-queued' }).waitFor();
  return /1 re-queued/.test(await page.locator('#status').innerText()) ||
    await page.locator('#status').innerText();
});

await step('the cluster view is not offered outside cluster mode', async () =>
  page.locator('#nav-cluster').isHidden());

await step('sign out forgets the token', async () => {
  await page.click('#signout');
  await page.waitForSelector('#token');
  return (await page.evaluate(() => sessionStorage.length)) === 0;
});

const ro = await t.newPage();
await step('a read-only token sees no action buttons', async () => {
  await signIn(ro, readToken);
  await ro.waitForSelector('tr[data-job="slow"]');
  await ro.goto(`${ui}#/job/slow`);
  await ro.waitForSelector('#definition:not(:empty)');
  const onJob = await ro.locator('#run-now, #pause, #resume').count();
  const said = await ro.locator('#access').isVisible();
  await ro.goto(`${ui}#/run/${runId}`);
  await ro.waitForSelector('#run-status');
  const onRun = await ro.locator('#cancel').count();
  await ro.goto(`${ui}#/outbox`);
  await ro.locator('table[aria-label="Parked entries"] tbody tr').first().waitFor();
  const onOutbox = await ro.locator('button.retry, #retry-all').count();
  await ro.goto(`${ui}#/job/slow`);
  await ro.waitForSelector('#definition:not(:empty)');
  await shot(ro, 'job-read-only');
  return (onJob === 0 && onRun === 0 && onOutbox === 0 && said) ||
    `${onJob} job buttons, ${onRun} cancel, ${onOutbox} retry, "read-only token" shown: ${said}`;
});

await t.end();
