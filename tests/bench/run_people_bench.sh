#!/usr/bin/env bash
# Dashboard page latency with people and scope, end to end: a real dozor-server over a seeded
# estate (300 organisations, 3,000 hosts, ~30,000 findings, all through the commit path and the
# rule evaluator), three users made through the management API (an admin, an engineer assigned to
# six organisations, a client user of one of them), each with an API token, and people_bench
# driving 50 keep-alive clients through the overview, organisation, host and findings pages.
#
# Usage: tests/bench/run_people_bench.sh [seconds=30] [clients=50] [extra people_bench load flags]
#   e.g. tests/bench/run_people_bench.sh 30 50 --think-ms 500
# Environment: DOZOR_BUILD_DIR (default <repo>/build), PEOPLE_BENCH_CACHE (default
# /tmp/dozor-people-bench: the seeded estates, one per SEED_ARGS, each reused while its seed
# version and shape match),
# SEED_ARGS (people_bench seed flags, e.g. "--orgs 30 --hosts 300"), KEEP_TMP=1 keeps the
# temporary state directory.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
build=${DOZOR_BUILD_DIR:-$repo/build}
server_bin=$build/server/dozor-server
bench_bin=$build/tests/bench/people_bench
for bin in "$server_bin" "$bench_bin"; do
  if [[ ! -x $bin ]]; then
    echo "missing $bin: ninja -C $build dozor-server people_bench" >&2
    exit 2
  fi
done
command -v curl >/dev/null || { echo "needs curl" >&2; exit 2; }
command -v python3 >/dev/null || { echo "needs python3 (to read JSON)" >&2; exit 2; }
command -v sqlite3 >/dev/null || { echo "needs the sqlite3 command-line tool" >&2; exit 2; }

seconds=${1:-30}
clients=${2:-50}
shift $(($# < 2 ? $# : 2))
cache=${PEOPLE_BENCH_CACHE:-/tmp/dozor-people-bench}
# shellcheck disable=SC2206
seed_args=(${SEED_ARGS:-})
clk_tck=$(getconf CLK_TCK)

json_field() {  # json_field FILE KEY
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"
}
cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }

server_pid=""
tmp=""
cleanup() {
  if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [[ -n $tmp && -z ${KEEP_TMP:-} ]]; then
    rm -rf "$tmp"
  fi
}
trap cleanup EXIT

mkdir -p "$cache"
# One cached estate per shape, so a quick small run does not replace the big one.
estate=$cache/estate$(printf '%s' "${SEED_ARGS:+-$SEED_ARGS}" | tr -c 'A-Za-z0-9=-' '_').db
"$bench_bin" seed --db "$estate" "${seed_args[@]}"

tmp=$(mktemp -d /tmp/dozor-people-bench-run.XXXXXX)
mkdir -p "$tmp/state" "$tmp/tokens"
# A consistent copy, WAL included (the seeding process may leave one behind).
sqlite3 "$estate" ".backup '$tmp/state/dozor.db'"
# Hosts silent for more than a few minutes are offline: give each a health report at now.
"$bench_bin" refresh --db "$tmp/state/dozor.db" "${seed_args[@]}"

"$server_bin" --insecure --grpc-listen 127.0.0.1:0 --http-listen 127.0.0.1:0 \
  --state-dir "$tmp/state" --ready-file "$tmp/ready" --log-level warn 2>"$tmp/server.log" &
server_pid=$!
for _ in $(seq 1 600); do
  [[ -s $tmp/ready ]] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$tmp/server.log" >&2; echo "server died" >&2; exit 1; }
  sleep 0.05
done
[[ -s $tmp/ready ]] || { echo "server not ready after 30 s" >&2; exit 1; }
http_port=$(json_field "$tmp/ready" http_port)
api=http://127.0.0.1:$http_port/api/v1
admin_token=$(cat "$tmp/state/admin.token")

# The server evaluates the whole estate once at start: wait until it is idle (under 5 ticks of
# CPU in a second) so the first seconds of load do not measure that.
for _ in $(seq 1 120); do
  before=$(cpu_ticks "$server_pid")
  sleep 1
  (($(cpu_ticks "$server_pid") - before < 5)) && break
done

call() {  # call METHOD PATH [JSON]: prints the answer, fails on a non-2xx status
  local method=$1 path=$2 body=${3:-}
  local args=(-sS --fail-with-body -X "$method" -H "Authorization: Bearer $admin_token")
  [[ -n $body ]] && args+=(-H 'Content-Type: application/json' --data "$body")
  curl "${args[@]}" "$api$path"
}
call POST /users '{"login":"bench-admin","role":"admin"}' >/dev/null
call POST /users '{"login":"bench-engineer","role":"engineer"}' >/dev/null
call POST /users '{"login":"bench-client","role":"client","org":"client-0"}' >/dev/null
for org in 0 1 2 3 4 5; do
  call PUT "/orgs/client-$org/engineers/bench-engineer" '{"kind":"primary"}' >/dev/null
done
for pair in admin:admin engineer:operator; do
  who=${pair%%:*} role=${pair##*:}
  call POST /api-tokens "{\"name\":\"people-bench-$who\",\"role\":\"$role\",\"user\":\"bench-$who\"}" \
    >"$tmp/tokens/$who.json"
  json_field "$tmp/tokens/$who.json" token >"$tmp/tokens/$who.token"
done
# Client users own no API tokens: the client signs in as dozorctl does (a CLI session's bearer).
client_password=people-bench-$RANDOM-$RANDOM
call POST /users/bench-client/password "{\"password\":\"$client_password\"}" >/dev/null
curl -sS --fail-with-body -X POST -H 'Content-Type: application/json' \
  --data "{\"login\":\"bench-client\",\"password\":\"$client_password\",\"client\":\"cli\"}" \
  "$api/auth/login" >"$tmp/tokens/client.json"
json_field "$tmp/tokens/client.json" session_token >"$tmp/tokens/client.token"

cpu_before=$(cpu_ticks "$server_pid")
status=0
"$bench_bin" load --port "$http_port" --tokens-dir "$tmp/tokens" --seconds "$seconds" \
  --clients "$clients" "$@" || status=$?
cpu_after=$(cpu_ticks "$server_pid")
awk -v t="$((cpu_after - cpu_before))" -v tck="$clk_tck" \
  '/^VmHWM:/ { hwm = $2 } /^VmRSS:/ { rss = $2 }
   END { printf "server: %.1f s CPU during the load (warm-up included), RSS %.0f MiB, peak %.0f MiB\n",
         t / tck, rss / 1024, hwm / 1024 }' "/proc/$server_pid/status"
if grep -qiE 'error|warn' "$tmp/server.log"; then
  echo "server log (warnings and errors):"
  grep -iE 'error|warn' "$tmp/server.log" | head -20
fi
exit "$status"
