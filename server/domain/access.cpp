#include "domain/access.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "domain/enum_spelling.hpp"

namespace dozor::server {
namespace {

constexpr enum_spelling::Table<UserRole, 3> kUserRoles = {{{UserRole::kAdmin, "admin"},
                                                           {UserRole::kEngineer, "engineer"},
                                                           {UserRole::kClient, "client"}}};
constexpr enum_spelling::Table<Access, 6> kAccess = {{{Access::kPublic, "public"},
                                                      {Access::kRead, "read"},
                                                      {Access::kStaffRead, "staff_read"},
                                                      {Access::kClientAction, "client_action"},
                                                      {Access::kWrite, "write"},
                                                      {Access::kAdmin, "admin"}}};
constexpr enum_spelling::Table<Via, 4> kVia = {{{Via::kApi, "api"},
                                                {Via::kCli, "cli"},
                                                {Via::kDashboard, "dashboard"},
                                                {Via::kServer, "server"}}};

}  // namespace

std::string_view ToString(UserRole role) { return enum_spelling::Spell(kUserRoles, role); }
std::optional<UserRole> ParseUserRole(std::string_view text) {
  return enum_spelling::Lookup(kUserRoles, text);
}
void to_json(nlohmann::json& out, UserRole value) { out = ToString(value); }
std::string_view ToString(Access access) { return enum_spelling::Spell(kAccess, access); }
std::string_view ToString(Via via) { return enum_spelling::Spell(kVia, via); }
std::optional<Via> ParseVia(std::string_view text) { return enum_spelling::Lookup(kVia, text); }

bool Caller::CanSeeOrg(int64_t org_id) const {
  switch (role) {
    case UserRole::kAdmin:
      return true;
    case UserRole::kEngineer:
      return std::binary_search(assigned_org_ids.begin(), assigned_org_ids.end(), org_id);
    case UserRole::kClient:
      return client_org_id && *client_org_id == org_id;
  }
  return false;
}

std::optional<std::vector<int64_t>> Caller::VisibleOrgIds() const {
  switch (role) {
    case UserRole::kAdmin:
      return std::nullopt;
    case UserRole::kEngineer:
      return assigned_org_ids;
    case UserRole::kClient:
      return client_org_id ? std::vector<int64_t>{*client_org_id} : std::vector<int64_t>{};
  }
  return std::vector<int64_t>{};
}

bool Allows(const Caller& caller, Access access) {
  const bool token_writes = caller.token_role != ApiRole::kViewer;
  switch (access) {
    case Access::kPublic:
    case Access::kRead:
      return true;
    case Access::kStaffRead:
      return caller.role != UserRole::kClient;
    case Access::kClientAction:
      return token_writes;
    case Access::kWrite:
      return token_writes && caller.role != UserRole::kClient;
    case Access::kAdmin:
      return caller.role == UserRole::kAdmin && caller.token_role == ApiRole::kAdmin;
  }
  return false;
}

}  // namespace dozor::server
