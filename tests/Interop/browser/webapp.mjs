// Usage: node webapp.mjs <webAppUrl> <username> <password> <outputDir> [<name>]
// What a newcomer does with a server-side web app that signs in with Latchkey (samples/WebApp: ASP.NET Core's stock OpenID
// Connect handler; samples/fastapi-webapp: Authlib) in Debian's chromium: "Sign in with Latchkey", the login page, back in
// the app signed in with the id token's claims, "Call the API" when the app has it (samples/ProtectedApi with the access
// token), "Sign out" through Latchkey's end_session_endpoint, and "Sign in" again showing the login page (the Latchkey
// session ended). Screenshots <outputDir>/<name>-*.png (name: webapp) at 1280x800. Prints a JSON summary; exits 1 on a failure.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const [webAppUrl, username, password, outputDir, name = 'webapp'] = process.argv.slice(2);
if (!outputDir) {
  console.error('usage: node webapp.mjs <webAppUrl> <username> <password> <outputDir>');
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
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.setDefaultTimeout(20000);
  page.on('pageerror', e => problems.push(`page error: ${e}`));
  page.on('console', m => { if (m.type() === 'error') problems.push(`console error: ${m.text()}`); });

  await page.goto(webAppUrl);
  await page.screenshot({ path: join(outputDir, `${name}-start.png`) });
  await page.getByRole('link', { name: 'Sign in with Latchkey' }).click();
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  result.loginPage = page.url();
  await page.screenshot({ path: join(outputDir, `${name}-login.png`) });
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.locator('#user').waitFor();
  result.signedInAs = await page.locator('#user').innerText();
  result.claims = await page.locator('th[scope=row]').allInnerTexts();
  if (await page.locator('#amr').count() > 0)
    result.amr = await page.locator('#amr').innerText();
  await page.screenshot({ path: join(outputDir, `${name}-signed-in.png`), fullPage: true });

  const api = page.getByRole('link', { name: 'Call the API with my access token' });
  if (await api.count() > 0) {
    await api.click();
    await page.locator('#status').waitFor();
    result.apiStatus = await page.locator('#status').innerText();
    result.apiBody = await page.locator('#body').innerText();
    await page.getByRole('link', { name: 'Back' }).click();
  }

  await page.getByRole('button', { name: 'Sign out' }).or(page.getByRole('link', { name: 'Sign out' })).click();
  await page.getByRole('link', { name: 'Sign in with Latchkey' }).waitFor();
  result.afterSignOut = page.url();
  await page.getByRole('link', { name: 'Sign in with Latchkey' }).click();
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  result.loginAgain = true;
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
