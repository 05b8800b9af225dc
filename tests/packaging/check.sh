#!/usr/bin/env bash
# Checks that Latchkey installs like a .NET program (README "Install"):
#   1. `dotnet pack -c Release -o DIR` at the root (README "Install", exactly; DIR a temporary folder) makes the .NET tool
#      package `latchkey` and the library package `Latchkey.Core`, and nothing else (tests and samples are not packable);
#      `dotnet tool install` from it gives a `latchkey` that serves.
#   2. `dotnet publish -r linux-x64 --self-contained -p:PublishSingleFile=true` gives one executable that serves,
#      native libraries included (EdDSA keys need NSec's libsodium, the database SQLite's e_sqlite3).
#   3. `dotnet publish -r linux-x64 -p:PublishAot=true` gives a Native AOT executable (needs clang and zlib1g-dev) that
#      serves, and whose JSON (written without reflection) is right: CLI, password and refresh grants, /me, a 401's
#      problem+json, the OpenAPI document, `token decode`, and browser sign-in (the login page, its form, the code exchange).
# Each start is on a fresh data folder: the first start must create the master key and the signing key, and
# /healthz must answer. Prints PASS/FAIL lines and "packaging: N passed, N failed"; exits non-zero on any failure.
# Everything goes to a temporary folder; what this script starts it kills by PID.
set -uo pipefail
cd "$(dirname "$0")/../.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT

passed=0 failed=0
pass() { echo "PASS: $1"; passed=$((passed + 1)); }
fail() { echo "FAIL: $1"; failed=$((failed + 1)); }

# Runs a command with its output in a log, printing its time; shows the log's tail if it fails.
timed() {
  local name=$1 log="$work/$1.log" start end; shift
  start=$(date +%s)
  "$@" >"$log" 2>&1; local status=$?
  end=$(date +%s)
  echo "   $name: $((end - start)) s"
  [ "$status" -eq 0 ] || tail -n 30 "$log"
  return "$status"
}

# serve NAME EXECUTABLE [ARGS...]: starts `EXECUTABLE serve` on a free loopback port and a fresh data folder, waits (60 s at
# most) for "Now listening on:", then checks /healthz, the JWKS and the files of the first start.
serve() {
  local name=$1 exe=$2; shift 2
  local data="$work/$name-data" log="$work/$name-serve.log" url="" port
  # A free port (the issuer defaults to the listen URL, so port 0 will not do).
  port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "$exe" serve --urls "http://127.0.0.1:$port" --data-dir "$data" "$@" >"$log" 2>&1 &
  local pid=$!
  pids+=("$pid")
  for _ in $(seq 1 120); do
    url=$(grep -oE 'Now listening on: http://[^ ]+' "$log" | head -n1 | sed 's/Now listening on: //')
    [ -n "$url" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  if [ -z "$url" ]; then
    fail "$name: latchkey serve did not listen within 60 s (or exited)"; tail -n 30 "$log"; kill "$pid" 2>/dev/null; return
  fi
  local health jwks
  health=$(curl -fsS --max-time 10 "$url/healthz")
  jwks=$(curl -fsS --max-time 10 "$url/.well-known/jwks.json")
  if [ "$health" = "ok" ] && [ -f "$data/master.key" ] && [ -f "$data/latchkey.db" ] && grep -q '"kid"' <<<"$jwks"; then
    pass "$name: first start created the keys in $(basename "$data"), /healthz ok, JWKS $(grep -oE '"alg":"[^"]+"' <<<"$jwks" | head -n1)"
  else
    fail "$name: /healthz '$health', JWKS '$jwks', data folder: $(ls "$data" 2>/dev/null | tr '\n' ' ')"; tail -n 30 "$log"
  fi
  kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
}

echo "== packaging: dotnet pack, dotnet tool install, latchkey serve"
# A config of its own: only the freshly made package, so no other feed's "latchkey" can be picked; and a package
# folder of its own, so a package cached by an earlier run with the same version is not reused.
cat >"$work/nuget.config" <<CONFIG
<?xml version="1.0" encoding="utf-8"?>
<configuration><packageSources><clear /><add key="artifacts" value="$work/artifacts" /></packageSources></configuration>
CONFIG
# README's command, exactly, at the root (where this script runs): the solution, so every packable project and no other.
packed=0
if timed pack dotnet pack -c Release -o "$work/artifacts"; then
  made=$(cd "$work/artifacts" && LC_ALL=C ls | tr '\n' ' ')
  # Latchkey.Core.<version>.nupkg, the library (a prerelease: src/Latchkey/Latchkey.csproj), and latchkey.<version>.nupkg,
  # the tool (in that order: C collation sorts capitals first).
  if [[ $made =~ ^Latchkey\.Core\.[0-9][^\ ]*\.nupkg\ latchkey\.[0-9][^\ ]*\.nupkg\ $ ]]; then
    pass "pack: dotnet pack -c Release -o … at the root made ${made}and nothing else"
    packed=1
  else
    fail "pack: expected latchkey.*.nupkg and Latchkey.Core.*.nupkg and nothing else; dotnet pack made: ${made:-nothing}"
  fi
else
  fail "pack: dotnet pack -c Release -o … at the root failed"
fi
if [ "$packed" -eq 1 ]; then
  if timed tool-install env NUGET_PACKAGES="$work/nuget-packages" \
       dotnet tool install --tool-path "$work/tool" --configfile "$work/nuget.config" latchkey; then
    serve tool "$work/tool/latchkey"
  else
    fail "tool: dotnet tool install --tool-path … latchkey failed"
  fi
fi

echo "== packaging: dotnet publish single file (linux-x64, self-contained), latchkey serve --algorithm EdDSA"
if timed publish dotnet publish src/Latchkey.Server -c Release -r linux-x64 --self-contained \
     -p:PublishSingleFile=true -o "$work/single"; then
  # One file: no latchkey.dll, and no native library beside it (they are inside, extracted at first start).
  extra=$(cd "$work/single" && ls | grep -vE '^latchkey$|\.pdb$|\.staticwebassets\.endpoints\.json$')
  if [ -x "$work/single/latchkey" ] && [ -z "$extra" ]; then
    pass "single-file: one executable ($(du -m "$work/single/latchkey" | cut -f1) MB)"
  else
    fail "single-file: expected one executable 'latchkey', found also: $extra"
  fi
  DOTNET_BUNDLE_EXTRACT_BASE_DIR="$work/extract" serve single-file "$work/single/latchkey" --algorithm EdDSA
else
  fail "publish: dotnet publish -p:PublishSingleFile=true failed"
fi

echo "== packaging: dotnet publish Native AOT (linux-x64), the CLI, latchkey serve, a login and a refresh"
# aot_flow EXE: what a reflection-free build could get wrong at run time (JSON of every shape the server writes).
aot_flow() {
  local exe=$1 data="$work/aot-flow-data" log="$work/aot-flow-serve.log" port url tokens access refresh
  export LATCHKEY__MASTERKEY
  LATCHKEY__MASTERKEY=$(head -c 32 /dev/urandom | base64 -w0)
  printf 'correct horse battery staple\n' | "$exe" users add alice --role admin --password-stdin --data-dir "$data" >/dev/null \
    || { fail "aot: latchkey users add failed"; return; }
  "$exe" clients add svc --grant client_credentials --json --data-dir "$data" >"$work/aot-client.json" \
    && grep -q '"client_secret"' "$work/aot-client.json" || { fail "aot: latchkey clients add --json: $(cat "$work/aot-client.json")"; return; }
  "$exe" clients add web --grant authorization_code --redirect-uri https://app.example/cb --first-party --public --json --data-dir "$data" >/dev/null \
    || { fail "aot: latchkey clients add web --public failed"; return; }
  port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  url="http://127.0.0.1:$port"
  "$exe" serve --urls "$url" --data-dir "$data" >"$log" 2>&1 &
  local pid=$!
  pids+=("$pid")
  for _ in $(seq 1 120); do curl -fsS -o /dev/null --max-time 2 "$url/healthz" 2>/dev/null && break; sleep 0.5; done
  tokens=$(curl -sS --max-time 10 -d grant_type=password -d username=alice -d 'password=correct horse battery staple' "$url/token")
  access=$(/usr/bin/python3 -c 'import json, sys; print(json.loads(sys.argv[1])["access_token"])' "$tokens" 2>/dev/null)
  refresh=$(/usr/bin/python3 -c 'import json, sys; print(json.loads(sys.argv[1])["refresh_token"])' "$tokens" 2>/dev/null)
  local me rotated unauthorized openapi users decoded admin
  me=$(curl -sS --max-time 10 -H "Authorization: Bearer $access" "$url/me")
  # The admin API takes only a token asked for with scope latchkey:admin.
  admin=$(curl -sS --max-time 10 -d grant_type=password -d username=alice -d 'password=correct horse battery staple' -d scope=latchkey:admin "$url/token" \
    | /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])' 2>/dev/null)
  users=$(curl -sS --max-time 10 -H "Authorization: Bearer $admin" "$url/admin/users")
  rotated=$(curl -sS --max-time 10 -d grant_type=refresh_token -d "refresh_token=$refresh" "$url/token")
  unauthorized=$(curl -sS --max-time 10 -w ' %{http_code} %{content_type}' "$url/me")
  openapi=$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' "$url/openapi.json")
  decoded=$("$exe" token decode "$access" --data-dir "$data" 2>&1)
  # Browser sign-in: the login page (a RazorSlices template), its form (antiforgery), the code and its exchange (an id token).
  local verifier challenge authorize page form_token form_request callback code exchanged ceremony passkey
  read -r verifier challenge < <(/usr/bin/python3 -c 'import base64, hashlib, os
v = base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=")
print(v.decode(), base64.urlsafe_b64encode(hashlib.sha256(v).digest()).rstrip(b"=").decode())')
  authorize="$url/authorize?response_type=code&client_id=web&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&scope=openid%20profile&state=s1&code_challenge=$challenge&code_challenge_method=S256"
  page=$(curl -sS --max-time 10 -c "$work/aot-cookies" "$authorize")
  # The page has two forms (the password's and the passkey's), each with these fields: the first ones.
  form_token=$(grep -o 'name="__antiforgery" value="[^"]*"' <<<"$page" | head -1 | sed 's/.*value="//;s/"$//')
  form_request=$(grep -o 'name="request" value="[^"]*"' <<<"$page" | head -1 | sed 's/.*value="//;s/"$//;s/&amp;/\&/g')
  callback=$(curl -sS --max-time 10 -b "$work/aot-cookies" -o /dev/null -w '%{http_code} %{redirect_url}' "$url/authorize/login" \
    --data-urlencode "__antiforgery=$form_token" --data-urlencode "request=$form_request" --data-urlencode username=alice \
    --data-urlencode 'password=correct horse battery staple')
  code=$(sed -n 's/.*[?&]code=\([^&]*\).*/\1/p' <<<"$callback")
  exchanged=$(curl -sS --max-time 10 -d grant_type=authorization_code -d client_id=web -d "code=$code" \
    -d redirect_uri=https://app.example/cb -d "code_verifier=$verifier" "$url/token")
  # The login page's passkey ceremony (the answer's JSON read without reflection): an answer from no known passkey.
  ceremony=$(grep -o 'name="ceremony" value="[^"]*"' <<<"$page" | sed 's/.*value="//;s/"$//')
  passkey=$(curl -sS --max-time 10 -b "$work/aot-cookies" "$url/authorize/passkey" --data-urlencode "__antiforgery=$form_token" \
    --data-urlencode "request=$form_request" --data-urlencode "ceremony=$ceremony" \
    --data-urlencode 'credential={"id":"AQID","rawId":"AQID","type":"public-key","response":{"authenticatorData":"AA","clientDataJSON":"AA","signature":"AA"},"clientExtensionResults":{}}')
  kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  if grep -q 'autocomplete="current-password"' <<<"$page" && [[ $callback == "303 https://app.example/cb?code="*"&state=s1&iss="* ]] \
     && grep -q '"id_token"' <<<"$exchanged" && grep -q 'data-passkey="get" data-challenge="[A-Za-z0-9_-]\{22\}"' <<<"$page" \
     && grep -q 'This passkey is not known here' <<<"$passkey"; then
    pass "aot: browser sign-in: the login page, its form, the code and its exchange with an id token; a passkey ceremony"
  else
    fail "aot: browser sign-in: page $(head -c 300 <<<"$page"), callback '$callback', exchange '$exchanged', passkey '$(head -c 300 <<<"$passkey")'"
  fi
  if grep -q '"preferred_username":"alice"' <<<"$me" && grep -q '"username":"alice"' <<<"$users" \
     && grep -q '"refresh_token"' <<<"$rotated" && grep -q '"title":"Unauthorized".* 401 application/problem+json' <<<"$unauthorized" \
     && [ "$openapi" = 200 ] && grep -q '"preferred_username": "alice"' <<<"$decoded"; then
    pass "aot: users add, clients add --json, password and refresh grants, /me, /admin/users, 401 problem+json, /openapi.json, token decode"
  else
    fail "aot: token '$tokens', /me '$me', /admin/users '$users', refresh '$rotated', 401 '$unauthorized', /openapi.json $openapi, decode '$decoded'"
    tail -n 30 "$log"
  fi
}
if timed publish-aot dotnet publish src/Latchkey.Server -c Release -r linux-x64 -p:PublishAot=true -o "$work/aot"; then
  serve aot "$work/aot/latchkey"
  aot_flow "$work/aot/latchkey"
else
  fail "publish: dotnet publish -p:PublishAot=true failed (Native AOT needs clang and zlib1g-dev)"
fi

echo "packaging: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
