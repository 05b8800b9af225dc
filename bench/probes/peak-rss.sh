#!/bin/bash
# Peak RSS (VmHWM) of latchkey serve after 10 s of ES256 client_credentials, and its largest mappings.
#   BIN=out/latchkey bench/probes/peak-rss.sh
#   DOTNET_GCGen0MaxBudget=1000000 BIN=... bench/probes/peak-rss.sh     (a GC setting to compare; hex)
source "$(dirname "$0")/common.sh"
secret=$(add_client); serve
BENCH_METHOD=POST BENCH_BODY=grant_type=client_credentials BENCH_AUTHORIZATION="Basic $(printf 'c1:%s' "$secret" | base64 -w0)" \
  taskset -c 1 wrk -t1 -c32 -d10s -s "$root/bench/wrk/request.lua" "$url/token" >"$work/wrk.txt" 2>&1
echo "$(awk '/Requests\/sec/{print $2}' "$work/wrk.txt") req/s, $(grep -E 'VmHWM' /proc/$server/status | tr -s ' \t' ' ')"
echo "largest mappings (RSS kB):"
awk '/^[0-9a-f]+-[0-9a-f]+ /{m=$0} /^Rss:/{print $2, m}' /proc/$server/smaps | sort -rn | head -5
