#!/usr/bin/env bash
# Server load benchmark: starts a real dozor-server on loopback with a temporary state dir, enrolls
# simulated agents with dozor-loadgen and prints what the server spent per report and per sample.
#
# Usage: tests/bench/run_server_bench.sh [scenario ...]
#   throughput [agents=50] [seconds=20]              as many reports as the server acks
#   cadence    [agents=1000] [seconds=30] [interval=5]  one health report per agent per interval
# With no scenario: "throughput 50 20" then "cadence 1000 30 5". Each scenario gets a fresh server.
# Environment: DOZOR_BUILD_DIR (default <repo>/build), LOADGEN_ARGS (extra dozor-loadgen flags),
# KEEP_TMP=1 keeps the temporary directories.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
build=${DOZOR_BUILD_DIR:-$repo/build}
server_bin=$build/server/dozor-server
ctl_bin=$build/server/dozorctl
loadgen_bin=$build/tests/bench/dozor-loadgen
for bin in "$server_bin" "$ctl_bin" "$loadgen_bin"; do
  if [[ ! -x $bin ]]; then
    echo "missing $bin: ninja -C $build dozor-server dozorctl dozor-loadgen" >&2
    exit 2
  fi
done
command -v sqlite3 >/dev/null || { echo "needs the sqlite3 command-line tool" >&2; exit 2; }
command -v python3 >/dev/null || { echo "needs python3 (to read JSON)" >&2; exit 2; }

# 10,000 streams need 10,000 descriptors on each side.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
clk_tck=$(getconf CLK_TCK)

json_field() {  # json_field FILE KEY
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"
}
cpu_seconds() {  # utime + stime of a process, in seconds
  awk -v tck="$clk_tck" '{ sub(/^.*\) /, ""); printf "%.3f", ($12 + $13) / tck }' "/proc/$1/stat"
}
rss_mb() {
  awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"
}
hwm_mb() {
  awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"
}
file_bytes() { if [[ -f $1 ]]; then stat -c %s "$1"; else echo 0; fi; }

server_pid=""
tmp=""
stop_server() {
  if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  server_pid=""
}
cleanup() {
  stop_server
  if [[ -n $tmp && -z ${KEEP_TMP:-} ]]; then
    rm -rf "$tmp"
  fi
}
trap cleanup EXIT

run_scenario() {
  local mode=$1 agents=$2 seconds=$3 interval=${4:-5}
  tmp=$(mktemp -d /tmp/dozor-bench.XXXXXX)
  echo
  echo "######## $mode: $agents agents, $seconds s$([[ $mode == cadence ]] && echo ", every $interval s")"
  "$server_bin" --insecure --grpc-listen 127.0.0.1:0 --http-listen 127.0.0.1:0 \
    --state-dir "$tmp/state" --ready-file "$tmp/ready" --log-level warn 2>"$tmp/server.log" &
  server_pid=$!
  for _ in $(seq 1 200); do
    [[ -s $tmp/ready ]] && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$tmp/server.log" >&2; echo "server died" >&2; return 1; }
    sleep 0.05
  done
  [[ -s $tmp/ready ]] || { echo "server not ready after 10 s" >&2; return 1; }
  local grpc_port http_port
  grpc_port=$(json_field "$tmp/ready" grpc_port)
  http_port=$(json_field "$tmp/ready" http_port)

  local ctl=("$ctl_bin" --server "http://127.0.0.1:$http_port" --token-file "$tmp/state/admin.token" --json)
  "${ctl[@]}" org create bench >"$tmp/org.json"
  "${ctl[@]}" token create --org bench --max-uses 0 >"$tmp/token.json"
  local token
  token=$(json_field "$tmp/token.json" token)

  # Enroll first (not measured), so the CPU and RSS deltas below cover only streaming.
  local loadgen=("$loadgen_bin" --server "127.0.0.1:$grpc_port" --insecure --token "$token"
                 --agents "$agents" --identities "$tmp/identities.jsonl")
  "${loadgen[@]}" --enroll-only
  local db=$tmp/state/dozor.db
  local samples_before cpu_before rss_before
  samples_before=$(sqlite3 "$db" 'select count(*) from health_samples' 2>/dev/null || echo 0)
  cpu_before=$(cpu_seconds "$server_pid")
  rss_before=$(rss_mb "$server_pid")

  local args=(--mode "$mode" --duration "$seconds" --summary-json "$tmp/summary.json")
  [[ $mode == cadence ]] && args+=(--interval-seconds "$interval")
  local status=0
  # shellcheck disable=SC2086
  "${loadgen[@]}" "${args[@]}" ${LOADGEN_ARGS:-} || status=$?

  local cpu_after rss_after hwm
  cpu_after=$(cpu_seconds "$server_pid")
  rss_after=$(rss_mb "$server_pid")
  hwm=$(hwm_mb "$server_pid")
  local acked samples db_bytes wal_bytes
  acked=$(json_field "$tmp/summary.json" stored 2>/dev/null || echo 0)
  samples=$(sqlite3 "$db" 'select count(*) from health_samples')
  db_bytes=$(file_bytes "$db")
  wal_bytes=$(file_bytes "$db-wal")
  # Then the settled size: server stopped, WAL checkpointed into the file, and the pages that
  # health_samples and its indexes really occupy (dbstat), without the fixed per-agent rows.
  stop_server
  sqlite3 "$db" 'pragma wal_checkpoint(TRUNCATE)' >/dev/null
  local settled_bytes table_bytes
  settled_bytes=$(file_bytes "$db")
  table_bytes=$(sqlite3 "$db" "select coalesce(sum(pgsize), 0) from dbstat where name in
    (select name from sqlite_schema where tbl_name = 'health_samples')")
  python3 - "$cpu_before" "$cpu_after" "$acked" "$rss_before" "$rss_after" "$hwm" \
    "$samples_before" "$samples" "$db_bytes" "$wal_bytes" "$settled_bytes" "$table_bytes" <<'EOF'
import sys
cpu0, cpu1, acked, rss0, rss1, hwm, s0, s1, db, wal, settled, table = (float(x) for x in sys.argv[1:])
cpu = cpu1 - cpu0
print("---- server")
print(f"server CPU         {cpu:.2f} s for {int(acked)} stored reports"
      + (f" = {cpu * 1000 / acked:.3f} CPU s per 1000 reports ({cpu * 1e6 / acked:.0f} us each)"
         if acked else ""))
print(f"server RSS         {rss0:.1f} MB before, {rss1:.1f} MB after, peak {hwm:.1f} MB")
total = db + wal
print(f"database (live)    {db / 1e6:.2f} MB + {wal / 1e6:.2f} MB WAL, {int(s1)} health samples")
print(f"database (settled) {settled / 1e6:.2f} MB after checkpoint, health_samples pages"
      f" {table / 1e6:.2f} MB")
if s1:
    live = total / s1
    per_sample = table / s1
    print(f"bytes per sample   {live:.0f} live file+WAL / samples; {settled / s1:.0f} settled file /"
          f" samples; {per_sample:.0f} in health_samples pages")
    print(f"per agent per day  {per_sample * 1440 / 1e6:.2f} MB at a 60 s cadence (health_samples"
          f" pages; {settled / s1 * 1440 / 1e6:.2f} MB by settled file size)")
EOF
  if grep -qiE "error|critical" "$tmp/server.log"; then
    echo "---- server log errors (first 5):"
    grep -iE "error|critical" "$tmp/server.log" | head -5
  fi
  cleanup
  return "$status"
}

scenarios=("$@")
if [[ ${#scenarios[@]} -eq 0 ]]; then
  rc=0
  "$0" throughput 50 20 || rc=1
  "$0" cadence 1000 30 5 || rc=1
  exit $rc
fi
case ${scenarios[0]} in
  throughput) run_scenario throughput "${scenarios[1]:-50}" "${scenarios[2]:-20}" ;;
  cadence) run_scenario cadence "${scenarios[1]:-1000}" "${scenarios[2]:-30}" "${scenarios[3]:-5}" ;;
  *) echo "usage: $0 [throughput [agents] [seconds] | cadence [agents] [seconds] [interval]]" >&2; exit 2 ;;
esac
