// Usage: node signin.mjs <baseUrl> <clientId> <callbackPort> <username> <password> <outputDir>
// Signs in through Latchkey's hosted pages in Debian's chromium, as a person would (fields found by their labels, buttons by
// their names), at a phone size (390x844) and a desktop size (1280x800): the login page (and its error after a wrong password),
// the consent page of a third-party client ("Allow"; prompt=consent, since the consent given at the first size is remembered), the return to the app with a code (a loopback listener on
// <callbackPort> plays the app), the logout confirmation ("Sign out"), the signed-out page and the error page of an unknown
// client. On every page: axe-core (WCAG 2.x A and AA rules), a screenshot, the keyboard focus ring of its first control, and
// no CSP violation, page error or console error. Writes <outputDir>/<page>-<size>.png and <outputDir>/axe.json, prints a JSON
// summary on stdout, and exits 0 when everything held; otherwise says what did not on stderr and exits 1.
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { finish, launchChromium, pageChecker, startApp, watch } from './pagecheck.mjs';

const [baseUrl, clientId, callbackPort, username, password, outputDir] = process.argv.slice(2);
if (!outputDir) {
  console.error('usage: node signin.mjs <baseUrl> <clientId> <callbackPort> <username> <password> <outputDir>');
  process.exit(2);
}
mkdirSync(outputDir, { recursive: true });
const redirectUri = `http://127.0.0.1:${callbackPort}/callback`;

// The app's callback: records what Latchkey sent back, and shows a plain page.
const { callbacks, close: closeApp } = await startApp(callbackPort, redirectUri);

const sizes = [{ name: 'phone', width: 390, height: 844 }, { name: 'desktop', width: 1280, height: 800 }];
const profile = mkdtempSync(join(tmpdir(), 'latchkey-chromium-'));
const browser = await launchChromium();
const problems = [];
const report = {};
const shots = [];
const check = pageChecker(outputDir, report, problems, shots);

function pkce() {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

try {
  for (const size of sizes) {
    const context = await browser.newContext({ viewport: { width: size.width, height: size.height } });
    const page = await context.newPage();
    let expectedStatus = null;
    // The error page answers 400 on purpose, and chromium logs that as a failed load.
    await watch(context, page, problems, size.name, text => expectedStatus && text.includes(`status of ${expectedStatus}`));

    const state = `st-${size.name}`;
    const { challenge } = pkce();
    const authorize = new URL('/authorize', baseUrl);
    for (const [k, v] of Object.entries({ response_type: 'code', client_id: clientId, redirect_uri: redirectUri, scope: 'openid profile api',
      state, nonce: 'n-' + size.name, code_challenge: challenge, code_challenge_method: 'S256', prompt: 'consent' }))
      authorize.searchParams.set(k, v);

    // The login page, then its error after a wrong password.
    await page.goto(authorize.href);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await check(page, 'login', size);
    await page.getByLabel('Username').fill(username);
    await page.getByLabel('Password').fill('not the password');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('alert').waitFor();
    await check(page, 'login-error', size);

    // The right password: the consent page of a third-party app.
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('button', { name: 'Allow' }).waitFor();
    await check(page, 'consent', size);
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.getByRole('heading', { name: 'Back in the app' }).waitFor();
    const back = callbacks.at(-1);
    if (!back || back.searchParams.get('state') !== state || !back.searchParams.get('code') || back.searchParams.get('iss') === null)
      problems.push(`${size.name}: the app got ${back} instead of a code with state ${state} and iss`);

    // Logout: the confirmation (no id_token_hint), then the signed-out page.
    await page.goto(new URL('/logout', baseUrl).href);
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    await check(page, 'logout', size);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'You are signed out' }).waitFor();
    await check(page, 'signed-out', size);

    // The error page of a request no app could have sent.
    const bad = new URL(authorize.href);
    bad.searchParams.set('client_id', 'no-such-app');
    expectedStatus = 400;
    const response = await page.goto(bad.href);
    if (response.status() !== 400)
      problems.push(`${size.name}: an unknown client got ${response.status()}, not 400`);
    await check(page, 'error', size);
    await context.close();
  }
} catch (e) {
  problems.push(`the run stopped: ${e.stack || e}`);
} finally {
  await browser.close();
  closeApp();
  rmSync(profile, { recursive: true, force: true });
}

finish(outputDir, report, problems, { screenshots: shots, callbacks: callbacks.length });
