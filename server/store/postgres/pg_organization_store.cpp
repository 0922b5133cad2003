#include "store/postgres/pg_organization_store.hpp"

#include <string>
#include <vector>

#include "store/postgres/pg_store_internal.hpp"

namespace dozor::server {

using namespace pg_store_internal;  // NOLINT(google-build-using-namespace)

namespace {

const std::string kOrgColumns = std::string(kOrgSelect) + " FROM organizations o ";

// Checks the contract move of a patch, records its event, feed entry and the snapshot it calls
// for. The organisation row is locked first, so two moves of one client (from two replicas)
// are decided one after the other.
Status ApplyContractMove(pg::Connection& db, int64_t org_id, const OrganizationPatch& patch,
                         int64_t now_ms) {
  if (!patch.contract_status) {
    return OkStatus();
  }
  DOZOR_ASSIGN_OR_RETURN(
      pg::Rows current,
      db.Query("SELECT contract_status FROM organizations WHERE id = $1 FOR UPDATE",
               pg::Params(org_id)));
  if (current.empty()) {
    return MakeError(ErrorCode::kNotFound, "no organization with id " + std::to_string(org_id));
  }
  const ContractPhase from =
      ParseContractPhase(current.Text(0, 0)).value_or(ContractPhase::kProspect);
  DOZOR_ASSIGN_OR_RETURN(pg::Rows event_rows,
                         db.Query("SELECT at, actor, from_status, to_status FROM contract_events "
                                  "WHERE org_id = $1 ORDER BY at, id",
                                  pg::Params(org_id)));
  std::vector<ContractEvent> events;
  for (int row = 0; row < event_rows.size(); ++row) {
    ContractEvent event;
    event.at_ms = event_rows.Int(row, 0);
    event.actor = event_rows.Text(row, 1);
    event.from_status =
        ParseContractPhase(event_rows.Text(row, 2)).value_or(ContractPhase::kProspect);
    event.to_status =
        ParseContractPhase(event_rows.Text(row, 3)).value_or(ContractPhase::kProspect);
    events.push_back(std::move(event));
  }
  DOZOR_ASSIGN_OR_RETURN(pg::Rows latest,
                         db.Query("SELECT max(at) FROM audit_snapshots WHERE org_id = $1 AND "
                                  "kind = 'first-audit'",
                                  pg::Params(org_id)));
  const std::optional<int64_t> first_at = latest.OptionalInt(0, 0);
  const bool first_audit_in_engagement = first_at && *first_at >= CurrentEngagementStartMs(events);
  DOZOR_ASSIGN_OR_RETURN(ContractMove move,
                         PlanContractMove(from, *patch.contract_status, first_audit_in_engagement));
  if (!move.moves) {
    return OkStatus();  // same status: no move, no event
  }
  const std::string who = ActorOr(patch.actor, "system");
  DOZOR_RETURN_IF_ERROR(
      db.Run("INSERT INTO contract_events(org_id, at, actor, from_status, "
             "to_status) VALUES ($1, $2, $3, $4, $5)",
             pg::Params(org_id, now_ms, who, move.from, move.to)));
  DOZOR_RETURN_IF_ERROR(db.Run(
      "INSERT INTO events(at, kind, org_id, actor, detail) "
      "VALUES ($1, 'contract_moved', $2, $3, $4)",
      pg::Params(now_ms, org_id, who,
                 std::string(ToString(move.from)) + " -> " + std::string(ToString(move.to)))));
  if (move.snapshot) {
    DOZOR_RETURN_IF_ERROR(RecordSnapshot(db, org_id, *move.snapshot, who, now_ms));
  }
  return OkStatus();
}

}  // namespace

Result<Organization> PgOrganizationStore::CreateOrganization(const Organization& org) {
  if (org.name.empty() || org.name.size() > kMaxNameLength) {
    return MakeError(ErrorCode::kInvalidArgument, "organization name must be 1-200 characters");
  }
  if (org.declared_hosts && (*org.declared_hosts < 0 || *org.declared_hosts > kMaxDeclaredHosts)) {
    return MakeError(ErrorCode::kInvalidArgument, "declared_hosts must be 0-1000000");
  }
  const int64_t now_ms = org.created_at_ms != 0 ? org.created_at_ms : context_.clock.NowMs();
  DOZOR_ASSIGN_OR_RETURN(
      int64_t id, pg::InTransaction(context_.pool, [&](pg::Connection& db) -> Result<int64_t> {
        DOZOR_ASSIGN_OR_RETURN(
            pg::Rows inserted,
            NameConflict(db.Query("INSERT INTO organizations(name, contract_status, "
                                  "contract_type, created_at, declared_hosts) VALUES ($1, $2, "
                                  "$3, $4, $5) RETURNING id",
                                  pg::Params(org.name, org.contract_status, org.contract_type,
                                             now_ms, org.declared_hosts)),
                         "organization '" + org.name + "'"));
        const int64_t id = inserted.Int(0, 0);
        if (!org.engineer.empty()) {
          DOZOR_RETURN_IF_ERROR(LinkLegacyEngineer(db, id, org.engineer, now_ms));
        }
        return id;
      }));
  return FindOrganization(std::to_string(id));
}

Result<std::vector<Organization>> PgOrganizationStore::ListOrganizations() {
  DOZOR_ASSIGN_OR_RETURN(auto db, context_.pool.Acquire());
  DOZOR_ASSIGN_OR_RETURN(pg::Rows rows, db->Query(kOrgColumns + "ORDER BY o.name COLLATE \"C\""));
  std::vector<Organization> orgs;
  orgs.reserve(static_cast<size_t>(rows.size()));
  for (int row = 0; row < rows.size(); ++row) {
    orgs.push_back(ReadOrganization(rows, row));
  }
  return orgs;
}

Result<Page<Organization>> PgOrganizationStore::QueryOrganizations(const OrgQuery& query) {
  const bool by_name = query.sort == OrgSort::kName;
  const bool descending = query.direction == SortDirection::kDescending;
  if (query.page.after) {
    const auto& key = query.page.after->key;
    const bool shape_ok = key.size() == 1 && (by_name ? std::holds_alternative<std::string>(key[0])
                                                      : std::holds_alternative<int64_t>(key[0]));
    if (!shape_ok) {
      return MakeError(ErrorCode::kInvalidArgument, "page position does not match the sort");
    }
  }
  const int limit =
      query.page.limit <= 0 || query.page.limit > kMaxPageLimit ? kMaxPageLimit : query.page.limit;
  // Names compare byte by byte (COLLATE "C"), as on SQLite, whatever the database's locale.
  const std::string key_sql = by_name ? "o.name COLLATE \"C\"" : "o.created_at";
  const std::string key_param = by_name ? "$5::text COLLATE \"C\"" : "$5::bigint";
  const char* op = descending ? "<" : ">";
  const char* dir = descending ? " DESC" : " ASC";
  std::string sql = kOrgColumns +
                    "WHERE ($1::text IS NULL OR strpos(lower(o.name COLLATE \"und-x-icu\"), "
                    "lower($1::text COLLATE \"und-x-icu\")) > 0) "
                    "AND ($2::text IS NULL OR o.contract_status = $2) "
                    "AND ($3::text IS NULL OR o.contract_type = $3) "
                    "AND ($4::bigint[] IS NULL OR o.id = ANY($4::bigint[])) ";
  if (query.page.after) {
    sql += "AND (" + key_sql + ", o.id) " + op + " (" + key_param + ", $6::bigint) ";
  }
  sql += "ORDER BY " + key_sql + dir + ", o.id" + dir + " LIMIT " + std::to_string(limit + 1);

  pg::Params params;
  params.Add(query.name_contains);
  params.Add(query.contract_status);
  params.Add(query.contract_type);
  if (query.visible_org_ids) {
    std::string array = "{";
    for (size_t i = 0; i < query.visible_org_ids->size(); ++i) {
      array += (i == 0 ? "" : ",") + std::to_string((*query.visible_org_ids)[i]);
    }
    params.Add(array + "}");
  } else {
    params.AddNull();
  }
  if (query.page.after) {
    const auto& key = query.page.after->key[0];
    if (by_name) {
      params.Add(std::get<std::string>(key));
    } else {
      params.Add(std::get<int64_t>(key));
    }
    params.Add(query.page.after->id);
  }
  DOZOR_ASSIGN_OR_RETURN(auto db, context_.pool.Acquire());
  DOZOR_ASSIGN_OR_RETURN(pg::Rows rows, db->Query(sql, params));
  Page<Organization> page;
  for (int row = 0; row < rows.size() && row < limit; ++row) {
    page.rows.push_back(ReadOrganization(rows, row));
  }
  if (rows.size() > limit && !page.rows.empty()) {
    const Organization& last = page.rows.back();
    PagePosition next;
    next.key.push_back(by_name ? SortKeyValue(last.name) : SortKeyValue(last.created_at_ms));
    next.id = last.id;
    page.next = std::move(next);
  }
  return page;
}

Result<Organization> PgOrganizationStore::FindOrganization(std::string_view key) {
  DOZOR_ASSIGN_OR_RETURN(auto db, context_.pool.Acquire());
  if (IsAllDigits(key)) {
    DOZOR_ASSIGN_OR_RETURN(pg::Rows by_id, db->Query(kOrgColumns + "WHERE o.id = $1",
                                                     pg::Params(std::stoll(std::string(key)))));
    if (!by_id.empty()) {
      return ReadOrganization(by_id, 0);
    }
  }
  DOZOR_ASSIGN_OR_RETURN(pg::Rows by_name,
                         db->Query(kOrgColumns + "WHERE o.name = $1", pg::Params(key)));
  if (by_name.empty()) {
    return MakeError(ErrorCode::kNotFound, "no organization '" + std::string(key) + "'");
  }
  return ReadOrganization(by_name, 0);
}

Result<Organization> PgOrganizationStore::UpdateOrganization(int64_t id,
                                                             const OrganizationPatch& patch) {
  if (patch.engineer && patch.engineer->size() > kMaxNameLength) {
    return MakeError(ErrorCode::kInvalidArgument, "engineer must be at most 200 characters");
  }
  if (patch.declared_hosts && *patch.declared_hosts &&
      (**patch.declared_hosts < 0 || **patch.declared_hosts > kMaxDeclaredHosts)) {
    return MakeError(ErrorCode::kInvalidArgument, "declared_hosts must be 0-1000000");
  }
  const int64_t now_ms = context_.clock.NowMs();
  DOZOR_RETURN_IF_ERROR(pg::InTransaction(context_.pool, [&](pg::Connection& db) -> Status {
    DOZOR_RETURN_IF_ERROR(ApplyContractMove(db, id, patch, now_ms));
    DOZOR_ASSIGN_OR_RETURN(
        int64_t changed,
        db.Run("UPDATE organizations SET contract_status = coalesce($2, contract_status), "
               "contract_type = coalesce($3, contract_type) WHERE id = $1",
               pg::Params(id, patch.contract_status, patch.contract_type)));
    if (changed == 0) {
      return MakeError(ErrorCode::kNotFound, "no organization with id " + std::to_string(id));
    }
    if (patch.declared_hosts) {
      DOZOR_RETURN_IF_ERROR(db.Run("UPDATE organizations SET declared_hosts = $2 WHERE id = $1",
                                   pg::Params(id, *patch.declared_hosts)));
    }
    if (patch.engineer) {
      DOZOR_RETURN_IF_ERROR(LinkLegacyEngineer(db, id, *patch.engineer, now_ms));
    }
    return OkStatus();
  }));
  return FindOrganization(std::to_string(id));
}

Result<std::vector<ContractEvent>> PgOrganizationStore::ListContractEvents(int64_t org_id) {
  DOZOR_ASSIGN_OR_RETURN(auto db, context_.pool.Acquire());
  DOZOR_ASSIGN_OR_RETURN(pg::Rows rows,
                         db->Query("SELECT at, actor, from_status, to_status FROM contract_events "
                                   "WHERE org_id = $1 ORDER BY at, id",
                                   pg::Params(org_id)));
  std::vector<ContractEvent> events;
  for (int row = 0; row < rows.size(); ++row) {
    ContractEvent event;
    event.at_ms = rows.Int(row, 0);
    event.actor = rows.Text(row, 1);
    event.from_status = ParseContractPhase(rows.Text(row, 2)).value_or(ContractPhase::kProspect);
    event.to_status = ParseContractPhase(rows.Text(row, 3)).value_or(ContractPhase::kProspect);
    events.push_back(std::move(event));
  }
  return events;
}

Result<AuditSnapshot> PgOrganizationStore::ReadSnapshot(pg::Connection& db, int64_t org_id,
                                                        AuditSnapshotKind kind, int64_t id,
                                                        int64_t at_ms, std::string actor) {
  AuditSnapshot snapshot;
  snapshot.id = id;
  snapshot.org_id = org_id;
  snapshot.kind = kind;
  snapshot.at_ms = at_ms;
  snapshot.actor = std::move(actor);
  DOZOR_ASSIGN_OR_RETURN(
      pg::Rows rows,
      db.Query("SELECT rule_id, target, agent_id, hostname, severity, state, object FROM "
               "audit_snapshot_findings WHERE org_id = $1 AND snapshot_id = $2 ORDER BY position",
               pg::Params(org_id, id)));
  for (int row = 0; row < rows.size(); ++row) {
    SnapshotFinding finding;
    finding.rule_id = rows.Text(row, 0);
    finding.target = rows.Text(row, 1);
    finding.agent_id = rows.Text(row, 2);
    finding.hostname = rows.Text(row, 3);
    finding.severity = ParseSeverity(rows.Text(row, 4)).value_or(Severity::kInfo);
    finding.state = ParseFindingState(rows.Text(row, 5)).value_or(FindingState::kOpen);
    finding.object = rows.Text(row, 6);
    snapshot.findings.push_back(std::move(finding));
  }
  return snapshot;
}

Result<AuditSnapshot> PgOrganizationStore::RecordAuditSnapshot(int64_t org_id,
                                                               AuditSnapshotKind kind,
                                                               std::string_view actor,
                                                               int64_t now_ms) {
  if (actor.size() > kMaxNameLength) {
    return MakeError(ErrorCode::kInvalidArgument, "actor must be at most 200 bytes");
  }
  return pg::InTransaction(context_.pool, [&](pg::Connection& db) -> Result<AuditSnapshot> {
    DOZOR_ASSIGN_OR_RETURN(
        pg::Rows exists,
        db.Query("SELECT 1 FROM organizations WHERE id = $1 FOR SHARE", pg::Params(org_id)));
    if (exists.empty()) {
      return MakeError(ErrorCode::kNotFound, "no organization with id " + std::to_string(org_id));
    }
    DOZOR_ASSIGN_OR_RETURN(int64_t id, RecordSnapshot(db, org_id, kind, actor, now_ms));
    return ReadSnapshot(db, org_id, kind, id, now_ms, ActorOr(actor, "system"));
  });
}

Result<std::optional<AuditSnapshot>> PgOrganizationStore::GetAuditSnapshot(int64_t org_id,
                                                                           AuditSnapshotKind kind) {
  DOZOR_ASSIGN_OR_RETURN(auto db, context_.pool.Acquire());
  DOZOR_ASSIGN_OR_RETURN(pg::Rows head,
                         db->Query("SELECT id, at, actor FROM audit_snapshots WHERE org_id = $1 "
                                   "AND kind = $2 ORDER BY at DESC, id DESC LIMIT 1",
                                   pg::Params(org_id, kind)));
  if (head.empty()) {
    return std::optional<AuditSnapshot>();
  }
  DOZOR_ASSIGN_OR_RETURN(AuditSnapshot snapshot, ReadSnapshot(*db, org_id, kind, head.Int(0, 0),
                                                              head.Int(0, 1), head.Text(0, 2)));
  return std::optional<AuditSnapshot>(std::move(snapshot));
}

}  // namespace dozor::server
