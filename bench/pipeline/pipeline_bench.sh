#!/usr/bin/env bash
# End-to-end throughput: rows/s from the DCGM CSV through streamers, `broker standalone`
# (sync=always) and collectors into PostgreSQL, next to a raw COPY of the very same rows
# into the same table in the same run (the ceiling). Prints both and their ratio.
#   bench/pipeline/pipeline_bench.sh [--rows N] [--streamers S] [--collectors C]
# Bounded: every wait has a deadline; everything it starts is stopped on exit.
set -euo pipefail
trap 'echo "pipeline_bench: line $LINENO failed: $BASH_COMMAND" >&2' ERR
root=$(cd "$(dirname "$0")/../.." && pwd)
bin="${BIN_DIR:-$root/build/bin}"
rows=100000 streamers=2 collectors=2
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
    addr=$(grep -o 'listening on 127.0.0.1:[0-9]*' "$work/collector$i.log" | head -n 1 | cut -d' ' -f3 || true)
    [ -n "$addr" ] && break
    sleep 0.1
  done
  [ -n "$addr" ] || { echo "collector $i did not start; see $work" >&2; exit 1; }
  metrics_urls+=("http://$addr/metrics")
done
# Sum of one counter over every collector's /metrics: one curl and one awk per call,
# because this runs in the measured loop on the same 2 cores (bash's own `read` would
# take a system call per byte).
collector_counter() {
  curl -fs "${metrics_urls[@]}" | awk -v name="$1" '$1 == name {n += $2} END {printf "%d\n", n}'
}
stored() { collector_counter collector_rows_stored_total; }

# CPU time per component, in clock ticks: what the pipeline costs besides PostgreSQL's
# own share is where it loses against COPY. Streamers report their own CPU time when
# they exit.
TICKS=0
ticks() {  # sets TICKS for pid $1 (0 once it is gone) without forking
  local f
  TICKS=0
  if read -r -a f 2>/dev/null <"/proc/$1/stat"; then TICKS=$((f[13] + f[14])); fi
}
sum_ticks() {
  local total=0 pid
  for pid in "$@"; do ticks "$pid"; total=$((total + TICKS)); done
  TICKS=$total
}
pg_pids() { local master; master=$(head -n 1 "$work/pg/postmaster.pid"); echo "$master" $(ps -o pid= --ppid "$master"); }
broker_pid=${pids[0]}
collector_pids=("${pids[@]:1}")
ticks "$broker_pid"; cpu0_broker=$TICKS
sum_ticks "${collector_pids[@]}"; cpu0_collectors=$TICKS
sum_ticks $(pg_pids); cpu0_pg=$TICKS

per=$((rows / streamers))
rows=$((per * streamers))
start=$(now)
streamer_pids=()
for i in $(seq 0 $((streamers - 1))); do
  "$bin/streamer" --log-format text --broker "http://127.0.0.1:$port" \
    --csv "$root/data/dcgm_metrics_20250718_134233.csv" --count "$per" \
    --listen 127.0.0.1:0 >"$work/streamer$i.log" 2>&1 &
  pids+=($!)
  streamer_pids+=($!)
done
# Nothing polls while the streamers run (curl and bash would take CPU from the 2 cores
# being measured); after they are done, the collectors' counters are read until every
# row is stored.
for pid in "${streamer_pids[@]}"; do
  wait "$pid" || { echo "a streamer failed; see $work" >&2; exit 1; }
done
deadline=$(( $(date +%s) + 600 ))
while [ "$(stored)" -lt "$rows" ]; do
  [ "$(date +%s)" -lt "$deadline" ] || { echo "timed out; see $work" >&2; exit 1; }
  sleep 0.05
done
pipeline_s=$(echo "$(now) - $start" | bc -l)
ticks "$broker_pid"; cpu_broker=$((TICKS - cpu0_broker))
sum_ticks "${collector_pids[@]}"; cpu_collectors=$((TICKS - cpu0_collectors))
sum_ticks $(pg_pids); cpu_pg=$((TICKS - cpu0_pg))
hz=$(getconf CLK_TCK)
cpu_streamers=$(cat "$work"/streamer*.log | grep -o 'cpu_seconds [0-9.]*' |
  awk -v hz="$hz" '{t += $2} END {printf "%d\n", t * hz}')
in_table=$(q 'SELECT count(*) FROM telemetry')
# Rows committed together share their xmin: the number of write transactions.
transactions=$(q 'SELECT count(DISTINCT xmin::text) FROM telemetry')
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
leases=$(collector_counter collector_leases_total)
printf 'collector leases %d, %.0f rows each; PostgreSQL transactions %d, %.0f rows each\n' \
  "$leases" "$(echo "$rows / $leases" | bc -l)" \
  "$transactions" "$(echo "$rows / $transactions" | bc -l)"
printf 'CPU during the pipeline phase, µs per row (cores busy):\n'
for part in streamers broker collectors pg; do
  t=$(eval echo "\$cpu_$part")
  printf '  %-10s %7.1f  (%.2f)\n' "$part" "$(echo "$t * 1000000 / $hz / $rows" | bc -l)" \
    "$(echo "$t / $hz / $pipeline_s" | bc -l)"
done
printf '  raw COPY   %7.1f  (PostgreSQL wall time per row)\n' "$(echo "$copy_s * 1000000 / $rows" | bc -l)"
