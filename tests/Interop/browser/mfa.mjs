// Usage: node mfa.mjs <baseUrl> <clientId> <callbackPort> <usernamePrefix> <password> <serverUnixSeconds> <outputDir>
// A second factor in Debian's chromium, as a person meets it, at a phone size (390x844) and a desktop size (1280x800), each
// with its own user (<usernamePrefix>1, <usernamePrefix>2): the account page's login, the account page, "Set up an
// authenticator app" (the key read off the page, its code computed here by RFC 6238 at the server's clock,
// <serverUnixSeconds>, which the test holds still), the recovery codes shown once; then a sign-in to the app: the password,
// the code page, a wrong code's error, "Use a recovery code", and the return to the app with a code (a loopback listener on
// <callbackPort> plays the app). The bad inputs, each refused on the page: a code used already, a code two steps off, the
// code form posted without its antiforgery token, a recovery code used twice, and codes guessed until the throttle engages
// (by the 10th). On every page: axe-core (WCAG 2.x A and AA rules), a screenshot, a visible focus, no
// sideways scrolling, no CSP violation, page error or console error. Writes <outputDir>/<page>-<size>.png and
// <outputDir>/axe.json, prints a JSON summary, exits 0 when everything held; otherwise says what did not and exits 1.
import { mkdirSync } from 'node:fs';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { finish, launchChromium, pageChecker, startApp, watch } from './pagecheck.mjs';

const [baseUrl, clientId, callbackPort, usernamePrefix, password, serverSeconds, outputDir] = process.argv.slice(2);
if (!outputDir) {
  console.error('usage: node mfa.mjs <baseUrl> <clientId> <callbackPort> <usernamePrefix> <password> <serverUnixSeconds> <outputDir>');
  process.exit(2);
}
mkdirSync(outputDir, { recursive: true });
const redirectUri = `http://127.0.0.1:${callbackPort}/callback`;

function base32Decode(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const bytes = [];
  let buffer = 0, bits = 0;
  for (const c of text.replace(/=+$/, '')) {
    buffer = (buffer << 5) | alphabet.indexOf(c);
    bits += 5;
    if (bits >= 8) {
      bytes.push((buffer >> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(bytes);
}

// RFC 6238: HMAC-SHA-1 of the 30-second step, dynamically truncated to 6 digits.
function totp(key, unixSeconds) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(unixSeconds / 30)));
  const mac = createHmac('sha1', key).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1000000).padStart(6, '0');
}

/** Types a code on the code page and expects it refused with this message, the page asking again. */
async function codeRefused(page, code, message, label) {
  await page.getByLabel('Code from your authenticator app').fill(code);
  await page.getByRole('button', { name: 'Verify' }).click();
  const alert = page.getByRole('alert');
  await alert.waitFor();
  const shown = await alert.textContent();
  if (!shown.includes(message))
    problems.push(`${label}: the page said "${shown}", not "${message}"`);
}

const { callbacks, close: closeApp } = await startApp(callbackPort, redirectUri);

const sizes = [{ name: 'phone', width: 390, height: 844 }, { name: 'desktop', width: 1280, height: 800 }];
const browser = await launchChromium();
const problems = [];
const throttledAfter = {}; // wrong codes in a row until the page said "Too many attempts", per size
const report = {};
const shots = [];
const check = pageChecker(outputDir, report, problems, shots);

try {
  for (const [index, size] of sizes.entries()) {
    const username = `${usernamePrefix}${index + 1}`;
    const context = await browser.newContext({ viewport: { width: size.width, height: size.height } });
    const page = await context.newPage();
    await watch(context, page, problems, size.name);

    // The account page: its login, then the page itself.
    await page.goto(new URL('/account', baseUrl).href);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await check(page, 'account-login', size);
    await page.getByLabel('Username').fill(username);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('heading', { name: 'Your account' }).waitFor();
    await check(page, 'account', size);

    // Set up an authenticator app: the QR code and key, then the app's first code.
    await page.getByRole('button', { name: 'Set up an authenticator app' }).click();
    await page.getByRole('img', { name: "QR code of the authenticator app's key" }).waitFor();
    await check(page, 'account-enrol', size);
    const key = base32Decode((await page.locator('#totp-secret').textContent()).trim());
    await page.getByLabel('Code from your authenticator app').fill(totp(key, Number(serverSeconds)));
    await page.getByRole('button', { name: 'Turn on the authenticator app' }).click();
    await page.getByRole('heading', { name: 'Your recovery codes' }).waitFor();
    await check(page, 'account-recovery-codes', size);
    const codes = await page.locator('ul.codes li').allTextContents();
    if (codes.length !== 10)
      problems.push(`${size.name}: ${codes.length} recovery codes shown, not 10`);

    // A sign-in to the app in a new browser: the password, then the code page.
    const signIn = await browser.newContext({ viewport: { width: size.width, height: size.height } });
    const app2 = await signIn.newPage();
    await watch(signIn, app2, problems, size.name);
    const verifier = randomBytes(32).toString('base64url');
    const authorize = new URL('/authorize', baseUrl);
    for (const [k, v] of Object.entries({ response_type: 'code', client_id: clientId, redirect_uri: redirectUri, scope: 'openid', state: 'st-' + size.name,
      code_challenge: createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256' }))
      authorize.searchParams.set(k, v);
    await app2.goto(authorize.href);
    await app2.getByLabel('Username').fill(username);
    await app2.getByLabel('Password').fill(password);
    await app2.getByRole('button', { name: 'Sign in', exact: true }).click();
    await app2.getByRole('heading', { name: 'Enter your code' }).waitFor();
    await check(app2, 'code', size);
    // The bad inputs: the code that turned the app on (this step's, used already), a code two steps ahead, a form posted
    // without its antiforgery token; then a wrong code, whose page is the screenshot.
    await codeRefused(app2, totp(key, Number(serverSeconds)), 'That code has been used already', 'reused code');
    await codeRefused(app2, totp(key, Number(serverSeconds) + 60), 'That code is not right', 'code two steps ahead');
    const fields = await app2.evaluate(() => Object.fromEntries(new FormData(document.querySelector('form'))));
    delete fields.__antiforgery;
    const forged = await app2.request.post(new URL('/authorize/second-factor', baseUrl).href, { form: { ...fields, code: totp(key, Number(serverSeconds)) } });
    if (forged.status() !== 400 || !(await forged.text()).includes('This form has expired'))
      problems.push(`${size.name}: the code form without its antiforgery token got ${forged.status()}`);
    await codeRefused(app2, '000000' === totp(key, Number(serverSeconds)) ? '111111' : '000000', 'That code is not right', 'wrong code');
    await check(app2, 'code-error', size);
    await app2.getByText('Use a recovery code').click();
    await app2.getByLabel('Recovery code').fill(codes[0]);
    await app2.getByRole('button', { name: 'Sign in with the recovery code' }).click();
    await app2.getByRole('heading', { name: 'Back in the app' }).waitFor();
    const back = callbacks.at(-1);
    if (!back || back.searchParams.get('state') !== 'st-' + size.name || !back.searchParams.get('code'))
      problems.push(`${size.name}: the app got ${back} instead of a code`);
    await signIn.close();

    // The same recovery code again, in another browser: used. Then guessing codes: the throttle engages by the 10th.
    const again = await browser.newContext({ viewport: { width: size.width, height: size.height } });
    const app3 = await again.newPage();
    // The throttle's page is a 429, which chromium logs as a failed load: expected here.
    await watch(again, app3, problems, size.name, text => text.includes('status of 429'));
    await app3.goto(authorize.href);
    await app3.getByLabel('Username').fill(username);
    await app3.getByLabel('Password').fill(password);
    await app3.getByRole('button', { name: 'Sign in', exact: true }).click();
    await app3.getByText('Use a recovery code').click();
    await app3.getByLabel('Recovery code').fill(codes[0]);
    await app3.getByRole('button', { name: 'Sign in with the recovery code' }).click();
    const usedTwice = await app3.getByRole('alert').textContent();
    if (!usedTwice.includes('That code is not right'))
      problems.push(`${size.name}: a recovery code used twice: "${usedTwice}"`);
    let guesses = 0;
    for (; guesses < 12; guesses++) {
      await app3.getByLabel('Code from your authenticator app').fill(String(100000 + guesses));
      await app3.getByRole('button', { name: 'Verify' }).click();
      if ((await app3.getByRole('alert').textContent()).includes('Too many attempts'))
        break;
    }
    if (guesses > 10)
      problems.push(`${size.name}: ${guesses} wrong codes in a row and no throttle`);
    throttledAfter[size.name] = guesses + 1;
    await again.close();
    await context.close();
  }
} catch (e) {
  problems.push(`the run stopped: ${e.stack || e}`);
} finally {
  await browser.close();
  closeApp();
}

finish(outputDir, report, problems, { screenshots: shots, callbacks: callbacks.length, throttledAfter });
