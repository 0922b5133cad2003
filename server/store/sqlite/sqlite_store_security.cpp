// SqliteStore, security events area (security_event_store.hpp).
#include <algorithm>

#include "store/sqlite/sqlite_store.hpp"
#include "store/sqlite/sqlite_store_internal.hpp"
#include "store/sqlite/statement_helpers.hpp"

namespace dozor::server {

using namespace sqlite_store_internal;  // NOLINT(google-build-using-namespace)

namespace {

constexpr size_t kMaxSecurityEventList = 10'000;

SecurityEventKind KindFromName(std::string_view name) {
  for (auto kind : {SecurityEventKind::kEnrollRefused, SecurityEventKind::kAgentAuthFailed,
                    SecurityEventKind::kThrottled, SecurityEventKind::kApiAuthFailed,
                    SecurityEventKind::kImportRefused}) {
    if (name == SecurityEventKindName(kind)) return kind;
  }
  return SecurityEventKind::kEnrollRefused;  // the table's CHECK keeps other words out
}

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

Result<std::vector<SecurityEvent>> SqliteStore::ListSecurityEvents(int64_t since_ms, size_t limit) {
  limit = std::clamp<size_t>(limit, 1, kMaxSecurityEventList);
  ReaderLease reader = AcquireReader();
  DOZOR_ASSIGN_OR_RETURN(auto statement,
                         reader->db.Prepare("SELECT id, at, kind, source, subject, detail, count "
                                            "FROM security_events WHERE at >= ? "
                                            "ORDER BY at DESC, id DESC LIMIT ?"));
  return ReadAll(BindAll(statement, since_ms, static_cast<int64_t>(limit)),
                 [](const sqlite::Statement& s) {
                   SecurityEvent event;
                   event.id = s.Int(0);
                   event.at_ms = s.Int(1);
                   event.kind = KindFromName(s.Text(2));
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
