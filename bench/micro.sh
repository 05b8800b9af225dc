#!/usr/bin/env bash
# bench/micro.sh [OUT]: the micro benchmarks of issue #6 (bench/Micro, BenchmarkDotNet short jobs, in process, with
# allocations): create and validate an access token per algorithm through Latchkey's issuer and validator, its public
# Jwt.Encode/Decode, Microsoft.IdentityModel's JsonWebTokenHandler, and the raw primitive on the same bytes.
# Pinned to core 0; writes OUT (default bench/MICRO.md). About 4 minutes on 2 cores. bench/run.sh --micro runs it too.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=${1:-bench/MICRO.md}
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
command -v taskset >/dev/null || { echo "bench/micro.sh: needs taskset: apt-get install util-linux" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "== dotnet build -c Release bench/Micro"
dotnet build -c Release bench/Micro >"$work/build.log" 2>&1 || { tail -n 30 "$work/build.log" >&2; exit 1; }
started=$(date +%s)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "== BenchmarkDotNet (pinned to core 0)"
( cd "$work" && taskset -c 0 dotnet "$root/bench/Micro/bin/Release/net10.0/Latchkey.Bench.Micro.dll" --filter '*' ) | tee "$work/run.log"
reports=("$work"/BenchmarkDotNet.Artifacts/results/*-report-github.md)
[ -f "${reports[0]}" ] || { echo "bench/micro.sh: BenchmarkDotNet wrote no report" >&2; exit 1; }
{
  echo "# Latchkey micro benchmarks"
  echo
  echo "Written by \`bench/micro.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC') in $(( $(date +%s) - started )) s, pinned to core 0 of"
  echo "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo) ($(nproc) cores); load average $load_before before, $(cut -d' ' -f1-3 /proc/loadavg) after."
  echo
  echo "- \`CreateToken\`: the claims of a client_credentials token. \`Raw\` signs the signing input of a Latchkey token (the"
  echo "  baseline: Ratio is relative to it); \`Latchkey_Issuer\` is what \`POST /token\` runs (AccessTokenIssuer.Issue);"
  echo "  \`Latchkey_JwtEncode\` the public one-call API with the same claims and header; \`IdentityModel\` JsonWebTokenHandler.CreateToken."
  echo "- \`ValidateToken\`: one token from Latchkey's issuer. \`Raw\` verifies its signature; \`Latchkey_Validator\` is"
  echo "  AccessTokenValidator.VerifyOffline (parse, header, signature, claims); \`Latchkey_ValidatorWithDenyList\` is what"
  echo "  \`/me\` runs per request (the same, plus the SQLite deny-list lookup); \`Latchkey_JwtDecode\` the public API;"
  echo "  \`IdentityModel\` JsonWebTokenHandler.ValidateTokenAsync."
  echo "- EdDSA has no IdentityModel rows: Microsoft.IdentityModel does not implement it."
  echo "- Short jobs (3 warm-ups, 3 iterations, 1 launch), in process: expect a few per cent of noise, more on a busy machine."
  echo
  for report in "${reports[@]}"; do
    sed -n '/^```/,$p' "$report"
    echo
  done
} >"$out"
echo "== wrote $out"
