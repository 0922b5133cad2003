#include "store/postgres/pg_agent_store.hpp"

#include <string>
#include <vector>

#include "store/postgres/pg_store_internal.hpp"

namespace dozor::server {

using namespace pg_store_internal;  // NOLINT(google-build-using-namespace)

namespace {

constexpr const char* kTokenColumns =
    "SELECT t.id, t.org_id, o.name, t.label, t.hint, t.created_at, t.expires_at, t.revoked_at, "
    "t.uses, t.max_uses, EXISTS (SELECT 1 FROM enrollment_token_import_keys k WHERE k.org_id = "
    "t.org_id AND k.token_id = t.id) "
    "FROM enrollment_tokens t JOIN organizations o ON o.id = t.org_id ";

EnrollmentToken ReadToken(const pg::Rows& rows, int row) {
  EnrollmentToken token;
  token.id = rows.Int(row, 0);
  token.org_id = rows.Int(row, 1);
  token.org_name = rows.Text(row, 2);
  token.label = rows.Text(row, 3);
  token.hint = rows.Text(row, 4);
  token.created_at_ms = rows.Int(row, 5);
  token.expires_at_ms = rows.OptionalInt(row, 6);
  token.revoked_at_ms = rows.OptionalInt(row, 7);
  token.uses = rows.Int(row, 8);
  token.max_uses = rows.OptionalInt(row, 9);
  token.signs_imports = rows.Bool(row, 10);
  return token;
}

Error UnknownAgent(std::string_view agent_id) {
  return MakeError(ErrorCode::kNotFound, "unknown agent '" + std::string(agent_id) + "'");
}

}  // namespace

Result<EnrollmentToken> PgAgentStore::CreateEnrollmentToken(const NewEnrollmentToken& token) {
  if (token.token_hash.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "enrollment token hash is empty");
  }
  if (token.max_uses && *token.max_uses <= 0) {
    return MakeError(ErrorCode::kInvalidArgument, "enrollment token max_uses must be positive");
  }
  if (token.label.size() > kMaxNameLength || token.hint.size() > 64) {
    return MakeError(ErrorCode::kInvalidArgument, "enrollment token label or hint too long");
  }
  DOZOR_ASSIGN_OR_RETURN(auto db, context_.pool.Acquire());
  DOZOR_ASSIGN_OR_RETURN(pg::Rows org, db->Query("SELECT 1 FROM organizations WHERE id = $1",
                                                 pg::Params(token.org_id)));
  if (org.empty()) {
    return MakeError(ErrorCode::kNotFound,
                     "no organization with id " + std::to_string(token.org_id));
  }
  // An organisation deleted in between fails the foreign key: reported as not found too.
  auto inserted = NameConflict(
      db->Query("INSERT INTO enrollment_tokens(token_hash, org_id, hint, label, created_at, "
                "expires_at, max_uses) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
                pg::Params(token.token_hash, token.org_id, token.hint, token.label,
                           context_.clock.NowMs(), token.expires_at_ms, token.max_uses)),
      "enrollment token");
  if (!inserted.ok()) {
    if (inserted.error().code == ErrorCode::kFailedPrecondition) {
      return MakeError(ErrorCode::kNotFound,
                       "no organization with id " + std::to_string(token.org_id));
    }
    return inserted.error();
  }
  DOZOR_ASSIGN_OR_RETURN(pg::Rows rows, db->Query(std::string(kTokenColumns) + "WHERE t.id = $1",
                                                  pg::Params(inserted->Int(0, 0))));
  if (rows.empty()) {
    return MakeError(ErrorCode::kInternal, "enrollment token vanished after insert");
  }
  return ReadToken(rows, 0);
}

Result<std::vector<EnrollmentToken>> PgAgentStore::ListEnrollmentTokens(
    std::optional<int64_t> org_id) {
  DOZOR_ASSIGN_OR_RETURN(auto db, context_.pool.Acquire());
  DOZOR_ASSIGN_OR_RETURN(pg::Rows rows,
                         db->Query(std::string(kTokenColumns) +
                                       "WHERE ($1::bigint IS NULL OR t.org_id = $1) ORDER BY t.id",
                                   pg::Params(org_id)));
  std::vector<EnrollmentToken> tokens;
  for (int row = 0; row < rows.size(); ++row) {
    tokens.push_back(ReadToken(rows, row));
  }
  return tokens;
}

Result<EnrollmentToken> PgAgentStore::GetEnrollmentToken(int64_t token_id) {
  DOZOR_ASSIGN_OR_RETURN(auto db, context_.pool.Acquire());
  DOZOR_ASSIGN_OR_RETURN(pg::Rows rows, db->Query(std::string(kTokenColumns) + "WHERE t.id = $1",
                                                  pg::Params(token_id)));
  if (rows.empty()) {
    return MakeError(ErrorCode::kNotFound,
                     "no enrollment token with id " + std::to_string(token_id));
  }
  return ReadToken(rows, 0);
}

Status PgAgentStore::RevokeEnrollmentToken(int64_t token_id, int64_t now_ms) {
  DOZOR_ASSIGN_OR_RETURN(auto db, context_.pool.Acquire());
  // Revoking twice keeps the first time; a missing token is an error.
  DOZOR_ASSIGN_OR_RETURN(
      pg::Rows rows,
      db->Query("UPDATE enrollment_tokens SET revoked_at = coalesce(revoked_at, $2) WHERE id = $1 "
                "RETURNING id",
                pg::Params(token_id, now_ms)));
  if (rows.empty()) {
    return MakeError(ErrorCode::kNotFound,
                     "no enrollment token with id " + std::to_string(token_id));
  }
  return OkStatus();
}

Result<EnrolledAgent> PgAgentStore::EnrollAgent(std::string_view token_hash, const NewAgent& agent,
                                                int64_t now_ms) {
  if (agent.agent_id.empty() || agent.secret_hash.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "agent id and secret hash are required");
  }
  return pg::InTransaction(context_.pool, [&](pg::Connection& db) -> Result<EnrolledAgent> {
    // FOR UPDATE: concurrent enrollments with one token (on any replica) count its uses one after
    // the other, so max_uses holds exactly.
    DOZOR_ASSIGN_OR_RETURN(
        pg::Rows token,
        db.Query("SELECT t.id, t.org_id, o.name, t.expires_at, t.revoked_at, t.uses, t.max_uses "
                 "FROM enrollment_tokens t JOIN organizations o ON o.id = t.org_id "
                 "WHERE t.token_hash = $1 FOR UPDATE OF t",
                 pg::Params(token_hash)));
    if (token.empty()) {
      return MakeError(ErrorCode::kPermissionDenied, "unknown enrollment token");
    }
    const int64_t token_id = token.Int(0, 0);
    const int64_t org_id = token.Int(0, 1);
    const std::optional<int64_t> expires_at = token.OptionalInt(0, 3);
    const std::optional<int64_t> max_uses = token.OptionalInt(0, 6);
    const int64_t uses = token.Int(0, 5);
    if (!token.IsNull(0, 4)) {
      return MakeError(ErrorCode::kPermissionDenied, "enrollment token is revoked");
    }
    if (expires_at && *expires_at <= now_ms) {
      return MakeError(ErrorCode::kPermissionDenied, "enrollment token is expired");
    }
    if (max_uses && uses >= *max_uses) {
      return MakeError(ErrorCode::kPermissionDenied, "enrollment token has been used " +
                                                         std::to_string(uses) +
                                                         " times, its limit; ask for a new one");
    }
    DOZOR_RETURN_IF_ERROR(
        db.Run("UPDATE enrollment_tokens SET uses = uses + 1 WHERE org_id = $1 "
               "AND id = $2",
               pg::Params(org_id, token_id)));
    DOZOR_RETURN_IF_ERROR(NameConflict(
        db.Run("INSERT INTO agents(agent_id, org_id, secret_hash, hostname, machine_id, "
               "agent_version, os, enrolled_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
               pg::Params(agent.agent_id, org_id, agent.secret_hash, agent.hostname,
                          agent.machine_id, agent.agent_version, agent.os, now_ms)),
        "agent '" + agent.agent_id + "'"));
    EnrolledAgent enrolled;
    enrolled.agent_id = agent.agent_id;
    enrolled.org_id = org_id;
    enrolled.org_name = token.Text(0, 2);
    return enrolled;
  });
}

Result<AgentCredential> PgAgentStore::GetAgentCredential(std::string_view agent_id) {
  DOZOR_ASSIGN_OR_RETURN(auto db, context_.pool.Acquire());
  DOZOR_ASSIGN_OR_RETURN(
      pg::Rows rows,
      db->Query("SELECT agent_id, org_id, secret_hash, revoked_at IS NOT NULL, last_seq FROM "
                "agents WHERE agent_id = $1",
                pg::Params(agent_id)));
  if (rows.empty()) {
    return UnknownAgent(agent_id);
  }
  AgentCredential credential;
  credential.agent_id = rows.Text(0, 0);
  credential.org_id = rows.Int(0, 1);
  credential.secret_hash = rows.Text(0, 2);
  credential.revoked = rows.Bool(0, 3);
  credential.last_committed_seq = static_cast<uint64_t>(rows.Int(0, 4));
  return credential;
}

Status PgAgentStore::RevokeAgent(std::string_view agent_id, int64_t now_ms) {
  DOZOR_ASSIGN_OR_RETURN(auto db, context_.pool.Acquire());
  DOZOR_ASSIGN_OR_RETURN(
      pg::Rows rows,
      db->Query("UPDATE agents SET revoked_at = coalesce(revoked_at, $2) WHERE agent_id = $1 "
                "RETURNING id",
                pg::Params(agent_id, now_ms)));
  if (rows.empty()) {
    return UnknownAgent(agent_id);
  }
  return OkStatus();
}

}  // namespace dozor::server
