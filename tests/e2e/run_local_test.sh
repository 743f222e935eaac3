#!/usr/bin/env bash
# Runs scripts/run-local.sh for a bounded time in a private run directory, checks that
# telemetry reaches the API, stops it, and checks that no process it started is left.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
run_dir=$(mktemp -d /tmp/tp-run-local-XXXXXX)
chmod 755 "$run_dir"
base=$((20000 + RANDOM % 20000))
export RUN_DIR="$run_dir" BROKER_PORT=$base API_PORT=$((base + 1)) \
       COLLECTOR_PORT=$((base + 2)) STREAMER_PORT=$((base + 3)) RUN_SECONDS=120
cleanup() {
  "$root/scripts/run-local.sh" stop >/dev/null 2>&1 || true
  rm -rf "$run_dir"
}
trap cleanup EXIT

"$root/scripts/run-local.sh" >"$run_dir.out" 2>&1 &
runner=$!

ok=0
for _ in $(seq 1 300); do  # at most ~150 s, including the no-op build
  body=$(curl -fs "http://127.0.0.1:$API_PORT/api/v1/gpus" 2>/dev/null || true)
  if echo "$body" | grep -q '"id":"GPU-'; then ok=1; break; fi
  kill -0 "$runner" 2>/dev/null || break
  sleep 0.5
done
if [ "$ok" -ne 1 ]; then
  echo "no GPU reached the API; run-local output:"; cat "$run_dir.out"
  for f in "$run_dir"/logs/*.log; do echo "== $f"; tail -n 20 "$f"; done
  exit 1
fi
echo "telemetry reached the API"

"$root/scripts/run-local.sh" stop
kill -TERM "$runner" 2>/dev/null || true  # ends its RUN_SECONDS wait
wait "$runner" || true
sleep 1
left=$(pgrep -f "$run_dir" || true)
if [ -n "$left" ]; then
  echo "processes left behind:"; ps -o pid,args -p $left
  exit 1
fi
echo "stopped cleanly; nothing left running"
rm -f "$run_dir.out"
