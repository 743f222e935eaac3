#!/usr/bin/env bash
# Runs every benchmark of the optimised build and prints their ratio tables.
# Absolute rates on a shared machine swing; compare the ratios, which each benchmark
# measures against a baseline in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
min_time=${BENCH_MIN_TIME:-0.5}
echo "==> wal append vs raw RocksDB"
build/bin/wal_append_benchmark --benchmark_min_time="$min_time"
