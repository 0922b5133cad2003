# One INTERFACE target carries the language standard, warnings and sanitizer flags; every Dozor
# target links it so the whole tree is built the same way.
add_library(dozor_options INTERFACE)
add_library(dozor::options ALIAS dozor_options)
target_compile_features(dozor_options INTERFACE cxx_std_20)
set(CMAKE_CXX_EXTENSIONS OFF)
target_compile_options(dozor_options INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow=local -Wnon-virtual-dtor -Wold-style-cast -Wcast-align
  -Wunused -Woverloaded-virtual -Wimplicit-fallthrough)
if(DOZOR_WERROR)
  target_compile_options(dozor_options INTERFACE -Werror)
endif()
if(DOZOR_SANITIZE)
  target_compile_options(dozor_options INTERFACE -fsanitize=address,undefined -fno-omit-frame-pointer -O1 -g)
  target_link_options(dozor_options INTERFACE -fsanitize=address,undefined)
endif()
