#!/usr/bin/env bash
# Publishes the fleet's services ReadyToRun (precompiled, framework-dependent, for this machine's
# runtime) to artifacts/publish/<project>/release_<rid>, where the lab starts them from
# (src/Firedrill.Lab/Fleet/ServiceProcess.cs). A replica compiled ahead of time is ready in about
# two thirds of the time its JIT-compiled build output takes (docs/benchmarks.md, Footprint).
# Incremental: a few seconds when nothing changed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
for project in Firedrill.Shop Firedrill.Inventory Firedrill.Gateway; do
  dotnet publish "src/$project" -c Release --use-current-runtime --self-contained false -p:PublishReadyToRun=true \
    --nologo -v quiet -clp:ErrorsOnly
done
