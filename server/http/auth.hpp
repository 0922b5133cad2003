// Management API authentication: bearer API tokens (stored as SHA-256 hashes) with roles, and the
// first-start bootstrap of an admin token.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "dozor/common/clock.hpp"
#include "dozor/common/result.hpp"
#include "http/api_types.hpp"
#include "store/api_token_store.hpp"

namespace dozor::server::http {

inline constexpr std::string_view kApiTokenPrefix = "dza_";
inline constexpr std::string_view kEnrollmentTokenPrefix = "dze_";
inline constexpr size_t kTokenHintLength = 12;

// "dza_" / "dze_" + 64 hex characters (256 random bits).
Result<std::string> NewApiTokenPlaintext();
Result<std::string> NewEnrollmentTokenPlaintext();

// True if a token with `role` may call a route needing `access`.
bool RoleAllows(ApiRole role, Access access);

// Checks "Authorization: Bearer <token>". kPermissionDenied (-> 401) when missing or unknown;
// other errors are store failures.
Result<ApiToken> Authenticate(ApiTokenStore& store, std::string_view authorization_header,
                              const Clock& clock);

// If the store holds no API tokens at all, creates an admin token, writes its plaintext to
// `token_file` (mode 0600, atomically) and returns it; otherwise returns nullopt and touches
// nothing. Called once at server start so a fresh install has a way in.
Result<std::optional<std::string>> BootstrapAdminToken(ApiTokenStore& store,
                                                       const std::filesystem::path& token_file,
                                                       const Clock& clock);

// Creates a new admin token, writes its plaintext to `token_file` (0600) and returns it. Used for
// the bootstrap and by `dozor-server --reset-admin-token` when the file was lost or the last
// admin token revoked (whoever can run the server on its database is already trusted).
Result<std::string> IssueAdminToken(ApiTokenStore& store, const std::filesystem::path& token_file,
                                    std::string_view name);

}  // namespace dozor::server::http
