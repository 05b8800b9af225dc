#!/usr/bin/python3
"""The checks of issue #5, points 3 and 4, run from outside against two Latchkey nodes on one PostgreSQL.

tests/cluster/run.sh sets everything up (PostgreSQL, schema, users, a client, nodes A and B) and passes it here in
LATCHKEY_CLUSTER_* variables; the LATCHKEY__* settings in the environment are the nodes' own, so a node started here
gets the same ones. Every check prints one line, `PASS: name: what was measured` or `FAIL: name: what was seen`,
and the exit status is non-zero when any failed.

Order: the checks that need the nodes as run.sh started them (reuse window on) first, then PostgreSQL stopped and
started, then both nodes restarted with the window off (REUSEWINDOW=0) for the concurrent-refresh check without
grace and the SIGKILL check, whose "spent" probes must answer invalid_grant rather than a replayed pair.

Only Debian's python3 and its python3-jwt (PyJWT) with python3-cryptography; no other package.
"""
import base64
import collections
import concurrent.futures
import hashlib
import http.client
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
import urllib.parse

import jwt  # Debian's python3-jwt

ENV = os.environ
WORK = ENV["LATCHKEY_CLUSTER_WORK"]
BIN = ENV["LATCHKEY_CLUSTER_BIN"]
ISSUER = ENV["LATCHKEY_CLUSTER_ISSUER"]
PASSWORD = ENV["LATCHKEY_CLUSTER_PASSWORD"]
CLIENT = json.loads(ENV["LATCHKEY_CLUSTER_CLIENT_JSON"])
PGBIN = ENV["LATCHKEY_CLUSTER_PGBIN"]
PGDATA = ENV["LATCHKEY_CLUSTER_PGDATA"]
SLACK = float(ENV["LATCHKEY_CLUSTER_SLACK"])


def seconds(timespan):
    """A .NET TimeSpan setting ([d.]hh:mm:ss[.fff]) in seconds."""
    head, _, rest = timespan.partition(":")
    days = 0
    if "." in head:
        days, head = head.split(".", 1)
    hours, minutes, secs = [head] + rest.split(":")
    return int(days) * 86400 + int(hours) * 3600 + int(minutes) * 60 + float(secs)


KEY_REFRESH = seconds(ENV["LATCHKEY__KEYS__REFRESHINTERVAL"])
JWKS_CACHE = seconds(ENV["LATCHKEY__KEYS__JWKSCACHELIFETIME"])
REVOCATION_REFRESH = seconds(ENV["LATCHKEY__REVOCATIONREFRESHINTERVAL"])
USER_FAILURE_THRESHOLD = int(ENV.get("LATCHKEY__LOGINTHROTTLE__FAILURETHRESHOLD", "10"))


# ---------------------------------------------------------------------------------------------------- processes

def alive(pid):
    """True while the process exists and is not a zombie (an orphan's zombie may linger in a container)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def record_pid(pid):
    """run.sh stops every PID in this file on exit, whatever happens here."""
    with open(os.path.join(WORK, "pids"), "a") as f:
        f.write(f"{pid}\n")


def forget_pid(pid):
    """A process seen dead leaves the file: run.sh must never signal a PID the system may since have reused."""
    path = os.path.join(WORK, "pids")
    with open(path) as f:
        pids = [line.strip() for line in f if line.strip() and line.strip() != str(pid)]
    with open(path, "w") as f:
        f.write("".join(p + "\n" for p in pids))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Node:
    """One `latchkey serve` on 127.0.0.1:port, with the shared issuer and the environment's settings."""

    def __init__(self, name, port, pid):
        self.name, self.port, self.pid, self.process = name, port, pid, None
        self.log = os.path.join(WORK, "logs", f"node-{name.lower()}.log")

    def __repr__(self):
        return self.name

    def start(self, **settings):
        env = dict(ENV, **settings)
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen([BIN, "serve", "--urls", f"http://127.0.0.1:{self.port}", "--issuer", ISSUER],
                                            env=env, stdout=log, stderr=subprocess.STDOUT)
        self.pid = self.process.pid
        record_pid(self.pid)

    def wait_ready(self, timeout=90):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if not alive(self.pid):
                raise RuntimeError(f"node {self.name} exited during start-up (see {self.log})")
            try:
                if call(self, "GET", "/readyz", timeout=2).status == 200:
                    return
            except (NotSent, Cut):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"node {self.name} not ready within {timeout} s")

    def stop(self, sig=signal.SIGTERM, timeout=30):
        try:
            os.kill(self.pid, sig)
        except ProcessLookupError:
            pass
        deadline = time.time() + timeout
        while alive(self.pid) and time.time() < deadline:
            if self.process is not None:
                self.process.poll()
            time.sleep(0.05)
        if self.process is not None:
            self.process.poll()
        if alive(self.pid):
            raise RuntimeError(f"node {self.name} (pid {self.pid}) did not exit within {timeout} s of {sig.name}")
        forget_pid(self.pid)


A = Node("A", int(ENV["LATCHKEY_CLUSTER_PORT_A"]), int(ENV["LATCHKEY_CLUSTER_PID_A"]))
B = Node("B", int(ENV["LATCHKEY_CLUSTER_PORT_B"]), int(ENV["LATCHKEY_CLUSTER_PID_B"]))


def pg_ctl(*args):
    subprocess.run(["runuser", "-u", "postgres", "--", os.path.join(PGBIN, "pg_ctl"), "-D", PGDATA, *args],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def stop_postgres():
    pg_ctl("-m", "fast", "-w", "-t", "60", "stop")


def start_postgres():
    pg_ctl("-l", ENV["LATCHKEY_CLUSTER_PGLOG"], "-o", ENV["LATCHKEY_CLUSTER_PGOPTS"], "-w", "-t", "60", "start")


def sql(query):
    """Rows of a query, as lists of strings (psql over TCP with libpq's PG* variables from run.sh)."""
    out = subprocess.run([os.path.join(PGBIN, "psql"), "-X", "-v", "ON_ERROR_STOP=1", "-At", "-F", "|", "-c", query],
                         check=True, capture_output=True, text=True).stdout
    return [line.split("|") for line in out.splitlines() if line]


# ---------------------------------------------------------------------------------------------------- HTTP

class NotSent(Exception):
    """The connection was refused: the request never reached a server."""


class Cut(Exception):
    """The request was sent (or may have been), but no complete response came back."""


class Response:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)

    @property
    def error(self):
        try:
            return self.json().get("error")
        except ValueError:
            return None

    def __repr__(self):
        return f"{self.status} {self.error or ''}".strip()


def call(node, method, path, form=None, headers=None, timeout=30):
    connection = http.client.HTTPConnection("127.0.0.1", node.port, timeout=timeout)
    try:
        try:
            connection.connect()
        except OSError as e:
            raise NotSent(f"{node}: {e}") from e
        body = urllib.parse.urlencode(form).encode() if form is not None else None
        all_headers = dict(headers or {})
        if body is not None:
            all_headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            connection.request(method, path, body=body, headers=all_headers)
            r = connection.getresponse()
            return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
        except (OSError, http.client.HTTPException) as e:
            raise Cut(f"{node}: {type(e).__name__}: {e}") from e
    finally:
        connection.close()


def basic(client_id, secret):
    raw = f"{urllib.parse.quote(client_id, safe='')}:{urllib.parse.quote(secret, safe='')}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


SERVICE = basic(CLIENT["client_id"], CLIENT["client_secret"])


def login(node, user, password=PASSWORD):
    return call(node, "POST", "/token", {"grant_type": "password", "username": user, "password": password})


def refresh(node, token):
    return call(node, "POST", "/token", {"grant_type": "refresh_token", "refresh_token": token})


def service_token(node):
    return call(node, "POST", "/token", {"grant_type": "client_credentials"}, SERVICE)


def me(node, access):
    return call(node, "GET", "/me", headers={"Authorization": "Bearer " + access})


def jwks(node):
    return call(node, "GET", "/.well-known/jwks.json")


def ok(response, what):
    if response.status != 200:
        raise AssertionError(f"{what}: {response.status} {response.body[:200]!r}")
    return response.json()


def kid_of(token):
    return jwt.get_unverified_header(token)["kid"]


def verify(token, jwks_document):
    """Verifies a token offline, as any API would: the key by kid from the JWKS, ES256 only, our issuer and audience."""
    kid = kid_of(token)
    keys = [k for k in jwks_document["keys"] if k.get("kid") == kid]
    if not keys:
        raise jwt.InvalidTokenError(f"kid {kid} is not in the JWKS")
    key = jwt.PyJWK(keys[0]).key
    return jwt.decode(token, key, algorithms=["ES256"], audience="api", issuer=ISSUER)


def token_hash(token):
    """What the database holds for a refresh token (RefreshTokens.Hash): lower-case hex SHA-256."""
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def within(limit, seconds_):
    return seconds_ is not None and seconds_ <= limit


# ---------------------------------------------------------------------------------------------------- the checks

RESULTS = []


def check(name):
    def run(function):
        started = time.time()
        try:
            passed, figures = function()
        except Exception as e:  # a check that blows up is a failure, reported, and the others still run
            passed, figures = False, f"{type(e).__name__}: {e}"
            traceback.print_exc(file=sys.stderr)
        RESULTS.append(passed)
        print(f"{'PASS' if passed else 'FAIL'}: {name}: {figures} [{time.time() - started:.1f} s]", flush=True)
        return function
    return run


def refused_on_a_then_b(access, before, change, status):
    """Right after `change` on A (answered `status`): A refuses `access` at once, B within RevocationRefreshInterval, and
    B's introspection calls it inactive. Returns the check's (passed, figures)."""
    t_changed = time.time()
    on_a = me(A, access).status
    bound = REVOCATION_REFRESH + SLACK
    delay = None
    polls = 0
    while time.time() - t_changed < bound + 10:
        polls += 1
        if me(B, access).status == 401:
            delay = time.time() - t_changed
            break
        time.sleep(0.05)
    introspected = call(B, "POST", "/introspect", {"token": access}, SERVICE)
    active = introspected.json().get("active") if introspected.status == 200 else None
    passed = before == 200 and status == 200 and on_a == 401 and within(bound, delay) and active is False
    return passed, (f"/me on B before: {before}; {change}: {status}; /me on A right after: {on_a}; "
                    f"B refused it after {delay:.2f} s ({polls} polls; bound {REVOCATION_REFRESH:g} s + {SLACK:g} s)"
                    if delay is not None else f"B still accepted it {bound + 10:.0f} s after (/me before {before}, {change} {status}, A {on_a})") + \
        f"; /introspect on B: active={active}"


def concurrent_refreshes(token, count=50):
    """`count` refreshes of one token at once, alternating A and B, released together by a barrier."""
    barrier = threading.Barrier(count)

    def one(i):
        node = (A, B)[i % 2]
        barrier.wait()
        return node, refresh(node, token)

    with concurrent.futures.ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, range(count)))


def run_checks():
    # ------------------------------------------------------------------ a. a token from one node validates on the other
    @check("a. token issued by A validates on B (and B's on A)")
    def _():
        access = ok(login(A, "alice"), "password grant on A")["access_token"]
        me_b = me(B, access)
        document = ok(jwks(B), "JWKS of B")
        claims = verify(access, document)
        access_b = ok(login(B, "alice"), "password grant on B")["access_token"]
        me_a = me(A, access_b)
        claims_b = verify(access_b, ok(jwks(A), "JWKS of A"))
        passed = me_b.status == 200 and me_b.json().get("sub") == claims["sub"] and me_a.status == 200
        return passed, (f"/me on B: {me_b.status} (sub {me_b.json().get('sub') if me_b.status == 200 else '-'}); "
                        f"PyJWT {jwt.__version__} verified its {jwt.get_unverified_header(access)['alg']} signature (kid {kid_of(access)}) "
                        f"against B's JWKS ({len(document['keys'])} key(s)), iss {claims['iss']}, aud {claims['aud']}; "
                        f"B's token on A: /me {me_a.status}, PyJWT against A's JWKS ok (kid {kid_of(access_b)}, sub {claims_b['sub']})")

    # ------------------------------------------------------------------ b. refresh across nodes
    @check("b. refresh token issued by A refreshes on B")
    def _():
        first = ok(login(A, "alice"), "password grant on A")
        second = refresh(B, first["refresh_token"])
        body = ok(second, "refresh on B")
        me_a = me(A, body["access_token"])
        again = ok(refresh(A, body["refresh_token"]), "refresh of B's successor on A")
        passed = body["refresh_token"] != first["refresh_token"] and me_a.status == 200 and again["refresh_token"] != body["refresh_token"]
        return passed, (f"refresh on B: {second.status}, new refresh token (rotated); B's access token on A /me: {me_a.status}; "
                        f"B's refresh token refreshed on A: 200")

    # ------------------------------------------------------------------ c. 50 concurrent refreshes, window on
    @check(f"c1. 50 concurrent refreshes of one token over A and B, reuse window on ({ENV['LATCHKEY__REFRESHTOKENS__REUSEWINDOW']})")
    def _():
        token = ok(login(A, "alice"), "password grant on A")["refresh_token"]
        results = concurrent_refreshes(token)
        statuses = collections.Counter((node.name, r.status) for node, r in results)
        pairs = {(r.json()["access_token"], r.json()["refresh_token"]) for _, r in results if r.status == 200}
        successor_ok = len(pairs) == 1 and refresh(B, next(iter(pairs))[1]).status == 200
        all_200 = all(r.status == 200 for _, r in results)
        return all_200 and len(pairs) == 1 and successor_ok, (
            f"{sum(r.status == 200 for _, r in results)}/50 got 200 "
            f"({', '.join(f'{n} {s}: {c}' for (n, s), c in sorted(statuses.items()))}); "
            f"{len(pairs)} distinct (access, refresh) pair(s); that successor then refreshed: {'200' if successor_ok else 'no'}")

    # ------------------------------------------------------------------ d. key rotation
    @check("d. key rotated by the CLI: published by both nodes, signs from its scheduled time on both, no verification fails")
    def _():
        return key_rotation()

    # ------------------------------------------------------------------ e. revocation
    @check("e. access token revoked on A is refused by B")
    def _():
        access = ok(service_token(A), "client_credentials on A")["access_token"]
        before = me(B, access).status
        revoked = call(A, "POST", "/revoke", {"token": access, "token_type_hint": "access_token"}, SERVICE)
        return refused_on_a_then_b(access, before, "/revoke on A", revoked.status)

    # ------------------------------------------------------------------ k. a user disabled through one node
    @check("k. user disabled through A's admin API: A refuses their token at once, B within RevocationRefreshInterval")
    def _():
        access = ok(login(A, "frank"), "password grant on A")["access_token"]
        before = me(B, access).status
        admin = ok(call(A, "POST", "/token", {"grant_type": "password", "username": "root", "password": PASSWORD, "scope": "latchkey:admin"}),
                   "admin token on A")["access_token"]
        disabled = call(A, "POST", "/admin/users/frank/disable", headers={"Authorization": "Bearer " + admin})
        return refused_on_a_then_b(access, before, "disable on A", disabled.status)

    # ------------------------------------------------------------------ f. throttling across nodes
    @check("f. login throttling counts failures across nodes")
    def _():
        def first_429(user, nodes):
            seen = []
            for attempt in range(1, USER_FAILURE_THRESHOLD + 6):
                node = nodes[(attempt - 1) % len(nodes)]
                r = login(node, user, "wrong-password-" + str(attempt))
                seen.append((node.name, r.status))
                if r.status == 429:
                    return attempt, r, seen
                if r.status != 400 or r.error != "invalid_grant":
                    raise AssertionError(f"attempt {attempt} on {node}: {r.status} {r.body[:200]!r}")
            return None, None, seen

        one_node, _, _ = first_429("carol", [A])
        spread, r429, seen = first_429("bob", [A, B])
        tested = collections.Counter(n for n, s in seen if s == 400)
        # Once locked, the other node refuses too, and so does the right password.
        other = login(B if seen[-1][0] == "A" else A, "bob", "wrong-password-x").status
        right = login(A, "bob").status
        expected = USER_FAILURE_THRESHOLD + 1
        retry_after = r429.headers.get("retry-after") if r429 else None
        passed = (one_node == expected and spread == expected and r429 is not None and r429.error == "slow_down" and bool(retry_after)
                  and other == 429 and right == 429)
        return passed, (f"alternating A/B: first 429 at attempt {spread} (guesses tested: A {tested['A']}, B {tested['B']}); "
                        f"on node A alone: first 429 at attempt {one_node}; threshold {USER_FAILURE_THRESHOLD}; "
                        f"the 429: error {r429.error if r429 else '-'}, Retry-After {retry_after}; then the other node: {other}, "
                        f"the right password: {right}")

    # A measurement, not a check: guesses sent all at once. The throttle checks the count before verifying the password
    # and records the failure after, so guesses in flight together all pass the check, on one node as on two.
    def burst(user, nodes, count=20):
        barrier = threading.Barrier(count)

        def one(i):
            node = nodes[i % len(nodes)]
            barrier.wait()
            return login(node, user, f"wrong-password-{i}").status

        with concurrent.futures.ThreadPoolExecutor(count) as pool:
            return collections.Counter(pool.map(one, range(count)))

    spread, single = burst("dave", [A, B]), burst("erin", [A])
    print(f"NOTE: f'. 20 wrong guesses sent at once (threshold {USER_FAILURE_THRESHOLD}): over A and B, {spread[400]} tested (400), "
          f"{spread[429]} refused (429); on A alone, {single[400]} tested, {single[429]} refused", flush=True)

    # ------------------------------------------------------------------ g. PostgreSQL stopped, then started
    @check("g. PostgreSQL stopped: 503 + Retry-After where needed, tokens and JWKS still served, nodes up; started: recovery without restart")
    def _():
        return database_outage()

    # ------------------------------------------------------------------ both nodes again, reuse window off
    for node in (A, B):
        node.stop()
        node.start(LATCHKEY__REFRESHTOKENS__REUSEWINDOW="00:00:00")
    for node in (A, B):
        node.wait_ready()
    print(f"   (nodes A and B restarted with LATCHKEY__REFRESHTOKENS__REUSEWINDOW=00:00:00: pids {A.pid}, {B.pid})", flush=True)

    @check("c2. 50 concurrent refreshes of one token over A and B, reuse window off")
    def _():
        token = ok(login(A, "alice"), "password grant on A")["refresh_token"]
        results = concurrent_refreshes(token)
        winners = [r for _, r in results if r.status == 200]
        losers = collections.Counter(f"{r.status} {r.error}" for _, r in results if r.status != 200)
        successor = refresh(A, winners[0].json()["refresh_token"]) if len(winners) == 1 else None
        passed = len(winners) == 1 and losers == {"400 invalid_grant": 49} and successor is not None and \
            successor.status == 400 and successor.error == "invalid_grant"
        return passed, (f"200: {len(winners)} (on {', '.join(n.name for n, r in results if r.status == 200)}); "
                        f"others: {dict(losers)}; the one successor afterwards: {successor!r} (family revoked)")

    @check("h. SIGKILL of node B mid refresh-load: every refresh token received is valid or properly spent")
    def _():
        return sigkill_under_load()

    # ------------------------------------------------------------------ nodes that must refuse to start
    @check("i. a node with a different master key refuses to start, saying so")
    def _():
        other = base64.b64encode(os.urandom(32)).decode()
        code, output, took = start_failing(LATCHKEY__MASTERKEY=other)
        stack = [l for l in output.splitlines() if l.strip().startswith("at ")]
        line = next((l for l in output.splitlines() if "master key" in l.lower()), output.strip()[-300:])
        passed = code not in (None, 0) and "master key" in output.lower() and not stack and "Unhandled exception" not in output
        return passed, f"exit code {code} after {took:.1f} s; says: {line.strip()}" + (f"; stack trace lines: {len(stack)}" if stack else "; no stack trace")

    @check("j. a node whose database is unreachable exits with a clear message")
    def _():
        port = free_port()
        code, output, took = start_failing(
            LATCHKEY__DATABASE=f"Host=127.0.0.1;Port={port};Database=latchkey;Username=latchkey;Password=x;Timeout=5")
        stack = [l for l in output.splitlines() if l.strip().startswith("at ")]
        line = next((l for l in output.splitlines() if "postgresql" in l.lower()), output.strip()[-300:])
        passed = code not in (None, 0) and "cannot start" in output and not stack and "Unhandled exception" not in output
        return passed, f"exit code {code} after {took:.1f} s; says: {line.strip()}" + (f"; stack trace lines: {len(stack)}" if stack else "; no stack trace")


def start_failing(**settings):
    """Starts a third node with these settings; returns its exit code (None if it kept running), its output, and how long it ran."""
    started = time.time()
    process = subprocess.Popen([BIN, "serve", "--urls", f"http://127.0.0.1:{free_port()}", "--issuer", ISSUER],
                               env=dict(ENV, **settings), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    record_pid(process.pid)
    try:
        output, _ = process.communicate(timeout=90)
        return process.returncode, output, time.time() - started
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        return None, output, time.time() - started
    finally:
        forget_pid(process.pid)


# ---------------------------------------------------------------------------------------------------- d. key rotation

def key_rotation():
    """
    Issuers get client_credentials tokens from A and from B in a loop, across the rotation and the new key's activation;
    a verifier checks every one on both nodes' /me, and offline with PyJWT against a JWKS it caches for max-age (it never
    refetches on an unknown kid, so a key not published early enough would fail it).
    """
    kid_old = kid_of(ok(service_token(A), "client_credentials on A")["access_token"])
    stop = threading.Event()
    issued = []              # (node, started, ended, kid)
    to_verify = queue.Queue()
    failures = collections.Counter()
    verified = collections.Counter()

    def issue(node):
        while not stop.is_set():
            started = time.time()
            r = service_token(node)
            ended = time.time()
            if r.status == 200:
                token = r.json()["access_token"]
                issued.append((node.name, started, ended, kid_of(token)))
                to_verify.put(token)
            else:
                failures[f"issue on {node} {r.status}"] += 1
            time.sleep(0.05)

    cache = {"document": None, "fetched": 0.0, "from": 0}

    def cached_jwks():
        # A verifier that caches for max-age, fetching alternately from A and B.
        if cache["document"] is None or time.time() - cache["fetched"] >= JWKS_CACHE:
            node = (A, B)[cache["from"] % 2]
            cache["from"] += 1
            r = jwks(node)
            cache["document"], cache["fetched"] = ok(r, f"JWKS of {node}"), time.time()
        return cache["document"]

    def verify_all():
        while not (stop.is_set() and to_verify.empty()):
            try:
                token = to_verify.get(timeout=0.2)
            except queue.Empty:
                continue
            for node in (A, B):
                status = me(node, token).status
                verified[f"/me {node}"] += 1
                if status != 200:
                    failures[f"/me on {node}: {status}"] += 1
            try:
                verify(token, cached_jwks())
                verified["offline"] += 1
            except jwt.InvalidTokenError as e:
                failures[f"offline: {e}"] += 1

    threads = [threading.Thread(target=issue, args=(n,)) for n in (A, B)] + [threading.Thread(target=verify_all)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.5)
        rotated = subprocess.run([BIN, "keys", "rotate"], capture_output=True, text=True, timeout=60)
        if rotated.returncode != 0:
            raise AssertionError(f"latchkey keys rotate: exit {rotated.returncode}: {rotated.stdout}{rotated.stderr}")
        # "Added ES256 key KID for access tokens. It is published now and signs from 2026-01-01 12:00:05 UTC; …"
        kid_new = rotated.stdout.split(" key ", 1)[1].split()[0].rstrip(".")
        signs_from = rotated.stdout.split("signs from ", 1)[1].split(" UTC", 1)[0]
        # The database has the same time to the millisecond.
        created_ms, activates_ms = map(int, sql(f"SELECT created_at, activates_at FROM signing_keys WHERE kid = '{kid_new}'")[0])
        created, activates = created_ms / 1000, activates_ms / 1000
        if time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(activates)) != signs_from:
            failures[f"the CLI said it signs from {signs_from}, the database {activates_ms} ms"] += 1

        # How long until each node's JWKS lists it.
        published = {}
        while len(published) < 2 and time.time() - created < KEY_REFRESH + SLACK + 10:
            for node in (A, B):
                if node.name not in published and any(k["kid"] == kid_new for k in ok(jwks(node), f"JWKS of {node}")["keys"]):
                    published[node.name] = time.time() - created
            time.sleep(0.05)

        # Keep issuing until a refresh interval and the slack past the activation.
        time.sleep(max(0.0, activates + KEY_REFRESH + 1 - time.time()))
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=120)

    per_node = {}
    ordering_errors = []
    for name in ("A", "B"):
        mine = [(s, e, k) for n, s, e, k in issued if n == name]
        old = [x for x in mine if x[2] == kid_old]
        new = [x for x in mine if x[2] == kid_new]
        other = [x for x in mine if x[2] not in (kid_old, kid_new)]
        # Causal, not timing: an old-kid token was signed before its request ended, a new-kid one after its request
        # started. The database keeps milliseconds, hence the 1 ms.
        late_old = [x for x in old if x[0] > activates + 0.001]
        early_new = [x for x in new if x[1] < activates - 0.001]
        if late_old or early_new or other:
            ordering_errors.append(f"{name}: old kid after activation {len(late_old)}, new kid before it {len(early_new)}, unknown kid {len(other)}")
        first_new = min((x[1] for x in new), default=None)
        last_old = max((x[0] for x in old), default=None)
        per_node[name] = (len(mine), last_old, first_new)

    bound = KEY_REFRESH + SLACK
    lead = activates - created
    first_new_ok = all(v[2] is not None and v[2] - activates <= KEY_REFRESH + SLACK for v in per_node.values())
    passed = (len(published) == 2 and all(d <= bound for d in published.values()) and not ordering_errors and first_new_ok
              and not failures and abs(lead - (KEY_REFRESH + JWKS_CACHE)) < 0.5)

    def rel(t):
        return f"{t - activates:+.3f} s" if t is not None else "never"

    figures = (f"`latchkey keys rotate`: new kid {kid_new}, signs from {signs_from} UTC; published by A after {published.get('A', float('nan')):.2f} s, by B after "
               f"{published.get('B', float('nan')):.2f} s (bound {KEY_REFRESH:g} s + {SLACK:g} s); scheduled to sign {lead:.1f} s after it was "
               f"added (RefreshInterval + JwksCacheLifetime = {KEY_REFRESH + JWKS_CACHE:g} s); relative to that time: "
               + "; ".join(f"{n}: last old-kid token requested {rel(v[1])}, first new-kid token received {rel(v[2])} ({v[0]} tokens)"
                           for n, v in per_node.items())
               + f"; verifications: /me on A {verified['/me A']}, /me on B {verified['/me B']}, offline with a max-age-cached JWKS "
               f"{verified['offline']}; failures: {sum(failures.values())}")
    if ordering_errors:
        figures += "; ordering: " + "; ".join(ordering_errors)
    if failures:
        figures += "; " + ", ".join(f"{k} ×{v}" for k, v in failures.most_common(5))
    return passed, figures


# ---------------------------------------------------------------------------------------------------- g. database outage

def database_outage():
    before = ok(login(A, "alice"), "password grant on A")
    problems = []
    seen = collections.Counter()

    def expect_503(node, what, r):
        seen[f"{what} {r.status}"] += 1
        retry = r.headers.get("retry-after")
        if r.status != 503 or not retry or r.error != "temporarily_unavailable" or "no-store" not in r.headers.get("cache-control", ""):
            problems.append(f"{what} on {node}: {r.status} Retry-After={retry} error={r.error} body={r.body[:120]!r}")
        return retry

    def expect_200(node, what, r):
        seen[f"{what} {r.status}"] += 1
        if r.status != 200:
            problems.append(f"{what} on {node}: {r.status}")

    def probe_offline():
        for node in (A, B):
            expect_200(node, "/me", me(node, before["access_token"]))
            expect_200(node, "JWKS", jwks(node))

    stop_postgres()
    t_stopped = time.time()
    retry_after = set()
    for node in (A, B):
        retry_after.add(expect_503(node, "password", login(node, "alice")))
        retry_after.add(expect_503(node, "refresh", refresh(node, before["refresh_token"])))
        retry_after.add(expect_503(node, "client_credentials", service_token(node)))
    probe_offline()
    ready = {n.name: call(n, "GET", "/readyz").status for n in (A, B)}
    # Past a key refresh and a revocation sync, which both fail now: the nodes keep what they have.
    time.sleep(max(KEY_REFRESH, REVOCATION_REFRESH) + 1)
    probe_offline()
    alive_nodes = [n.name for n in (A, B) if alive(n.pid)]
    if len(alive_nodes) != 2:
        problems.append(f"nodes alive: {alive_nodes}")
    down_for = time.time() - t_stopped

    start_postgres()
    t_started = time.time()
    recovered = {}
    meanwhile = collections.Counter()
    while len(recovered) < 2 and time.time() - t_started < 60:
        for node in (A, B):
            if node.name in recovered:
                continue
            r = login(node, "alice")
            if r.status == 200:
                recovered[node.name] = time.time() - t_started
            else:
                meanwhile[r.status] += 1
                if r.status != 503:
                    problems.append(f"after the restart, password grant on {node}: {r.status} {r.body[:120]!r}")
        time.sleep(0.1)
    if len(recovered) < 2:
        problems.append(f"not recovered within 60 s: {sorted(set('AB') - set(recovered))}")

    # The refresh token presented during the outage was not touched: it refreshes now, exactly once (a retry within
    # the window gets the very same pair, never a second successor).
    first = refresh(B, before["refresh_token"])
    second = refresh(A, before["refresh_token"])
    once = first.status == 200 and second.status == 200 and first.json()["refresh_token"] == second.json()["refresh_token"]
    if not once:
        problems.append(f"refresh token from before the outage: {first!r} then {second!r}")
    successor = refresh(A, first.json()["refresh_token"]).status if first.status == 200 else None
    if successor != 200:
        problems.append(f"its successor: {successor}")

    figures = (f"PostgreSQL down {down_for:.1f} s: POST /token (password, refresh, client_credentials) on A and B: "
               f"{seen['password 503'] + seen['refresh 503'] + seen['client_credentials 503']}/6 answered 503 temporarily_unavailable "
               f"with Retry-After {','.join(sorted(r for r in retry_after if r))}; /me with an earlier token: {seen['/me 200']}/4 200, "
               f"JWKS: {seen['JWKS 200']}/4 200 (half of each after {max(KEY_REFRESH, REVOCATION_REFRESH) + 1:g} s of failed refreshes); "
               f"/readyz A {ready['A']}, B {ready['B']}; nodes alive: {'+'.join(alive_nodes)}; after `pg_ctl start`: password grant "
               f"succeeded on A after {recovered.get('A', float('nan')):.2f} s, on B after {recovered.get('B', float('nan')):.2f} s "
               f"({dict(meanwhile) or 'no'} failures meanwhile), no node restarted (pids {A.pid}, {B.pid}); the refresh token refused "
               f"during the outage then refreshed once: {first!r}, its retry got the same pair: {once}, successor refreshed: {successor}")
    if problems:
        figures += "; PROBLEMS: " + "; ".join(problems[:6])
    return not problems and all(alive(n.pid) for n in (A, B)), figures


# ---------------------------------------------------------------------------------------------------- h. SIGKILL mid-load

def sigkill_under_load(families=16, load_seconds=3.0):
    """
    `families` clients each log in once and then refresh their own token against node B as fast as they can. Node B is
    killed with SIGKILL mid-load. Each client records every refresh token it received (in a 200) and what became of
    its last request: answered, cut by the kill (sent, no answer), or refused (never reached B).

    Then, with B still dead, the database must show, per family: every received token present, all but the last spent,
    exactly one unspent token, the family not revoked; and the last received token either unspent (its refresh did not
    commit) or spent with one unspent successor nobody received (it committed; the response was lost) — the latter
    only for a cut request. Nothing else.

    B is restarted, and over HTTP, per family: the last received token refreshes once (200) if it was unspent, or gets
    invalid_grant if it was spent; presented again it gets invalid_grant, which (window off) revokes the family, so the
    new successor gets invalid_grant too; an earlier received token gets invalid_grant. Anything else is an anomaly.
    """
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        logins = list(pool.map(lambda _: login(A, "hector"), range(families)))
    chains = [[ok(r, "password grant on A")["refresh_token"]] for r in logins]
    endings = [None] * families
    done_before_kill = [0] * families
    killed = threading.Event()

    def client(i):
        while True:
            try:
                r = refresh(B, chains[i][-1])
            except NotSent:
                endings[i] = "refused"
                return
            except Cut:
                endings[i] = "cut"
                return
            if r.status != 200:
                endings[i] = f"{r.status} {r.error}"
                return
            chains[i].append(r.json()["refresh_token"])
            if not killed.is_set():
                done_before_kill[i] += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(families)]
    t_load = time.time()
    for t in threads:
        t.start()
    time.sleep(load_seconds)
    os.kill(B.pid, signal.SIGKILL)
    killed.set()
    for t in threads:
        t.join(timeout=60)
    load = time.time() - t_load
    B.stop(signal.SIGKILL)  # reaps it

    anomalies = []
    # The database, as B left it.
    first_hashes = ", ".join(f"'{token_hash(c[0])}'" for c in chains)
    rows = sql("SELECT t.family_id, t.token_hash, t.spent_at IS NOT NULL, f.revoked_at IS NOT NULL "
               "FROM refresh_tokens t JOIN refresh_families f ON f.family_id = t.family_id "
               f"WHERE t.family_id IN (SELECT family_id FROM refresh_tokens WHERE token_hash IN ({first_hashes}))")
    by_family = collections.defaultdict(dict)
    revoked_families = set()
    family_of = {}
    for family, hashed, spent, revoked in rows:
        by_family[family][hashed] = spent == "t"
        family_of[hashed] = family
        if revoked == "t":
            revoked_families.add(family)
    committed_unseen = 0
    states = []
    for i, chain in enumerate(chains):
        family = family_of.get(token_hash(chain[0]))
        tokens = by_family.get(family, {})
        hashes = [token_hash(t) for t in chain]
        unspent = [h for h, spent in tokens.items() if not spent]
        state = "anomaly"
        if family is None or any(h not in tokens for h in hashes):
            anomalies.append(f"family {i}: a received token is missing from the database")
        elif any(not tokens[h] for h in hashes[:-1]):
            anomalies.append(f"family {i}: an earlier received token is not spent")
        elif family in revoked_families:
            anomalies.append(f"family {i}: revoked")
        elif len(unspent) != 1:
            anomalies.append(f"family {i}: {len(unspent)} unspent tokens")
        elif not tokens[hashes[-1]] and len(tokens) == len(chain):
            state = "valid"
        elif tokens[hashes[-1]] and len(tokens) == len(chain) + 1 and endings[i] == "cut":
            state = "spent"
            committed_unseen += 1
        else:
            anomalies.append(f"family {i}: {len(tokens)} tokens for {len(chain)} received, last spent {tokens[hashes[-1]]}, ending {endings[i]}")
        states.append(state)

    B.start(LATCHKEY__REFRESHTOKENS__REUSEWINDOW="00:00:00")
    t_restart = time.time()
    B.wait_ready()
    restart = time.time() - t_restart

    outcomes = collections.Counter()
    for i, chain in enumerate(chains):
        if states[i] == "anomaly":
            continue
        last = refresh(B, chain[-1])
        if states[i] == "valid":
            if last.status != 200:
                anomalies.append(f"family {i}: last received token (unspent in the database) got {last!r}")
                continue
            outcomes["last received refreshed once"] += 1
            again = refresh(A, chain[-1])
            successor = refresh(B, last.json()["refresh_token"])
            if (again.status, again.error, successor.status, successor.error) != (400, "invalid_grant", 400, "invalid_grant"):
                anomalies.append(f"family {i}: presented again {again!r}, its successor then {successor!r}")
            else:
                outcomes["second use refused and family revoked"] += 1
        else:
            if (last.status, last.error) != (400, "invalid_grant"):
                anomalies.append(f"family {i}: last received token (spent by the cut request) got {last!r}")
                continue
            outcomes["last received properly spent"] += 1
        for earlier in {chain[0], chain[-2]} if len(chain) > 1 else ():
            r = refresh(A, earlier)
            if (r.status, r.error) != (400, "invalid_grant"):
                anomalies.append(f"family {i}: an earlier received token got {r!r}")
            else:
                outcomes["earlier token refused"] += 1

    endings_count = collections.Counter(endings)
    anomalies += [f"family {i}: a refresh during the load got {e}" for i, e in enumerate(endings) if e not in ("cut", "refused")]
    passed = not anomalies and sum(done_before_kill) > 0 and endings_count["cut"] > 0
    figures = (f"{families} clients refreshing on B for {load_seconds:g} s, then kill -9: {sum(done_before_kill)} refreshes done before "
               f"the kill; requests cut by it (sent, no answer): {endings_count['cut']}, refused after it: {endings_count['refused']}"
               + "".join(f", {k}: {v}" for k, v in endings_count.items() if k not in ("cut", "refused"))
               + f"; database with B dead: {len(chains)} families, {states.count('valid')} with the last received token unspent, "
               f"{committed_unseen} whose cut refresh had committed (last received spent, one unseen successor), none half-written "
               f"({len(rows)} token rows checked); B restarted in {restart:.1f} s; over HTTP: "
               + ", ".join(f"{k}: {v}" for k, v in outcomes.items())
               + f"; anomalies: {len(anomalies)}")
    if endings_count["cut"] == 0:
        figures += " (no request was cut: the kill fell between requests; nothing was tested mid-request)"
    if anomalies:
        figures += " — " + "; ".join(anomalies[:6])
    return passed, figures


def main():
    started = time.time()
    try:
        run_checks()
    except Exception as e:
        traceback.print_exc()
        print(f"FAIL: cluster checks aborted: {type(e).__name__}: {e}", flush=True)
        RESULTS.append(False)
    passed, failed = RESULTS.count(True), RESULTS.count(False)
    print(f"cluster: {passed} passed, {failed} failed ({time.time() - started:.0f} s of checks)", flush=True)
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
