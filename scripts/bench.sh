#!/usr/bin/env bash
# Runs every benchmark of the optimised build and prints their ratio tables.
# Absolute rates on a shared machine swing; compare the ratios, which each benchmark
# measures against a baseline in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
min_time=${BENCH_MIN_TIME:-0.5}
echo "==> wal append vs raw RocksDB"
build/bin/wal_append_benchmark --benchmark_min_time="$min_time"
echo "==> broker load (publish, lease+ack) vs wal append ceiling and synced RocksDB Puts"
build/bin/broker_load --seconds "${BROKER_LOAD_SECONDS:-10}" --rounds "${BROKER_LOAD_ROUNDS:-3}"
echo "==> pipeline (CSV -> broker -> collectors -> PostgreSQL) vs raw COPY"
bench/pipeline/pipeline_bench.sh --rows "${PIPELINE_ROWS:-100000}" --rounds 3
echo "==> apigw telemetry query latency at 1M and 10M rows"
build/bin/apigw_benchmark --rows "${APIGW_ROWS:-1000000,10000000}" --queries 2000 --clients 4 \
  --seconds 10
