// Signs a token with node `jose`, for Latchkey's Jwt.Decode to verify.
// stdin: {"alg", "claims": {...}, "kid"?, and "privateKeyPem" (PKCS#8, asymmetric) or "secretHex" (HS*)}
// stdout: {"token": "..."}
import { SignJWT, importPKCS8 } from 'jose';
import { readInput } from './stdin.mjs';

const { alg, claims, kid, privateKeyPem, secretHex } = await readInput();
const key = secretHex !== undefined ? Uint8Array.from(Buffer.from(secretHex, 'hex')) : await importPKCS8(privateKeyPem, alg);
const header = kid === undefined ? { alg, typ: 'JWT' } : { alg, typ: 'JWT', kid };
const token = await new SignJWT(claims).setProtectedHeader(header).sign(key);
process.stdout.write(JSON.stringify({ token }) + '\n');
