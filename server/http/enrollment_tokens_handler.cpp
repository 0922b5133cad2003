// /api/v1/orgs/{org}/tokens and /api/v1/tokens: enrollment tokens that agents trade for an
// identity. The plaintext is returned once at creation; only its hash is stored, and the key that
// verifies one-shot files made with it, wrapped (store/import_store.hpp).
#include "dozor/common/crypto.hpp"
#include "http/auth.hpp"
#include "http/handlers.hpp"

namespace dozor::server::http {

namespace {

constexpr int64_t kDefaultTtlHours = 72;
constexpr int64_t kMaxTtlHours = 8760;
constexpr size_t kMaxLabelBytes = 200;
// A token is for one client's machines: 100 covers all but the largest client (who gets an explicit
// limit), while a leaked install command cannot enrol thousands of hosts. 0 asks for no limit.
constexpr int64_t kDefaultMaxUses = 100;
constexpr int64_t kMaxMaxUses = 100'000;

nlohmann::json TokenJson(const EnrollmentToken& token, int64_t now_ms) {
  nlohmann::json out = {{"id", token.id},       {"org_id", token.org_id}, {"org", token.org_name},
                        {"label", token.label}, {"hint", token.hint},     {"uses", token.uses}};
  out["max_uses"] = token.max_uses ? nlohmann::json(*token.max_uses) : nlohmann::json(nullptr);
  out["signs_imports"] = token.signs_imports;
  PutTime(out, "created_at", token.created_at_ms);
  PutTime(out, "expires_at", token.expires_at_ms);
  PutTime(out, "revoked_at", token.revoked_at_ms);
  out["state"] = CredentialState(token.revoked_at_ms, token.expires_at_ms, now_ms);
  return out;
}

ApiResponse CreateToken(ApiContext& context, const ApiRequest& request) {
  auto body = ParseJsonObject(request.body.empty() ? std::string_view("{}") : request.body);
  if (!body.ok()) {
    return ErrorResponse(body.error());
  }
  auto label = OptionalString(*body, "label");
  if (!label.ok()) {
    return ErrorResponse(label.error());
  }
  auto ttl_hours = OptionalInt(*body, "ttl_hours", 0, kMaxTtlHours);
  if (!ttl_hours.ok()) {
    return ErrorResponse(ttl_hours.error());
  }
  auto max_uses = OptionalInt(*body, "max_uses", 0, kMaxMaxUses);
  if (!max_uses.ok()) {
    return ErrorResponse(max_uses.error());
  }
  const std::string trimmed_label = Trimmed(label->value_or(""));
  if (trimmed_label.size() > kMaxLabelBytes) {
    return ErrorResponse(400, "invalid_argument", "label must be at most 200 bytes");
  }
  auto org = FindOrg(context.store.Organizations(), request.params.at("org"));
  if (!org.ok()) {
    return ErrorResponse(org.error());
  }
  auto plaintext = NewEnrollmentTokenPlaintext();
  if (!plaintext.ok()) {
    return ErrorResponse(plaintext.error());
  }
  const int64_t now_ms = context.clock.NowMs();
  const int64_t hours = ttl_hours->value_or(kDefaultTtlHours);
  NewEnrollmentToken token;
  token.org_id = org->id;
  token.token_hash = Sha256Hex(*plaintext);
  token.hint = plaintext->substr(0, kTokenHintLength);
  token.label = trimmed_label;
  if (hours > 0) {
    token.expires_at_ms = now_ms + hours * 3600 * 1000;
  }
  if (const int64_t uses = max_uses->value_or(kDefaultMaxUses); uses > 0) {
    token.max_uses = uses;
  }
  auto created = context.store.Agents().CreateEnrollmentToken(token);
  if (!created.ok()) {
    return ErrorResponse(created.error());
  }
  // The only moment the server holds the plaintext: keep the token's import key (wrapped) now.
  // A server without an import-wrap key issues tokens that cannot sign imports (signs_imports).
  if (context.import_keys != nullptr) {
    if (auto saved = SaveImportKeyForNewToken(context.store.Imports(), *context.import_keys,
                                              {org->id, created->id}, *plaintext, now_ms);
        !saved.ok()) {
      // Nobody will ever see this token's plaintext: revoke it rather than leave it half made.
      (void)context.store.Agents().RevokeEnrollmentToken(created->id, now_ms);
      return ErrorResponse(saved.error());
    }
    created->signs_imports = true;
  }
  ApiResponse response;
  response.status = 201;
  response.body = TokenJson(*created, now_ms);
  response.body["token"] = *plaintext;
  const std::string server =
      context.grpc_public_address.empty() ? "SERVER:PORT" : context.grpc_public_address;
  response.body["enroll_command"] =
      "dozor-agent enroll --server " + server + " --token " + *plaintext;
  // The one-line install (docs/install-agent.md): only when the server publishes its CA and
  // knows the URL clients reach it by; otherwise the enroll command above is the way.
  if (auto install = InstallCommand(context.install, context.grpc_public_address, *plaintext)) {
    response.body["install_command"] = *install;
  }
  // The Windows one beside it, when the server publishes an MSI.
  if (auto manifest = PackageManifest(context.install); manifest.ok()) {
    if (auto windows = WindowsInstallCommand(context.install, context.grpc_public_address,
                                             *plaintext, *manifest)) {
      response.body["install_command_windows"] = *windows;
    }
  }
  return response;
}

ApiResponse ListTokens(ApiContext& context, const ApiRequest& request) {
  auto org_id = ScopedOrgQuery(context, request);
  if (!org_id.ok()) {
    return ErrorResponse(org_id.error());
  }
  auto tokens = context.store.Agents().ListEnrollmentTokens(*org_id);
  if (!tokens.ok()) {
    return ErrorResponse(tokens.error());
  }
  const int64_t now_ms = context.clock.NowMs();
  ApiResponse response;
  response.body["tokens"] = nlohmann::json::array();
  for (const auto& token : *tokens) {
    if (!CallerSees(request, token.org_id)) continue;
    response.body["tokens"].push_back(TokenJson(token, now_ms));
  }
  return response;
}

ApiResponse RevokeToken(ApiContext& context, const ApiRequest& request) {
  auto id = PathId(request, "id");
  if (!id.ok()) {
    return ErrorResponse(id.error());
  }
  if (auto revoked = context.store.Agents().RevokeEnrollmentToken(*id, context.clock.NowMs());
      !revoked.ok()) {
    return ErrorResponse(revoked.error());
  }
  ApiResponse response;
  response.body = {{"id", *id}, {"revoked", true}};
  return response;
}

}  // namespace

void RegisterEnrollmentTokenRoutes(Router& router, ApiContext& context) {
  router.Add("POST", "/api/v1/orgs/{org}/tokens", Access::kWrite, Scope::Org(),
             [&context](ApiRequest& request) { return CreateToken(context, request); });
  // Enrollment tokens are the engineers' tool for installing agents: clients do not see them.
  router.Add("GET", "/api/v1/tokens", Access::kStaffRead, Scope::List(),
             [&context](ApiRequest& request) { return ListTokens(context, request); });
  router.Add("POST", "/api/v1/tokens/{id}/revoke", Access::kWrite, Scope::OfEnrollmentToken(),
             [&context](ApiRequest& request) { return RevokeToken(context, request); });
}

}  // namespace dozor::server::http
