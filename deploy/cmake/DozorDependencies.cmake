# Every dependency comes from Debian packages (deploy/install-deps.sh installs them). Only what the
# selected parts need is looked for: an agent-only tree (-DDOZOR_BUILD_SERVER=OFF) needs no Boost,
# pango/cairo or libcurl.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)

if(WIN32)
  # The Windows agent, cross-built with MinGW-w64 (deploy/windows/build.sh): every library is a
  # static archive in the prefix deploy/windows/build-deps.sh builds from Debian's source packages
  # (the toolchain file deploy/cmake/toolchains/mingw-w64-x86_64.cmake looks only there and in the
  # MinGW sysroot); protoc and grpc_cpp_plugin are the build host's, of the same versions.
  if(DOZOR_BUILD_SERVER)
    message(FATAL_ERROR "the Windows build is the agent's only: configure with -DDOZOR_BUILD_SERVER=OFF")
  endif()
  find_package(absl CONFIG REQUIRED)
  find_package(Protobuf CONFIG REQUIRED)
  find_package(gRPC CONFIG REQUIRED)
  find_package(fmt CONFIG REQUIRED)
  find_package(spdlog CONFIG REQUIRED)
  find_package(nlohmann_json 3 CONFIG REQUIRED)
  find_package(CLI11 CONFIG REQUIRED)
  find_package(tomlplusplus CONFIG REQUIRED)
else()
  # Both parts: the contract (protobuf + gRPC), the shared library (SQLite, OpenSSL crypto),
  # logging, configuration and command line.
  find_package(Protobuf REQUIRED)
  find_package(gRPC CONFIG REQUIRED)
  find_package(spdlog REQUIRED)
  find_package(fmt REQUIRED)
  find_package(nlohmann_json 3 REQUIRED)
  find_package(CLI11 REQUIRED)
  find_package(tomlplusplus REQUIRED)
endif()
find_program(GRPC_CPP_PLUGIN grpc_cpp_plugin REQUIRED)
find_program(PROTOC protoc REQUIRED)
find_package(SQLite3 REQUIRED)
find_package(OpenSSL REQUIRED)
find_package(ZLIB REQUIRED)

if(DOZOR_BUILD_SERVER)
  find_package(Boost 1.74 REQUIRED)  # Beast: the management API
  find_package(CURL REQUIRED)        # dozorctl
  # PDF audit reports: pango lays out the text (Cyrillic, wrapping), cairo writes the PDF.
  pkg_check_modules(PANGOCAIRO REQUIRED IMPORTED_TARGET pangocairo cairo-pdf)
  # User passwords: argon2id from libsodium (crypto_pwhash_str), a vetted implementation with a
  # self-describing hash string, so the cost can be raised later without a schema change.
  pkg_check_modules(SODIUM REQUIRED IMPORTED_TARGET libsodium)
  # The PostgreSQL store backend: libpq, the reference client (store/postgres/pg_client.hpp says
  # why not libpqxx).
  pkg_check_modules(LIBPQ REQUIRED IMPORTED_TARGET libpq)
  # Time zones (working hours, quiet hours, maintenance windows in the client's zone): GCC 12's
  # <chrono> has none; Howard Hinnant's date/tz, the library C++20's zones came from, reads the
  # system's tzdata.
  find_package(date CONFIG REQUIRED)
endif()

if(DOZOR_BUILD_TESTS)
  if(WIN32)
    # doctest is one header (copied into the prefix); its CMake package is the host's.
    find_path(DOZOR_DOCTEST_INCLUDE doctest/doctest.h REQUIRED)
    add_library(doctest::doctest INTERFACE IMPORTED)
    set_target_properties(doctest::doctest PROPERTIES
                          INTERFACE_INCLUDE_DIRECTORIES ${DOZOR_DOCTEST_INCLUDE})
  else()
    find_package(doctest REQUIRED)
  endif()
endif()

# DOZOR_STATIC_DEPS: link gRPC, protobuf, abseil, OpenSSL, c-ares, re2, zlib and SQLite from their
# static archives (Debian ships them in the -dev packages) instead of ~60 shared libraries. For the
# agent this is most of its memory: every shared library costs private pages (relocations, GOT,
# data) and the dynamic loader's work at start, and the agent is the only user of these libraries
# on most hosts, so their pages are not shared with anything. spdlog, fmt and toml++ come only as
# shared libraries and stay shared, as do the C and C++ runtimes.
# Only for an agent-only tree: the server links libcurl and pango, which bring their own shared
# OpenSSL and zlib, and two copies of one library in a process is asking for trouble.
if(DOZOR_BUILD_SERVER OR WIN32)
  # (On Windows everything is static already: the prefix holds nothing else.)
  set(_dozor_static_default OFF)
else()
  set(_dozor_static_default ON)
endif()
option(DOZOR_STATIC_DEPS "Link gRPC/protobuf/abseil/OpenSSL/SQLite statically (agent-only trees)"
       ${_dozor_static_default})
if(DOZOR_STATIC_DEPS AND DOZOR_BUILD_SERVER)
  message(FATAL_ERROR "DOZOR_STATIC_DEPS needs -DDOZOR_BUILD_SERVER=OFF (see DozorDependencies.cmake)")
endif()

# Points every imported library target of this directory whose location is a shared library at
# the static archive next to it, when there is one. The targets keep their link interfaces, so
# CMake still orders the archives by their dependencies.
function(dozor_prefer_static_archives)
  get_directory_property(targets IMPORTED_TARGETS)
  set(switched 0)
  foreach(target IN LISTS targets)
    get_target_property(type ${target} TYPE)
    if(type STREQUAL "INTERFACE_LIBRARY")
      # Targets made from pkg-config (re2::re2) name their library ("-lre2"), not its file.
      get_target_property(items ${target} INTERFACE_LINK_LIBRARIES)
      if(NOT items)
        continue()
      endif()
      set(rewritten)
      foreach(item IN LISTS items)
        set(name "")
        if(item MATCHES "^(-l)?([A-Za-z0-9_]+)$")
          set(name ${CMAKE_MATCH_2})
        endif()
        if(name AND NOT name MATCHES "^(m|dl|rt|pthread|atomic)$")
          find_library(DOZOR_STATIC_ARCHIVE_${name} NAMES lib${name}.a)
          if(DOZOR_STATIC_ARCHIVE_${name})
            set(item ${DOZOR_STATIC_ARCHIVE_${name}})
            math(EXPR switched "${switched} + 1")
          endif()
        endif()
        list(APPEND rewritten "${item}")
      endforeach()
      set_target_properties(${target} PROPERTIES INTERFACE_LINK_LIBRARIES "${rewritten}")
      continue()
    endif()
    if(NOT type MATCHES "^(SHARED|UNKNOWN)_LIBRARY$")
      continue()
    endif()
    get_target_property(configs ${target} IMPORTED_CONFIGURATIONS)
    set(properties IMPORTED_LOCATION)
    if(configs)
      foreach(config IN LISTS configs)
        string(TOUPPER ${config} config)
        list(APPEND properties IMPORTED_LOCATION_${config})
      endforeach()
    endif()
    set(changed FALSE)
    foreach(property IN LISTS properties)
      get_target_property(location ${target} ${property})
      if(NOT location OR NOT location MATCHES "\\.so(\\.[0-9.]+)?$")
        continue()
      endif()
      string(REGEX REPLACE "\\.so(\\.[0-9.]+)?$" ".a" archive "${location}")
      if(EXISTS "${archive}")
        set_target_properties(${target} PROPERTIES ${property} "${archive}")
        set(changed TRUE)
      endif()
    endforeach()
    if(changed)
      math(EXPR switched "${switched} + 1")
    endif()
  endforeach()
  message(STATUS "DOZOR_STATIC_DEPS: ${switched} imported libraries linked from static archives")
endfunction()

if(DOZOR_STATIC_DEPS)
  dozor_prefer_static_archives()
  # Static OpenSSL needs what its shared library brought along.
  set_property(TARGET OpenSSL::Crypto APPEND PROPERTY INTERFACE_LINK_LIBRARIES
               Threads::Threads ${CMAKE_DL_LIBS})
endif()
