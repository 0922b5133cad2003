#!/usr/bin/env bash
# Lays out the release dozor-agent with BOLT (LLVM's post-link optimiser, Debian's bolt-15) from a
# profile of its health ticks, so the code a tick runs sits in one range of about 1.3 MiB
# instead of being spread over the megabytes of gRPC, protobuf, OpenSSL, SQLite and our own code.
# The agent keeps that range mapped and trims the rest of its code after every tick
# (platform/self_usage.hpp, CodeLaidOutForTicks): an idle agent holds ~5 MiB (PSS) instead of ~10.
#
#   deploy/bolt/bolt-agent.sh AGENT_BIN SERVER_BUILD_DIR OUT
#
# AGENT_BIN: a statically linked agent from an agent-only tree (DOZOR_STATIC_DEPS=ON links it with
# --emit-relocs, which BOLT needs to move functions). SERVER_BUILD_DIR: a tree with
# server/dozor-server, which the profiled agent streams to (deploy/bolt/profile_run.py).
# The result is cached by the agent binary's content (and these scripts') under
# ~/.cache/dozor/bolt, so an unchanged agent is not profiled again.
set -euo pipefail
agent=$(readlink -f "$1")
server_dir=$(readlink -f "$2")
out=$3
here=$(cd "$(dirname "$0")" && pwd)

llvm_bin=/usr/lib/llvm-15/bin
if [ ! -x "$llvm_bin/llvm-bolt" ] || [ ! -x "$llvm_bin/merge-fdata" ]; then
  echo "bolt-agent: $llvm_bin/llvm-bolt not found (apt-get install bolt-15)" >&2
  exit 1
fi
# (Output captured first: grep -q exits at its first match, and pipefail would count the writer's
# SIGPIPE as a failure.)
sections=$(readelf -SW "$agent")
if ! grep -q '\.rela\.text' <<<"$sections"; then
  echo "bolt-agent: $agent has no relocations: link it from an agent-only tree" \
       "(-DDOZOR_BUILD_SERVER=OFF -DDOZOR_STATIC_DEPS=ON adds --emit-relocs)" >&2
  exit 1
fi

cache_dir=${XDG_CACHE_HOME:-$HOME/.cache}/dozor/bolt
key=$(cat "$agent" "$here/bolt-agent.sh" "$here/profile_run.py" | sha256sum | cut -c1-32)
if [ -s "$cache_dir/$key" ] && "$cache_dir/$key" --version >/dev/null 2>&1; then
  cp "$cache_dir/$key" "$out.tmp" && mv "$out.tmp" "$out"
  echo "bolt-agent: $out from the cache ($key)"
  exit 0
fi

work=$(mktemp -d /tmp/dozor-bolt-XXXXXX)
trap 'rm -rf "$work"' EXIT
started=$(date +%s)
# Instrumented copy: counts every branch and call, and writes them at exit (one file per process:
# the enrolment and the service run are two).
"$llvm_bin/llvm-bolt" "$agent" -instrument -o "$work/dozor-agent.instrumented" \
  -instrumentation-file="$work/profile" -instrumentation-file-append-pid >"$work/instrument.log" 2>&1 || {
  tail -20 "$work/instrument.log" >&2; echo "bolt-agent: instrumenting failed" >&2; exit 1; }
chmod 755 "$work" "$work/dozor-agent.instrumented"
python3 "$here/profile_run.py" "$server_dir" "$work/dozor-agent.instrumented"
# Both processes must have written theirs: the enrolment's alone would lay out enrolment code.
profiles=()
for profile in "$work"/profile.*.fdata; do
  if [ -s "$profile" ]; then profiles+=("$profile"); fi
done
if [ "${#profiles[@]}" -lt 2 ]; then
  echo "bolt-agent: expected profiles from the enrolment and the service run, got ${#profiles[@]}" >&2
  exit 1
fi
"$llvm_bin/merge-fdata" "${profiles[@]}" -o "$work/merged.fdata" 2>"$work/merge.log" || {
  tail -20 "$work/merge.log" >&2; echo "bolt-agent: merging the profiles failed" >&2; exit 1; }
# Hot functions ordered by their calls (hfsort+), blocks by ext-tsp, cold blocks split off;
# -hot-text sets __hot_start/__hot_end, the range the agent keeps mapped; -no-huge-pages keeps
# the new segment at 4 KiB alignment. Not -use-gnu-stack: it takes the GNU_STACK header for the new
# segment, and without that header glibc makes every thread stack executable, which the unit's
# MemoryDenyWriteExecute refuses (no thread starts). The result is not stripped afterwards either:
# GNU strip moves BOLT's extra segment and the stripped copy crashes at load.
"$llvm_bin/llvm-bolt" "$agent" -o "$work/dozor-agent.bolt" -data="$work/merged.fdata" \
  -reorder-blocks=ext-tsp -reorder-functions=hfsort+ -split-functions -split-all-cold -split-eh \
  -icf=1 -hot-text -no-huge-pages >"$work/optimize.log" 2>&1 || {
  tail -20 "$work/optimize.log" >&2; echo "bolt-agent: optimising failed" >&2; exit 1; }
{ grep -E "have non-empty execution profile|__hot_end" "$work/optimize.log" || true; } |
  sort -u | sed 's/^/bolt-agent: /'
symbols=$(nm "$work/dozor-agent.bolt")
if ! grep -q ' __hot_end$' <<<"$symbols"; then
  echo "bolt-agent: the laid-out agent has no hot range" >&2
  exit 1
fi
headers=$(readelf -lW "$work/dozor-agent.bolt")
if ! grep -Eq 'GNU_STACK( +0x[0-9a-f]+){5} +RW +' <<<"$headers"; then
  echo "bolt-agent: the laid-out agent has no non-executable GNU_STACK header" >&2
  exit 1
fi
"$work/dozor-agent.bolt" --version >/dev/null  # it runs
mkdir -p "$cache_dir"
# A temporary name of this job's own, renamed into place: a concurrent build never reads half.
cached=$(mktemp "$cache_dir/.incoming.XXXXXX")
cp "$work/dozor-agent.bolt" "$cached" && chmod 755 "$cached" && mv "$cached" "$cache_dir/$key"
# Only the latest few stay (finished entries only: other jobs' .incoming files are theirs).
ls -1t "$cache_dir" | { grep -E '^[0-9a-f]{32}$' || true; } | tail -n +4 | while read -r old; do
  rm -f "$cache_dir/$old"
done
cp "$work/dozor-agent.bolt" "$out.tmp" && mv "$out.tmp" "$out"
echo "bolt-agent: $out laid out in $(( $(date +%s) - started )) s"
