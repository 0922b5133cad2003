// /api/v1/users: people's accounts, managed by admins. Passwords are set by their owner or reset by
// an admin; a password is never returned or logged, only its argon2id hash is stored.
#include "http/handlers.hpp"
#include "http/password.hpp"

namespace dozor::server::http {

namespace {

constexpr size_t kMaxLoginBytes = 64;

// Logins are typed at a prompt and appear in logs and the audit log: letters, digits and . _ - @
// (any script: Cyrillic logins are fine), no spaces or control characters.
Status CheckLogin(std::string_view login) {
  if (login.empty() || login.size() > kMaxLoginBytes || !IsValidUtf8(login)) {
    return MakeError(ErrorCode::kInvalidArgument, "login must be 1-64 bytes of UTF-8");
  }
  // Paths take an id or a login and try the id first.
  if (login.find_first_not_of("0123456789") == std::string_view::npos) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "login cannot be only digits: it would read as an account id");
  }
  for (const char c : login) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x80 && !std::isalnum(u) && c != '.' && c != '_' && c != '-' && c != '@') {
      return MakeError(ErrorCode::kInvalidArgument,
                       "login may hold letters, digits and . _ - @ only");
    }
  }
  return OkStatus();
}

ApiResponse ListUsers(ApiContext& context) {
  auto users = context.store.Users().ListUsers();
  if (!users.ok()) {
    return ErrorResponse(users.error());
  }
  ApiResponse response;
  response.body["users"] = nlohmann::json::array();
  for (const auto& user : *users) {
    response.body["users"].push_back(UserJson(user));
  }
  return response;
}

ApiResponse CreateUser(ApiContext& context, const ApiRequest& request) {
  auto body = ParseJsonObject(request.body);
  if (!body.ok()) {
    return ErrorResponse(body.error());
  }
  NewUser user;
  auto login = OptionalString(*body, "login");
  auto display_name = OptionalString(*body, "display_name");
  auto role = OptionalString(*body, "role");
  auto org = OptionalString(*body, "org");
  auto password = OptionalString(*body, "password");
  for (const auto* field : {&login, &display_name, &role, &org, &password}) {
    if (!field->ok()) {
      return ErrorResponse(field->error());
    }
  }
  user.login = Trimmed(login->value_or(""));
  if (auto valid = CheckLogin(user.login); !valid.ok()) {
    return ErrorResponse(valid.error());
  }
  user.display_name = Trimmed(display_name->value_or(user.login));
  const auto parsed_role = ParseUserRole(role->value_or(""));
  if (!parsed_role) {
    return ErrorResponse(400, "invalid_argument", "role must be one of admin, engineer, client");
  }
  user.role = *parsed_role;
  if (org->has_value()) {
    auto found = FindOrg(context.store.Organizations(), **org);
    if (!found.ok()) {
      return ErrorResponse(found.error());
    }
    user.org_id = found->id;
  }
  for (const auto& [key, target] : std::initializer_list<std::pair<const char*, std::string*>>{
           {"email", &user.email},
           {"telegram_chat_id", &user.telegram_chat_id},
           {"language", &user.language},
           {"time_zone", &user.time_zone}}) {
    auto value = OptionalString(*body, key);
    if (!value.ok()) {
      return ErrorResponse(value.error());
    }
    if (value->has_value()) *target = Trimmed(**value);
  }
  if (password->has_value()) {
    if (auto valid = CheckNewPassword(**password, user.login); !valid.ok()) {
      return ErrorResponse(valid.error());
    }
    auto hash = HashPassword(**password);
    if (!hash.ok()) {
      return ErrorResponse(hash.error());
    }
    user.password_hash = std::move(hash).value();
  }
  auto created = context.store.Users().CreateUser(user, context.clock.NowMs());
  if (!created.ok()) {
    return ErrorResponse(created.error());
  }
  ApiResponse response;
  response.status = 201;
  response.body = UserJson(*created);
  response.audit_object = "user " + std::to_string(created->id) + " (" + created->login + ")";
  response.audit_org_id = created->org_id;
  return response;
}

ApiResponse ShowUser(ApiContext& context, const ApiRequest& request) {
  auto user = FindUser(context.store.Users(), request.params.at("user"));
  if (!user.ok()) {
    return ErrorResponse(user.error());
  }
  ApiResponse response;
  response.body = UserJson(*user);
  auto assignments = context.store.Users().ListAssignments(std::nullopt);
  if (!assignments.ok()) {
    return ErrorResponse(assignments.error());
  }
  response.body["assignments"] = nlohmann::json::array();
  for (const auto& a : *assignments) {
    if (a.user_id != user->id) continue;
    response.body["assignments"].push_back(
        {{"org_id", a.org_id}, {"kind", ToString(a.kind)}, {"specialty", a.specialty}});
  }
  return response;
}

ApiResponse PatchUser(ApiContext& context, const ApiRequest& request) {
  auto body = ParseJsonObject(request.body);
  if (!body.ok()) {
    return ErrorResponse(body.error());
  }
  auto patch = ParseUserPatch(*body, /*admin=*/true);
  if (!patch.ok()) {
    return ErrorResponse(patch.error());
  }
  auto user = FindUser(context.store.Users(), request.params.at("user"));
  if (!user.ok()) {
    return ErrorResponse(user.error());
  }
  if (patch->enabled && !*patch->enabled && request.caller && request.caller->user_id == user->id) {
    return ErrorResponse(400, "invalid_argument", "you cannot disable your own account");
  }
  // So that at least one admin always remains: the one making the change.
  if (patch->role && *patch->role != user->role && request.caller &&
      request.caller->user_id == user->id) {
    return ErrorResponse(400, "invalid_argument", "you cannot change your own role");
  }
  auto updated = context.store.Users().UpdateUser(user->id, *patch, context.clock.NowMs());
  if (!updated.ok()) {
    return ErrorResponse(updated.error());
  }
  ApiResponse response;
  response.body = UserJson(*updated);
  response.audit_object = "user " + std::to_string(user->id) + " (" + user->login + ")";
  response.audit_detail = "fields: ";
  for (const auto& [key, value] : body->items()) response.audit_detail += key + " ";
  return response;
}

ApiResponse ResetPassword(ApiContext& context, const ApiRequest& request) {
  auto body = ParseJsonObject(request.body);
  if (!body.ok()) {
    return ErrorResponse(body.error());
  }
  auto password = OptionalString(*body, "password");
  if (!password.ok()) {
    return ErrorResponse(password.error());
  }
  if (!password->has_value()) {
    return ErrorResponse(400, "invalid_argument", "field 'password' is required");
  }
  auto user = FindUser(context.store.Users(), request.params.at("user"));
  if (!user.ok()) {
    return ErrorResponse(user.error());
  }
  if (auto valid = CheckNewPassword(**password, user->login); !valid.ok()) {
    return ErrorResponse(valid.error());
  }
  auto hash = HashPassword(**password);
  if (!hash.ok()) {
    return ErrorResponse(hash.error());
  }
  // An admin reset ends every session of the account, and is what an admin does when an account
  // may be in someone else's hands: its API tokens go too, or a token minted with a stolen
  // session would outlive the reset.
  auto revoked_tokens = context.store.Users().SetPasswordHash(
      user->id, *hash, context.clock.NowMs(), std::nullopt, true);
  if (!revoked_tokens.ok()) {
    return ErrorResponse(revoked_tokens.error());
  }
  ApiResponse response;
  response.body = {
      {"id", user->id}, {"password_set", true}, {"api_tokens_revoked", *revoked_tokens}};
  response.audit_detail = std::to_string(*revoked_tokens) + " API tokens revoked";
  response.audit_object = "user " + std::to_string(user->id) + " (" + user->login + ")";
  return response;
}

}  // namespace

// `admin`: an admin editing an account may also enable or disable it and change its role.
Result<UserPatch> ParseUserPatch(const nlohmann::json& body, bool admin) {
  UserPatch patch;
  for (const auto& [key, value] : body.items()) {
    if (key != "display_name" && key != "email" && key != "telegram_chat_id" && key != "language" &&
        key != "time_zone" && key != "quiet_hours" && key != "monthly_report" &&
        !(admin && (key == "enabled" || key == "role"))) {
      return MakeError(ErrorCode::kInvalidArgument, "field '" + key + "' cannot be changed here");
    }
  }
  DOZOR_ASSIGN_OR_RETURN(patch.quiet_hours, OptionalString(body, "quiet_hours"));
  if (patch.quiet_hours) patch.quiet_hours = Trimmed(*patch.quiet_hours);
  if (const auto it = body.find("monthly_report"); it != body.end() && !it->is_null()) {
    if (!it->is_boolean()) {
      return MakeError(ErrorCode::kInvalidArgument, "field 'monthly_report' must be true or false");
    }
    patch.monthly_report = it->get<bool>();
  }
  DOZOR_ASSIGN_OR_RETURN(patch.display_name, OptionalString(body, "display_name"));
  DOZOR_ASSIGN_OR_RETURN(patch.email, OptionalString(body, "email"));
  DOZOR_ASSIGN_OR_RETURN(patch.telegram_chat_id, OptionalString(body, "telegram_chat_id"));
  DOZOR_ASSIGN_OR_RETURN(patch.language, OptionalString(body, "language"));
  DOZOR_ASSIGN_OR_RETURN(patch.time_zone, OptionalString(body, "time_zone"));
  for (auto* field : {&patch.display_name, &patch.email, &patch.telegram_chat_id, &patch.language,
                      &patch.time_zone}) {
    if (*field) *field = Trimmed(**field);
  }
  if (const auto it = body.find("enabled"); it != body.end() && !it->is_null()) {
    if (!it->is_boolean()) {
      return MakeError(ErrorCode::kInvalidArgument, "field 'enabled' must be true or false");
    }
    patch.enabled = it->get<bool>();
  }
  if (const auto it = body.find("role"); it != body.end() && !it->is_null()) {
    const auto role = it->is_string() ? ParseUserRole(it->get<std::string>()) : std::nullopt;
    if (!role || *role == UserRole::kClient) {
      return MakeError(ErrorCode::kInvalidArgument, "field 'role' must be 'admin' or 'engineer'");
    }
    patch.role = *role;
  }
  return patch;
}

Result<User> FindUser(UserStore& users, std::string_view key) {
  if (key.empty() || key.size() > 200) {
    return MakeError(ErrorCode::kNotFound, "user not found");
  }
  const bool digits =
      std::all_of(key.begin(), key.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (digits && key.size() < 18) {
    auto by_id = users.GetUser(std::stoll(std::string(key)));
    if (by_id.ok() || by_id.error().code != ErrorCode::kNotFound) {
      return by_id;
    }
  }
  auto by_login = users.FindUserByLogin(key);
  if (!by_login.ok() && by_login.error().code == ErrorCode::kNotFound) {
    return MakeError(ErrorCode::kNotFound, "user '" + std::string(key) + "' not found");
  }
  return by_login;
}

nlohmann::json UserJson(const User& user) {
  nlohmann::json out = {{"id", user.id},
                        {"login", user.login},
                        {"display_name", user.display_name},
                        {"email", user.email},
                        {"telegram_chat_id", user.telegram_chat_id},
                        {"language", user.language},
                        {"time_zone", user.time_zone},
                        {"quiet_hours", user.quiet_hours},
                        {"monthly_report", user.monthly_report},
                        {"role", user.role},
                        {"enabled", user.enabled},
                        {"has_password", user.has_password}};
  out["org_id"] = user.org_id ? nlohmann::json(*user.org_id) : nlohmann::json(nullptr);
  PutTime(out, "created_at", user.created_at_ms);
  PutTime(out, "password_changed_at", user.password_changed_at_ms);
  return out;
}

void RegisterUserRoutes(Router& router, ApiContext& context) {
  router.Add("GET", "/api/v1/users", Access::kAdmin, Scope::CallerOnly(),
             [&context](ApiRequest&) { return ListUsers(context); });
  // Hashing a password takes tens of milliseconds: the slow pool.
  router.Add(
      "POST", "/api/v1/users", Access::kAdmin, Scope::CallerOnly(),
      [&context](ApiRequest& request) { return CreateUser(context, request); },
      RouteLimits{.cost = RouteCost::kSlow});
  router.Add("GET", "/api/v1/users/{user}", Access::kAdmin, Scope::CallerOnly(),
             [&context](ApiRequest& request) { return ShowUser(context, request); });
  router.Add("PATCH", "/api/v1/users/{user}", Access::kAdmin, Scope::CallerOnly(),
             [&context](ApiRequest& request) { return PatchUser(context, request); });
  router.Add(
      "POST", "/api/v1/users/{user}/password", Access::kAdmin, Scope::CallerOnly(),
      [&context](ApiRequest& request) { return ResetPassword(context, request); },
      RouteLimits{.cost = RouteCost::kSlow});
}

}  // namespace dozor::server::http
