"""The seed tutorial's FastAPI app ("JWT Token Creation with FastAPI", /work/shared/seed), as bench/run.sh's peer.

Its four steps, literally: `user_data`, `SECRET_KEY`, `jwt.encode(user_data, SECRET_KEY, algorithm="HS256")` and
`GET /token` returning `{"access_token": token}`; plus its quiz's `exp` 30 minutes ahead in UTC, so that a token is
made per request, as a token server must. Two handler styles, as FastAPI users write them:

    /usr/bin/python3 -m uvicorn app:app --workers 1 --no-access-log --loop uvloop --http httptools --port 8000
                                                                  # BENCH_HANDLER=async (default) or sync

uvloop and httptools (Debian's python3-uvloop and python3-httptools) are what `pip install "fastapi[standard]"`, the
install FastAPI's docs give, runs uvicorn on; without them uvicorn falls back to asyncio's loop and the pure-Python h11
parser, at about half the rate (bench/README.md).

BENCH_HANDLER=sync declares `def token()`, which FastAPI runs in its thread pool; async declares `async def token()`,
run on the event loop. BENCH_JWT=pyjwt (default: PyJWT, python3-jwt) or jose (python-jose, the tutorial's import).
"""
import os
from datetime import datetime, timedelta, timezone

from fastapi import FastAPI
from fastapi.responses import JSONResponse

if os.environ.get("BENCH_JWT", "pyjwt") == "jose":
    from jose import jwt
else:
    import jwt

# Step 1: the user data that goes inside the token.
user_data = {"sub": "user123", "role": "admin"}

# Step 2: the secret key that signs it.
SECRET_KEY = "mysecretkey123"

# Step 4: a FastAPI app with GET /token.
app = FastAPI()


def make_token() -> str:
    # Step 3, per request, with the quiz's exp: 30 minutes ahead, in UTC.
    claims = dict(user_data, exp=datetime.now(timezone.utc) + timedelta(minutes=30))
    return jwt.encode(claims, SECRET_KEY, algorithm="HS256")


if os.environ.get("BENCH_HANDLER", "async") == "sync":
    @app.get("/token")
    def token():
        return JSONResponse({"access_token": make_token()})
else:
    @app.get("/token")
    async def token():
        return JSONResponse({"access_token": make_token()})
