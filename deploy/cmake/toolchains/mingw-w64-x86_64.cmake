# Cross-compiles for 64-bit Windows with Debian's MinGW-w64 (g++-mingw-w64-x86-64-posix).
#
#   prefix=$(deploy/windows/build-deps.sh)
#   cmake -S . -B build-windows -G Ninja \
#         -DCMAKE_TOOLCHAIN_FILE=deploy/cmake/toolchains/mingw-w64-x86_64.cmake \
#         -DDOZOR_WINDOWS_DEPS_PREFIX="$prefix"
#
# DOZOR_WINDOWS_DEPS_PREFIX (or the environment variable of that name) is the prefix that
# deploy/windows/build-deps.sh fills with static Windows builds of gRPC, protobuf, abseil, OpenSSL,
# c-ares, re2, SQLite, fmt and spdlog (and copies of the header-only libraries). Libraries, headers
# and CMake packages are looked for only there and in the MinGW sysroot, never on the build host;
# programs (protoc, grpc_cpp_plugin) only on the host, since they run during the build.

set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR AMD64)

set(DOZOR_MINGW_TRIPLET x86_64-w64-mingw32)
set(DOZOR_MINGW_SYSROOT /usr/${DOZOR_MINGW_TRIPLET})

# The -posix variants: their libstdc++ has std::thread, std::mutex and std::condition_variable
# (on winpthreads), which gRPC, abseil and the agent use. The -win32 ones have none of them.
set(CMAKE_C_COMPILER ${DOZOR_MINGW_TRIPLET}-gcc-posix)
set(CMAKE_CXX_COMPILER ${DOZOR_MINGW_TRIPLET}-g++-posix)
# CMake cannot guess the binutils' prefix from a compiler named *-posix and would fall back to the
# host's ar and ranlib, which do not write the symbol index of COFF archives.
find_program(CMAKE_AR ${DOZOR_MINGW_TRIPLET}-ar REQUIRED)
find_program(CMAKE_RANLIB ${DOZOR_MINGW_TRIPLET}-ranlib REQUIRED)
find_program(CMAKE_RC_COMPILER ${DOZOR_MINGW_TRIPLET}-windres REQUIRED)

# One self-contained .exe: libgcc, libstdc++ and winpthread linked in, so no MinGW DLL has to be
# shipped next to it (the dependencies in the prefix are static archives too).
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "-static")
set(CMAKE_MODULE_LINKER_FLAGS_INIT "-static")

if(NOT DOZOR_WINDOWS_DEPS_PREFIX AND DEFINED ENV{DOZOR_WINDOWS_DEPS_PREFIX})
  set(DOZOR_WINDOWS_DEPS_PREFIX "$ENV{DOZOR_WINDOWS_DEPS_PREFIX}")
endif()
# try_compile() projects read this file again without the caller's cache: hand the prefix on.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES DOZOR_WINDOWS_DEPS_PREFIX)

# The prefix first, so what build-deps.sh built wins over anything of the same name in the sysroot.
set(CMAKE_FIND_ROOT_PATH ${DOZOR_WINDOWS_DEPS_PREFIX} ${DOZOR_MINGW_SYSROOT})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# Windows programs built here (the tests under CTest, try_run) run on the build host under Wine:
# the wine package (wine64 alone puts no command on PATH). Wine's own diagnostics are silenced;
# WINEPREFIX is the caller's (default ~/.wine, set up on first use, 20-40 s).
find_program(DOZOR_WINE wine)
if(DOZOR_WINE)
  set(CMAKE_CROSSCOMPILING_EMULATOR /usr/bin/env WINEDEBUG=-all ${DOZOR_WINE})
endif()

# pkg-config would otherwise answer with the host's (Linux) libraries.
if(DOZOR_WINDOWS_DEPS_PREFIX)
  set(ENV{PKG_CONFIG_LIBDIR}
      "${DOZOR_WINDOWS_DEPS_PREFIX}/lib/pkgconfig:${DOZOR_WINDOWS_DEPS_PREFIX}/share/pkgconfig")
else()
  set(ENV{PKG_CONFIG_LIBDIR} "${DOZOR_MINGW_SYSROOT}/lib/pkgconfig")
endif()

# Static archives wherever a find module can choose. zlib comes from Debian's libz-mingw-w64-dev,
# whose sysroot also holds the import library libz.dll.a that FindZLIB would prefer (and the .exe
# would then need zlib1.dll): name the archive.
set(OPENSSL_USE_STATIC_LIBS TRUE)
set(ZLIB_USE_STATIC_LIBS ON)
set(ZLIB_LIBRARY "${DOZOR_MINGW_SYSROOT}/lib/libz.a" CACHE FILEPATH "static zlib (libz-mingw-w64-dev)")
set(ZLIB_INCLUDE_DIR "${DOZOR_MINGW_SYSROOT}/include" CACHE PATH "zlib headers (libz-mingw-w64-dev)")
set(Protobuf_USE_STATIC_LIBS ON)
