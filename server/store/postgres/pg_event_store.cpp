#include "store/postgres/pg_event_store.hpp"

#include <algorithm>
#include <string>

namespace dozor::server {

namespace {

constexpr int kMaxFeedPage = 1000;

// A bigint[] literal ({3,5}) of the organisations a caller sees, bound as one parameter; an
// empty list ({}) matches nothing, as on SQLite.
std::optional<std::string> FeedOrgArray(const std::optional<std::vector<int64_t>>& ids) {
  if (!ids) {
    return std::nullopt;
  }
  std::string array = "{";
  for (size_t i = 0; i < ids->size(); ++i) {
    if (i > 0) array += ",";
    array += std::to_string((*ids)[i]);
  }
  return array + "}";
}

}  // namespace

Status PgEventStore::AppendEvent(const FeedEvent& event) {
  DOZOR_ASSIGN_OR_RETURN(auto db, context_.pool.Acquire());
  // No id: the column's default (dozor_next_event_id) orders it behind every earlier commit.
  DOZOR_RETURN_IF_ERROR(
      db->Run("INSERT INTO events(at, kind, org_id, agent_id, finding_id, actor, detail) "
              "VALUES ($1, $2, $3, $4, $5, $6, $7)",
              pg::Params(event.at_ms, event.kind, event.org_id, event.agent_id, event.finding_id,
                         event.actor, event.detail)));
  return OkStatus();
}

Result<std::vector<FeedEvent>> PgEventStore::ListEvents(const FeedFilter& filter) {
  DOZOR_ASSIGN_OR_RETURN(auto db, context_.pool.Acquire());
  // Events of no organisation match neither org filter: only callers who see all get them.
  DOZOR_ASSIGN_OR_RETURN(
      pg::Rows rows,
      db->Query("SELECT e.id, e.at, e.kind, e.org_id, coalesce(o.name, ''), e.agent_id, "
                "coalesce(a.hostname, ''), e.finding_id, coalesce(f.rule_id, ''), "
                "coalesce(f.severity, ''), e.actor, e.detail FROM events e "
                "LEFT JOIN organizations o ON o.id = e.org_id "
                "LEFT JOIN agents a ON a.agent_id = e.agent_id AND e.agent_id <> '' "
                "LEFT JOIN findings f ON f.org_id = e.org_id AND f.id = e.finding_id "
                "WHERE e.id > $1 AND ($2::bigint IS NULL OR e.org_id = $2) "
                "AND ($3::bigint[] IS NULL OR e.org_id = ANY($3::bigint[])) "
                "ORDER BY e.id LIMIT $4",
                pg::Params(filter.after_id, filter.org_id, FeedOrgArray(filter.visible_org_ids),
                           std::clamp(filter.limit, 1, kMaxFeedPage))));
  std::vector<FeedEvent> events;
  events.reserve(rows.size());
  for (int row = 0; row < rows.size(); ++row) {
    FeedEvent event;
    event.id = rows.Int(row, 0);
    event.at_ms = rows.Int(row, 1);
    event.kind = rows.Text(row, 2);
    event.org_id = rows.OptionalInt(row, 3);
    event.org_name = rows.Text(row, 4);
    event.agent_id = rows.Text(row, 5);
    event.hostname = rows.Text(row, 6);
    event.finding_id = rows.OptionalInt(row, 7);
    event.rule_id = rows.Text(row, 8);
    event.severity = rows.Text(row, 9);
    event.actor = rows.Text(row, 10);
    event.detail = rows.Text(row, 11);
    events.push_back(std::move(event));
  }
  return events;
}

Result<int64_t> PgEventStore::LatestEventId() {
  DOZOR_ASSIGN_OR_RETURN(auto db, context_.pool.Acquire());
  // Safe as a new reader's cursor: an event still uncommitted holds the feed lock, so its id is
  // larger than every visible one.
  DOZOR_ASSIGN_OR_RETURN(pg::Rows rows, db->Query("SELECT coalesce(max(id), 0) FROM events"));
  return rows.empty() ? 0 : rows.Int(0, 0);
}

Result<std::vector<std::pair<std::string, std::string>>> PgEventStore::LastPresence() {
  DOZOR_ASSIGN_OR_RETURN(auto db, context_.pool.Acquire());
  DOZOR_ASSIGN_OR_RETURN(
      pg::Rows rows,
      db->Query("SELECT DISTINCT ON (agent_id) agent_id, kind FROM events "
                "WHERE kind IN ('host_online', 'host_offline') ORDER BY agent_id, id DESC"));
  std::vector<std::pair<std::string, std::string>> presence;
  presence.reserve(rows.size());
  for (int row = 0; row < rows.size(); ++row) {
    presence.emplace_back(rows.Text(row, 0), rows.Text(row, 1));
  }
  return presence;
}

Result<int64_t> PgEventStore::PruneEvents(int64_t before_ms) {
  DOZOR_ASSIGN_OR_RETURN(auto db, context_.pool.Acquire());
  return db->Run("DELETE FROM events WHERE at < $1", pg::Params(before_ms));
}

}  // namespace dozor::server
