#!/usr/bin/env bash
# Runs every fleet benchmark once with one build (each appends its section to
# docs/benchmarks.md). Heavy: ~20k connections, 10k-device storms, wrk at 1000
# connections; run it when nobody else needs the cores.
# Usage: bash bench/all.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p blynk-server -p blynk-sim
export BENCH_NO_BUILD=1
BENCH_COMMIT=$(git rev-parse --short HEAD)
git diff --quiet HEAD -- bins crates || BENCH_COMMIT="$BENCH_COMMIT + uncommitted changes"
export BENCH_COMMIT
for script in startup idle-connections throughput login-storm ota-fanout downloads; do
    echo "== bench/$script.sh"
    bash "bench/$script.sh"
done
