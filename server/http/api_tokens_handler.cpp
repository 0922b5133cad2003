// /api/v1/api-tokens: management API tokens. Each belongs to a user and acts with that user's
// role and scope, narrowed by the token's own role; engineers manage their own, admins all. Only a
// full credential (a login session or an admin-role token) may mint or list tokens, so a narrowed
// token can never make a wider one. The plaintext is returned once.
#include "dozor/common/crypto.hpp"
#include "http/auth.hpp"
#include "http/handlers.hpp"

namespace dozor::server::http {

namespace {

constexpr int64_t kMaxTtlDays = 3650;
constexpr size_t kMaxNameBytes = 200;

std::optional<ApiResponse> RefuseNarrowedCredential(const ApiRequest& request) {
  if (request.caller && request.caller->token_role != ApiRole::kAdmin) {
    return ErrorResponse(403, "forbidden",
                         "API tokens are managed with a login session or an admin-role token; "
                         "this token's role is '" +
                             std::string(ToString(request.caller->token_role)) + "'");
  }
  return std::nullopt;
}

// Admins (with a full credential) see and manage every token; others only their own.
bool SeesEveryToken(const ApiRequest& request) {
  return !request.caller || request.caller->role == UserRole::kAdmin;
}

nlohmann::json ApiTokenJson(const ApiToken& token, int64_t now_ms) {
  nlohmann::json out = {
      {"id", token.id}, {"name", token.name}, {"role", token.role}, {"hint", token.hint}};
  out["user_id"] = token.user_id ? nlohmann::json(*token.user_id) : nlohmann::json(nullptr);
  PutTime(out, "created_at", token.created_at_ms);
  PutTime(out, "expires_at", token.expires_at_ms);
  PutTime(out, "revoked_at", token.revoked_at_ms);
  out["state"] = CredentialState(token.revoked_at_ms, token.expires_at_ms, now_ms);
  return out;
}

ApiResponse ListApiTokens(ApiContext& context, const ApiRequest& request) {
  if (auto refused = RefuseNarrowedCredential(request)) {
    return std::move(*refused);
  }
  auto tokens = context.store.ApiTokens().ListApiTokens();
  if (!tokens.ok()) {
    return ErrorResponse(tokens.error());
  }
  ApiResponse response;
  response.body["api_tokens"] = nlohmann::json::array();
  for (const auto& token : *tokens) {
    if (!SeesEveryToken(request) && token.user_id != request.caller->user_id) continue;
    response.body["api_tokens"].push_back(ApiTokenJson(token, context.clock.NowMs()));
  }
  return response;
}

ApiResponse CreateApiToken(ApiContext& context, const ApiRequest& request) {
  if (auto refused = RefuseNarrowedCredential(request)) {
    return std::move(*refused);
  }
  auto body = ParseJsonObject(request.body);
  if (!body.ok()) {
    return ErrorResponse(body.error());
  }
  auto name = OptionalString(*body, "name");
  auto role = OptionalString(*body, "role");
  if (!name.ok()) {
    return ErrorResponse(name.error());
  }
  if (!role.ok()) {
    return ErrorResponse(role.error());
  }
  auto ttl_days = OptionalInt(*body, "ttl_days", 0, kMaxTtlDays);
  if (!ttl_days.ok()) {
    return ErrorResponse(ttl_days.error());
  }
  const std::string trimmed_name = Trimmed(name->value_or(""));
  if (trimmed_name.empty() || trimmed_name.size() > kMaxNameBytes) {
    return ErrorResponse(400, "invalid_argument", "name is required (1..200 bytes)");
  }
  const std::optional<ApiRole> parsed_role =
      role->has_value() ? ParseApiRole(**role) : std::nullopt;
  if (!parsed_role) {
    return ErrorResponse(400, "invalid_argument", "role must be one of admin, operator, viewer");
  }
  // The token's owner: the caller; an admin may name another user ("user": id or login).
  std::optional<int64_t> owner = request.caller ? request.caller->user_id : std::nullopt;
  auto user_field = OptionalString(*body, "user");
  if (!user_field.ok()) {
    return ErrorResponse(user_field.error());
  }
  if (user_field->has_value()) {
    if (!SeesEveryToken(request)) {
      return ErrorResponse(403, "forbidden", "only an admin makes API tokens for other users");
    }
    auto user = FindUser(context.store.Users(), **user_field);
    if (!user.ok()) {
      return ErrorResponse(user.error());
    }
    // What a client user does (a comment, "please verify", accepting a waiver) stands as the
    // client's own word: nobody else may hold a credential that speaks for them.
    if (user->role == UserRole::kClient && user->id != owner) {
      return ErrorResponse(403, "forbidden",
                           "API tokens of a client user are made only by that user");
    }
    owner = user->id;
  }
  auto plaintext = NewApiTokenPlaintext();
  if (!plaintext.ok()) {
    return ErrorResponse(plaintext.error());
  }
  std::optional<int64_t> expires_at_ms;
  if (ttl_days->value_or(0) > 0) {
    expires_at_ms = context.clock.NowMs() + **ttl_days * 86'400'000;
  }
  auto created = context.store.ApiTokens().CreateApiToken(
      trimmed_name, *parsed_role, Sha256Hex(*plaintext), plaintext->substr(0, kTokenHintLength),
      expires_at_ms, owner);
  if (!created.ok()) {
    return ErrorResponse(created.error());
  }
  ApiResponse response;
  response.status = 201;
  response.body = ApiTokenJson(*created, context.clock.NowMs());
  response.body["token"] = *plaintext;
  response.audit_object = "api token " + std::to_string(created->id);
  if (owner) {
    response.audit_object += " of user " + std::to_string(*owner);
  }
  return response;
}

ApiResponse RevokeApiToken(ApiContext& context, const ApiRequest& request) {
  auto id = PathId(request, "id");
  if (!id.ok()) {
    return ErrorResponse(id.error());
  }
  // A narrowed token may end itself (a leaked script token revoked with itself) but not the
  // owner's other, possibly wider, tokens.
  if (request.caller && request.caller->api_token_id != *id) {
    if (auto refused = RefuseNarrowedCredential(request)) {
      return std::move(*refused);
    }
  }
  if (auto revoked = context.store.ApiTokens().RevokeApiToken(*id, context.clock.NowMs());
      !revoked.ok()) {
    return ErrorResponse(revoked.error());
  }
  ApiResponse response;
  response.body = {{"id", *id}, {"revoked", true}};
  return response;
}

}  // namespace

void RegisterApiTokenRoutes(Router& router, ApiContext& context) {
  router.Add("GET", "/api/v1/api-tokens", Access::kStaffRead, Scope::List(),
             [&context](ApiRequest& request) { return ListApiTokens(context, request); });
  router.Add("POST", "/api/v1/api-tokens", Access::kWrite, Scope::CallerOnly(),
             [&context](ApiRequest& request) { return CreateApiToken(context, request); });
  router.Add("POST", "/api/v1/api-tokens/{id}/revoke", Access::kWrite, Scope::OfApiToken(),
             [&context](ApiRequest& request) { return RevokeApiToken(context, request); });
}

}  // namespace dozor::server::http
