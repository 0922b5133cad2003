#!/bin/sh
# Dozor agent installer, served by dozor-server as /install.sh. Run it with the exact command the
# Dozor engineer gives you (dozorctl token create prints it), for example:
#
#   curl -fsSL --pinnedpubkey 'sha256//KEY' -k https://dozor.example.com:8480/install.sh \
#     | sudo sh -s -- --token 'dze_...' --server 'dozor.example.com:8443' \
#       --api https://dozor.example.com:8480 --ca-sha256 HEX --pinned-pubkey 'sha256//KEY'
#
# What it does: checks the system, downloads the server's CA certificate and checks its SHA-256
# against --ca-sha256, downloads the agent package for this architecture and checks its SHA-256
# against the server's list, installs it with apt-get, enrolls this machine (once: an existing
# identity is kept) and starts the dozor-agent service. Running it again upgrades the package and
# keeps the identity, spool and configuration.
#
# Exit codes (docs/install-agent.md):
#   0 success                       6 no package for this architecture on the server
#   1 not run as root               7 package checksum mismatch
#   2 bad or missing arguments      8 package installation failed (apt-get/dpkg)
#   3 unsupported system            9 enrollment failed (token, network, TLS)
#   4 server identity check failed 10 the service did not start
#   5 cannot download from the server
set -eu

readonly EXIT_NOT_ROOT=1
readonly EXIT_USAGE=2
readonly EXIT_UNSUPPORTED=3
readonly EXIT_IDENTITY=4
readonly EXIT_DOWNLOAD=5
readonly EXIT_NO_PACKAGE=6
readonly EXIT_CHECKSUM=7
readonly EXIT_INSTALL=8
readonly EXIT_ENROLL=9
readonly EXIT_SERVICE=10

readonly ETC_DIR=/etc/dozor
readonly CA_FILE=/etc/dozor/ca.crt
readonly AGENT_CONFIG=/etc/dozor/agent.toml
readonly STATE_DIR=/var/lib/dozor-agent
readonly LOG_FILE=/var/log/dozor-agent-install.log
readonly MAX_DOWNLOAD_BYTES=209715200

TOKEN=""
SERVER=""
API=""
CA_SHA256=""
PINNED_PUBKEY=""
PACKAGE_FILE=""
NO_START=0
POSTGRES_ROLE=0
POSTGRES_STATE=""
WORK_DIR=""

say() {
  printf 'dozor-install: %s\n' "$*"
}

# Prints the one-line reason and exits with its code.
fail() {
  code=$1
  shift
  printf 'dozor-install: FAILED (exit %s): %s\n' "$code" "$*" >&2
  exit "$code"
}

usage() {
  cat <<'EOF'
Usage: install.sh --token TOKEN --server HOST:PORT --api URL --ca-sha256 HEX [options]

  --token TOKEN          enrollment token (not needed when this machine is already enrolled)
  --server HOST:PORT     the Dozor server's agent (gRPC) address
  --api URL              the Dozor server's management API, where the CA and packages are
  --ca-sha256 HEX        SHA-256 of the server's CA certificate (64 hex digits)
  --pinned-pubkey PIN    sha256//BASE64 of the API's TLS key (curl --pinnedpubkey); required
                         for https unless the API's certificate is trusted by this system
  --package-file FILE    install this dozor-agent .deb instead of downloading one
  --no-start             install and enroll, but do not start the service
  --postgres-role        give the agent a read-only PostgreSQL role (pg_monitor) in every local
                         cluster, so the audit sees the databases and their backups
                         (/usr/lib/dozor-agent/postgres-role grant; docs/install-agent.md)
  -h, --help             this text
EOF
}

cleanup() {
  if [ -n "$WORK_DIR" ] && [ -d "$WORK_DIR" ]; then
    rm -rf "$WORK_DIR"
  fi
}

need_value() {
  if [ "$2" -lt 2 ]; then
    fail "$EXIT_USAGE" "$1 needs a value (see --help)"
  fi
}

parse_args() {
  while [ $# -gt 0 ]; do
    case "$1" in
      --token) need_value "$1" $#; TOKEN=$2; shift 2 ;;
      --token=*) TOKEN=${1#*=}; shift ;;
      --server) need_value "$1" $#; SERVER=$2; shift 2 ;;
      --server=*) SERVER=${1#*=}; shift ;;
      --api) need_value "$1" $#; API=$2; shift 2 ;;
      --api=*) API=${1#*=}; shift ;;
      --ca-sha256) need_value "$1" $#; CA_SHA256=$2; shift 2 ;;
      --ca-sha256=*) CA_SHA256=${1#*=}; shift ;;
      --pinned-pubkey) need_value "$1" $#; PINNED_PUBKEY=$2; shift 2 ;;
      --pinned-pubkey=*) PINNED_PUBKEY=${1#*=}; shift ;;
      --package-file) need_value "$1" $#; PACKAGE_FILE=$2; shift 2 ;;
      --package-file=*) PACKAGE_FILE=${1#*=}; shift ;;
      --no-start) NO_START=1; shift ;;
      --postgres-role) POSTGRES_ROLE=1; shift ;;
      -h | --help) usage; exit 0 ;;
      *) fail "$EXIT_USAGE" "unknown argument '$1' (see --help)" ;;
    esac
  done
}

# Everything below ends up in command lines and files run as root: accept only plain values.
validate_args() {
  [ -n "$API" ] || fail "$EXIT_USAGE" "--api URL is required"
  [ -n "$CA_SHA256" ] || fail "$EXIT_USAGE" "--ca-sha256 HEX is required"
  [ -n "$SERVER" ] || fail "$EXIT_USAGE" "--server HOST:PORT is required"
  CA_SHA256=$(printf '%s' "$CA_SHA256" | tr 'A-F' 'a-f' | tr -d ':')
  printf '%s' "$CA_SHA256" | grep -Eq '^[0-9a-f]{64}$' ||
    fail "$EXIT_USAGE" "--ca-sha256 must be 64 hex digits"
  printf '%s' "$API" | grep -Eq '^https?://([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?/?$' ||
    fail "$EXIT_USAGE" "--api must look like https://host:port, got '$API'"
  API=${API%/}
  printf '%s' "$SERVER" | grep -Eq '^([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):[0-9]{1,5}$' ||
    fail "$EXIT_USAGE" "--server must look like host:port, got '$SERVER'"
  if [ -n "$TOKEN" ]; then
    printf '%s' "$TOKEN" | grep -Eq '^[A-Za-z0-9_-]{8,200}$' ||
      fail "$EXIT_USAGE" "--token has characters a Dozor token never has: copy it again"
  fi
  if [ -n "$PINNED_PUBKEY" ]; then
    printf '%s' "$PINNED_PUBKEY" | grep -Eq '^sha256//[A-Za-z0-9+/=]{44}$' ||
      fail "$EXIT_USAGE" "--pinned-pubkey must look like sha256//BASE64 (44 characters)"
  fi
  if [ -n "$PACKAGE_FILE" ] && [ ! -f "$PACKAGE_FILE" ]; then
    fail "$EXIT_USAGE" "--package-file $PACKAGE_FILE does not exist"
  fi
}

os_release_value() {
  sed -n "s/^$1=//p" /etc/os-release | head -n 1 | tr -d "\"'"
}

check_system() {
  [ "$(id -u)" -eq 0 ] || fail "$EXIT_NOT_ROOT" "run as root (the command pipes into 'sudo sh')"
  [ -r /etc/os-release ] || fail "$EXIT_UNSUPPORTED" "no /etc/os-release: cannot tell the distribution"
  os_id=$(os_release_value ID)
  os_like=$(os_release_value ID_LIKE)
  OS_NAME=$(os_release_value PRETTY_NAME)
  case " $os_id $os_like " in
    *" debian "* | *" ubuntu "*) ;;
    *" rhel "* | *" fedora "* | *" centos "* | *" rocky "* | *" almalinux "*)
      fail "$EXIT_UNSUPPORTED" "$OS_NAME is not supported by the installer yet; ask your engineer" \
        "for a one-shot audit instead: dozor-agent collect -o FILE --token TOKEN" ;;
    *) fail "$EXIT_UNSUPPORTED" "${OS_NAME:-this distribution} is not supported (Debian or Ubuntu needed)" ;;
  esac
  for tool in curl sha256sum base64 dpkg dpkg-query apt-get; do
    command -v "$tool" >/dev/null 2>&1 || fail "$EXIT_UNSUPPORTED" "'$tool' is missing on this system"
  done
  ARCH=$(dpkg --print-architecture)
  case "$ARCH" in
    amd64 | arm64) ;;
    *) fail "$EXIT_UNSUPPORTED" "architecture $ARCH is not supported (amd64 or arm64)" ;;
  esac
}

# fetch PATH OUTPUT: downloads $API$PATH, checking the server's key against the pin.
fetch() {
  set -- "$1" "$2" "$WORK_DIR/curl.err"
  if [ -n "$PINNED_PUBKEY" ]; then
    # -k: no CA chain check; --pinnedpubkey checks the server's key instead, which is stronger.
    rc=0
    curl -fsS --proto '=https' -k --pinnedpubkey "$PINNED_PUBKEY" --connect-timeout 15 \
      --max-time 600 --retry 2 --max-filesize "$MAX_DOWNLOAD_BYTES" -o "$2" "$API$1" 2>"$3" || rc=$?
  else
    rc=0
    curl -fsS --proto '=https,http' --connect-timeout 15 --max-time 600 --retry 2 \
      --max-filesize "$MAX_DOWNLOAD_BYTES" -o "$2" "$API$1" 2>"$3" || rc=$?
  fi
  case "$rc" in
    0) return 0 ;;
    90) fail "$EXIT_IDENTITY" "the server's TLS key does not match the pinned key: this is not your" \
          "Dozor server, or it was re-keyed. Stop and call your Dozor engineer" ;;
    35 | 51 | 53 | 54 | 58 | 59 | 60 | 66 | 77 | 80 | 83 | 91)
      fail "$EXIT_IDENTITY" "TLS check of $API failed: $(tr '\n' ' ' <"$3")" ;;
    *) fail "$EXIT_DOWNLOAD" "cannot download $API$1: $(tr '\n' ' ' <"$3")" ;;
  esac
}

# The first PEM certificate in $1 (only what we verified is ever written).
first_certificate() {
  awk '/-----BEGIN CERTIFICATE-----/ { on = 1 } on { print } /-----END CERTIFICATE-----/ { if (on) exit }' "$1"
}

get_ca() {
  say "checking the server's CA certificate ($API/ca.crt)"
  fetch /ca.crt "$WORK_DIR/ca.download"
  first_certificate "$WORK_DIR/ca.download" >"$WORK_DIR/ca.crt"
  [ -s "$WORK_DIR/ca.crt" ] || fail "$EXIT_IDENTITY" "the server sent no PEM certificate as /ca.crt"
  got=$(sed '1d;$d' "$WORK_DIR/ca.crt" | base64 -d 2>/dev/null | sha256sum | cut -d ' ' -f 1)
  if [ "$got" != "$CA_SHA256" ]; then
    fail "$EXIT_IDENTITY" "CA fingerprint mismatch: expected $CA_SHA256, the server sent $got." \
      "Stop: do not install; call your Dozor engineer"
  fi
}

# Picks the newest dozor-agent package for $ARCH (or "all") from the server's SHA256SUMS.
get_package() {
  if [ -n "$PACKAGE_FILE" ]; then
    PACKAGE_PATH=$PACKAGE_FILE
    say "using the package file $PACKAGE_FILE (sha256 $(sha256sum "$PACKAGE_FILE" | cut -d ' ' -f 1))"
    return 0
  fi
  fetch /packages/SHA256SUMS "$WORK_DIR/SHA256SUMS"
  best_file=""
  best_sum=""
  best_version=""
  while read -r sum file; do
    printf '%s' "$sum" | grep -Eq '^[0-9a-f]{64}$' || continue
    printf '%s' "$file" | grep -Eq "^dozor-agent_[A-Za-z0-9.~+-]+_($ARCH|all)\\.deb\$" || continue
    version=${file#dozor-agent_}
    version=${version%_*}
    if [ -z "$best_file" ] || dpkg --compare-versions "$version" gt "$best_version"; then
      best_file=$file
      best_sum=$sum
      best_version=$version
    fi
  done <"$WORK_DIR/SHA256SUMS"
  [ -n "$best_file" ] || fail "$EXIT_NO_PACKAGE" "the server offers no dozor-agent package for $ARCH" \
    "(ask your engineer to put one into install.packages_dir)"
  say "downloading $best_file"
  PACKAGE_PATH=$WORK_DIR/$best_file
  fetch "/packages/$best_file" "$PACKAGE_PATH"
  got=$(sha256sum "$PACKAGE_PATH" | cut -d ' ' -f 1)
  [ "$got" = "$best_sum" ] || fail "$EXIT_CHECKSUM" "$best_file: SHA-256 $got, the server lists" \
    "$best_sum. Stop: do not install; call your Dozor engineer"
}

install_package() {
  new_version=$(dpkg-deb -f "$PACKAGE_PATH" Version 2>/dev/null) ||
    fail "$EXIT_INSTALL" "$PACKAGE_PATH is not a Debian package"
  [ "$(dpkg-deb -f "$PACKAGE_PATH" Package)" = dozor-agent ] ||
    fail "$EXIT_INSTALL" "$PACKAGE_PATH is not the dozor-agent package"
  old_version=$(dpkg-query -W -f '${db:Status-Abbrev} ${Version}' dozor-agent 2>/dev/null |
    sed -n 's/^ii *//p') || true
  if [ -n "$old_version" ] && dpkg --compare-versions "$old_version" ge "$new_version"; then
    say "dozor-agent $old_version is installed (server offers $new_version): keeping it"
    return 0
  fi
  say "installing dozor-agent $new_version${old_version:+ (upgrade from $old_version)}; log: $LOG_FILE"
  # The _apt sandbox user must be able to read the file, or apt warns about it.
  chmod 0755 "$WORK_DIR"
  chmod 0644 "$PACKAGE_PATH" 2>/dev/null || true
  case "$PACKAGE_PATH" in
    /*) deb=$PACKAGE_PATH ;;
    *) deb=$(pwd)/$PACKAGE_PATH ;;
  esac
  # confold: a configuration file the administrator changed stays as it is on upgrade.
  if DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=300 \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$deb" >>"$LOG_FILE" 2>&1; then
    return 0
  fi
  say "apt-get failed; trying dpkg -i and apt-get -f install"
  DEBIAN_FRONTEND=noninteractive dpkg --force-confdef --force-confold -i "$deb" >>"$LOG_FILE" 2>&1 || true
  if DEBIAN_FRONTEND=noninteractive apt-get -f install -y -q -o DPkg::Lock::Timeout=300 \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold >>"$LOG_FILE" 2>&1 &&
    dpkg-query -W -f '${db:Status-Abbrev}' dozor-agent 2>/dev/null | grep -q '^ii'; then
    return 0
  fi
  tail -n 15 "$LOG_FILE" >&2 || true
  fail "$EXIT_INSTALL" "installing $(basename "$deb") failed (apt-get/dpkg output above and in $LOG_FILE)"
}

# The service reads agent.toml, not the enroll flags: it needs the CA file named there.
configure_ca() {
  mkdir -p "$ETC_DIR"
  install -m 0644 "$WORK_DIR/ca.crt" "$CA_FILE"
  if [ ! -f "$AGENT_CONFIG" ]; then
    printf '[server]\nca_file = "%s"\n' "$CA_FILE" >"$AGENT_CONFIG"
    chmod 0644 "$AGENT_CONFIG"
  elif grep -Eq '^[[:space:]]*ca_file[[:space:]]*=' "$AGENT_CONFIG"; then
    grep -Eq "^[[:space:]]*ca_file[[:space:]]*=[[:space:]]*\"$CA_FILE\"" "$AGENT_CONFIG" ||
      say "warning: $AGENT_CONFIG sets its own server.ca_file; leaving it (the CA is in $CA_FILE)"
  elif grep -Eq '^\[server\][[:space:]]*$' "$AGENT_CONFIG"; then
    sed -i "/^\\[server\\][[:space:]]*\$/a ca_file = \"$CA_FILE\"  # set by the Dozor installer" "$AGENT_CONFIG"
  else
    printf '\n[server]\nca_file = "%s"  # set by the Dozor installer\n' "$CA_FILE" >>"$AGENT_CONFIG"
  fi
}

identity_field() {
  sed -n "s/.*\"$1\"[[:space:]]*:[[:space:]]*\"\\([^\"]*\\)\".*/\\1/p" "$STATE_DIR/identity.json" |
    head -n 1
}

enroll() {
  if [ -f "$STATE_DIR/identity.json" ]; then
    say "already enrolled as agent $(identity_field agent_id): keeping this identity"
    return 0
  fi
  [ -n "$TOKEN" ] || fail "$EXIT_USAGE" "this machine is not enrolled yet: --token TOKEN is required"
  say "enrolling with $SERVER"
  if ! dozor-agent enroll --server "$SERVER" --ca "$CA_FILE" --token "$TOKEN" \
    --state-dir "$STATE_DIR" >"$WORK_DIR/enroll.out" 2>&1; then
    fail "$EXIT_ENROLL" "enrollment failed: $(tr '\n' ' ' <"$WORK_DIR/enroll.out")"
  fi
}

start_service() {
  if [ "$NO_START" -eq 1 ]; then
    SERVICE_STATE="not started (--no-start): systemctl enable --now dozor-agent"
    return 0
  fi
  if [ ! -d /run/systemd/system ]; then
    SERVICE_STATE="not started: systemd is not running here; start it with 'dozor-agent run --config $AGENT_CONFIG' from your init system"
    return 0
  fi
  systemctl enable dozor-agent >>"$LOG_FILE" 2>&1 || true
  systemctl restart dozor-agent >>"$LOG_FILE" 2>&1 ||
    fail "$EXIT_SERVICE" "systemctl restart dozor-agent failed: see journalctl -u dozor-agent"
  tries=0
  while ! systemctl is-active --quiet dozor-agent; do
    tries=$((tries + 1))
    [ "$tries" -lt 15 ] || fail "$EXIT_SERVICE" "dozor-agent is not running after 15 s:" \
      "see journalctl -u dozor-agent -n 50"
    sleep 1
  done
  SERVICE_STATE="service dozor-agent running and enabled"
}

# The agent lists a PostgreSQL instance's databases only through a role of its own. Granting it
# is asked for explicitly; a host that runs PostgreSQL without it gets the command to run.
postgres_role() {
  role_script=/usr/lib/dozor-agent/postgres-role
  if [ "$POSTGRES_ROLE" -eq 1 ]; then
    if [ -x "$role_script" ] && "$role_script" grant >"$WORK_DIR/postgres-role.out" 2>&1; then
      POSTGRES_STATE="PostgreSQL: the agent has its read-only role"
    else
      POSTGRES_STATE="PostgreSQL: the read-only role is NOT in place ($(tr '\n' ' ' <"$WORK_DIR/postgres-role.out" 2>/dev/null))"
    fi
    cat "$WORK_DIR/postgres-role.out" >>"$LOG_FILE" 2>/dev/null || true
  elif command -v psql >/dev/null 2>&1 && { [ -d /etc/postgresql ] || [ -d /var/lib/pgsql ] ||
    [ -d /var/lib/pgpro ]; }; then
    POSTGRES_STATE="PostgreSQL is installed here: for the audit to see its databases run 'sudo $role_script grant' (a read-only role)"
  fi
}

main() {
  parse_args "$@"
  validate_args
  check_system
  case "$API" in
    http://*) say "warning: $API is plain HTTP; use this only on the server itself (loopback)" ;;
    https://*) [ -n "$PINNED_PUBKEY" ] ||
      say "no --pinned-pubkey: the API certificate must be trusted by this system's CA store" ;;
  esac
  WORK_DIR=$(mktemp -d /tmp/dozor-install.XXXXXX)
  trap cleanup EXIT
  trap 'exit 130' INT TERM
  say "$OS_NAME ($ARCH): installing the Dozor agent from $API"
  get_ca
  get_package
  install_package
  configure_ca
  enroll
  start_service
  postgres_role
  version=$(dpkg-query -W -f '${Version}' dozor-agent 2>/dev/null || echo unknown)
  say "OK: dozor-agent $version, agent $(identity_field agent_id) of \"$(identity_field organization)\"," \
    "$SERVICE_STATE. Check it with: dozor-agent status"
  [ -z "$POSTGRES_STATE" ] || say "$POSTGRES_STATE"
}

main "$@"
