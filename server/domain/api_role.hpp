// Roles of management-API tokens.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <optional>
#include <string_view>

namespace dozor::server {

// admin: everything; operator: everything but API-token management; viewer: read only.
enum class ApiRole { kAdmin, kOperator, kViewer };

std::string_view ToString(ApiRole role);
std::optional<ApiRole> ParseApiRole(std::string_view text);

// JSON spells each enum as ToString does, so an enum never reaches JSON as a number.
void to_json(nlohmann::json& out, ApiRole value);

}  // namespace dozor::server
