#include "store/postgres/pg_audit_log_store.hpp"

#include <algorithm>
#include <string>

#include "store/postgres/pg_store_internal.hpp"

namespace dozor::server {

using namespace pg_store_internal;  // NOLINT(google-build-using-namespace)

namespace {

// Rows one pruning statement deletes: each is its own short transaction, so retention never
// holds locks on a large log for long (as SQLite's chunks).
constexpr int64_t kAuditPruneChunkRows = 5000;

}  // namespace

Status PgAuditLogStore::AppendAudit(const AuditEntry& entry) {
  DOZOR_ASSIGN_OR_RETURN(auto db, context_.pool.Acquire());
  DOZOR_RETURN_IF_ERROR(db->Run(
      "INSERT INTO audit_log(at, actor_user_id, actor, via, source, action, org_id, object, "
      "status, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
      pg::Params(entry.at_ms, entry.actor_user_id, entry.actor, entry.via, entry.source,
                 entry.action, entry.org_id, entry.object, entry.status, entry.detail)));
  return OkStatus();
}

Result<std::vector<AuditEntry>> PgAuditLogStore::ListAudit(const AuditFilter& filter) {
  DOZOR_ASSIGN_OR_RETURN(auto db, context_.pool.Acquire());
  DOZOR_ASSIGN_OR_RETURN(
      pg::Rows rows,
      db->Query("SELECT id, at, actor_user_id, actor, via, source, action, org_id, object, "
                "status, detail FROM audit_log WHERE ($1::bigint IS NULL OR at >= $1) AND "
                "($2::bigint IS NULL OR at < $2) AND ($3::bigint IS NULL OR actor_user_id = $3) "
                "AND ($4::text IS NULL OR actor = $4) AND ($5::bigint IS NULL OR org_id = $5) "
                "AND ($6::text IS NULL OR starts_with(action, $6)) "
                "AND ($7::bigint IS NULL OR id < $7) ORDER BY id DESC LIMIT $8",
                pg::Params(filter.since_ms, filter.until_ms, filter.actor_user_id, filter.actor,
                           filter.org_id, filter.action_prefix, filter.before_id,
                           std::clamp(filter.limit, 1, kMaxPageLimit))));
  std::vector<AuditEntry> entries;
  entries.reserve(rows.size());
  for (int row = 0; row < rows.size(); ++row) {
    AuditEntry entry;
    entry.id = rows.Int(row, 0);
    entry.at_ms = rows.Int(row, 1);
    entry.actor_user_id = rows.OptionalInt(row, 2);
    entry.actor = rows.Text(row, 3);
    entry.via = ParseVia(rows.Text(row, 4)).value_or(Via::kApi);
    entry.source = rows.Text(row, 5);
    entry.action = rows.Text(row, 6);
    entry.org_id = rows.OptionalInt(row, 7);
    entry.object = rows.Text(row, 8);
    entry.status = static_cast<int>(rows.Int(row, 9));
    entry.detail = rows.Text(row, 10);
    entries.push_back(std::move(entry));
  }
  return entries;
}

Result<int64_t> PgAuditLogStore::PruneAudit(int64_t before_ms) {
  DOZOR_ASSIGN_OR_RETURN(auto db, context_.pool.Acquire());
  int64_t total = 0;
  while (true) {
    // SKIP LOCKED: a replica pruning at the same time takes other rows instead of waiting on
    // these; each row is deleted (and counted) once.
    DOZOR_ASSIGN_OR_RETURN(
        const int64_t deleted,
        db->Run("DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log WHERE at < $1 "
                "ORDER BY at LIMIT $2 FOR UPDATE SKIP LOCKED)",
                pg::Params(before_ms, kAuditPruneChunkRows)));
    total += deleted;
    if (deleted < kAuditPruneChunkRows) return total;
  }
}

}  // namespace dozor::server
