#!/bin/bash
# client_credentials, two builds side by side: CPU per request of A and B in alternating rounds, for changes smaller
# than this machine's noise between runs (±10%). Both servers start at once on core 0 (the idle one costs nothing),
# each gets a WARMUP (8) s warm-up, then ROUNDS (12) rounds of SECS (4) s each, A then B, with `wrk -t1 -c32` on core 1.
# Prints the medians, the median of the per-round B/A ratios, and each side's peak RSS (VmHWM) after the last round.
# ALGORITHM (ES256) picks the signing algorithm; ENV_A / ENV_B add environment variables ("VAR=value ...") to one side.
# TARGET=me measures GET /me with one valid bearer token (a password login made once per side) instead of
# client_credentials.
#   BIN_A=/tmp/before/latchkey BIN_B=/tmp/after/latchkey ALGORITHM=EdDSA bench/probes/cc-ab.sh
set -u
: "${BIN_A:?set BIN_A and BIN_B to the two latchkey executables}" "${BIN_B:?set BIN_B}"
ROUNDS=${ROUNDS:-12} SECS=${SECS:-4} WARMUP=${WARMUP:-8} ALGORITHM=${ALGORITHM:-ES256} TARGET=${TARGET:-cc}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
python=/usr/bin/python3
work=$(mktemp -d /tmp/latchkey-ab.XXXX)
export LATCHKEY__MASTERKEY=${LATCHKEY__MASTERKEY:-$(head -c 32 /dev/urandom | base64)}
# wrk sends tens of thousands of requests a second from one address: the per-address request rate limit stays on (its
# cost is part of each /token request measured), set far above anything a run sends, so that nothing is refused with 429.
export LATCHKEY__RATELIMIT__PERMITSPERMINUTE=${LATCHKEY__RATELIMIT__PERMITSPERMINUTE:-2000000000}
export LATCHKEY__HMACSECRET=${LATCHKEY__HMACSECRET:-$(head -c 32 /dev/urandom | base64 -w0)}
declare -A pid url basic bearer
cleanup() { kill "${pid[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
for side in A B; do
  bin_var=BIN_$side env_var=ENV_$side
  bin=${!bin_var}
  secret=$("$bin" clients add c1 --grant client_credentials --audience api --json --data-dir "$work/$side" \
    | "$python" -c 'import json, sys; print(json.load(sys.stdin)["client_secret"])')
  basic[$side]="Basic $(printf 'c1:%s' "$secret" | base64 -w0)"
  port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  url[$side]="http://127.0.0.1:$port"
  # shellcheck disable=SC2086 # ENV_A/ENV_B are lists of VAR=value words
  env ${!env_var:-} taskset -c 0 "$bin" serve --urls "${url[$side]}" --data-dir "$work/$side" --algorithm "$ALGORITHM" >"$work/$side.log" 2>&1 &
  pid[$side]=$!
  for _ in $(seq 100); do curl -s -o /dev/null "${url[$side]}/.well-known/jwks.json" && break; sleep 0.1; done
  if [ "$TARGET" = me ]; then
    printf 'bench-password-1\n' | "$bin" users add alice --password-stdin --data-dir "$work/$side" >/dev/null
    bearer[$side]="Bearer $(curl -s "${url[$side]}/token" -d grant_type=password -d username=alice -d password=bench-password-1 \
      | "$python" -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')"
  fi
done
run() {
  if [ "$TARGET" = me ]; then
    BENCH_AUTHORIZATION="${bearer[$1]}" taskset -c 1 wrk -t1 -c32 -d"$2"s -s "$root/bench/wrk/request.lua" "${url[$1]}/me" >"$work/wrk.txt"
  else
    BENCH_METHOD=POST BENCH_BODY=grant_type=client_credentials BENCH_AUTHORIZATION="${basic[$1]}" \
      taskset -c 1 wrk -t1 -c32 -d"$2"s -s "$root/bench/wrk/request.lua" "${url[$1]}/token" >"$work/wrk.txt"
  fi
}
ticks() { awk '{print $14 + $15}' "/proc/${pid[$1]}/stat"; }
run A "$WARMUP"; run B "$WARMUP"
for _ in $(seq "$ROUNDS"); do
  for side in A B; do
    before=$(ticks $side); run $side "$SECS"; after=$(ticks $side)
    echo "$side $((after - before)) $(getconf CLK_TCK) $(awk '/requests in/{print $1}' "$work/wrk.txt") $(grep -c Non-2xx "$work/wrk.txt")"
  done
done >"$work/rounds.txt"
"$python" - "$work/rounds.txt" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
us = {s: [int(t) / int(hz) * 1e6 / int(n) for side, t, hz, n, _ in rows if side == s] for s in "AB"}
for s in "AB":
    bad = sum(int(r[4]) for r in rows if r[0] == s)
    print(f"{s}: {statistics.median(us[s]):.1f} µs of CPU per request (median of {len(us[s])}: {' '.join(f'{x:.1f}' for x in us[s])}); non-2xx lines {bad}")
ratios = [b / a for a, b in zip(us["A"], us["B"])]
print(f"B/A per round: {' '.join(f'{r:.3f}' for r in ratios)}; median {statistics.median(ratios):.3f}")
PY
for side in A B; do echo "$side peak RSS: $(awk '/^VmHWM/ { printf "%.1f MiB", $2 / 1024 }' "/proc/${pid[$side]}/status")"; done
