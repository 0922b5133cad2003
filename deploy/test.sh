#!/usr/bin/env bash
# Quick start command 2: installs dependencies, builds (the Windows agent too, cross-built with
# MinGW-w64 into ./build-windows: deploy/windows/build.sh), runs every test (CTest; the Windows
# tests run under Wine), then runs every fuzz target for a bounded time
# (tests/fuzz/run_fuzzers.sh; DOZOR_FUZZ_SECONDS per target, default 60; 0 skips the fuzzers).
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
ctest --test-dir build --output-on-failure -j "$(nproc)" --timeout 900
fuzz_seconds="${DOZOR_FUZZ_SECONDS:-60}"
if [ "$fuzz_seconds" != 0 ]; then
  bash tests/fuzz/run_fuzzers.sh "$fuzz_seconds"
fi
