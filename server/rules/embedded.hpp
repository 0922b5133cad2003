// Data compiled into the binary by CMake (deploy/cmake/EmbedTextFiles.cmake): the default rule
// pack (server/rules/pack/*.toml) and the fact views (server/rules/fact_views.sql).
#pragma once

#include <string_view>
#include <utility>
#include <vector>

namespace dozor::server::rules {

// (file name, contents), sorted by file name.
const std::vector<std::pair<std::string_view, std::string_view>>& BuiltinRuleFiles();
const std::vector<std::pair<std::string_view, std::string_view>>& FactViewFiles();

}  // namespace dozor::server::rules
