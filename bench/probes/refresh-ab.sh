#!/bin/bash
# Refresh-token rotations on SQLite, two builds side by side: CPU per rotation and req/s of A and B in alternating
# rounds (bench/probes/cc-ab.sh does the same for client_credentials). Both servers start at once on core 0 (the idle one
# costs nothing), each on a fresh data folder with the user "bench" and a pool of 64 refresh tokens, topped up by logins
# before every run; WARMUP (15) s each, then ROUNDS (8) rounds of SECS (6) s, A then B, `wrk -t1 -c32` with
# wrk/refresh.lua on core 1. Prints the medians and the median of the per-round B/A ratios. ENV_A / ENV_B add
# environment variables ("VAR=value ...") to one side.
#   BIN_A=/tmp/before/latchkey BIN_B=/tmp/after/latchkey bench/probes/refresh-ab.sh
set -u
: "${BIN_A:?set BIN_A and BIN_B to the two latchkey executables}" "${BIN_B:?set BIN_B}"
ROUNDS=${ROUNDS:-8} SECS=${SECS:-6} WARMUP=${WARMUP:-15}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
python=/usr/bin/python3
password='correct horse battery staple'
work=$(mktemp -d /tmp/latchkey-ab.XXXX)
export LATCHKEY__MASTERKEY=${LATCHKEY__MASTERKEY:-$(head -c 32 /dev/urandom | base64)}
# wrk sends tens of thousands of requests a second from one address: the per-address request rate limit stays on (its
# cost is part of each /token request measured), set far above anything a run sends, so that nothing is refused with 429.
export LATCHKEY__RATELIMIT__PERMITSPERMINUTE=${LATCHKEY__RATELIMIT__PERMITSPERMINUTE:-2000000000}
declare -A pid url
cleanup() { kill "${pid[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
for side in A B; do
  bin_var=BIN_$side env_var=ENV_$side
  bin=${!bin_var}
  printf '%s\n' "$password" | "$bin" users add bench --password-stdin --data-dir "$work/$side" >/dev/null
  port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  url[$side]="http://127.0.0.1:$port"
  # shellcheck disable=SC2086 # ENV_A/ENV_B are lists of VAR=value words
  env ${!env_var:-} taskset -c 0 "$bin" serve --urls "${url[$side]}" --data-dir "$work/$side" >"$work/$side.log" 2>&1 &
  pid[$side]=$!
  for _ in $(seq 100); do curl -s -o /dev/null "${url[$side]}/.well-known/jwks.json" && break; sleep 0.1; done
  : >"$work/$side.pool"
done
run() {
  local pool="$work/$1.pool" need
  need=$((64 - $(grep -c . "$pool" || true)))
  [ "$need" -le 0 ] || "$python" "$root/bench/bench.py" login "${url[$1]}" bench "$password" refresh_token "$need" >>"$pool"
  before=$(ticks "$1")
  BENCH_POOL_IN="$pool" BENCH_POOL_OUT="$pool.next" taskset -c 1 wrk -t1 -c32 -d"$2"s \
    -s "$root/bench/wrk/refresh.lua" "${url[$1]}/token" >"$work/wrk.txt"
  after=$(ticks "$1")
  mv "$pool.next" "$pool"
}
ticks() { awk '{print $14 + $15}' "/proc/${pid[$1]}/stat"; }
run A "$WARMUP"; run B "$WARMUP"
for _ in $(seq "$ROUNDS"); do
  for side in A B; do
    run $side "$SECS"
    echo "$side $((after - before)) $(getconf CLK_TCK) $(awk '/requests in/{print $1}' "$work/wrk.txt") $(awk '/Requests\/sec/{print $2}' "$work/wrk.txt") $(grep -c Non-2xx "$work/wrk.txt")"
  done
done >"$work/rounds.txt"
"$python" - "$work/rounds.txt" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
us = {s: [int(t) / int(hz) * 1e6 / int(n) for side, t, hz, n, _, _ in rows if side == s] for s in "AB"}
rps = {s: [float(r[4]) for r in rows if r[0] == s] for s in "AB"}
for s in "AB":
    bad = sum(int(r[5]) for r in rows if r[0] == s)
    print(f"{s}: {statistics.median(us[s]):.0f} µs of CPU per rotation (median of {len(us[s])}: {' '.join(f'{x:.0f}' for x in us[s])}); "
          f"{statistics.median(rps[s]):,.0f} req/s ({' '.join(f'{x:.0f}' for x in rps[s])}); non-2xx lines {bad}")
ratios = [b / a for a, b in zip(us["A"], us["B"])]
print(f"B/A CPU per round: {' '.join(f'{r:.3f}' for r in ratios)}; median {statistics.median(ratios):.3f}")
PY
