#!/usr/bin/env bash
# Cross-builds the Windows agent into ./build-windows: the dependencies first (build-deps.sh,
# cached outside the tree, about 26 minutes once and 2 seconds after), then dozor-agent.exe, its
# unit tests (dozor_windows_tests.exe, run under Wine) and the MSI (dozor-agent-VERSION-x64.msi).
# Extra arguments go to CMake. Prints nothing but progress; the tree is ./build-windows.
#
# deploy/test.sh runs this before the Linux build and hands the tree to it
# (-DDOZOR_WINDOWS_BUILD_DIR), whose CTest runs the Windows tests: the unit tests under Wine, the
# MSI's tables and the agent under Wine against the Linux server.
set -euo pipefail
cd "$(dirname "$0")/../.."
prefix=$(bash deploy/windows/build-deps.sh)
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
fi
cmake -S . -B build-windows -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_TOOLCHAIN_FILE="$PWD/deploy/cmake/toolchains/mingw-w64-x86_64.cmake" \
  -DDOZOR_WINDOWS_DEPS_PREFIX="$prefix" -DDOZOR_BUILD_SERVER=OFF -DDOZOR_BUILD_BENCH=OFF \
  "${launcher[@]}" "$@" >/dev/null
cmake --build build-windows -j "$(nproc)"
