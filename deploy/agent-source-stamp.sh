#!/usr/bin/env bash
# Prints one digest of everything the release agent is built from (the agent, the contract and
# shared library in proto/, the build files and the BOLT scripts), committed or not.
# deploy/build-release-agent.sh stores it next to the binary; packaging with
# DOZOR_AGENT_PACKAGE_BINARY compares it, so a release agent older than the sources is refused
# instead of shipped. Prints "unknown" outside a git work tree (a source tarball): no check then.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  echo unknown
  exit 0
fi
paths=(CMakeLists.txt agent proto deploy/cmake deploy/bolt deploy/build-release-agent.sh)
{
  git ls-files -s -- "${paths[@]}"                  # committed and staged contents, by blob id
  git diff HEAD -- "${paths[@]}"                     # edits not yet committed
  git ls-files -z --others --exclude-standard -- "${paths[@]}" | xargs -0 -r sha256sum  # new files
} | sha256sum | cut -d' ' -f1
