// SqliteStore, the event feed (event_store.hpp). Finding and contract events are written by
// sqlite_store_findings.cpp inside their own transactions; this file reads the feed and takes the
// events written from outside the store (host presence, agent trouble).
#include <algorithm>
#include <mutex>

#include "store/sqlite/sqlite_store.hpp"
#include "store/sqlite/sqlite_store_internal.hpp"
#include "store/sqlite/statement_helpers.hpp"
#include "store/sqlite/store_rows.hpp"

namespace dozor::server {

using namespace sqlite_store_internal;  // NOLINT(google-build-using-namespace)

Status SqliteStore::AppendEvent(const FeedEvent& event) {
  std::lock_guard lock(write_mu_);
  DOZOR_ASSIGN_OR_RETURN(
      auto insert,
      writer_.Prepare("INSERT INTO events(at, kind, org_id, agent_id, finding_id, actor, detail) "
                      "VALUES (?, ?, ?, ?, ?, ?, ?)"));
  return RunWith(insert, event.at_ms, event.kind, event.org_id, event.agent_id, event.finding_id,
                 event.actor, event.detail);
}

Result<std::vector<FeedEvent>> SqliteStore::ListEvents(const FeedFilter& filter) {
  std::optional<std::string> org_ids;
  if (filter.visible_org_ids) {
    org_ids = ",";
    for (const int64_t id : *filter.visible_org_ids) {
      *org_ids += std::to_string(id) + ",";
    }
  }
  ReaderLease reader = AcquireReader();
  DOZOR_ASSIGN_OR_RETURN(
      auto select,
      reader->db.Prepare("SELECT e.id, e.at, e.kind, e.org_id, coalesce(o.name, ''), e.agent_id, "
                         "coalesce(a.hostname, ''), e.finding_id, coalesce(f.rule_id, ''), "
                         "coalesce(f.severity, ''), e.actor, e.detail FROM events e "
                         "LEFT JOIN organizations o ON o.id = e.org_id "
                         "LEFT JOIN agents a ON a.agent_id = e.agent_id AND e.agent_id <> '' "
                         "LEFT JOIN findings f ON f.id = e.finding_id "
                         "WHERE e.id > ?1 AND (?2 IS NULL OR e.org_id = ?2) "
                         "AND (?3 IS NULL OR instr(?3, ',' || e.org_id || ',') > 0) "
                         "ORDER BY e.id LIMIT ?4"));
  return ReadAll(BindAll(select, filter.after_id, filter.org_id, org_ids,
                         static_cast<int64_t>(std::clamp(filter.limit, 1, 1000))),
                 [](const sqlite::Statement& s) {
                   FeedEvent event;
                   event.id = s.Int(0);
                   event.at_ms = s.Int(1);
                   event.kind = s.Text(2);
                   event.org_id = OptionalInt(s, 3);
                   event.org_name = s.Text(4);
                   event.agent_id = s.Text(5);
                   event.hostname = s.Text(6);
                   event.finding_id = OptionalInt(s, 7);
                   event.rule_id = s.Text(8);
                   event.severity = s.Text(9);
                   event.actor = s.Text(10);
                   event.detail = s.Text(11);
                   return event;
                 });
}

Result<int64_t> SqliteStore::LatestEventId() {
  ReaderLease reader = AcquireReader();
  DOZOR_ASSIGN_OR_RETURN(auto select,
                         reader->db.Prepare("SELECT coalesce(max(id), 0) FROM events"));
  DOZOR_ASSIGN_OR_RETURN(auto latest, ReadOptional(select, [](const auto& s) { return s.Int(0); }));
  return latest.value_or(0);
}

Result<std::vector<std::pair<std::string, std::string>>> SqliteStore::LastPresence() {
  ReaderLease reader = AcquireReader();
  DOZOR_ASSIGN_OR_RETURN(
      auto select, reader->db.Prepare(
                       "SELECT agent_id, kind FROM events WHERE id IN (SELECT max(id) FROM events "
                       "WHERE kind IN ('host_online', 'host_offline') GROUP BY agent_id)"));
  return ReadAll(select,
                 [](const sqlite::Statement& s) { return std::make_pair(s.Text(0), s.Text(1)); });
}

Result<int64_t> SqliteStore::PruneEvents(int64_t before_ms) {
  std::lock_guard lock(write_mu_);
  DOZOR_ASSIGN_OR_RETURN(auto remove, writer_.Prepare("DELETE FROM events WHERE at < ?"));
  DOZOR_RETURN_IF_ERROR(RunWith(remove, before_ms));
  return static_cast<int64_t>(writer_.Changes());
}

}  // namespace dozor::server
