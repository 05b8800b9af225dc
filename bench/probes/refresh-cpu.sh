#!/bin/bash
# Refresh-token rotations on SQLite: req/s and the server's CPU per rotation, for side-by-side runs of two builds.
# 64 refresh tokens from logins, 15 s warm-up, then SECS (20) measured with wrk/refresh.lua; PERF=1 also records
# `perf record -g` of the measured part into refresh.perf.
#   for i in 1 2 3; do for b in before after; do BIN=/tmp/$b/latchkey bench/probes/refresh-cpu.sh; done; done
source "$(dirname "$0")/common.sh"
SECS=${SECS:-20}
add_user; serve
pool="$work/pool"; : >"$pool"
top_up() {
  local need=$((64 - $(grep -c . "$pool" || true)))
  [ "$need" -le 0 ] || "$python" "$root/bench/bench.py" login "$url" bench "$password" refresh_token "$need" >>"$pool"
}
run() {
  BENCH_POOL_IN="$pool" BENCH_POOL_OUT="$pool.next" taskset -c 1 wrk -t1 -c32 -d"$1"s --latency \
    -s "$root/bench/wrk/refresh.lua" "$url/token" >"$work/wrk.txt"
  mv "$pool.next" "$pool"
}
ticks() { awk '{print $14 + $15}' "/proc/$server/stat"; }
top_up; run 15; top_up
before=$(ticks)
if [ "${PERF:-0}" = 1 ]; then perf record -F 999 -g -p "$server" -o refresh.perf -- sleep $((SECS - 1)) 2>/dev/null & recorder=$!; fi
run "$SECS"
after=$(ticks)
[ -z "${recorder:-}" ] || wait "$recorder"
requests=$(awk '/requests in/{print $1}' "$work/wrk.txt")
echo "$(awk '/Requests\/sec/{print $2}' "$work/wrk.txt") req/s, $(( (after - before) * 1000000 / $(getconf CLK_TCK) / requests )) µs CPU per rotation, p99 $(awk '/ 99%/{print $2}' "$work/wrk.txt"), $(grep -c Non-2xx "$work/wrk.txt") lines of non-2xx"
