#!/usr/bin/env bash
# Builds the dozor-agent the Debian package ships (deploy/cmake/DozorPackaging.cmake,
# DOZOR_AGENT_PACKAGE_BINARY): statically linked from an agent-only tree (./build-agent-only:
# gRPC, protobuf, OpenSSL and SQLite inside, no shared copies to page in), then laid out by BOLT
# from a profile of its health ticks (deploy/bolt/bolt-agent.sh), streaming to ./build's server.
# Result: build-agent-only/agent/dozor-agent.release. tests/bench/agent_footprint.py measures it.
set -euo pipefail
cd "$(dirname "$0")/.."
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
fi
started=$(date +%s)
stamp=$(bash deploy/agent-source-stamp.sh)  # of the sources this build starts from
cmake -S . -B build-agent-only -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" \
  -DDOZOR_BUILD_SERVER=OFF -DDOZOR_STATIC_DEPS=ON -DDOZOR_BUILD_TESTS=OFF -DDOZOR_BUILD_BENCH=OFF \
  "${launcher[@]}" >/dev/null
cmake --build build-agent-only -j "$(nproc)" --target dozor-agent
bash deploy/bolt/bolt-agent.sh build-agent-only/agent/dozor-agent build \
  build-agent-only/agent/dozor-agent.bolt
# Not stripped: GNU strip moves BOLT's extra segment and the copy crashes at load (the package
# carries a lintian override saying so).
cp build-agent-only/agent/dozor-agent.bolt build-agent-only/agent/dozor-agent.release
echo "$stamp" > build-agent-only/agent/dozor-agent.release.sources
ls -l build-agent-only/agent/dozor-agent.release
echo "build-release-agent: done in $(( $(date +%s) - started )) s"
