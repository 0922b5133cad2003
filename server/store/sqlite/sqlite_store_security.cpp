// SqliteStore, security events area (security_event_store.hpp).
#include <algorithm>
#include <limits>
#include <string>

#include "store/sqlite/sqlite_store.hpp"
#include "store/sqlite/sqlite_store_internal.hpp"
#include "store/sqlite/statement_helpers.hpp"

namespace dozor::server {

using namespace sqlite_store_internal;  // NOLINT(google-build-using-namespace)

namespace {

constexpr size_t kMaxSecurityEventList = 10'000;

}  // namespace

Status SqliteStore::RecordSecurityEvents(const std::vector<SecurityEvent>& events) {
  if (events.empty()) return OkStatus();
  std::lock_guard lock(write_mu_);
  DOZOR_ASSIGN_OR_RETURN(auto insert,
                         writer_.Prepare("INSERT INTO security_events(at, kind, source, subject, "
                                         "detail, count) VALUES (?, ?, ?, ?, ?, ?)"));
  sqlite::Transaction txn(writer_);
  DOZOR_RETURN_IF_ERROR(txn.Begin());
  for (const auto& event : events) {
    DOZOR_RETURN_IF_ERROR(RunWith(insert, event.at_ms,
                                  std::string(SecurityEventKindName(event.kind)), event.source,
                                  event.subject, event.detail, std::max<int64_t>(1, event.count)));
  }
  return txn.Commit();
}

Result<std::vector<SecurityEvent>> SqliteStore::ListSecurityEvents(
    const SecurityEventFilter& filter) {
  const auto limit =
      static_cast<int64_t>(std::clamp<size_t>(filter.limit, 1, kMaxSecurityEventList));
  // Fixed text with one placeholder per kind asked for (the API passes each kind once).
  std::string sql =
      "SELECT id, at, kind, source, subject, detail, count FROM security_events "
      "WHERE at >= ? AND at < ? AND id < ?";
  if (!filter.kinds.empty()) {
    sql += " AND kind IN (";
    for (size_t i = 0; i < filter.kinds.size(); ++i) sql += i == 0 ? "?" : ", ?";
    sql += ")";
  }
  sql += " ORDER BY id DESC LIMIT ?";
  ReaderLease reader = AcquireReader();
  DOZOR_ASSIGN_OR_RETURN(auto statement, reader->db.Prepare(sql));
  int index = 1;
  statement.Bind(index++, filter.since_ms);
  statement.Bind(index++, filter.until_ms.value_or(std::numeric_limits<int64_t>::max()));
  statement.Bind(index++, filter.before_id.value_or(std::numeric_limits<int64_t>::max()));
  for (const SecurityEventKind kind : filter.kinds) {
    statement.Bind(index++, SecurityEventKindName(kind));
  }
  statement.Bind(index++, limit);
  return ReadAll(statement, [](const sqlite::Statement& s) {
    SecurityEvent event;
    event.id = s.Int(0);
    event.at_ms = s.Int(1);
    // The table's CHECK keeps other words out.
    event.kind = SecurityEventKindFromName(s.Text(2)).value_or(SecurityEventKind::kEnrollRefused);
    event.source = s.Text(3);
    event.subject = s.Text(4);
    event.detail = s.Text(5);
    event.count = s.Int(6);
    return event;
  });
}

Result<int64_t> SqliteStore::PruneSecurityEvents(int64_t before_ms) {
  std::lock_guard lock(write_mu_);
  DOZOR_ASSIGN_OR_RETURN(auto statement,
                         writer_.Prepare("DELETE FROM security_events WHERE at < ?"));
  DOZOR_RETURN_IF_ERROR(RunWith(statement, before_ms));
  return static_cast<int64_t>(writer_.Changes());
}

}  // namespace dozor::server
