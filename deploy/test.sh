#!/usr/bin/env bash
# Quick start command 2: installs dependencies, builds (the Windows agent too, cross-built with
# MinGW-w64 into ./build-windows: deploy/windows/build.sh), runs every test (CTest; the Windows
# tests run under Wine), then runs every fuzz target for a bounded time
# (tests/fuzz/run_fuzzers.sh; DOZOR_FUZZ_SECONDS per target, default 60; 0 skips the fuzzers).
# The fuzz targets are built in the background while CTest runs.
# DOZOR_WINDOWS=0 leaves the Windows agent out (a quicker local run; CI never sets it).
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/install-deps.sh
windows_args=()
if [ "${DOZOR_WINDOWS:-1}" != 0 ]; then
  started=$(date +%s)
  bash deploy/windows/build.sh
  echo "test.sh: Windows agent built in $(( $(date +%s) - started )) s (dependencies included)"
  windows_args=(-DDOZOR_WINDOWS_BUILD_DIR="$PWD/build-windows")
else
  windows_args=(-DDOZOR_WINDOWS_BUILD_DIR=)
fi
bash deploy/build.sh "${windows_args[@]}"
fuzz_seconds="${DOZOR_FUZZ_SECONDS:-60}"
fuzz_build_pid=
if [ "$fuzz_seconds" != 0 ]; then
  # The fuzz tree (clang, instrumented: a second compile of the libraries) is built at the lowest
  # CPU priority while CTest runs. The end-to-end tests spend much of their time waiting on real
  # servers and timers, and the compiler takes only the CPU they leave.
  mkdir -p build
  fuzz_build_log="$PWD/build/fuzz-build.log"
  # Its own process group, so a failing CTest stops the whole build (cmake, ninja, compilers).
  setsid nice -n 19 bash tests/fuzz/run_fuzzers.sh --build-only >"$fuzz_build_log" 2>&1 &
  fuzz_build_pid=$!
  trap 'kill -- "-$fuzz_build_pid" 2>/dev/null || true' EXIT
fi
ctest --test-dir build --output-on-failure -j "$(nproc)" --timeout 900
if [ -n "$fuzz_build_pid" ]; then
  started=$(date +%s)
  if ! wait "$fuzz_build_pid"; then
    tail -n 60 "$fuzz_build_log" >&2
    echo "test.sh: the fuzz targets did not build (full log: $fuzz_build_log)" >&2
    exit 1
  fi
  trap - EXIT
  echo "test.sh: fuzz targets built alongside CTest ($(tail -n 1 "$fuzz_build_log");" \
       "waited $(( $(date +%s) - started )) s after CTest)"
  bash tests/fuzz/run_fuzzers.sh --no-build "$fuzz_seconds"
fi
