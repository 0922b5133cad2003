// Host presence for the event feed over a real SQLite store: online at the first report, offline
// after the threshold, online again; agent trouble when the agent reports dropped samples; and a
// restarted monitor does not announce known hosts again.
#include "app/presence_monitor.hpp"

#include <doctest/doctest.h>

#include "store/sqlite/sqlite_store.hpp"
#include "test_util.hpp"

namespace dozor::server {
namespace {

std::vector<std::string> Kinds(SqliteStore& store) {
  std::vector<std::string> out;
  FeedFilter filter;
  // The result is kept: a range-for over *ListEvents(...) would walk a destroyed temporary.
  auto events = store.ListEvents(filter);
  REQUIRE(events.ok());
  for (const auto& event : *events) out.push_back(event.kind);
  return out;
}

TEST_CASE("presence: online, offline after the threshold, online again, agent trouble") {
  dozor::testing::TempDir dir;
  SqliteStoreOptions options;
  options.path = (dir / "dozor.db").string();
  options.background_checkpoint = false;
  auto store = std::move(OpenSqliteStore(options)).value();
  Organization org;
  org.name = "Acme";
  const int64_t org_id = store->CreateOrganization(org)->id;
  NewEnrollmentToken token;
  token.org_id = org_id;
  token.token_hash = "th";
  REQUIRE(store->CreateEnrollmentToken(token).ok());
  NewAgent agent;
  agent.agent_id = "agent-1";
  agent.secret_hash = "s";
  REQUIRE(store->EnrollAgent("th", agent, 1000).ok());
  uint64_t seq = 0;
  auto report = [&](int64_t at_ms, uint64_t dropped) {
    std::vector<IncomingReport> batch(1);
    batch[0].agent_id = "agent-1";
    batch[0].received_at_ms = at_ms;
    batch[0].report.set_seq(++seq);
    batch[0].report.set_collected_at_ms(at_ms);
    batch[0].report.set_dropped_health_samples(dropped);
    batch[0].report.mutable_health()->set_cpu_percent(1);
    REQUIRE(store->CommitReports(batch).ok());
  };

  const int64_t offline_after = 180'000;
  PresenceMonitor monitor(*store, offline_after);
  CHECK(*monitor.Check(10'000) == 0);  // enrolled, never reported: nothing to say yet
  report(20'000, 0);
  CHECK(*monitor.Check(21'000) == 1);
  CHECK(*monitor.Check(100'000) == 0);
  CHECK(*monitor.Check(20'000 + offline_after + 1) == 1);
  report(500'000, 3);
  CHECK(*monitor.Check(501'000) == 2);  // back online, and it dropped samples meanwhile
  CHECK(Kinds(*store) ==
        std::vector<std::string>{"host_online", "host_offline", "host_online", "agent_trouble"});
  auto events = store->ListEvents(FeedFilter{});
  CHECK(events->at(1).detail.find("no report for") != std::string::npos);
  CHECK(events->at(3).detail.find("dropped 3") != std::string::npos);
  CHECK(events->at(0).org_id == org_id);

  // A restart (a new monitor) knows the host is online from the feed: no repeated announcement.
  PresenceMonitor restarted(*store, offline_after);
  CHECK(*restarted.Check(502'000) == 0);
  CHECK(*restarted.Check(500'000 + offline_after + 1) == 1);
  CHECK(Kinds(*store).back() == "host_offline");
}

}  // namespace
}  // namespace dozor::server
