#!/usr/bin/env bash
# Quick start command 2: installs dependencies, builds, runs every test (CTest), then runs every
# fuzz target for a bounded time (tests/fuzz/run_fuzzers.sh; DOZOR_FUZZ_SECONDS per target,
# default 60; 0 skips the fuzzers).
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/install-deps.sh
bash deploy/build.sh
ctest --test-dir build --output-on-failure -j "$(nproc)" --timeout 900
fuzz_seconds="${DOZOR_FUZZ_SECONDS:-60}"
if [ "$fuzz_seconds" != 0 ]; then
  bash tests/fuzz/run_fuzzers.sh "$fuzz_seconds"
fi
