// lib.mjs - what the browser tests share: named checks ("ok - NAME" /
// "FAIL - NAME (what was seen)"), steps, pages that record dialogs, CSP
// violations and page errors, sign-in and screenshots.  Usage:
//   const t = await start(url, shots);  ... await t.step(NAME, fn) ...
//   await t.end();   // the CSP check, then exits 1 if a check failed
// Waits are locators: waitForFunction's polling evaluates strings, which
// the page's CSP refuses.
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';

export async function start(url, shots) {
  const t = { url, ui: `${url}/ui/`, failed: 0, dialogs: [], cspErrors: [] };
  mkdirSync(shots, { recursive: true });
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox'],
  });

  t.check = (name, ok, detail) => {
    console.log(`${ok ? 'ok' : 'FAIL'} - ${name}${!ok && detail ? ` (${detail})` : ''}`);
    if (!ok) t.failed++;
  };
  // Passes when fn returns nothing or true; a string (what was seen),
  // false or an exception (a timeout waiting for the page) fail it.
  t.step = async (name, fn) => {
    try {
      const r = await fn();
      t.check(name, r === undefined || r === true, typeof r === 'string' ? r : 'false');
    } catch (e) {
      t.check(name, false, e.message.split('\n')[0]);
    }
  };
  t.api = async (path, tok) => {
    const r = await fetch(url + path, { headers: { Authorization: `Bearer ${tok}` } });
    return r.json();
  };
  t.shot = async (page, name) => {
    const path = `${shots}/${name}.png`;
    await page.screenshot({ path });
    console.log(`# screenshot: ${path}`);
  };
  t.newPage = async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await ctx.newPage();
    page.setDefaultTimeout(15000);
    page.on('dialog', (d) => { t.dialogs.push(d.message()); d.dismiss(); });
    page.on('console', (m) => {
      if (/Content.Security.Policy|Refused to/i.test(m.text())) t.cspErrors.push(m.text());
    });
    page.on('pageerror', (e) => t.cspErrors.push(`page error: ${e.message}`));
    return page;
  };
  t.signIn = async (page, tok) => {
    await page.goto(t.ui);
    await page.fill('#token', tok);
    await page.click('form.signin button[type=submit]');
  };
  t.end = async () => {
    t.check('no CSP violation or page error from the dashboard', t.cspErrors.length === 0,
      t.cspErrors.join(' | '));
    await browser.close();
    process.exit(t.failed ? 1 : 0);
  };
  return t;
}
