#include "http/auth.hpp"

#include "dozor/common/crypto.hpp"
#include "dozor/common/files.hpp"

namespace dozor::server::http {

namespace {
// Long enough for any token we issue; longer headers are rejected before hashing.
constexpr size_t kMaxTokenLength = 256;
}  // namespace

Result<std::string> NewApiTokenPlaintext() {
  DOZOR_ASSIGN_OR_RETURN(std::string random, RandomHex(32));
  return std::string(kApiTokenPrefix) + random;
}

Result<std::string> NewEnrollmentTokenPlaintext() {
  DOZOR_ASSIGN_OR_RETURN(std::string random, RandomHex(32));
  return std::string(kEnrollmentTokenPrefix) + random;
}

bool RoleAllows(ApiRole role, Access access) {
  switch (access) {
    case Access::kPublic:
    case Access::kRead:
      return true;
    case Access::kWrite:
      return role == ApiRole::kAdmin || role == ApiRole::kOperator;
    case Access::kAdmin:
      return role == ApiRole::kAdmin;
  }
  return false;
}

Result<ApiToken> Authenticate(ApiTokenStore& store, std::string_view authorization_header,
                              const Clock& clock) {
  constexpr std::string_view kScheme = "Bearer ";
  if (authorization_header.empty()) {
    return MakeError(ErrorCode::kPermissionDenied, "missing Authorization: Bearer token");
  }
  if (authorization_header.size() <= kScheme.size() ||
      authorization_header.substr(0, kScheme.size()) != kScheme) {
    return MakeError(ErrorCode::kPermissionDenied, "Authorization header must be 'Bearer <token>'");
  }
  const std::string token = Trimmed(authorization_header.substr(kScheme.size()));
  if (token.empty() || token.size() > kMaxTokenLength) {
    return MakeError(ErrorCode::kPermissionDenied, "unknown API token");
  }
  auto result = store.AuthenticateApiToken(Sha256Hex(token), clock.NowMs());
  if (!result.ok() && result.error().code == ErrorCode::kNotFound) {
    return MakeError(ErrorCode::kPermissionDenied, "unknown API token");
  }
  return result;
}

Result<std::optional<std::string>> BootstrapAdminToken(ApiTokenStore& store,
                                                       const std::filesystem::path& token_file,
                                                       const Clock& clock) {
  (void)clock;  // the bootstrap token never expires; the clock is kept for symmetry with callers
  DOZOR_ASSIGN_OR_RETURN(const int64_t count, store.CountApiTokens());
  if (count > 0) {
    return std::optional<std::string>();
  }
  DOZOR_ASSIGN_OR_RETURN(std::string token, IssueAdminToken(store, token_file, "bootstrap-admin"));
  return std::optional<std::string>(std::move(token));
}

Result<std::string> IssueAdminToken(ApiTokenStore& store, const std::filesystem::path& token_file,
                                    std::string_view name) {
  DOZOR_ASSIGN_OR_RETURN(std::string token, NewApiTokenPlaintext());
  // Write the file first: a token stored but never shown would lock the operator out.
  if (token_file.has_parent_path()) {
    DOZOR_RETURN_IF_ERROR(EnsureDirectory(token_file.parent_path(), 0700));
  }
  DOZOR_RETURN_IF_ERROR(WriteFileAtomic(token_file, token + "\n", 0600));
  auto created = store.CreateApiToken(name, ApiRole::kAdmin, Sha256Hex(token),
                                      token.substr(0, kTokenHintLength), std::nullopt);
  if (!created.ok()) {
    return created.error().Wrap("storing admin token");
  }
  return token;
}

}  // namespace dozor::server::http
