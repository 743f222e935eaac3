#!/usr/bin/env bash
# End-to-end throughput: rows/s from the DCGM CSV through streamers, `broker standalone`
# (sync=always) and collectors into PostgreSQL, next to a raw COPY of the very same rows
# into the same table in the same run (the ceiling). Prints both and their ratio.
#   bench/pipeline/pipeline_bench.sh [--rows N] [--streamers S] [--collectors C]
# Bounded: every wait has a deadline; everything it starts is stopped on exit.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin="${BIN_DIR:-$root/build/bin}"
rows=50000 streamers=2 collectors=2
while [ $# -gt 0 ]; do
  case "$1" in
    --rows) rows=$2; shift ;;
    --streamers) streamers=$2; shift ;;
    --collectors) collectors=$2; shift ;;
    *) echo "usage: $0 [--rows N] [--streamers S] [--collectors C]" >&2; exit 2 ;;
  esac
  shift
done
for b in broker streamer collector migrate; do
  [ -x "$bin/$b" ] || { echo "build first: $bin/$b missing (make build)" >&2; exit 2; }
done

work=$(mktemp -d /tmp/tp-pipeline-bench-XXXXXX)
chmod 755 "$work"
pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  sleep 1
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  as_pg "$pg_bin/pg_ctl" -D "$work/pg" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/pg" "$work/sock"
[ "$(id -u)" -eq 0 ] && chown -R postgres: "$work/pg" "$work/sock"
as_pg "$pg_bin/initdb" -D "$work/pg" -U postgres -A trust --no-sync >/dev/null
# Durable settings (as in production): the ceiling and the pipeline pay the same fsyncs.
as_pg "$pg_bin/pg_ctl" -D "$work/pg" -l "$work/sock/pg.log" -w \
  -o "-k $work/sock -c listen_addresses='' -c shared_buffers=256MB" start >/dev/null
db="host=$work/sock dbname=postgres user=postgres"
"$bin/migrate" --database-url "$db" --log-format text up >/dev/null 2>&1
q() { psql "$db" -tAc "$1"; }
now() { date +%s.%N; }

port=$((20000 + RANDOM % 20000))
"$bin/broker" --log-format text standalone --listen "127.0.0.1:$port" \
  --data-dir "$work/log" >"$work/broker.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
for i in $(seq 1 "$collectors"); do
  "$bin/collector" --log-format text --reader "http://127.0.0.1:$port" --database-url "$db" \
    --listen 127.0.0.1:0 --consumer-id "c$i" >"$work/collector$i.log" 2>&1 &
  pids+=($!)
done
# Progress comes from the collectors' own counters: polling count(*) on the growing table
# would load the very PostgreSQL being measured.
metrics_urls=()
for i in $(seq 1 "$collectors"); do
  for _ in $(seq 1 100); do
    addr=$(grep -o 'listening on 127.0.0.1:[0-9]*' "$work/collector$i.log" | head -n 1 | cut -d' ' -f3)
    [ -n "$addr" ] && break
    sleep 0.1
  done
  [ -n "$addr" ] || { echo "collector $i did not start; see $work" >&2; exit 1; }
  metrics_urls+=("http://$addr/metrics")
done
stored() {
  local total=0 n
  for url in "${metrics_urls[@]}"; do
    n=$(curl -fs "$url" | awk '$1 == "collector_rows_stored_total" {print int($2)}')
    total=$((total + ${n:-0}))
  done
  echo "$total"
}

per=$((rows / streamers))
rows=$((per * streamers))
start=$(now)
for i in $(seq 0 $((streamers - 1))); do
  "$bin/streamer" --log-format text --broker "http://127.0.0.1:$port" \
    --csv "$root/data/dcgm_metrics_20250718_134233.csv" --count "$per" \
    --listen 127.0.0.1:0 >"$work/streamer$i.log" 2>&1 &
  pids+=($!)
done
deadline=$(( $(date +%s) + 600 ))
while [ "$(stored)" -lt "$rows" ]; do
  [ "$(date +%s)" -lt "$deadline" ] || { echo "timed out; see $work" >&2; exit 1; }
  sleep 0.1
done
pipeline_s=$(echo "$(now) - $start" | bc -l)
in_table=$(q 'SELECT count(*) FROM telemetry')
[ "$in_table" -eq "$rows" ] || { echo "telemetry has $in_table rows, expected $rows" >&2; exit 1; }

# The ceiling: the same rows, COPYed back into the same (emptied) table. Three runs, the
# median counts: one COPY is over in a second or two, and this disk is shared.
q "COPY telemetry TO '$work/sock/rows.copy'" >/dev/null
copy_runs=()
for _ in 1 2 3; do
  q "TRUNCATE telemetry" >/dev/null
  start=$(now)
  q "COPY telemetry FROM '$work/sock/rows.copy'" >/dev/null
  copy_runs+=("$(echo "$(now) - $start" | bc -l)")
done
copy_s=$(printf '%s\n' "${copy_runs[@]}" | sort -g | sed -n 2p)

pipeline_rate=$(echo "$rows / $pipeline_s" | bc -l)
copy_rate=$(echo "$rows / $copy_s" | bc -l)
printf 'rows %d, %d streamers, %d collectors, broker sync=always, PostgreSQL durable\n' \
  "$rows" "$streamers" "$collectors"
printf 'pipeline  %10.0f rows/s  (%.2f s)\n' "$pipeline_rate" "$pipeline_s"
printf 'raw COPY  %10.0f rows/s  (%.2f s)\n' "$copy_rate" "$copy_s"
printf 'pipeline / raw COPY = %.2f\n' "$(echo "$pipeline_rate / $copy_rate" | bc -l)"
