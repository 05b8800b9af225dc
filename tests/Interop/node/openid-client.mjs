// Usage: node openid-client.mjs <issuer> <clientId> <clientSecret> <callbackPort> <username> <password>
// A relying party built on panva's openid-client 6 (an OpenID Foundation certified library), against Latchkey: discovery,
// the authorization code flow with PKCE, state and nonce (the user signs in through Latchkey's login page in Debian's
// chromium, driven by playwright-core), the code exchange with every id token check the library makes (iss, aud, exp, iat,
// nonce, at_hash, signature from the JWKS, the iss parameter of RFC 9207), /userinfo, a refresh, and the logout URL
// (RP-Initiated Logout) back to the app with its state; after it, prompt=none must come back login_required.
// Prints a JSON summary on stdout and exits 0; on any failure says what on stderr and exits 1.
import { createServer } from 'node:http';
import * as client from 'openid-client';
import { chromium } from 'playwright-core';

const [issuer, clientId, clientSecret, callbackPort, username, password] = process.argv.slice(2);
if (!password) {
  console.error('usage: node openid-client.mjs <issuer> <clientId> <clientSecret> <callbackPort> <username> <password>');
  process.exit(2);
}
const redirectUri = `http://127.0.0.1:${callbackPort}/callback`;
const afterLogout = `http://127.0.0.1:${callbackPort}/signed-out`;

// The app's own endpoints: each visit resolves the next wait for that path.
const waiting = new Map();
const app = createServer((req, res) => {
  const url = new URL(req.url, redirectUri);
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  res.end(`<!DOCTYPE html><html lang="en"><title>App</title><h1>App: ${url.pathname}</h1></html>`);
  waiting.get(url.pathname)?.(url);
});
await new Promise(resolve => app.listen(Number(callbackPort), '127.0.0.1', resolve));
const visit = path => new Promise(resolve => waiting.set(path, resolve));

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
let failed = false;
try {
  // Latchkey's issuer here is http://127.0.0.1:…: the library refuses plain http unless told it is a test.
  const config = await client.discovery(new URL(issuer), clientId, { redirect_uris: [redirectUri], post_logout_redirect_uris: [afterLogout] },
    client.ClientSecretBasic(clientSecret), { execute: [client.allowInsecureRequests] });
  const meta = config.serverMetadata();

  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const authorizationUrl = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri, scope: 'openid profile email api', state, nonce,
    code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
  });

  const page = await browser.newPage();
  page.setDefaultTimeout(20000);
  const callback = visit('/callback');
  await page.goto(authorizationUrl.href);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  const callbackUrl = await callback;

  const tokens = await client.authorizationCodeGrant(config, callbackUrl, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce,
    idTokenExpected: true });
  const claims = tokens.claims();
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);

  // Logout through the end-session endpoint, back to the app with its state.
  const signedOut = visit('/signed-out');
  await page.goto(client.buildEndSessionUrl(config, { id_token_hint: tokens.id_token, post_logout_redirect_uri: afterLogout, state: 'bye' }).href);
  const afterLogoutUrl = await signedOut;

  // Signed out: a silent sign-in now comes back login_required (with state and iss, which the library checks).
  const silentState = client.randomState();
  const silent = visit('/callback');
  await page.goto(client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri, scope: 'openid', state: silentState, prompt: 'none',
    code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()), code_challenge_method: 'S256',
  }).href);
  let silentError;
  try {
    await client.authorizationCodeGrant(config, await silent, { pkceCodeVerifier: verifier, expectedState: silentState });
  } catch (e) {
    silentError = e.error ?? e.code ?? String(e);
  }

  console.log(JSON.stringify({
    issuer: meta.issuer,
    sub: claims.sub,
    idTokenClaims: Object.keys(claims),
    nonceMatched: claims.nonce === nonce,
    preferred_username: claims.preferred_username,
    email: claims.email,
    userinfo,
    refreshed: { access_token: !!refreshed.access_token, rotated: refreshed.refresh_token !== tokens.refresh_token },
    logoutReturn: afterLogoutUrl.href,
    silentAfterLogout: silentError,
  }));
} catch (e) {
  failed = true;
  console.error(e.stack || String(e));
  if (e.cause) console.error('cause:', JSON.stringify(e.cause));
} finally {
  await browser.close();
  app.close();
}
process.exit(failed ? 1 : 0);
