// The security events area (store/security_event_store.hpp) on every backend. The caller
// aggregates a flood of refusals into one row with a count (ingest/security_audit.hpp); the store
// keeps rows and counts as given.
#include <doctest/doctest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "backends.hpp"

namespace dozor::server {
namespace {

using dozor::testing::Ok;

// Filters are set field by field: a designated initializer that skips members warns
// (-Wmissing-field-initializers), and the tree builds with -Werror.
template <typename Set>
SecurityEventFilter SecWhere(Set&& set) {
  SecurityEventFilter filter;
  set(filter);
  return filter;
}

SecurityEvent Refusal(int64_t at_ms, SecurityEventKind kind, int64_t count = 1) {
  SecurityEvent event;
  event.at_ms = at_ms;
  event.kind = kind;
  event.source = "10.0.0." + std::to_string(at_ms % 250);
  event.subject = "agent-" + std::to_string(at_ms);
  event.detail = "refused at " + std::to_string(at_ms);
  event.count = count;
  return event;
}

std::vector<int64_t> AtsOf(const std::vector<SecurityEvent>& events) {
  std::vector<int64_t> ats;
  for (const auto& event : events) ats.push_back(event.at_ms);
  return ats;
}

TEST_CASE_TEMPLATE("security events: recorded with their counts and listed newest first", Backend,
                   DOZOR_BACKENDS) {
  Backend backend;
  auto& security = backend.store->SecurityEvents();
  Ok(security.RecordSecurityEvents({}));  // nothing to record is fine
  CHECK(Ok(security.ListSecurityEvents({})).empty());

  SecurityEvent flood = Refusal(1000, SecurityEventKind::kEnrollRefused, 17);
  flood.source = "[2001:db8::1]:5000";
  flood.subject = "dz\\x00ab";  // escaped by the caller, stored as given
  flood.detail = "токен отозван";
  Ok(security.RecordSecurityEvents({flood, Refusal(2000, SecurityEventKind::kThrottled, 0),
                                    Refusal(1500, SecurityEventKind::kAgentAuthFailed, -4)}));

  const auto listed = Ok(security.ListSecurityEvents({}));
  REQUIRE(listed.size() == 3);
  // Newest recorded first (by id, not by time): the row at 1500 was recorded last.
  CHECK(AtsOf(listed) == std::vector<int64_t>{1500, 2000, 1000});
  CHECK(listed[0].id > listed[1].id);
  CHECK(listed[1].id > listed[2].id);
  CHECK(listed[0].kind == SecurityEventKind::kAgentAuthFailed);
  CHECK(listed[1].kind == SecurityEventKind::kThrottled);
  // A count below one is stored as one: every row stands for at least one refusal.
  CHECK(listed[0].count == 1);
  CHECK(listed[1].count == 1);
  const SecurityEvent& stored = listed[2];
  CHECK(stored.kind == SecurityEventKind::kEnrollRefused);
  CHECK(stored.count == 17);
  CHECK(stored.source == "[2001:db8::1]:5000");
  CHECK(stored.subject == "dz\\x00ab");
  CHECK(stored.detail == "токен отозван");

  // Every kind round-trips through its stored spelling.
  std::vector<SecurityEvent> every;
  for (const SecurityEventKind kind : kSecurityEventKinds) {
    every.push_back(Refusal(3000, kind));
  }
  Ok(security.RecordSecurityEvents(every));
  const auto kinds =
      Ok(security.ListSecurityEvents(SecWhere([&](SecurityEventFilter& f) { f.since_ms = 3000; })));
  REQUIRE(kinds.size() == kSecurityEventKinds.size());
  for (size_t i = 0; i < kinds.size(); ++i) {
    CHECK(kinds[i].kind == kSecurityEventKinds[kSecurityEventKinds.size() - 1 - i]);
  }
}

TEST_CASE_TEMPLATE("security events: filtered by time and kind, paged by id", Backend,
                   DOZOR_BACKENDS) {
  Backend backend;
  auto& security = backend.store->SecurityEvents();
  std::vector<SecurityEvent> events;
  for (int i = 1; i <= 7; ++i) {  // at 1000 .. 7000, recorded in time order
    events.push_back(Refusal(i * 1000, i % 2 == 0 ? SecurityEventKind::kApiAuthFailed
                                                  : SecurityEventKind::kImportRefused));
  }
  events.back().kind = SecurityEventKind::kThrottled;  // at 7000
  Ok(security.RecordSecurityEvents(events));

  CHECK(AtsOf(Ok(security.ListSecurityEvents(SecWhere([&](SecurityEventFilter& f) {
          f.kinds = {SecurityEventKind::kApiAuthFailed};
        })))) == std::vector<int64_t>{6000, 4000, 2000});
  CHECK(AtsOf(Ok(security.ListSecurityEvents(SecWhere([&](SecurityEventFilter& f) {
          f.kinds = {SecurityEventKind::kImportRefused, SecurityEventKind::kThrottled};
        })))) == std::vector<int64_t>{7000, 5000, 3000, 1000});
  CHECK(Ok(security.ListSecurityEvents(SecWhere([&](SecurityEventFilter& f) {
          f.kinds = {SecurityEventKind::kEnrollRefused};
        }))).empty());
  // since is inclusive, until exclusive.
  CHECK(AtsOf(Ok(security.ListSecurityEvents(SecWhere([&](SecurityEventFilter& f) {
          f.since_ms = 2000;
          f.until_ms = 5000;
        })))) == std::vector<int64_t>{4000, 3000, 2000});
  CHECK(AtsOf(Ok(security.ListSecurityEvents(SecWhere([&](SecurityEventFilter& f) {
          f.since_ms = 2000;
          f.until_ms = 5000;
          f.kinds = {SecurityEventKind::kApiAuthFailed};
        })))) == std::vector<int64_t>{4000, 2000});
  CHECK(Ok(security.ListSecurityEvents(SecWhere([&](SecurityEventFilter& f) {
          f.since_ms = 8000;
        }))).empty());

  // Pages of two by before_id walk every row once, newest first.
  std::vector<int64_t> walked;
  std::optional<int64_t> before;
  for (int page = 0; page < 10; ++page) {
    const auto rows = Ok(security.ListSecurityEvents(SecWhere([&](SecurityEventFilter& f) {
      f.before_id = before;
      f.limit = 2;
    })));
    if (rows.empty()) break;
    CHECK(rows.size() <= 2);
    for (const auto& row : rows) walked.push_back(row.at_ms);
    before = rows.back().id;
  }
  CHECK(walked == std::vector<int64_t>{7000, 6000, 5000, 4000, 3000, 2000, 1000});
  // A limit of zero is clamped to one row.
  CHECK(Ok(security.ListSecurityEvents(SecWhere([&](SecurityEventFilter& f) {
          f.limit = 0;
        }))).size() == 1);
}

TEST_CASE_TEMPLATE("security events: pruning deletes rows older than the cutoff", Backend,
                   DOZOR_BACKENDS) {
  Backend backend;
  auto& security = backend.store->SecurityEvents();
  std::vector<SecurityEvent> events;
  for (int i = 1; i <= 40; ++i) events.push_back(Refusal(i * 100, SecurityEventKind::kThrottled));
  Ok(security.RecordSecurityEvents(events));

  CHECK(Ok(security.PruneSecurityEvents(100)) == 0);  // the cutoff itself is kept
  CHECK(Ok(security.PruneSecurityEvents(501)) == 5);
  CHECK(Ok(security.PruneSecurityEvents(501)) == 0);
  CHECK(Ok(security.ListSecurityEvents(SecWhere([&](SecurityEventFilter& f) {
          f.limit = 1000;
        }))).size() == 35);

  // Two pruners at once: each row deleted (and counted) once.
  std::atomic<int64_t> pruned{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&] {
      auto deleted = security.PruneSecurityEvents(3001);
      CHECK(deleted.ok());
      if (deleted.ok()) pruned += *deleted;
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(pruned.load() == 25);
  const auto left =
      Ok(security.ListSecurityEvents(SecWhere([&](SecurityEventFilter& f) { f.limit = 1000; })));
  REQUIRE(left.size() == 10);
  CHECK(left.back().at_ms == 3100);
}

}  // namespace
}  // namespace dozor::server
