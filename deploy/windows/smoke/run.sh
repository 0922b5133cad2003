#!/usr/bin/env bash
# Cross-builds the smoke program (this folder) against a prefix of deploy/windows/build-deps.sh
# with deploy/cmake/toolchains/mingw-w64-x86_64.cmake, then runs it under Wine.
#
#   deploy/windows/smoke/run.sh [PREFIX]     (default: what deploy/windows/build-deps.sh prints)
#
# Exits non-zero when the build fails or the program does not report every check as ok.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../../.." && pwd)

die() { echo "smoke: error: $*" >&2; exit 1; }

prefix=${1:-$("$repo/deploy/windows/build-deps.sh")}
[ -f "$prefix/.complete" ] || die "$prefix is not a complete prefix of deploy/windows/build-deps.sh"
command -v wine >/dev/null || die "wine not found (the wine package; wine64 alone puts no command on PATH)"

scratch=$(mktemp -d)
export WINEPREFIX=$scratch/wine
cleanup() {
  # The Wine server outlives the program for a few seconds and holds the prefix.
  wineserver -k >/dev/null 2>&1 || true
  rm -rf "$scratch"
}
trap cleanup EXIT

cmake -S "$here" -B "$scratch/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_TOOLCHAIN_FILE="$repo/deploy/cmake/toolchains/mingw-w64-x86_64.cmake" \
  -DDOZOR_WINDOWS_DEPS_PREFIX="$prefix" -DCMAKE_PREFIX_PATH="$prefix"
cmake --build "$scratch/build" -j 2
exe=$scratch/build/smoke.exe
# Everything but Windows' own DLLs is linked in: the .exe must run on a bare Windows.
imports=$(x86_64-w64-mingw32-objdump -p "$exe" | sed -n 's/^\tDLL Name: //p' | sort | tr '\n' ' ')
echo "smoke: $(du -h "$exe" | cut -f1) $exe; imports: $imports"
if grep -Eiq '(^| )(lib[a-z0-9_+-]*|zlib1|cygwin1|msys-[a-z0-9.-]*)\.dll' <<<"$imports"; then
  die "the program needs DLLs that are not part of Windows: $imports"
fi

# A fresh Wine prefix, set up first (20-40 s) so that its chatter stays out of the program's
# output. No Mono or Gecko: a console program needs neither, and their installers would ask.
export WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
echo "smoke: setting up a Wine prefix in $WINEPREFIX"
if ! wine wineboot --init >"$scratch/wineboot.log" 2>&1; then
  cat "$scratch/wineboot.log" >&2
  die "Wine could not set up $WINEPREFIX"
fi
wineserver -w
wine "$exe" | tee "$scratch/output"
for check in 'spdlog .* ok' 'OpenSSL 3\..* ok' '^grpc [0-9.]* ok' '^sqlite [0-9.]* ok'; do
  grep -q "$check" "$scratch/output" || die "no line matching '$check' in the output"
done
# Once more the way the agent's tests run: CTest through the toolchain's emulator.
ctest --test-dir "$scratch/build" --output-on-failure >"$scratch/ctest.log" 2>&1 ||
  { cat "$scratch/ctest.log" >&2; die "ctest (the program under the toolchain's emulator) failed"; }
echo "smoke: all checks ok (also under CTest)"
