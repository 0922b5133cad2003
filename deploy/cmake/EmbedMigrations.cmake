# Turns a backend's migrations/NNN_name.sql into a C++ table of {version, name, sql}: the function
# FUNCTION (default Migrations) in namespace dozor::server, declared in HEADER (default
# store/sqlite/migrations.hpp).
if(NOT FUNCTION)
  set(FUNCTION Migrations)
endif()
if(NOT HEADER)
  set(HEADER store/sqlite/migrations.hpp)
endif()
file(GLOB files "${DIR}/*.sql")
list(SORT files)
set(body "")
foreach(f IN LISTS files)
  get_filename_component(name "${f}" NAME_WE)
  string(REGEX MATCH "^[0-9]+" version "${name}")
  # "008" as a C++ literal is an invalid octal number (and "010" would be 8): strip leading zeros.
  math(EXPR version "${version}" OUTPUT_FORMAT DECIMAL)
  file(READ "${f}" sql)
  # "-- dozor:include relative/path.sql" on a line of its own: that file's text instead, so a
  # migration can install SQL kept elsewhere as the one source (the rule function library).
  string(REGEX MATCHALL "-- dozor:include [^\n]+" includes "${sql}")
  foreach(line IN LISTS includes)
    string(REPLACE "-- dozor:include " "" included "${line}")
    string(STRIP "${included}" included)
    file(READ "${DIR}/${included}" included_sql)
    string(REPLACE "${line}" "${included_sql}" sql "${sql}")
  endforeach()
  string(APPEND body "  {${version}, \"${name}\", R\"dozorsql(${sql})dozorsql\"},\n")
endforeach()
file(WRITE "${OUT}.tmp" "// Generated from the migrations/*.sql beside ${HEADER}. Do not edit.\n#include \"${HEADER}\"\n\nnamespace dozor::server {\n\nconst std::vector<Migration>& ${FUNCTION}() {\n  static const std::vector<Migration> kMigrations = {\n${body}  };\n  return kMigrations;\n}\n\n}  // namespace dozor::server\n")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
