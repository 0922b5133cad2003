// SqliteStore, API-token area.
#include "store/sqlite/sqlite_store.hpp"

#include <mutex>
#include <string>

#include "store/sqlite/sqlite_store_internal.hpp"
#include "store/sqlite/statement_helpers.hpp"
#include "store/sqlite/store_rows.hpp"

namespace dozor::server {

// The helpers and statements the backend's files share.
using namespace sqlite_store_internal;  // NOLINT(google-build-using-namespace)

// ------------------------------------------------------------------ API tokens

Result<ApiToken> SqliteStore::CreateApiToken(std::string_view name, ApiRole role,
                                             std::string_view token_hash, std::string_view hint,
                                             std::optional<int64_t> expires_at_ms,
                                             std::optional<int64_t> user_id) {
  if (name.empty() || name.size() > kMaxNameLength) {
    return MakeError(ErrorCode::kInvalidArgument, "API token name must be 1-200 characters");
  }
  if (token_hash.empty() || hint.size() > 64) {
    return MakeError(ErrorCode::kInvalidArgument, "API token hash is empty or hint too long");
  }
  int64_t id = 0;
  {
    std::lock_guard lock(write_mu_);
    DOZOR_RETURN_IF_ERROR(NameConflict(RunWith(ws_->api_insert, token_hash, name, role, hint,
                                               clock_->NowMs(), expires_at_ms, user_id),
                                       "API token"));
    id = writer_.LastInsertRowId();
  }
  ReaderLease reader = AcquireReader();
  return ReadOne(BindAll(reader->rs.api_by_id, id), ReadApiToken,
                 [] { return MakeError(ErrorCode::kInternal, "API token vanished after insert"); });
}

Result<ApiToken> SqliteStore::GetApiToken(int64_t id) {
  ReaderLease reader = AcquireReader();
  return ReadOne(BindAll(reader->rs.api_by_id, id), ReadApiToken, [&] {
    return MakeError(ErrorCode::kNotFound, "no API token with id " + std::to_string(id));
  });
}

Result<ApiToken> SqliteStore::AuthenticateApiToken(std::string_view token_hash, int64_t now_ms) {
  ReaderLease reader = AcquireReader();
  // Listings show a role this binary does not know as the least privileged one; authentication
  // must not grant even that: a token whose stored role is unknown is refused.
  std::string unknown_role;
  auto read = [&](const sqlite::Statement& s) {
    if (!ParseApiRole(s.Text(2))) {
      unknown_role = s.Text(2);
    }
    return ReadApiToken(s);
  };
  DOZOR_ASSIGN_OR_RETURN(ApiToken token,
                         ReadOne(BindAll(reader->rs.api_by_hash, token_hash), read, [] {
                           return MakeError(ErrorCode::kPermissionDenied, "unknown API token");
                         }));
  if (!unknown_role.empty()) {
    return MakeError(ErrorCode::kPermissionDenied,
                     "API token has a role this server does not know: '" + unknown_role + "'");
  }
  if (token.revoked_at_ms) {
    return MakeError(ErrorCode::kPermissionDenied, "API token is revoked");
  }
  if (token.expires_at_ms && *token.expires_at_ms <= now_ms) {
    return MakeError(ErrorCode::kPermissionDenied, "API token is expired");
  }
  return token;
}

Result<std::vector<ApiToken>> SqliteStore::ListApiTokens() {
  ReaderLease reader = AcquireReader();
  return ReadAll(reader->rs.api_list, ReadApiToken);
}

Status SqliteStore::RevokeApiToken(int64_t id, int64_t now_ms) {
  std::lock_guard lock(write_mu_);
  return RevokeIfExists(writer_, ws_->api_revoke, ws_->api_exists, id, now_ms, [&] {
    return MakeError(ErrorCode::kNotFound, "no API token with id " + std::to_string(id));
  });
}

Result<int64_t> SqliteStore::CountApiTokens() {
  ReaderLease reader = AcquireReader();
  DOZOR_ASSIGN_OR_RETURN(
      auto count, ReadOptional(reader->rs.api_count, [](const auto& s) { return s.Int(0); }));
  return count.value_or(0);
}

}  // namespace dozor::server
