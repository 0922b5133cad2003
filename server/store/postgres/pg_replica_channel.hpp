// The replica channel: several dozor-server processes on one PostgreSQL database reach the agents
// whose streams the others hold (migration 011: replicas, agent_streams, replica_requests).
//
// Each replica registers itself under a random id and heartbeats; a replica not seen for
// dead_after (~30 s) is dead: lookups ignore its rows and the next heartbeat of another replica
// deletes them. The replica records the streams its IngestService holds (StreamObserver: queued
// and written by the channel's thread, never on a gRPC thread). Forwarding a command or a
// disconnect is one INSERT into replica_requests plus pg_notify on the target's channel
// (dozor_replica_<id>), committed together; the target's thread, LISTENing on a dedicated
// connection, takes its rows in id order (DELETE … RETURNING over FOR UPDATE SKIP LOCKED) and
// hands them to the delivery callback. A periodic poll takes them too, so a lost notification or
// a broken LISTEN connection only delays delivery. Recording a stream that another replica held
// queues a 'superseded' request for that replica in the same statement (migration 014): it closes
// its old stream unless the agent has come back to it since. Delivery is at most once: a request
// taken by a replica that dies before applying it is lost, like a command queued on a stream that
// closes.
//
// Times are the injected clock's (as every store row): replicas' clocks must agree to well
// within dead_after.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>

#include "dozor/common/clock.hpp"
#include "dozor/common/result.hpp"
#include "ingest/remote_agents.hpp"
#include "store/postgres/pg_client.hpp"

namespace dozor::server {

struct ReplicaChannelOptions {
  std::string conninfo;
  int pool_size = 2;             // writes and lookups; the LISTEN connection is separate
  const Clock* clock = nullptr;  // default: the system clock
  std::chrono::milliseconds heartbeat_interval{5000};
  int64_t dead_after_ms = 30'000;
  // The fallback poll for requests whose notification was missed.
  std::chrono::milliseconds poll_interval{3000};
  // False: no LISTEN connection, delivery by the poll only (tests of that path).
  bool listen = true;
  int delivery_batch = 100;
  // IsConnectedElsewhere answers from the set of agents the other live replicas hold, read at
  // most this often: a host list asks for every host, and a second-old answer is as good for a
  // "connected" flag. 0: one lookup per call. Forwarding always reads the database.
  std::chrono::milliseconds connected_cache_ttl{1000};
  // Stored with the replica for an operator reading the table; default "<hostname> pid <pid>".
  std::string description;
};

class PgReplicaChannel final : public RemoteAgents, public StreamObserver {
 public:
  using Deliver = std::function<void(const ForwardedRequest&)>;

  // Opens the pool (a wrong address or credential is reported here) and picks this replica's id.
  // The schema must be there (PostgresStore::Open applies the migrations).
  [[nodiscard]] static Result<std::unique_ptr<PgReplicaChannel>> Open(
      ReplicaChannelOptions options);
  ~PgReplicaChannel() override;
  PgReplicaChannel(const PgReplicaChannel&) = delete;
  PgReplicaChannel& operator=(const PgReplicaChannel&) = delete;

  // Registers the replica, deletes dead ones and starts the thread (LISTEN, delivery, heartbeat,
  // the observed streams' rows). `deliver` runs on that thread, one request at a time.
  [[nodiscard]] Status Start(Deliver deliver);
  // Stops the thread and deletes this replica's rows (its streams and the requests queued for
  // it). Idempotent; also run by the destructor.
  void Stop();
  // Tests: stops the thread and closes the connections leaving every row behind, as a replica
  // that crashed would.
  void Abandon();

  [[nodiscard]] const std::string& replica_id() const { return replica_id_; }
  // The LISTEN connection is up (and what was queued before it has been taken).
  [[nodiscard]] bool listening() const { return listening_.load(); }

  // Synchronous registry writes (the observer's calls are applied by the thread instead).
  [[nodiscard]] Status RegisterStream(std::string_view agent_id);
  [[nodiscard]] Status UnregisterStream(std::string_view agent_id);
  // Stamps this replica alive (re-registering it and its streams if another replica had already
  // declared it dead) and deletes the dead replicas' rows.
  [[nodiscard]] Status Heartbeat();
  // The live replica holding the agent's stream (this one included); nullopt when none.
  [[nodiscard]] Result<std::optional<std::string>> Locate(std::string_view agent_id);
  // Takes every request queued for this replica and delivers it; the count delivered.
  [[nodiscard]] Result<int> DeliverPending();

  // RemoteAgents
  [[nodiscard]] Result<bool> IsConnectedElsewhere(std::string_view agent_id) override;
  Result<uint64_t> ForwardCommand(std::string_view agent_id, const std::string& command) override;
  Status ForwardDisconnect(std::string_view agent_id) override;

  // StreamObserver
  void StreamOpened(std::string_view agent_id) override;
  void StreamClosed(std::string_view agent_id) override;

 private:
  PgReplicaChannel(ReplicaChannelOptions options, std::unique_ptr<pg::Pool> pool,
                   std::string replica_id);
  Result<std::optional<uint64_t>> Forward(std::string_view agent_id, ForwardedRequest::Kind kind,
                                          const std::string* command);
  Status WriteStream(std::string_view agent_id, bool open);
  void Loop();
  // Writes the observed stream changes; on an error the unwritten ones stay pending.
  Status ApplyStreamChanges();
  void Wake();
  void StopThread();

  ReplicaChannelOptions options_;
  const Clock& clock_;
  std::unique_ptr<pg::Pool> pool_;
  const std::string replica_id_;
  const std::string notify_channel_;  // "dozor_replica_<id>": lower-case hex, safe as identifier
  Deliver deliver_;
  std::mutex deliver_mutex_;  // one delivery pass at a time (the thread, a test)

  std::mutex mutex_;
  std::set<std::string> local_streams_;  // the streams this replica holds
  std::map<std::string, bool> pending_;  // agent -> open, not yet written
  bool started_ = false;
  bool stopping_ = false;
  int wake_fd_ = -1;
  std::thread thread_;
  std::atomic<bool> listening_{false};

  std::mutex connected_mutex_;  // held while the set is read, so concurrent callers share a read
  std::set<std::string, std::less<>> connected_elsewhere_;
  std::chrono::steady_clock::time_point connected_expires_{};
};

}  // namespace dozor::server
