#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine, builds, and runs every test:
#   1. the optimised build with all CTest labels (unit, e2e, crash, pg, ...),
#   2. an AddressSanitizer + UndefinedBehaviorSanitizer build running the whole suite,
#   3. a ThreadSanitizer build running the concurrency tests (label "tsan").
# Usage: scripts/test.sh [--no-sanitizers] [--jobs N]
set -euo pipefail
cd "$(dirname "$0")/.."

sanitizers=1
jobs=$(nproc)
while [ $# -gt 0 ]; do
  case "$1" in
    --no-sanitizers) sanitizers=0 ;;
    --jobs) jobs="$2"; shift ;;
    *) echo "usage: $0 [--no-sanitizers] [--jobs N]" >&2; exit 2 ;;
  esac
  shift
done

scripts/install-deps.sh

run_suite() {  # preset, build target, ctest args...
  local preset=$1 target=$2; shift 2
  echo "==> [$preset] configure and build ($target)"
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j "$jobs" --target "$target"
  echo "==> [$preset] test"
  ctest --preset "$preset" -j "$jobs" "$@"
}

run_suite release all
if [ "$sanitizers" -eq 1 ]; then
  run_suite asan all
  # Only the concurrency tests run under TSan, so only they are built.
  run_suite tsan tp_tsan_tests -L tsan
fi
echo "==> all test suites passed"
