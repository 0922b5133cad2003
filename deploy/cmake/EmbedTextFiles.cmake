# Turns every file matching GLOB in DIR into a C++ table of {file name, contents}, so data the
# binary cannot run without (the default rule pack, the rule fact views) is never missing at
# deploy time. Usage: cmake -DOUT=x.cpp -DDIR=d -DGLOB=*.toml -DNAMESPACE=ns -DFUNCTION=Fn -P this
file(GLOB files "${DIR}/${GLOB}")
list(SORT files)
set(body "")
foreach(f IN LISTS files)
  get_filename_component(name "${f}" NAME)
  file(READ "${f}" text)
  string(FIND "${text}" ")dozortext\"" clash)
  if(NOT clash EQUAL -1)
    message(FATAL_ERROR "${f} contains the raw-string delimiter )dozortext\"")
  endif()
  string(APPEND body "      {\"${name}\", R\"dozortext(${text})dozortext\"},\n")
endforeach()
file(WRITE "${OUT}.tmp" "// Generated from ${DIR}/${GLOB}. Do not edit.
#include <string_view>
#include <utility>
#include <vector>

namespace ${NAMESPACE} {

const std::vector<std::pair<std::string_view, std::string_view>>& ${FUNCTION}() {
  static const std::vector<std::pair<std::string_view, std::string_view>> kFiles = {
${body}  };
  return kFiles;
}

}  // namespace ${NAMESPACE}
")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
