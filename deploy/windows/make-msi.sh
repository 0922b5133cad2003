#!/usr/bin/env bash
# Builds the Windows agent's MSI from deploy/windows/dozor-agent.wxs with wixl (msitools):
#
#   deploy/windows/make-msi.sh AGENT_EXE VERSION OUTPUT_MSI
#
# Called by the dozor-agent-msi target of the Windows build. VERSION is the agent's (x.y.z; the
# MSI's ProductVersion, which MajorUpgrade compares).
set -euo pipefail

[ $# -eq 3 ] || { echo "usage: $0 AGENT_EXE VERSION OUTPUT_MSI" >&2; exit 2; }
exe=$1 version=$2 output=$3
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "make-msi: bad version '$version'" >&2; exit 2; }
[ -f "$exe" ] || { echo "make-msi: no agent at $exe" >&2; exit 2; }

output=$(realpath -m "$output")
tmp=$output.tmp
rm -f "$tmp"
# wixl finds a File's Source relative to its working directory only (an absolute one fails).
(cd "$(dirname "$exe")" &&
  wixl --arch x64 -D Version="$version" -D AgentExe="$(basename "$exe")" -o "$tmp" "$here/dozor-agent.wxs")
# wixl owns the SecureCustomProperties row (its upgrade detection properties); the installer's own
# command-line properties join them, so they reach the elevated custom action.
current=$(msiinfo export "$tmp" Property | tr -d '\r' | awk -F'\t' '$1 == "SecureCustomProperties" { print $2 }')
[ -n "$current" ] || { echo "make-msi: wixl wrote no SecureCustomProperties" >&2; exit 1; }
msibuild "$tmp" -q "UPDATE \`Property\` SET \`Value\` = '$current;TOKEN;SERVER;CA_FILE;CA_SHA256' WHERE \`Property\` = 'SecureCustomProperties'"
# The enroll step's command line holds the token: msidbCustomActionTypeHideTarget (0x2000) keeps
# it out of the installer log (wixl has no attribute for it): 3090 + 8192.
msibuild "$tmp" -q "UPDATE \`CustomAction\` SET \`Type\` = 11282 WHERE \`Action\` = 'EnrollAgent'"
mv -f "$tmp" "$output"
