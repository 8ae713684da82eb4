// ui.mjs URL TOKEN ROUNDS JOB - bench/ui.sh's browser side: per round, a
// fresh headless chromium page (the token put in sessionStorage before the
// page loads) times, from the navigation's start:
//   jobs: the first row of the jobs view drawn; interactive: the filter box
//         typed into and the table narrowed to the one job matching;
//   job:  JOB's page with its 50-run timeline drawn;
//   runs: the runs view's 50 rows drawn;
//   floor: a static HTML page holding the same jobs' rows (no script, no API).
// Prints one line per round, in milliseconds.  (Waits are locators:
// waitForFunction's polling evaluates strings, which the page's CSP refuses.)
const { chromium } = await import(process.env.PLAYWRIGHT);
const [url, token, rounds, job] = process.argv.slice(2);
const ui = `${url}/ui/`;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox'],
});

async function page() {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  await ctx.addInitScript((t) => sessionStorage.setItem('distcron.token', t), token);
  return ctx.newPage();
}

// The jobs as a static table, for the floor.
const jobs = await (await fetch(`${url}/jobs?limit=1000`,
  { headers: { Authorization: `Bearer ${token}` } })).json();
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
const floorHtml = '<!DOCTYPE html><meta charset="utf-8"><table><tbody>' +
  jobs.jobs.map((j) => `<tr data-job="${esc(j.name)}"><td><a href="#">${esc(j.name)}</a>` +
    `<td>${esc(j.schedule)}<td>${esc(j.next_run)}<td>${esc(j.last_run ? j.last_run.status : '')}`).join('') +
  '</tbody></table>';

async function timed(p, go, until) {
  const t0 = Date.now();
  await go();
  await until();
  return Date.now() - t0;
}

for (let r = 1; r <= Number(rounds); r++) {
  const p = await page();
  const first = await timed(p, () => p.goto(`${ui}#/jobs`), () => p.waitForSelector('tr[data-job]'));
  const t1 = Date.now();
  await p.fill('#job-filter', job);
  await p.locator('tr[data-job]').nth(1).waitFor({ state: 'detached' });
  const inter = first + (Date.now() - t1);
  const jobMs = await timed(p, () => p.goto(`${ui}#/job/${job}`),
    () => p.locator('tr[data-run]').nth(49).waitFor());
  const runsMs = await timed(p, () => p.goto(`${ui}#/runs`),
    () => p.locator('tr[data-run]').nth(49).waitFor());
  const q = await page();
  const floor = await timed(q, () => q.setContent(floorHtml),
    () => q.waitForSelector(`tr[data-job="${jobs.jobs[jobs.jobs.length - 1].name}"]`));
  console.log(`round ${r}: jobs first row ${first} ms, interactive (filtered) ${inter} ms; ` +
    `job page with 50 runs ${jobMs} ms; runs view ${runsMs} ms; floor (static ${jobs.jobs.length} rows) ${floor} ms`);
  await p.context().close();
  await q.context().close();
}
await browser.close();
