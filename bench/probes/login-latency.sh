#!/bin/bash
# Login latency while client_credentials keeps the server's core busy (PasswordHashing:IdlePriority's price):
# 5 logins unloaded, then logins one after another during 25 s of `wrk -t1 -c32` client_credentials on core 1.
#   BIN=out/latchkey bench/probes/login-latency.sh
#   LATCHKEY__PASSWORDHASHING__IDLEPRIORITY=false BIN=out/latchkey bench/probes/login-latency.sh
source "$(dirname "$0")/common.sh"
add_user; secret=$(add_client); serve
login() { for _ in $(seq "$1"); do taskset -c 1 curl -s -o /dev/null -w '%{http_code} %{time_total}s\n' \
  --data-urlencode grant_type=password --data-urlencode username=bench --data-urlencode "password=$password" "$url/token"; done; }
echo "unloaded: $(login 5 | tr '\n' ' ')"
BENCH_METHOD=POST BENCH_BODY=grant_type=client_credentials BENCH_AUTHORIZATION="Basic $(printf 'c1:%s' "$secret" | base64 -w0)" \
  taskset -c 1 wrk -t1 -c32 -d25s -s "$root/bench/wrk/request.lua" "$url/token" >"$work/wrk.txt" 2>&1 &
load=$!; sleep 5
echo "under client_credentials load:"
while kill -0 "$load" 2>/dev/null; do login 1; done
wait "$load"; grep -E "Requests/sec" "$work/wrk.txt"
