#!/usr/bin/env bash
# The cluster check (issue #5, points 3–5): one PostgreSQL and two Latchkey nodes on loopback, checked from outside
# over HTTP by checks.py. This script sets up the pieces and tears them down:
#   1. builds the server (Release) once;
#   2. initdb + starts PostgreSQL as the `postgres` system user (initdb and postgres refuse root), in a temporary
#      folder, on 127.0.0.1 and a free port, with password (scram-sha-256) logins for TCP and a generated password;
#   3. creates the database and its owner, runs `latchkey db migrate`, adds users and a confidential client by the CLI;
#   4. starts node A and node B: one issuer, one master key, short refresh intervals (below), and waits for /readyz;
#   5. runs tests/cluster/checks.py (Debian's /usr/bin/python3, standard library + PyJWT), which prints one
#      `PASS: name: figures` or `FAIL: name: what it saw` line per check. It restarts nodes and PostgreSQL itself
#      for the checks that need it, and writes the PID of every process it starts to $work/pids.
# On exit, success or not, every process started here (nodes by PID; PostgreSQL by pg_ctl stop, then its postmaster
# PID) is stopped and the temporary folder removed. Exits non-zero when any check failed. About 3 minutes.
set -euo pipefail
cd "$(dirname "$0")/../.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

# The intervals under test, short so that the run is short. The bounds checks.py asserts are these plus slack
# (LATCHKEY_CLUSTER_SLACK seconds, for a loaded two-core machine): a key added anywhere is published by every node
# within RefreshInterval + slack and signs RefreshInterval + JwksCacheLifetime after it was added; a revocation
# reaches every node within RevocationRefreshInterval + slack.
export LATCHKEY__KEYS__REFRESHINTERVAL=00:00:02
export LATCHKEY__KEYS__JWKSCACHELIFETIME=00:00:03
export LATCHKEY__REVOCATIONREFRESHINTERVAL=00:00:02
# No client cache: check g expects client_credentials to need the database (with the default 5 s cache a client
# authenticated just before the outage is still served from memory, which is right, but not what g checks).
export LATCHKEY__CLIENTCACHELIFETIME=00:00:00
export LATCHKEY__REFRESHTOKENS__REUSEWINDOW=00:00:10
# The load phases refresh and issue from one address as fast as the nodes answer: far above the per-address rate limit
# (6000 a minute by default), which this run does not test.
export LATCHKEY__RATELIMIT__PERMITSPERMINUTE=0
export LATCHKEY_CLUSTER_SLACK=${LATCHKEY_CLUSTER_SLACK:-3}

work=$(mktemp -d /tmp/latchkey-cluster.XXXXXX)
# PostgreSQL runs as `postgres`, which must reach its folders inside this one (no listing, no reading).
chmod 711 "$work"
export LATCHKEY_CLUSTER_WORK=$work
: >"$work/pids"
pgdata="$work/pg/data"
pgbin=""

stop_all() {
  local pid
  # Nodes and anything else started by PID (here or by checks.py): TERM, a short grace, then KILL.
  while read -r pid; do [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; done <"$work/pids"
  for _ in $(seq 1 20); do
    local alive=0
    while read -r pid; do [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && alive=1; done <"$work/pids"
    [ "$alive" -eq 0 ] && break
    sleep 0.25
  done
  while read -r pid; do [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true; done <"$work/pids"
  # PostgreSQL: a fast shutdown; if that does not work, its postmaster by PID.
  if [ -n "$pgbin" ] && [ -f "$pgdata/postmaster.pid" ]; then
    runuser -u postgres -- "$pgbin/pg_ctl" -D "$pgdata" -m fast -w -t 20 stop >/dev/null 2>&1 || true
    if [ -f "$pgdata/postmaster.pid" ]; then
      pid=$(head -n1 "$pgdata/postmaster.pid")
      [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
    fi
  fi
}
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  stop_all
  [ "$status" -eq 0 ] || { echo "== logs of the last nodes (tails)"; for f in "$work"/logs/*.log; do [ -f "$f" ] && { echo "-- $f"; tail -n 15 "$f"; }; done; } 2>/dev/null || true
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fail_setup() { echo "FAIL: cluster setup: $1"; echo "cluster: 0 passed, 1 failed"; exit 1; }
free_port() { /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
secret() { /usr/bin/python3 -c 'import secrets; print(secrets.token_hex(24))'; }
mkdir -p "$work/logs"
[ "$(id -u)" -eq 0 ] || fail_setup "run as root: PostgreSQL is started as the 'postgres' user with runuser"

# 1. Build once.
echo "== cluster: dotnet build -c Release src/Latchkey.Server"
start=$(date +%s)
dotnet build -c Release src/Latchkey.Server >"$work/logs/build.txt" 2>&1 || { tail -n 30 "$work/logs/build.txt"; fail_setup "dotnet build failed"; }
latchkey=$PWD/src/Latchkey.Server/bin/Release/net10.0/latchkey
[ -x "$latchkey" ] || fail_setup "no $latchkey after the build"
echo "   build: $(($(date +%s) - start)) s"
export LATCHKEY_CLUSTER_BIN=$latchkey

# 2. PostgreSQL: the newest installed version (Debian puts the server binaries only under /usr/lib/postgresql).
for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4 -V -r); do
  [ -x "$dir/initdb" ] && [ -x "$dir/postgres" ] && { pgbin=$dir; break; }
done
[ -n "$pgbin" ] || fail_setup "no PostgreSQL server under /usr/lib/postgresql/*/bin (apt-get install postgresql)"
id postgres >/dev/null 2>&1 || fail_setup "no 'postgres' system user (Debian's postgresql package creates it)"
export LATCHKEY_CLUSTER_PGBIN=$pgbin LATCHKEY_CLUSTER_PGDATA=$pgdata
pg_port=$(free_port)
pg_superuser_password=$(secret)
db_password=$(secret)
mkdir -p "$work/pg/socket"
printf '%s\n' "$pg_superuser_password" >"$work/pg/pwfile"
chown -R postgres: "$work/pg"
chmod 700 "$work/pg"
echo "== cluster: PostgreSQL $("$pgbin/postgres" --version | awk '{print $3}') on 127.0.0.1:$pg_port"
runuser -u postgres -- "$pgbin/initdb" -D "$pgdata" -U postgres --pwfile="$work/pg/pwfile" \
  --auth-local=peer --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$work/logs/initdb.txt" 2>&1 \
  || { cat "$work/logs/initdb.txt"; fail_setup "initdb failed"; }
rm -f "$work/pg/pwfile"
# The options checks.py uses again when it starts PostgreSQL after stopping it.
export LATCHKEY_CLUSTER_PGOPTS="-c listen_addresses=127.0.0.1 -p $pg_port -k $work/pg/socket -c max_connections=200"
runuser -u postgres -- "$pgbin/pg_ctl" -D "$pgdata" -l "$work/pg/postgres.log" -o "$LATCHKEY_CLUSTER_PGOPTS" -w -t 60 start >/dev/null \
  || { tail -n 20 "$work/pg/postgres.log"; fail_setup "PostgreSQL did not start"; }
export LATCHKEY_CLUSTER_PGLOG=$work/pg/postgres.log
psql_admin() { runuser -u postgres -- "$pgbin/psql" -h "$work/pg/socket" -p "$pg_port" -U postgres -d postgres -v ON_ERROR_STOP=1 -qAt "$@"; }
psql_admin -c "CREATE ROLE latchkey LOGIN PASSWORD '$db_password'" -c "CREATE DATABASE latchkey OWNER latchkey" \
  || fail_setup "could not create the database"

# 3. Schema, users, client — by the CLI, as an operator would. Every node and command shares the database and master key.
export LATCHKEY__DATABASE="Host=127.0.0.1;Port=$pg_port;Database=latchkey;Username=latchkey;Password=$db_password"
LATCHKEY__MASTERKEY=$(/usr/bin/python3 -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())')
export LATCHKEY__MASTERKEY
# The same database for checks.py's own queries (psql, libpq's variables).
export PGHOST=127.0.0.1 PGPORT=$pg_port PGDATABASE=latchkey PGUSER=latchkey PGPASSWORD=$db_password
export LATCHKEY_CLUSTER_PASSWORD="cluster-$(secret)"
cli() { "$latchkey" "$@" 2>&1; }
echo "== cluster: latchkey db migrate, users add, clients add"
cli db migrate | sed 's/^/   /' || fail_setup "latchkey db migrate failed"
# alice: logins and refreshes; bob, carol, dave, erin: throttling (across nodes / on one node); hector: the SIGKILL load;
# frank: disabled through one node; root: the admin who disables him.
for user in alice bob carol dave erin frank hector; do
  printf '%s' "$LATCHKEY_CLUSTER_PASSWORD" | cli users add "$user" --password-stdin >/dev/null || fail_setup "users add $user failed"
done
printf '%s' "$LATCHKEY_CLUSTER_PASSWORD" | cli users add root --role admin --password-stdin >/dev/null || fail_setup "users add root failed"
client_json=$(cli clients add service --grant client_credentials --introspect --json) || fail_setup "clients add failed: $client_json"
export LATCHKEY_CLUSTER_CLIENT_JSON=$client_json

# 4. Two nodes, one issuer.
port_a=$(free_port); port_b=$(free_port)
export LATCHKEY_CLUSTER_ISSUER="http://127.0.0.1:$port_a"
export LATCHKEY_CLUSTER_PORT_A=$port_a LATCHKEY_CLUSTER_PORT_B=$port_b
started_pid=""
start_node() { # NAME PORT: starts a node in the background; its PID is recorded, and left in $started_pid
  "$latchkey" serve --urls "http://127.0.0.1:$2" --issuer "$LATCHKEY_CLUSTER_ISSUER" >>"$work/logs/node-$1.log" 2>&1 &
  started_pid=$!
  echo "$started_pid" >>"$work/pids"
}
wait_ready() { # NAME PORT PID
  for _ in $(seq 1 120); do
    curl -fsS --max-time 2 "http://127.0.0.1:$2/readyz" >/dev/null 2>&1 && return 0
    kill -0 "$3" 2>/dev/null || { tail -n 20 "$work/logs/node-$1.log"; fail_setup "node $1 exited during start-up"; }
    sleep 0.5
  done
  tail -n 20 "$work/logs/node-$1.log"; fail_setup "node $1 not ready within 60 s"
}
start_node a "$port_a"; pid_a=$started_pid
start_node b "$port_b"; pid_b=$started_pid
export LATCHKEY_CLUSTER_PID_A=$pid_a LATCHKEY_CLUSTER_PID_B=$pid_b
start=$(date +%s)
wait_ready a "$port_a" "$pid_a"; wait_ready b "$port_b" "$pid_b"
echo "== cluster: node A (pid $pid_a) on :$port_a and node B (pid $pid_b) on :$port_b ready in $(($(date +%s) - start)) s; issuer $LATCHKEY_CLUSTER_ISSUER"

# 5. The checks.
echo "== cluster: checks (bounds: key publication ≤ 2 s + ${LATCHKEY_CLUSTER_SLACK} s, revocation ≤ 2 s + ${LATCHKEY_CLUSTER_SLACK} s)"
# In the background, so that a TERM or INT to this script is handled at once (bash runs traps only between commands).
status=0
/usr/bin/python3 tests/cluster/checks.py &
checks=$!
echo "$checks" >>"$work/pids"
wait "$checks" || status=$?
exit "$status"
