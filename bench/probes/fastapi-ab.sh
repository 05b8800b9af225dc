#!/bin/bash
# bench/fastapi/app.py under uvicorn, two ways side by side: A with asyncio and h11 (uvicorn's pure-Python choice when
# uvloop and httptools are missing), B with uvloop and httptools (what `fastapi[standard]` installs; Debian's
# python3-uvloop and python3-httptools). Both servers start at once on core 0 (the idle one costs nothing), each gets a
# WARMUP (5) s warm-up, then ROUNDS (8) rounds of SECS (4) s each, A then B, with `wrk -t1 -c32` on core 1.
# Prints req/s and CPU per request of each side (medians) and the median of the per-round B/A ratios.
# BENCH_HANDLER (async) picks the handler style, as in bench/run.sh.
#   bench/probes/fastapi-ab.sh
set -u
ROUNDS=${ROUNDS:-8} SECS=${SECS:-4} WARMUP=${WARMUP:-5}
export BENCH_HANDLER=${BENCH_HANDLER:-async}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
python=/usr/bin/python3
work=$(mktemp -d /tmp/latchkey-fastapi-ab.XXXX)
declare -A pid url
cleanup() { kill "${pid[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
declare -A options=([A]="--loop asyncio --http h11" [B]="--loop uvloop --http httptools")
for side in A B; do
  port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  url[$side]="http://127.0.0.1:$port/token"
  # shellcheck disable=SC2086 # the options are words
  taskset -c 0 "$python" -m uvicorn app:app --app-dir "$root/bench/fastapi" --host 127.0.0.1 --port "$port" --workers 1 \
    --no-access-log --log-level warning ${options[$side]} >"$work/$side.log" 2>&1 &
  pid[$side]=$!
  for _ in $(seq 100); do curl -s -o /dev/null "${url[$side]}" && break; sleep 0.1; done
  curl -fsS -o /dev/null "${url[$side]}" || { cat "$work/$side.log" >&2; exit 1; }
done
run() { taskset -c 1 wrk -t1 -c32 -d"$2"s -s "$root/bench/wrk/request.lua" "${url[$1]}" >"$work/wrk.txt"; }
ticks() { awk '{print $14 + $15}' "/proc/${pid[$1]}/stat"; }
run A "$WARMUP"; run B "$WARMUP"
for _ in $(seq "$ROUNDS"); do
  for side in A B; do
    before=$(ticks $side); run $side "$SECS"; after=$(ticks $side)
    echo "$side $((after - before)) $(getconf CLK_TCK) $(awk '/requests in/{print $1}' "$work/wrk.txt") $(awk '/Requests\/sec/{print $2}' "$work/wrk.txt") $(grep -c Non-2xx "$work/wrk.txt")"
  done
done >"$work/rounds.txt"
"$python" - "$work/rounds.txt" "${options[A]}" "${options[B]}" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
names = {"A": sys.argv[2], "B": sys.argv[3]}
rps = {s: [float(r[4]) for r in rows if r[0] == s] for s in "AB"}
us = {s: [int(r[1]) / int(r[2]) * 1e6 / int(r[3]) for r in rows if r[0] == s] for s in "AB"}
for s in "AB":
    bad = sum(int(r[5]) for r in rows if r[0] == s)
    print(f"{s} ({names[s]}): {statistics.median(rps[s]):,.0f} req/s, {statistics.median(us[s]):.0f} µs of CPU per request "
          f"(medians of {len(us[s])}: {' '.join(f'{x:,.0f}' for x in rps[s])} req/s); non-2xx lines {bad}")
print(f"B/A req/s per round: {' '.join(f'{b / a:.2f}' for a, b in zip(rps['A'], rps['B']))}; "
      f"median {statistics.median(b / a for a, b in zip(rps['A'], rps['B'])):.2f}")
print(f"A/B CPU per request per round: median {statistics.median(a / b for a, b in zip(us['A'], us['B'])):.2f}")
PY
