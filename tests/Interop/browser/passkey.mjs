// Usage: node passkey.mjs <baseUrl> <otherOriginUrl> <clientId> <callbackPort> <usernamePrefix> <password> <outputDir>
// Passkeys in Debian's chromium with a virtual authenticator (the DevTools Protocol's WebAuthn domain: a platform
// authenticator with resident keys and user verification), at a phone size (390x844) and a desktop size (1280x800), each
// with its own user (<usernamePrefix>1, <usernamePrefix>2): "Add a passkey" on the account page (signed in with the
// password), the recovery codes, sign out; "Sign in with a passkey" at /authorize; the same passkey offered in the username
// field (conditional mediation); the passkey as the second factor after the password; a step-up to phr (acr_values) from a
// session made with a recovery code. And the bad inputs, each refused with a message on the page and no way in: the same
// answer posted again, an answer made on another origin for another relying party id (<otherOriginUrl>, a *.localhost name
// of the same server), another user's passkey as the second factor, a counter that went back. On every page: axe-core, a
// screenshot, a visible focus, no sideways scrolling, no CSP violation, page error or console error. Writes
// <outputDir>/<page>-<size>.png and <outputDir>/axe.json, prints a JSON summary, exits 0 when everything held; otherwise
// says what did not and exits 1.
import { mkdirSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { finish, launchChromium, pageChecker, startApp, watch } from './pagecheck.mjs';

const [baseUrl, otherOriginUrl, clientId, callbackPort, usernamePrefix, password, outputDir] = process.argv.slice(2);
if (!outputDir) {
  console.error('usage: node passkey.mjs <baseUrl> <otherOriginUrl> <clientId> <callbackPort> <usernamePrefix> <password> <outputDir>');
  process.exit(2);
}
mkdirSync(outputDir, { recursive: true });
const redirectUri = `http://127.0.0.1:${callbackPort}/callback`;
const rpId = new URL(baseUrl).hostname;

const { callbacks, close: closeApp } = await startApp(callbackPort, redirectUri);
const sizes = [{ name: 'phone', width: 390, height: 844 }, { name: 'desktop', width: 1280, height: 800 }];
const browser = await launchChromium();
const problems = [];
const report = {};
const shots = [];
const check = pageChecker(outputDir, report, problems, shots);
const counts = {};

function authorizeUrl(state, extra = {}) {
  const url = new URL('/authorize', baseUrl);
  const verifier = randomBytes(32).toString('base64url');
  for (const [k, v] of Object.entries({ response_type: 'code', client_id: clientId, redirect_uri: redirectUri, scope: 'openid', state,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256', ...extra }))
    url.searchParams.set(k, v);
  return url.href;
}

/** Waits for the app to get a code with this state. */
async function backInTheApp(page, state, label) {
  await page.getByRole('heading', { name: 'Back in the app' }).waitFor();
  const back = callbacks.at(-1);
  if (!back || back.searchParams.get('state') !== state || !back.searchParams.get('code'))
    problems.push(`${label}: the app got ${back} instead of a code for ${state}`);
  counts[label] = (counts[label] || 0) + 1;
}

/** A virtual platform authenticator on this page: resident keys, user verification, always verifying the user. */
async function authenticatorOn(context, page) {
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', ctap2Version: 'ctap2_1', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true,
      automaticPresenceSimulation: true },
  });
  return { cdp, authenticatorId };
}

/** Signs out on the account page ("Sign out of this browser"). */
async function signOut(page) {
  await page.goto(new URL('/account', baseUrl).href);
  await page.getByRole('button', { name: 'Sign out of this browser' }).click();
  await page.getByRole('heading', { name: 'You are signed out' }).waitFor();
}

/** Expects the page to show an error (role alert) containing text, and no code to reach the app. */
async function refused(page, text, label) {
  const before = callbacks.length;
  const alert = page.getByRole('alert');
  await alert.waitFor();
  const shown = await alert.textContent();
  if (!shown.includes(text))
    problems.push(`${label}: the page said "${shown}", not "${text}"`);
  if (callbacks.length !== before)
    problems.push(`${label}: the app got a code`);
}

/**
 * Runs in a page: asks the browser for an assertion of the passkey <id> for <challenge> and <rpId>, as an attacker's page
 * would (not through Latchkey's script), and returns its JSON.
 */
async function assertion({ challenge, id, rpId }) {
  const bytes = t => Uint8Array.from(atob(t.replace(/-/g, '+').replace(/_/g, '/')), c => c.charCodeAt(0));
  const text = b => btoa(String.fromCharCode(...new Uint8Array(b))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  const c = await navigator.credentials.get({ publicKey: { challenge: bytes(challenge), rpId, userVerification: 'required',
    allowCredentials: [{ type: 'public-key', id: bytes(id) }] } });
  const r = c.response;
  return JSON.stringify({ id: c.id, rawId: text(c.rawId), type: c.type, clientExtensionResults: {}, response: { clientDataJSON: text(r.clientDataJSON),
    authenticatorData: text(r.authenticatorData), signature: text(r.signature), userHandle: r.userHandle ? text(r.userHandle) : undefined } });
}

/** Posts the page's passkey form with this answer, as the page's script would. */
function submitAnswer(page, json) {
  return page.evaluate(answer => {
    const form = document.querySelector('form[data-passkey]');
    form.elements.credential.value = answer;
    form.submit();
  }, json);
}

const credentials = []; // each user's passkey, as the authenticator holds it (with its private key), to play the bad inputs

try {
  for (const [index, size] of sizes.entries()) {
    const username = `${usernamePrefix}${index + 1}`;
    const label = size.name;
    const context = await browser.newContext({ viewport: { width: size.width, height: size.height } });
    let page = await context.newPage();
    await watch(context, page, problems, label);
    let { cdp, authenticatorId } = await authenticatorOn(context, page);

    // The account page, signed in with the password: "Add a passkey".
    await page.goto(new URL('/account', baseUrl).href);
    await page.getByLabel('Username').fill(username);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('heading', { name: 'Your account' }).waitFor();
    await check(page, 'account-no-passkey', size);
    const name = size.name === 'phone' ? 'This phone' : 'This laptop';
    await page.getByLabel('Name of the new passkey').fill(name);
    await page.getByRole('button', { name: 'Add a passkey' }).click();
    await page.getByText(`The passkey ${name} is added.`).waitFor();
    await check(page, 'passkey-added', size);
    const codes = await page.locator('ul.codes li').allTextContents();
    if (codes.length !== 10)
      problems.push(`${label}: ${codes.length} recovery codes shown with the first passkey, not 10`);
    for (const control of [`Rename passkey ${name}`, `Remove passkey ${name}`])
      if (await page.getByRole('button', { name: control }).count() !== 1)
        problems.push(`${label}: no button "${control}"`);
    const { credentials: held } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    if (held.length !== 1 || !held[0].isResidentCredential || held[0].rpId !== rpId)
      problems.push(`${label}: the authenticator holds ${JSON.stringify(held.map(c => [c.rpId, c.isResidentCredential]))}, not one discoverable passkey for ${rpId}`);
    await signOut(page);

    // Conditional mediation: the login page asks for a passkey as it loads, and the browser offers it in the username
    // field; the virtual authenticator picks it at once, as a person choosing it there would.
    await page.goto(authorizeUrl('conditional-' + label));
    await backInTheApp(page, 'conditional-' + label, 'conditional mediation');
    await signOut(page);
    const [current] = (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials;
    credentials.push(current);
    await context.close();

    // The rest in a browser without conditional mediation (as some still are), so that no login page signs in by itself:
    // the same passkey, in a new virtual authenticator.
    const plain = await browser.newContext({ viewport: { width: size.width, height: size.height } });
    await plain.addInitScript(() => { PublicKeyCredential.isConditionalMediationAvailable = async () => false; });
    page = await plain.newPage();
    await watch(plain, page, problems, label);
    ({ cdp, authenticatorId } = await authenticatorOn(plain, page));
    await cdp.send('WebAuthn.addCredential', { authenticatorId, credential: current });

    // "Sign in with a passkey" at /authorize; its answer, captured on the way, then posted again.
    let captured = null;
    await page.route('**/authorize/passkey', async route => {
      captured = route.request().postData();
      await route.continue();
    });
    await page.goto(authorizeUrl('button-' + label));
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    if (await page.getByLabel('Username').getAttribute('autocomplete') !== 'username webauthn')
      problems.push(`${label}: the username field is not autocomplete="username webauthn"`);
    await check(page, 'login-with-passkey', size);
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await backInTheApp(page, 'button-' + label, 'passkey button');
    await page.unroute('**/authorize/passkey');
    const replay = await page.request.post(new URL('/authorize/passkey', baseUrl).href,
      { headers: { 'content-type': 'application/x-www-form-urlencoded' }, data: captured, maxRedirects: 0 });
    if (replay.status() !== 200 || !(await replay.text()).includes('has expired or was used already'))
      problems.push(`${label}: the replayed answer got ${replay.status()}, not the page saying it was used already`);
    await signOut(page);

    // The passkey as the second factor after the password.
    await page.goto(authorizeUrl('second-' + label));
    await page.getByLabel('Username').fill(username);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('heading', { name: 'Use your passkey' }).waitFor();
    await check(page, 'second-factor-passkey', size);
    await page.getByRole('button', { name: 'Use a passkey' }).click();
    await backInTheApp(page, 'second-' + label, 'second factor');
    await signOut(page);

    // Password and a recovery code (two factors, not phishing-resistant), then an app asking for phr: a step-up.
    await page.goto(authorizeUrl('recovery-' + label));
    await page.getByLabel('Username').fill(username);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByText('Use a recovery code').click();
    await page.getByLabel('Recovery code').fill(codes[0]);
    await page.getByRole('button', { name: 'Sign in with the recovery code' }).click();
    await backInTheApp(page, 'recovery-' + label, 'recovery code');
    await page.goto(authorizeUrl('step-up-' + label, { acr_values: 'phr' }));
    await page.getByRole('heading', { name: 'Use your passkey' }).waitFor();
    await check(page, 'step-up', size);
    if (await page.getByText('Use a recovery code').count() !== 0)
      problems.push(`${label}: the step-up to phr offers a recovery code`);
    await page.getByRole('button', { name: 'Use a passkey' }).click();
    await backInTheApp(page, 'step-up-' + label, 'step-up');
    await signOut(page);

    // An answer made on another origin, for another relying party id: the same key, held for that name too.
    await page.goto(authorizeUrl('other-origin-' + label));
    const challenge = await page.locator('form[data-passkey]').getAttribute('data-challenge');
    const other = await plain.newPage();
    const otherAuthenticator = await authenticatorOn(plain, other);
    await otherAuthenticator.cdp.send('WebAuthn.addCredential', { authenticatorId: otherAuthenticator.authenticatorId,
      credential: { ...current, rpId: new URL(otherOriginUrl).hostname, signCount: current.signCount + 100 } });
    await other.goto(new URL('/signin/passkeys.js', otherOriginUrl).href);
    const forged = await other.evaluate(assertion, { challenge, id: current.credentialId, rpId: new URL(otherOriginUrl).hostname });
    await other.close();
    await submitAnswer(page, forged);
    await refused(page, 'origin', 'other origin');
    await check(page, 'passkey-refused', size);

    // Another user's passkey (the phone's user's, put into this authenticator) as this user's second factor.
    if (index > 0) {
      await cdp.send('WebAuthn.addCredential', { authenticatorId, credential: credentials[0] });
      await page.goto(authorizeUrl('other-user-' + label));
      await page.getByLabel('Username').fill(username);
      await page.getByLabel('Password').fill(password);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await page.getByRole('heading', { name: 'Use your passkey' }).waitFor();
      const secondChallenge = await page.locator('form[data-passkey]').getAttribute('data-challenge');
      await submitAnswer(page, await page.evaluate(assertion, { challenge: secondChallenge, id: credentials[0].credentialId, rpId }));
      await refused(page, 'This passkey belongs to another account.', 'another user\'s passkey');
      await cdp.send('WebAuthn.removeCredential', { authenticatorId, credentialId: credentials[0].credentialId });
    }

    // A counter that went back: the key as it was when its counter was 0 (a copy made then).
    await cdp.send('WebAuthn.removeCredential', { authenticatorId, credentialId: current.credentialId });
    await cdp.send('WebAuthn.addCredential', { authenticatorId, credential: { ...current, signCount: 0 } });
    await page.goto(authorizeUrl('copied-' + label));
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await refused(page, 'SignCount must be greater', 'lowered counter');
    await plain.close();
  }
} catch (e) {
  problems.push(`the run stopped: ${e.stack || e}`);
} finally {
  await browser.close();
  closeApp();
}

finish(outputDir, report, problems, { screenshots: shots, callbacks: callbacks.length, flows: counts });
