// A single-page app signing in with Latchkey: a public client (no secret), the authorization code flow with PKCE, run
// entirely in the browser with oauth4webapi. The token exchange and /userinfo are cross-origin calls, which Latchkey allows
// (CORS) for the origins of a client's registered redirect URIs. Tokens stay in memory; only the PKCE verifier, state and
// nonce wait in sessionStorage for the way back.
import * as oauth from '/oauth4webapi.js';

const { issuer, client_id } = await (await fetch('/config.json')).json();
const issuerUrl = new URL(issuer);
const redirect_uri = new URL('/', location.href).href;
const client = { client_id };
const clientAuth = oauth.None();
// Plain http only for a Latchkey on this machine (development); everywhere else the library requires https.
const http = issuerUrl.protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(issuerUrl.hostname);
const options = http ? { [oauth.allowInsecureRequests]: true } : {};
const as = await oauth.processDiscoveryResponse(issuerUrl, await oauth.discoveryRequest(issuerUrl, { algorithm: 'oidc', ...options }));

const show = (id, value) => { document.getElementById(id).textContent = typeof value === 'string' ? value : JSON.stringify(value, null, 2); };

document.getElementById('signin').addEventListener('click', async () => {
  const code_verifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const nonce = oauth.generateRandomNonce();
  sessionStorage.setItem('signin', JSON.stringify({ code_verifier, state, nonce }));
  const url = new URL(as.authorization_endpoint);
  url.search = new URLSearchParams({
    response_type: 'code', client_id, redirect_uri, scope: 'openid profile email', state, nonce,
    code_challenge: await oauth.calculatePKCECodeChallenge(code_verifier), code_challenge_method: 'S256',
  });
  location.assign(url);
});

const pending = sessionStorage.getItem('signin');
const here = new URL(location.href);
if (pending && (here.searchParams.has('code') || here.searchParams.has('error'))) {
  sessionStorage.removeItem('signin');
  const { code_verifier, state, nonce } = JSON.parse(pending);
  history.replaceState(null, '', '/'); // the code leaves the address bar (and the history) at once
  try {
    // Checks state and the iss parameter (RFC 9207), then exchanges the code (a CORS call to /token).
    const params = oauth.validateAuthResponse(as, client, here, state);
    const response = await oauth.authorizationCodeGrantRequest(as, client, clientAuth, params, redirect_uri, code_verifier, options);
    const result = await oauth.processAuthorizationCodeResponse(as, client, response, { expectedNonce: nonce, requireIdToken: true });
    const claims = oauth.getValidatedIdTokenClaims(result);
    show('claims', claims);
    const info = await oauth.processUserInfoResponse(as, client, claims.sub, await oauth.userInfoRequest(as, client, result.access_token, options));
    show('userinfo', info);
    show('status', `Signed in as ${info.preferred_username ?? claims.sub}.`);
  } catch (e) {
    show('status', `Sign-in failed: ${e.error ?? e.message}`);
  }
}
