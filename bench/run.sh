#!/usr/bin/env bash
# bench/run.sh: Latchkey's HTTP benchmark, with its references measured in the same run (issue #6).
#
#   bench/run.sh [--duration S] [--warmup S] [--settle] [--rounds N] [--only NAME,...] [--out FILE] [--jit] [--micro] [--keep]
#
# Builds Release, then for each target: starts it pinned to core 0 (taskset -c 0), waits until it answers, warms it up
# with wrk, measures N rounds of `wrk -t1 -c32 --latency` pinned to core 1, and reads its RSS from /proc. Writes FILE
# (default bench/RESULTS.md): req/s, p50, p99, non-2xx and RSS of every target (medians of the rounds), and each
# issue #6 target as a ratio to its reference, MET or NOT MET. The ratio targets are measured side by side: the
# reference's server stays up (idle on core 0) and runs a round before each of the target's rounds (the password
# target: the raw Argon2id rate), and the ratio is the median of the per-round ratios. The ES256 and EdDSA floors get
# no rounds of their own when their client_credentials target runs: their rounds are the ones beside it.
# --micro also runs bench/micro.sh (BenchmarkDotNet).
# --keep leaves the work folder (every wrk output, server log and data folder) and prints where it is.
# --settle warms each .NET server up until its tiered JIT has settled (5 s chunks after the --warmup, until the
# runtime's tiering thread used under 2% of two chunks in a row, at most 90 s): steady-state figures, ~17 minutes.
# Without it the first rounds of a .NET server still pay for tier-up compilation (RESULTS.md shows how much, per target).
# Latchkey itself is measured as the Native AOT build (`dotnet publish -p:PublishAot=true`, README "Install"): it
# starts in a fraction of the time and memory and has no JIT to warm up; warmed up, the JIT build spends less CPU per
# request (README "Install"). --jit measures the framework-dependent build (`dotnet build`, what `dotnet run` and the
# .NET tool run) instead. The references and the seed sample are JIT builds.
#
# Defaults: --duration 8 --warmup 5 --rounds 3, about 13 minutes on 2 cores (14 targets × (5 s warm-up + 3 × 8 s), the
# rounds of the references beside their 5 targets: 5 × (2 s + 3 × 8 s), the flood's 3 × 2 × 8 s, the builds: ~3 min
# for Native AOT from a clean clone; 12 min 40 s from a clean clone on cd9a96b). --duration 1 --warmup 1 --rounds 1 is
# the smoke run (.ci/run), about 2 minutes after the AOT publish.
# Targets are reported, not asserted: the exit status is 0 unless a build failed, a server crashed or never answered,
# or an output could not be parsed. Installs nothing: it says what is missing and stops.
#
# Targets (--only takes these names; rates, the login flood and start-up need the targets they compare with to be
# listed too, or their rows say "not run"):
#   rates            in-process one-thread rates: the raw primitives and Latchkey's Argon2id (references rates)
#   ceiling          bench/References constant: GET /token returns a constant token
#   floor-hs256 floor-es256 floor-eddsa floor-rs256   bench/References: the seed's claims signed per request, raw primitive
#   fastapi-sync fastapi-async   bench/fastapi: the seed tutorial's FastAPI app, PyJWT per request, uvicorn 1 worker
#                    with uvloop and httptools (what `pip install "fastapi[standard]"` runs it with)
#   seed             samples/Seed as shipped (its appsettings.json: the web template's logging), GET /token
#   cc-hs256 cc-es256 cc-eddsa   latchkey serve: POST /token client_credentials (HTTP Basic), per algorithm
#   me-es256         latchkey serve: GET /me with one valid ES256 bearer
#   signin-sqlite    latchkey serve: a silent re-authorization (GET /authorize, scope openid, prompt=none, a live session)
#                    and its code exchange (POST /token authorization_code, PKCE: an access token and an id token), as
#                    pairs (bench/wrk/signin.lua); pairs/s = req/s / 2. The client registered ES256 id tokens (--id-token-alg)
#   signin-rs256     the same for a client with the default RS256 id tokens (an RSA-2048 signature per pair)
#   login-page       latchkey serve: GET /authorize from a new browser (no session): the login page and its antiforgery token
#   login-form       latchkey serve: POST /authorize/login, right password, 2 connections: a full login (Argon2id, a new
#                    session, the redirect with a code)
#   refresh-sqlite   latchkey serve: POST /token refresh_token, rotating (bench/wrk/refresh.lua), then kill -9 + restart
#   refresh-postgres the same on PostgreSQL: only with BENCH_POSTGRES='Host=…;Port=…;…' (needs the Postgres provider)
#   password         latchkey serve: POST /token password, 2 connections
#   flood            a password-grant flood at ~4× capacity beside paced client_credentials and /me loads
#   startup          latchkey serve: process start to the first token
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
# wrk sends tens of thousands of requests a second from one address: the per-address request rate limit stays on (its
# cost is part of each /token request measured), set far above anything a run sends, so that nothing is refused with 429.
export LATCHKEY__RATELIMIT__PERMITSPERMINUTE=${LATCHKEY__RATELIMIT__PERMITSPERMINUTE:-2000000000}
unset PAIRED_WITH OWN_ROUNDS SERVER_CWD   # per-call settings of measure and start_server, never the caller's
# The GC's gen0 budget comes from each build's own runtime configuration (Latchkey.Server.csproj), as when a user runs it:
# a caller's variable would override it unseen.
unset DOTNET_GCGen0MaxBudget COMPlus_GCGen0MaxBudget DOTNET_GCgen0size COMPlus_GCgen0size

duration=8 warmup=5 rounds=3 only="" out="bench/RESULTS.md" micro=0 keep=0 settle=0 jit=0
command_line="bench/run.sh${*:+ $*}"
while [ $# -gt 0 ]; do
  case $1 in
    --duration) duration=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --micro) micro=1; shift ;;
    --keep) keep=1; shift ;;
    --settle) settle=1; shift ;;
    --jit) jit=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench/run.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
for n in "$duration" "$warmup" "$rounds"; do
  [[ $n =~ ^[1-9][0-9]*$ ]] || { echo "bench/run.sh: --duration, --warmup and --rounds take whole numbers ≥ 1" >&2; exit 2; }
done

# ------------------------------------------------------------------------------------------------ prerequisites
python=/usr/bin/python3   # Debian's: the packages below are Debian's, not a pyenv python's
missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v taskset >/dev/null || missing+=(util-linux)
command -v curl >/dev/null || missing+=(curl)
# Native AOT links with the system's clang, and zlib's headers and library.
if [ "$jit" = 0 ]; then
  command -v clang >/dev/null || missing+=(clang)
  [ -e /usr/include/zlib.h ] || missing+=(zlib1g-dev)
fi
command -v dotnet >/dev/null || { echo "bench/run.sh: needs the .NET 10 SDK (dotnet) on PATH" >&2; exit 2; }
if [ -x "$python" ]; then
  # uvloop and httptools: uvicorn runs the FastAPI reference on them, as FastAPI's own install (fastapi[standard]) does;
  # without them it would fall back to asyncio's loop and the pure-Python h11, about half the rate.
  for module in fastapi:python3-fastapi uvicorn:python3-uvicorn uvloop:python3-uvloop httptools:python3-httptools jwt:python3-jwt; do
    "$python" -c "import ${module%%:*}" 2>/dev/null || missing+=("${module#*:}")
  done
else
  missing+=(python3 python3-fastapi python3-uvicorn python3-uvloop python3-httptools python3-jwt)
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "bench/run.sh: missing prerequisites. Install them with:" >&2
  echo "  apt-get install ${missing[*]}" >&2
  exit 2
fi
if [ "$(nproc)" -lt 2 ]; then
  echo "bench/run.sh: needs 2 cores (the server on core 0, wrk on core 1); this machine has $(nproc)" >&2
  exit 2
fi

# ------------------------------------------------------------------------------------------------ bookkeeping
work=$(mktemp -d)
results="$work/results"
# The servers' working folder, empty: ASP.NET Core watches its content root (the working folder) for appsettings.json
# changes, and that FileSystemWatcher wakes on every write below it. Server logs and data folders stay outside it.
cwd="$work/cwd"
mkdir -p "$results" "$cwd"
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ "$keep" = 1 ]; then echo "== kept $work (wrk outputs in results/, server logs, data folders)"; else rm -rf "$work"; fi
}
trap cleanup EXIT
# Whatever fails unexpectedly says where.
trap 'echo "bench/run.sh: line $LINENO failed: $BASH_COMMAND" >&2' ERR

die() { echo "bench/run.sh: $*" >&2; exit 1; }
say() { echo "== $*"; }
started_at=$(date +%s)

declare -A selected=()
if [ -n "$only" ]; then
  IFS=, read -ra names <<<"$only"
  for n in "${names[@]}"; do selected[$n]=1; done
fi
wanted() { [ -z "$only" ] || [ -n "${selected[$1]:-}" ]; }
known=" rates ceiling floor-hs256 floor-es256 floor-eddsa floor-rs256 fastapi-sync fastapi-async seed cc-hs256 cc-es256 cc-eddsa me-es256 signin-sqlite signin-rs256 login-page login-form refresh-sqlite refresh-postgres password flood startup "
for n in "${!selected[@]}"; do
  [[ $known == *" $n "* ]] || { echo "bench/run.sh: unknown target '$n' in --only; the targets are:$known" >&2; exit 2; }
done

# What each target is, for the report (order = report order).
cat >"$work/catalog.json" <<'JSON'
{
  "ceiling": "bench/References constant: GET /token, a constant token",
  "floor-hs256": "bench/References: seed claims + iat/exp, HMACSHA256.HashData per request",
  "floor-es256": "bench/References: the same, ECDsa P-256 per request",
  "floor-eddsa": "bench/References: the same, NSec Ed25519 per request",
  "floor-rs256": "bench/References: the same, RSA-2048 PKCS#1 per request",
  "fastapi-sync": "bench/fastapi: the seed's FastAPI app, `def` handler, PyJWT per request, uvicorn 1 worker, uvloop + httptools",
  "fastapi-async": "bench/fastapi: the same, `async def` handler",
  "seed": "samples/Seed as shipped: GET /token (the tutorial in C#), logging as its appsettings.json sets it",
  "cc-hs256": "latchkey serve --algorithm HS256: POST /token client_credentials",
  "cc-es256": "latchkey serve (ES256): POST /token client_credentials",
  "cc-eddsa": "latchkey serve --algorithm EdDSA: POST /token client_credentials",
  "me-es256": "latchkey serve (ES256): GET /me, one valid bearer",
  "signin-sqlite": "latchkey serve (ES256, SQLite): GET /authorize (openid, prompt=none, a live session) + POST /token authorization_code, alternating: pairs/s = req/s / 2; ES256 id tokens (the client registered them)",
  "signin-rs256": "the same, RS256 id tokens (the default)",
  "login-page": "latchkey serve (ES256): GET /authorize without a session: the login page",
  "login-form": "latchkey serve (ES256): POST /authorize/login, right password, 2 connections: Argon2id, a new session, 303 with a code",
  "refresh-sqlite": "latchkey serve (ES256, SQLite): POST /token refresh_token, rotating",
  "refresh-postgres": "latchkey serve (ES256, PostgreSQL): POST /token refresh_token, rotating",
  "password": "latchkey serve (ES256): POST /token password (Argon2id per request)"
}
JSON

# ------------------------------------------------------------------------------------------------ build
build() {
  local project=$1 log="$work/build-$(basename "$1").log"
  echo "   dotnet build -c Release $project"
  dotnet build -c Release "$project" >"$log" 2>&1 || { tail -n 30 "$log" >&2; die "build of $project failed"; }
}
say "build (Release)"
if [ "$jit" = 1 ]; then
  build src/Latchkey.Server
  latchkey=(dotnet "$root/src/Latchkey.Server/bin/Release/net10.0/latchkey.dll")
  # The GC's gen0 cap, from latchkey.runtimeconfig.json (Latchkey.Server.csproj): the report names it.
  gen0_cap=$("$python" -c 'import json, sys; print(json.load(open(sys.argv[1]))["runtimeOptions"]["configProperties"].get("System.GC.Gen0MaxBudget", "not set"))' \
    "$root/src/Latchkey.Server/bin/Release/net10.0/latchkey.runtimeconfig.json") || die "latchkey.runtimeconfig.json could not be read"
  latchkey_build="framework-dependent (JIT): dotnet build -c Release; latchkey.runtimeconfig.json: System.GC.Gen0MaxBudget = $gen0_cap"
else
  # Native AOT: the whole program compiled ahead of time, for this machine's OS and architecture (a few minutes).
  aot_out="$root/src/Latchkey.Server/bin/Release/net10.0/linux-x64/aot"
  aot_log="$work/build-aot.log"
  echo "   dotnet publish -c Release -r linux-x64 -p:PublishAot=true src/Latchkey.Server"
  dotnet publish -c Release -r linux-x64 -p:PublishAot=true -o "$aot_out" src/Latchkey.Server >"$aot_log" 2>&1 \
    || { tail -n 30 "$aot_log" >&2; die "Native AOT publish of src/Latchkey.Server failed"; }
  latchkey=("$aot_out/latchkey")
  latchkey_build="Native AOT: dotnet publish -c Release -r linux-x64 -p:PublishAot=true"
fi
build bench/References
build samples/Seed
# Built, not run, so that it keeps compiling: bench/micro.sh runs it.
build bench/Micro
references=(dotnet "$root/bench/References/bin/Release/net10.0/references.dll")
seed_dll="$root/samples/Seed/bin/Release/net10.0/Seed.dll"

# ------------------------------------------------------------------------------------------------ servers and wrk
server_pid=""
# start_server NAME CMD...: starts CMD in an empty working folder (no appsettings.json of ours is read, and no write of
# the benchmark lands under its content root), or in SERVER_CWD when set, pinned to core 0. taskset and env exec their
# command, so server_pid is the server's own process (its /proc/PID/status is read).
start_server() {
  local name=$1; shift
  ( cd "${SERVER_CWD:-$cwd}" && exec taskset -c 0 "$@" ) >>"$work/$name.log" 2>&1 &
  server_pid=$!
  pids+=("$server_pid")
}

# wait_ready NAME CURL_ARGS...: polls (60 s at most) until curl succeeds; fails if the server exits.
wait_ready() {
  local name=$1; shift
  local deadline=$((SECONDS + 60))
  until curl -fsS -o /dev/null --max-time 5 "$@" 2>/dev/null; do
    kill -0 "$server_pid" 2>/dev/null || { tail -n 30 "$work/$name.log" >&2; die "$name: the server exited before answering"; }
    [ $SECONDS -lt $deadline ] || { tail -n 30 "$work/$name.log" >&2; die "$name: no answer within 60 s"; }
    sleep 0.1
  done
}

stop_server() {
  [ -n "$server_pid" ] || return 0
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  local keep=() pid
  for pid in "${pids[@]}"; do [ "$pid" = "$server_pid" ] || keep+=("$pid"); done
  pids=("${keep[@]}")
  server_pid=""
}

rss_kb() { awk -v field="$2:" '$1 == field { print $2 }' "/proc/$1/status"; }
# CPU time the process has used (user + system, in clock ticks): per round, the server's CPU cost of a request, which
# other load on the machine disturbs far less than its rate.
# (Fields 14 and 15 of stat, counted after the ")" that closes the name, which may hold spaces.)
stat_ticks() { sed 's/.*) //' "$1" 2>/dev/null | awk '{ print $12 + $13 }'; }
cpu_ticks() { stat_ticks "/proc/$1/stat"; }
clock_ticks=$(getconf CLK_TCK)
# thread_ticks PID NAME: CPU ticks of the process's threads whose name starts with NAME. .NET names its long-lived threads:
# ".NET Tiered Com" compiles hot methods again at a higher tier (JIT), "Console logger " writes the console log.
thread_ticks() {
  local t total=0 comm
  for t in /proc/"$1"/task/*; do
    comm=$(cat "$t/comm" 2>/dev/null) || continue
    [[ $comm == "$2"* ]] && total=$((total + $(stat_ticks "$t/stat") + 0))
  done
  echo "$total"
}

# round_counters PID: "process jit console" CPU ticks so far.
round_counters() { echo "$(cpu_ticks "$1") $(thread_ticks "$1" ".NET Tiered Com") $(thread_ticks "$1" "Console logger")"; }

# record_round OUTFILE PID BEFORE: appends the CPU the server used during the round to wrk's output, for the report.
record_round() {
  local -a b a
  read -ra b <<<"$3"
  read -ra a <<<"$(round_counters "$2")"
  printf 'cpu_ticks %s %s\njit_ticks %s\nconsole_ticks %s\n' $((a[0] - b[0])) "$clock_ticks" $((a[1] - b[1])) $((a[2] - b[2])) >>"$1"
}

# settle NAME PID URL CONNECTIONS SCRIPT [VAR=VALUE...]: with --settle, more warm-up in 5 s chunks until the JIT is done.
settle() {
  [ "$settle" = 1 ] || return 0
  local name=$1 pid=$2 url=$3 connections=$4 script=$5; shift 5
  local spent=$warmup before after quiet=0
  while [ "$spent" -lt 90 ] && [ "$quiet" -lt 2 ]; do
    before=$(thread_ticks "$pid" ".NET Tiered Com")
    run_wrk "$work/$name.settle.txt" 5 "$connections" "$url" "$script" "$@"
    after=$(thread_ticks "$pid" ".NET Tiered Com")
    spent=$((spent + 5))
    # Settled after two chunks in a row in which the tiering thread used under 2% of the 5 s (one quiet chunk can come
    # before tier-up has even begun: call counting waits until tier-0 compiling has paused).
    if [ $(( (after - before) * 100 )) -lt $(( 2 * 5 * clock_ticks )) ]; then quiet=$((quiet + 1)); else quiet=0; fi
  done
  echo "   $name: warmed up $spent s"
}

# run_wrk OUTFILE SECONDS CONNECTIONS URL SCRIPT [VAR=VALUE...]: one wrk run pinned to core 1; the variables configure
# the lua script (bench/wrk/*.lua).
run_wrk() {
  local output=$1 seconds=$2 connections=$3 url=$4 script=$5; shift 5
  env "$@" taskset -c 1 wrk -t1 -c"$connections" -d"${seconds}s" --timeout 10s --latency -s "$root/bench/wrk/$script" "$url" \
    >"$output" 2>&1 || { cat "$output" >&2; die "wrk failed against $url"; }
  grep -q '^Requests/sec:' "$output" || { cat "$output" >&2; die "wrk printed no Requests/sec against $url"; }
}

brief() { awk '/^Requests\/sec:/ { rps = $2 } /^ +99%/ { p99 = $2 } /Non-2xx/ { bad = $NF } END { printf "%s req/s, p99 %s, non-2xx %d", rps, p99, bad }' "$1"; }

# Side by side: a target's ratio is taken against its reference measured in the rounds in between its own, not minutes
# earlier (this VM's speed drifts by more than 10% over minutes: bench/README.md, "How a target is measured"). A
# reference server whose targets are wanted stays up, idle on core 0, after its own rounds (keep_reference); measure
# with PAIRED_WITH=NAME then runs one round of that reference before each of the target's rounds, into
# TARGET.pair.rN.txt. A reference kept without rounds of its own (OWN_ROUNDS=0 measure: the floors) takes those as its
# own rounds, REFERENCE.rN.txt.
declare -A reference_pid=() reference_url=() reference_borrows=()
# keep_reference NAME URL [borrows]: NAME's server stays up; "borrows": it had no rounds of its own.
keep_reference() { reference_pid[$1]=$server_pid; reference_url[$1]=$2; reference_borrows[$1]=${3:-}; server_pid=""; }
# paired_with TARGET REFERENCE: REFERENCE if it is up, else nothing (the target is then compared with its own rounds).
paired_with() { [ -z "${reference_pid[$2]:-}" ] || echo "$2"; }
# pair_round NAME R REFERENCE: one round of REFERENCE, recorded as NAME's paired round R. REFERENCE "argon2id" is no
# server but the raw Argon2id verify rate (references rates --argon2id-verify), a third of a round long, on core 0.
pair_round() {
  local name=$1 r=$2 reference=$3 before
  if [ "$reference" = argon2id ]; then
    taskset -c 0 "${references[@]}" rates --argon2id-verify --seconds $(( (duration + 2) / 3 )) >"$results/$name.pair.r$r.json" \
      || die "references rates --argon2id-verify failed"
    echo "   $name round $r, raw Argon2id beside it: $(cat "$results/$name.pair.r$r.json")"
    return
  fi
  before=$(round_counters "${reference_pid[$reference]}")
  run_wrk "$results/$name.pair.r$r.txt" "$duration" 32 "${reference_url[$reference]}" request.lua
  record_round "$results/$name.pair.r$r.txt" "${reference_pid[$reference]}" "$before"
  [ -z "${reference_borrows[$reference]}" ] || cp "$results/$name.pair.r$r.txt" "$results/$reference.r$r.txt"
  echo "   $name round $r, $reference beside it: $(brief "$results/$name.pair.r$r.txt")"
}

# measure NAME URL CONNECTIONS SCRIPT [VAR=VALUE...]: idle RSS, warm-up, the rounds, peak RSS. With
# PAIRED_WITH=REFERENCE in the environment: a round of that reference before each round (after 2 s to wake it up: it
# sat idle). OWN_ROUNDS=0: the warm-up alone.
measure() {
  local name=$1 url=$2 connections=$3 script=$4; shift 4
  local idle r pair=${PAIRED_WITH:-} own_rounds=${OWN_ROUNDS:-$rounds}
  idle=$(rss_kb "$server_pid" VmRSS)
  run_wrk "$work/$name.warmup.txt" "$warmup" "$connections" "$url" "$script" "$@"
  settle "$name" "$server_pid" "$url" "$connections" "$script" "$@"
  [ -z "$pair" ] || [ "$pair" = argon2id ] \
    || run_wrk "$work/$name.pair.warmup.txt" $((warmup < 2 ? warmup : 2)) 32 "${reference_url[$pair]}" request.lua
  for r in $(seq 1 "$own_rounds"); do
    [ -z "$pair" ] || pair_round "$name" "$r" "$pair"
    before=$(round_counters "$server_pid")
    run_wrk "$results/$name.r$r.txt" "$duration" "$connections" "$url" "$script" "$@"
    record_round "$results/$name.r$r.txt" "$server_pid" "$before"
    echo "   $name round $r: $(brief "$results/$name.r$r.txt")"
  done
  kill -0 "$server_pid" 2>/dev/null || die "$name: the server died under load (see its log)"
  printf '{"idle_rss_kb": %s, "peak_rss_kb": %s, "connections": %s}\n' "$idle" "$(rss_kb "$server_pid" VmHWM)" "$connections" >"$results/$name.json"
}

skip() { echo "   $1 skipped: $2"; "$python" - "$results/skipped.json" "$1" "$2" <<'PY'
import json, os, sys
path, name, why = sys.argv[1:]
skipped = json.load(open(path)) if os.path.exists(path) else {}
skipped[name] = why
json.dump(skipped, open(path, "w"))
PY
}

free_port() { "$python" "$root/bench/bench.py" port; }

# ------------------------------------------------------------------------------------------------ meta
json_string() { "$python" -c 'import json, sys; print(json.dumps(sys.argv[1]))' "$1"; }
versions="dotnet SDK $(dotnet --version), ASP.NET Core $(dotnet --list-runtimes | awk '/Microsoft.AspNetCore.App/ { v = $2 } END { print v }'); \
$("$python" --version 2>&1), $("$python" -c 'import fastapi, uvicorn, uvloop, httptools, jwt, starlette; print(f"FastAPI {fastapi.__version__}, Starlette {starlette.__version__}, uvicorn {uvicorn.__version__} (--loop uvloop {uvloop.__version__}, --http httptools {httptools.__version__}), PyJWT {jwt.__version__}")'); \
$( (wrk -v 2>&1 || true) | awk 'NR == 1 { print $1, $2 }'); Microsoft.IdentityModel.JsonWebTokens 8.23.0 and BenchmarkDotNet in bench/Micro"
cat >"$results/meta.json" <<JSON
{
  "command": $(json_string "$command_line"),
  "date": $(json_string "$(date -u '+%Y-%m-%d %H:%M UTC')"),
  "duration": $duration, "warmup": $warmup, "rounds": $rounds, "settle": $settle,
  "latchkey_build": $(json_string "$latchkey_build"),
  "machine": {
    "cpu": $(json_string "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"),
    "nproc": $(nproc),
    "memory": $(json_string "$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"),
    "kernel": $(json_string "$(uname -r)"),
    "load_before": $(json_string "$(cut -d' ' -f1-3 /proc/loadavg)")
  },
  "versions": $(json_string "$versions"),
  "note": $(json_string "${BENCH_NOTE:-}"),
  "targets": $(cat "$work/catalog.json")
}
JSON

# ------------------------------------------------------------------------------------------------ in-process rates
if wanted rates; then
  say "rates: raw primitives and Latchkey's Argon2id, one thread on core 0"
  # One second per primitive (three for Argon2id) in a full run; a fifth of that in a short one.
  rate_seconds=1 argon2_seconds=3
  [ "$duration" -ge 5 ] || rate_seconds=0.2 argon2_seconds=1
  taskset -c 0 "${references[@]}" rates --seconds "$rate_seconds" >"$results/rates.jsonl" || die "references rates failed"
  cat "$results/rates.jsonl" | sed 's/^/   /'
  if "$python" -c 'import argon2' 2>/dev/null; then
    taskset -c 0 "$python" "$root/bench/bench.py" argon2-cffi "$argon2_seconds" 19456 2 >"$results/argon2_cffi.json" \
      || die "argon2-cffi rate failed"
    sed 's/^/   /' "$results/argon2_cffi.json"
  else
    skip argon2_cffi "python3-argon2 is not installed (apt-get install python3-argon2 for the comparison)"
  fi
fi

# ------------------------------------------------------------------------------------------------ references
for mode in constant hs256 es256 eddsa rs256; do
  name=$([ "$mode" = constant ] && echo ceiling || echo "floor-$mode")
  wanted "$name" || continue
  say "$name"
  port=$(free_port)
  start_server "$name" "${references[@]}" "$mode" --urls "http://127.0.0.1:$port"
  wait_ready "$name" "http://127.0.0.1:$port/token"
  # The references of the ratio targets stay up for them (the ceiling also has rounds of its own: the floors,
  # FastAPI and the seed compare with it).
  case $name in
    ceiling) targets="seed cc-hs256 me-es256" ;;
    floor-es256) targets="cc-es256" ;;
    floor-eddsa) targets="cc-eddsa" ;;
    *) targets="" ;;
  esac
  needed=0
  for t in $targets; do wanted "$t" && needed=1; done
  if [ "$needed" = 1 ] && [ "$name" != ceiling ]; then
    OWN_ROUNDS=0 measure "$name" "http://127.0.0.1:$port/token" 32 request.lua
    keep_reference "$name" "http://127.0.0.1:$port/token" borrows
  else
    measure "$name" "http://127.0.0.1:$port/token" 32 request.lua
    if [ "$needed" = 1 ]; then keep_reference "$name" "http://127.0.0.1:$port/token"; else stop_server; fi
  fi
done

for style in sync async; do
  wanted "fastapi-$style" || continue
  say "fastapi-$style"
  port=$(free_port)
  # uvloop and httptools named, not left to uvicorn's `auto`, so that a missing one fails here instead of falling back.
  start_server "fastapi-$style" env BENCH_HANDLER="$style" "$python" -m uvicorn app:app --app-dir "$root/bench/fastapi" \
    --host 127.0.0.1 --port "$port" --workers 1 --no-access-log --log-level warning --loop uvloop --http httptools
  wait_ready "fastapi-$style" "http://127.0.0.1:$port/token"
  measure "fastapi-$style" "http://127.0.0.1:$port/token" 32 request.lua
  stop_server
done

if wanted seed; then
  say "seed (samples/Seed)"
  port=$(free_port)
  # As shipped: from its output folder, whose appsettings.json (`dotnet new web`'s: Microsoft.AspNetCore at Warning, so
  # no log line per request) is its configuration, with nothing added on the command line but the address.
  SERVER_CWD=$(dirname "$seed_dll") start_server seed dotnet "$seed_dll" --urls "http://127.0.0.1:$port"
  wait_ready seed "http://127.0.0.1:$port/token"
  PAIRED_WITH=$(paired_with seed ceiling) measure seed "http://127.0.0.1:$port/token" 32 request.lua
  stop_server
fi

# ------------------------------------------------------------------------------------------------ Latchkey
# Three data folders, one per signing algorithm, each with the confidential client "bench"; the ES256 one also has the
# user "bench" (for /me, refresh, password and the flood).
password='correct horse battery staple'
password_form='grant_type=password&username=bench&password=correct+horse+battery+staple'
hmac_secret=$(head -c 32 /dev/urandom | base64 -w0)
declare -A client_basic=()
# "postgres" is ES256 on BENCH_POSTGRES (with a master key from the environment, as every PostgreSQL node needs).
bench_master_key=$(head -c 32 /dev/urandom | base64)
database_args() { if [ "$1" = postgres ]; then echo "--database=$BENCH_POSTGRES"; fi; }
prepare_data() {
  local algorithm=$1 data="$work/data-$1" secret
  [ -z "${client_basic[$algorithm]:-}" ] || return 0
  secret=$(LATCHKEY__MASTERKEY="$bench_master_key" "${latchkey[@]}" clients add "bench-$algorithm" --grant client_credentials --audience api --json \
    --data-dir "$data" $(database_args "$algorithm") \
    | "$python" -c 'import json, sys; print(json.load(sys.stdin)["client_secret"])') || die "latchkey clients add failed"
  client_basic[$algorithm]="Basic $(printf 'bench-%s:%s' "$algorithm" "$secret" | base64 -w0)"
  if [ "$algorithm" = es256 ] || [ "$algorithm" = postgres ]; then
    printf '%s\n' "$password" | LATCHKEY__MASTERKEY="$bench_master_key" "${latchkey[@]}" users add bench --password-stdin --data-dir "$data" \
      $(database_args "$algorithm") >/dev/null || die "latchkey users add failed"
  fi
}

# serve_latchkey NAME ALGORITHM [EXTRA SERVE ARGS...]: starts latchkey serve and waits for its first client_credentials token.
serve_latchkey() {
  local name=$1 algorithm=$2; shift 2
  local args=() env=()
  case $algorithm in
    hs256) args=(--algorithm HS256); env=(LATCHKEY__HMACSECRET="$hmac_secret") ;;
    eddsa) args=(--algorithm EdDSA) ;;
    postgres) args=("$(database_args postgres)"); env=(LATCHKEY__MASTERKEY="$bench_master_key") ;;
  esac
  prepare_data "$algorithm"
  port=$(free_port)
  url="http://127.0.0.1:$port"
  start_server "$name" env "${env[@]}" "${latchkey[@]}" serve --urls "$url" --data-dir "$work/data-$algorithm" "${args[@]}" "$@"
  wait_ready "$name" -H "Authorization: ${client_basic[$algorithm]}" -d grant_type=client_credentials "$url/token"
}

for algorithm in hs256 es256 eddsa; do
  wanted "cc-$algorithm" || continue
  say "cc-$algorithm (client_credentials)"
  serve_latchkey "cc-$algorithm" "$algorithm"
  reference=$([ "$algorithm" = hs256 ] && echo ceiling || echo "floor-$algorithm")
  PAIRED_WITH=$(paired_with "cc-$algorithm" "$reference") measure "cc-$algorithm" "$url/token" 32 request.lua \
    BENCH_METHOD=POST BENCH_BODY=grant_type=client_credentials BENCH_AUTHORIZATION="${client_basic[$algorithm]}"
  echo "   cc-$algorithm peak RSS: $(awk '{ printf "%.1f MiB", $1 / 1024 }' <<<"$(rss_kb "$server_pid" VmHWM)") (target: ≤ 80 MiB; $latchkey_build)"
  stop_server
done

if wanted me-es256; then
  say "me-es256 (GET /me)"
  serve_latchkey me-es256 es256
  bearer=$("$python" "$root/bench/bench.py" login "$url" bench "$password" access_token) || die "me-es256: login failed"
  PAIRED_WITH=$(paired_with me-es256 ceiling) measure me-es256 "$url/me" 32 request.lua BENCH_AUTHORIZATION="Bearer $bearer"
  stop_server
fi
# Browser sign-in (issue #22). The clients: bench-web (public, first-party) registered ES256 id tokens, bench-rs256 has the
# default RS256. A live session comes from one sign-in through the login page (bench.py signin).
redirect=https://app.example/cb
redirect_query="redirect_uri=https%3A%2F%2Fapp.example%2Fcb"
signin_target() {
  local name=$1 client=$2; shift 2
  say "$name (silent re-authorization + code exchange, pairs; $client)"
  serve_latchkey "$name" es256
  "${latchkey[@]}" clients add "$client" --grant authorization_code --public --first-party --redirect-uri "$redirect" "$@" \
    --data-dir "$work/data-es256" >/dev/null 2>&1 || true   # already there from an earlier target of this run
  session=$("$python" "$root/bench/bench.py" signin "$url" bench "$password" "$client" "$redirect" cookie) || die "$name: the login page failed"
  read -r verifier challenge < <("$python" "$root/bench/bench.py" signin "$url" - - - - pkce)
  measure "$name" "$url/" 32 signin.lua \
    BENCH_AUTHORIZE="/authorize?response_type=code&client_id=$client&$redirect_query&scope=openid&prompt=none&code_challenge=$challenge&code_challenge_method=S256" \
    BENCH_COOKIE="latchkey-session=$session" \
    BENCH_EXCHANGE="grant_type=authorization_code&client_id=$client&$redirect_query&code_verifier=$verifier"
  stop_server
}
if wanted signin-sqlite; then signin_target signin-sqlite bench-web --id-token-alg ES256; fi
if wanted signin-rs256; then signin_target signin-rs256 bench-rs256; fi
if wanted login-page || wanted login-form; then
  serve_latchkey login-page es256
  "${latchkey[@]}" clients add bench-web --grant authorization_code --public --first-party --redirect-uri "$redirect" --id-token-alg ES256 \
    --data-dir "$work/data-es256" >/dev/null 2>&1 || true
  read -r _ challenge < <("$python" "$root/bench/bench.py" signin "$url" - - - - pkce)
  if wanted login-page; then
    say "login-page (GET /authorize from a new browser: the login page)"
    PAIRED_WITH=$(paired_with login-page ceiling) measure login-page \
      "$url/authorize?response_type=code&client_id=bench-web&$redirect_query&scope=openid&code_challenge=$challenge&code_challenge_method=S256" 32 request.lua
  fi
  if wanted login-form; then
    say "login-form (POST /authorize/login, right password, 2 connections)"
    { read -r form_cookie; read -r form_body; } < <("$python" "$root/bench/bench.py" signin "$url" bench "$password" bench-web "$redirect" form) \
      || die "login-form: the login page failed"
    PAIRED_WITH=argon2id measure login-form "$url/authorize/login" 2 request.lua BENCH_METHOD=POST BENCH_BODY="$form_body" BENCH_COOKIE="$form_cookie"
  fi
  stop_server
fi
# The references' last targets are done.
for reference in "${!reference_pid[@]}"; do
  server_pid=${reference_pid[$reference]}
  stop_server
done
reference_pid=()

# refresh NAME [EXTRA SERVE ARGS...]: the refresh_token grant with rotation. Each run starts with a pool of at least twice
# as many tokens as connections (topped up by password logins between runs: a token in flight when wrk stops is spent,
# its successor never read). After the last round: kill -9, restart, and every token the client holds must still work.
refresh_target() {
  local name=$1 algorithm=$2; shift 2
  local pool="$work/$name.pool" connections=32 r
  serve_latchkey "$name" "$algorithm" "$@"
  : >"$pool"
  top_up() {
    local have need
    have=$(grep -c . "$pool" || true)
    need=$((2 * connections - have))
    [ "$need" -le 0 ] || "$python" "$root/bench/bench.py" login "$url" bench "$password" refresh_token "$need" >>"$pool" \
      || die "$name: seeding refresh tokens failed"
  }
  top_up
  local idle
  idle=$(rss_kb "$server_pid" VmRSS)
  run_wrk "$work/$name.warmup.txt" "$warmup" "$connections" "$url/token" refresh.lua BENCH_POOL_IN="$pool" BENCH_POOL_OUT="$pool.next"
  mv "$pool.next" "$pool"
  if [ "$settle" = 1 ]; then
    local spent=$warmup jit_before jit_after quiet=0
    while [ "$spent" -lt 90 ] && [ "$quiet" -lt 2 ]; do
      top_up
      jit_before=$(thread_ticks "$server_pid" ".NET Tiered Com")
      run_wrk "$work/$name.settle.txt" 5 "$connections" "$url/token" refresh.lua BENCH_POOL_IN="$pool" BENCH_POOL_OUT="$pool.next"
      mv "$pool.next" "$pool"
      jit_after=$(thread_ticks "$server_pid" ".NET Tiered Com")
      spent=$((spent + 5))
      if [ $(( (jit_after - jit_before) * 100 )) -lt $(( 2 * 5 * clock_ticks )) ]; then quiet=$((quiet + 1)); else quiet=0; fi
    done
    echo "   $name: warmed up $spent s"
  fi
  for r in $(seq 1 "$rounds"); do
    top_up
    before=$(round_counters "$server_pid")
    run_wrk "$results/$name.r$r.txt" "$duration" "$connections" "$url/token" refresh.lua BENCH_POOL_IN="$pool" BENCH_POOL_OUT="$pool.next"
    record_round "$results/$name.r$r.txt" "$server_pid" "$before"
    mv "$pool.next" "$pool"
    echo "   $name round $r: $(brief "$results/$name.r$r.txt")"
  done
  kill -0 "$server_pid" 2>/dev/null || die "$name: the server died under load"
  printf '{"idle_rss_kb": %s, "peak_rss_kb": %s, "connections": %s}\n' "$idle" "$(rss_kb "$server_pid" VmHWM)" "$connections" >"$results/$name.json"

  # Durability: every rotation the client saw must survive a crash.
  kill -9 "$server_pid"; wait "$server_pid" 2>/dev/null || true
  serve_latchkey "$name" "$algorithm" "$@"
  "$python" "$root/bench/bench.py" refresh-check "$url" "$pool" >"$results/$name.durable.json" || die "$name: refresh check failed"
  echo "   $name after kill -9 and restart: $(cat "$results/$name.durable.json") tokens redeemable"
  stop_server
}

if wanted refresh-sqlite; then
  say "refresh-sqlite (refresh_token grant, rotating)"
  refresh_target refresh-sqlite es256
fi

if wanted refresh-postgres; then
  # ---- PostgreSQL slot: runs when the Postgres provider has landed and BENCH_POSTGRES names a database for it.
  if [ -n "${BENCH_POSTGRES:-}" ]; then
    say "refresh-postgres (refresh_token grant, rotating, on BENCH_POSTGRES)"
    refresh_target refresh-postgres postgres
  else
    skip refresh-postgres "set BENCH_POSTGRES to a connection string (Host=127.0.0.1;Port=5432;…) once the PostgreSQL provider lands"
  fi
fi

if wanted password; then
  say "password (password grant, 2 connections)"
  serve_latchkey password es256
  PAIRED_WITH=argon2id measure password "$url/token" 2 request.lua BENCH_METHOD=POST BENCH_BODY="$password_form"
  stop_server
fi

# ------------------------------------------------------------------------------------------------ login flood
# wrk is closed-loop (wrk2 is not packaged), so the flood is paced with wrk's delay(): 32 connections, each waiting
# 32 / (4 × capacity) s before each request, offer ≈ 4× the login capacity while logins are answered fast, and keep up to
# 32 logins queued when they are not. Beside it, client_credentials and /me are paced at ≈ 400 req/s each (4 connections,
# 10 ms apart): latency probes, not saturating loads. All three wrk processes share core 1; the server keeps core 0.
# Each round: the two probes alone ("baseline"), then with the flood ("load").
if wanted flood; then
  say "flood (password grant at ~4× capacity, beside client_credentials and /me)"
  capacity=$("$python" - "$results" <<'PY'
import json, os, re, statistics, sys
results = sys.argv[1]
runs = [os.path.join(results, f) for f in os.listdir(results) if re.fullmatch(r"password\.r\d+\.txt", f)]
rates = [float(re.search(r"^Requests/sec:\s+([\d.]+)", open(f).read(), re.M).group(1)) for f in runs]
if not rates and os.path.exists(os.path.join(results, "rates.jsonl")):
    rows = [json.loads(line) for line in open(os.path.join(results, "rates.jsonl"))]
    rates = [r["per_second"] for r in rows if r["name"] == "argon2id_verify"]
print(f"{statistics.median(rates) if rates else 30:.1f}")
PY
)
  flood_delay=$("$python" -c "import sys; print(max(1, round(1000 * 32 / (4 * float(sys.argv[1])))))" "$capacity")
  serve_latchkey flood es256
  bearer=$("$python" "$root/bench/bench.py" login "$url" bench "$password" access_token) || die "flood: login failed"
  probe_cc=(BENCH_METHOD=POST BENCH_BODY=grant_type=client_credentials BENCH_AUTHORIZATION="${client_basic[es256]}" BENCH_DELAY_MS=10)
  probe_me=(BENCH_AUTHORIZATION="Bearer $bearer" BENCH_DELAY_MS=10)
  flood_env=(BENCH_METHOD=POST BENCH_BODY="$password_form" BENCH_DELAY_MS="$flood_delay" BENCH_STATUS=1)
  run_wrk "$work/flood.warmup-cc.txt" "$warmup" 4 "$url/token" request.lua "${probe_cc[@]}" &
  warm_cc=$!
  run_wrk "$work/flood.warmup-me.txt" "$warmup" 4 "$url/me" request.lua "${probe_me[@]}"
  wait "$warm_cc" || die "flood: warm-up failed"
  for r in $(seq 1 "$rounds"); do
    run_wrk "$results/flood.baseline-cc.r$r.txt" "$duration" 4 "$url/token" request.lua "${probe_cc[@]}" &
    a=$!
    run_wrk "$results/flood.baseline-me.r$r.txt" "$duration" 4 "$url/me" request.lua "${probe_me[@]}"
    wait "$a" || die "flood: baseline failed"
    run_wrk "$results/flood.load-login.r$r.txt" "$duration" 32 "$url/token" request.lua "${flood_env[@]}" &
    a=$!
    run_wrk "$results/flood.load-cc.r$r.txt" "$duration" 4 "$url/token" request.lua "${probe_cc[@]}" &
    b=$!
    run_wrk "$results/flood.load-me.r$r.txt" "$duration" 4 "$url/me" request.lua "${probe_me[@]}"
    wait "$a" && wait "$b" || die "flood: load failed"
    echo "   flood round $r: cc p99 $(awk '/^ +99%/ { print $2 }' "$results/flood.baseline-cc.r$r.txt") -> $(awk '/^ +99%/ { print $2 }' "$results/flood.load-cc.r$r.txt"), " \
      "/me p99 $(awk '/^ +99%/ { print $2 }' "$results/flood.baseline-me.r$r.txt") -> $(awk '/^ +99%/ { print $2 }' "$results/flood.load-me.r$r.txt"), " \
      "logins: $(grep '^status' "$results/flood.load-login.r$r.txt" | tr '\n' ' ')"
    sleep 1   # let logins still queued from the flood drain before the next baseline
  done
  offered=$("$python" -c "import sys; print(round(32 * 1000 / float(sys.argv[1])))" "$flood_delay")
  kill -0 "$server_pid" 2>/dev/null || die "flood: the server died under the flood"
  cat >"$results/flood.json" <<JSON
{"capacity_rps": $capacity, "offered_rps": $offered, "delay_ms": $flood_delay, "peak_rss_kb": $(rss_kb "$server_pid" VmHWM),
 "description": $(json_string "Login capacity ≈ $capacity/s (the password target's median; else the raw Argon2id rate). The flood: 32 connections of valid password-grant logins, each pausing $flood_delay ms before each request (offered ≈ $offered/s while answers are fast). The probes: client_credentials and /me, 4 connections each, each connection waiting 10 ms before each request. Each round runs the probes alone (baseline), then the probes with the flood (load); all wrk processes share core 1, the server has core 0. wrk --timeout 10s.")}
JSON
  stop_server
fi

# ------------------------------------------------------------------------------------------------ start-up
if wanted startup; then
  say "startup (process start to first token)"
  prepare_data es256
  port=$(free_port)
  ( cd "$cwd" && taskset -c 1 "$python" "$root/bench/bench.py" first-token "http://127.0.0.1:$port" "${client_basic[es256]}" "$rounds" \
      "$work/startup.log" -- taskset -c 0 "${latchkey[@]}" serve --urls "http://127.0.0.1:$port" --data-dir "$work/data-es256" ) \
    >"$results/startup.json" || { tail -n 30 "$work/startup.log" >&2; die "startup: no token"; }
  echo "   $(cat "$results/startup.json")"
fi

# ------------------------------------------------------------------------------------------------ report
cut -d' ' -f1-3 /proc/loadavg >"$results/load_after.txt"
"$python" "$root/bench/bench.py" report "$results" "$out" || die "the report could not be written"
if [ "$micro" = 1 ]; then
  bash "$root/bench/micro.sh"
fi
say "done in $(( $(date +%s) - started_at )) s: $out"
