#!/usr/bin/env bash
# The whole test suite: makes sure the engines are installed and running, builds, runs every
# test project against real PostgreSQL and Redis, and closes with "N passed, N failed".
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

command -v dotnet >/dev/null || { echo "test: the .NET SDK is not installed (dotnet is not on PATH)" >&2; exit 1; }
bash eng/engines.sh
# The .NET diagnostics tools (.config/dotnet-tools.json) the lab's evidence and 'firedrill diagnose' run.
dotnet tool restore >/dev/null || { echo "test: dotnet tool restore failed" >&2; exit 1; }
# shellcheck disable=SC1091
source .firedrill/engines.env

results="$root/artifacts/test-results"
rm -rf "$results"
status=0
dotnet build Firedrill.slnx -c Release --nologo -v quiet -clp:ErrorsOnly || exit 1
# The lab's fleets run the services' ReadyToRun publish, as ./firedrill does.
bash eng/publish.sh || exit 1
# The services' suites first, then the lab's on its own: it runs whole fleets (real processes,
# Prometheus, load) and its verdicts should not share two cores with another suite.
projects=$(ls -d tests/*.Tests | grep -v '/Firedrill.Lab.Tests$'; echo tests/Firedrill.Lab.Tests)
for project in $projects; do
  dotnet test "$project" -c Release --no-build --nologo \
    --logger "trx;LogFileName=$(basename "$project").trx" --logger "console;verbosity=minimal" --results-directory "$results" "$@" || status=$?
done

passed=0; failed=0
for trx in "$results"/*.trx; do
  [ -f "$trx" ] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)
  p=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters"); f=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters")
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
done
echo "$passed passed, $failed failed"
if [ "$passed" -eq 0 ] && [ "$status" -eq 0 ]; then
  echo "test: no test ran" >&2
  exit 1
fi
exit "$status"
