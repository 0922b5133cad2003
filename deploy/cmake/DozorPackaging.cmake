# Debian packages dozor-agent and dozor-server (CPack DEB, one package per install component).
#   cmake --build build --target package          # or: cd build && cpack -G DEB
# Package files, maintainer scripts and units: deploy/packaging/, deploy/systemd/.
# Behaviour (users, capabilities, upgrade/purge): docs/packaging.md.
#
# Included from the top-level CMakeLists.txt after agent/ and server/, so the targets exist. The
# install() rules in agent/ and server/ have no component ("Unspecified"); the packages install
# the same targets again under their own components and only those components are packaged.

if(NOT CMAKE_SYSTEM_NAME STREQUAL "Linux")
  return()
endif()

set(DOZOR_PACKAGE_RELEASE "1" CACHE STRING
    "Debian revision of the packages (the part after '-' in 0.1.0-1)")
set(DOZOR_PACKAGE_MAINTAINER "Dozor maintainers <maintainers@dozor.example.com>" CACHE STRING
    "Maintainer field of the Debian packages")

set(_dozor_pkg_src ${PROJECT_SOURCE_DIR}/deploy/packaging)
set(_dozor_pkg_gen ${PROJECT_BINARY_DIR}/packaging)
file(MAKE_DIRECTORY ${_dozor_pkg_gen}/agent ${_dozor_pkg_gen}/server)

# --- Generated files: agent config, changelog, man pages -----------------------------------------

# The packaged agent.toml is the commented reference file with the state directory set
# explicitly, so an administrator sees where identity and spool live.
file(READ ${PROJECT_SOURCE_DIR}/deploy/agent/dozor-agent.toml _dozor_agent_toml)
string(REGEX REPLACE "\n# *state_dir *= *\"[^\"\n]*\"" "\nstate_dir = \"/var/lib/dozor-agent\""
       _dozor_agent_toml_packaged "${_dozor_agent_toml}")
if(_dozor_agent_toml_packaged STREQUAL _dozor_agent_toml)
  # The agent's built-in default is the same directory; tests/packaging checks the line.
  message(WARNING "DozorPackaging: no '# state_dir = \"...\"' line in "
                  "deploy/agent/dozor-agent.toml; packaging agent.toml unchanged")
endif()
set(_dozor_agent_toml "${_dozor_agent_toml_packaged}")
file(CONFIGURE OUTPUT ${_dozor_pkg_gen}/agent/agent.toml CONTENT "${_dozor_agent_toml}" @ONLY)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
             ${PROJECT_SOURCE_DIR}/deploy/agent/dozor-agent.toml)

find_program(DOZOR_GZIP gzip REQUIRED)
# gzip -9n: maximum compression, no name/timestamp in the header (reproducible, lintian-clean).
function(dozor_gzip_configured template output)
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${template})
  configure_file(${template} ${output} @ONLY)
  execute_process(COMMAND ${DOZOR_GZIP} -9nf ${output} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "DozorPackaging: gzip ${output} failed")
  endif()
endfunction()

set(DOZOR_VERSION ${PROJECT_VERSION})
set(DOZOR_DEB_VERSION "${PROJECT_VERSION}-${DOZOR_PACKAGE_RELEASE}")
string(TIMESTAMP DOZOR_PACKAGE_DATE "%a, %d %b %Y %H:%M:%S +0000" UTC)
dozor_gzip_configured(${_dozor_pkg_src}/common/changelog.Debian.in
                      ${_dozor_pkg_gen}/changelog.Debian)
dozor_gzip_configured(${_dozor_pkg_src}/man/dozor-agent.8.in ${_dozor_pkg_gen}/dozor-agent.8)
dozor_gzip_configured(${_dozor_pkg_src}/man/dozor-server.8.in ${_dozor_pkg_gen}/dozor-server.8)
dozor_gzip_configured(${_dozor_pkg_src}/man/dozorctl.1.in ${_dozor_pkg_gen}/dozorctl.1)

# --- Install rules per component ------------------------------------------------------------------

# Absolute destinations (/etc, /lib) are exactly where Debian wants these files; the binaries
# follow CPACK_PACKAGING_INSTALL_PREFIX (/usr).
# An agent-only or server-only tree (DOZOR_BUILD_AGENT / DOZOR_BUILD_SERVER) packages what it built.
set(_dozor_components)
if(DOZOR_BUILD_AGENT)
list(APPEND _dozor_components agent)
set(DOZOR_AGENT_PACKAGE_BINARY "" CACHE FILEPATH
    "dozor-agent for the agent package instead of this tree's: the release build, static and laid out by BOLT (deploy/build-release-agent.sh)")
if(DOZOR_AGENT_PACKAGE_BINARY)
  # Read when the package is made, not now: deploy/test.sh builds it after this tree. The setting
  # stays in the cache, so a release agent built before the sources last changed would be shipped
  # silently: refuse it unless its stamp (deploy/agent-source-stamp.sh) matches the sources.
  install(CODE "
    execute_process(COMMAND bash \"${PROJECT_SOURCE_DIR}/deploy/agent-source-stamp.sh\"
                    OUTPUT_VARIABLE _now OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _rc)
    set(_stamp_file \"${DOZOR_AGENT_PACKAGE_BINARY}.sources\")
    if(EXISTS \"\${_stamp_file}\")
      file(STRINGS \"\${_stamp_file}\" _built LIMIT_COUNT 1)
    else()
      set(_built missing)
    endif()
    if(NOT _rc EQUAL 0 OR (NOT _now STREQUAL unknown AND NOT _built STREQUAL _now))
      message(FATAL_ERROR \"${DOZOR_AGENT_PACKAGE_BINARY} was not built from these sources (stamp \${_built}, sources \${_now}): run deploy/build-release-agent.sh again, or configure with -DDOZOR_AGENT_PACKAGE_BINARY= to package this tree's agent\")
    endif()
  " COMPONENT agent)
  install(PROGRAMS ${DOZOR_AGENT_PACKAGE_BINARY} DESTINATION bin RENAME dozor-agent COMPONENT agent)
else()
  install(TARGETS dozor-agent RUNTIME DESTINATION bin COMPONENT agent)
endif()
install(FILES ${_dozor_pkg_gen}/agent/agent.toml DESTINATION /etc/dozor
        PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ COMPONENT agent)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/systemd/dozor-agent.service
        DESTINATION /lib/systemd/system COMPONENT agent)
install(FILES ${_dozor_pkg_gen}/dozor-agent.8.gz DESTINATION share/man/man8 COMPONENT agent)
# Run by an administrator (or install.sh --postgres-role) to give the agent its read-only
# PostgreSQL role; not a command on PATH, so it lives with the package's private programs.
install(PROGRAMS ${_dozor_pkg_src}/agent/postgres-role DESTINATION lib/dozor-agent COMPONENT agent)
install(FILES ${_dozor_pkg_src}/agent/lintian-overrides DESTINATION share/lintian/overrides
        RENAME dozor-agent COMPONENT agent)
install(FILES ${_dozor_pkg_src}/common/copyright ${_dozor_pkg_gen}/changelog.Debian.gz
              ${PROJECT_SOURCE_DIR}/docs/packaging.md ${PROJECT_SOURCE_DIR}/docs/agent-config.md
        DESTINATION share/doc/dozor-agent COMPONENT agent)
endif()

if(DOZOR_BUILD_SERVER)
list(APPEND _dozor_components server)
install(TARGETS dozor-server dozorctl RUNTIME DESTINATION bin COMPONENT server)
install(FILES ${_dozor_pkg_src}/server/server.toml DESTINATION /etc/dozor
        PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ COMPONENT server)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/systemd/dozor-server.service
        DESTINATION /lib/systemd/system COMPONENT server)
install(FILES ${_dozor_pkg_gen}/dozor-server.8.gz DESTINATION share/man/man8 COMPONENT server)
install(FILES ${_dozor_pkg_gen}/dozorctl.1.gz DESTINATION share/man/man1 COMPONENT server)
# The agent install script the server hands out at /install.sh (install.script default).
install(PROGRAMS ${PROJECT_SOURCE_DIR}/deploy/install/install.sh DESTINATION share/dozor-server
        COMPONENT server)
install(FILES ${_dozor_pkg_src}/server/lintian-overrides DESTINATION share/lintian/overrides
        RENAME dozor-server COMPONENT server)
install(FILES ${_dozor_pkg_src}/common/copyright ${_dozor_pkg_gen}/changelog.Debian.gz
              ${PROJECT_SOURCE_DIR}/docs/packaging.md ${PROJECT_SOURCE_DIR}/docs/server-config.md
              ${PROJECT_SOURCE_DIR}/docs/dozorctl.md ${PROJECT_SOURCE_DIR}/docs/rule-language.md
              ${PROJECT_SOURCE_DIR}/docs/rules.md ${PROJECT_SOURCE_DIR}/docs/alerts.md
        DESTINATION share/doc/dozor-server COMPONENT server)
endif()

# --- CPack ----------------------------------------------------------------------------------------

set(CPACK_GENERATOR "DEB")
set(CPACK_PACKAGE_NAME "dozor")
set(CPACK_PACKAGE_VENDOR "Dozor")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "${DOZOR_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")
set(CPACK_STRIP_FILES TRUE)
set(CPACK_COMPONENTS_ALL ${_dozor_components})
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_GROUPING IGNORE)
set(CPACK_PACKAGE_DIRECTORY ${PROJECT_BINARY_DIR}/packages)
set(CPACK_THREADS 2)

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE ${DOZOR_PACKAGE_RELEASE})
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${DOZOR_PACKAGE_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SOURCE "dozor")
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
set(CPACK_DEBIAN_COMPRESSION_TYPE "xz")

set(CPACK_DEBIAN_AGENT_PACKAGE_NAME "dozor-agent")
set(CPACK_DEBIAN_AGENT_PACKAGE_SECTION "admin")
# Maintainer scripts: adduser (system user), init-system-helpers (deb-systemd-helper/-invoke).
set(CPACK_DEBIAN_AGENT_PACKAGE_DEPENDS "adduser, init-system-helpers (>= 1.52)")
set(CPACK_DEBIAN_AGENT_PACKAGE_RECOMMENDS "smartmontools")
set(CPACK_DEBIAN_AGENT_PACKAGE_CONTROL_EXTRA
    ${_dozor_pkg_src}/agent/conffiles ${_dozor_pkg_src}/agent/postinst
    ${_dozor_pkg_src}/agent/prerm ${_dozor_pkg_src}/agent/postrm)
set(CPACK_COMPONENT_AGENT_DESCRIPTION
"Dozor agent: infrastructure inventory and health collector
Collects hardware (including disk SMART health), operating system, network,
installed software, services and health samples of this host and streams them
to a Dozor server over TLS. Reports wait in a bounded local spool while the
server is unreachable.
.
Runs as the hardened systemd service dozor-agent under a dedicated system
user with only the capabilities its collectors need, capped at 128 MiB of
memory and 20% of one CPU.")

set(CPACK_DEBIAN_SERVER_PACKAGE_NAME "dozor-server")
set(CPACK_DEBIAN_SERVER_PACKAGE_SECTION "admin")
# openssl: postinst creates a private CA and server certificate on first install. tzdata: alert
# working and quiet hours are kept in the clients' and engineers' time zones.
set(CPACK_DEBIAN_SERVER_PACKAGE_DEPENDS "adduser, init-system-helpers (>= 1.52), openssl, tzdata")
set(CPACK_DEBIAN_SERVER_PACKAGE_CONTROL_EXTRA
    ${_dozor_pkg_src}/server/conffiles ${_dozor_pkg_src}/server/postinst
    ${_dozor_pkg_src}/server/prerm ${_dozor_pkg_src}/server/postrm)
set(CPACK_COMPONENT_SERVER_DESCRIPTION
"Dozor server: agent ingest, rules, audit reports and management API
Receives the streams of Dozor agents (gRPC over TLS), keeps inventory, change
history and health in SQLite, evaluates the diagnostic rules and renders audit
reports. Includes dozorctl, the command-line client of the management API.
.
Runs as the hardened systemd service dozor-server under the system user dozor
without any capabilities.")

# `DOZOR_PACKAGE_RELEASE=2 cpack -G DEB` builds a newer revision from the same build tree
# without reconfiguring (tests/packaging/test_packages.py uses it to test upgrades).
set(CPACK_PROJECT_CONFIG_FILE ${PROJECT_BINARY_DIR}/packaging/CPackProjectConfig.cmake)
file(WRITE ${CPACK_PROJECT_CONFIG_FILE} [=[
if(DEFINED ENV{DOZOR_PACKAGE_RELEASE} AND NOT "$ENV{DOZOR_PACKAGE_RELEASE}" STREQUAL "")
  set(DOZOR_PACKAGE_RELEASE "$ENV{DOZOR_PACKAGE_RELEASE}")
endif()
if(DEFINED DOZOR_PACKAGE_RELEASE)
  set(CPACK_DEBIAN_PACKAGE_RELEASE "${DOZOR_PACKAGE_RELEASE}")
endif()
]=])

include(CPack)
if(DOZOR_BUILD_AGENT)
  cpack_add_component(agent DISPLAY_NAME "dozor-agent" DESCRIPTION "${CPACK_COMPONENT_AGENT_DESCRIPTION}")
endif()
if(DOZOR_BUILD_SERVER)
  cpack_add_component(server DISPLAY_NAME "dozor-server" DESCRIPTION "${CPACK_COMPONENT_SERVER_DESCRIPTION}")
endif()
