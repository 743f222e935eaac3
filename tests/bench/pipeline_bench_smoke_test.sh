#!/usr/bin/env bash
# pipeline_bench_smoke_test.sh BENCH BIN_DIR: runs the pipeline benchmark over 2000 rows
# (after as many warm-up rows), two rounds, and checks that its report has every line,
# with numbers in them.
set -euo pipefail
bench=$1
out=$(BIN_DIR=$2 bash "$bench" --rows 2000 --streamers 2 --collectors 2 --rounds 2 2>&1) || {
  echo "$out"
  echo "pipeline_bench.sh failed" >&2
  exit 1
}
echo "$out"
for pattern in '^rows 2000 \(after 2000 warm-up rows\)' '^pipeline +[0-9]+ rows/s' \
  '^raw COPY +[0-9]+ rows/s +\([0-9.]+ s, median of [0-9.]+ [0-9.]+ [0-9.]+ ms' \
  '^pipeline / raw COPY = [0-9.]+$' '^collector leases [0-9]+, [0-9]+ rows each; PostgreSQL transactions [0-9]+' \
  '^  streamers +[0-9.]+ ' '^  broker +[0-9.]+ ' '^  collectors +[0-9.]+ ' \
  '^  pg +[0-9.]+ ' '^  raw COPY +[0-9.]+ ' '^\[round 2\]$' \
  '^pipeline / raw COPY, median of 2 rounds = [0-9.]+  \(rounds: [0-9.]+ [0-9.]+\)$'; do
  grep -Eq "$pattern" <<<"$out" || { echo "missing from the report: $pattern" >&2; exit 1; }
done
# The streamers' own CPU time was found in their logs (a missing figure would read 0).
grep -Eq '^  streamers +0\.0 ' <<<"$out" && { echo "no streamer CPU time" >&2; exit 1; }
exit 0
