// SqliteStore, findings area: findings and their lifecycle, contract lifecycle and audit snapshots,
// the estate summary, rule-window pruning and the commit observer. Kept apart from
// sqlite_store.cpp (ingest and the foundation queries) because it only shares the connections.
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <exception>
#include <initializer_list>
#include <unordered_set>

#include "store/sqlite/keyset_query.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "store/sqlite/sqlite_store_internal.hpp"
#include "store/sqlite/statement_helpers.hpp"
#include "store/sqlite/store_rows.hpp"

namespace dozor::server {

using namespace sqlite_store_internal;  // NOLINT(google-build-using-namespace)

namespace {

constexpr int kMaxFindingList = 100000;
// Agents per pruning transaction: ingest batches interleave between chunks.
constexpr size_t kPruneAgentsPerTxn = 200;

// The select list and FROM apart, so a keyset page can add its key columns between.
constexpr const char* kFindingSelect =
    "SELECT f.id, f.rule_id, f.org_id, coalesce(o.name, ''), coalesce(a.agent_id, ''), "
    "coalesce(a.hostname, ''), f.target, f.severity, f.category, f.state, f.first_seen, "
    "f.last_seen, f.state_changed_at, f.resolved_at, f.evidence, f.ack_by, f.ack_comment, "
    "f.waived_by, f.waive_reason, f.waived_until, f.regressions, f.verify_requested_at, "
    "f.verify_requested_by, f.object";
constexpr int kFindingColumnCount = 24;
constexpr const char* kFindingFrom =
    " FROM findings f "
    "LEFT JOIN organizations o ON o.id = f.org_id LEFT JOIN agents a ON a.id = f.agent ";
const std::string kFindingColumns = std::string(kFindingSelect) + kFindingFrom;

constexpr const char* kSeverityRankSql =
    "CASE f.severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 "
    "WHEN 'low' THEN 3 ELSE 4 END";

KeysetOrder FindingOrder(FindingSort sort, SortDirection direction) {
  switch (sort) {
    case FindingSort::kOpened:
      return {{{"f.first_seen", false}}, "f.id", direction};
    case FindingSort::kLastSeen:
      return {{{"f.last_seen", false}}, "f.id", direction};
    case FindingSort::kHost:
      return {{{"coalesce(a.hostname, '')", true}}, "f.id", direction};
    case FindingSort::kSeverity:
      break;
  }
  return {{{kSeverityRankSql, false}, {"f.first_seen", false}}, "f.id", direction};
}

// The page's filters: ?1 org, ?2 agent id, ?3 states, ?4 severities, ?5 rule, ?6 visible
// organisations, ?7 last seen since, ?8 categories, ?9 assigned user; the keyset condition and
// LIMIT follow.
constexpr int kFindingFilterParams = 9;
// Only the filters given appear (WhereOf), so an organisation's page walks findings_org_state, a
// host's findings_agent, a client's or engineer's visible organisations (and an engineer filter's
// assignments, through org_assignments_user) the same index.
std::string FindingFilters(const FindingFilter& filter, bool last_seen_since) {
  return WhereOf(
      {{filter.org_id.has_value(), "f.org_id = ?1"},
       {filter.agent_id.has_value(), "f.agent = (SELECT id FROM agents WHERE agent_id = ?2)"},
       {!filter.states.empty(), "instr(?3, ',' || f.state || ',') > 0"},
       {!filter.severities.empty(), "instr(?4, ',' || f.severity || ',') > 0"},
       {filter.rule_id.has_value(), "f.rule_id = ?5"},
       {filter.visible_org_ids.has_value(), "f.org_id IN (SELECT value FROM json_each(?6))"},
       {last_seen_since, "f.last_seen >= ?7"},
       {!filter.categories.empty(), "f.category IN (SELECT value FROM json_each(?8))"},
       {filter.assigned_user_id.has_value(),
        "f.org_id IN (SELECT org_id FROM org_assignments WHERE user_id = ?9)"}});
}

Finding ReadFinding(const sqlite::Statement& s) {
  Finding f;
  f.id = s.Int(0);
  f.rule_id = s.Text(1);
  f.org_id = s.Int(2);
  f.org_name = s.Text(3);
  f.agent_id = s.Text(4);
  f.hostname = s.Text(5);
  f.target = s.Text(6);
  f.severity = ParseSeverity(s.Text(7)).value_or(Severity::kInfo);
  f.category = s.Text(8);
  f.state = ParseFindingState(s.Text(9)).value_or(FindingState::kOpen);
  f.first_seen_ms = s.Int(10);
  f.last_seen_ms = s.Int(11);
  f.state_changed_ms = s.Int(12);
  f.resolved_at_ms = OptionalInt(s, 13);
  f.evidence_json = s.Text(14);
  f.ack_by = s.Text(15);
  f.ack_comment = s.Text(16);
  f.waived_by = s.Text(17);
  f.waive_reason = s.Text(18);
  f.waived_until_ms = OptionalInt(s, 19);
  f.regressions = s.Int(20);
  f.verify_requested_at_ms = OptionalInt(s, 21);
  f.verify_requested_by = s.Text(22);
  f.object = s.Text(23);
  return f;
}

FindingEvent ReadFindingEvent(const sqlite::Statement& s) {
  FindingEvent event;
  event.id = s.Int(0);
  event.finding_id = s.Int(1);
  event.at_ms = s.Int(2);
  event.actor = s.Text(3);
  event.kind = ParseFindingEventKind(s.Text(4)).value_or(FindingEventKind::kComment);
  event.from_state = ParseFindingState(s.Text(5));  // '' for an opened finding
  event.to_state = ParseFindingState(s.Text(6)).value_or(FindingState::kOpen);
  event.comment = s.Text(7);
  return event;
}

SnapshotFinding ReadSnapshotFinding(const sqlite::Statement& s) {
  return SnapshotFinding{s.Text(0),
                         s.Text(1),
                         s.Text(2),
                         s.Text(3),
                         ParseSeverity(s.Text(4)).value_or(Severity::kInfo),
                         ParseFindingState(s.Text(5)).value_or(FindingState::kOpen),
                         s.Text(6)};
}

// Columns of kStateColumns, the part of a finding the lifecycle decides on.
constexpr const char* kStateColumns =
    "SELECT id, rule_id, target, state, waived_by <> '', waived_until, object FROM findings ";

FindingStateRow ReadStateRow(const sqlite::Statement& s) {
  FindingStateRow row;
  row.id = s.Int(0);
  row.rule_id = s.Text(1);
  row.target = s.Text(2);
  row.state = ParseFindingState(s.Text(3)).value_or(FindingState::kOpen);
  row.waived_by_someone = s.Int(4) != 0;
  row.waived_until_ms = OptionalInt(s, 5);
  row.object = s.Text(6);
  return row;
}

ContractEvent ReadContractEvent(const sqlite::Statement& s) {
  return ContractEvent{s.Int(0), s.Text(1),
                       ParseContractPhase(s.Text(2)).value_or(ContractPhase::kProspect),
                       ParseContractPhase(s.Text(3)).value_or(ContractPhase::kProspect)};
}

template <typename Enum>
std::string Joined(const std::vector<Enum>& items) {
  std::string out;
  for (const auto& item : items) {
    out += ',';
    out += ToString(item);
  }
  if (!out.empty()) {
    out += ',';
  }
  return out;
}

// ?1..?9 of FindingFilters.
void BindFindingFilters(sqlite::Statement& s, const FindingFilter& filter,
                        const std::optional<int64_t>& last_seen_since_ms) {
  BindAll(s, filter.org_id, filter.agent_id, Joined(filter.states), Joined(filter.severities),
          filter.rule_id, IdJsonArray(filter.visible_org_ids), last_seen_since_ms,
          TextJsonArray(filter.categories), filter.assigned_user_id);
}

}  // namespace

struct SqliteStore::FindingStatements {
  // Writer connection (write_mu_).
  sqlite::Statement by_rule, by_agent, by_org, insert, touch, regress, resolve, adopt_object,
      event_insert;
  sqlite::Statement feed_insert, feed_contract;
  sqlite::Statement waived_due, waive_expire, active_all;
  sqlite::Statement w_finding, ack, waive, unwaive;
  sqlite::Statement org_status, contract_event, w_contract_events, latest_first_audit;
  sqlite::Statement snapshot_insert, snapshot_fill;
  sqlite::Statement prune_agents, prune_newest, prune_host, prune_fs, prune_nic, prune_trend;
};

void SqliteStore::FindingStatementsDeleter::operator()(FindingStatements* statements) const {
  delete statements;
}

Status SqliteStore::PrepareFindingStatements() {
  fs_.reset(new FindingStatements());
  FindingStatements& f = *fs_;
  static const std::string finding_by_id = std::string(kFindingColumns) + "WHERE f.id = ?";
  static const std::string state_by_rule = std::string(kStateColumns) + "WHERE rule_id = ?";
  static const std::string state_by_agent = std::string(kStateColumns) + "WHERE agent = ?";
  static const std::string state_by_org =
      std::string(kStateColumns) + "WHERE org_id = ? AND agent IS NULL";
  static const std::string state_waived_due =
      std::string(kStateColumns) + "WHERE state = 'waived' AND waived_until <= ?";
  static const std::string state_active =
      std::string(kStateColumns) + "WHERE state IN ('open', 'acknowledged', 'regressed', 'waived')";
  DOZOR_RETURN_IF_ERROR(PrepareAll(
      writer_,
      {
          {&f.by_rule, state_by_rule.c_str()},
          {&f.by_agent, state_by_agent.c_str()},
          {&f.by_org, state_by_org.c_str()},
          {&f.insert,
           "INSERT INTO findings(rule_id, org_id, agent, target, severity, category, state, "
           "first_seen, last_seen, state_changed_at, evidence, object) "
           "VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'open', ?7, ?7, ?7, ?8, ?9)"},
          {&f.touch,
           "UPDATE findings SET last_seen = ?2, evidence = ?3, severity = ?4, category = ?5 "
           "WHERE id = ?1"},
          {&f.regress,
           "UPDATE findings SET state = ?6, last_seen = ?2, state_changed_at = ?2, "
           "resolved_at = NULL, evidence = ?3, severity = ?4, category = ?5, "
           "regressions = regressions + 1 WHERE id = ?1"},
          {&f.adopt_object, "UPDATE findings SET object = ?2 WHERE id = ?1"},
          {&f.resolve,
           "UPDATE findings SET state = 'resolved', state_changed_at = ?2, resolved_at = ?2 "
           "WHERE id = ?1"},
          {&f.event_insert,
           "INSERT INTO finding_events(finding_id, at, actor, kind, from_state, to_state, "
           "comment) VALUES (?, ?, ?, ?, ?, ?, ?)"},
          {&f.feed_insert,
           "INSERT INTO events(at, kind, org_id, agent_id, finding_id, actor, detail) "
           "SELECT ?1, ?2, f.org_id, coalesce(a.agent_id, ''), f.id, ?3, ?4 FROM findings f "
           "LEFT JOIN agents a ON a.id = f.agent WHERE f.id = ?5"},
          {&f.feed_contract,
           "INSERT INTO events(at, kind, org_id, actor, detail) "
           "VALUES (?1, 'contract_moved', ?2, ?3, ?4)"},
          {&f.waived_due, state_waived_due.c_str()},
          {&f.waive_expire,
           "UPDATE findings SET state = 'open', state_changed_at = ?2 WHERE id = ?1"},
          {&f.active_all, state_active.c_str()},
          {&f.w_finding, finding_by_id.c_str()},
          {&f.ack,
           "UPDATE findings SET state = 'acknowledged', state_changed_at = ?2, ack_by = ?3, "
           "ack_comment = ?4 WHERE id = ?1"},
          {&f.waive,
           "UPDATE findings SET state = 'waived', state_changed_at = ?2, waived_by = ?3, "
           "waive_reason = ?4, waived_until = ?5 WHERE id = ?1"},
          {&f.unwaive,
           "UPDATE findings SET state = 'open', state_changed_at = ?2, waived_by = '', "
           "waive_reason = '', waived_until = NULL WHERE id = ?1"},
          {&f.org_status, "SELECT contract_status FROM organizations WHERE id = ?"},
          {&f.contract_event,
           "INSERT INTO contract_events(org_id, at, actor, from_status, to_status) "
           "VALUES (?, ?, ?, ?, ?)"},
          {&f.w_contract_events,
           "SELECT at, actor, from_status, to_status FROM contract_events WHERE org_id = ? "
           "ORDER BY at, id"},
          {&f.latest_first_audit,
           "SELECT max(at) FROM audit_snapshots WHERE org_id = ? AND kind = 'first-audit'"},
          {&f.snapshot_insert,
           "INSERT INTO audit_snapshots(org_id, kind, at, actor) VALUES (?, ?, ?, ?)"},
          {&f.snapshot_fill,
           "INSERT INTO audit_snapshot_findings(snapshot_id, rule_id, target, agent_id, hostname, "
           "severity, state, object) SELECT ?1, f.rule_id, f.target, coalesce(a.agent_id, ''), "
           "coalesce(a.hostname, ''), f.severity, f.state, f.object FROM findings f "
           "LEFT JOIN agents a ON a.id = f.agent WHERE f.org_id = ?2 "
           "AND f.state IN ('open', 'acknowledged', 'regressed', 'waived') ORDER BY f.id"},
          {&f.prune_agents, "SELECT id FROM agents ORDER BY id"},
          {&f.prune_newest, "SELECT max(at) FROM rule_health_host WHERE agent = ?"},
          {&f.prune_host, "DELETE FROM rule_health_host WHERE agent = ? AND at < ?"},
          {&f.prune_fs, "DELETE FROM rule_health_fs WHERE agent = ? AND at < ?"},
          {&f.prune_nic, "DELETE FROM rule_health_nic WHERE agent = ? AND at < ?"},
          {&f.prune_trend, "DELETE FROM rule_fs_trend WHERE agent = ? AND hour < ?"},
      }));
  return OkStatus();
}

Status PrepareFindingReaderStatements(sqlite::Database& db, FindingReaderStatements& f) {
  static const std::string finding_by_id = std::string(kFindingColumns) + "WHERE f.id = ?";
  return PrepareAll(
      db,
      {
          {&f.r_finding, finding_by_id.c_str()},
          {&f.r_events,
           "SELECT id, finding_id, at, actor, kind, from_state, to_state, comment "
           "FROM finding_events WHERE finding_id = ? ORDER BY at, id"},
          {&f.r_contract_events,
           "SELECT at, actor, from_status, to_status FROM contract_events WHERE org_id = ? "
           "ORDER BY at, id"},
          {&f.r_snapshot,
           "SELECT id, at, actor FROM audit_snapshots WHERE org_id = ? AND kind = ? "
           "ORDER BY at DESC, id DESC LIMIT 1"},
          {&f.r_snapshot_rows,
           "SELECT rule_id, target, agent_id, hostname, severity, state, object "
           "FROM audit_snapshot_findings WHERE snapshot_id = ? ORDER BY rowid"},
          {&f.r_estate_hosts,
           "SELECT a.id, a.agent_id, coalesce(nullif(os.hostname, ''), a.hostname), "
           "coalesce(os.pretty_name, ''), coalesce(os.family, ''), coalesce(os.os_id, ''), "
           "coalesce(os.version_id, ''), coalesce(os.role, 'server'), "
           "coalesce(hw.cpu_model, ''), coalesce(hw.cpu_cores, 0), "
           "coalesce(hw.memory_total_bytes, 0), coalesce(hw.system_vendor, ''), "
           "coalesce(hw.system_model, ''), coalesce(hw.bios_date, ''), "
           "coalesce(hw.virtual_machine, 0), "
           "(SELECT coalesce(sum(d.size_bytes), 0) FROM host_disks d "
           " WHERE d.agent = a.id AND d.removable = 0), "
           "a.last_seen, a.last_inventory_at, a.agent_version, "
           "(SELECT count(*) FROM host_packages p WHERE p.agent = a.id), "
           "coalesce(os.duties, ''), coalesce(hw.smartctl_available, 0), "
           "(SELECT count(*) FROM host_disks d WHERE d.agent = a.id AND d.removable = 0) "
           "FROM agents a LEFT JOIN host_os os ON os.agent = a.id "
           "LEFT JOIN host_hardware hw ON hw.agent = a.id "
           "WHERE a.org_id = ? AND a.revoked_at IS NULL ORDER BY 3, a.agent_id"},
          {&f.r_estate_addresses,
           "SELECT h.agent, h.address FROM host_addresses h JOIN agents a ON a.id = h.agent "
           "WHERE h.loopback = 0 AND a.org_id = ? AND a.revoked_at IS NULL "
           "ORDER BY h.agent, h.rowid"},
          {&f.r_estate_gaps,
           "SELECT u.agent, u.part, u.note FROM host_unavailable u JOIN agents a ON a.id = u.agent "
           "WHERE a.org_id = ? AND a.revoked_at IS NULL "
           "UNION ALL "
           "SELECT c.agent, 'collector:' || c.name, c.error FROM host_collectors c "
           "JOIN agents a ON a.id = c.agent "
           "WHERE c.ok = 0 AND a.org_id = ? AND a.revoked_at IS NULL ORDER BY 1, 2"},
          {&f.r_estate_apps,
           "SELECT ha.name, ha.version, ha.kind, count(DISTINCT ha.agent) "
           "FROM host_applications ha JOIN agents a ON a.id = ha.agent "
           "WHERE a.org_id = ? AND a.revoked_at IS NULL "
           "GROUP BY ha.name, ha.version, ha.kind ORDER BY ha.name, ha.version, ha.kind"},
          {&f.r_package_hosts,
           "SELECT count(DISTINCT p.agent) FROM host_packages p JOIN agents a ON a.id = p.agent "
           "WHERE p.name = ? AND a.org_id = ? AND a.revoked_at IS NULL"},
          {&f.r_live_hosts, "SELECT id, org_id FROM agents WHERE revoked_at IS NULL ORDER BY id"},
          {&f.r_host_pk, "SELECT id FROM agents WHERE agent_id = ?"},
      });
}

// ------------------------------------------------------------------ findings: engine side

Status SqliteStore::AddFindingEventLocked(int64_t finding_id, int64_t at_ms, std::string_view actor,
                                          FindingEventKind kind,
                                          std::optional<FindingState> from_state,
                                          FindingState to_state, std::string_view comment) {
  // An opened finding has no previous state; the column holds '' for it, never NULL.
  std::string_view from = from_state ? ToString(*from_state) : std::string_view("");
  DOZOR_RETURN_IF_ERROR(
      RunWith(fs_->event_insert, finding_id, at_ms, actor, kind, from, to_state, comment));
  // The feed gets every finding event, in the same transaction (a reader never sees one without
  // the other).
  return RunWith(fs_->feed_insert, at_ms, "finding_" + std::string(ToString(kind)), actor, comment,
                 finding_id);
}

Status SqliteStore::ApplyFindingMutationsLocked(const std::vector<FindingMutation>& mutations,
                                                const std::vector<std::string>& evidence,
                                                int64_t now_ms, FindingsChange* change) {
  FindingStatements& f = *fs_;
  for (const FindingMutation& m : mutations) {
    int64_t id = m.finding_id;
    if (m.adopt_object) {
      DOZOR_RETURN_IF_ERROR(RunWith(f.adopt_object, id, *m.adopt_object));
    }
    switch (m.kind) {
      case FindingMutationKind::kOpen:
        DOZOR_RETURN_IF_ERROR(RunWith(f.insert, m.rule_id, m.org_id, m.host_pk, m.target,
                                      m.meta.severity, m.meta.category, now_ms,
                                      evidence.at(m.hit_index), m.object));
        id = writer_.LastInsertRowId();
        change->opened_or_regressed_ids.push_back(id);
        break;
      case FindingMutationKind::kTouch:
        DOZOR_RETURN_IF_ERROR(RunWith(f.touch, id, now_ms, evidence.at(m.hit_index),
                                      m.meta.severity, m.meta.category));
        continue;  // no event: the finding only got fresher evidence
      case FindingMutationKind::kRegress:
        DOZOR_RETURN_IF_ERROR(RunWith(f.regress, id, now_ms, evidence.at(m.hit_index),
                                      m.meta.severity, m.meta.category, m.to));
        change->opened_or_regressed_ids.push_back(id);
        break;
      case FindingMutationKind::kResolve:
        DOZOR_RETURN_IF_ERROR(RunWith(f.resolve, id, now_ms));
        break;
      case FindingMutationKind::kExpireWaiver:
        DOZOR_RETURN_IF_ERROR(RunWith(f.waive_expire, id, now_ms));
        break;
    }
    DOZOR_RETURN_IF_ERROR(
        AddFindingEventLocked(id, now_ms, "system", m.event, m.from, m.to, m.comment));
  }
  return OkStatus();
}

Result<int64_t> SqliteStore::ExpireWaiversLocked(int64_t now_ms) {
  DOZOR_ASSIGN_OR_RETURN(auto due, ReadAll(BindAll(fs_->waived_due, now_ms), ReadStateRow));
  std::vector<FindingMutation> mutations = PlanWaiverExpiry(due, now_ms);
  FindingsChange ignored;
  DOZOR_RETURN_IF_ERROR(ApplyFindingMutationsLocked(mutations, {}, now_ms, &ignored));
  return static_cast<int64_t>(mutations.size());
}

Result<int64_t> SqliteStore::ExpireWaivers(int64_t now_ms) {
  std::lock_guard lock(write_mu_);
  sqlite::Transaction txn(writer_);
  DOZOR_RETURN_IF_ERROR(txn.Begin());
  DOZOR_ASSIGN_OR_RETURN(int64_t expired, ExpireWaiversLocked(now_ms));
  DOZOR_RETURN_IF_ERROR(txn.Commit());
  return expired;
}

Result<FindingsChange> SqliteStore::ApplyEvaluation(const EvaluationInput& input, int64_t now_ms) {
  EvaluationScope scope = ScopeOf(input);
  // Evidence is bounded outside the lock (it may parse a large JSON document).
  std::vector<std::string> evidence(input.hits.size());
  for (size_t i = 0; i < input.hits.size(); ++i) {
    evidence[i] = BoundedEvidence(input.hits[i].evidence_json);
  }
  std::lock_guard lock(write_mu_);
  FindingStatements& f = *fs_;
  sqlite::Transaction txn(writer_);
  DOZOR_RETURN_IF_ERROR(txn.Begin());
  // Expired waivers first, so the findings loaded below are in their state after expiry.
  DOZOR_ASSIGN_OR_RETURN(int64_t waivers_expired, ExpireWaiversLocked(now_ms));

  // Stored findings of the rules x targets: one query per target or per rule, whichever means
  // fewer queries (a single host: one; a full evaluation: one per rule). PlanEvaluation ignores
  // the rows of other pairs.
  std::vector<FindingStateRow> existing;
  auto collect = [&](const sqlite::Statement& s) { existing.push_back(ReadStateRow(s)); };
  if (scope.targets.size() <= scope.rule_ids.size()) {
    for (int64_t target : scope.targets) {
      auto& query = input.host_scope ? BindAll(f.by_agent, target) : BindAll(f.by_org, target);
      DOZOR_RETURN_IF_ERROR(ForEachRow(query, collect));
    }
  } else {
    for (const auto& rule_id : scope.rule_ids) {
      DOZOR_RETURN_IF_ERROR(ForEachRow(BindAll(f.by_rule, rule_id), collect));
    }
  }
  std::vector<FindingMutation> mutations = PlanEvaluation(input, existing, now_ms);
  FindingsChange change = CountMutations(mutations);
  change.waivers_expired = waivers_expired;
  DOZOR_RETURN_IF_ERROR(ApplyFindingMutationsLocked(mutations, evidence, now_ms, &change));
  DOZOR_RETURN_IF_ERROR(ConcludeVerificationsLocked(input, now_ms));
  DOZOR_RETURN_IF_ERROR(txn.Commit());
  return change;
}

Status SqliteStore::ConcludeVerificationsLocked(const EvaluationInput& input, int64_t now_ms) {
  // Pending requests are few (people ask them): one query over the partial set, filtered here.
  DOZOR_ASSIGN_OR_RETURN(
      auto pending,
      writer_.Prepare(
          "SELECT f.id, f.rule_id, f.org_id, f.agent, f.state, f.verify_requested_by "
          "FROM findings f LEFT JOIN agents a ON a.id = f.agent "
          "WHERE f.verify_requested_at IS NOT NULL AND "
          "(CASE WHEN f.agent IS NULL THEN EXISTS (SELECT 1 FROM agents x WHERE x.org_id = "
          "f.org_id AND x.last_inventory_at > f.verify_requested_at) "
          "ELSE a.last_inventory_at > f.verify_requested_at END)"));
  struct Pending {
    int64_t id;
    std::string rule_id;
    int64_t org_id;
    std::optional<int64_t> agent;
    FindingState state;
    std::string asked_by;
  };
  DOZOR_ASSIGN_OR_RETURN(auto rows, ReadAll(pending, [](const sqlite::Statement& s) {
                           return Pending{
                               s.Int(0),
                               s.Text(1),
                               s.Int(2),
                               OptionalInt(s, 3),
                               ParseFindingState(s.Text(4)).value_or(FindingState::kOpen),
                               s.Text(5)};
                         }));
  if (rows.empty()) {
    return OkStatus();
  }
  DOZOR_ASSIGN_OR_RETURN(auto clear,
                         writer_.Prepare("UPDATE findings SET verify_requested_at = NULL, "
                                         "verify_requested_by = '' WHERE id = ?"));
  for (const auto& row : rows) {
    const bool rule_covered = std::find(input.rule_ids.begin(), input.rule_ids.end(),
                                        row.rule_id) != input.rule_ids.end();
    const int64_t target_key = input.host_scope ? row.agent.value_or(-1) : row.org_id;
    const bool target_covered =
        (input.host_scope == row.agent.has_value()) &&
        std::find(input.targets.begin(), input.targets.end(), target_key) != input.targets.end();
    if (!rule_covered || !target_covered) {
      continue;
    }
    const std::string asked = row.asked_by.empty() ? std::string("someone") : row.asked_by;
    if (row.state == FindingState::kResolved) {
      DOZOR_RETURN_IF_ERROR(AddFindingEventLocked(
          row.id, now_ms, "system", FindingEventKind::kVerifyConfirmed, row.state, row.state,
          "fixed: a fresh collection no longer shows it (verification asked by " + asked + ")"));
    } else {
      DOZOR_RETURN_IF_ERROR(AddFindingEventLocked(
          row.id, now_ms, "system", FindingEventKind::kVerifyFailed, row.state, row.state,
          "still present after a fresh collection (verification asked by " + asked +
              "); the evidence is updated"));
    }
    DOZOR_RETURN_IF_ERROR(RunWith(clear, row.id));
  }
  return OkStatus();
}

Result<int64_t> SqliteStore::ResolveFindingsOfRemovedRules(
    const std::vector<std::string>& live_rule_ids, int64_t now_ms) {
  std::lock_guard lock(write_mu_);
  sqlite::Transaction txn(writer_);
  DOZOR_RETURN_IF_ERROR(txn.Begin());
  DOZOR_ASSIGN_OR_RETURN(auto active, ReadAll(fs_->active_all, ReadStateRow));
  std::vector<FindingMutation> mutations = PlanResolveRemovedRules(active, live_rule_ids);
  FindingsChange ignored;
  DOZOR_RETURN_IF_ERROR(ApplyFindingMutationsLocked(mutations, {}, now_ms, &ignored));
  DOZOR_RETURN_IF_ERROR(txn.Commit());
  return static_cast<int64_t>(mutations.size());
}

// ------------------------------------------------------------------ findings: queries

Result<std::vector<Finding>> SqliteStore::ListFindings(const FindingFilter& filter) {
  const int64_t limit =
      filter.limit <= 0 || filter.limit > kMaxFindingList ? kMaxFindingList : filter.limit;
  const std::string sql = kFindingColumns + FindingFilters(filter, false) + " ORDER BY " +
                          kSeverityRankSql + ", f.first_seen, f.id LIMIT ?" +
                          std::to_string(kFindingFilterParams + 1);
  ReaderLease reader = AcquireReader();
  DOZOR_ASSIGN_OR_RETURN(sqlite::Statement * s, reader->Cached(sql));
  BindFindingFilters(*s, filter, std::nullopt);
  s->Bind(kFindingFilterParams + 1, limit);
  return ReadAll(*s, ReadFinding);
}

Result<Page<Finding>> SqliteStore::QueryFindings(const FindingQuery& query) {
  const KeysetOrder order = FindingOrder(query.sort, query.direction);
  if (query.page.after) {
    DOZOR_RETURN_IF_ERROR(CheckPosition(order, *query.page.after));
  }
  const int limit = query.page.limit <= 0 || query.page.limit > kMaxFindingList ? kMaxFindingList
                                                                                : query.page.limit;
  const FindingFilter& filter = query.filter;
  std::string sql = std::string(kFindingSelect) + KeysetSelect(order) + kFindingFrom +
                    FindingFilters(filter, query.last_seen_since_ms.has_value());
  int next_param = kFindingFilterParams + 1;
  if (query.page.after) {
    sql += KeysetAfter(order, next_param);
    next_param += KeysetParamCount(order);
  }
  sql += KeysetOrderBy(order, next_param);
  ReaderLease reader = AcquireReader();
  DOZOR_ASSIGN_OR_RETURN(sqlite::Statement * s, reader->Cached(sql));
  BindFindingFilters(*s, filter, query.last_seen_since_ms);
  if (query.page.after) {
    BindPosition(*s, *query.page.after, kFindingFilterParams + 1);
  }
  s->Bind(next_param, static_cast<int64_t>(limit) + 1);
  return ReadPage(*s, order, kFindingColumnCount, limit, ReadFinding);
}

Result<Finding> SqliteStore::GetFinding(int64_t id) {
  ReaderLease reader = AcquireReader();
  return ReadOne(BindAll(reader->fr.r_finding, id), ReadFinding, [&] {
    return MakeError(ErrorCode::kNotFound, "no finding with id " + std::to_string(id));
  });
}

Result<std::vector<FindingEvent>> SqliteStore::ListFindingEvents(int64_t finding_id) {
  ReaderLease reader = AcquireReader();
  return ReadAll(BindAll(reader->fr.r_events, finding_id), ReadFindingEvent);
}

// ------------------------------------------------------------------ findings: people

Result<Finding> SqliteStore::ReadFindingLocked(int64_t id) {
  return ReadOne(BindAll(fs_->w_finding, id), ReadFinding, [&] {
    return MakeError(ErrorCode::kNotFound, "no finding with id " + std::to_string(id));
  });
}

// One transaction: read the finding, let the domain decide the transition, write it and its
// event, and return the finding as it is afterwards.
Result<Finding> SqliteStore::ApplyPeopleAction(int64_t id, const PeopleRequest& request) {
  // Refused before the transaction: a bad request never takes the write lock.
  DOZOR_RETURN_IF_ERROR(ValidatePeopleRequest(request));
  std::lock_guard lock(write_mu_);
  sqlite::Transaction txn(writer_);
  DOZOR_RETURN_IF_ERROR(txn.Begin());
  DOZOR_ASSIGN_OR_RETURN(Finding before, ReadFindingLocked(id));
  DOZOR_ASSIGN_OR_RETURN(PeopleTransition t, PlanPeopleAction(id, before.state, request));
  const int64_t now_ms = request.now_ms;
  switch (request.action) {
    case PeopleAction::kAcknowledge:
      DOZOR_RETURN_IF_ERROR(RunWith(fs_->ack, id, now_ms, t.actor, t.comment));
      break;
    case PeopleAction::kWaive:
      DOZOR_RETURN_IF_ERROR(RunWith(fs_->waive, id, now_ms, t.actor, t.comment, request.until_ms));
      break;
    case PeopleAction::kUnwaive:
      DOZOR_RETURN_IF_ERROR(RunWith(fs_->unwaive, id, now_ms));
      break;
    case PeopleAction::kComment:
      break;
  }
  DOZOR_RETURN_IF_ERROR(
      AddFindingEventLocked(id, now_ms, t.actor, t.event, before.state, t.to, t.comment));
  DOZOR_ASSIGN_OR_RETURN(Finding after, ReadFindingLocked(id));
  DOZOR_RETURN_IF_ERROR(txn.Commit());
  return after;
}

Result<Finding> SqliteStore::AcknowledgeFinding(int64_t id, std::string_view actor,
                                                std::string_view comment, int64_t now_ms) {
  return ApplyPeopleAction(
      id, PeopleRequest{PeopleAction::kAcknowledge, actor, comment, std::nullopt, now_ms});
}

Result<Finding> SqliteStore::WaiveFinding(int64_t id, std::string_view actor,
                                          std::string_view reason, std::optional<int64_t> until_ms,
                                          int64_t now_ms) {
  return ApplyPeopleAction(id,
                           PeopleRequest{PeopleAction::kWaive, actor, reason, until_ms, now_ms});
}

Result<Finding> SqliteStore::UnwaiveFinding(int64_t id, std::string_view actor,
                                            std::string_view comment, int64_t now_ms) {
  return ApplyPeopleAction(
      id, PeopleRequest{PeopleAction::kUnwaive, actor, comment, std::nullopt, now_ms});
}

Result<Finding> SqliteStore::CommentFinding(int64_t id, std::string_view actor,
                                            std::string_view comment, int64_t now_ms) {
  return ApplyPeopleAction(
      id, PeopleRequest{PeopleAction::kComment, actor, comment, std::nullopt, now_ms});
}

namespace {
constexpr int64_t kVerifyRepeatMs = 10 * 60'000;
}  // namespace

Result<Finding> SqliteStore::RequestVerification(int64_t id, std::string_view actor,
                                                 std::string_view comment, int64_t now_ms) {
  if (actor.empty() || comment.size() > 4096) {
    return MakeError(ErrorCode::kInvalidArgument, "actor required; comment at most 4096 bytes");
  }
  std::lock_guard lock(write_mu_);
  sqlite::Transaction txn(writer_);
  DOZOR_RETURN_IF_ERROR(txn.Begin());
  DOZOR_ASSIGN_OR_RETURN(Finding before, ReadFindingLocked(id));
  if (before.state == FindingState::kResolved) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     "finding " + std::to_string(id) + " is already resolved");
  }
  // One pending request at a time: each asks every connected host concerned to collect now, so
  // repeating it would only load the client's machines. A request whose host never reported
  // back (offline) may be repeated after a while.
  if (before.verify_requested_at_ms && now_ms - *before.verify_requested_at_ms < kVerifyRepeatMs) {
    return MakeError(
        ErrorCode::kFailedPrecondition,
        "a verification of finding " + std::to_string(id) + " asked by " +
            before.verify_requested_by +
            " is pending; the host's next inventory decides it (ask again in " +
            std::to_string((kVerifyRepeatMs - (now_ms - *before.verify_requested_at_ms) + 59'999) /
                           60'000) +
            " min if it never comes)");
  }
  DOZOR_ASSIGN_OR_RETURN(auto mark, writer_.Prepare("UPDATE findings SET verify_requested_at = ?2, "
                                                    "verify_requested_by = ?3 WHERE id = ?1"));
  DOZOR_RETURN_IF_ERROR(RunWith(mark, id, now_ms, actor));
  DOZOR_RETURN_IF_ERROR(AddFindingEventLocked(id, now_ms, actor, FindingEventKind::kVerifyRequested,
                                              before.state, before.state, comment));
  DOZOR_ASSIGN_OR_RETURN(Finding after, ReadFindingLocked(id));
  DOZOR_RETURN_IF_ERROR(txn.Commit());
  return after;
}

Result<std::vector<ActiveFindingCount>> SqliteStore::CountActiveFindings(
    const std::optional<std::vector<int64_t>>& org_ids) {
  // The state list and GROUP BY match the partial index findings_active (migration 010), so the
  // count reads that index alone and in order.
  const std::string sql =
      "SELECT f.org_id, coalesce(a.agent_id, ''), f.rule_id, f.severity, count(*) "
      "FROM findings f LEFT JOIN agents a ON a.id = f.agent" +
      WhereOf({{true, "f.state IN ('open', 'acknowledged', 'regressed')"},
               {org_ids.has_value(), "f.org_id IN (SELECT value FROM json_each(?1))"}}) +
      " GROUP BY f.org_id, f.agent, f.rule_id, f.severity";
  ReaderLease reader = AcquireReader();
  DOZOR_ASSIGN_OR_RETURN(sqlite::Statement * select, reader->Cached(sql));
  if (org_ids) {
    BindAll(*select, IdJsonArray(org_ids));
  }
  return ReadAll(*select, [](const sqlite::Statement& s) {
    ActiveFindingCount row;
    row.org_id = s.Int(0);
    row.agent_id = s.Text(1);
    row.rule_id = s.Text(2);
    row.severity = ParseSeverity(s.Text(3)).value_or(Severity::kInfo);
    row.count = s.Int(4);
    return row;
  });
}

Result<std::vector<FindingTimeline>> SqliteStore::ListFindingTimelines(int64_t org_id) {
  ReaderLease reader = AcquireReader();
  sqlite::ReadTransaction txn(reader->db);
  DOZOR_RETURN_IF_ERROR(txn.Begin());
  DOZOR_ASSIGN_OR_RETURN(
      sqlite::Statement * select,
      reader->Cached("SELECT f.id, f.rule_id, coalesce(a.agent_id, ''), f.severity, f.state, "
                     "f.first_seen FROM findings f LEFT JOIN agents a ON a.id = f.agent "
                     "WHERE f.org_id = ? ORDER BY f.id LIMIT ?"));
  std::vector<FindingTimeline> timelines;
  std::unordered_map<int64_t, size_t> index_by_id;
  DOZOR_RETURN_IF_ERROR(
      ForEachRow(BindAll(*select, org_id, kMaxFindingTimelines), [&](const sqlite::Statement& s) {
        FindingTimeline timeline;
        timeline.id = s.Int(0);
        timeline.rule_id = s.Text(1);
        timeline.agent_id = s.Text(2);
        timeline.severity = ParseSeverity(s.Text(3)).value_or(Severity::kInfo);
        timeline.state = ParseFindingState(s.Text(4)).value_or(FindingState::kOpen);
        timeline.first_seen_ms = s.Int(5);
        index_by_id[timeline.id] = timelines.size();
        timelines.push_back(std::move(timeline));
      }));
  // Events that keep the state (comments, verification requests, accepted waivers) are not
  // changes; an opened finding's from_state is '' and so always differs.
  DOZOR_ASSIGN_OR_RETURN(sqlite::Statement * events,
                         reader->Cached("SELECT e.finding_id, e.at, e.to_state FROM findings f "
                                        "JOIN finding_events e ON e.finding_id = f.id "
                                        "WHERE f.org_id = ? AND e.from_state <> e.to_state "
                                        "ORDER BY e.finding_id, e.at, e.id"));
  DOZOR_RETURN_IF_ERROR(ForEachRow(BindAll(*events, org_id), [&](const sqlite::Statement& s) {
    auto it = index_by_id.find(s.Int(0));
    const auto state = ParseFindingState(s.Text(2));
    if (it == index_by_id.end() || !state) {
      return;
    }
    timelines[it->second].changes.push_back(FindingStateChange{s.Int(1), *state});
  }));
  return timelines;
}

Result<Finding> SqliteStore::AcceptWaiver(int64_t id, std::string_view actor,
                                          std::string_view comment, int64_t now_ms) {
  if (actor.empty() || comment.size() > 4096) {
    return MakeError(ErrorCode::kInvalidArgument, "actor required; comment at most 4096 bytes");
  }
  std::lock_guard lock(write_mu_);
  sqlite::Transaction txn(writer_);
  DOZOR_RETURN_IF_ERROR(txn.Begin());
  DOZOR_ASSIGN_OR_RETURN(Finding before, ReadFindingLocked(id));
  if (before.state != FindingState::kWaived) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     "finding " + std::to_string(id) + " is not waived; only a waiver is accepted");
  }
  DOZOR_RETURN_IF_ERROR(AddFindingEventLocked(id, now_ms, actor, FindingEventKind::kWaiverAccepted,
                                              before.state, before.state, comment));
  DOZOR_RETURN_IF_ERROR(txn.Commit());
  return before;
}

// ------------------------------------------------------------------ contract lifecycle

Result<AuditSnapshot> SqliteStore::RecordSnapshotLocked(int64_t org_id, AuditSnapshotKind kind,
                                                        std::string_view actor, int64_t now_ms) {
  FindingStatements& f = *fs_;
  std::string who = ActorOr(actor, "system");
  DOZOR_RETURN_IF_ERROR(RunWith(f.snapshot_insert, org_id, kind, now_ms, who));
  AuditSnapshot snapshot;
  snapshot.id = writer_.LastInsertRowId();
  snapshot.org_id = org_id;
  snapshot.kind = kind;
  snapshot.at_ms = now_ms;
  snapshot.actor = who;
  DOZOR_RETURN_IF_ERROR(RunWith(f.snapshot_fill, snapshot.id, org_id));
  return snapshot;
}

Status SqliteStore::ContractMoveLocked(int64_t org_id, const OrganizationPatch& patch,
                                       int64_t now_ms) {
  if (!patch.contract_status) {
    return OkStatus();
  }
  FindingStatements& f = *fs_;
  DOZOR_ASSIGN_OR_RETURN(auto current, ReadOptional(BindAll(f.org_status, org_id),
                                                    [](const auto& s) { return s.Text(0); }));
  if (!current) {
    return MakeError(ErrorCode::kNotFound, "no organization with id " + std::to_string(org_id));
  }
  const ContractPhase from = ParseContractPhase(*current).value_or(ContractPhase::kProspect);
  DOZOR_ASSIGN_OR_RETURN(auto events,
                         ReadAll(BindAll(f.w_contract_events, org_id), ReadContractEvent));
  DOZOR_ASSIGN_OR_RETURN(auto latest_first,
                         ReadOptional(BindAll(f.latest_first_audit, org_id),
                                      [](const auto& s) { return OptionalInt(s, 0); }));
  std::optional<int64_t> first_at = latest_first.value_or(std::nullopt);
  bool first_audit_in_engagement = first_at && *first_at >= CurrentEngagementStartMs(events);
  DOZOR_ASSIGN_OR_RETURN(ContractMove move,
                         PlanContractMove(from, *patch.contract_status, first_audit_in_engagement));
  if (!move.moves) {
    return OkStatus();  // same status: no move, no event
  }
  std::string who = ActorOr(patch.actor, "system");
  DOZOR_RETURN_IF_ERROR(RunWith(f.contract_event, org_id, now_ms, who, move.from, move.to));
  DOZOR_RETURN_IF_ERROR(
      RunWith(f.feed_contract, now_ms, org_id, who,
              std::string(ToString(move.from)) + " -> " + std::string(ToString(move.to))));
  if (move.snapshot) {
    auto recorded = RecordSnapshotLocked(org_id, *move.snapshot, who, now_ms);
    if (!recorded.ok()) {
      return recorded.error();
    }
  }
  return OkStatus();
}

Result<std::vector<ContractEvent>> SqliteStore::ListContractEvents(int64_t org_id) {
  ReaderLease reader = AcquireReader();
  return ReadAll(BindAll(reader->fr.r_contract_events, org_id), ReadContractEvent);
}

Result<AuditSnapshot> SqliteStore::RecordAuditSnapshot(int64_t org_id, AuditSnapshotKind kind,
                                                       std::string_view actor, int64_t now_ms) {
  if (actor.size() > kMaxActorBytes) {
    return MakeError(ErrorCode::kInvalidArgument, "actor must be at most 200 bytes");
  }
  int64_t id = 0;
  {
    std::lock_guard lock(write_mu_);
    sqlite::Transaction txn(writer_);
    DOZOR_RETURN_IF_ERROR(txn.Begin());
    DOZOR_ASSIGN_OR_RETURN(bool exists, HasRow(BindAll(fs_->org_status, org_id)));
    if (!exists) {
      return MakeError(ErrorCode::kNotFound, "no organization with id " + std::to_string(org_id));
    }
    DOZOR_ASSIGN_OR_RETURN(AuditSnapshot snapshot,
                           RecordSnapshotLocked(org_id, kind, actor, now_ms));
    id = snapshot.id;
    DOZOR_RETURN_IF_ERROR(txn.Commit());
  }
  ReaderLease reader = AcquireReader();
  AuditSnapshot snapshot;
  snapshot.id = id;
  snapshot.org_id = org_id;
  snapshot.kind = kind;
  snapshot.at_ms = now_ms;
  snapshot.actor = ActorOr(actor, "system");
  DOZOR_ASSIGN_OR_RETURN(snapshot.findings,
                         ReadAll(BindAll(reader->fr.r_snapshot_rows, id), ReadSnapshotFinding));
  return snapshot;
}

Result<std::optional<AuditSnapshot>> SqliteStore::GetAuditSnapshot(int64_t org_id,
                                                                   AuditSnapshotKind kind) {
  ReaderLease reader = AcquireReader();
  DOZOR_ASSIGN_OR_RETURN(
      auto head, ReadOptional(BindAll(reader->fr.r_snapshot, org_id, kind), [&](const auto& s) {
        AuditSnapshot snapshot;
        snapshot.id = s.Int(0);
        snapshot.org_id = org_id;
        snapshot.kind = kind;
        snapshot.at_ms = s.Int(1);
        snapshot.actor = s.Text(2);
        return snapshot;
      }));
  if (!head) {
    return std::optional<AuditSnapshot>();
  }
  DOZOR_ASSIGN_OR_RETURN(
      head->findings, ReadAll(BindAll(reader->fr.r_snapshot_rows, head->id), ReadSnapshotFinding));
  return head;
}

// ------------------------------------------------------------------ estate summary

Result<EstateSummary> SqliteStore::GetEstateSummary(int64_t org_id,
                                                    const std::vector<std::string>& package_names) {
  EstateSummary summary;
  std::unordered_map<int64_t, size_t> index_of;
  ReaderLease reader = AcquireReader();
  FindingReaderStatements& f = reader->fr;
  DOZOR_RETURN_IF_ERROR(ForEachRow(BindAll(f.r_estate_hosts, org_id), [&](const auto& s) {
    EstateHost h;
    h.agent_id = s.Text(1);
    h.hostname = s.Text(2);
    h.os_pretty_name = s.Text(3);
    h.os_family = s.Text(4);
    h.os_id = s.Text(5);
    h.os_version_id = s.Text(6);
    h.role = ParseHostRole(s.Text(7));
    h.cpu_model = s.Text(8);
    h.cpu_cores = s.Int(9);
    h.memory_bytes = s.Int(10);
    h.system_vendor = s.Text(11);
    h.system_model = s.Text(12);
    h.bios_date = s.Text(13);
    h.virtual_machine = s.Int(14) != 0;
    h.disk_bytes = s.Int(15);
    h.last_seen_ms = s.Int(16);
    h.last_inventory_ms = s.Int(17);
    h.agent_version = s.Text(18);
    h.package_count = s.Int(19);
    h.duties = ParseHostDuties(s.Text(20));
    h.smartctl_available = s.Int(21) != 0;
    h.disk_count = s.Int(22);
    index_of[s.Int(0)] = summary.hosts.size();
    summary.hosts.push_back(std::move(h));
  }));
  DOZOR_RETURN_IF_ERROR(ForEachRow(BindAll(f.r_estate_addresses, org_id), [&](const auto& s) {
    auto it = index_of.find(s.Int(0));
    if (it != index_of.end()) {
      summary.hosts[it->second].addresses.push_back(s.Text(1));
    }
  }));
  // Bounded: a host with a runaway list of failing parts must not bloat the report.
  constexpr size_t kMaxGapsPerHost = 20;
  DOZOR_RETURN_IF_ERROR(ForEachRow(BindAll(f.r_estate_gaps, org_id, org_id), [&](const auto& s) {
    auto it = index_of.find(s.Int(0));
    if (it != index_of.end() && summary.hosts[it->second].gaps.size() < kMaxGapsPerHost) {
      summary.hosts[it->second].gaps.emplace_back(s.Text(1), s.Text(2));
    }
  }));
  DOZOR_ASSIGN_OR_RETURN(summary.applications,
                         ReadAll(BindAll(f.r_estate_apps, org_id), [](const auto& s) {
                           return ApplicationCount{s.Text(0), s.Text(1), s.Text(2), s.Int(3)};
                         }));
  for (const auto& name : package_names) {
    DOZOR_ASSIGN_OR_RETURN(
        auto count,
        ReadOne(
            BindAll(f.r_package_hosts, name, org_id), [](const auto& s) { return s.Int(0); },
            [] { return MakeError(ErrorCode::kInternal, "count returned no row"); }));
    summary.package_hosts.emplace_back(name, count);
  }
  return summary;
}

Result<std::vector<std::pair<int64_t, int64_t>>> SqliteStore::ListLiveHostKeys() {
  ReaderLease reader = AcquireReader();
  return ReadAll(reader->fr.r_live_hosts,
                 [](const sqlite::Statement& s) { return std::make_pair(s.Int(0), s.Int(1)); });
}

Result<int64_t> SqliteStore::HostPk(std::string_view agent_id) {
  ReaderLease reader = AcquireReader();
  return ReadOne(
      BindAll(reader->fr.r_host_pk, agent_id), [](const auto& s) { return s.Int(0); },
      [&] {
        return MakeError(ErrorCode::kNotFound, "unknown agent '" + std::string(agent_id) + "'");
      });
}

// ------------------------------------------------------------------ observer and pruning

void SqliteStore::SetCommitObserver(CommitObserver observer) {
  std::lock_guard lock(observer_mu_);
  observer_ = std::move(observer);
}

void SqliteStore::NotifyCommitted(const std::vector<CommittedHost>& hosts) {
  CommitObserver observer;
  {
    std::lock_guard lock(observer_mu_);
    observer = observer_;
  }
  if (!observer) {
    return;
  }
  try {
    observer(hosts);
  } catch (const std::exception& e) {
    // The batch is committed and will be acked; a failing observer only costs an evaluation.
    spdlog::error("store: commit observer threw: {}", e.what());
  } catch (...) {
    spdlog::error("store: commit observer threw a non-exception");
  }
}

Result<int64_t> SqliteStore::PruneRuleWindows(int64_t now_ms) {
  FindingStatements& f = *fs_;
  std::vector<int64_t> agents;
  {
    std::lock_guard lock(write_mu_);
    DOZOR_ASSIGN_OR_RETURN(agents, ReadAll(f.prune_agents, [](const auto& s) { return s.Int(0); }));
  }
  int64_t deleted = 0;
  for (size_t begin = 0; begin < agents.size() && !closing_; begin += kPruneAgentsPerTxn) {
    size_t end = std::min(agents.size(), begin + kPruneAgentsPerTxn);
    std::lock_guard lock(write_mu_);
    sqlite::Transaction txn(writer_);
    DOZOR_RETURN_IF_ERROR(txn.Begin());
    for (size_t i = begin; i < end; ++i) {
      int64_t pk = agents[i];
      DOZOR_ASSIGN_OR_RETURN(auto newest,
                             ReadOptional(BindAll(f.prune_newest, pk), [](const auto& s) {
                               return s.IsNull(0) ? std::optional<int64_t>() : s.Int(0);
                             }));
      // Relative to the agent's newest sample when that is older than now: an agent that
      // stopped reporting (or a test clock in the past) keeps its last window.
      int64_t reference = now_ms;
      if (newest && *newest && **newest < now_ms) {
        reference = **newest;
      }
      for (sqlite::Statement* statement : {&f.prune_host, &f.prune_fs, &f.prune_nic}) {
        DOZOR_RETURN_IF_ERROR(RunWith(*statement, pk, reference - rule_window_ms_));
        deleted += writer_.Changes();
      }
      DOZOR_RETURN_IF_ERROR(RunWith(f.prune_trend, pk, reference - rule_trend_ms_));
      deleted += writer_.Changes();
    }
    DOZOR_RETURN_IF_ERROR(txn.Commit());
  }
  return deleted;
}

}  // namespace dozor::server
