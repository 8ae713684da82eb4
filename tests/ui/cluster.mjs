// cluster.mjs URL TOKEN SHOTS_DIR - the dashboard's cluster view against m1
// of a two-member cluster (tests/integration/ui.sh starts etcd and both; m2
// has a job file "extra" m1 lacks): the menu offers it, it names this
// member with its lease, lists both members and etcd's endpoint, and warns
// that the job files differ, naming the job; a screenshot.
import { start } from './lib.mjs';

const [url, token, shots] = process.argv.slice(2);
const t = await start(url, shots);
const page = await t.newPage();

await t.step('in cluster mode the menu offers the cluster view', async () => {
  await t.signIn(page, token);
  await page.locator('#nav-cluster').waitFor();
  await page.click('#nav-cluster');
  return page.url().endsWith('#/cluster') || page.url();
});

await t.step('the cluster view shows this member, its lease, the members and etcd', async () => {
  const row = page.locator('table[aria-label="Members"] tbody tr');
  await row.first().waitFor();
  const member = await row.first().innerText();
  const lease = await page.locator('dl.kv').first().innerText();
  const etcd = await page.locator('table[aria-label="etcd endpoints"] tbody tr').count();
  const started = await row.first().locator('time').getAttribute('datetime');
  await t.shot(page, 'cluster');
  const rows = await row.count();
  return (/m1 \(this one\)/.test(member) && /lease ok\s+true/.test(lease) && etcd === 1 &&
    rows === 2 && Math.abs(new Date(started) - Date.now()) < 3600e3) ||
    `first member row "${member}", ${rows} rows, lease "${lease.replace(/\n/g, ' ')}", ` +
    `${etcd} endpoints, started ${started}`;
});

await t.step('it warns that the members\' job files differ, naming the job', async () => {
  const warn = page.locator('.msg.warn');
  await warn.waitFor({ timeout: 20000 });
  const text = await warn.innerText();
  await t.shot(page, 'cluster');
  return /differ between members/.test(text) && /job "extra" is missing on m1/.test(text) ||
    `warning: ${text}`;
});

await t.end();
