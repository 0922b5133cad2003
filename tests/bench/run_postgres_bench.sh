#!/usr/bin/env bash
# PostgreSQL backend benchmark: a durable PostgreSQL 15 cluster of its own (fsync and synchronous
# commit on, as production runs it) on this machine's cores, two dozor-server replicas on it, and
# dozor-loadgen streaming to both (agents spread over the replicas). Prints acked reports per
# second, ack latency, the CPU the replicas and PostgreSQL spent, and the storage a sample takes.
#
# Usage: tests/bench/run_postgres_bench.sh [scenario ...]
#   throughput [agents=50] [seconds=20]                  as many reports as the replicas ack
#   cadence    [agents=10000] [seconds=120] [interval=60]  one health report per agent per interval
# With no scenario: "throughput 50 20" then "cadence 10000 120 60". Each gets a fresh cluster.
# Environment: DOZOR_BUILD_DIR (default <repo>/build), LOADGEN_ARGS (extra dozor-loadgen flags),
# KEEP_TMP=1 keeps the temporary directories, PG_OPTIONS adds postgres flags ("-c name=value"). Needs postgresql-15 (deploy/install-deps.sh).
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
build=${DOZOR_BUILD_DIR:-$repo/build}
server_bin=$build/server/dozor-server
ctl_bin=$build/server/dozorctl
loadgen_bin=$build/tests/bench/dozor-loadgen
pg_bin=/usr/lib/postgresql/15/bin
for bin in "$server_bin" "$ctl_bin" "$loadgen_bin" "$pg_bin/initdb"; do
  [[ -x $bin ]] || { echo "missing $bin" >&2; exit 2; }
done
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
clk_tck=$(getconf CLK_TCK)

json_field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }
cpu_of() {  # summed utime+stime (s) of the processes whose command line matches $1
  local total=0 pid
  for pid in $(pgrep -f "$1" || true); do
    total=$(awk -v t="$total" -v tck="$clk_tck" '{ sub(/^.*\) /, ""); printf "%.3f", t + ($12 + $13) / tck }' \
      "/proc/$pid/stat" 2>/dev/null || echo "$total")
  done
  echo "$total"
}

tmp=""
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  pids=()
  if [[ -n $tmp ]]; then
    runuser -u nobody -- "$pg_bin/pg_ctl" -D "$tmp/pg/data" -m fast -w stop >/dev/null 2>&1 ||
      "$pg_bin/pg_ctl" -D "$tmp/pg/data" -m fast -w stop >/dev/null 2>&1 || true
    [[ -z ${KEEP_TMP:-} ]] && rm -rf "$tmp"
  fi
  tmp=""
}
trap cleanup EXIT

as_pg() { if [[ $(id -u) == 0 ]]; then runuser -u nobody -- "$@"; else "$@"; fi; }

start_cluster() {
  mkdir -p "$tmp/pg"
  chmod 755 "$tmp" "$tmp/pg"
  [[ $(id -u) == 0 ]] && chown nobody "$tmp/pg"
  as_pg "$pg_bin/initdb" -D "$tmp/pg/data" -U dozor --no-locale -E UTF8 --auth=trust >/dev/null
  pg_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  as_pg "$pg_bin/pg_ctl" -D "$tmp/pg/data" -l "$tmp/pg/log" -w -o \
    "-c listen_addresses=127.0.0.1 -c port=$pg_port -c unix_socket_directories=$tmp/pg -c max_connections=200 -c shared_buffers=256MB ${PG_OPTIONS:-}" \
    start >/dev/null
  "$pg_bin/psql" -X -q -h 127.0.0.1 -p "$pg_port" -U dozor -d postgres -c "CREATE DATABASE dozor" >/dev/null
  conninfo="host=127.0.0.1 port=$pg_port user=dozor dbname=dozor"
}

start_replica() {  # start_replica NAME -> sets grpc_NAME, http_NAME
  local name=$1
  mkdir -p "$tmp/$name"
  [[ -f $tmp/a/import-wrap.key && $name != a ]] && cp "$tmp/a/import-wrap.key" "$tmp/$name/"
  "$server_bin" --insecure --grpc-listen 127.0.0.1:0 --http-listen 127.0.0.1:0 --store "$conninfo" \
    --state-dir "$tmp/$name" --ready-file "$tmp/$name.ready" --log-level warn 2>"$tmp/$name.log" &
  pids+=($!)
  for _ in $(seq 1 400); do [[ -s $tmp/$name.ready ]] && break; sleep 0.05; done
  [[ -s $tmp/$name.ready ]] || { cat "$tmp/$name.log" >&2; echo "replica $name not ready" >&2; exit 1; }
  printf -v "grpc_$name" '%s' "$(json_field "$tmp/$name.ready" grpc_port)"
  printf -v "http_$name" '%s' "$(json_field "$tmp/$name.ready" http_port)"
}

psql_value() { "$pg_bin/psql" -X -qAt -h 127.0.0.1 -p "$pg_port" -U dozor -d dozor -c "$1"; }

run_scenario() {
  local mode=$1 agents=$2 seconds=$3 interval=${4:-60}
  tmp=$(mktemp -d /tmp/dozor-pgbench.XXXXXX)
  echo
  echo "######## PostgreSQL, two replicas, $mode: $agents agents, $seconds s$([[ $mode == cadence ]] && echo ", every $interval s")"
  start_cluster
  start_replica a
  start_replica b
  local ctl=("$ctl_bin" --server "http://127.0.0.1:$http_a" --token-file "$tmp/a/admin.token" --json)
  "${ctl[@]}" org create bench >/dev/null
  "${ctl[@]}" token create --org bench --max-uses 0 >"$tmp/token.json"
  local token
  token=$(json_field "$tmp/token.json" token)
  local loadgen=("$loadgen_bin" --server "127.0.0.1:$grpc_a,127.0.0.1:$grpc_b" --insecure
                 --token "$token" --agents "$agents" --identities "$tmp/identities.jsonl")
  "${loadgen[@]}" --enroll-only >/dev/null
  local samples_before cpu_server_before cpu_pg_before
  samples_before=$(psql_value 'select count(*) from health_samples')
  cpu_server_before=$(cpu_of "dozor-server.*$tmp")
  cpu_pg_before=$(cpu_of "postgres.*$tmp/pg|postgres: ")
  local args=(--mode "$mode" --duration "$seconds" --summary-json "$tmp/summary.json")
  [[ $mode == cadence ]] && args+=(--interval-seconds "$interval" --connect-rate 500)
  local status=0
  # shellcheck disable=SC2086
  "${loadgen[@]}" "${args[@]}" ${LOADGEN_ARGS:-} || status=$?
  local cpu_server cpu_pg samples acked
  cpu_server=$(cpu_of "dozor-server.*$tmp")
  cpu_pg=$(cpu_of "postgres.*$tmp/pg|postgres: ")
  samples=$(psql_value 'select count(*) from health_samples')
  acked=$(json_field "$tmp/summary.json" stored 2>/dev/null || echo 0)
  psql_value 'checkpoint' >/dev/null
  local heap_bytes all_bytes
  heap_bytes=$(psql_value "select coalesce(sum(pg_total_relation_size(c.oid)), 0) from pg_class c
    join pg_inherits i on i.inhrelid = c.oid join pg_class p on p.oid = i.inhparent
    where p.relname = 'health_samples'")
  all_bytes=$(psql_value 'select pg_database_size(current_database())')
  python3 - "$cpu_server_before" "$cpu_server" "$cpu_pg_before" "$cpu_pg" "$acked" \
    "$samples_before" "$samples" "$heap_bytes" "$all_bytes" "$seconds" <<'PY'
import sys
s0, s1, p0, p1, acked, n0, n1, heap, db, seconds = (float(x) for x in sys.argv[1:])
print("---- replicas and PostgreSQL")
if acked:
    print(f"replicas CPU       {s1 - s0:.2f} s for {int(acked)} stored reports "
          f"({(s1 - s0) * 1e6 / acked:.0f} us each)")
    print(f"PostgreSQL CPU     {p1 - p0:.2f} s ({(p1 - p0) * 1e6 / acked:.0f} us per report)")
stored = n1 - n0
print(f"health samples     {int(stored)} stored in this run, {int(n1)} in all")
if n1:
    per = heap / n1
    print(f"storage            {heap / 1e6:.1f} MB in the health partitions with their indexes "
          f"= {per:.0f} bytes per sample; database {db / 1e6:.1f} MB")
    print(f"per agent per day  {per * 1440 / 1e6:.2f} MB at a 60 s cadence (health partitions)")
PY
  grep -iE "error|critical" "$tmp"/a.log "$tmp"/b.log | head -5 || true
  cleanup
  return "$status"
}

scenarios=("$@")
if [[ ${#scenarios[@]} -eq 0 ]]; then
  rc=0
  "$0" throughput 50 20 || rc=1
  "$0" cadence 10000 120 60 || rc=1
  exit $rc
fi
case ${scenarios[0]} in
  throughput) run_scenario throughput "${scenarios[1]:-50}" "${scenarios[2]:-20}" ;;
  cadence) run_scenario cadence "${scenarios[1]:-10000}" "${scenarios[2]:-120}" "${scenarios[3]:-60}" ;;
  *) echo "usage: $0 [throughput [agents] [seconds] | cadence [agents] [seconds] [interval]]" >&2; exit 2 ;;
esac
