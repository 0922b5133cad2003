#include "store/postgres/pg_finding_store.hpp"

#include <algorithm>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace dozor::server {
namespace {

// ListFindings' and a page's most rows (SQLite's kMaxFindingList).
constexpr int kMaxFindingRows = 100000;
// A pending verification may be asked again after this long (SQLite's kVerifyRepeatMs).
constexpr int64_t kFindingVerifyRepeatMs = 10 * 60'000;
// Rows per batched statement, and evidence bytes: a full evaluation writes tens of thousands of
// findings, one statement per chunk instead of one round trip per finding, and no single
// parameter grows past what a server accepts (evidence is up to 64 KiB a finding).
constexpr size_t kFindingChunkRows = 2000;
constexpr size_t kFindingChunkBytes = 16u << 20;

// The select list and FROM apart, so a keyset page can add its key columns between.
constexpr const char* kFindingSelectSql =
    "SELECT f.id, f.rule_id, f.org_id, coalesce(o.name, ''), coalesce(a.agent_id, ''), "
    "coalesce(a.hostname, ''), f.target, f.severity, f.category, f.state, f.first_seen, "
    "f.last_seen, f.state_changed_at, f.resolved_at, f.evidence, f.ack_by, f.ack_comment, "
    "f.waived_by, f.waive_reason, f.waived_until, f.regressions, f.verify_requested_at, "
    "f.verify_requested_by, f.object";
constexpr int kFindingColumnCount = 24;
constexpr const char* kFindingFromSql =
    " FROM findings f LEFT JOIN organizations o ON o.id = f.org_id "
    "LEFT JOIN agents a ON a.org_id = f.org_id AND a.id = f.agent ";

constexpr const char* kFindingSeverityRankSql =
    "(CASE f.severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 "
    "WHEN 'low' THEN 3 ELSE 4 END)";

Finding ReadFindingRow(const pg::Rows& rows, int r) {
  Finding f;
  f.id = rows.Int(r, 0);
  f.rule_id = rows.Text(r, 1);
  f.org_id = rows.Int(r, 2);
  f.org_name = rows.Text(r, 3);
  f.agent_id = rows.Text(r, 4);
  f.hostname = rows.Text(r, 5);
  f.target = rows.Text(r, 6);
  f.severity = ParseSeverity(rows.Text(r, 7)).value_or(Severity::kInfo);
  f.category = rows.Text(r, 8);
  f.state = ParseFindingState(rows.Text(r, 9)).value_or(FindingState::kOpen);
  f.first_seen_ms = rows.Int(r, 10);
  f.last_seen_ms = rows.Int(r, 11);
  f.state_changed_ms = rows.Int(r, 12);
  f.resolved_at_ms = rows.OptionalInt(r, 13);
  f.evidence_json = rows.Text(r, 14);
  f.ack_by = rows.Text(r, 15);
  f.ack_comment = rows.Text(r, 16);
  f.waived_by = rows.Text(r, 17);
  f.waive_reason = rows.Text(r, 18);
  f.waived_until_ms = rows.OptionalInt(r, 19);
  f.regressions = rows.Int(r, 20);
  f.verify_requested_at_ms = rows.OptionalInt(r, 21);
  f.verify_requested_by = rows.Text(r, 22);
  f.object = rows.Text(r, 23);
  return f;
}

// A statement whose row count does not matter.
Status RunFindingSql(pg::Connection& db, std::string_view sql, const pg::Params& params) {
  auto ran = db.Run(sql, params);
  if (!ran.ok()) {
    return ran.error();
  }
  return OkStatus();
}

Error NoSuchFinding(int64_t id) {
  return MakeError(ErrorCode::kNotFound, "no finding with id " + std::to_string(id));
}

// The finding as it is now; `lock` takes its row lock for the rest of the transaction (only the
// findings row: the organisation and agent joined in are read, not locked).
Result<Finding> ReadFindingById(pg::Connection& db, int64_t id, bool lock) {
  static const std::string plain =
      std::string(kFindingSelectSql) + kFindingFromSql + "WHERE f.id = $1";
  static const std::string locking = plain + " FOR UPDATE OF f";
  DOZOR_ASSIGN_OR_RETURN(pg::Rows rows, db.Query(lock ? locking : plain, pg::Params(id)));
  if (rows.empty()) {
    return NoSuchFinding(id);
  }
  return ReadFindingRow(rows, 0);
}

// ------------------------------------------------------------------ filters and orders

template <typename Item>
pg::ArrayLiteral FindingArrayOf(const std::vector<Item>& items) {
  pg::ArrayLiteral array;
  for (const auto& item : items) {
    array.Add(item);
  }
  return array;
}

// " WHERE …" of the filters given, their values added to `params` as the text grows (so both
// stay in step); only the predicates of given filters appear, so each combination is planned
// with the index it can use.
std::string FindingWhere(const FindingFilter& filter, const std::optional<int64_t>& last_seen_since,
                         pg::Params& params) {
  std::string where = " WHERE true";
  if (filter.org_id) {
    where += " AND f.org_id = " + params.Placeholder(*filter.org_id) + "::bigint";
  }
  if (filter.agent_id) {
    where += " AND f.agent = (SELECT id FROM agents WHERE agent_id = " +
             params.Placeholder(*filter.agent_id) + "::text)";
  }
  if (!filter.states.empty()) {
    where +=
        " AND f.state = ANY(" + params.Placeholder(FindingArrayOf(filter.states)) + "::text[])";
  }
  if (!filter.severities.empty()) {
    where += " AND f.severity = ANY(" + params.Placeholder(FindingArrayOf(filter.severities)) +
             "::text[])";
  }
  if (filter.rule_id) {
    where += " AND f.rule_id = " + params.Placeholder(*filter.rule_id) + "::text";
  }
  if (filter.visible_org_ids) {
    where += " AND f.org_id = ANY(" + params.Placeholder(FindingArrayOf(*filter.visible_org_ids)) +
             "::bigint[])";
  }
  if (last_seen_since) {
    where += " AND f.last_seen >= " + params.Placeholder(*last_seen_since) + "::bigint";
  }
  if (!filter.categories.empty()) {
    where += " AND f.category = ANY(" + params.Placeholder(FindingArrayOf(filter.categories)) +
             "::text[])";
  }
  if (filter.assigned_user_id) {
    where += " AND f.org_id IN (SELECT org_id FROM org_assignments WHERE user_id = " +
             params.Placeholder(*filter.assigned_user_id) + "::bigint)";
  }
  return where;
}

struct FindingSortKey {
  std::string sql;
  bool text = false;
};

// The sort key before the id tie-breaker. Text compares byte by byte (COLLATE "C"), as SQLite's
// BINARY does, whatever the database's locale.
std::vector<FindingSortKey> FindingSortKeys(FindingSort sort) {
  switch (sort) {
    case FindingSort::kOpened:
      return {{"f.first_seen", false}};
    case FindingSort::kLastSeen:
      return {{"f.last_seen", false}};
    case FindingSort::kHost:
      return {{"coalesce(a.hostname, '') COLLATE \"C\"", true}};
    case FindingSort::kSeverity:
      break;
  }
  return {{kFindingSeverityRankSql, false}, {"f.first_seen", false}};
}

// ------------------------------------------------------------------ writes

// A finding event to write; finding_events is keyed by the finding's organisation.
struct PendingFindingEvent {
  int64_t org_id = 0;
  int64_t finding_id = 0;
  std::string actor;
  FindingEventKind kind = FindingEventKind::kComment;
  std::optional<FindingState> from;
  FindingState to = FindingState::kOpen;
  std::string comment;
};

// Writes the events in order, each also to the feed (events) in the same transaction, so a reader
// never sees one without the other. Ids follow the list's order (WITH ORDINALITY … ORDER BY).
Status WriteFindingEvents(pg::Connection& db, const std::vector<PendingFindingEvent>& events,
                          int64_t at_ms) {
  for (size_t begin = 0; begin < events.size(); begin += kFindingChunkRows) {
    const size_t end = std::min(events.size(), begin + kFindingChunkRows);
    pg::ArrayLiteral org, finding, actor, kind, from, to, comment, feed_kind;
    for (size_t i = begin; i < end; ++i) {
      const PendingFindingEvent& e = events[i];
      org.Add(e.org_id);
      finding.Add(e.finding_id);
      actor.Add(e.actor);
      kind.Add(e.kind);
      // An opened finding has no previous state: '' in the column, never NULL.
      from.Add(e.from ? ToString(*e.from) : std::string_view(""));
      to.Add(e.to);
      comment.Add(e.comment);
      feed_kind.Add("finding_" + std::string(ToString(e.kind)));
    }
    DOZOR_RETURN_IF_ERROR(db.Run(
        "INSERT INTO finding_events(org_id, finding_id, at, actor, kind, from_state, to_state, "
        "comment) SELECT u.org_id, u.finding_id, $1, u.actor, u.kind, u.from_state, u.to_state, "
        "u.comment FROM unnest($2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[], "
        "$7::text[], $8::text[]) WITH ORDINALITY AS u(org_id, finding_id, actor, kind, "
        "from_state, to_state, comment, n) ORDER BY u.n",
        pg::Params(at_ms, org, finding, actor, kind, from, to, comment)));
    DOZOR_RETURN_IF_ERROR(
        db.Run("INSERT INTO events(at, kind, org_id, agent_id, finding_id, actor, detail) "
               "SELECT $1, u.kind, f.org_id, coalesce(a.agent_id, ''), f.id, u.actor, u.comment "
               "FROM unnest($2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[]) "
               "WITH ORDINALITY AS u(org_id, finding_id, actor, kind, comment, n) "
               "JOIN findings f ON f.org_id = u.org_id AND f.id = u.finding_id "
               "LEFT JOIN agents a ON a.org_id = f.org_id AND a.id = f.agent ORDER BY u.n",
               pg::Params(at_ms, org, finding, actor, feed_kind, comment)));
  }
  return OkStatus();
}

// Calls flush(first, last) for consecutive runs of `items` bounded by kFindingChunkRows rows
// and about kFindingChunkBytes of `bytes(item)`.
template <typename Item, typename Bytes, typename Flush>
Status ForFindingChunks(const std::vector<Item>& items, Bytes&& bytes, Flush&& flush) {
  size_t begin = 0;
  size_t used = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    used += bytes(items[i]);
    if (i + 1 - begin >= kFindingChunkRows || used >= kFindingChunkBytes) {
      DOZOR_RETURN_IF_ERROR(flush(begin, i + 1));
      begin = i + 1;
      used = 0;
    }
  }
  if (begin < items.size()) {
    DOZOR_RETURN_IF_ERROR(flush(begin, items.size()));
  }
  return OkStatus();
}

// A stored finding as the lifecycle sees it, with its organisation (the key's first half).
constexpr const char* kFindingStateSelectSql =
    "SELECT id, rule_id, target, state, waived_by <> '', waived_until, object, org_id "
    "FROM findings ";

struct LockedFindings {
  std::vector<FindingStateRow> rows;
  std::unordered_map<int64_t, int64_t> org_of;  // finding id -> org id
};

Result<LockedFindings> LockFindingStates(pg::Connection& db, const std::string& sql,
                                         const pg::Params& params) {
  DOZOR_ASSIGN_OR_RETURN(pg::Rows rows, db.Query(sql, params));
  LockedFindings locked;
  locked.rows.reserve(rows.size());
  for (int r = 0; r < rows.size(); ++r) {
    FindingStateRow row;
    row.id = rows.Int(r, 0);
    row.rule_id = rows.Text(r, 1);
    row.target = rows.Text(r, 2);
    row.state = ParseFindingState(rows.Text(r, 3)).value_or(FindingState::kOpen);
    row.waived_by_someone = rows.Bool(r, 4);
    row.waived_until_ms = rows.OptionalInt(r, 5);
    row.object = rows.Text(r, 6);
    locked.org_of[row.id] = rows.Int(r, 7);
    locked.rows.push_back(std::move(row));
  }
  return locked;
}

// The retryable error that sends an evaluation round again when another transaction opened one
// of the findings it meant to open (pg::InTransaction runs the body anew; the next round finds
// the finding stored and locks it).
Error FindingOpenedConcurrently() {
  return pg::ErrorFromSqlState("40001",
                               "a finding this evaluation opens was opened by another writer");
}

// Writes the lifecycle's mutations (all of whose findings but the new ones are locked by this
// transaction), then their events in mutation order. Fills change->opened_or_regressed_ids.
Status ApplyFindingMutations(pg::Connection& db, const std::vector<FindingMutation>& mutations,
                             const std::vector<std::string>& evidence,
                             const std::unordered_map<int64_t, int64_t>& org_of, int64_t now_ms,
                             FindingsChange* change) {
  std::vector<const FindingMutation*> adopts, touches, regresses, resolves, expiries, opens;
  for (const FindingMutation& m : mutations) {
    if (m.adopt_object) {
      adopts.push_back(&m);
    }
    switch (m.kind) {
      case FindingMutationKind::kOpen:
        opens.push_back(&m);
        break;
      case FindingMutationKind::kTouch:
        touches.push_back(&m);
        break;
      case FindingMutationKind::kRegress:
        regresses.push_back(&m);
        break;
      case FindingMutationKind::kResolve:
        resolves.push_back(&m);
        break;
      case FindingMutationKind::kExpireWaiver:
        expiries.push_back(&m);
        break;
    }
  }
  auto org = [&](int64_t id) {
    auto it = org_of.find(id);
    return it == org_of.end() ? int64_t{0} : it->second;
  };
  auto no_bytes = [](const FindingMutation*) { return size_t{0}; };
  auto evidence_bytes = [&](const FindingMutation* m) { return evidence.at(m->hit_index).size(); };

  // Adoptions first: the legacy "" finding takes its object before anything else of the pair
  // is written (SQLite's order: adopt, then the mutation).
  DOZOR_RETURN_IF_ERROR(ForFindingChunks(adopts, no_bytes, [&](size_t begin, size_t end) -> Status {
    pg::ArrayLiteral orgs, ids, objects;
    for (size_t i = begin; i < end; ++i) {
      orgs.Add(org(adopts[i]->finding_id));
      ids.Add(adopts[i]->finding_id);
      objects.Add(*adopts[i]->adopt_object);
    }
    return RunFindingSql(
        db,
        "UPDATE findings f SET object = u.object FROM unnest($1::bigint[], $2::bigint[], "
        "$3::text[]) AS u(org_id, id, object) WHERE f.org_id = u.org_id AND f.id = u.id",
        pg::Params(orgs, ids, objects));
  }));
  DOZOR_RETURN_IF_ERROR(
      ForFindingChunks(touches, evidence_bytes, [&](size_t begin, size_t end) -> Status {
        pg::ArrayLiteral orgs, ids, texts, severities, categories;
        for (size_t i = begin; i < end; ++i) {
          const FindingMutation& m = *touches[i];
          orgs.Add(org(m.finding_id));
          ids.Add(m.finding_id);
          texts.Add(evidence.at(m.hit_index));
          severities.Add(m.meta.severity);
          categories.Add(m.meta.category);
        }
        return RunFindingSql(
            db,
            "UPDATE findings f SET last_seen = $1, evidence = u.evidence, severity = u.severity, "
            "category = u.category FROM unnest($2::bigint[], $3::bigint[], $4::text[], "
            "$5::text[], $6::text[]) AS u(org_id, id, evidence, severity, category) "
            "WHERE f.org_id = u.org_id AND f.id = u.id",
            pg::Params(now_ms, orgs, ids, texts, severities, categories));
      }));
  DOZOR_RETURN_IF_ERROR(
      ForFindingChunks(regresses, evidence_bytes, [&](size_t begin, size_t end) -> Status {
        pg::ArrayLiteral orgs, ids, texts, severities, categories, states;
        for (size_t i = begin; i < end; ++i) {
          const FindingMutation& m = *regresses[i];
          orgs.Add(org(m.finding_id));
          ids.Add(m.finding_id);
          texts.Add(evidence.at(m.hit_index));
          severities.Add(m.meta.severity);
          categories.Add(m.meta.category);
          states.Add(m.to);
        }
        return RunFindingSql(
            db,
            "UPDATE findings f SET state = u.state, last_seen = $1, state_changed_at = $1, "
            "resolved_at = NULL, evidence = u.evidence, severity = u.severity, "
            "category = u.category, regressions = f.regressions + 1 FROM unnest($2::bigint[], "
            "$3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[]) AS u(org_id, id, "
            "evidence, severity, category, state) WHERE f.org_id = u.org_id AND f.id = u.id",
            pg::Params(now_ms, orgs, ids, texts, severities, categories, states));
      }));
  for (const auto& [list, sql] :
       {std::pair{&resolves,
                  "UPDATE findings f SET state = 'resolved', state_changed_at = $1, "
                  "resolved_at = $1 FROM unnest($2::bigint[], $3::bigint[]) AS u(org_id, id) "
                  "WHERE f.org_id = u.org_id AND f.id = u.id"},
        std::pair{&expiries,
                  "UPDATE findings f SET state = 'open', state_changed_at = $1 "
                  "FROM unnest($2::bigint[], $3::bigint[]) AS u(org_id, id) "
                  "WHERE f.org_id = u.org_id AND f.id = u.id"}}) {
    const auto& items = *list;
    const char* statement = sql;
    DOZOR_RETURN_IF_ERROR(
        ForFindingChunks(items, no_bytes, [&](size_t begin, size_t end) -> Status {
          pg::ArrayLiteral orgs, ids;
          for (size_t i = begin; i < end; ++i) {
            orgs.Add(org(items[i]->finding_id));
            ids.Add(items[i]->finding_id);
          }
          return RunFindingSql(db, statement, pg::Params(now_ms, orgs, ids));
        }));
  }
  // New findings, in hit order (their ids in that order, as SQLite's). A key another writer
  // stored meanwhile is skipped by ON CONFLICT, which waits for that writer's commit first.
  std::unordered_map<const FindingMutation*, int64_t> opened_id;
  std::unordered_map<std::string, const FindingMutation*> open_by_key;
  auto key_of = [](std::string_view rule, std::string_view target, std::string_view object) {
    std::string key(rule);
    key.push_back('\n');
    key.append(target);
    key.push_back('\0');
    key.append(object);
    return key;
  };
  for (const FindingMutation* m : opens) {
    open_by_key[key_of(m->rule_id, m->target, m->object)] = m;
  }
  DOZOR_RETURN_IF_ERROR(
      ForFindingChunks(opens, evidence_bytes, [&](size_t begin, size_t end) -> Status {
        pg::ArrayLiteral orgs, rules, agents, targets, severities, categories, texts, objects;
        for (size_t i = begin; i < end; ++i) {
          const FindingMutation& m = *opens[i];
          orgs.Add(m.org_id);
          rules.Add(m.rule_id);
          agents.Add(m.host_pk);
          targets.Add(m.target);
          severities.Add(m.meta.severity);
          categories.Add(m.meta.category);
          texts.Add(evidence.at(m.hit_index));
          objects.Add(m.object);
        }
        DOZOR_ASSIGN_OR_RETURN(
            pg::Rows inserted,
            db.Query(
                "INSERT INTO findings(org_id, rule_id, agent, target, severity, category, state, "
                "first_seen, last_seen, state_changed_at, evidence, object) "
                "SELECT u.org_id, u.rule_id, u.agent, u.target, u.severity, u.category, 'open', "
                "$1, $1, $1, u.evidence, u.object FROM unnest($2::bigint[], $3::text[], "
                "$4::bigint[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[]) "
                "WITH ORDINALITY AS u(org_id, rule_id, agent, target, severity, category, "
                "evidence, object, n) ORDER BY u.n "
                "ON CONFLICT (org_id, rule_id, target, object) DO NOTHING "
                "RETURNING id, rule_id, target, object",
                pg::Params(now_ms, orgs, rules, agents, targets, severities, categories, texts,
                           objects)));
        if (inserted.size() != static_cast<int>(end - begin)) {
          return FindingOpenedConcurrently();
        }
        for (int r = 0; r < inserted.size(); ++r) {
          auto it = open_by_key.find(
              key_of(inserted.Text(r, 1), inserted.Text(r, 2), inserted.Text(r, 3)));
          if (it != open_by_key.end()) {
            opened_id[it->second] = inserted.Int(r, 0);
          }
        }
        return OkStatus();
      }));

  std::vector<PendingFindingEvent> events;
  events.reserve(mutations.size() - touches.size());
  for (const FindingMutation& m : mutations) {
    int64_t id = m.finding_id;
    int64_t org_id = 0;
    switch (m.kind) {
      case FindingMutationKind::kOpen: {
        auto it = opened_id.find(&m);
        if (it == opened_id.end()) {
          return MakeError(ErrorCode::kInternal,
                           "an inserted finding was not returned: " + m.rule_id + " " + m.target);
        }
        id = it->second;
        org_id = m.org_id;
        change->opened_or_regressed_ids.push_back(id);
        break;
      }
      case FindingMutationKind::kTouch:
        continue;  // no event: the finding only got fresher evidence
      case FindingMutationKind::kRegress:
        org_id = org(id);
        change->opened_or_regressed_ids.push_back(id);
        break;
      case FindingMutationKind::kResolve:
      case FindingMutationKind::kExpireWaiver:
        org_id = org(id);
        break;
    }
    events.push_back(PendingFindingEvent{org_id, id, "system", m.event, m.from, m.to, m.comment});
  }
  return WriteFindingEvents(db, events, now_ms);
}

// Waived findings due at now_ms, locked in id order.
Result<int64_t> ExpireDueWaivers(pg::Connection& db, int64_t now_ms) {
  static const std::string sql = std::string(kFindingStateSelectSql) +
                                 "WHERE state = 'waived' AND waived_until <= $1 "
                                 "ORDER BY id FOR UPDATE";
  DOZOR_ASSIGN_OR_RETURN(LockedFindings due, LockFindingStates(db, sql, pg::Params(now_ms)));
  std::vector<FindingMutation> mutations = PlanWaiverExpiry(due.rows, now_ms);
  FindingsChange ignored;
  DOZOR_RETURN_IF_ERROR(ApplyFindingMutations(db, mutations, {}, due.org_of, now_ms, &ignored));
  return static_cast<int64_t>(mutations.size());
}

// Decides the pending verifications of the evaluated rules x targets whose host (estate-wide:
// any host of the organisation) sent an inventory since the request (SQLite's
// ConcludeVerificationsLocked). Those findings are in the evaluation's scope, so already locked.
Status ConcludeFindingVerifications(pg::Connection& db, const EvaluationInput& input,
                                    int64_t now_ms) {
  if (input.rule_ids.empty() || input.targets.empty()) {
    return OkStatus();
  }
  const std::string target_predicate = input.host_scope
                                           ? "f.agent = ANY($2::bigint[])"
                                           : "f.agent IS NULL AND f.org_id = ANY($2::bigint[])";
  DOZOR_ASSIGN_OR_RETURN(
      pg::Rows pending,
      db.Query("SELECT f.id, f.org_id, f.state, f.verify_requested_by FROM findings f "
               "LEFT JOIN agents a ON a.org_id = f.org_id AND a.id = f.agent "
               "WHERE f.verify_requested_at IS NOT NULL AND f.rule_id = ANY($1::text[]) AND " +
                   target_predicate +
                   " AND (CASE WHEN f.agent IS NULL THEN EXISTS (SELECT 1 FROM agents x "
                   "WHERE x.org_id = f.org_id AND x.last_inventory_at > f.verify_requested_at) "
                   "ELSE a.last_inventory_at > f.verify_requested_at END) ORDER BY f.id",
               pg::Params(FindingArrayOf(input.rule_ids), FindingArrayOf(input.targets))));
  if (pending.empty()) {
    return OkStatus();
  }
  std::vector<PendingFindingEvent> events;
  pg::ArrayLiteral orgs, ids;
  for (int r = 0; r < pending.size(); ++r) {
    const int64_t id = pending.Int(r, 0);
    const int64_t org_id = pending.Int(r, 1);
    const FindingState state = ParseFindingState(pending.Text(r, 2)).value_or(FindingState::kOpen);
    std::string asked = pending.Text(r, 3);
    if (asked.empty()) {
      asked = "someone";
    }
    if (state == FindingState::kResolved) {
      events.push_back(PendingFindingEvent{
          org_id, id, "system", FindingEventKind::kVerifyConfirmed, state, state,
          "fixed: a fresh collection no longer shows it (verification asked by " + asked + ")"});
    } else {
      events.push_back(
          PendingFindingEvent{org_id, id, "system", FindingEventKind::kVerifyFailed, state, state,
                              "still present after a fresh collection (verification asked by " +
                                  asked + "); the evidence is updated"});
    }
    orgs.Add(org_id);
    ids.Add(id);
  }
  DOZOR_RETURN_IF_ERROR(WriteFindingEvents(db, events, now_ms));
  return RunFindingSql(db,
                       "UPDATE findings f SET verify_requested_at = NULL, verify_requested_by = '' "
                       "FROM unnest($1::bigint[], $2::bigint[]) AS u(org_id, id) "
                       "WHERE f.org_id = u.org_id AND f.id = u.id",
                       pg::Params(orgs, ids));
}

}  // namespace

// ------------------------------------------------------------------ engine side

Result<FindingsChange> PgFindingStore::ApplyEvaluation(const EvaluationInput& input,
                                                       int64_t now_ms) {
  const EvaluationScope scope = ScopeOf(input);
  // Bounded once, outside the transaction (it may parse a large JSON document) and its retries.
  std::vector<std::string> evidence(input.hits.size());
  for (size_t i = 0; i < input.hits.size(); ++i) {
    evidence[i] = BoundedEvidence(input.hits[i].evidence_json);
  }
  // One locking read for the waivers due and the scope's findings, in id order: two evaluations
  // (or an evaluation and ExpireWaivers) then lock in one order and cannot deadlock.
  static const std::string host_sql =
      std::string(kFindingStateSelectSql) +
      "WHERE (state = 'waived' AND waived_until <= $1) OR (rule_id = ANY($2::text[]) AND "
      "agent = ANY($3::bigint[])) ORDER BY id FOR UPDATE";
  static const std::string org_sql =
      std::string(kFindingStateSelectSql) +
      "WHERE (state = 'waived' AND waived_until <= $1) OR (rule_id = ANY($2::text[]) AND "
      "agent IS NULL AND org_id = ANY($3::bigint[])) ORDER BY id FOR UPDATE";
  const pg::ArrayLiteral rules = FindingArrayOf(scope.rule_ids);
  const pg::ArrayLiteral targets = FindingArrayOf(scope.targets);
  return pg::InTransaction(context_.pool, [&](pg::Connection& db) -> Result<FindingsChange> {
    DOZOR_ASSIGN_OR_RETURN(LockedFindings locked,
                           LockFindingStates(db, input.host_scope ? host_sql : org_sql,
                                             pg::Params(now_ms, rules, targets)));
    // Expired waivers first, so the evaluation sees the findings in their state after expiry.
    std::vector<FindingMutation> expiries = PlanWaiverExpiry(locked.rows, now_ms);
    FindingsChange ignored;
    DOZOR_RETURN_IF_ERROR(ApplyFindingMutations(db, expiries, {}, locked.org_of, now_ms, &ignored));
    if (!expiries.empty()) {
      std::unordered_map<int64_t, FindingState> expired;
      for (const FindingMutation& m : expiries) {
        expired[m.finding_id] = m.to;
      }
      for (FindingStateRow& row : locked.rows) {
        auto it = expired.find(row.id);
        if (it != expired.end()) {
          row.state = it->second;
        }
      }
    }
    std::vector<FindingMutation> mutations = PlanEvaluation(input, locked.rows, now_ms);
    FindingsChange change = CountMutations(mutations);
    change.waivers_expired = static_cast<int64_t>(expiries.size());
    DOZOR_RETURN_IF_ERROR(
        ApplyFindingMutations(db, mutations, evidence, locked.org_of, now_ms, &change));
    DOZOR_RETURN_IF_ERROR(ConcludeFindingVerifications(db, input, now_ms));
    return change;
  });
}

Result<int64_t> PgFindingStore::ExpireWaivers(int64_t now_ms) {
  return pg::InTransaction(context_.pool, [&](pg::Connection& db) -> Result<int64_t> {
    return ExpireDueWaivers(db, now_ms);
  });
}

Result<int64_t> PgFindingStore::ResolveFindingsOfRemovedRules(
    const std::vector<std::string>& live_rule_ids, int64_t now_ms) {
  // Only the active findings of rules no longer live are locked and changed.
  static const std::string sql =
      std::string(kFindingStateSelectSql) +
      "WHERE state IN ('open', 'acknowledged', 'regressed', 'waived') AND "
      "NOT (rule_id = ANY($1::text[])) ORDER BY id FOR UPDATE";
  const pg::ArrayLiteral live = FindingArrayOf(live_rule_ids);
  return pg::InTransaction(context_.pool, [&](pg::Connection& db) -> Result<int64_t> {
    DOZOR_ASSIGN_OR_RETURN(LockedFindings active, LockFindingStates(db, sql, pg::Params(live)));
    std::vector<FindingMutation> mutations = PlanResolveRemovedRules(active.rows, live_rule_ids);
    FindingsChange ignored;
    DOZOR_RETURN_IF_ERROR(
        ApplyFindingMutations(db, mutations, {}, active.org_of, now_ms, &ignored));
    return static_cast<int64_t>(mutations.size());
  });
}

// ------------------------------------------------------------------ queries

Result<std::vector<Finding>> PgFindingStore::ListFindings(const FindingFilter& filter) {
  const int64_t limit =
      filter.limit <= 0 || filter.limit > kMaxFindingRows ? kMaxFindingRows : filter.limit;
  pg::Params params;
  std::string sql = std::string(kFindingSelectSql) + kFindingFromSql +
                    FindingWhere(filter, std::nullopt, params) + " ORDER BY " +
                    kFindingSeverityRankSql + ", f.first_seen, f.id LIMIT " +
                    params.Placeholder(limit) + "::bigint";
  DOZOR_ASSIGN_OR_RETURN(auto db, context_.pool.Acquire());
  DOZOR_ASSIGN_OR_RETURN(pg::Rows rows, db->Query(sql, params));
  std::vector<Finding> out;
  out.reserve(rows.size());
  for (int r = 0; r < rows.size(); ++r) {
    out.push_back(ReadFindingRow(rows, r));
  }
  return out;
}

Result<Page<Finding>> PgFindingStore::QueryFindings(const FindingQuery& query) {
  const std::vector<FindingSortKey> keys = FindingSortKeys(query.sort);
  if (query.page.after) {
    const auto& key = query.page.after->key;
    bool fits = key.size() == keys.size();
    for (size_t i = 0; fits && i < keys.size(); ++i) {
      fits = std::holds_alternative<std::string>(key[i]) == keys[i].text;
    }
    if (!fits) {
      return MakeError(ErrorCode::kInvalidArgument, "cursor does not fit this sort order");
    }
  }
  const int limit = query.page.limit <= 0 || query.page.limit > kMaxFindingRows ? kMaxFindingRows
                                                                                : query.page.limit;
  pg::Params params;
  std::string sql = kFindingSelectSql;
  for (const FindingSortKey& key : keys) {
    sql += ", " + key.sql;
  }
  sql += kFindingFromSql + FindingWhere(query.filter, query.last_seen_since_ms, params);
  const bool descending = query.direction == SortDirection::kDescending;
  if (query.page.after) {
    std::string left = "(";
    std::string right = "(";
    for (size_t k = 0; k < keys.size(); ++k) {
      left += keys[k].sql + ", ";
      const SortKeyValue& value = query.page.after->key[k];
      right += keys[k].text
                   ? params.Placeholder(std::get<std::string>(value)) + "::text COLLATE \"C\", "
                   : params.Placeholder(std::get<int64_t>(value)) + "::bigint, ";
    }
    left += "f.id)";
    right += params.Placeholder(query.page.after->id) + "::bigint)";
    sql += " AND " + left + (descending ? " < " : " > ") + right;
  }
  const char* dir = descending ? " DESC" : " ASC";
  sql += " ORDER BY ";
  for (const FindingSortKey& key : keys) {
    sql += key.sql + dir + ", ";
  }
  sql += std::string("f.id") + dir + " LIMIT " +
         params.Placeholder(static_cast<int64_t>(limit) + 1) + "::bigint";
  DOZOR_ASSIGN_OR_RETURN(auto db, context_.pool.Acquire());
  DOZOR_ASSIGN_OR_RETURN(pg::Rows rows, db->Query(sql, params));
  Page<Finding> page;
  for (int r = 0; r < rows.size() && r < limit; ++r) {
    page.rows.push_back(ReadFindingRow(rows, r));
  }
  if (rows.size() > limit) {
    const int last = limit - 1;
    PagePosition next;
    for (size_t k = 0; k < keys.size(); ++k) {
      const int column = kFindingColumnCount + static_cast<int>(k);
      next.key.push_back(keys[k].text ? SortKeyValue(rows.Text(last, column))
                                      : SortKeyValue(rows.Int(last, column)));
    }
    next.id = rows.Int(last, 0);
    page.next = std::move(next);
  }
  return page;
}

Result<Finding> PgFindingStore::GetFinding(int64_t id) {
  DOZOR_ASSIGN_OR_RETURN(auto db, context_.pool.Acquire());
  return ReadFindingById(*db, id, false);
}

Result<std::vector<FindingEvent>> PgFindingStore::ListFindingEvents(int64_t finding_id) {
  DOZOR_ASSIGN_OR_RETURN(auto db, context_.pool.Acquire());
  DOZOR_ASSIGN_OR_RETURN(
      pg::Rows rows,
      db->Query("SELECT id, finding_id, at, actor, kind, from_state, to_state, comment "
                "FROM finding_events WHERE finding_id = $1 ORDER BY at, id",
                pg::Params(finding_id)));
  std::vector<FindingEvent> events;
  events.reserve(rows.size());
  for (int r = 0; r < rows.size(); ++r) {
    FindingEvent event;
    event.id = rows.Int(r, 0);
    event.finding_id = rows.Int(r, 1);
    event.at_ms = rows.Int(r, 2);
    event.actor = rows.Text(r, 3);
    event.kind = ParseFindingEventKind(rows.Text(r, 4)).value_or(FindingEventKind::kComment);
    event.from_state = ParseFindingState(rows.Text(r, 5));  // '' for an opened finding
    event.to_state = ParseFindingState(rows.Text(r, 6)).value_or(FindingState::kOpen);
    event.comment = rows.Text(r, 7);
    events.push_back(std::move(event));
  }
  return events;
}

Result<std::vector<ActiveFindingCount>> PgFindingStore::CountActiveFindings(
    const std::optional<std::vector<int64_t>>& org_ids) {
  // The state list and grouping match the partial index findings_active. Ordered as SQLite's
  // grouping returns them (organisation, host with estate-wide first, rule, severity).
  pg::Params params;
  std::string sql =
      "SELECT f.org_id, coalesce(a.agent_id, ''), f.rule_id, f.severity, count(*) "
      "FROM findings f LEFT JOIN agents a ON a.org_id = f.org_id AND a.id = f.agent "
      "WHERE f.state IN ('open', 'acknowledged', 'regressed')";
  if (org_ids) {
    sql += " AND f.org_id = ANY(" + params.Placeholder(FindingArrayOf(*org_ids)) + "::bigint[])";
  }
  sql +=
      " GROUP BY f.org_id, f.agent, a.agent_id, f.rule_id, f.severity "
      "ORDER BY f.org_id, f.agent NULLS FIRST, f.rule_id COLLATE \"C\", f.severity COLLATE \"C\"";
  DOZOR_ASSIGN_OR_RETURN(auto db, context_.pool.Acquire());
  DOZOR_ASSIGN_OR_RETURN(pg::Rows rows, db->Query(sql, params));
  std::vector<ActiveFindingCount> out;
  out.reserve(rows.size());
  for (int r = 0; r < rows.size(); ++r) {
    ActiveFindingCount row;
    row.org_id = rows.Int(r, 0);
    row.agent_id = rows.Text(r, 1);
    row.rule_id = rows.Text(r, 2);
    row.severity = ParseSeverity(rows.Text(r, 3)).value_or(Severity::kInfo);
    row.count = rows.Int(r, 4);
    out.push_back(std::move(row));
  }
  return out;
}

Result<std::vector<FindingTimeline>> PgFindingStore::ListFindingTimelines(int64_t org_id) {
  DOZOR_ASSIGN_OR_RETURN(auto db, context_.pool.Acquire());
  // One snapshot for both reads: no event of a finding the first read did not see.
  DOZOR_RETURN_IF_ERROR(db->Exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
  auto read = [&]() -> Result<std::vector<FindingTimeline>> {
    DOZOR_ASSIGN_OR_RETURN(
        pg::Rows rows,
        db->Query("SELECT f.id, f.rule_id, coalesce(a.agent_id, ''), f.severity, f.state, "
                  "f.first_seen FROM findings f "
                  "LEFT JOIN agents a ON a.org_id = f.org_id AND a.id = f.agent "
                  "WHERE f.org_id = $1 ORDER BY f.id LIMIT $2",
                  pg::Params(org_id, kMaxFindingTimelines)));
    std::vector<FindingTimeline> timelines;
    timelines.reserve(rows.size());
    std::unordered_map<int64_t, size_t> index_by_id;
    for (int r = 0; r < rows.size(); ++r) {
      FindingTimeline timeline;
      timeline.id = rows.Int(r, 0);
      timeline.rule_id = rows.Text(r, 1);
      timeline.agent_id = rows.Text(r, 2);
      timeline.severity = ParseSeverity(rows.Text(r, 3)).value_or(Severity::kInfo);
      timeline.state = ParseFindingState(rows.Text(r, 4)).value_or(FindingState::kOpen);
      timeline.first_seen_ms = rows.Int(r, 5);
      index_by_id[timeline.id] = timelines.size();
      timelines.push_back(std::move(timeline));
    }
    // Events that keep the state (comments, verification requests, accepted waivers) are not
    // changes; an opened finding's from_state is '' and so always differs.
    DOZOR_ASSIGN_OR_RETURN(
        pg::Rows events,
        db->Query("SELECT finding_id, at, to_state FROM finding_events "
                  "WHERE org_id = $1 AND from_state <> to_state ORDER BY finding_id, at, id",
                  pg::Params(org_id)));
    for (int r = 0; r < events.size(); ++r) {
      auto it = index_by_id.find(events.Int(r, 0));
      const auto state = ParseFindingState(events.Text(r, 2));
      if (it == index_by_id.end() || !state) {
        continue;
      }
      timelines[it->second].changes.push_back(FindingStateChange{events.Int(r, 1), *state});
    }
    return timelines;
  };
  auto result = read();
  (void)db->Exec(result.ok() ? "COMMIT" : "ROLLBACK");
  return result;
}

// ------------------------------------------------------------------ people

// One transaction: lock the finding, let the domain decide the transition, write it and its
// event, and return the finding as it is afterwards. The lock makes a concurrent evaluation (or
// another person) wait, so the decision is taken on the state it changes.
Result<Finding> PgFindingStore::ApplyPeopleAction(int64_t id, const PeopleRequest& request) {
  // Refused before the transaction: a bad request never takes a connection or a lock.
  DOZOR_RETURN_IF_ERROR(ValidatePeopleRequest(request));
  return pg::InTransaction(context_.pool, [&](pg::Connection& db) -> Result<Finding> {
    DOZOR_ASSIGN_OR_RETURN(Finding before, ReadFindingById(db, id, true));
    DOZOR_ASSIGN_OR_RETURN(PeopleTransition t, PlanPeopleAction(id, before.state, request));
    const int64_t now_ms = request.now_ms;
    const pg::Params key(before.org_id, id, now_ms);
    switch (request.action) {
      case PeopleAction::kAcknowledge:
        DOZOR_RETURN_IF_ERROR(
            db.Run("UPDATE findings SET state = 'acknowledged', state_changed_at = $3, "
                   "ack_by = $4, ack_comment = $5 WHERE org_id = $1 AND id = $2",
                   pg::Params(before.org_id, id, now_ms, t.actor, t.comment)));
        break;
      case PeopleAction::kWaive:
        DOZOR_RETURN_IF_ERROR(
            db.Run("UPDATE findings SET state = 'waived', state_changed_at = $3, waived_by = $4, "
                   "waive_reason = $5, waived_until = $6::bigint WHERE org_id = $1 AND id = $2",
                   pg::Params(before.org_id, id, now_ms, t.actor, t.comment, request.until_ms)));
        break;
      case PeopleAction::kUnwaive:
        DOZOR_RETURN_IF_ERROR(
            // The waiver is over: a later return of the finding is a regression, not
            // "still covered" (the waive and unwaive events keep who did what).
            db.Run("UPDATE findings SET state = 'open', state_changed_at = $3, waived_by = '', "
                   "waive_reason = '', waived_until = NULL WHERE org_id = $1 AND id = $2",
                   key));
        break;
      case PeopleAction::kComment:
        break;
    }
    DOZOR_RETURN_IF_ERROR(WriteFindingEvents(
        db,
        {PendingFindingEvent{before.org_id, id, t.actor, t.event, before.state, t.to, t.comment}},
        now_ms));
    return ReadFindingById(db, id, false);
  });
}

Result<Finding> PgFindingStore::AcknowledgeFinding(int64_t id, std::string_view actor,
                                                   std::string_view comment, int64_t now_ms) {
  return ApplyPeopleAction(
      id, PeopleRequest{PeopleAction::kAcknowledge, actor, comment, std::nullopt, now_ms});
}

Result<Finding> PgFindingStore::WaiveFinding(int64_t id, std::string_view actor,
                                             std::string_view reason,
                                             std::optional<int64_t> until_ms, int64_t now_ms) {
  return ApplyPeopleAction(id,
                           PeopleRequest{PeopleAction::kWaive, actor, reason, until_ms, now_ms});
}

Result<Finding> PgFindingStore::UnwaiveFinding(int64_t id, std::string_view actor,
                                               std::string_view comment, int64_t now_ms) {
  return ApplyPeopleAction(
      id, PeopleRequest{PeopleAction::kUnwaive, actor, comment, std::nullopt, now_ms});
}

Result<Finding> PgFindingStore::CommentFinding(int64_t id, std::string_view actor,
                                               std::string_view comment, int64_t now_ms) {
  return ApplyPeopleAction(
      id, PeopleRequest{PeopleAction::kComment, actor, comment, std::nullopt, now_ms});
}

Result<Finding> PgFindingStore::RequestVerification(int64_t id, std::string_view actor,
                                                    std::string_view comment, int64_t now_ms) {
  if (actor.empty() || comment.size() > 4096) {
    return MakeError(ErrorCode::kInvalidArgument, "actor required; comment at most 4096 bytes");
  }
  return pg::InTransaction(context_.pool, [&](pg::Connection& db) -> Result<Finding> {
    DOZOR_ASSIGN_OR_RETURN(Finding before, ReadFindingById(db, id, true));
    if (before.state == FindingState::kResolved) {
      return MakeError(ErrorCode::kFailedPrecondition,
                       "finding " + std::to_string(id) + " is already resolved");
    }
    // One pending request at a time: each asks every connected host concerned to collect now,
    // so repeating it would only load the client's machines. A request whose host never
    // reported back (offline) may be repeated after a while.
    if (before.verify_requested_at_ms &&
        now_ms - *before.verify_requested_at_ms < kFindingVerifyRepeatMs) {
      return MakeError(ErrorCode::kFailedPrecondition,
                       "a verification of finding " + std::to_string(id) + " asked by " +
                           before.verify_requested_by +
                           " is pending; the host's next inventory decides it (ask again in " +
                           std::to_string((kFindingVerifyRepeatMs -
                                           (now_ms - *before.verify_requested_at_ms) + 59'999) /
                                          60'000) +
                           " min if it never comes)");
    }
    DOZOR_RETURN_IF_ERROR(
        db.Run("UPDATE findings SET verify_requested_at = $3, "
               "verify_requested_by = $4 WHERE org_id = $1 AND id = $2",
               pg::Params(before.org_id, id, now_ms, actor)));
    DOZOR_RETURN_IF_ERROR(
        WriteFindingEvents(db,
                           {PendingFindingEvent{before.org_id, id, std::string(actor),
                                                FindingEventKind::kVerifyRequested, before.state,
                                                before.state, std::string(comment)}},
                           now_ms));
    return ReadFindingById(db, id, false);
  });
}

Result<Finding> PgFindingStore::AcceptWaiver(int64_t id, std::string_view actor,
                                             std::string_view comment, int64_t now_ms) {
  if (actor.empty() || comment.size() > 4096) {
    return MakeError(ErrorCode::kInvalidArgument, "actor required; comment at most 4096 bytes");
  }
  return pg::InTransaction(context_.pool, [&](pg::Connection& db) -> Result<Finding> {
    DOZOR_ASSIGN_OR_RETURN(Finding before, ReadFindingById(db, id, true));
    if (before.state != FindingState::kWaived) {
      return MakeError(
          ErrorCode::kFailedPrecondition,
          "finding " + std::to_string(id) + " is not waived; only a waiver is accepted");
    }
    DOZOR_RETURN_IF_ERROR(
        WriteFindingEvents(db,
                           {PendingFindingEvent{before.org_id, id, std::string(actor),
                                                FindingEventKind::kWaiverAccepted, before.state,
                                                before.state, std::string(comment)}},
                           now_ms));
    return before;
  });
}

}  // namespace dozor::server
