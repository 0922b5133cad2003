#include "store/postgres/pg_security_event_store.hpp"

#include <algorithm>
#include <limits>
#include <string>

namespace dozor::server {

namespace {

constexpr size_t kMaxSecurityEventPage = 10'000;

// A text[] literal of kind words ({enroll_refused,throttled}), bound as one parameter so the
// statement's text stays fixed whatever the filter asks for. The words are the fixed spellings
// (lower-case letters and underscores): nothing to quote.
std::optional<std::string> SecurityKindArray(const std::vector<SecurityEventKind>& kinds) {
  if (kinds.empty()) {
    return std::nullopt;
  }
  std::string array = "{";
  for (size_t i = 0; i < kinds.size(); ++i) {
    if (i > 0) array += ",";
    array += SecurityEventKindName(kinds[i]);
  }
  return array + "}";
}

}  // namespace

Status PgSecurityEventStore::RecordSecurityEvents(const std::vector<SecurityEvent>& events) {
  if (events.empty()) return OkStatus();
  return pg::InTransaction(context_.pool, [&](pg::Connection& db) -> Status {
    for (const SecurityEvent& event : events) {
      DOZOR_RETURN_IF_ERROR(db.Run(
          "INSERT INTO security_events(at, kind, source, subject, detail, count) "
          "VALUES ($1, $2, $3, $4, $5, $6)",
          pg::Params(event.at_ms, std::string(SecurityEventKindName(event.kind)), event.source,
                     event.subject, event.detail, std::max<int64_t>(1, event.count))));
    }
    return OkStatus();
  });
}

Result<std::vector<SecurityEvent>> PgSecurityEventStore::ListSecurityEvents(
    const SecurityEventFilter& filter) {
  const auto limit =
      static_cast<int64_t>(std::clamp<size_t>(filter.limit, 1, kMaxSecurityEventPage));
  DOZOR_ASSIGN_OR_RETURN(auto db, context_.pool.Acquire());
  DOZOR_ASSIGN_OR_RETURN(
      pg::Rows rows,
      db->Query(
          "SELECT id, at, kind, source, subject, detail, count FROM security_events "
          "WHERE at >= $1 AND at < $2 AND id < $3 "
          "AND ($4::text[] IS NULL OR kind = ANY($4::text[])) ORDER BY id DESC LIMIT $5",
          pg::Params(filter.since_ms, filter.until_ms.value_or(std::numeric_limits<int64_t>::max()),
                     filter.before_id.value_or(std::numeric_limits<int64_t>::max()),
                     SecurityKindArray(filter.kinds), limit)));
  std::vector<SecurityEvent> events;
  events.reserve(rows.size());
  for (int row = 0; row < rows.size(); ++row) {
    SecurityEvent event;
    event.id = rows.Int(row, 0);
    event.at_ms = rows.Int(row, 1);
    // The table's CHECK keeps other words out.
    event.kind =
        SecurityEventKindFromName(rows.Text(row, 2)).value_or(SecurityEventKind::kEnrollRefused);
    event.source = rows.Text(row, 3);
    event.subject = rows.Text(row, 4);
    event.detail = rows.Text(row, 5);
    event.count = rows.Int(row, 6);
    events.push_back(std::move(event));
  }
  return events;
}

Result<int64_t> PgSecurityEventStore::PruneSecurityEvents(int64_t before_ms) {
  DOZOR_ASSIGN_OR_RETURN(auto db, context_.pool.Acquire());
  // Two replicas pruning at once delete each row once: the second waits on the first's row
  // locks and skips what it deleted, so the counts add up to the rows removed.
  return db->Run("DELETE FROM security_events WHERE at < $1", pg::Params(before_ms));
}

}  // namespace dozor::server
