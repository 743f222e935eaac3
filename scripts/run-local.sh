#!/usr/bin/env bash
# Runs the whole pipeline on this machine, without Docker:
#   scripts/run-local.sh              install what is missing, build, start, wait for Ctrl-C
#   scripts/run-local.sh stop         stop a run started from another terminal
#   RUN_SECONDS=60 scripts/run-local.sh   stop by itself after 60 s (used by the tests)
# State lives under run/: a private PostgreSQL cluster (run/pg, reused next time), the
# broker's log (run/broker) and every process's log (run/logs). Ports: BROKER_PORT (8081),
# API_PORT (8080), COLLECTOR_PORT (8092), STREAMER_PORT (8091).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
run_dir=${RUN_DIR:-$root/run}
pid_file="$run_dir/pids"
broker_port=${BROKER_PORT:-8081}
api_port=${API_PORT:-8080}
collector_port=${COLLECTOR_PORT:-8092}
streamer_port=${STREAMER_PORT:-8091}
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
pg_data="$run_dir/pg/data"
pg_socket="$run_dir/pg/socket"
database_url="host=$pg_socket dbname=telemetry user=postgres"

# PostgreSQL refuses to run as root: run its tools as the postgres user then.
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

stop_all() {
  if [ -f "$pid_file" ]; then
    # Reverse start order: producers stop before the services they feed.
    tac "$pid_file" | while read -r pid name; do
      if kill -0 "$pid" 2>/dev/null; then
        echo "stopping $name ($pid)"
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
      fi
    done
    rm -f "$pid_file"
  fi
  if [ -n "$pg_bin" ] && [ -f "$pg_data/postmaster.pid" ]; then
    echo "stopping postgres"
    as_pg "$pg_bin/pg_ctl" -D "$pg_data" -m fast -w stop >/dev/null || true
  fi
}

if [ "${1:-}" = "stop" ]; then
  stop_all
  exit 0
fi

scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" \
  --target broker streamer collector migrate apigw walctl

mkdir -p "$run_dir/logs"
stop_all
# Background sleeps/waits below let the trap run at once (bash defers traps until a
# foreground command ends).
trap 'echo; stop_all; kill $(jobs -p) 2>/dev/null; exit 0' INT TERM

# Private PostgreSQL cluster, created once and reused.
mkdir -p "$run_dir/pg" "$pg_socket"
[ "$(id -u)" -eq 0 ] && chown -R postgres: "$run_dir/pg"
if [ ! -f "$pg_data/PG_VERSION" ]; then
  echo "creating PostgreSQL cluster in $pg_data"
  as_pg "$pg_bin/initdb" -D "$pg_data" -U postgres -A trust --no-sync >/dev/null
fi
as_pg "$pg_bin/pg_ctl" -D "$pg_data" -l "$run_dir/pg/postgres.log" -w \
  -o "-k $pg_socket -c listen_addresses=''" start >/dev/null
as_pg psql -h "$pg_socket" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='telemetry'" \
  | grep -q 1 || as_pg "$pg_bin/createdb" -h "$pg_socket" -U postgres telemetry
build/bin/migrate --database-url "$database_url" --log-format text up

start() {  # name, command...
  local name=$1; shift
  "$@" >"$run_dir/logs/$name.log" 2>&1 &
  echo "$! $name" >>"$pid_file"
  echo "started $name (pid $!), log: $run_dir/logs/$name.log"
}

wait_ready() {  # name, url
  for _ in $(seq 1 200); do
    curl -fs "$2" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "$1 did not become ready ($2); see $run_dir/logs/$1.log" >&2
  stop_all
  exit 1
}

start broker build/bin/broker standalone --listen "127.0.0.1:$broker_port" \
  --data-dir "$run_dir/broker" --drain-timeout-seconds 5 --log-format text
wait_ready broker "http://127.0.0.1:$broker_port/readyz"
start collector build/bin/collector --reader "http://127.0.0.1:$broker_port" \
  --database-url "$database_url" --listen "127.0.0.1:$collector_port" --log-format text
start apigw build/bin/apigw --listen "127.0.0.1:$api_port" --database-url "$database_url" \
  --log-format text
wait_ready apigw "http://127.0.0.1:$api_port/readyz"
start streamer build/bin/streamer --broker "http://127.0.0.1:$broker_port" \
  --csv "$root/data/dcgm_metrics_20250718_134233.csv" --rate 200 \
  --listen "127.0.0.1:$streamer_port" --log-format text

cat <<MSG

Pipeline running:
  dashboard     http://127.0.0.1:$api_port/
  Swagger UI    http://127.0.0.1:$api_port/swagger
  API           http://127.0.0.1:$api_port/api/v1/gpus
  broker        http://127.0.0.1:$broker_port/v1/partitions  (metrics: /metrics)
  the log       build/bin/walctl stats $run_dir/broker
  database      psql "$database_url"
Ctrl-C (or scripts/run-local.sh stop) stops everything.
MSG

if [ -n "${RUN_SECONDS:-}" ]; then
  sleep "$RUN_SECONDS" &
  wait $!
  stop_all
  exit 0
fi
wait
