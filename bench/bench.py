"""The Python half of bench/run.sh: the small HTTP chores, the start-up timer, and the report.

Run by Debian's /usr/bin/python3, standard library only:

    bench.py port                                          a free loopback port
    bench.py login URL USER PASSWORD FIELD [N]             N password logins at URL/token; prints FIELD of each response
    bench.py refresh-check URL POOL                        presents each refresh token in POOL once; prints {"ok": …, "total": …}
    bench.py first-token URL AUTH ROUNDS LOG -- CMD...     starts CMD ROUNDS times; prints the ms until its first token
    bench.py argon2-cffi SECONDS MEMORY_KIB ITERATIONS     argon2-cffi's rate at those parameters (a JSON line)
    bench.py report RESULTS_DIR OUT                        parses the wrk outputs in RESULTS_DIR and writes OUT (Markdown)

Every failure to parse is an error (exit 1): a report built on a misread number is worse than none.
"""
import http.client
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse


def main(argv):
    command, args = argv[1], argv[2:]
    commands = {
        "port": port,
        "login": login,
        "signin": signin,
        "refresh-check": refresh_check,
        "first-token": first_token,
        "argon2-cffi": argon2_cffi,
        "report": report,
    }
    if command not in commands:
        sys.exit(f"bench.py: unknown command {command!r}; see the docstring")
    commands[command](*args)


# ---------------------------------------------------------------------------------------------------------- HTTP chores

def port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        print(s.getsockname()[1])


def _post_form(url, fields, headers=None, timeout=30):
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        connection.request("POST", parts.path or "/token", urllib.parse.urlencode(fields),
                           {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def login(url, user, password, field, n="1"):
    """Password grant logins, one after another (each costs an Argon2id hash on the server)."""
    for _ in range(int(n)):
        status, body = _post_form(url + "/token", {"grant_type": "password", "username": user, "password": password})
        if status != 200:
            sys.exit(f"bench.py login: {url}/token answered {status}: {body[:200]!r}")
        print(json.loads(body)[field])


def signin(url, user, password, client_id, redirect_uri, field):
    """Signs in through the login page as a browser would, once; prints the session cookie (field=cookie) or, with
    field=pkce, a PKCE verifier and its S256 challenge. What the signin target's load then reuses. With field=form it
    only fetches the login page and prints two lines: the Cookie header (the antiforgery cookie) and the login form's
    body with the password filled in, which the login-form target posts over and over."""
    import base64
    import hashlib
    import http.cookiejar
    import urllib.error
    import urllib.request

    if field == "pkce":
        verifier = base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=")
        print(verifier.decode(), base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=").decode())
        return
    verifier = base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=")
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=").decode()
    jar = http.cookiejar.CookieJar()

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)
    query = urllib.parse.urlencode({"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri, "scope": "openid",
                                    "state": "bench", "code_challenge": challenge, "code_challenge_method": "S256"})
    page = opener.open(f"{url}/authorize?{query}", timeout=30).read().decode()
    fields = dict(re.findall(r'<input type="hidden" name="([^"]*)" value="([^"]*)"', page))
    fields = {k: v.replace("&amp;", "&") for k, v in fields.items()}
    fields.update({"username": user, "password": password})
    if field == "form":
        print("; ".join(f"{c.name}={c.value}" for c in jar))
        print(urllib.parse.urlencode(fields))
        return
    try:
        opener.open(f"{url}/authorize/login", data=urllib.parse.urlencode(fields).encode(), timeout=30)
    except urllib.error.HTTPError as e:
        if e.code != 303:
            sys.exit(f"bench.py signin: the login form answered {e.code}")
    session = next((c.value for c in jar if c.name == "latchkey-session"), None)
    if session is None:
        sys.exit("bench.py signin: no session cookie after the login form")
    print(session)


def refresh_check(url, pool):
    """Each unspent refresh token the client holds must still be redeemable (used after a kill -9 and restart)."""
    tokens = [line.strip() for line in open(pool) if line.strip()]
    ok = 0
    for token in tokens:
        status, _ = _post_form(url + "/token", {"grant_type": "refresh_token", "refresh_token": token})
        ok += status == 200
    print(json.dumps({"ok": ok, "total": len(tokens)}))


def first_token(url, authorization, rounds, log, separator, *command):
    """Start-up time: from starting the process to its first 200 on POST /token (client_credentials), polled every ms."""
    assert separator == "--", "usage: first-token URL AUTH ROUNDS LOG -- CMD..."
    parts = urllib.parse.urlsplit(url)
    times = []
    for _ in range(int(rounds)):
        with open(log, "ab") as out:
            started = time.perf_counter()
            process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
            try:
                while True:
                    if process.poll() is not None:
                        sys.exit(f"bench.py first-token: the server exited ({process.returncode}) before serving a token; see {log}")
                    if time.perf_counter() - started > 60:
                        sys.exit(f"bench.py first-token: no token within 60 s; see {log}")
                    try:
                        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
                        connection.request("POST", "/token", "grant_type=client_credentials",
                                           {"Content-Type": "application/x-www-form-urlencoded", "Authorization": authorization})
                        response = connection.getresponse()
                        response.read()
                        connection.close()
                        if response.status == 200:
                            break
                    except OSError:
                        pass
                    time.sleep(0.001)
                times.append((time.perf_counter() - started) * 1000)
            finally:
                process.terminate()
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
    print(json.dumps({"first_token_ms": [round(t, 1) for t in times]}))


def argon2_cffi(seconds, memory_kib, iterations):
    """Debian's argon2-cffi (python3-argon2, the reference libargon2) at Latchkey's parameters, one thread."""
    from argon2 import __version__ as version
    from argon2.low_level import Type, hash_secret_raw

    def once():
        hash_secret_raw(b"correct horse battery staple", b"0123456789abcdef", time_cost=int(iterations),
                        memory_cost=int(memory_kib), parallelism=1, hash_len=32, type=Type.ID)

    once()
    count, started, cpu_started = 0, time.perf_counter(), time.process_time()
    while count < 5 or time.perf_counter() - started < float(seconds):
        once()
        count += 1
    per_second = count / (time.perf_counter() - started)
    cpu_us = (time.process_time() - cpu_started) / count * 1e6
    print(json.dumps({"name": "argon2_cffi", "per_second": round(per_second, 1), "cpu_us": round(cpu_us, 0), "version": version,
                      "params": f"m={memory_kib},t={iterations},p=1"}))


# ---------------------------------------------------------------------------------------------------------- parsing

_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0, "h": 3600000.0}


def _ms(text):
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    if not match:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(match.group(1)) * _UNITS_MS[match.group(2)]


def parse_wrk(path):
    """One wrk --latency run: req/s, p50/p99 (ms), requests, non-2xx/3xx, socket errors, and the lua status lines."""
    text = open(path).read()
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", text, re.M)
    p50 = re.search(r"^\s+50%\s+(\S+)", text, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", text, re.M)
    requests = re.search(r"^\s+(\d+) requests in", text, re.M)
    if not (rps and requests):
        raise ValueError(f"{path}: not a complete wrk output")
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    completed = int(requests.group(1))
    # Appended by run.sh: the server's CPU ticks (user + system) during the run, and ticks per second.
    cpu = re.search(r"^cpu_ticks (\d+) (\d+)$", text, re.M)
    jit = re.search(r"^jit_ticks (\d+)$", text, re.M)
    console = re.search(r"^console_ticks (\d+)$", text, re.M)

    def per_request(ticks):
        return int(ticks.group(1)) / int(cpu.group(2)) / completed * 1e6 if ticks and cpu and completed else None

    return {
        "cpu_us": per_request(cpu),
        # Of which: the runtime's tier-up JIT thread, and the console logger's thread.
        "jit_us": per_request(jit),
        "console_us": per_request(console),
        "rps": float(rps.group(1)),
        # A run that completed no request has no latency distribution (wrk prints zeros).
        "p50": _ms(p50.group(1)) if p50 and completed else None,
        "p99": _ms(p99.group(1)) if p99 and completed else None,
        "requests": completed,
        "non2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": sum(int(g) for g in errors.groups()) if errors else 0,
        "statuses": {int(c): int(n) for c, n in re.findall(r"^status (\d+) (\d+)$", text, re.M)},
        "refused_without_retry_after": int((re.search(r"^refused_without_retry_after (\d+)$", text, re.M) or [0, 0])[1]),
    }


def _rounds(results, name):
    runs, r = [], 1
    while os.path.exists(os.path.join(results, f"{name}.r{r}.txt")):
        runs.append(parse_wrk(os.path.join(results, f"{name}.r{r}.txt")))
        r += 1
    return runs


def _median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _json(path, default=None):
    if not os.path.exists(path):
        return default
    with open(path) as f:
        return json.load(f)


def _jsonl(path):
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        return {row["name"]: row for row in (json.loads(line) for line in f if line.strip())}


# ---------------------------------------------------------------------------------------------------------- the report

def _fmt(value, digits=0, unit=""):
    if value is None:
        return "–"
    return f"{value:,.{digits}f}{unit}"


def _mib(kb):
    return None if kb is None else kb / 1024


def report(results, out):
    meta = _json(os.path.join(results, "meta.json"))
    catalog = meta["targets"]
    rates = _jsonl(os.path.join(results, "rates.jsonl"))
    cffi = _json(os.path.join(results, "argon2_cffi.json"))
    startup = _json(os.path.join(results, "startup.json"))
    durable = _json(os.path.join(results, "refresh-sqlite.durable.json"))
    skipped = _json(os.path.join(results, "skipped.json"), {})

    # Medians of every throughput target that ran.
    summary = {}
    for name in catalog:
        runs = _rounds(results, name)
        if not runs:
            continue
        info = _json(os.path.join(results, f"{name}.json"), {})
        summary[name] = {
            "runs": runs,
            "rps": _median([r["rps"] for r in runs]),
            "p50": _median([r["p50"] for r in runs]),
            "p99": _median([r["p99"] for r in runs]),
            "cpu_us": _median([r["cpu_us"] for r in runs]),
            "jit_us": _median([r["jit_us"] for r in runs]),
            "console_us": _median([r["console_us"] for r in runs]),
            "non2xx": sum(r["non2xx"] for r in runs),
            "socket_errors": sum(r["socket_errors"] for r in runs),
            "idle_rss_kb": info.get("idle_rss_kb"),
            "peak_rss_kb": info.get("peak_rss_kb"),
            "connections": info.get("connections"),
        }

    # Side by side: the reference's rounds taken in between a target's own (run.sh, PAIRED_WITH=...): per round, the
    # reference's req/s and CPU per request. The password target's reference is the raw Argon2id verify rate.
    verify = rates.get("es256_verify")
    for name, s in summary.items():
        if name in ("password", "login-form"):
            raw = [_json(os.path.join(results, f"{name}.pair.r{r}.json")) for r in range(1, len(s["runs"]) + 1)]
            pairs = [(row["per_second"], row["cpu_us"]) for row in raw if row]
        else:
            refs = _rounds(results, f"{name}.pair")
            pairs = [(r["rps"], r["cpu_us"]) for r in refs]
            if name == "me-es256":
                # The reference of /me is the ceiling plus one ES256 verification, per round.
                pairs = [(1 / (1 / rps + verify["us"] / 1e6), cpu + verify["cpu_us"] if cpu else None)
                         for rps, cpu in pairs] if verify else []
            s["pair_runs"] = refs
        if pairs and len(pairs) == len(s["runs"]):
            s["pairs"] = pairs

    flood = {}
    for part in ("baseline-cc", "baseline-me", "load-cc", "load-me", "load-login"):
        runs = _rounds(results, f"flood.{part}")
        if runs:
            flood[part] = runs
    flood_info = _json(os.path.join(results, "flood.json"), {})

    lines = []
    w = lines.append
    w("# Latchkey benchmark results")
    w("")
    w(f"Written by `bench/run.sh` on {meta['date']}. Command:")
    w("")
    w(f"    {meta['command']}")
    w("")
    w(f"- Machine: {meta['machine']['cpu']}, {meta['machine']['nproc']} cores, {meta['machine']['memory']} memory, "
      f"Linux {meta['machine']['kernel']}. Load average before the run: {meta['machine']['load_before']}; "
      f"after: {_read(os.path.join(results, 'load_after.txt'))}.")
    w(f"- Versions: {meta['versions']}.")
    w(f"- Latchkey measured as: {meta.get('latchkey_build', 'framework-dependent (JIT): dotnet build -c Release')} "
      "(`bench/run.sh --jit` measures the other build). The references and the seed sample run JIT-compiled.")
    w(f"- Method: each server runs pinned to core 0 (`taskset -c 0`), `wrk -t1 --latency` pinned to core 1, loopback. "
      f"Per target: start, wait until it answers, {meta['warmup']} s warm-up"
      f"{' (then more, until the tiered JIT settled: --settle)' if meta.get('settle') else ''}, then {meta['rounds']} round(s) of "
      f"{meta['duration']} s against the same process; figures are medians of the rounds (non-2xx and socket errors are "
      f"summed). 32 connections unless the table says otherwise. RSS is from /proc: idle = VmRSS once the server answers, "
      f"before any load; peak = VmHWM after the last round (the peak since the process started). Release builds.")
    if meta.get("note"):
        w(f"- Note: {meta['note']}")
    w("")

    # ---- targets first: what the issue asks
    w("## Targets (issue #6)")
    w("")
    w("The verdict is on the measured rates. The last column is the same ratio from server CPU per request "
      "(reference's CPU per request ÷ target's): what the rates would give on a quiet machine where each server has its "
      "core to itself, and the better guide while this machine is shared. \"Side by side\": the reference ran a round just "
      "before each of the target's rounds (its server up beside the target's, idle on core 0 in between; the raw Argon2id "
      "rate in-process), and the ratio is the median of the per-round ratios: this VM's speed drifts by more than 10% "
      "over the minutes between a reference's own rounds and its target's.")
    w("")
    w("| target | figure | reference | ratio | threshold | verdict | ratio from CPU per request |")
    w("|---|---|---|---|---|---|---|")
    rows = _targets(summary, flood, flood_info, rates, startup, durable, skipped, meta.get("latchkey_build", ""))
    for row in rows:
        w("| " + " | ".join(row) + " |")
    w("")

    # ---- throughput table
    w("## Throughput (medians of the rounds)")
    w("")
    w("Server CPU per request is the CPU time (user + system) the server process used during a round, divided by the "
      "requests wrk completed: the cost of a request, far less disturbed by other load on the machine than the rate. "
      "Of it, *JIT* is the runtime's tier-up compilation thread (`.NET Tiered Com`: a .NET server not yet warm) and *log* "
      "the console logger's thread (`Console logger`).")
    w("")
    w("| target | what | conns | req/s | ratio to its reference | server CPU per request (JIT, log) | p50 | p99 | non-2xx | socket errors | idle RSS | peak RSS |")
    w("|---|---|---|---|---|---|---|---|---|---|---|---|")
    references = _references(summary, rates)
    for name, description in catalog.items():
        if name in summary:
            s = summary[name]
            ratio = "–"
            if "pairs" in s:
                label = references[name][0] if name in references else "its reference"
                ratio = f"{statistics.median(r['rps'] / ref for r, (ref, _) in zip(s['runs'], s['pairs'])):.0%} of {label}, side by side"
            elif name in references and references[name][1]:
                label, value = references[name]
                ratio = f"{s['rps'] / value:.0%} of {label}"
            parts = ", ".join(f"{label} {_fmt(s[key], 0, ' µs')}" for key, label in (("jit_us", "JIT"), ("console_us", "log")) if s[key])
            cpu_cell = _fmt(s['cpu_us'], 0, ' µs') + (f" ({parts})" if parts else "")
            w(f"| {name} | {description} | {s['connections'] or '–'} | {_fmt(s['rps'])} | {ratio} | {cpu_cell} | {_fmt(s['p50'], 2, ' ms')} | "
              f"{_fmt(s['p99'], 2, ' ms')} | {s['non2xx']} | {s['socket_errors']} | {_fmt(_mib(s['idle_rss_kb']), 1, ' MiB')} | "
              f"{_fmt(_mib(s['peak_rss_kb']), 1, ' MiB')} |")
        elif name in skipped:
            w(f"| {name} | {description} | | skipped: {skipped[name]} | | | | | | | | |")
    w("")

    # ---- login flood
    if flood:
        w("## Login flood")
        w("")
        w(flood_info.get("description", ""))
        if flood_info.get("peak_rss_kb"):
            w(f"Peak RSS of the server through the flood rounds: {_mib(flood_info['peak_rss_kb']):.1f} MiB.")
        w("")
        w("| phase | load | req/s | p50 | p99 | non-2xx | statuses |")
        w("|---|---|---|---|---|---|---|")
        for part, runs in flood.items():
            statuses = {}
            for r in runs:
                for code, n in r["statuses"].items():
                    statuses[code] = statuses.get(code, 0) + n
            phase, load = part.split("-", 1)
            w(f"| {phase} | {load} | {_fmt(_median([r['rps'] for r in runs]))} | {_fmt(_median([r['p50'] for r in runs]), 2, ' ms')} | "
              f"{_fmt(_median([r['p99'] for r in runs]), 2, ' ms')} | {sum(r['non2xx'] for r in runs)} | "
              f"{', '.join(f'{c}: {n}' for c, n in sorted(statuses.items())) or '–'} |")
        w("")

    # ---- in-process rates
    if rates:
        w("## In-process rates (one thread, pinned to core 0, same run)")
        w("")
        w("`references rates`: the raw primitives on the bytes a floor token signs, and Latchkey's own `PasswordHasher` at its "
          "default parameters (a login costs one verify).")
        w("")
        w("| operation | per second | µs each (wall clock) | µs each (CPU time) |")
        w("|---|---|---|---|")
        for name, row in rates.items():
            params = f" ({row['params']})" if row.get("params") else ""
            w(f"| {name}{params} | {_fmt(row['per_second'], 1)} | {_fmt(row['us'], 2)} | {_fmt(row.get('cpu_us'), 2)} |")
        if cffi:
            verify = rates.get("argon2id_verify")
            versus = (f"; Latchkey's (libsodium via NSec) verify costs {cffi['cpu_us'] / verify['cpu_us']:.2f}× less CPU"
                      if verify and cffi.get("cpu_us") and verify.get("cpu_us") else "")
            w(f"| argon2-cffi {cffi['version']} hash_secret_raw ({cffi['params']}), Debian python3-argon2 | {_fmt(cffi['per_second'], 1)} | "
              f"{_fmt(1e6 / cffi['per_second'], 0)} | {_fmt(cffi.get('cpu_us'), 0)} |")
            w("")
            w(f"argon2-cffi is the reference implementation (libargon2){versus}.")
        elif "argon2_cffi" in skipped:
            w("")
            w(f"argon2-cffi: {skipped['argon2_cffi']}")
        w("")

    if startup:
        w("## Start-up")
        w("")
        w(f"`latchkey serve` (ES256, existing data folder) from process start to its first 200 on `POST /token` "
          f"(client_credentials), polled every millisecond: {', '.join(_fmt(t, 0, ' ms') for t in startup['first_token_ms'])} "
          f"(median {_fmt(statistics.median(startup['first_token_ms']), 0, ' ms')}).")
        w("")

    # ---- per-round detail
    w("## Rounds")
    w("")
    w("req/s · p50 · p99 · non-2xx · server CPU per request of each round, in order.")
    w("")
    for name, s in summary.items():
        w(f"- {name}: " + "; ".join(
            f"{_fmt(r['rps'])} · {_fmt(r['p50'], 2, ' ms')} · {_fmt(r['p99'], 2, ' ms')} · {r['non2xx']} · {_fmt(r['cpu_us'], 0, ' µs')}" for r in s["runs"]))
        if s.get("pair_runs"):
            w(f"  - {references.get(name, ('its reference',))[0].split(' + ')[0]} beside it, the round before each: " + "; ".join(
                f"{_fmt(r['rps'])} · {_fmt(r['p50'], 2, ' ms')} · {_fmt(r['p99'], 2, ' ms')} · {r['non2xx']} · {_fmt(r['cpu_us'], 0, ' µs')}" for r in s["pair_runs"]))
        elif name in ("password", "login-form") and "pairs" in s:
            w("  - raw Argon2id verify beside it, before each round: " + "; ".join(
                f"{_fmt(ref, 1)}/s · {_fmt(cpu_us, 0, ' µs')}" for ref, cpu_us in s["pairs"]))
    for part, runs in flood.items():
        w(f"- flood {part}: " + "; ".join(
            f"{_fmt(r['rps'])} · {_fmt(r['p50'], 2, ' ms')} · {_fmt(r['p99'], 2, ' ms')} · {r['non2xx']}" for r in runs))
    w("")
    micro = os.path.join(os.path.dirname(os.path.abspath(__file__)), "MICRO.md")
    w("Micro benchmarks (BenchmarkDotNet: Latchkey's path, JsonWebTokenHandler and the raw primitive, per algorithm) are "
      "`bench/micro.sh`, written to `bench/MICRO.md`" + ("." if os.path.exists(micro) else " (not run yet)."))
    w("")

    with open(out, "w") as f:
        f.write("\n".join(lines))
    verdicts = [row[5] for row in rows]
    print(f"bench.py report: wrote {out}: {sum(v == 'MET' for v in verdicts)} MET, {sum(v == 'NOT MET' for v in verdicts)} NOT MET, "
          f"{sum(v not in ('MET', 'NOT MET') for v in verdicts)} not measured")


def _references(summary, rates):
    """Each target's reference for the throughput table: (label, req/s). The issue's targets use the same ones."""
    def rps(name):
        return summary[name]["rps"] if name in summary else None

    ceiling = rps("ceiling")
    references = {name: ("the ceiling", ceiling) for name in summary if name != "ceiling"}
    references["cc-es256"] = ("floor-es256", rps("floor-es256"))
    references["cc-eddsa"] = ("floor-eddsa", rps("floor-eddsa"))
    verify = rates.get("es256_verify")
    references["me-es256"] = ("ceiling + ES256 verify", 1 / (1 / ceiling + verify["us"] / 1e6) if ceiling and verify else None)
    argon = rates.get("argon2id_verify")
    references["password"] = ("raw Argon2id verify", argon["per_second"] if argon else None)
    references["login-form"] = references["password"]
    references["signin-sqlite"] = ("4,000 req/s (2,000 pairs/s)", 4000)
    references["signin-rs256"] = ("4,000 req/s (2,000 pairs/s)", 4000)
    references["refresh-sqlite"] = ("5,000/s", 5000)
    references["refresh-postgres"] = ("2,000/s", 2000)
    return references


def _read(path):
    return open(path).read().strip() if os.path.exists(path) else "–"


def _targets(summary, flood, flood_info, rates, startup, durable, skipped, build):
    """One row per target of issue #6: (target, figure, reference, ratio, threshold, verdict)."""
    rows = []

    def rps(name):
        return summary[name]["rps"] if name in summary else None

    def cpu(name):
        return summary[name]["cpu_us"] if name in summary else None

    def ratio_row(title, name, ref_name, ref_label, threshold, ref_value=None, ref_cpu=None):
        figure = rps(name)
        if name in summary and "pairs" in summary[name]:
            # Side by side: the median of the per-round ratios, each round against the reference's round just before it.
            runs, pairs = summary[name]["runs"], summary[name]["pairs"]
            ratio = statistics.median(r["rps"] / ref for r, (ref, _) in zip(runs, pairs))
            reference = _median([ref for ref, _ in pairs])
            cpus = [ref_cpu_r / r["cpu_us"] for r, (_, ref_cpu_r) in zip(runs, pairs) if ref_cpu_r and r["cpu_us"]]
            by_cpu = (f"{statistics.median(cpus):.0%} ({_median([c for _, c in pairs]):,.0f} vs {cpu(name):,.0f} µs)"
                      if len(cpus) == len(runs) else "–")
            rows.append((title, f"{figure:,.0f} req/s", f"{ref_label}: {reference:,.0f} req/s, side by side", f"{ratio:.0%}",
                         f"≥ {threshold:.0%}", "MET" if ratio >= threshold else "NOT MET", by_cpu))
            return
        reference = ref_value if ref_value is not None else rps(ref_name)
        if figure is None or reference is None:
            rows.append((title, _fmt(figure, 0, " req/s"), ref_label, "–", f"≥ {threshold:.0%}", "n/a: not run", "–"))
            return
        ratio = figure / reference
        reference_cpu = ref_cpu if ref_cpu is not None else cpu(ref_name) if ref_name else None
        by_cpu = f"{reference_cpu / cpu(name):.0%} ({reference_cpu:,.0f} vs {cpu(name):,.0f} µs)" if reference_cpu and cpu(name) else "–"
        rows.append((title, f"{figure:,.0f} req/s", f"{ref_label}: {reference:,.0f} req/s", f"{ratio:.0%}", f"≥ {threshold:.0%}",
                     "MET" if ratio >= threshold else "NOT MET", by_cpu))

    ratio_row("client_credentials, HS256", "cc-hs256", "ceiling", "ceiling", 0.80)
    ratio_row("client_credentials, ES256", "cc-es256", "floor-es256", "ES256 floor", 0.80)
    ratio_row("client_credentials, EdDSA", "cc-eddsa", "floor-eddsa", "EdDSA floor", 0.80)
    ratio_row("seed sample GET /token", "seed", "ceiling", "ceiling", 0.90)

    seed, fastapi = rps("seed"), rps("fastapi-async")
    if seed is not None and fastapi is not None:
        by_cpu = f"{cpu('fastapi-async') / cpu('seed'):.2f}×" if cpu("seed") and cpu("fastapi-async") else "–"
        rows.append(("seed sample GET /token vs the seed's FastAPI app (async)", f"{seed:,.0f} req/s", f"FastAPI async: {fastapi:,.0f} req/s",
                     f"{seed / fastapi:.2f}×", "≥ 2×", "MET" if seed >= 2 * fastapi else "NOT MET", by_cpu))
    else:
        rows.append(("seed sample GET /token vs the seed's FastAPI app (async)", _fmt(seed, 0, " req/s"), "FastAPI async", "–", "≥ 2×", "n/a: not run", "–"))

    ceiling, verify = rps("ceiling"), rates.get("es256_verify")
    if ceiling is not None and verify is not None:
        reference = 1 / (1 / ceiling + verify["us"] / 1e6)
        ratio_row("/me with a valid ES256 bearer", "me-es256", None,
                  f"ceiling + ES256 verify ({verify['us']:.0f} µs)", 0.80, ref_value=reference,
                  ref_cpu=cpu("ceiling") + verify["cpu_us"] if cpu("ceiling") else None)
    else:
        ratio_row("/me with a valid ES256 bearer", "me-es256", None, "ceiling + ES256 verify", 0.80, ref_value=None)

    for name, title, floor in (("refresh-sqlite", "refresh_token grant, SQLite", 5000), ("refresh-postgres", "refresh_token grant, PostgreSQL", 2000)):
        figure = rps(name)
        if name in skipped:
            rows.append((title, "–", "absolute", "–", f"≥ {floor:,}/s", f"SKIPPED: {skipped[name]}"))
        elif figure is None:
            rows.append((title, "–", "absolute", "–", f"≥ {floor:,}/s", "n/a: not run"))
        else:
            # Not a ratio: the CPU column says how far the server's CPU alone would go, i.e. whether it waits on something else.
            cpu_us = cpu(name)
            rows.append((title, f"{figure:,.0f} req/s", "absolute", f"{figure / floor:.0%} of {floor:,}/s", f"≥ {floor:,}/s",
                         "MET" if figure >= floor else "NOT MET",
                         f"{cpu_us:,.0f} µs CPU per request: the CPU alone would allow {1e6 / cpu_us:,.0f}/s" if cpu_us else "–"))
    if durable:
        rows.append(("refresh rotations durable across kill -9", f"{durable['ok']} of {durable['total']} tokens held by the client redeemable after kill -9 + restart",
                     "every one", f"{durable['ok'] / durable['total']:.0%}" if durable["total"] else "–", "100%",
                     "MET" if durable["total"] and durable["ok"] == durable["total"] else "NOT MET"))
    else:
        rows.append(("refresh rotations durable across kill -9", "–", "every one", "–", "100%", "n/a: not run"))

    # Browser sign-in (issue #22): pairs of a silent re-authorization and its code exchange; the login page; a full login.
    for name, title in (("signin-sqlite", "browser sign-in pairs, SQLite (openid; the client registered ES256 id tokens)"),
                        ("signin-rs256", "browser sign-in pairs, SQLite (openid; RS256 id tokens, the default)")):
        figure = rps(name)
        if figure is None:
            rows.append((title, "–", "absolute", "–", "≥ 2,000 pairs/s", "n/a: not run"))
        else:
            cpu_us = cpu(name)
            rows.append((title, f"{figure / 2:,.0f} pairs/s ({figure:,.0f} req/s)", "absolute", f"{figure / 2 / 2000:.0%} of 2,000/s",
                         "≥ 2,000 pairs/s", "MET" if figure / 2 >= 2000 else "NOT MET",
                         f"{2 * cpu_us:,.0f} µs CPU per pair: the CPU alone would allow {1e6 / (2 * cpu_us):,.0f} pairs/s" if cpu_us else "–"))
    ratio_row("login page GET (a new browser: the page and its antiforgery token)", "login-page", "ceiling", "ceiling", 0.30)

    verify_argon = rates.get("argon2id_verify")
    ratio_row("a full login through the login form (POST /authorize/login: Argon2id, a session, the redirect)", "login-form", None,
              f"raw Argon2id verify ({verify_argon['params']}, Latchkey's PasswordHasher, one thread)" if verify_argon else "raw Argon2id",
              0.90, ref_value=verify_argon["per_second"] if verify_argon else None, ref_cpu=verify_argon["cpu_us"] if verify_argon else None)
    ratio_row("password grant", "password", None,
              f"raw Argon2id verify ({verify_argon['params']}, Latchkey's PasswordHasher, one thread)" if verify_argon else "raw Argon2id",
              0.90, ref_value=verify_argon["per_second"] if verify_argon else None, ref_cpu=verify_argon["cpu_us"] if verify_argon else None)

    # Login flood: p99 of the paced client_credentials and /me loads, with and without the flood.
    for part, title in (("cc", "login flood: client_credentials p99"), ("me", "login flood: /me p99")):
        base, load = flood.get(f"baseline-{part}"), flood.get(f"load-{part}")
        if base and load:
            b, l = _median([r["p99"] for r in base]), _median([r["p99"] for r in load])
            rows.append((title, f"{l:,.2f} ms under the flood", f"unloaded: {b:,.2f} ms", f"{l / b:.1f}×", "≤ 2×", "MET" if l <= 2 * b else "NOT MET"))
        else:
            rows.append((title, "–", "unloaded p99", "–", "≤ 2×", "n/a: not run"))
    logins = flood.get("load-login")
    if logins:
        statuses = {}
        for r in logins:
            for code, n in r["statuses"].items():
                statuses[code] = statuses.get(code, 0) + n
        total = sum(statuses.values())
        refused = statuses.get(429, 0) + statuses.get(503, 0)
        missing = sum(r["refused_without_retry_after"] for r in logins)
        p99 = _median([r["p99"] for r in logins])
        rows.append(("login flood: excess logins refused fast (429/503 + Retry-After)",
                     f"{refused} of {total} refused ({missing} without Retry-After); flood p99 {_fmt(p99, 0, ' ms')}",
                     f"offered ≈ {flood_info.get('offered_rps', 0):,.0f}/s vs capacity ≈ {flood_info.get('capacity_rps', 0):,.0f}/s",
                     f"{refused / total:.0%} refused" if total else "–", "excess refused, with Retry-After",
                     "MET" if refused > 0 and missing == 0 else "NOT MET"))
    else:
        rows.append(("login flood: excess logins refused fast (429/503 + Retry-After)", "–", "–", "–", "excess refused", "n/a: not run"))

    if "cc-es256" in summary:
        peak = _mib(summary["cc-es256"]["peak_rss_kb"])
        others = ", ".join(f"{label} {_mib(summary[n]['peak_rss_kb']):.1f} MiB" for n, label in (("cc-hs256", "HS256"), ("cc-eddsa", "EdDSA")) if n in summary)
        # Which build: the target is for every build a user may run, the JIT ones (`--jit`) as well as Native AOT.
        which = "the JIT build" if build.startswith("framework-dependent") else "Native AOT" if build.startswith("Native AOT") else "Latchkey"
        rows.append((f"peak RSS under client_credentials load (ES256, the default; {which})", f"{peak:.1f} MiB" + (f" ({others})" if others else ""),
                     "absolute", "–", "≤ 80 MiB", "MET" if peak <= 80 else "NOT MET"))
        idle = _mib(summary["cc-es256"]["idle_rss_kb"])
        rows.append(("idle RSS (latchkey serve, ES256, after its first token)", f"{idle:.1f} MiB", "–", "–", "reported", "reported"))
    else:
        rows.append(("peak RSS under client_credentials load", "–", "absolute", "–", "≤ 80 MiB", "n/a: not run"))

    if startup:
        ms = statistics.median(startup["first_token_ms"])
        rows.append(("start-up to the first served token", f"{ms:,.0f} ms", "absolute", "–", "< 500 ms", "MET" if ms < 500 else "NOT MET"))
    else:
        rows.append(("start-up to the first served token", "–", "absolute", "–", "< 500 ms", "n/a: not run"))

    throughput = {n: s for n, s in summary.items()}
    bad = {n: s["non2xx"] + s["socket_errors"] for n, s in throughput.items() if s["non2xx"] + s["socket_errors"]}
    if throughput:
        rows.append(("no non-2xx (nor socket errors) in any throughput run", f"{sum(bad.values())}" + (f" ({', '.join(f'{n}: {c}' for n, c in bad.items())})" if bad else ""),
                     f"{len(throughput)} targets", "–", "0", "MET" if not bad else "NOT MET"))
    return [row + ("–",) * (7 - len(row)) for row in rows]


if __name__ == "__main__":
    main(sys.argv)
