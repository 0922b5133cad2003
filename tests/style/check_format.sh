#!/usr/bin/env bash
# House style gate: every C++ file of the project is formatted by .clang-format (Debian's
# clang-format 14). Fails listing the files that differ; `tests/style/check_format.sh --fix`
# formats them in place.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
clang_format="${CLANG_FORMAT:-clang-format}"
if ! command -v "$clang_format" >/dev/null; then
  echo "check_format: $clang_format not found (deploy/install-deps.sh installs clang-format)" >&2
  exit 1
fi
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  mapfile -t files < <(git ls-files --cached --others --exclude-standard -- '*.cpp' '*.hpp' '*.h' '*.cc' |
                       while read -r f; do [ -f "$f" ] && echo "$f"; done)
else
  mapfile -t files < <(find agent server proto tests -name build -prune -o \
                         \( -name '*.cpp' -o -name '*.hpp' -o -name '*.h' -o -name '*.cc' \) -print)
fi
if [ "${1:-}" = "--fix" ]; then
  "$clang_format" -i "${files[@]}"
  echo "check_format: formatted ${#files[@]} files"
  exit 0
fi
# One clang-format process per core over batches of files; each difference is reported as
# "FILE:LINE:COL: error: code should be clang-formatted".
report=$(printf '%s\0' "${files[@]}" |
         xargs -0 -n 32 -P "$(nproc)" "$clang_format" --dry-run --Werror 2>&1 >/dev/null || true)
mapfile -t bad < <(grep -o '^[^:]*:[0-9]*:[0-9]*: error: code should be clang-formatted' <<<"$report" |
                   cut -d: -f1 | sort -u)
if [ ${#bad[@]} -gt 0 ]; then
  echo "check_format: ${#bad[@]} of ${#files[@]} files differ from .clang-format:"
  printf '  %s\n' "${bad[@]}"
  echo "run: tests/style/check_format.sh --fix"
  exit 1
fi
if grep -q 'error' <<<"$report"; then
  echo "check_format: clang-format failed:" >&2
  echo "$report" | head -20 >&2
  exit 1
fi
echo "check_format: ${#files[@]} files follow .clang-format"
