// The event feed (store/event_store.hpp) on every backend, and the property its followers rely
// on: reading "id > cursor" never skips an event, even while several writers append at once.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "backends.hpp"

namespace dozor::server {
namespace {

using dozor::testing::kBackendClockStartMs;
using dozor::testing::MakeOrg;
using dozor::testing::Ok;

// Filters are set field by field: a designated initializer that skips members warns
// (-Wmissing-field-initializers), and the tree builds with -Werror.
template <typename Set>
FeedFilter FeedWhere(Set&& set) {
  FeedFilter filter;
  set(filter);
  return filter;
}

constexpr int64_t kFeedT0 = kBackendClockStartMs;

FeedEvent FeedOf(const std::string& kind, std::optional<int64_t> org_id,
                 const std::string& agent_id = "", int64_t at_ms = kFeedT0) {
  FeedEvent event;
  event.at_ms = at_ms;
  event.kind = kind;
  event.org_id = org_id;
  event.agent_id = agent_id;
  event.actor = "system";
  return event;
}

std::vector<std::string> FeedKinds(const std::vector<FeedEvent>& events) {
  std::vector<std::string> kinds;
  for (const auto& event : events) kinds.push_back(event.kind);
  return kinds;
}

// Enrolls agent `agent_id` (hostname "host-<agent_id>") into `org_id`.
template <typename Store>
void EnrollFeedAgent(Store& store, int64_t org_id, const std::string& agent_id) {
  NewEnrollmentToken token;
  token.org_id = org_id;
  token.token_hash = "token-for-" + agent_id;
  Ok(store.Agents().CreateEnrollmentToken(token));
  NewAgent agent;
  agent.agent_id = agent_id;
  agent.secret_hash = "secret-" + agent_id;
  agent.hostname = "host-" + agent_id;
  Ok(store.Agents().EnrollAgent(token.token_hash, agent, kFeedT0));
}

TEST_CASE_TEMPLATE("events: appended, read oldest first after a cursor, joined for reading",
                   Backend, DOZOR_BACKENDS) {
  Backend backend;
  auto& feed = backend.store->Events();
  CHECK(Ok(feed.LatestEventId()) == 0);
  CHECK(Ok(feed.ListEvents({})).empty());
  const int64_t acme = MakeOrg(*backend.store, "Acme");
  EnrollFeedAgent(*backend.store, acme, "a1");

  FeedEvent offline = FeedOf("host_offline", acme, "a1", kFeedT0 + 5);
  offline.detail = "нет связи 10 мин";
  Ok(feed.AppendEvent(offline));
  FeedEvent moved = FeedOf("contract_moved", acme, "", kFeedT0 + 1);  // earlier time, later id
  moved.actor = "anna";
  moved.detail = "prospect -> remediation";
  Ok(feed.AppendEvent(moved));
  Ok(feed.AppendEvent(FeedOf("agent_trouble", std::nullopt, "ghost")));

  const auto all = Ok(feed.ListEvents({}));
  REQUIRE(all.size() == 3);
  CHECK(FeedKinds(all) ==
        std::vector<std::string>{"host_offline", "contract_moved", "agent_trouble"});
  CHECK(all[0].id < all[1].id);
  CHECK(all[1].id < all[2].id);
  CHECK(Ok(feed.LatestEventId()) == all[2].id);

  const FeedEvent& host = all[0];
  CHECK(host.at_ms == kFeedT0 + 5);
  CHECK(host.org_id == acme);
  CHECK(host.org_name == "Acme");
  CHECK(host.agent_id == "a1");
  CHECK(host.hostname == "host-a1");
  CHECK(host.detail == "нет связи 10 мин");
  CHECK(host.actor == "system");
  CHECK_FALSE(host.finding_id.has_value());
  CHECK(host.rule_id.empty());
  CHECK(host.severity.empty());
  CHECK(all[1].actor == "anna");
  CHECK(all[1].detail == "prospect -> remediation");
  CHECK(all[1].hostname.empty());
  // Unknown agent and no organisation: the joined names stay empty.
  CHECK_FALSE(all[2].org_id.has_value());
  CHECK(all[2].org_name.empty());
  CHECK(all[2].agent_id == "ghost");
  CHECK(all[2].hostname.empty());

  CHECK(FeedKinds(Ok(feed.ListEvents(FeedWhere([&](FeedFilter& f) { f.after_id = all[0].id; })))) ==
        std::vector<std::string>{"contract_moved", "agent_trouble"});
  CHECK(Ok(feed.ListEvents(FeedWhere([&](FeedFilter& f) { f.after_id = all[2].id; }))).empty());
  CHECK(FeedKinds(Ok(feed.ListEvents(FeedWhere([&](FeedFilter& f) { f.limit = 2; })))) ==
        std::vector<std::string>{"host_offline", "contract_moved"});
  CHECK(Ok(feed.ListEvents(FeedWhere([&](FeedFilter& f) { f.limit = 0; }))).size() ==
        1);  // clamped to one
}

TEST_CASE_TEMPLATE("events: organisation filters and the caller's scope", Backend, DOZOR_BACKENDS) {
  Backend backend;
  auto& feed = backend.store->Events();
  const int64_t acme = MakeOrg(*backend.store, "Acme");
  const int64_t beta = MakeOrg(*backend.store, "Beta");
  const int64_t gamma = MakeOrg(*backend.store, "Gamma");
  Ok(feed.AppendEvent(FeedOf("acme-1", acme)));
  Ok(feed.AppendEvent(FeedOf("beta-1", beta)));
  Ok(feed.AppendEvent(FeedOf("none-1", std::nullopt)));
  Ok(feed.AppendEvent(FeedOf("gamma-1", gamma)));
  Ok(feed.AppendEvent(FeedOf("acme-2", acme)));

  CHECK(FeedKinds(Ok(feed.ListEvents(FeedWhere([&](FeedFilter& f) { f.org_id = acme; })))) ==
        std::vector<std::string>{"acme-1", "acme-2"});
  CHECK(Ok(feed.ListEvents(FeedWhere([&](FeedFilter& f) { f.org_id = gamma + 100; }))).empty());
  // A scoped caller sees its organisations only, never events of no organisation.
  CHECK(FeedKinds(Ok(feed.ListEvents(FeedWhere([&](FeedFilter& f) {
          f.visible_org_ids = std::vector<int64_t>{acme, gamma};
        })))) == std::vector<std::string>{"acme-1", "gamma-1", "acme-2"});
  CHECK(Ok(feed.ListEvents(FeedWhere([&](FeedFilter& f) {
          f.visible_org_ids = std::vector<int64_t>{};
        }))).empty());
  // Both: the organisation asked for, within the scope.
  CHECK(FeedKinds(Ok(feed.ListEvents(FeedWhere([&](FeedFilter& f) {
          f.visible_org_ids = std::vector<int64_t>{acme, beta};
          f.org_id = beta;
        })))) == std::vector<std::string>{"beta-1"});
  CHECK(Ok(feed.ListEvents(FeedWhere([&](FeedFilter& f) {
          f.visible_org_ids = std::vector<int64_t>{acme};
          f.org_id = beta;
        }))).empty());
  // Unscoped callers see everything, events of no organisation included.
  CHECK(Ok(feed.ListEvents({})).size() == 5);
  // The scope combines with the cursor and the limit.
  const int64_t first = Ok(feed.ListEvents({})).front().id;
  CHECK(FeedKinds(Ok(feed.ListEvents(FeedWhere([&](FeedFilter& f) {
          f.after_id = first;
          f.visible_org_ids = std::vector<int64_t>{acme, gamma};
          f.limit = 1;
        })))) == std::vector<std::string>{"gamma-1"});
}

TEST_CASE_TEMPLATE("events: last presence per agent and pruning by time", Backend, DOZOR_BACKENDS) {
  Backend backend;
  auto& feed = backend.store->Events();
  CHECK(Ok(feed.LastPresence()).empty());
  const int64_t acme = MakeOrg(*backend.store, "Acme");
  Ok(feed.AppendEvent(FeedOf("host_offline", acme, "a1", kFeedT0 + 1)));
  Ok(feed.AppendEvent(FeedOf("host_offline", acme, "a2", kFeedT0 + 2)));
  Ok(feed.AppendEvent(FeedOf("host_online", acme, "a1", kFeedT0 + 3)));
  Ok(feed.AppendEvent(FeedOf("agent_trouble", acme, "a2", kFeedT0 + 4)));  // not presence
  Ok(feed.AppendEvent(FeedOf("agent_trouble", acme, "a3", kFeedT0 + 5)));  // never present
  // The last by id, not by time.
  Ok(feed.AppendEvent(FeedOf("host_online", acme, "a4", kFeedT0 + 9)));
  Ok(feed.AppendEvent(FeedOf("host_offline", acme, "a4", kFeedT0 + 6)));

  auto presence = Ok(feed.LastPresence());
  std::sort(presence.begin(), presence.end());
  CHECK(presence == std::vector<std::pair<std::string, std::string>>{
                        {"a1", "host_online"}, {"a2", "host_offline"}, {"a4", "host_offline"}});

  const int64_t latest = Ok(feed.LatestEventId());
  CHECK(Ok(feed.PruneEvents(kFeedT0 + 1)) == 0);  // the cutoff itself is kept
  CHECK(Ok(feed.PruneEvents(kFeedT0 + 4)) == 3);
  CHECK(Ok(feed.PruneEvents(kFeedT0 + 4)) == 0);
  CHECK(Ok(feed.ListEvents({})).size() == 4);
  CHECK(Ok(feed.LatestEventId()) == latest);
  presence = Ok(feed.LastPresence());
  std::sort(presence.begin(), presence.end());
  CHECK(presence == std::vector<std::pair<std::string, std::string>>{{"a4", "host_offline"}});
  // Ids keep growing after a prune: a follower's cursor stays valid.
  Ok(feed.AppendEvent(FeedOf("host_online", acme, "a1", kFeedT0 + 10)));
  CHECK(Ok(feed.LatestEventId()) > latest);
  CHECK(FeedKinds(Ok(feed.ListEvents(FeedWhere([&](FeedFilter& f) { f.after_id = latest; })))) ==
        std::vector<std::string>{"host_online"});
}

// Writers append from several threads (on PostgreSQL, several connections: replicas) while a
// follower polls with a cursor; the follower must end up with every event exactly once.
TEST_CASE_TEMPLATE("events: a follower's cursor misses nothing while writers append at once",
                   Backend, DOZOR_BACKENDS) {
  Backend backend;
  auto& feed = backend.store->Events();
  constexpr int kWriters = 3;
  constexpr int kPerWriter = 40;
  std::atomic<int> writers_left{kWriters};
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; i < kPerWriter; ++i) {
        CHECK(feed.AppendEvent(
                      FeedOf("w" + std::to_string(w) + "-" + std::to_string(i), std::nullopt))
                  .ok());
      }
      --writers_left;
    });
  }
  std::vector<int64_t> followed;
  int64_t cursor = 0;
  while (true) {
    const bool done = writers_left.load() == 0;
    const auto page = Ok(feed.ListEvents(FeedWhere([&](FeedFilter& f) {
      f.after_id = cursor;
      f.limit = 7;
    })));
    for (const auto& event : page) {
      CHECK(event.id > cursor);
      followed.push_back(event.id);
      cursor = event.id;
    }
    if (done && page.empty()) break;  // every writer had finished before this read
  }
  for (auto& writer : writers) writer.join();

  std::vector<int64_t> stored;
  for (const auto& event : Ok(feed.ListEvents(FeedWhere([&](FeedFilter& f) { f.limit = 1000; }))))
    stored.push_back(event.id);
  CHECK(stored.size() == kWriters * kPerWriter);
  CHECK(followed == stored);
}

// The case the feed lock exists for, made deterministic on PostgreSQL: a transaction has drawn
// an id and not committed yet (a finding change inserting its event mid-transaction) when another
// writer appends. Without the lock the second event commits first with the larger id; a follower
// reading then moves its cursor past the first event, which it never sees.
TEST_CASE(
    "events (postgresql): an uncommitted event holds back later ones, so no cursor skips it") {
  dozor::testing::PostgresBackend backend;
  auto& feed = backend.store->Events();
  auto held = pg::Connection::Open(backend.database.conninfo());
  REQUIRE_MESSAGE(held.ok(), (held.ok() ? "" : held.error().ToString()));
  Ok(held->Exec("BEGIN"));
  const int64_t held_id = Ok(held->Query("INSERT INTO events(at, kind) VALUES ($1, 'held') "
                                         "RETURNING id",
                                         pg::Params(kFeedT0)))
                              .Int(0, 0);

  std::atomic<bool> appended{false};
  std::thread writer([&] {
    CHECK(feed.AppendEvent(FeedOf("later", std::nullopt)).ok());
    appended = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  // The later writer waits for the held transaction; a follower sees nothing yet.
  CHECK_FALSE(appended.load());
  int64_t cursor = 0;
  std::vector<std::string> followed;
  auto follow = [&] {
    for (const auto& event :
         Ok(feed.ListEvents(FeedWhere([&](FeedFilter& f) { f.after_id = cursor; })))) {
      followed.push_back(event.kind);
      cursor = event.id;
    }
  };
  follow();
  CHECK(followed.empty());

  Ok(held->Exec("COMMIT"));
  writer.join();
  CHECK(appended.load());
  follow();
  CHECK(followed == std::vector<std::string>{"held", "later"});
  CHECK(Ok(feed.LatestEventId()) > held_id);

  // A rolled-back id leaves a gap, never a later event stuck behind it.
  Ok(held->Exec("BEGIN"));
  Ok(held->Query("INSERT INTO events(at, kind) VALUES ($1, 'dropped')", pg::Params(kFeedT0)));
  std::thread second([&] { CHECK(feed.AppendEvent(FeedOf("after-drop", std::nullopt)).ok()); });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  Ok(held->Exec("ROLLBACK"));
  second.join();
  follow();
  CHECK(followed == std::vector<std::string>{"held", "later", "after-drop"});
}

// Replicas appending inside longer transactions (as finding changes do), with a follower polling
// all the while: every event is followed exactly once, in id order.
TEST_CASE("events (postgresql): followers miss nothing while transactions append concurrently") {
  dozor::testing::PostgresBackend backend;
  auto& feed = backend.store->Events();
  constexpr int kTxnWriters = 3;
  constexpr int kPerTxnWriter = 25;
  std::atomic<int> writers_left{kTxnWriters + 1};
  std::vector<std::thread> writers;
  for (int w = 0; w < kTxnWriters; ++w) {
    writers.emplace_back([&, w] {
      auto db = pg::Connection::Open(backend.database.conninfo());
      CHECK(db.ok());
      for (int i = 0; db.ok() && i < kPerTxnWriter; ++i) {
        CHECK(db->Exec("BEGIN").ok());
        CHECK(db->Run("INSERT INTO events(at, kind) VALUES ($1, $2)",
                      pg::Params(kFeedT0, "txn-" + std::to_string(w)))
                  .ok());
        // Work after the event, before COMMIT: the window a skipped event falls into.
        std::this_thread::sleep_for(std::chrono::milliseconds(1 + (w + i) % 3));
        CHECK(db->Exec("COMMIT").ok());
      }
      --writers_left;
    });
  }
  writers.emplace_back([&] {
    for (int i = 0; i < kPerTxnWriter; ++i) {
      CHECK(feed.AppendEvent(FeedOf("append", std::nullopt)).ok());
    }
    --writers_left;
  });

  std::vector<int64_t> followed;
  int64_t cursor = 0;
  while (true) {
    const bool done = writers_left.load() == 0;
    const auto page = Ok(feed.ListEvents(FeedWhere([&](FeedFilter& f) {
      f.after_id = cursor;
      f.limit = 5;
    })));
    for (const auto& event : page) {
      followed.push_back(event.id);
      cursor = event.id;
    }
    if (done && page.empty()) break;  // every writer had finished before this read
  }
  for (auto& writer : writers) writer.join();
  std::vector<int64_t> stored;
  for (const auto& event : Ok(feed.ListEvents(FeedWhere([&](FeedFilter& f) { f.limit = 1000; }))))
    stored.push_back(event.id);
  CHECK(stored.size() == (kTxnWriters + 1) * kPerTxnWriter);
  CHECK(followed == stored);
}

// The sequence continues where the identity of migration 001 stopped, and `store migrate`'s
// explicit ids are still taken (they bypass the lock; nothing else writes during a copy).
TEST_CASE("events (postgresql): explicit ids are kept and the sequence is the column's") {
  dozor::testing::PostgresBackend backend;
  auto db = pg::Connection::Open(backend.database.conninfo());
  REQUIRE(db.ok());
  Ok(db->Run("INSERT INTO events(id, at, kind) VALUES (41, $1, 'copied')", pg::Params(kFeedT0)));
  CHECK(Ok(backend.store->Events().LatestEventId()) == 41);
  const auto sequence = Ok(db->Query("SELECT pg_get_serial_sequence('events', 'id') IS NOT NULL"));
  CHECK(sequence.Bool(0, 0));
  Ok(db->Run("SELECT setval(pg_get_serial_sequence('events', 'id'), 41)"));
  Ok(backend.store->Events().AppendEvent(FeedOf("next", std::nullopt)));
  CHECK(Ok(backend.store->Events().LatestEventId()) == 42);
}

}  // namespace
}  // namespace dozor::server
