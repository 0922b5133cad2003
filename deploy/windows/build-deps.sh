#!/usr/bin/env bash
# shellcheck disable=SC2317 # the build_<package> functions are called by name (build_all)
# Cross-builds the static Windows (x86_64, MinGW-w64 posix threads) libraries the Windows agent
# links, from Debian's own source packages, into a cache outside the source tree, and prints the
# prefix to use as DOZOR_WINDOWS_DEPS_PREFIX with deploy/cmake/toolchains/mingw-w64-x86_64.cmake:
#
#   prefix=$(deploy/windows/build-deps.sh)
#   deploy/windows/build-deps.sh --key      # only the cache key, e.g. for a CI cache step
#
# The prefix is named after the exact versions that go into it (see manifest below), so a CI cache
# of $DOZOR_WINDOWS_DEPS_CACHE (default ~/.cache/dozor/windows-deps) is reused until one of them
# changes. A warm cache answers in about two seconds; a cold one takes about 26 minutes on 2 idle
# cores (an hour when they are shared with another build).
# Only the prefix goes to stdout; progress, per-package times and errors go to stderr.
#
# Environment: DOZOR_WINDOWS_DEPS_CACHE (cache root), DOZOR_WINDOWS_DEPS_JOBS (parallel jobs, 2).
# Needs the packages of deploy/install-deps.sh (the "Windows agent" group) and tclsh (tcl).
set -euo pipefail

# Bump when a change to this script changes what ends up in the prefix: it is part of the key.
readonly script_revision=1

readonly triplet=x86_64-w64-mingw32
readonly sysroot=/usr/$triplet
readonly cache_root=${DOZOR_WINDOWS_DEPS_CACHE:-$HOME/.cache/dozor/windows-deps}
readonly jobs=${DOZOR_WINDOWS_DEPS_JOBS:-2}
# Where the libraries look for files at run time on Windows (see build_openssl and build_grpc).
readonly windows_install_dir="C:/Program Files/Dozor"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly toolchain=$here/../cmake/toolchains/mingw-w64-x86_64.cmake

# Debian source packages built here, in build order (each needs only those before it).
readonly source_packages=(abseil protobuf c-ares re2 openssl grpc sqlite3 fmtlib spdlog)
# Host packages whose content ends up in the prefix or shapes what is built.
readonly host_packages=(g++-mingw-w64-x86-64-posix mingw-w64-x86-64-dev libz-mingw-w64-dev
                        unicode-data nlohmann-json3-dev libcli11-dev libtomlplusplus-dev doctest-dev)

log() { echo "build-deps: $*" >&2; }
die() { echo "build-deps: error: $*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null; then
    sudo "$@"
  else
    die "need root (or sudo) for: $*"
  fi
}

# --- apt: Debian's source packages ---------------------------------------------------------------

# shellcheck disable=SC1091
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
[ -n "$codename" ] || die "no VERSION_CODENAME in /etc/os-release"
readonly codename
readonly deb_sources=/etc/apt/sources.list.d/debian.sources
readonly deb_src_sources=/etc/apt/sources.list.d/dozor-deb-src.sources

# The deb-src twin of every enabled "Types: deb" stanza of debian.sources (same URIs, suites,
# components and key), so apt-get source fetches exactly the versions of the binary archive.
deb_src_stanzas() {
  awk '
    function flush() {
      if (is_deb && !disabled && body != "") out = out (out == "" ? "" : "\n") "Types: deb-src\n" body
      body = ""; is_deb = 0; disabled = 0; keep = 0
    }
    /^[[:space:]]*$/ { flush(); next }
    /^#/ { next }
    /^[ \t]/ { if (keep) body = body $0 "\n"; next }   # continuation line (e.g. an inline key)
    {
      field = tolower($0); sub(/:.*/, "", field)
      keep = 0
      if (field == "types") { is_deb = ($0 ~ /[: \t]deb([ \t]|$)/) }
      else if (field == "enabled") { disabled = ($0 ~ /:[ \t]*no/) }
      else if (field ~ /^(uris|suites|components|signed-by)$/) { keep = 1; body = body $0 "\n" }
    }
    END { flush(); printf "%s", out }
  ' "$deb_sources"
}

ensure_deb_src() {
  [ -r "$deb_sources" ] || die "$deb_sources not found: this script expects Debian 12's deb822 apt sources"
  local changed=0
  # A deb-src already configured by hand would make ours a duplicate apt warns about.
  if ! grep -Eqi '^Types:.*[[:space:]]deb-src([[:space:]]|$)' "$deb_sources"; then
    local wanted
    wanted="# Written by deploy/windows/build-deps.sh: Debian's source packages for the Windows cross build.
$(deb_src_stanzas)"
    [ -n "$(deb_src_stanzas)" ] || die "no enabled 'Types: deb' entry in $deb_sources to mirror as deb-src"
    if [ ! -f "$deb_src_sources" ] || [ "$(cat "$deb_src_sources")" != "$wanted" ]; then
      log "adding deb-src entries: $deb_src_sources"
      printf '%s\n' "$wanted" | as_root tee "$deb_src_sources" >/dev/null
      changed=1
    fi
  fi
  if [ "$changed" -eq 1 ] || [ -z "$(main_sources_index 2>/dev/null)" ]; then
    log "apt-get update (source indexes)"
    as_root apt-get update -qq || die "apt-get update failed"
  fi
}

# The Sources index of the release's main suite (bookworm), not of -security or -updates.
main_sources_index() {
  local file
  # shellcheck disable=SC2016 # $(FILENAME) is apt's placeholder, not a command substitution
  while read -r file; do
    if [ -f "$file" ]; then echo "$file"; return 0; fi
  done < <(apt-get indextargets --format '$(FILENAME)' 'Identifier: Sources' "Release: $codename" \
             'Component: main')
  return 1
}

# Versions come from the main suite's index because the security archive's index can name a
# version whose files are not (yet) on the mirror: apt-get source then fails with a 404 (seen with
# openssl). Point releases bring the security fixes into the main suite every couple of months.
declare -A version
resolve_versions() {
  local index
  index=$(main_sources_index) || die "no Sources index for the main suite: apt-get update failed?"
  local pkg ver
  while read -r pkg ver; do
    # Several versions of one source in a suite are rare; take the newest.
    if [ -z "${version[$pkg]:-}" ] || dpkg --compare-versions "$ver" gt "${version[$pkg]}"; then
      version[$pkg]=$ver
    fi
  done < <(/usr/lib/apt/apt-helper cat-file "$index" | awk -v want=" ${source_packages[*]} " '
             /^Package: / { pkg = $2 }
             /^Version: / { if (index(want, " " pkg " ")) print pkg, $2 }')
  for pkg in "${source_packages[@]}"; do
    [ -n "${version[$pkg]:-}" ] || die "source package $pkg not found in $index"
  done
}

# --- the cache key -------------------------------------------------------------------------------

manifest() {
  local pkg
  echo "script-revision $script_revision"
  echo "target $triplet-posix"
  for pkg in "${source_packages[@]}"; do echo "source $pkg ${version[$pkg]}"; done
  for pkg in "${host_packages[@]}"; do
    echo "host $pkg $(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null || echo missing)"
  done
}

# --- building ------------------------------------------------------------------------------------

check_build_tools() {
  local tool missing=()
  for tool in "$triplet-gcc-posix" "$triplet-g++-posix" "$triplet-ar" "$triplet-windres" cmake ninja \
              make perl python3 tclsh gcc dpkg-source flock; do
    command -v "$tool" >/dev/null || missing+=("$tool")
  done
  [ ${#missing[@]} -eq 0 ] || die "missing tools: ${missing[*]} (run deploy/install-deps.sh; tclsh is in tcl)"
  local pkg
  for pkg in "${host_packages[@]}"; do
    dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null | grep -q '^ii' \
      || die "package $pkg is not installed (run deploy/install-deps.sh)"
  done
  [ -f "$sysroot/lib/libz.a" ] || die "$sysroot/lib/libz.a missing (libz-mingw-w64-dev)"
  [ -f "$toolchain" ] || die "toolchain file missing: $toolchain"
}

# Runs a build step with its output in the package's log; on failure shows the end of the log.
run_logged() {
  local name=$1; shift
  if ! "$@" >>"$work/logs/$name.log" 2>&1; then
    tail -n 40 "$work/logs/$name.log" >&2
    die "$name failed: $* (full log: $work/logs/$name.log; the next run resumes with $name)"
  fi
}

# A fresh copy of the package's source with Debian's patches applied: builds of earlier,
# interrupted runs never leak into it.
unpack() {
  local pkg=$1 ver=${version[$1]}
  local dsc="$work/download/${pkg}_${ver#*:}.dsc"
  if [ ! -f "$dsc" ]; then
    # As root, apt downloads as the _apt user, who cannot write here (apt warns, then does it as
    # root anyway): say so up front.
    local sandbox=()
    [ "$(id -u)" -ne 0 ] || sandbox=(-o APT::Sandbox::User=root)
    (cd "$work/download" && run_logged "$pkg" apt-get source --download-only "${sandbox[@]}" "$pkg=$ver")
  fi
  rm -rf "$work/src/$pkg" "$work/build/$pkg"
  run_logged "$pkg" dpkg-source -x "$dsc" "$work/src/$pkg"
}

cmake_common=()
# Configures, builds and installs one CMake project. Extra arguments go to CMake.
cmake_install() {
  local pkg=$1; shift
  run_logged "$pkg" cmake -S "$work/src/$pkg" -B "$work/build/$pkg" "${cmake_common[@]}" "$@"
  run_logged "$pkg" cmake --build "$work/build/$pkg" -j "$jobs" --target install
}

build_abseil() {
  # C++17 like Debian's build, so absl::string_view/optional are the std ones, as in a C++20 user.
  cmake_install abseil -DABSL_PROPAGATE_CXX_STD=ON -DABSL_BUILD_TESTING=OFF -DABSL_ENABLE_INSTALL=ON
}

build_protobuf() {
  # libprotobuf only: code generation runs on the build host with Debian's protoc (same version).
  cmake_install protobuf -Dprotobuf_BUILD_TESTS=OFF -Dprotobuf_BUILD_PROTOC_BINARIES=OFF \
    -Dprotobuf_BUILD_LIBPROTOC=OFF -Dprotobuf_BUILD_SHARED_LIBS=OFF -Dprotobuf_WITH_ZLIB=ON
}

build_c_ares() {
  # c-ares 1.18's config for MinGW lacks INADDRSZ (MSVC's headers define it).
  cmake_install c-ares -DCARES_STATIC=ON -DCARES_SHARED=OFF -DCARES_BUILD_TOOLS=OFF \
    -DCARES_BUILD_TESTS=OFF -DCMAKE_C_FLAGS=-DINADDRSZ=4
}

build_re2() {
  # Debian's tarball leaves out the generated tables; regenerate them from Debian's Unicode data
  # (debian-unicode-data.patch points unicode.py at /usr/share/unicode). unicode.py imports six
  # only for urllib, which Python 3 has.
  local dir=$work/src/re2
  sed -i 's/^from six\.moves import urllib$/import urllib.request/' "$dir/re2/unicode.py"
  run_logged re2 sh -c "cd '$dir' && perl re2/make_perl_groups.pl > re2/perl_groups.cc &&
    python3 re2/make_unicode_groups.py > re2/unicode_groups.cc &&
    python3 re2/make_unicode_casefold.py > re2/unicode_casefold.cc"
  cmake_install re2 -DRE2_BUILD_TESTING=OFF
}

build_openssl() {
  local dir=$work/src/openssl
  # The library reads openssl.cnf from OPENSSLDIR and loads engines and providers from ENGINESDIR
  # and MODULESDIR: paths compiled in. Their defaults under the build prefix (/root/...) would
  # mean \root\... on the Windows drive, a folder any user may create (CVE-2019-1552), and a
  # config there steers every TLS connection of a service running as SYSTEM. Configure treats a
  # Windows path as relative on Linux, so the paths go to make instead: a folder under Program
  # Files (admin-only) of our own, so no other product's openssl.cnf applies either. Nothing has
  # to exist there. no-module builds the legacy provider into libcrypto.
  # CC=gcc-posix: Configure puts the cross prefix in front, giving the posix-threads compiler.
  local paths=("OPENSSLDIR=$windows_install_dir/ssl" "ENGINESDIR=$windows_install_dir/lib/engines-3"
               "MODULESDIR=$windows_install_dir/lib/ossl-modules")
  (cd "$dir" && run_logged openssl ./Configure mingw64 --cross-compile-prefix="$triplet-" \
     CC=gcc-posix CXX=g++-posix no-shared no-module no-tests --release --prefix="$stage" --libdir=lib)
  run_logged openssl make -C "$dir" -j "$jobs" "${paths[@]}" build_libs
  run_logged openssl make -C "$dir" "${paths[@]}" install_dev
}

# Run by gRPC's project() (CMAKE_PROJECT_INCLUDE), before its targets are defined.
# - gRPC's "install" target depends on "all", which builds also grpc_unsecure, grpc++_unsecure,
#   grpc++_alts and grpc++_error_details (about 10 minutes more) that the agent does not link.
#   install() is overridden to skip targets outside the list, so `cmake --install` (which builds
#   nothing) needs only what was built; the exported gRPCTargets.cmake names only those.
# - The default root certificates (used when a channel is given none and
#   GRPC_DEFAULT_SSL_ROOTS_FILE_PATH is not set) are read from /usr/share/grpc/roots.pem, on
#   Windows \usr\share\... of the current drive, which any user may create: whoever did would
#   choose which servers the agent trusts. An admin-only path instead; the installer may put
#   share/grpc/roots.pem of this prefix there.
readonly grpc_targets=(gpr upb address_sorting grpc grpc++)
write_grpc_hook() {
  cat >"$work/grpc-hook.cmake" <<EOF
# Written by deploy/windows/build-deps.sh. Once: a second install() override would call itself.
include_guard(GLOBAL)
add_compile_definitions([=[GRPC_ROOT_PEM_PATH="$windows_install_dir/grpc/roots.pem"]=])
set(_dozor_grpc_targets ${grpc_targets[*]})
function(install kind name)
  if(kind STREQUAL "TARGETS" AND NOT name IN_LIST _dozor_grpc_targets)
    return()
  endif()
  _install(\${ARGV})
endfunction()
EOF
}

build_grpc() {
  write_grpc_hook
  run_logged grpc cmake -S "$work/src/grpc" -B "$work/build/grpc" "${cmake_common[@]}" \
    -DCMAKE_PROJECT_INCLUDE="$work/grpc-hook.cmake" \
    -DgRPC_INSTALL=ON -DgRPC_BUILD_TESTS=OFF -DgRPC_BUILD_CODEGEN=OFF -DgRPC_BUILD_CSHARP_EXT=OFF \
    -DgRPC_BUILD_GRPC_CPP_PLUGIN=OFF -DgRPC_BUILD_GRPC_CSHARP_PLUGIN=OFF \
    -DgRPC_BUILD_GRPC_NODE_PLUGIN=OFF -DgRPC_BUILD_GRPC_OBJECTIVE_C_PLUGIN=OFF \
    -DgRPC_BUILD_GRPC_PHP_PLUGIN=OFF -DgRPC_BUILD_GRPC_PYTHON_PLUGIN=OFF \
    -DgRPC_BUILD_GRPC_RUBY_PLUGIN=OFF \
    -DgRPC_ABSL_PROVIDER=package -DgRPC_CARES_PROVIDER=package -DgRPC_PROTOBUF_PROVIDER=package \
    -DgRPC_RE2_PROVIDER=package -DgRPC_SSL_PROVIDER=package -DgRPC_ZLIB_PROVIDER=package \
    -DgRPC_BENCHMARK_PROVIDER=none -DgRPC_PROTOBUF_PACKAGE_TYPE=CONFIG -DOPENSSL_USE_STATIC_LIBS=TRUE
  run_logged grpc cmake --build "$work/build/grpc" -j "$jobs" --target "${grpc_targets[@]}"
  run_logged grpc cmake --install "$work/build/grpc"
  # pkg-config files of the libraries not built.
  rm -f "$stage"/lib/pkgconfig/grpc_unsecure.pc "$stage"/lib/pkgconfig/grpc++_unsecure.pc
}

build_sqlite3() {
  local dir=$work/src/sqlite3 obj=$work/build/sqlite3
  # The amalgamation (one sqlite3.c) is generated on the host: a native configure for the
  # generators (lemon, mkkeywordhash; tclsh scripts), then only sqlite3.c is cross-compiled.
  (cd "$dir" && run_logged sqlite3 ./configure --disable-tcl --disable-readline)
  run_logged sqlite3 make -C "$dir" -j "$jobs" sqlite3.c sqlite3.h
  mkdir -p "$obj" "$stage/include" "$stage/lib/pkgconfig"
  # Debian's compile options (debian/rules) so the agent's SQL behaves as on Linux, except
  # extension loading: a service running as SYSTEM should not load DLLs named in SQL.
  # (SQLITE_ENABLE_UPDATE_DELETE_LIMIT needs a differently generated parser and is left out.)
  local defines=(-DSQLITE_THREADSAFE=1 -DSQLITE_SECURE_DELETE -DSQLITE_ENABLE_COLUMN_METADATA
    -DSQLITE_ENABLE_FTS3 -DSQLITE_ENABLE_FTS3_PARENTHESIS -DSQLITE_ENABLE_FTS4 -DSQLITE_ENABLE_FTS5
    -DSQLITE_ENABLE_RTREE=1 -DSQLITE_SOUNDEX=1 -DSQLITE_ENABLE_UNLOCK_NOTIFY -DSQLITE_OMIT_LOOKASIDE=1
    -DSQLITE_ENABLE_DBSTAT_VTAB -DSQLITE_ALLOW_ROWID_IN_VIEW -DSQLITE_ENABLE_JSON1
    -DSQLITE_LIKE_DOESNT_MATCH_BLOBS -DSQLITE_ENABLE_FTS3_TOKENIZER=1 -DSQLITE_USE_URI=1
    -DSQLITE_MAX_SCHEMA_RETRY=25 -DSQLITE_ENABLE_PREUPDATE_HOOK -DSQLITE_ENABLE_SESSION
    -DSQLITE_ENABLE_STMTVTAB -DSQLITE_MAX_VARIABLE_NUMBER=250000 -DSQLITE_OMIT_LOAD_EXTENSION)
  run_logged sqlite3 "$triplet-gcc-posix" -O2 -DNDEBUG "${defines[@]}" -c "$dir/sqlite3.c" \
    -o "$obj/sqlite3.o"
  rm -f "$obj/libsqlite3.a"
  run_logged sqlite3 "$triplet-ar" rcs "$obj/libsqlite3.a" "$obj/sqlite3.o"
  install -m 644 "$obj/libsqlite3.a" "$stage/lib/"
  install -m 644 "$dir/sqlite3.h" "$dir/sqlite3ext.h" "$stage/include/"
  local upstream=${version[sqlite3]%%-*}
  cat >"$stage/lib/pkgconfig/sqlite3.pc" <<EOF
prefix=\${pcfiledir}/../..
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: SQLite
Description: SQL database engine (static, MinGW-w64)
Version: $upstream
Libs: -L\${libdir} -lsqlite3
Cflags: -I\${includedir}
EOF
}

build_fmtlib() {
  cmake_install fmtlib -DFMT_DOC=OFF -DFMT_TEST=OFF -DFMT_INSTALL=ON
}

build_spdlog() {
  # A compiled static spdlog (faster builds of the agent than header-only) on the fmt built above,
  # not its bundled copy: SPDLOG_FMT_EXTERNAL, as Debian's libspdlog-dev does.
  cmake_install spdlog -DSPDLOG_FMT_EXTERNAL=ON -DSPDLOG_BUILD_SHARED=OFF -DSPDLOG_INSTALL=ON \
    -DSPDLOG_BUILD_EXAMPLE=OFF -DSPDLOG_BUILD_TESTS=OFF -DSPDLOG_BUILD_BENCH=OFF
}

# Header-only libraries need no build; copied from the host's packages (versions in the key) so
# the cross build finds them under the prefix: its find root must not include the host's
# /usr/include, where glibc's headers would shadow MinGW's. doctest (the unit tests) comes without
# its CMake package, which names /usr/include.
copy_header_only() {
  mkdir -p "$stage/include" "$stage/share/cmake" "$stage/lib/cmake/tomlplusplus"
  cp -a /usr/include/nlohmann /usr/include/CLI /usr/include/toml++ /usr/include/doctest \
    "$stage/include/"
  # The CMake packages of nlohmann_json and CLI11 locate the headers relative to themselves.
  cp -a /usr/share/cmake/nlohmann_json /usr/share/cmake/CLI11 "$stage/share/cmake/"
  # Debian's toml++ package describes its shared library; here it is used header-only.
  local toml_version
  toml_version=$(dpkg-query -W -f='${Version}' libtomlplusplus-dev)
  toml_version=${toml_version%%[+-]*}
  cat >"$stage/lib/cmake/tomlplusplus/tomlplusplusConfig.cmake" <<'EOF'
# Written by deploy/windows/build-deps.sh: toml++ header-only, headers from Debian's package.
if(NOT TARGET tomlplusplus::tomlplusplus)
  get_filename_component(_toml_prefix "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)
  add_library(tomlplusplus::tomlplusplus INTERFACE IMPORTED)
  set_target_properties(tomlplusplus::tomlplusplus PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${_toml_prefix}/include"
    INTERFACE_COMPILE_DEFINITIONS "TOML_HEADER_ONLY=1")
  unset(_toml_prefix)
endif()
EOF
  cat >"$stage/lib/cmake/tomlplusplus/tomlplusplusConfigVersion.cmake" <<EOF
set(PACKAGE_VERSION "$toml_version")
if(PACKAGE_FIND_VERSION VERSION_GREATER PACKAGE_VERSION)
  set(PACKAGE_VERSION_COMPATIBLE FALSE)
else()
  set(PACKAGE_VERSION_COMPATIBLE TRUE)
  if(PACKAGE_FIND_VERSION STREQUAL PACKAGE_VERSION)
    set(PACKAGE_VERSION_EXACT TRUE)
  endif()
endif()
EOF
}

# The prefix is built under a temporary name and may be restored elsewhere by CI: pkg-config
# files are made relative to themselves; other absolute references to the temporary name
# (CMake's exports are already relative) are pointed at the final one.
finalize_paths() {
  local pc file
  rm -rf "$stage/share/man" "$stage/share/doc"   # c-ares's and others' manuals
  rmdir "$stage/bin" 2>/dev/null || true        # nothing of ours is a program
  for pc in "$stage"/lib/pkgconfig/*.pc; do
    sed -i "s|^prefix=$stage\$|prefix=\${pcfiledir}/../..|; s|$stage|\${prefix}|g" "$pc"
  done
  while IFS= read -r file; do
    log "absolute path in ${file#"$stage"/}: rewritten to the final prefix"
    sed -i "s|$stage|$prefix|g" "$file"
  done < <(grep -rlI --exclude-dir=.stamps -F "$stage" "$stage" || true)
}

# Minutes and seconds, as people read them.
duration() { printf '%d min %02d s' $(($1 / 60)) $(($1 % 60)); }

build_all() {
  check_build_tools
  mkdir -p "$cache_root"
  # One builder per cache: a second run waits, then finds the prefix complete.
  exec 9>"$cache_root/.lock"
  if ! flock -n 9; then
    log "another build-deps run holds $cache_root/.lock; waiting for it"
    flock 9
  fi
  if [ -f "$prefix/.complete" ]; then
    echo "$prefix"
    exit 0
  fi

  # Interrupted runs leave their work (downloads, finished packages); the next run with the same
  # key resumes after the last finished package. Other keys' leftovers are stale: dropped.
  local leftover
  for leftover in "$cache_root"/work-* "$cache_root"/*.tmp; do
    [ -e "$leftover" ] || continue
    case $leftover in "$work" | "$stage") continue ;; esac
    log "removing a stale leftover: $leftover"
    rm -rf "$leftover"
  done
  rm -rf "$prefix"   # a prefix without .complete (copied by hand, half-restored): not trusted
  mkdir -p "$work/download" "$work/src" "$work/build" "$work/logs" "$stage/.stamps"

  cmake_common=(-G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_TOOLCHAIN_FILE="$toolchain"
    -DDOZOR_WINDOWS_DEPS_PREFIX="$stage" -DCMAKE_INSTALL_PREFIX="$stage" -DCMAKE_PREFIX_PATH="$stage"
    -DCMAKE_INSTALL_LIBDIR=lib -DBUILD_SHARED_LIBS=OFF -DBUILD_TESTING=OFF -DCMAKE_CXX_STANDARD=17)

  log "building into $stage (logs in $work/logs)"
  local pkg started took total=0 summary=()
  for pkg in "${source_packages[@]}"; do
    if [ -f "$stage/.stamps/$pkg" ]; then
      log "$pkg ${version[$pkg]}: done in an earlier run"
      continue
    fi
    log "$pkg ${version[$pkg]}: building"
    started=$SECONDS
    : >"$work/logs/$pkg.log"
    unpack "$pkg"
    "build_${pkg//-/_}"
    took=$((SECONDS - started))
    total=$((total + took))
    summary+=("$(printf '%-9s %-26s %s' "$pkg" "${version[$pkg]}" "$(duration "$took")")")
    log "$pkg ${version[$pkg]}: built in $(duration "$took")"
    touch "$stage/.stamps/$pkg"
    rm -rf "$work/src/$pkg" "$work/build/$pkg"   # keeps the disk footprint to one package
  done
  copy_header_only
  finalize_paths

  manifest >"$stage/versions.txt"
  rm -rf "$stage/.stamps"
  touch "$stage/.complete"
  # The rename publishes the prefix in one step: a prefix that exists is complete.
  mv "$stage" "$prefix"
  rm -rf "$work"
  log "built this run:"
  local line
  for line in "${summary[@]}"; do log "  $line"; done
  log "  total $(duration "$total"); prefix $(du -sh "$prefix" | cut -f1): $prefix"
  echo "$prefix"
}

# --- main ----------------------------------------------------------------------------------------

main() {
  local only_key=0
  case ${1:-} in
    "") ;;
    --key) only_key=1 ;;
    -h | --help) sed -n '3,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; return 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
  ensure_deb_src
  resolve_versions
  key="$codename-r$script_revision-$(manifest | sha256sum | cut -c1-16)"
  prefix=$cache_root/$key
  stage=$prefix.tmp
  work=$cache_root/work-$key
  readonly key prefix stage work
  if [ "$only_key" -eq 1 ]; then
    echo "$key"
    return 0
  fi
  if [ -f "$prefix/.complete" ]; then
    echo "$prefix"
    return 0
  fi
  build_all
}

# On one line with main: bash reads a script as it runs, and an edit of this file during a build
# must not make it run whatever then lies past the old end.
main "$@"; exit
