// The PostgreSQL backend's management-API tokens area (store/api_token_store.hpp).
#pragma once

#include "store/api_token_store.hpp"
#include "store/postgres/pg_context.hpp"

namespace dozor::server {

class PgApiTokenStore final : public ApiTokenStore {
 public:
  explicit PgApiTokenStore(PgContext& context) : context_(context) {}

  Result<ApiToken> CreateApiToken(std::string_view name, ApiRole role, std::string_view token_hash,
                                  std::string_view hint, std::optional<int64_t> expires_at_ms,
                                  std::optional<int64_t> user_id = std::nullopt) override;
  Result<ApiToken> AuthenticateApiToken(std::string_view token_hash, int64_t now_ms) override;
  Result<std::vector<ApiToken>> ListApiTokens() override;
  Result<ApiToken> GetApiToken(int64_t id) override;
  Status RevokeApiToken(int64_t id, int64_t now_ms) override;
  Result<int64_t> CountApiTokens() override;

 private:
  PgContext& context_;
};

}  // namespace dozor::server
