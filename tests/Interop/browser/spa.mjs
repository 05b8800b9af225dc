// Usage: node spa.mjs <spaUrl> <username> <password> <outputDir>
// samples/spa in Debian's chromium: "Sign in with Latchkey", the login page, the consent page (a public client returning to
// http on a loopback host is asked every time), back in the app, which exchanged the code and called /userinfo itself,
// cross-origin (CORS). Any CSP violation, page error or console error fails the run. Prints a JSON summary; exits 1 on a failure.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const [spaUrl, username, password, outputDir] = process.argv.slice(2);
if (!outputDir) {
  console.error('usage: node spa.mjs <spaUrl> <username> <password> <outputDir>');
  process.exit(2);
}
mkdirSync(outputDir, { recursive: true });
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const problems = [];
const result = {};
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  await context.addInitScript(() => document.addEventListener('securitypolicyviolation', e =>
    console.error(`CSP violation: ${e.effectiveDirective} blocked ${e.blockedURI || '(inline)'}`)));
  const page = await context.newPage();
  page.setDefaultTimeout(20000);
  page.on('pageerror', e => problems.push(`page error: ${e}`));
  page.on('console', m => { if (m.type() === 'error') problems.push(`console error: ${m.text()}`); });

  await page.goto(spaUrl);
  await page.getByRole('button', { name: 'Sign in with Latchkey' }).click();
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByRole('button', { name: 'Allow' }).click();
  await page.locator('#status', { hasText: /Signed in|failed/ }).waitFor();
  result.status = await page.locator('#status').innerText();
  result.address = page.url();
  result.claims = JSON.parse((await page.locator('#claims').innerText()) || '{}');
  result.userinfo = JSON.parse((await page.locator('#userinfo').innerText()) || '{}');
  await page.screenshot({ path: join(outputDir, 'spa-signed-in.png'), fullPage: true });
} catch (e) {
  problems.push(`the run stopped: ${e.stack || e}`);
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
if (problems.length > 0) {
  console.error(problems.join('\n'));
  process.exit(1);
}
