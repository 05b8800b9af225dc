// Verifies tokens with node `jose`, as an Express or Next.js API would.
// stdin: {"alg", "issuer", "audience", "tokens": [...], and "jwksUrl" (asymmetric) or "secret" (HS*, UTF-8 text)}
// stdout: one JSON array, per token {"ok": true, "header", "claims"} or {"ok": false, "error"}.
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { readInput } from './stdin.mjs';

const { alg, issuer, audience, tokens, jwksUrl, secret } = await readInput();
// The remote set is fetched once and shared by every token, like a long-running API does.
const key = secret !== undefined ? new TextEncoder().encode(secret) : createRemoteJWKSet(new URL(jwksUrl));

const results = [];
for (const token of tokens) {
  try {
    const { payload, protectedHeader } = await jwtVerify(token, key, { issuer, audience, algorithms: [alg], typ: 'at+jwt' });
    results.push({ ok: true, header: protectedHeader, claims: payload });
  } catch (e) {
    results.push({ ok: false, error: `${e.code ?? e.name}: ${e.message}` });
  }
}
process.stdout.write(JSON.stringify(results) + '\n');
