// Who may do what: the roles of people (admin, engineer, client), what a route does (Access), and
// the caller a request was authenticated as, with the organisations it may see. Pure decisions;
// the HTTP layer authenticates and the router declares each route's Access and scope.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "domain/api_role.hpp"

namespace dozor::server {

// admin: everything. engineer: the organisations they are assigned to (primary or backup).
// client: one organisation, read-only plus the client's own actions (comment, ask to verify a
// fix, accept a waiver).
enum class UserRole { kAdmin, kEngineer, kClient };

std::string_view ToString(UserRole role);
std::optional<UserRole> ParseUserRole(std::string_view text);
void to_json(nlohmann::json& out, UserRole value);

// What a route does, from the least to the most privileged.
//   kPublic        no authentication (health, installer downloads, login)
//   kRead          any authenticated caller, within its scope
//   kStaffRead     admins and engineers only (client notes, enrollment tokens)
//   kClientAction  what a client may do besides reading: comment, request verification
//   kWrite         changes engineers make: acknowledge, waive, contract moves, tokens, commands
//   kAdmin         accounts, assignments, API tokens of others, the audit log
enum class Access { kPublic, kRead, kStaffRead, kClientAction, kWrite, kAdmin };

std::string_view ToString(Access access);

// How the request was made, recorded in the audit log.
enum class Via { kApi, kCli, kDashboard, kServer };
std::string_view ToString(Via via);
std::optional<Via> ParseVia(std::string_view text);

struct Caller {
  // The account; nullopt for an API token made before accounts existed (it acts as an admin,
  // narrowed by its token role) and for the admin token file's token.
  std::optional<int64_t> user_id;
  std::string name;  // login, or the API token's name when there is no account
  UserRole role = UserRole::kClient;
  // The API token's own role narrows the account's rights: admin = all the account may,
  // operator = no kAdmin routes, viewer = read only. Sessions are not narrowed (kAdmin).
  ApiRole token_role = ApiRole::kViewer;
  std::optional<int64_t> client_org_id;   // role kClient: its organisation
  std::vector<int64_t> assigned_org_ids;  // role kEngineer: sorted
  Via via = Via::kApi;
  // Set when authenticated by a session (cookie or dozorctl login).
  std::optional<int64_t> session_id;
  std::optional<int64_t> api_token_id;
  std::string language = "en";

  // Every organisation (admins); otherwise only those the role gives.
  [[nodiscard]] bool SeesAllOrgs() const { return role == UserRole::kAdmin; }
  [[nodiscard]] bool CanSeeOrg(int64_t org_id) const;
  // The organisations the caller sees; nullopt = all.
  [[nodiscard]] std::optional<std::vector<int64_t>> VisibleOrgIds() const;
};

// True if `caller` may call a route needing `access` (scope is checked separately).
bool Allows(const Caller& caller, Access access);

}  // namespace dozor::server
