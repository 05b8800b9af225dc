#!/usr/bin/env bash
# The test command (README, top): installs what the tests need, then runs every test. `.ci/run` runs it too.
#   1. Debian's packages the tests drive, those not installed yet (apt-get update first; as root, which tests/cluster needs too):
#      python3-jwt, python3-jose, python3-cryptography, python3-argon2 (the interop tests, run by Debian's /usr/bin/python3,
#      not a pyenv python that may be first on PATH); python3-fastapi, python3-uvicorn (samples/fastapi-protected-api), with
#      python3-authlib, python3-itsdangerous, python3-httpx (samples/fastapi-webapp);
#      bsdutils (`script`, the terminal of the password-prompt tests); curl (tests/packaging, tests/cluster); chromium (the
#      browser tests: /docs, the sign-in pages, the relying parties; playwright's own browser download does not work here); postgresql (the PostgreSQL tests and
#      tests/cluster: binaries under /usr/lib/postgresql/*/bin, and the `postgres` user); clang, zlib1g-dev (the Native
#      AOT publish of tests/packaging).
#   2. `npm ci` in tests/Interop/node (node `jose`, `openid-client`, `playwright-core`), tests/Interop/browser (`playwright-core`, `axe-core`)
#      and samples/spa (`oauth4webapi`), pinned by their
#      package-lock.json; needs node 20 or later with npm on PATH (Debian 12's nodejs is 18: install it from elsewhere).
#   3. `dotnet test` (Latchkey.slnx: Latchkey.Tests, Latchkey.Postgres.Tests, Latchkey.Server.Tests), then
#      `dotnet format --verify-no-changes` (the house rules of .editorconfig, ~1 min), then tests/cluster/run.sh (two
#      nodes on one PostgreSQL, ~3 min), then tests/packaging/check.sh (dotnet pack at the root, tool install, single-file and Native AOT publish, ~5 min). Packaging last: .ci/run's bench smoke run comes next
#      and reuses its Native AOT publish (a `dotnet build` in between, as tests/cluster does, would make it compile again).
# Every step runs even when an earlier one failed. Ends with one line "N passed, N failed, N skipped" (dotnet test's
# counts, the format check, and the PASS:/FAIL: lines of the two scripts) and exits non-zero when anything failed. About 15 minutes on 2 cores.
# Once steps 1 and 2 are done, plain `dotnet test` runs the .NET tests alone.
set -uo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

packages=(python3 python3-jwt python3-jose python3-cryptography python3-argon2 python3-fastapi python3-uvicorn python3-authlib python3-itsdangerous
  python3-httpx bsdutils curl
  chromium postgresql clang zlib1g-dev)

passed=0 failed=0 skipped=0
summary() { echo "$passed passed, $failed failed, $skipped skipped"; }
# A step that could not prepare the tests: say why, count it as a failure, and stop (the tests would only fail for it).
setup_failed() { echo "FAIL: setup: $1"; failed=$((failed + 1)); summary; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
start=$(date +%s)
elapsed() { echo "   ($(( $(date +%s) - start )) s so far)"; }

# 1. Debian packages. "Installed" from dpkg's status, not `dpkg -s`'s exit code: that is 0 for a package removed
# with `apt-get remove`, whose configuration files are still there.
missing=()
for p in "${packages[@]}"; do
  [[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) == *" installed" ]] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "== apt-get install ${missing[*]}"
  [ "$(id -u)" -eq 0 ] || setup_failed "run as root, or first: apt-get install ${missing[*]}"
  apt-get update -qq || setup_failed "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    || setup_failed "apt-get install ${missing[*]} failed"
  elapsed
fi

# 2. npm modules, with the node on PATH (the tests run that one).
command -v node >/dev/null && command -v npm >/dev/null || setup_failed "node 20 or later and npm are needed on PATH"
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || setup_failed "node $(node --version) on PATH; the interop tests need node 20 or later"
for folder in tests/Interop/node tests/Interop/browser samples/spa; do
  echo "== npm ci --prefix $folder"
  npm ci --prefix "$folder" --no-audit --no-fund || setup_failed "npm ci --prefix $folder failed"
done

# 3. The tests.
# run_script NAME SCRIPT: runs a check script, counting its PASS:/FAIL: lines; a failing exit without a FAIL: line is one failure.
run_script() {
  local name=$1 script=$2 log="$work/$1.log" code p f
  echo "== $script"
  bash "$script" 2>&1 | tee "$log"
  code=${PIPESTATUS[0]}
  p=$(grep -c '^PASS: ' "$log"); f=$(grep -c '^FAIL: ' "$log")
  if [ "$code" -ne 0 ] && [ "$f" -eq 0 ]; then echo "FAIL: $name: $script exited with $code"; f=1; fi
  passed=$((passed + p)); failed=$((failed + f))
  elapsed
}

echo "== dotnet test"
dotnet test 2>&1 | tee "$work/dotnet-test.log"
code=${PIPESTATUS[0]}
# One line per test project: "Passed!  - Failed:     0, Passed:   950, Skipped:     0, Total:   950, Duration: … - X.dll (net10.0)".
counts() { grep -E '^(Passed|Failed)! +- Failed: ' "$work/dotnet-test.log" | grep -oE "$1: +[0-9]+" | awk '{s += $2} END {print s + 0}'; }
p=$(counts Passed); f=$(counts Failed); s=$(counts Skipped)
if [ "$code" -ne 0 ] && [ "$f" -eq 0 ]; then echo "FAIL: dotnet test exited with $code (a build error, or a test host that crashed)"; f=1; fi
if [ "$code" -eq 0 ] && [ "$p" -eq 0 ]; then echo "FAIL: dotnet test ran no test"; f=1; fi
passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
elapsed

# The house rules of .editorconfig: layout and using order as `dotnet format` would leave them (it changes nothing here).
echo "== dotnet format --verify-no-changes"
if dotnet format Latchkey.slnx --verify-no-changes --no-restore 2>&1 | tee "$work/format.log"; then   # pipefail: format's status
  echo "PASS: dotnet format --verify-no-changes"; passed=$((passed + 1))
else
  echo "FAIL: dotnet format --verify-no-changes: run dotnet format Latchkey.slnx, review and commit its changes"; failed=$((failed + 1))
fi
elapsed

run_script cluster tests/cluster/run.sh
run_script packaging tests/packaging/check.sh

summary
[ "$failed" -eq 0 ]
