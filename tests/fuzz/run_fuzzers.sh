#!/usr/bin/env bash
# Builds the libFuzzer targets (clang 14, ASan + UBSan, tests/fuzz/CMakeLists.txt) into
# build-fuzz/ and runs each for a bounded time from its seed corpus (tests/fuzz/corpus/<target>)
# plus what earlier runs on this machine found (build-fuzz/corpus/<target>). A crash, leak,
# sanitizer report or timeout fails the run; the input that caused it is kept under
# build-fuzz/artifacts/<target>/ and belongs, once fixed, in tests/fuzz/regressions/<target>/.
#
#   tests/fuzz/run_fuzzers.sh [--build-only | --no-build] [SECONDS_PER_TARGET (default 60)] [TARGET...]
#
# --build-only builds and stops; --no-build runs what an earlier --build-only built (deploy/test.sh
# builds this tree in the background while CTest runs, then runs the targets).
#
# Environment: DOZOR_FUZZ_BUILD_DIR (default build-fuzz), DOZOR_FUZZ_JOBS (targets run at once,
# default: the number of cores), DOZOR_FUZZ_BUILD_JOBS (compilers at once, default: the cores).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
phase=all
case "${1:-}" in
  --build-only) phase=build; shift ;;
  --no-build) phase=run; shift ;;
esac
seconds="${1:-60}"
shift || true
build="${DOZOR_FUZZ_BUILD_DIR:-build-fuzz}"
jobs="${DOZOR_FUZZ_JOBS:-$(nproc)}"
cxx="${DOZOR_FUZZ_CXX:-clang++-14}"
if ! command -v "$cxx" >/dev/null; then
  echo "run_fuzzers: $cxx not found (deploy/install-deps.sh installs clang-14)" >&2
  exit 1
fi

launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  export CCACHE_BASEDIR="$root" CCACHE_NOHASHDIR=1
fi
if [ "$phase" != run ]; then
  started=$(date +%s)
  cmake -S . -B "$build" -G Ninja -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=None \
    -DCMAKE_CXX_FLAGS="-O1" -DDOZOR_FUZZ=ON -DDOZOR_BUILD_BENCH=OFF "${launcher[@]}" >/dev/null
  cmake --build "$build" --target dozor_fuzzers -j "${DOZOR_FUZZ_BUILD_JOBS:-$(nproc)}"
  echo "run_fuzzers: built in $(( $(date +%s) - started )) s"
  [ "$phase" = all ] || exit 0
fi

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(find "$build/tests/fuzz" -maxdepth 1 -name '*_fuzz' -type f -executable \
                           -printf '%f\n' | sed 's/_fuzz$//' | sort)
fi
if [ ${#targets[@]} -eq 0 ]; then
  echo "run_fuzzers: no fuzz targets in $build/tests/fuzz (was it built?)" >&2
  exit 1
fi

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:allocator_may_return_null=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
logs="$build/logs"
mkdir -p "$logs"

run_one() {
  local target="$1"
  local work="$build/corpus/$target" artifacts="$build/artifacts/$target/"
  mkdir -p "$work" "$artifacts"
  local seeds=("tests/fuzz/corpus/$target")
  [ -d "tests/fuzz/regressions/$target" ] && seeds+=("tests/fuzz/regressions/$target")
  # -rss_limit_mb: a target that needs more than this for one input is itself a finding (the
  # server's parsers must stay bounded); -timeout: one input over 10 s is a hang.
  "$build/tests/fuzz/${target}_fuzz" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -max_len=65536 -print_final_stats=1 -artifact_prefix="$artifacts" "$work" "${seeds[@]}" \
    >"$logs/$target.log" 2>&1
}

status=0
pids=()
names=()
for target in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
    sleep 1
  done
  run_one "$target" &
  pids+=($!)
  names+=("$target")
done
printf '%-18s %12s %10s %8s  %s\n' target executions "exec/s" corpus result
for i in "${!pids[@]}"; do
  target="${names[$i]}"
  if wait "${pids[$i]}"; then result=ok; else result=FAILED; status=1; fi
  log="$logs/$target.log"
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  corpus=$(find "$build/corpus/$target" -type f | wc -l)
  printf '%-18s %12s %10s %8s  %s\n' "$target" "$execs" "$rate" "$corpus" "$result"
  if [ "$result" = FAILED ]; then
    echo "---- $target: last lines of $log"
    grep -E 'ERROR|SUMMARY|artifact|==[0-9]+==|runtime error' "$log" | head -20 || true
    tail -n 30 "$log"
  fi
done
exit "$status"
