#!/usr/bin/env bash
# Quick start command 2: installs dependencies, builds (the Windows agent too, cross-built with
# MinGW-w64 into ./build-windows: deploy/windows/build.sh), runs every test (CTest; the Windows
# tests run under Wine), then runs every fuzz target for a bounded time
# (tests/fuzz/run_fuzzers.sh; DOZOR_FUZZ_SECONDS per target, default 60; 0 skips the fuzzers).
# The fuzz targets are built in the background while CTest runs.
# The agent the Debian package ships is the release build: static and laid out by BOLT
# (deploy/build-release-agent.sh, after ./build because its profile run streams to ./build's
# server); the packaging test installs that one.
# DOZOR_WINDOWS=0 leaves the Windows agent out (a quicker local run; CI never sets it).
# DOZOR_RELEASE_AGENT=0 packages ./build's agent instead (quicker; CI never sets it).
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
release_agent_args=(-DDOZOR_AGENT_PACKAGE_BINARY=)
if [ "${DOZOR_RELEASE_AGENT:-1}" != 0 ]; then
  release_agent_args=(-DDOZOR_AGENT_PACKAGE_BINARY="$PWD/build-agent-only/agent/dozor-agent.release")
fi
bash deploy/build.sh "${windows_args[@]}" "${release_agent_args[@]}"
if [ "${DOZOR_RELEASE_AGENT:-1}" != 0 ]; then
  bash deploy/build-release-agent.sh
fi
fuzz_seconds="${DOZOR_FUZZ_SECONDS:-60}"
fuzz_build_pid=
if [ "$fuzz_seconds" != 0 ]; then
  # The fuzz tree (clang, instrumented: a second compile of the libraries) starts building while
  # CTest runs, one compiler at a time at the lowest CPU priority: the end-to-end tests spend much
  # of their time waiting on real servers and timers, and the compiler takes only the CPU they
  # leave (one core at most, so the load-sensitive fault tests keep their margins). What is left
  # when CTest ends is built on every core below, where ninja resumes it.
  mkdir -p build
  fuzz_build_log="$PWD/build/fuzz-build.log"
  # Its own process group, so it can be stopped whole (cmake, ninja, compilers).
  DOZOR_FUZZ_BUILD_JOBS=1 setsid nice -n 19 bash tests/fuzz/run_fuzzers.sh --build-only \
    >"$fuzz_build_log" 2>&1 &
  fuzz_build_pid=$!
  trap 'kill -- "-$fuzz_build_pid" 2>/dev/null || true' EXIT
fi
ctest --test-dir build --output-on-failure -j "$(nproc)" --timeout 900
if [ -n "$fuzz_build_pid" ]; then
  kill -- "-$fuzz_build_pid" 2>/dev/null || true
  wait "$fuzz_build_pid" 2>/dev/null || true
  trap - EXIT
  echo "test.sh: fuzz build alongside CTest: $(grep -c '^\[' "$fuzz_build_log" || true) steps" \
       "(log: $fuzz_build_log); the rest now"
  bash tests/fuzz/run_fuzzers.sh "$fuzz_seconds"
fi
