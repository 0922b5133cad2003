// Management-API tokens (stored as SHA-256 hashes) with their roles.
//
// Thread-safety: every method may be called from any thread (see store/store.hpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "domain/api_role.hpp"
#include "dozor/common/result.hpp"

namespace dozor::server {

struct ApiToken {
  int64_t id = 0;
  std::string name;
  ApiRole role = ApiRole::kViewer;
  std::string hint;
  int64_t created_at_ms = 0;
  std::optional<int64_t> revoked_at_ms;
  std::optional<int64_t> expires_at_ms;
  // The account the token acts for (its role and scope, narrowed by `role`); nullopt for tokens
  // made before accounts existed, which act as admin tokens narrowed by `role`.
  std::optional<int64_t> user_id;
};

class ApiTokenStore {
 public:
  virtual ~ApiTokenStore() = default;

  virtual Result<ApiToken> CreateApiToken(std::string_view name, ApiRole role,
                                          std::string_view token_hash, std::string_view hint,
                                          std::optional<int64_t> expires_at_ms,
                                          std::optional<int64_t> user_id = std::nullopt) = 0;
  // kPermissionDenied if unknown, revoked or expired.
  virtual Result<ApiToken> AuthenticateApiToken(std::string_view token_hash, int64_t now_ms) = 0;
  virtual Result<std::vector<ApiToken>> ListApiTokens() = 0;
  // One token by id, revoked or not; kNotFound if none.
  virtual Result<ApiToken> GetApiToken(int64_t id) = 0;
  virtual Status RevokeApiToken(int64_t id, int64_t now_ms) = 0;
  virtual Result<int64_t> CountApiTokens() = 0;
};

}  // namespace dozor::server
