#include "store/postgres/pg_store_internal.hpp"

#include <string>
#include <vector>

#include "dozor/common/crypto.hpp"

namespace dozor::server::pg_store_internal {

Organization ReadOrganization(const pg::Rows& rows, int row) {
  Organization org;
  org.id = rows.Int(row, 0);
  org.name = rows.Text(row, 1);
  org.contract_status = ParseContractPhase(rows.Text(row, 2)).value_or(ContractPhase::kProspect);
  org.contract_type = ParseContractType(rows.Text(row, 3)).value_or(ContractType::kComplex);
  org.engineer = rows.Text(row, 4);
  org.created_at_ms = rows.Int(row, 5);
  org.host_count = rows.Int(row, 6);
  org.declared_hosts = rows.OptionalInt(row, 7);
  return org;
}

Status RefreshOrgEngineerNames(pg::Connection& db, std::optional<int64_t> org_id,
                               std::optional<int64_t> user_id) {
  DOZOR_RETURN_IF_ERROR(
      db.Run("UPDATE organizations o SET engineer = coalesce((SELECT string_agg(u.display_name, "
             "', ' ORDER BY a.created_at, u.id) FROM org_assignments a JOIN users u ON u.id = "
             "a.user_id WHERE a.org_id = o.id AND a.kind = 'primary'), '') "
             "WHERE ($1::bigint IS NULL OR o.id = $1) AND ($2::bigint IS NULL OR o.id IN "
             "(SELECT org_id FROM org_assignments WHERE user_id = $2))",
             pg::Params(org_id, user_id)));
  return OkStatus();
}

Status AssignEngineer(pg::Connection& db, int64_t org_id, int64_t user_id, std::string_view kind,
                      std::string_view specialty, int64_t now_ms) {
  DOZOR_ASSIGN_OR_RETURN(
      pg::Rows org,
      db.Query("SELECT 1 FROM organizations WHERE id = $1 FOR SHARE", pg::Params(org_id)));
  if (org.empty()) {
    return MakeError(ErrorCode::kNotFound, "no organization with id " + std::to_string(org_id));
  }
  DOZOR_ASSIGN_OR_RETURN(pg::Rows role,
                         db.Query("SELECT role FROM users WHERE id = $1", pg::Params(user_id)));
  if (role.empty()) {
    return MakeError(ErrorCode::kNotFound, "no user with id " + std::to_string(user_id));
  }
  if (role.Text(0, 0) == "client") {
    return MakeError(ErrorCode::kInvalidArgument,
                     "a client user cannot be assigned as an engineer; assign an engineer");
  }
  DOZOR_RETURN_IF_ERROR(
      db.Run("INSERT INTO org_assignments(org_id, user_id, kind, specialty, created_at) "
             "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (org_id, user_id) DO UPDATE SET "
             "kind = excluded.kind, specialty = excluded.specialty",
             pg::Params(org_id, user_id, kind, specialty, now_ms)));
  return OkStatus();
}

Status LinkLegacyEngineer(pg::Connection& db, int64_t org_id, std::string_view name,
                          int64_t now_ms) {
  DOZOR_RETURN_IF_ERROR(db.Run("DELETE FROM org_assignments WHERE org_id = $1 AND kind = 'primary'",
                               pg::Params(org_id)));
  if (!name.empty()) {
    // Display names are not unique and anyone edits their own, so a display name is taken only
    // when exactly one account bears it: copying a colleague's name must not win their client.
    DOZOR_ASSIGN_OR_RETURN(
        pg::Rows by_login,
        db.Query("SELECT id FROM users WHERE role <> 'client' AND lower(login) = lower($1)",
                 pg::Params(name)));
    std::optional<int64_t> found;
    if (!by_login.empty()) {
      found = by_login.Int(0, 0);
    } else {
      DOZOR_ASSIGN_OR_RETURN(pg::Rows named,
                             db.Query("SELECT id FROM users WHERE role <> 'client' AND "
                                      "display_name = $1 ORDER BY id LIMIT 2",
                                      pg::Params(name)));
      if (named.size() > 1) {
        return MakeError(ErrorCode::kFailedPrecondition,
                         "several accounts are named '" + std::string(name) +
                             "'; assign by login (PUT /api/v1/orgs/{org}/engineers/{login})");
      }
      if (!named.empty()) {
        found = named.Int(0, 0);
      }
    }
    int64_t user_id = 0;
    if (found) {
      user_id = *found;
    } else {
      DOZOR_ASSIGN_OR_RETURN(pg::Rows next, db.Query("SELECT coalesce(max(id), 0) + 1 FROM users"));
      std::string login = "engineer-" + std::to_string(next.Int(0, 0));
      DOZOR_ASSIGN_OR_RETURN(
          pg::Rows taken,
          db.Query("SELECT 1 FROM users WHERE lower(login) = lower($1)", pg::Params(login)));
      if (!taken.empty()) {
        DOZOR_ASSIGN_OR_RETURN(std::string suffix, RandomHex(4));
        login += "-" + suffix;
      }
      DOZOR_ASSIGN_OR_RETURN(
          pg::Rows inserted,
          db.Query("INSERT INTO users(login, display_name, role, created_at, updated_at) "
                   "VALUES ($1, $2, 'engineer', $3, $3) RETURNING id",
                   pg::Params(login, name, now_ms)));
      user_id = inserted.Int(0, 0);
    }
    DOZOR_RETURN_IF_ERROR(AssignEngineer(db, org_id, user_id, "primary", "", now_ms));
  }
  return RefreshOrgEngineerNames(db, org_id, std::nullopt);
}

Result<int64_t> RecordSnapshot(pg::Connection& db, int64_t org_id, AuditSnapshotKind kind,
                               std::string_view actor, int64_t now_ms) {
  DOZOR_ASSIGN_OR_RETURN(
      pg::Rows inserted,
      db.Query("INSERT INTO audit_snapshots(org_id, kind, at, actor) VALUES ($1, $2, $3, $4) "
               "RETURNING id",
               pg::Params(org_id, kind, now_ms, ActorOr(actor, "system"))));
  const int64_t id = inserted.Int(0, 0);
  DOZOR_RETURN_IF_ERROR(db.Run(
      "INSERT INTO audit_snapshot_findings(org_id, snapshot_id, position, rule_id, target, "
      "agent_id, hostname, severity, state, object) SELECT $2, $1, row_number() OVER (ORDER BY "
      "f.id), f.rule_id, f.target, coalesce(a.agent_id, ''), coalesce(a.hostname, ''), "
      "f.severity, f.state, f.object FROM findings f LEFT JOIN agents a ON a.org_id = f.org_id "
      "AND a.id = f.agent WHERE f.org_id = $2 AND f.state IN ('open', 'acknowledged', "
      "'regressed', 'waived')",
      pg::Params(id, org_id)));
  return id;
}

}  // namespace dozor::server::pg_store_internal
