#!/usr/bin/env bash
# End-to-end throughput: rows/s from the DCGM CSV through streamers, `broker standalone`
# (sync=always) and collectors into PostgreSQL, next to a raw COPY of the very same rows
# into the same table in the same run (the ceiling). Prints both and their ratio.
#   bench/pipeline/pipeline_bench.sh [--rows N] [--streamers S] [--collectors C]
#                                    [--warmup-rows W] [--rounds R]
# With several rounds, each one measures the pipeline and then the raw COPY again, and
# the verdict is the median of the rounds' ratios.
# Bounded: every wait has a deadline; everything it starts is stopped on exit.
set -euo pipefail
trap 'echo "pipeline_bench: line $LINENO failed: $BASH_COMMAND" >&2' ERR
root=$(cd "$(dirname "$0")/../.." && pwd)
bin="${BIN_DIR:-$root/build/bin}"
rows=100000 streamers=2 collectors=2 warmup_rows= rounds=1
while [ $# -gt 0 ]; do
  case "$1" in
    --rows) rows=$2; shift ;;
    --streamers) streamers=$2; shift ;;
    --collectors) collectors=$2; shift ;;
    --warmup-rows) warmup_rows=$2; shift ;;
    --rounds) rounds=$2; shift ;;
    *) echo "usage: $0 [--rows N] [--streamers S] [--collectors C] [--warmup-rows W] [--rounds R]" >&2; exit 2 ;;
  esac
  shift
done
warmup_rows=${warmup_rows:-$rows}
for n in "$rows" "$streamers" "$collectors" "$warmup_rows" "$rounds"; do
  [[ "$n" =~ ^[0-9]+$ ]] || { echo "not a count: $n" >&2; exit 2; }
done
[ "$rows" -ge "$streamers" ] && [ "$streamers" -ge 1 ] && [ "$collectors" -ge 1 ] &&
  [ "$rounds" -ge 1 ] && [ "$rounds" -le 20 ] ||
  { echo "need --streamers >= 1, --collectors >= 1, --rows >= --streamers, --rounds 1..20" >&2; exit 2; }
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

# Runs --streamers streamers over $1 rows in all and waits until the collectors have
# stored $2 rows since they started. Nothing polls while the streamers run (curl and
# bash would take CPU from the 2 cores being measured); after they are done, the
# collectors' counters are read until every row is stored.
stream_and_store() {
  local per=$(($1 / streamers)) i pid
  local streamer_pids=()
  for i in $(seq 0 $((streamers - 1))); do
    "$bin/streamer" --log-format text --broker "http://127.0.0.1:$port" \
      --csv "$root/data/dcgm_metrics_20250718_134233.csv" --count "$per" \
      --listen 127.0.0.1:0 >"$work/streamer$i.log" 2>&1 &
    pids+=($!)
    streamer_pids+=($!)
  done
  for pid in "${streamer_pids[@]}"; do
    wait "$pid" || { echo "a streamer failed; see $work" >&2; exit 1; }
  done
  local deadline=$(( $(date +%s) + 600 ))
  while [ "$(stored)" -lt "$2" ]; do
    [ "$(date +%s)" -lt "$deadline" ] || { echo "timed out; see $work" >&2; exit 1; }
    sleep 0.05
  done
}

rows=$(( rows / streamers * streamers ))
warmup_rows=$(( warmup_rows / streamers * streamers ))
# Warm-up, not measured: the same pipeline over warmup_rows rows (each round empties the
# table before it starts). A PostgreSQL backend maps each page of shared memory on its
# first touch; a collector's long-lived write connection has done that long ago, the
# fresh ones of a short run have not (those page faults were 9% of PostgreSQL's CPU in
# the measured phase when there was no warm-up), and the raw COPY below runs in a
# backend that has.
if [ "$warmup_rows" -gt 0 ]; then
  stream_and_store "$warmup_rows" "$warmup_rows"
fi

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
collector_pids=("${pids[@]:1:$collectors}")
hz=$(getconf CLK_TCK)
printf 'rows %d (after %d warm-up rows), %d streamers, %d collectors, broker sync=always, PostgreSQL durable\n' \
  "$rows" "$warmup_rows" "$streamers" "$collectors"

# One round: the measured pipeline over `rows` rows into the emptied table, then the
# ceiling: the same rows, COPYed back into the same (emptied) table, in one session
# whose first COPY warms its backend as the warm-up did the collectors' (see above).
# Three more COPYs, the median counts: one COPY is over in a second or two, and this
# disk is shared. psql's \timing gives each statement's time at the client. Every
# measured phase starts right after a CHECKPOINT: a phase writes a few hundred MB of
# WAL, so otherwise a checkpoint that the phases before it made due (max_wal_size)
# lands in a random one, which then also pays the full-page images after it. Prints
# the round's report and appends its ratio to `ratios`.
ratios=()
stored_target=$warmup_rows
measure_round() {
  q "TRUNCATE telemetry" >/dev/null
  q "CHECKPOINT" >/dev/null
  ticks "$broker_pid"; local cpu0_broker=$TICKS
  sum_ticks "${collector_pids[@]}"; local cpu0_collectors=$TICKS
  sum_ticks $(pg_pids); local cpu0_pg=$TICKS
  local leases0; leases0=$(collector_counter collector_leases_total)

  stored_target=$((stored_target + rows))
  local start; start=$(now)
  stream_and_store "$rows" "$stored_target"
  local pipeline_s; pipeline_s=$(echo "$(now) - $start" | bc -l)
  local cpu_broker cpu_collectors cpu_pg cpu_streamers
  ticks "$broker_pid"; cpu_broker=$((TICKS - cpu0_broker))
  sum_ticks "${collector_pids[@]}"; cpu_collectors=$((TICKS - cpu0_collectors))
  sum_ticks $(pg_pids); cpu_pg=$((TICKS - cpu0_pg))
  cpu_streamers=$(cat "$work"/streamer*.log | grep -o 'cpu_seconds [0-9.]*' |
    awk -v hz="$hz" '{t += $2} END {printf "%d\n", t * hz}')
  local in_table transactions leases
  in_table=$(q 'SELECT count(*) FROM telemetry')
  # Rows committed together share their xmin: the number of write transactions.
  transactions=$(q 'SELECT count(DISTINCT xmin::text) FROM telemetry')
  [ "$in_table" -eq "$rows" ] || { echo "telemetry has $in_table rows, expected $rows" >&2; exit 1; }
  leases=$(( $(collector_counter collector_leases_total) - leases0 ))

  q "COPY telemetry TO '$work/sock/rows.copy'" >/dev/null
  local copy_script='\timing on'$'\n' copy_ms copy_s
  for _ in 1 2 3 4; do
    copy_script+="TRUNCATE telemetry;"$'\n'"CHECKPOINT;"$'\n'
    copy_script+="COPY telemetry FROM '$work/sock/rows.copy';"$'\n'
  done
  mapfile -t copy_ms < <(psql "$db" -X -q -v ON_ERROR_STOP=1 <<<"$copy_script" |
    awk '$1 == "Time:" {n++; if (n % 3 == 0) print $2}')
  [ "${#copy_ms[@]}" -eq 4 ] || { echo "raw COPY: expected 4 timings, got ${#copy_ms[@]}" >&2; exit 1; }
  copy_s=$(printf '%s\n' "${copy_ms[@]:1}" | sort -g | sed -n 2p | awk '{print $1 / 1000}')

  local pipeline_rate copy_rate ratio part t
  pipeline_rate=$(echo "$rows / $pipeline_s" | bc -l)
  copy_rate=$(echo "$rows / $copy_s" | bc -l)
  ratio=$(printf '%.2f' "$(echo "$pipeline_rate / $copy_rate" | bc -l)")
  ratios+=("$ratio")
  [ "$rounds" -gt 1 ] && printf '[round %d]\n' "${#ratios[@]}"
  printf 'pipeline  %10.0f rows/s  (%.2f s)\n' "$pipeline_rate" "$pipeline_s"
  printf 'raw COPY  %10.0f rows/s  (%.2f s, median of %s ms; first COPY, not counted: %s ms)\n' \
    "$copy_rate" "$copy_s" "${copy_ms[*]:1}" "${copy_ms[0]}"
  printf 'pipeline / raw COPY = %s\n' "$ratio"
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
}

for _ in $(seq 1 "$rounds"); do measure_round; done
if [ "$rounds" -gt 1 ]; then
  # Median (the lower middle one for an even count).
  median=$(printf '%s\n' "${ratios[@]}" | sort -g | sed -n "$(( (rounds + 1) / 2 ))p")
  printf 'pipeline / raw COPY, median of %d rounds = %s  (rounds: %s)\n' \
    "$rounds" "$median" "${ratios[*]}"
fi
