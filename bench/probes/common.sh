# Shared by the probes here: a fresh data folder, `latchkey serve` pinned to core 0 on a free port, and its cleanup.
# Each probe needs BIN, the latchkey executable to measure (e.g. a Native AOT publish: README "Install").
set -u
: "${BIN:?set BIN to the latchkey executable, e.g. BIN=out/latchkey}"
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
python=/usr/bin/python3
work=$(mktemp -d /tmp/latchkey-probe.XXXX)
export LATCHKEY__MASTERKEY=${LATCHKEY__MASTERKEY:-$(head -c 32 /dev/urandom | base64)}
# wrk sends tens of thousands of requests a second from one address: the per-address request rate limit stays on (its
# cost is part of each /token request measured), set far above anything a run sends, so that nothing is refused with 429.
export LATCHKEY__RATELIMIT__PERMITSPERMINUTE=${LATCHKEY__RATELIMIT__PERMITSPERMINUTE:-2000000000}
port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port"
password='correct horse battery staple'

add_user() { printf '%s\n' "$password" | "$BIN" users add bench --password-stdin --data-dir "$work" >/dev/null; }
add_client() {
  "$BIN" clients add c1 --grant client_credentials --audience api --json --data-dir "$work" \
    | "$python" -c 'import json, sys; print(json.load(sys.stdin)["client_secret"])'
}
serve() {
  taskset -c 0 "$BIN" serve --urls "$url" --data-dir "$work" >"$work/server.log" 2>&1 &
  server=$!
  for _ in $(seq 100); do curl -s -o /dev/null "$url/.well-known/jwks.json" && return 0; sleep 0.1; done
  echo "the server did not answer" >&2; exit 1
}
cleanup() { [ -z "${server:-}" ] || { kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; }; rm -rf "$work"; }
trap cleanup EXIT
