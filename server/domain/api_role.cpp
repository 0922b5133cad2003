#include "domain/api_role.hpp"

#include <nlohmann/json.hpp>

#include "domain/enum_spelling.hpp"

namespace dozor::server {
namespace {

constexpr enum_spelling::Table<ApiRole, 3> kRoles = {
    {{ApiRole::kAdmin, "admin"}, {ApiRole::kOperator, "operator"}, {ApiRole::kViewer, "viewer"}}};

}  // namespace

std::string_view ToString(ApiRole role) { return enum_spelling::Spell(kRoles, role); }
std::optional<ApiRole> ParseApiRole(std::string_view text) {
  return enum_spelling::Lookup(kRoles, text);
}

void to_json(nlohmann::json& out, ApiRole value) { out = ToString(value); }

}  // namespace dozor::server
