#include "store/postgres/pg_api_token_store.hpp"

#include <string>
#include <vector>

#include "store/postgres/pg_store_internal.hpp"

namespace dozor::server {

using namespace pg_store_internal;  // NOLINT(google-build-using-namespace)

namespace {

constexpr const char* kApiTokenSelect =
    "SELECT id, name, role, hint, created_at, revoked_at, expires_at, user_id FROM api_tokens ";

// The stored role word rides along so authentication can refuse one this binary does not know.
struct ApiTokenRow {
  ApiToken token;
  std::string stored_role;
};

ApiTokenRow ReadApiTokenRow(const pg::Rows& rows, int row) {
  ApiTokenRow read;
  ApiToken& token = read.token;
  token.id = rows.Int(row, 0);
  token.name = rows.Text(row, 1);
  read.stored_role = rows.Text(row, 2);
  // An unknown role (a newer binary's, say) reads as the least privileged one, as on SQLite.
  token.role = ParseApiRole(read.stored_role).value_or(ApiRole::kViewer);
  token.hint = rows.Text(row, 3);
  token.created_at_ms = rows.Int(row, 4);
  token.revoked_at_ms = rows.OptionalInt(row, 5);
  token.expires_at_ms = rows.OptionalInt(row, 6);
  token.user_id = rows.OptionalInt(row, 7);
  return read;
}

Error NoApiToken(int64_t id) {
  return MakeError(ErrorCode::kNotFound, "no API token with id " + std::to_string(id));
}

}  // namespace

Result<ApiToken> PgApiTokenStore::CreateApiToken(std::string_view name, ApiRole role,
                                                 std::string_view token_hash, std::string_view hint,
                                                 std::optional<int64_t> expires_at_ms,
                                                 std::optional<int64_t> user_id) {
  if (name.empty() || name.size() > kMaxNameLength) {
    return MakeError(ErrorCode::kInvalidArgument, "API token name must be 1-200 characters");
  }
  if (token_hash.empty() || hint.size() > 64) {
    return MakeError(ErrorCode::kInvalidArgument, "API token hash is empty or hint too long");
  }
  DOZOR_ASSIGN_OR_RETURN(auto db, context_.pool.Acquire());
  // One statement: the unique token_hash decides between two replicas creating the same token.
  auto inserted = NameConflict(
      db->Query(
          "INSERT INTO api_tokens(token_hash, name, role, hint, created_at, "
          "expires_at, user_id) VALUES ($1, $2, $3, $4, $5, $6, $7) "
          "RETURNING id, name, role, hint, created_at, revoked_at, "
          "expires_at, user_id",
          pg::Params(token_hash, name, role, hint, context_.clock.NowMs(), expires_at_ms, user_id)),
      "API token");
  // The only other constraint a valid call can break: user_id names no account.
  if (!inserted.ok() && inserted.error().code == ErrorCode::kFailedPrecondition && user_id) {
    return MakeError(ErrorCode::kNotFound, "no user with id " + std::to_string(*user_id));
  }
  DOZOR_ASSIGN_OR_RETURN(pg::Rows rows, std::move(inserted));
  if (rows.empty()) {
    return MakeError(ErrorCode::kInternal, "API token vanished after insert");
  }
  return ReadApiTokenRow(rows, 0).token;
}

Result<ApiToken> PgApiTokenStore::AuthenticateApiToken(std::string_view token_hash,
                                                       int64_t now_ms) {
  DOZOR_ASSIGN_OR_RETURN(auto db, context_.pool.Acquire());
  DOZOR_ASSIGN_OR_RETURN(
      pg::Rows rows,
      db->Query(std::string(kApiTokenSelect) + "WHERE token_hash = $1", pg::Params(token_hash)));
  if (rows.empty()) {
    return MakeError(ErrorCode::kPermissionDenied, "unknown API token");
  }
  ApiTokenRow read = ReadApiTokenRow(rows, 0);
  // Listings show an unknown role as the least privileged one; authentication must not grant
  // even that (the CHECK keeps such words out, this guards a row written past it).
  if (!ParseApiRole(read.stored_role)) {
    return MakeError(ErrorCode::kPermissionDenied,
                     "API token has a role this server does not know: '" + read.stored_role + "'");
  }
  if (read.token.revoked_at_ms) {
    return MakeError(ErrorCode::kPermissionDenied, "API token is revoked");
  }
  if (read.token.expires_at_ms && *read.token.expires_at_ms <= now_ms) {
    return MakeError(ErrorCode::kPermissionDenied, "API token is expired");
  }
  return std::move(read.token);
}

Result<std::vector<ApiToken>> PgApiTokenStore::ListApiTokens() {
  DOZOR_ASSIGN_OR_RETURN(auto db, context_.pool.Acquire());
  DOZOR_ASSIGN_OR_RETURN(pg::Rows rows, db->Query(std::string(kApiTokenSelect) + "ORDER BY id"));
  std::vector<ApiToken> tokens;
  tokens.reserve(rows.size());
  for (int row = 0; row < rows.size(); ++row) {
    tokens.push_back(ReadApiTokenRow(rows, row).token);
  }
  return tokens;
}

Result<ApiToken> PgApiTokenStore::GetApiToken(int64_t id) {
  DOZOR_ASSIGN_OR_RETURN(auto db, context_.pool.Acquire());
  DOZOR_ASSIGN_OR_RETURN(pg::Rows rows,
                         db->Query(std::string(kApiTokenSelect) + "WHERE id = $1", pg::Params(id)));
  if (rows.empty()) {
    return NoApiToken(id);
  }
  return ReadApiTokenRow(rows, 0).token;
}

Status PgApiTokenStore::RevokeApiToken(int64_t id, int64_t now_ms) {
  DOZOR_ASSIGN_OR_RETURN(auto db, context_.pool.Acquire());
  // Revoking twice keeps the first time (one atomic UPDATE, so two replicas racing agree on it);
  // a missing token is an error.
  DOZOR_ASSIGN_OR_RETURN(pg::Rows rows,
                         db->Query("UPDATE api_tokens SET revoked_at = coalesce(revoked_at, $2) "
                                   "WHERE id = $1 RETURNING id",
                                   pg::Params(id, now_ms)));
  if (rows.empty()) {
    return NoApiToken(id);
  }
  return OkStatus();
}

Result<int64_t> PgApiTokenStore::CountApiTokens() {
  DOZOR_ASSIGN_OR_RETURN(auto db, context_.pool.Acquire());
  DOZOR_ASSIGN_OR_RETURN(pg::Rows rows, db->Query("SELECT count(*) FROM api_tokens"));
  return rows.empty() ? 0 : rows.Int(0, 0);
}

}  // namespace dozor::server
