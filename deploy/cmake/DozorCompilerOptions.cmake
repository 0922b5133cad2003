# One INTERFACE target carries the language standard, warnings and sanitizer flags; every Dozor
# target links it so the whole tree is built the same way.
add_library(dozor_options INTERFACE)
add_library(dozor::options ALIAS dozor_options)
target_compile_features(dozor_options INTERFACE cxx_std_20)
set(CMAKE_CXX_EXTENSIONS OFF)
target_compile_options(dozor_options INTERFACE
  -Wall -Wextra -Wpedantic $<$<CXX_COMPILER_ID:GNU>:-Wshadow=local> -Wnon-virtual-dtor -Wold-style-cast -Wcast-align
  -Wunused -Woverloaded-virtual -Wimplicit-fallthrough)
if(WIN32)
  # <windows.h> without the rarely used headers whose macros collide with ordinary names
  # (nb30.h's DUPLICATE, rpc.h's interface: both names in the generated agent.pb.h) and without
  # min/max macros; the W functions and TCHAR as UTF-16. The COM headers that still define
  # `interface` are included only after the project's headers (platform/windows/win32_handles.hpp).
  target_compile_definitions(dozor_options INTERFACE WIN32_LEAN_AND_MEAN NOMINMAX UNICODE _UNICODE)
endif()
if(DOZOR_WERROR)
  target_compile_options(dozor_options INTERFACE -Werror)
endif()
if(DOZOR_SANITIZE)
  target_compile_options(dozor_options INTERFACE -fsanitize=address,undefined -fno-omit-frame-pointer -O1 -g)
  target_link_options(dozor_options INTERFACE -fsanitize=address,undefined)
endif()
if(DOZOR_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "DOZOR_FUZZ needs clang (libFuzzer): configure with -DCMAKE_CXX_COMPILER=clang++-14")
  endif()
  # Every library gets coverage instrumentation and the sanitizers; only the fuzz executables link
  # libFuzzer's main (-fsanitize=fuzzer, tests/fuzz/CMakeLists.txt).
  target_compile_options(dozor_options INTERFACE
    -fsanitize=address,undefined,fuzzer-no-link -fno-sanitize-recover=undefined
    -fno-omit-frame-pointer -gline-tables-only)
  target_link_options(dozor_options INTERFACE -fsanitize=address,undefined)
endif()
