"""A FastAPI web app with "Sign in with Latchkey": Authlib's OpenID Connect client (Debian's python3-authlib), the
authorization code flow with PKCE, and a signed session cookie (Starlette's SessionMiddleware). Nothing Latchkey-specific:
Authlib reads everything from {LATCHKEY_AUTHORITY}/.well-known/openid-configuration, checks the id token (signature
from the JWKS, iss, aud, exp, nonce, at_hash) and signs out through the end_session_endpoint.

    latchkey clients add fastapi-webapp --grant authorization_code --first-party \\
      --redirect-uri http://127.0.0.1:8002/auth --post-logout-redirect-uri http://127.0.0.1:8002/
    LATCHKEY_AUTHORITY=http://127.0.0.1:5000 LATCHKEY_CLIENT_ID=fastapi-webapp LATCHKEY_CLIENT_SECRET=lk_cs_… \\
      /usr/bin/python3 -m uvicorn app:app --port 8002
"""
import html
import ipaddress
import os
import secrets
from urllib.parse import urlencode, urlsplit

from authlib.integrations.starlette_client import OAuth
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.middleware.sessions import SessionMiddleware

AUTHORITY = os.environ.get("LATCHKEY_AUTHORITY", "http://127.0.0.1:5000").rstrip("/")
CLIENT_ID = os.environ.get("LATCHKEY_CLIENT_ID", "fastapi-webapp")
CLIENT_SECRET = os.environ["LATCHKEY_CLIENT_SECRET"]


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# The metadata and keys from the Authority decide which id tokens are genuine: https, or plain http on this machine only.
_authority = urlsplit(AUTHORITY)
if not (_authority.scheme == "https" or (_authority.scheme == "http" and _is_loopback(_authority.hostname or ""))):
    raise SystemExit(f"LATCHKEY_AUTHORITY {AUTHORITY!r} must be an https URL; plain http is allowed only for localhost, 127.x or ::1.")

app = FastAPI()
# The session cookie is signed with this key; a new random one at each start signs everyone out, which a sample can afford.
app.add_middleware(SessionMiddleware, secret_key=os.environ.get("SESSION_SECRET") or secrets.token_urlsafe(32), same_site="lax",
                   https_only=_authority.scheme == "https")

oauth = OAuth()
oauth.register(
    "latchkey",
    server_metadata_url=f"{AUTHORITY}/.well-known/openid-configuration",
    client_id=CLIENT_ID,
    client_secret=CLIENT_SECRET,
    client_kwargs={"scope": "openid profile email", "code_challenge_method": "S256"},
)


def _page(title: str, body: str) -> HTMLResponse:
    return HTMLResponse(f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,">'
                        f"<title>{html.escape(title)}</title></head><body><h1>{html.escape(title)}</h1>{body}</body></html>")


@app.get("/")
async def home(request: Request) -> HTMLResponse:
    user = request.session.get("user")
    if not user:
        return _page("FastAPI web app", '<p>You are not signed in.</p><p><a href="/login">Sign in with Latchkey</a></p>')
    rows = "".join(f'<tr><th scope="row">{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>' for k, v in user.items())
    return _page("FastAPI web app", f'<p>Signed in as <strong id="user">{html.escape(user.get("preferred_username", user["sub"]))}</strong>.</p>'
                                    f"<table><caption>The id token's claims</caption>{rows}</table>"
                                    '<p><a href="/logout">Sign out</a></p>')


@app.get("/login")
async def login(request: Request):
    return await oauth.latchkey.authorize_redirect(request, str(request.url_for("auth")))


@app.get("/auth")
async def auth(request: Request):
    token = await oauth.latchkey.authorize_access_token(request)  # the code exchange, and the id token's checks
    request.session["user"] = dict(token["userinfo"])
    request.session["id_token"] = token["id_token"]
    return RedirectResponse("/", status_code=303)


@app.get("/logout")
async def logout(request: Request):
    id_token = request.session.pop("id_token", None)
    request.session.clear()
    metadata = await oauth.latchkey.load_server_metadata()
    query = {"post_logout_redirect_uri": str(request.url_for("home")), "client_id": CLIENT_ID}
    if id_token:
        query["id_token_hint"] = id_token
    return RedirectResponse(f'{metadata["end_session_endpoint"]}?{urlencode(query)}', status_code=303)
