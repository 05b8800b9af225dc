// Usage: node docs.mjs <baseUrl> <username> <password> <screenshotPath>
// Opens Latchkey's /docs (Swagger UI) in Debian's chromium, logs in with the UI's "Authorize" (the OAuth2 password
// grant against /token), runs "Try it out" on GET /me, checks that the response shows the username, and saves a
// screenshot. The page must work under the Content-Security-Policy that Latchkey sends with it: any CSP violation,
// uncaught page error or console error fails the run, so a policy that blocks part of the UI (a style sheet, an icon)
// is caught even when the login itself still works. Prints the policy it ran under. Exits 0 on success; otherwise
// prints what went wrong on stderr and exits 1.
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { chromium } from 'playwright-core';

const [baseUrl, username, password, screenshotPath] = process.argv.slice(2);
if (!baseUrl || !username || !password || !screenshotPath) {
  console.error('usage: node docs.mjs <baseUrl> <username> <password> <screenshotPath>');
  process.exit(2);
}

const executablePath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const profile = mkdtempSync(join(tmpdir(), 'latchkey-chromium-'));
// launchPersistentContext owns --user-data-dir: a fresh profile every run, so nothing leaks between runs.
const context = await chromium.launchPersistentContext(profile, {
  executablePath,
  headless: true,
  viewport: { width: 1280, height: 1400 },
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});

let failed = false;
let clip;
const page = context.pages()[0] ?? await context.newPage();
page.setDefaultTimeout(20000);
const browserErrors = [];
page.on('pageerror', e => browserErrors.push(`page error: ${e}`));
page.on('console', m => { if (m.type() === 'error') browserErrors.push(`console error: ${m.text()}`); });
// Recorded in the page itself, before any of its scripts run: each violation of the CSP, blocked or report-only.
await context.addInitScript(() => {
  document.addEventListener('securitypolicyviolation', e =>
    console.error(`CSP violation: ${e.effectiveDirective} blocked ${e.blockedURI || '(inline)'} at ${e.sourceFile}:${e.lineNumber}`));
});
try {
  const docs = await page.goto(new URL('/docs', baseUrl).href);
  const policy = (await docs.allHeaders())['content-security-policy'];
  if (!policy)
    throw new Error('/docs has no Content-Security-Policy header');
  await page.locator('.opblock-summary-path[data-path="/me"]').waitFor();

  // Authorize: the password flow of the document's oauth2 scheme.
  await page.locator('button.btn.authorize').first().click();
  const dialog = page.locator('.modal-ux');
  await dialog.locator('#oauth_username').fill(username);
  await dialog.locator('#oauth_password').fill(password);
  await dialog.locator('.auth-btn-wrapper button.authorize').click();
  // On success the dialog offers "Logout"; on failure it shows the token endpoint's error.
  await dialog.locator('button', { hasText: 'Logout' }).waitFor();
  await dialog.locator('button.btn-done').click();
  await dialog.waitFor({ state: 'detached' });

  // GET /me with the token ("Try it out" is on by default).
  const me = page.locator('.opblock-get').filter({ has: page.locator('.opblock-summary-path[data-path="/me"]') });
  await me.locator('.opblock-summary').click();
  await me.locator('button.execute').click();
  const body = me.locator('.live-responses-table .response-col_description .microlight, .live-responses-table .response-col_description pre').first();
  await body.waitFor();
  const status = (await me.locator('.live-responses-table tbody .response-col_status').first().innerText()).trim();
  const text = await body.innerText();
  const curl = await me.locator('.curl-command').innerText().catch(() => '');
  if (status !== '200')
    throw new Error(`GET /me answered ${status}: ${text}`);
  const claims = JSON.parse(text);
  if (claims.preferred_username !== username)
    throw new Error(`GET /me shows preferred_username ${JSON.stringify(claims.preferred_username)}, expected ${JSON.stringify(username)}: ${text}`);
  if (!/Authorization: Bearer /.test(curl))
    throw new Error(`the request the UI sent has no Bearer token: ${curl}`);

  // The page from the top down to the end of GET /me: the Authorize button (locked) and the /me response.
  const box = await me.boundingBox();
  clip = { x: 0, y: 0, width: page.viewportSize().width, height: Math.ceil(box.y + box.height + 16) };
  // Every request is done and the page has settled: any violation or error by now has been recorded.
  if (browserErrors.length > 0)
    throw new Error(`the page reported ${browserErrors.length} error(s) under the policy ${policy}`);
  console.log(JSON.stringify({ status, sub: claims.sub, preferred_username: claims.preferred_username, csp: policy }));
} catch (e) {
  failed = true;
  console.error(`docs.mjs: ${e.message}`);
  if (browserErrors.length > 0)
    console.error('page errors:\n' + browserErrors.join('\n'));
} finally {
  // A screenshot also on failure (then of the whole page): it shows where the UI stopped.
  try {
    mkdirSync(dirname(screenshotPath), { recursive: true });
    await page.screenshot({ path: screenshotPath, fullPage: true, clip });
  } catch (e) {
    failed = true;
    console.error(`docs.mjs: screenshot failed: ${e.message}`);
  }
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
