// The PostgreSQL replica channel (store/postgres/pg_replica_channel.hpp): two or three channels on
// one database act as replicas of one dozor-server. Which replica holds an agent's stream, a
// command or a disconnect forwarded there (woken by NOTIFY, or found by the poll), dead and
// restarted replicas, and the order of one agent's commands.
#include <doctest/doctest.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "backends.hpp"
#include "dozor/v1/agent.pb.h"
#include "store/postgres/pg_replica_channel.hpp"

namespace dozor::server {
namespace {

using dozor::testing::EnrollHost;
using dozor::testing::Ok;
using dozor::testing::TestPostgresDatabase;

// What a replica's delivery callback received.
class RelayInbox {
 public:
  void Add(const ForwardedRequest& request) {
    std::lock_guard lock(mutex_);
    requests_.push_back(request);
    changed_.notify_all();
  }
  // Waits until `count` requests arrived (at most `timeout`); all of them.
  std::vector<ForwardedRequest> WaitFor(
      size_t count, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, timeout, [&] { return requests_.size() >= count; });
    return requests_;
  }
  size_t size() {
    std::lock_guard lock(mutex_);
    return requests_.size();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<ForwardedRequest> requests_;
};

// A database with the schema and two enrolled agents; channels made on it share the fake clock.
struct RelayBed {
  FakeClock clock{dozor::testing::kBackendClockStartMs};
  TestPostgresDatabase database;
  std::unique_ptr<PostgresStore> store;
  std::string agent = "agent-relay-1";
  std::string other_agent = "agent-relay-2";

  RelayBed() {
    PostgresStoreOptions options;
    options.conninfo = database.conninfo();
    options.pool_size = 2;
    options.clock = &clock;
    store = Ok(PostgresStore::Open(options));
    EnrollHost(*store, "Relay Org", agent);
    EnrollHost(*store, "Relay Org", other_agent);
  }
  ~RelayBed() { store.reset(); }

  // A started channel delivering into `inbox`. Heartbeats and polls are far apart unless a test
  // asks otherwise, so what a test sees comes from the path it exercises.
  std::unique_ptr<PgReplicaChannel> Replica(
      RelayInbox& inbox, const std::function<void(ReplicaChannelOptions&)>& tweak = {}) {
    ReplicaChannelOptions options;
    options.conninfo = database.conninfo();
    options.clock = &clock;
    options.heartbeat_interval = std::chrono::seconds(60);
    options.poll_interval = std::chrono::seconds(60);
    options.connected_cache_ttl = std::chrono::milliseconds(0);
    if (tweak) {
      tweak(options);
    }
    auto channel = Ok(PgReplicaChannel::Open(options));
    Ok(channel->Start([&inbox](const ForwardedRequest& request) { inbox.Add(request); }));
    return channel;
  }

  int64_t Count(const std::string& table) {
    auto db = Ok(pg::Connection::Open(database.conninfo()));
    // A table name from this file, not from input.
    auto rows = Ok(db.Query("SELECT count(*) FROM " + table));
    return rows.Int(0, 0);
  }
};

std::string CollectNowBytes() {
  dozor::v1::Command command;
  command.mutable_collect_inventory();
  return command.SerializeAsString();
}

std::string IntervalsBytes(uint32_t health_seconds) {
  dozor::v1::Command command;
  command.mutable_set_intervals()->set_health_interval_seconds(health_seconds);
  return command.SerializeAsString();
}

// Polls `condition` for up to 10 s (the channel's thread writes asynchronously).
bool RelayEventually(const std::function<bool()>& condition) {
  for (int i = 0; i < 200; ++i) {
    if (condition()) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return condition();
}

TEST_CASE("replica channel: locate the replica holding a stream and deliver a command by NOTIFY") {
  RelayBed bed;
  RelayInbox inbox_a, inbox_b;
  auto a = bed.Replica(inbox_a);
  auto b = bed.Replica(inbox_b);
  CHECK(a->replica_id() != b->replica_id());
  CHECK(bed.Count("replicas") == 2);

  CHECK_FALSE(Ok(b->Locate(bed.agent)).has_value());
  Ok(a->RegisterStream(bed.agent));
  CHECK(Ok(b->Locate(bed.agent)) == a->replica_id());
  CHECK(Ok(a->Locate(bed.agent)) == a->replica_id());
  CHECK(Ok(b->IsConnectedElsewhere(bed.agent)));
  CHECK_FALSE(Ok(a->IsConnectedElsewhere(bed.agent)));  // its own stream is not "elsewhere"
  CHECK_FALSE(Ok(b->IsConnectedElsewhere(bed.other_agent)));

  // The poll is a minute away (and its first pass, after LISTEN, is done): only the notification
  // can bring it within the wait.
  REQUIRE(RelayEventually([&] { return a->listening(); }));
  const uint64_t id = Ok(b->ForwardCommand(bed.agent, CollectNowBytes()));
  CHECK(id > 0);
  auto received = inbox_a.WaitFor(1, std::chrono::seconds(5));
  REQUIRE(received.size() == 1);
  CHECK(received[0].id == static_cast<int64_t>(id));
  CHECK(received[0].agent_id == bed.agent);
  CHECK(received[0].kind == ForwardedRequest::Kind::kCommand);
  dozor::v1::Command command;
  REQUIRE(command.ParseFromString(received[0].command));
  CHECK(command.has_collect_inventory());
  CHECK(inbox_b.size() == 0);
  CHECK(RelayEventually([&] { return bed.Count("replica_requests") == 0; }));
  Ok(b->ForwardCommand(bed.agent, IntervalsBytes(30)));
  CHECK(inbox_a.WaitFor(2, std::chrono::seconds(5)).size() == 2);

  // Not to itself, not to an agent nobody holds, not to an agent that does not exist.
  auto to_self = a->ForwardCommand(bed.agent, CollectNowBytes());
  REQUIRE_FALSE(to_self.ok());
  CHECK(to_self.error().code == ErrorCode::kUnavailable);
  CHECK(to_self.error().message == "agent " + bed.agent + " is not connected");
  auto nobody = b->ForwardCommand(bed.other_agent, CollectNowBytes());
  REQUIRE_FALSE(nobody.ok());
  CHECK(nobody.error().code == ErrorCode::kUnavailable);
  CHECK_FALSE(b->ForwardCommand("no-such-agent", CollectNowBytes()).ok());
  CHECK(bed.Count("replica_requests") == 0);

  // Closing the stream: nobody holds it any more.
  Ok(a->UnregisterStream(bed.agent));
  CHECK_FALSE(Ok(b->Locate(bed.agent)).has_value());
  CHECK(bed.Count("agent_streams") == 0);
}

TEST_CASE("replica channel: is-connected answers come from a set read at most once per ttl") {
  RelayBed bed;
  RelayInbox inbox_a, inbox_b;
  auto a = bed.Replica(inbox_a);
  auto b = bed.Replica(inbox_b, [](ReplicaChannelOptions& options) {
    options.connected_cache_ttl = std::chrono::milliseconds(400);
  });
  Ok(a->RegisterStream(bed.agent));
  CHECK(Ok(b->IsConnectedElsewhere(bed.agent)));
  CHECK_FALSE(Ok(b->IsConnectedElsewhere(bed.other_agent)));
  Ok(a->RegisterStream(bed.other_agent));
  Ok(b->RegisterStream(bed.agent));                           // now b's own: not elsewhere
  CHECK_FALSE(Ok(b->IsConnectedElsewhere(bed.other_agent)));  // the set read before
  CHECK(Ok(b->IsConnectedElsewhere(bed.agent)));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  CHECK(Ok(b->IsConnectedElsewhere(bed.other_agent)));
  CHECK_FALSE(Ok(b->IsConnectedElsewhere(bed.agent)));
  // Forwarding does not use the set.
  CHECK_FALSE(b->ForwardCommand(bed.agent, CollectNowBytes()).ok());
  Ok(b->ForwardCommand(bed.other_agent, CollectNowBytes()));
  // A got two requests, in the order they were queued: its stream of the agent that moved to B
  // is superseded, then the command for the agent it still holds.
  const auto received = inbox_a.WaitFor(2, std::chrono::seconds(5));
  REQUIRE(received.size() == 2);
  CHECK(received[0].kind == ForwardedRequest::Kind::kDisconnect);
  CHECK(received[0].agent_id == bed.agent);
  CHECK(received[1].kind == ForwardedRequest::Kind::kCommand);
  CHECK(received[1].agent_id == bed.other_agent);
}

TEST_CASE("replica channel: without LISTEN the poll delivers") {
  RelayBed bed;
  RelayInbox inbox_a, inbox_b;
  auto a = bed.Replica(inbox_a, [](ReplicaChannelOptions& options) {
    options.listen = false;
    options.poll_interval = std::chrono::milliseconds(200);
  });
  auto b = bed.Replica(inbox_b);
  Ok(a->RegisterStream(bed.agent));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // past the first pass
  CHECK_FALSE(a->listening());
  Ok(b->ForwardCommand(bed.agent, IntervalsBytes(60)));
  auto received = inbox_a.WaitFor(1, std::chrono::seconds(5));
  REQUIRE(received.size() == 1);
  dozor::v1::Command command;
  REQUIRE(command.ParseFromString(received[0].command));
  CHECK(command.set_intervals().health_interval_seconds() == 60);
}

TEST_CASE("replica channel: a lost LISTEN connection is opened again") {
  RelayBed bed;
  RelayInbox inbox_a, inbox_b;
  auto a = bed.Replica(inbox_a);
  auto b = bed.Replica(inbox_b);
  Ok(a->RegisterStream(bed.agent));
  REQUIRE(RelayEventually([&] { return a->listening(); }));
  auto admin = Ok(pg::Connection::Open(bed.database.conninfo()));
  auto terminated =
      Ok(admin.Query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = $1",
                     pg::Params("LISTEN dozor_replica_" + a->replica_id())));
  REQUIRE(terminated.size() == 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  // The poll is a minute away: the command comes through the new LISTEN connection.
  Ok(b->ForwardCommand(bed.agent, CollectNowBytes()));
  CHECK(inbox_a.WaitFor(1, std::chrono::seconds(5)).size() == 1);
  CHECK(a->listening());
}

TEST_CASE("replica channel: a disconnect is forwarded to the replica holding the stream") {
  RelayBed bed;
  RelayInbox inbox_a, inbox_b;
  auto a = bed.Replica(inbox_a);
  auto b = bed.Replica(inbox_b);
  Ok(b->ForwardDisconnect(bed.agent));  // nobody holds it: nothing to do
  CHECK(bed.Count("replica_requests") == 0);

  Ok(a->RegisterStream(bed.agent));
  Ok(b->ForwardDisconnect(bed.agent));
  auto received = inbox_a.WaitFor(1, std::chrono::seconds(5));
  REQUIRE(received.size() == 1);
  CHECK(received[0].kind == ForwardedRequest::Kind::kDisconnect);
  CHECK(received[0].agent_id == bed.agent);
  CHECK(received[0].command.empty());
  CHECK(inbox_b.size() == 0);
}

TEST_CASE("replica channel: a stream moving to another replica closes the old one there") {
  RelayBed bed;
  RelayInbox inbox_a, inbox_b;
  auto a = bed.Replica(inbox_a);
  auto b = bed.Replica(inbox_b);
  Ok(a->RegisterStream(bed.agent));
  CHECK(bed.Count("replica_requests") == 0);  // nobody held it before

  // The agent reconnects to B while its old connection to A is half dead: A is told to close it.
  Ok(b->RegisterStream(bed.agent));
  auto received = inbox_a.WaitFor(1, std::chrono::seconds(5));
  REQUIRE(received.size() == 1);
  CHECK(received[0].kind == ForwardedRequest::Kind::kDisconnect);
  CHECK(received[0].agent_id == bed.agent);
  CHECK(Ok(a->Locate(bed.agent)) == b->replica_id());
  // B registering the stream again (nothing moved) asks nobody for anything.
  Ok(b->RegisterStream(bed.agent));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  CHECK(inbox_a.size() == 1);
  CHECK(inbox_b.size() == 0);
  CHECK(bed.Count("replica_requests") == 0);
}

TEST_CASE("replica channel: an agent back on its old replica keeps its new stream there") {
  RelayBed bed;
  RelayInbox inbox_a, inbox_b;
  // A delivers only when asked (no LISTEN, no poll in the test's time).
  auto a = bed.Replica(inbox_a, [](ReplicaChannelOptions& options) { options.listen = false; });
  auto b = bed.Replica(inbox_b);
  Ok(a->RegisterStream(bed.agent));
  Ok(b->RegisterStream(bed.agent));  // queues "superseded" for A
  Ok(a->RegisterStream(bed.agent));  // ...but the agent came straight back to A
  // B is told its stream is superseded; A's stale request is dropped, its new stream stays.
  CHECK(inbox_b.WaitFor(1, std::chrono::seconds(5)).size() == 1);
  CHECK(Ok(a->DeliverPending()) == 0);
  CHECK(inbox_a.size() == 0);
  CHECK(bed.Count("replica_requests") == 0);
  CHECK(Ok(b->Locate(bed.agent)) == a->replica_id());
}

TEST_CASE("replica channel: a replica not heard for dead_after is no longer located") {
  RelayBed bed;
  RelayInbox inbox_a, inbox_b;
  auto a = bed.Replica(inbox_a);
  auto b = bed.Replica(inbox_b);
  Ok(a->RegisterStream(bed.agent));
  Ok(a->RegisterStream(bed.other_agent));
  const std::string dead_id = a->replica_id();
  a->Abandon();                                // a crash: the rows stay behind
  CHECK(Ok(b->Locate(bed.agent)) == dead_id);  // still within its last heartbeat's 30 s
  Ok(b->ForwardCommand(bed.agent, CollectNowBytes()));
  CHECK(bed.Count("replica_requests") == 1);

  bed.clock.AdvanceMs(29'000);
  CHECK(Ok(b->Locate(bed.agent)) == dead_id);
  bed.clock.AdvanceMs(2'000);
  CHECK_FALSE(Ok(b->Locate(bed.agent)).has_value());
  CHECK_FALSE(Ok(b->IsConnectedElsewhere(bed.agent)));
  auto forwarded = b->ForwardCommand(bed.agent, CollectNowBytes());
  REQUIRE_FALSE(forwarded.ok());
  CHECK(forwarded.error().code == ErrorCode::kUnavailable);

  // The next heartbeat of a live replica deletes the dead one's rows.
  CHECK(bed.Count("agent_streams") == 2);
  Ok(b->Heartbeat());
  CHECK(bed.Count("replicas") == 1);
  CHECK(bed.Count("agent_streams") == 0);
  CHECK(bed.Count("replica_requests") == 0);
  CHECK(inbox_a.size() == 0);
}

TEST_CASE("replica channel: a replica declared dead registers itself and its streams again") {
  RelayBed bed;
  RelayInbox inbox_a, inbox_b;
  auto a = bed.Replica(inbox_a);
  auto b = bed.Replica(inbox_b);
  Ok(a->RegisterStream(bed.agent));
  bed.clock.AdvanceMs(31'000);  // a has not heartbeat for 31 s (a stall)
  Ok(b->Heartbeat());
  CHECK_FALSE(Ok(b->Locate(bed.agent)).has_value());
  CHECK(bed.Count("replicas") == 1);

  Ok(a->Heartbeat());
  CHECK(Ok(b->Locate(bed.agent)) == a->replica_id());
  Ok(b->ForwardCommand(bed.agent, CollectNowBytes()));
  CHECK(inbox_a.WaitFor(1, std::chrono::seconds(5)).size() == 1);
}

TEST_CASE("replica channel: a stream observed after the replica was declared dead is recorded") {
  RelayBed bed;
  RelayInbox inbox_a, inbox_b;
  auto a = bed.Replica(inbox_a);
  auto b = bed.Replica(inbox_b);
  Ok(a->RegisterStream(bed.agent));
  bed.clock.AdvanceMs(31'000);
  Ok(b->Heartbeat());
  REQUIRE(bed.Count("replicas") == 1);
  // Its heartbeat is a minute away: the failed stream write itself makes it register again.
  static_cast<StreamObserver&>(*a).StreamOpened(bed.other_agent);
  CHECK(RelayEventually([&] { return Ok(b->Locate(bed.other_agent)) == a->replica_id(); }));
  CHECK(Ok(b->Locate(bed.agent)) == a->replica_id());
}

TEST_CASE("replica channel: one agent's commands arrive in the order they were sent") {
  RelayBed bed;
  RelayInbox inbox_a, inbox_b;
  // Small batches: the order must hold across them too.
  auto a = bed.Replica(inbox_a, [](ReplicaChannelOptions& options) {
    options.listen = false;
    options.delivery_batch = 7;
  });
  auto b = bed.Replica(inbox_b);
  Ok(a->RegisterStream(bed.agent));
  Ok(a->RegisterStream(bed.other_agent));
  constexpr uint32_t kCommands = 25;
  for (uint32_t i = 0; i < kCommands; ++i) {
    Ok(b->ForwardCommand(i % 5 == 4 ? bed.other_agent : bed.agent, IntervalsBytes(100 + i)));
  }
  Ok(a->DeliverPending());
  auto received = inbox_a.WaitFor(kCommands);
  REQUIRE(received.size() == kCommands);
  for (uint32_t i = 0; i < kCommands; ++i) {
    dozor::v1::Command command;
    REQUIRE(command.ParseFromString(received[i].command));
    CHECK(command.set_intervals().health_interval_seconds() == 100 + i);
    CHECK(received[i].agent_id == (i % 5 == 4 ? bed.other_agent : bed.agent));
    if (i > 0) {
      CHECK(received[i].id > received[i - 1].id);
    }
  }
  CHECK(bed.Count("replica_requests") == 0);
}

TEST_CASE("replica channel: a restarted replica takes its streams back under a new id") {
  RelayBed bed;
  RelayInbox inbox_a, inbox_b, inbox_c, inbox_d;
  auto a = bed.Replica(inbox_a);
  auto b = bed.Replica(inbox_b);
  Ok(a->RegisterStream(bed.agent));
  Ok(a->RegisterStream(bed.other_agent));

  // A clean stop removes its rows at once, and a restart is a new replica.
  const std::string first_id = a->replica_id();
  a->Stop();
  CHECK_FALSE(Ok(b->Locate(bed.agent)).has_value());
  CHECK(bed.Count("replicas") == 1);
  CHECK(bed.Count("agent_streams") == 0);
  auto c = bed.Replica(inbox_c);
  CHECK(c->replica_id() != first_id);
  Ok(c->RegisterStream(bed.agent));
  CHECK(Ok(b->Locate(bed.agent)) == c->replica_id());
  Ok(b->ForwardCommand(bed.agent, CollectNowBytes()));
  CHECK(inbox_c.WaitFor(1, std::chrono::seconds(5)).size() == 1);

  // After a crash the agent reconnects to the restarted process at once: its stream row moves
  // to the new replica before the crashed one is declared dead.
  c->Abandon();
  auto d = bed.Replica(inbox_d);
  Ok(d->RegisterStream(bed.agent));
  CHECK(Ok(b->Locate(bed.agent)) == d->replica_id());
  Ok(b->ForwardCommand(bed.agent, CollectNowBytes()));
  CHECK(inbox_d.WaitFor(1, std::chrono::seconds(5)).size() == 1);
  CHECK(inbox_c.size() == 1);
  // The crashed replica cannot take the row back by unregistering late.
  Ok(c->UnregisterStream(bed.agent));
  CHECK(Ok(b->Locate(bed.agent)) == d->replica_id());

  bed.clock.AdvanceMs(31'000);
  Ok(d->Heartbeat());
  Ok(b->Heartbeat());
  CHECK(bed.Count("replicas") == 2);
  CHECK(bed.Count("agent_streams") == 1);
  CHECK(Ok(b->Locate(bed.agent)) == d->replica_id());
  a.reset();
  c.reset();
}

TEST_CASE("replica channel: the observed streams are recorded by the channel's thread") {
  RelayBed bed;
  RelayInbox inbox_a, inbox_b;
  auto a = bed.Replica(inbox_a);
  auto b = bed.Replica(inbox_b);
  StreamObserver& observer = *a;
  observer.StreamOpened(bed.agent);
  CHECK(RelayEventually([&] { return Ok(b->Locate(bed.agent)) == a->replica_id(); }));
  // A newer stream on another replica wins; the old replica's close leaves that row alone.
  Ok(b->RegisterStream(bed.agent));
  observer.StreamClosed(bed.agent);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK(Ok(a->Locate(bed.agent)) == b->replica_id());
  observer.StreamOpened(bed.other_agent);
  observer.StreamClosed(bed.other_agent);
  observer.StreamOpened(bed.other_agent);
  CHECK(RelayEventually([&] { return Ok(b->Locate(bed.other_agent)) == a->replica_id(); }));

  // Stop unregisters what the replica held.
  a->Stop();
  CHECK_FALSE(Ok(b->Locate(bed.other_agent)).has_value());
  CHECK(Ok(b->Locate(bed.agent)) == b->replica_id());
}

}  // namespace
}  // namespace dozor::server
