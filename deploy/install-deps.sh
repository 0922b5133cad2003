#!/usr/bin/env bash
# Installs every Debian 12 package Dozor needs to build, test and run. Safe to re-run.
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then
  exec sudo -E bash "$0" "$@"
fi
export DEBIAN_FRONTEND=noninteractive
packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config ccache
  # libraries (headers + runtime)
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libboost-dev libssl-dev libsqlite3-dev libspdlog-dev libfmt-dev nlohmann-json3-dev
  libcli11-dev libtomlplusplus-dev libcurl4-openssl-dev zlib1g-dev
  # user passwords: argon2id (crypto_pwhash_str)
  libsodium-dev
  # time zones for working and quiet hours: date/tz over the system's tzdata
  libhowardhinnant-date-dev tzdata
  # PDF audit reports: cairo + pango, DejaVu fonts (Cyrillic)
  libcairo2-dev libpango1.0-dev fonts-dejavu-core
  # tests and tools
  doctest-dev python3 openssl sqlite3 curl ca-certificates procps iproute2 poppler-utils
  # abuse and fault tests: a hostile gRPC client written in Python (Debian's /usr/bin/python3);
  # iptables feeds the fault test's userspace loss-and-delay shaper where the kernel has no sch_netem
  python3-grpcio python3-protobuf iptables
  # docs/openapi.yaml checked against the router, its examples against its schemas (tests/api/)
  python3-yaml python3-jsonschema
  # alerts against a real SMTP server with STARTTLS and AUTH (tests/alerts/)
  python3-aiosmtpd
  # house style gate (tests/style/check_format.sh); fuzzers (libFuzzer + ASan/UBSan runtimes)
  clang-format-14 clang-14 libclang-rt-14-dev
  # the PostgreSQL store backend (libpq) and the PostgreSQL 15 server its tests start
  libpq-dev postgresql-15
  # the release agent laid out by BOLT from a profile of its ticks (deploy/bolt/bolt-agent.sh)
  bolt-15
  # packaging: .deb build (dpkg-shlibdeps), checks and unit verification (systemd-analyze)
  dpkg-dev lintian systemd adduser init-system-helpers
  # the dashboard's browser tests: headless Chromium driven by playwright-core (from npm)
  chromium
  # Windows agent: cross toolchain, Wine to run its tests, msitools for the MSI
  # (deploy/windows/build-deps.sh also needs unicode-data for re2's tables, tcl for SQLite's amalgamation and dpkg-dev, above)
  g++-mingw-w64-x86-64-posix gcc-mingw-w64-x86-64-posix libz-mingw-w64-dev wine wine64 msitools wixl
  unicode-data tcl
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^ii' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
echo "install-deps: all ${#packages[@]} packages present"

# The dashboard (dashboard/, built by the normal CMake build) needs Node.js >= 20.19 and npm. They
# are not installed from Debian: its nodejs (18) is too old for the dashboard's build tools; our
# build machines carry Node 20. Configure with -DDOZOR_BUILD_DASHBOARD=OFF to build without it.
node_minimum=20.19
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "install-deps: node and npm are needed to build the dashboard (Node.js >= $node_minimum," \
       "not Debian's nodejs package, which is too old); or configure with" \
       "-DDOZOR_BUILD_DASHBOARD=OFF" >&2
  exit 1
fi
node_version=$(node --version)
node_version=${node_version#v}
if [ "$(printf '%s\n%s\n' "$node_minimum" "$node_version" | sort -V | head -n1)" != "$node_minimum" ]; then
  echo "install-deps: node $node_version is too old to build the dashboard; it needs Node.js >=" \
       "$node_minimum (or configure with -DDOZOR_BUILD_DASHBOARD=OFF)" >&2
  exit 1
fi
echo "install-deps: node $node_version and npm $(npm --version) present"
