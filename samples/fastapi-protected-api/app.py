"""A resource server in FastAPI that accepts Latchkey's access tokens, with PyJWT and nothing Latchkey-specific.

Keys come from {LATCHKEY_AUTHORITY}/.well-known/jwks.json (PyJWKClient caches them and refetches on an unknown
`kid`, so key rotation needs no restart). A token must be signed by one of those keys with that key's own `alg`,
issued by the Authority (`iss`) for this API (`aud` = LATCHKEY_AUDIENCE) and unexpired.

    LATCHKEY_AUTHORITY=http://127.0.0.1:5000 /usr/bin/python3 -m uvicorn app:app --port 8001
    curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8001/hello

Outcomes: no token or an invalid one -> 401 with a Bearer challenge (RFC 6750 §3.1); valid but without role
"admin" on /admin -> 403.
"""
import ipaddress
import os
from urllib.parse import urlsplit

import jwt
from fastapi import Depends, FastAPI, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

# Where Latchkey runs (its issuer, exactly) and the audience this API answers to.
AUTHORITY = os.environ.get("LATCHKEY_AUTHORITY", "http://127.0.0.1:5000").rstrip("/")
AUDIENCE = os.environ.get("LATCHKEY_AUDIENCE", "api")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# The keys decide which tokens are genuine, so they must not come over plain http from another machine:
# http is accepted only for a Latchkey on this machine (development, the tests).
_url = urlsplit(AUTHORITY)
if _url.scheme != "https" and not (_url.scheme == "http" and _is_loopback(_url.hostname or "")):
    raise SystemExit(f"LATCHKEY_AUTHORITY={AUTHORITY} must be an https URL (plain http only for localhost, 127.x or ::1).")

jwks = jwt.PyJWKClient(f"{AUTHORITY}/.well-known/jwks.json", cache_keys=True, lifespan=300)
# auto_error=False: a missing header is answered below with 401 and a challenge, not FastAPI's default 403.
bearer = HTTPBearer(auto_error=False)
app = FastAPI(title="Latchkey-protected API")


def _unauthorized(error: str | None = None) -> HTTPException:
    challenge = "Bearer" if error is None else f'Bearer error="{error}"'
    return HTTPException(status.HTTP_401_UNAUTHORIZED, "Not authenticated", headers={"WWW-Authenticate": challenge})


def _key_algorithm(key: jwt.PyJWK) -> str:
    # PyJWT >= 2.7 names it; Debian 12's 2.6 keeps the JWK's members (Latchkey always publishes `alg`).
    return getattr(key, "algorithm_name", None) or key._jwk_data["alg"]


def claims(credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> dict:
    """The verified claims of the bearer token, or 401."""
    if credentials is None:
        raise _unauthorized()
    try:
        key = jwks.get_signing_key_from_jwt(credentials.credentials)
        # Only the algorithm of the key that matched the `kid`: never whatever the token's header asks for.
        return jwt.decode(
            credentials.credentials,
            key.key,
            algorithms=[_key_algorithm(key)],
            audience=AUDIENCE,
            issuer=AUTHORITY,
            options={"require": ["exp", "iss", "aud", "sub"]},
        )
    except (jwt.PyJWTError, KeyError) as e:
        # Bad signature, wrong issuer or audience, expired, unknown kid: the client learns only that the token is invalid.
        raise _unauthorized("invalid_token") from e


def admin(token: dict = Depends(claims)) -> dict:
    """The claims of a token whose `role` includes "admin", or 403."""
    roles = token.get("role", [])
    if isinstance(roles, str):
        roles = [roles]
    if "admin" not in roles:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Requires role admin")
    return token


def _caller(endpoint: str, token: dict) -> dict:
    roles = token.get("role", [])
    return {"endpoint": endpoint, "sub": token.get("sub"), "name": token.get("preferred_username"),
            "roles": [roles] if isinstance(roles, str) else roles}


@app.get("/hello")
def hello(token: dict = Depends(claims)) -> dict:
    return _caller("hello", token)


@app.get("/admin")
def admin_only(token: dict = Depends(admin)) -> dict:
    return _caller("admin", token)
