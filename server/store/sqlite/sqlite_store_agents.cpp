// SqliteStore, agents area: enrollment tokens, enrolling agents, credentials, revocation.
#include "store/sqlite/sqlite_store.hpp"

#include <mutex>
#include <string>

#include "store/sqlite/sqlite_store_internal.hpp"
#include "store/sqlite/statement_helpers.hpp"
#include "store/sqlite/store_rows.hpp"

namespace dozor::server {

// The helpers and statements the backend's files share.
using namespace sqlite_store_internal;  // NOLINT(google-build-using-namespace)

// ------------------------------------------------------------------ enrollment tokens

Result<EnrollmentToken> SqliteStore::CreateEnrollmentToken(const NewEnrollmentToken& token) {
  if (token.token_hash.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "enrollment token hash is empty");
  }
  if (token.max_uses && *token.max_uses <= 0) {
    return MakeError(ErrorCode::kInvalidArgument, "enrollment token max_uses must be positive");
  }
  if (token.label.size() > kMaxNameLength || token.hint.size() > 64) {
    return MakeError(ErrorCode::kInvalidArgument, "enrollment token label or hint too long");
  }
  int64_t id = 0;
  {
    std::lock_guard lock(write_mu_);
    DOZOR_ASSIGN_OR_RETURN(bool org_exists, HasRow(BindAll(ws_->org_exists, token.org_id)));
    if (!org_exists) {
      return MakeError(ErrorCode::kNotFound,
                       "no organization with id " + std::to_string(token.org_id));
    }
    DOZOR_RETURN_IF_ERROR(
        NameConflict(RunWith(ws_->token_insert, token.token_hash, token.org_id, token.hint,
                             token.label, clock_->NowMs(), token.expires_at_ms, token.max_uses),
                     "enrollment token"));
    id = writer_.LastInsertRowId();
  }
  ReaderLease reader = AcquireReader();
  return ReadOne(BindAll(reader->rs.token_by_id, id), ReadEnrollmentToken, [] {
    return MakeError(ErrorCode::kInternal, "enrollment token vanished after insert");
  });
}

Result<EnrollmentToken> SqliteStore::GetEnrollmentToken(int64_t token_id) {
  ReaderLease reader = AcquireReader();
  return ReadOne(BindAll(reader->rs.token_by_id, token_id), ReadEnrollmentToken, [&] {
    return MakeError(ErrorCode::kNotFound,
                     "no enrollment token with id " + std::to_string(token_id));
  });
}

Result<std::vector<EnrollmentToken>> SqliteStore::ListEnrollmentTokens(
    std::optional<int64_t> org_id) {
  ReaderLease reader = AcquireReader();
  return ReadAll(BindAll(reader->rs.token_list, org_id), ReadEnrollmentToken);
}

Status SqliteStore::RevokeEnrollmentToken(int64_t token_id, int64_t now_ms) {
  std::lock_guard lock(write_mu_);
  return RevokeIfExists(writer_, ws_->token_revoke, ws_->token_exists, token_id, now_ms, [&] {
    return MakeError(ErrorCode::kNotFound,
                     "no enrollment token with id " + std::to_string(token_id));
  });
}

// ------------------------------------------------------------------ agents

Result<EnrolledAgent> SqliteStore::EnrollAgent(std::string_view token_hash, const NewAgent& agent,
                                               int64_t now_ms) {
  if (agent.agent_id.empty() || agent.secret_hash.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "agent id and secret hash are required");
  }
  struct TokenRow {
    int64_t id = 0;
    int64_t org_id = 0;
    std::string org_name;
    std::optional<int64_t> expires_at;
    bool revoked = false;
    int64_t uses = 0;
    std::optional<int64_t> max_uses;
  };
  std::lock_guard lock(write_mu_);
  sqlite::Transaction txn(writer_);
  DOZOR_RETURN_IF_ERROR(txn.Begin());
  DOZOR_ASSIGN_OR_RETURN(
      auto token, ReadOptional(BindAll(ws_->token_by_hash, token_hash), [](const auto& s) {
        return TokenRow{s.Int(0),     s.Int(1), s.Text(2),        OptionalInt(s, 3),
                        !s.IsNull(4), s.Int(5), OptionalInt(s, 6)};
      }));
  if (!token) {
    return MakeError(ErrorCode::kPermissionDenied, "unknown enrollment token");
  }
  if (token->revoked) {
    return MakeError(ErrorCode::kPermissionDenied, "enrollment token is revoked");
  }
  if (token->expires_at && *token->expires_at <= now_ms) {
    return MakeError(ErrorCode::kPermissionDenied, "enrollment token is expired");
  }
  if (token->max_uses && token->uses >= *token->max_uses) {
    return MakeError(ErrorCode::kPermissionDenied, "enrollment token has been used " +
                                                       std::to_string(token->uses) +
                                                       " times, its limit; ask for a new one");
  }
  DOZOR_RETURN_IF_ERROR(RunWith(ws_->token_use, token->id));
  DOZOR_RETURN_IF_ERROR(
      NameConflict(RunWith(ws_->agent_insert, agent.agent_id, token->org_id, agent.secret_hash,
                           agent.hostname, agent.machine_id, agent.agent_version, agent.os, now_ms),
                   "agent '" + agent.agent_id + "'"));
  DOZOR_RETURN_IF_ERROR(txn.Commit());
  EnrolledAgent enrolled;
  enrolled.agent_id = agent.agent_id;
  enrolled.org_id = token->org_id;
  enrolled.org_name = std::move(token->org_name);
  return enrolled;
}

Result<AgentCredential> SqliteStore::GetAgentCredential(std::string_view agent_id) {
  ReaderLease reader = AcquireReader();
  return ReadOne(BindAll(reader->rs.credential, agent_id), ReadAgentCredential,
                 [&] { return UnknownAgent(agent_id); });
}

Status SqliteStore::RevokeAgent(std::string_view agent_id, int64_t now_ms) {
  std::lock_guard lock(write_mu_);
  agent_cache_.erase(std::string(agent_id));
  return RevokeIfExists(writer_, ws_->agent_revoke, ws_->agent_exists, agent_id, now_ms,
                        [&] { return UnknownAgent(agent_id); });
}

}  // namespace dozor::server
