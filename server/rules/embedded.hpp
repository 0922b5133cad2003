// Data compiled into the binary by CMake (deploy/cmake/EmbedTextFiles.cmake): the default rule
// pack (server/rules/pack/*.toml) and the rule dialect's function library for PostgreSQL
// (server/rules/portable/postgres_functions.sql).
#pragma once

#include <string_view>
#include <utility>
#include <vector>

namespace dozor::server::rules {

// (file name, contents), sorted by file name.
const std::vector<std::pair<std::string_view, std::string_view>>& BuiltinRuleFiles();
const std::vector<std::pair<std::string_view, std::string_view>>& PortableSqlFiles();

}  // namespace dozor::server::rules
