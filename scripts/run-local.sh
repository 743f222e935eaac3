#!/usr/bin/env bash
# Runs the pipeline on this machine, without Docker:
#   scripts/run-local.sh          install what is missing, build, start, wait for Ctrl-C
#   scripts/run-local.sh stop     stop a run started from another terminal
# State lives under run/ (the broker's log in run/broker). Today this starts the broker
# writer and a streamer publishing the shipped DCGM CSV into it; the reader, collector,
# PostgreSQL and apigw join as they land.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
run_dir="$root/run"
pid_file="$run_dir/pids"
broker_port=${BROKER_PORT:-8081}
streamer_port=${STREAMER_PORT:-8091}

stop_all() {
  [ -f "$pid_file" ] || return 0
  # Reverse start order: the streamer flushes into a still-running broker, which drains.
  tac "$pid_file" | while read -r pid name; do
    if kill -0 "$pid" 2>/dev/null; then
      echo "stopping $name ($pid)"
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  rm -f "$pid_file"
}

if [ "${1:-}" = "stop" ]; then
  stop_all
  exit 0
fi

scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target broker streamer walctl

mkdir -p "$run_dir/logs"
stop_all
trap 'echo; stop_all; exit 0' INT TERM

start() {  # name, command...
  local name=$1; shift
  "$@" >"$run_dir/logs/$name.log" 2>&1 &
  echo "$! $name" >>"$pid_file"
  echo "started $name (pid $!), log: run/logs/$name.log"
}

start broker build/bin/broker writer --listen "127.0.0.1:$broker_port" \
  --data-dir "$run_dir/broker" --drain-timeout-seconds 1
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$broker_port/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fs "http://127.0.0.1:$broker_port/readyz" >/dev/null || {
  echo "broker did not become ready; see run/logs/broker.log" >&2; stop_all; exit 1; }
start streamer build/bin/streamer --broker "http://127.0.0.1:$broker_port" \
  --csv "$root/data/dcgm_metrics_20250718_134233.csv" --rate 500 \
  --listen "127.0.0.1:$streamer_port"

cat <<MSG

Pipeline running. Look at:
  broker partitions   curl -s http://127.0.0.1:$broker_port/v1/partitions
  broker metrics      curl -s http://127.0.0.1:$broker_port/metrics
  streamer metrics    curl -s http://127.0.0.1:$streamer_port/metrics
  the log on disk     build/bin/walctl stats $run_dir/broker
Ctrl-C (or scripts/run-local.sh stop) stops everything.
MSG
wait
