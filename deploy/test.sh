#!/usr/bin/env bash
# Quick start command 2: installs dependencies, builds, runs every test (CTest).
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/install-deps.sh
bash deploy/build.sh
ctest --test-dir build --output-on-failure -j "$(nproc)" --timeout 900
