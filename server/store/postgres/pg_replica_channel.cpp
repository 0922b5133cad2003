#include "store/postgres/pg_replica_channel.hpp"

#include <libpq-fe.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "dozor/common/crypto.hpp"

namespace dozor::server {

namespace {

std::string ReplicaDefaultDescription() {
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0) {
    host[0] = '\0';
  }
  return std::string(host) + " pid " + std::to_string(getpid());
}

// The outcome of a statement whose value does not matter.
template <typename T>
Status ReplicaStatusOf(const Result<T>& result) {
  if (!result.ok()) {
    return result.error();
  }
  return OkStatus();
}

const char* ReplicaKindName(ForwardedRequest::Kind kind) {
  return kind == ForwardedRequest::Kind::kCommand ? "command" : "disconnect";
}

// The dedicated LISTEN connection. Raw libpq: pg::Connection does not expose its socket or the
// notifications, and this connection only ever runs LISTEN.
class ReplicaListener {
 public:
  ReplicaListener() = default;
  ReplicaListener(const ReplicaListener&) = delete;
  ReplicaListener& operator=(const ReplicaListener&) = delete;
  ~ReplicaListener() { Close(); }

  Status Open(const std::string& conninfo, const std::string& channel) {
    Close();
    // A default connect_timeout; the connection string's own wins (it is expanded after it).
    const char* const keywords[] = {"connect_timeout", "dbname", nullptr};
    const char* const values[] = {"10", conninfo.c_str(), nullptr};
    conn_ = PQconnectdbParams(keywords, values, /*expand_dbname=*/1);
    if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) {
      std::string message = conn_ != nullptr ? PQerrorMessage(conn_) : "out of memory";
      Close();
      return MakeError(ErrorCode::kUnavailable, "LISTEN connection: " + message);
    }
    // The channel name is ours (a fixed prefix and lower-case hex): safe as an identifier.
    PGresult* result = PQexec(conn_, ("LISTEN " + channel).c_str());
    const bool ok = result != nullptr && PQresultStatus(result) == PGRES_COMMAND_OK;
    std::string message = ok ? "" : PQerrorMessage(conn_);
    PQclear(result);
    if (!ok) {
      Close();
      return MakeError(ErrorCode::kUnavailable, "LISTEN: " + message);
    }
    if (PQsetnonblocking(conn_, 1) != 0) {
      Close();
      return MakeError(ErrorCode::kUnavailable, "LISTEN connection: cannot set non-blocking");
    }
    return OkStatus();
  }

  void Close() {
    if (conn_ != nullptr) {
      PQfinish(conn_);
      conn_ = nullptr;
    }
  }

  [[nodiscard]] bool open() const { return conn_ != nullptr; }
  [[nodiscard]] int socket() const { return conn_ != nullptr ? PQsocket(conn_) : -1; }

  // Reads what arrived; true if a notification did. A lost connection closes it (error).
  Result<bool> Consume() {
    if (PQconsumeInput(conn_) == 0 || PQstatus(conn_) != CONNECTION_OK) {
      std::string message = PQerrorMessage(conn_);
      Close();
      return MakeError(ErrorCode::kUnavailable, "LISTEN connection lost: " + message);
    }
    bool notified = false;
    while (PGnotify* notify = PQnotifies(conn_)) {
      notified = true;
      PQfreemem(notify);
    }
    return notified;
  }

 private:
  PGconn* conn_ = nullptr;
};

}  // namespace

Result<std::unique_ptr<PgReplicaChannel>> PgReplicaChannel::Open(ReplicaChannelOptions options) {
  DOZOR_RETURN_IF_ERROR(pg::CheckTransportSecurity(options.conninfo));
  pg::PoolOptions pool_options;
  pool_options.conninfo = options.conninfo;
  pool_options.size = std::max(1, options.pool_size);
  DOZOR_ASSIGN_OR_RETURN(auto pool, pg::Pool::Open(pool_options));
  DOZOR_ASSIGN_OR_RETURN(std::string id, RandomHex(8));
  if (options.description.empty()) {
    options.description = ReplicaDefaultDescription();
  }
  return std::unique_ptr<PgReplicaChannel>(
      new PgReplicaChannel(std::move(options), std::move(pool), std::move(id)));
}

PgReplicaChannel::PgReplicaChannel(ReplicaChannelOptions options, std::unique_ptr<pg::Pool> pool,
                                   std::string replica_id)
    : options_(std::move(options)),
      clock_(options_.clock != nullptr ? *options_.clock : SystemClock::Instance()),
      pool_(std::move(pool)),
      replica_id_(std::move(replica_id)),
      notify_channel_("dozor_replica_" + replica_id_) {}

PgReplicaChannel::~PgReplicaChannel() { Stop(); }

Status PgReplicaChannel::Start(Deliver deliver) {
  {
    std::lock_guard lock(mutex_);
    if (started_) {
      return MakeError(ErrorCode::kFailedPrecondition, "the replica channel is already started");
    }
  }
  deliver_ = std::move(deliver);
  const int64_t now = clock_.NowMs();
  {
    DOZOR_ASSIGN_OR_RETURN(auto db, pool_->Acquire());
    DOZOR_RETURN_IF_ERROR(
        db->Run("INSERT INTO replicas(replica_id, started_at, heartbeat_at, description) "
                "VALUES ($1, $2, $2, $3)",
                pg::Params(replica_id_, now, options_.description)));
  }
  // Dead replicas' streams would otherwise be ignored until someone's next heartbeat.
  DOZOR_RETURN_IF_ERROR(Heartbeat());
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) {
    return MakeError(ErrorCode::kInternal, "eventfd failed");
  }
  {
    std::lock_guard lock(mutex_);
    started_ = true;
    stopping_ = false;
  }
  thread_ = std::thread([this] { Loop(); });
  spdlog::info("replica {} ({}) joined the replica channel", replica_id_, options_.description);
  return OkStatus();
}

void PgReplicaChannel::StopThread() {
  {
    std::lock_guard lock(mutex_);
    if (!started_) {
      return;
    }
    stopping_ = true;
  }
  Wake();
  if (thread_.joinable()) {
    thread_.join();
  }
  std::lock_guard lock(mutex_);
  started_ = false;
  if (wake_fd_ >= 0) {
    close(wake_fd_);
    wake_fd_ = -1;
  }
}

void PgReplicaChannel::Stop() {
  bool was_started = false;
  {
    std::lock_guard lock(mutex_);
    was_started = started_;
  }
  if (!was_started) {
    return;
  }
  StopThread();
  // Cascades to this replica's stream rows and to the requests still queued for it.
  auto db = pool_->Acquire();
  Status deleted = db.ok()
                       ? ReplicaStatusOf((*db)->Run("DELETE FROM replicas WHERE replica_id = $1",
                                                    pg::Params(replica_id_)))
                       : Status(db.error());
  if (!deleted.ok()) {
    spdlog::warn("replica {} left its rows behind (another replica removes them within {} s): {}",
                 replica_id_, options_.dead_after_ms / 1000, deleted.error().ToString());
  }
  std::lock_guard lock(mutex_);
  local_streams_.clear();
  pending_.clear();
}

void PgReplicaChannel::Abandon() {
  StopThread();
  std::lock_guard lock(mutex_);
  local_streams_.clear();
  pending_.clear();
}

void PgReplicaChannel::Wake() {
  int fd = -1;
  {
    std::lock_guard lock(mutex_);
    fd = wake_fd_;
  }
  if (fd >= 0) {
    const uint64_t one = 1;
    (void)!write(fd, &one, sizeof(one));
  }
}

Status PgReplicaChannel::WriteStream(std::string_view agent_id, bool open) {
  DOZOR_ASSIGN_OR_RETURN(auto db, pool_->Acquire());
  if (open) {
    // The newest stream wins: a row naming another replica (the agent's old stream there) is
    // taken over, and that replica is asked to close the old stream (a half-dead connection
    // would otherwise keep taking forwarded commands until it timed out), woken at commit. An
    // unknown agent (it cannot have authenticated) writes nothing. The data-modifying parts see
    // the row as it was before the statement.
    return ReplicaStatusOf(db->Run(
        "WITH previous AS ("
        "  SELECT s.org_id, s.replica_id FROM agent_streams s"
        "  JOIN agents a ON a.org_id = s.org_id AND a.agent_id = s.agent_id"
        "  WHERE a.agent_id = $1 AND s.replica_id <> $2),"
        " taken AS ("
        "  INSERT INTO agent_streams(org_id, agent_id, replica_id, connected_at)"
        "  SELECT org_id, agent_id, $2, $3 FROM agents WHERE agent_id = $1"
        "  ON CONFLICT (org_id, agent_id) DO UPDATE"
        "  SET replica_id = EXCLUDED.replica_id, connected_at = EXCLUDED.connected_at),"
        " queued AS ("
        "  INSERT INTO replica_requests(org_id, replica_id, agent_id, kind, command, created_at)"
        "  SELECT org_id, replica_id, $1::text, 'superseded', NULL, $3::bigint FROM previous"
        "  RETURNING replica_id)"
        " SELECT pg_notify('dozor_replica_' || replica_id, '') FROM queued",
        pg::Params(agent_id, replica_id_, clock_.NowMs())));
  }
  // Only while the row still names this replica: the agent may already be streaming elsewhere.
  return ReplicaStatusOf(
      db->Run("DELETE FROM agent_streams WHERE agent_id = $1 AND replica_id = $2",
              pg::Params(agent_id, replica_id_)));
}

Status PgReplicaChannel::RegisterStream(std::string_view agent_id) {
  {
    std::lock_guard lock(mutex_);
    local_streams_.emplace(agent_id);
  }
  return WriteStream(agent_id, true);
}

Status PgReplicaChannel::UnregisterStream(std::string_view agent_id) {
  {
    std::lock_guard lock(mutex_);
    local_streams_.erase(std::string(agent_id));
  }
  return WriteStream(agent_id, false);
}

void PgReplicaChannel::StreamOpened(std::string_view agent_id) {
  {
    std::lock_guard lock(mutex_);
    local_streams_.emplace(agent_id);
    pending_[std::string(agent_id)] = true;
  }
  Wake();
}

void PgReplicaChannel::StreamClosed(std::string_view agent_id) {
  {
    std::lock_guard lock(mutex_);
    local_streams_.erase(std::string(agent_id));
    pending_[std::string(agent_id)] = false;
  }
  Wake();
}

Status PgReplicaChannel::ApplyStreamChanges() {
  std::map<std::string, bool> changes;
  {
    std::lock_guard lock(mutex_);
    changes.swap(pending_);
  }
  for (auto it = changes.begin(); it != changes.end(); ++it) {
    Status written = WriteStream(it->first, it->second);
    if (written.ok()) {
      continue;
    }
    // This one and the rest are retried later (the database is most likely away); a change
    // observed meanwhile is newer and wins.
    std::lock_guard lock(mutex_);
    for (; it != changes.end(); ++it) {
      pending_.try_emplace(it->first, it->second);
    }
    return written;
  }
  return OkStatus();
}

Status PgReplicaChannel::Heartbeat() {
  const int64_t now = clock_.NowMs();
  DOZOR_ASSIGN_OR_RETURN(auto db, pool_->Acquire());
  DOZOR_ASSIGN_OR_RETURN(int64_t stamped,
                         db->Run("UPDATE replicas SET heartbeat_at = $2 WHERE replica_id = $1",
                                 pg::Params(replica_id_, now)));
  if (stamped == 0) {
    // Another replica declared us dead (we were not heard for dead_after: a stall, a partition)
    // and deleted our rows; our streams are still open, so register them again.
    spdlog::warn("replica {} had been declared dead; registering it and its streams again",
                 replica_id_);
    DOZOR_RETURN_IF_ERROR(
        db->Run("INSERT INTO replicas(replica_id, started_at, heartbeat_at, description) "
                "VALUES ($1, $2, $2, $3) ON CONFLICT (replica_id) DO UPDATE "
                "SET heartbeat_at = EXCLUDED.heartbeat_at",
                pg::Params(replica_id_, now, options_.description)));
    std::vector<std::string> streams;
    {
      std::lock_guard lock(mutex_);
      streams.assign(local_streams_.begin(), local_streams_.end());
    }
    for (const std::string& agent_id : streams) {
      DOZOR_RETURN_IF_ERROR(
          db->Run("INSERT INTO agent_streams(org_id, agent_id, replica_id, connected_at) "
                  "SELECT org_id, agent_id, $2, $3 FROM agents WHERE agent_id = $1 "
                  "ON CONFLICT (org_id, agent_id) DO NOTHING",
                  pg::Params(agent_id, replica_id_, now)));
    }
  }
  // Every live replica does this; the deletes are idempotent and cascade to the dead replicas'
  // streams and queued requests.
  return ReplicaStatusOf(
      db->Run("DELETE FROM replicas WHERE heartbeat_at < $1 AND replica_id <> $2",
              pg::Params(now - options_.dead_after_ms, replica_id_)));
}

Result<std::optional<std::string>> PgReplicaChannel::Locate(std::string_view agent_id) {
  DOZOR_ASSIGN_OR_RETURN(auto db, pool_->Acquire());
  // Through agents (agent_id is unique there) to the stream row's (org_id, agent_id) key.
  DOZOR_ASSIGN_OR_RETURN(
      pg::Rows rows,
      db->Query("SELECT s.replica_id FROM agents a "
                "JOIN agent_streams s ON s.org_id = a.org_id AND s.agent_id = a.agent_id "
                "JOIN replicas r ON r.replica_id = s.replica_id "
                "WHERE a.agent_id = $1 AND r.heartbeat_at >= $2",
                pg::Params(agent_id, clock_.NowMs() - options_.dead_after_ms)));
  if (rows.empty()) {
    return std::optional<std::string>();
  }
  return std::optional<std::string>(rows.Text(0, 0));
}

Result<bool> PgReplicaChannel::IsConnectedElsewhere(std::string_view agent_id) {
  if (options_.connected_cache_ttl.count() <= 0) {
    DOZOR_ASSIGN_OR_RETURN(auto replica, Locate(agent_id));
    return replica.has_value() && *replica != replica_id_;
  }
  std::lock_guard lock(connected_mutex_);
  const auto now = std::chrono::steady_clock::now();
  if (now >= connected_expires_) {
    DOZOR_ASSIGN_OR_RETURN(auto db, pool_->Acquire());
    DOZOR_ASSIGN_OR_RETURN(
        pg::Rows rows, db->Query("SELECT s.agent_id FROM agent_streams s "
                                 "JOIN replicas r ON r.replica_id = s.replica_id "
                                 "WHERE r.heartbeat_at >= $1 AND s.replica_id <> $2",
                                 pg::Params(clock_.NowMs() - options_.dead_after_ms, replica_id_)));
    connected_elsewhere_.clear();
    for (int row = 0; row < rows.size(); ++row) {
      connected_elsewhere_.insert(rows.Text(row, 0));
    }
    connected_expires_ = now + options_.connected_cache_ttl;
  }
  return connected_elsewhere_.find(agent_id) != connected_elsewhere_.end();
}

Result<std::optional<uint64_t>> PgReplicaChannel::Forward(std::string_view agent_id,
                                                          ForwardedRequest::Kind kind,
                                                          const std::string* command) {
  pg::Params params(agent_id, clock_.NowMs() - options_.dead_after_ms, replica_id_,
                    ReplicaKindName(kind));
  if (command != nullptr) {
    params.AddBytes(*command);
  } else {
    params.AddNull();
  }
  params.Add(clock_.NowMs());
  DOZOR_ASSIGN_OR_RETURN(auto db, pool_->Acquire());
  // One statement, so the row and its notification commit together (NOTIFY is delivered at
  // commit): the target cannot be woken before its row is visible.
  DOZOR_ASSIGN_OR_RETURN(
      pg::Rows rows,
      db->Query("WITH target AS ("
                "  SELECT s.org_id, s.replica_id FROM agents a"
                "  JOIN agent_streams s ON s.org_id = a.org_id AND s.agent_id = a.agent_id"
                "  JOIN replicas r ON r.replica_id = s.replica_id"
                "  WHERE a.agent_id = $1 AND r.heartbeat_at >= $2 AND s.replica_id <> $3),"
                " queued AS ("
                "  INSERT INTO replica_requests(org_id, replica_id, agent_id, kind, command,"
                "                               created_at)"
                "  SELECT org_id, replica_id, $1::text, $4::text, $5::bytea, $6::bigint"
                "  FROM target RETURNING id, replica_id)"
                " SELECT id, pg_notify('dozor_replica_' || replica_id, '')::text FROM queued",
                params));
  if (rows.empty()) {
    return std::optional<uint64_t>();
  }
  return std::optional<uint64_t>(static_cast<uint64_t>(rows.Int(0, 0)));
}

Result<uint64_t> PgReplicaChannel::ForwardCommand(std::string_view agent_id,
                                                  const std::string& command) {
  DOZOR_ASSIGN_OR_RETURN(auto id, Forward(agent_id, ForwardedRequest::Kind::kCommand, &command));
  if (!id) {
    return MakeError(ErrorCode::kUnavailable,
                     "agent " + std::string(agent_id) + " is not connected");
  }
  return *id;
}

Status PgReplicaChannel::ForwardDisconnect(std::string_view agent_id) {
  return ReplicaStatusOf(Forward(agent_id, ForwardedRequest::Kind::kDisconnect, nullptr));
}

Result<int> PgReplicaChannel::DeliverPending() {
  std::lock_guard deliver_lock(deliver_mutex_);
  int delivered = 0;
  while (true) {
    std::vector<ForwardedRequest> requests;
    int taken = 0;  // rows taken off the queue, delivered or not
    {
      DOZOR_ASSIGN_OR_RETURN(auto db, pool_->Acquire());
      DOZOR_ASSIGN_OR_RETURN(
          pg::Rows rows,
          db->Query("DELETE FROM replica_requests r WHERE (org_id, id) IN ("
                    "  SELECT org_id, id FROM replica_requests WHERE replica_id = $1"
                    "  ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED) "
                    "RETURNING id, agent_id, kind, command, EXISTS (SELECT 1 FROM agent_streams s"
                    " WHERE s.org_id = r.org_id AND s.agent_id = r.agent_id AND s.replica_id = $1)",
                    pg::Params(replica_id_, options_.delivery_batch)));
      taken = rows.size();
      for (int row = 0; row < rows.size(); ++row) {
        if (rows.Text(row, 2) == "superseded") {
          // Another replica took the agent's stream. Close ours unless the agent has come back
          // here since: the registry names this replica again, or a new stream here is not
          // recorded yet (streams are recorded before requests are delivered, in Loop).
          std::lock_guard lock(mutex_);
          const std::string agent = rows.Text(row, 1);
          auto pending = pending_.find(agent);
          if (rows.Bool(row, 4) || (pending != pending_.end() && pending->second)) {
            continue;
          }
        }
        ForwardedRequest request;
        request.id = rows.Int(row, 0);
        request.agent_id = rows.Text(row, 1);
        // 'superseded' that got here is a disconnect of the stale stream.
        request.kind = rows.Text(row, 2) == "command" ? ForwardedRequest::Kind::kCommand
                                                      : ForwardedRequest::Kind::kDisconnect;
        if (!rows.IsNull(row, 3)) {
          request.command = rows.Bytes(row, 3);
        }
        requests.push_back(std::move(request));
      }
    }
    // RETURNING has no order of its own; the agent gets its commands in the order sent.
    std::sort(requests.begin(), requests.end(),
              [](const ForwardedRequest& a, const ForwardedRequest& b) { return a.id < b.id; });
    for (const ForwardedRequest& request : requests) {
      if (deliver_) {
        deliver_(request);
      }
      ++delivered;
    }
    if (taken < options_.delivery_batch) {
      return delivered;
    }
  }
}

void PgReplicaChannel::Loop() {
  using SteadyClock = std::chrono::steady_clock;
  ReplicaListener listener;
  auto next_listen = SteadyClock::now();
  auto next_poll = SteadyClock::now();
  auto next_heartbeat = SteadyClock::now() + options_.heartbeat_interval;
  auto stream_retry_at = SteadyClock::now();
  // A failure is logged when its streak starts and again when that work succeeds, so a database
  // outage gives a few lines, not one per attempt.
  std::map<std::string, bool> failing;
  const auto report = [&](const Status& status, const char* what) {
    bool& was_failing = failing[what];
    if (status.ok()) {
      if (was_failing) {
        spdlog::info("replica {}: {}: works again", replica_id_, what);
      }
      was_failing = false;
      return;
    }
    if (!was_failing) {
      spdlog::warn("replica {}: {}: {}", replica_id_, what, status.error().ToString());
    }
    was_failing = true;
  };
  while (true) {
    bool drain = false;
    if (options_.listen && !listener.open() && SteadyClock::now() >= next_listen) {
      Status listening = listener.Open(options_.conninfo, notify_channel_);
      report(listening, "LISTEN");
      if (listening.ok()) {
        drain = true;  // what was sent while nobody listened
      } else {
        next_listen = SteadyClock::now() + std::chrono::seconds(1);
      }
    }
    if (SteadyClock::now() >= stream_retry_at) {
      Status recorded = ApplyStreamChanges();
      report(recorded, "recording this replica's streams");
      if (!recorded.ok()) {
        stream_retry_at = SteadyClock::now() + std::chrono::seconds(1);
        if (recorded.error().code == ErrorCode::kFailedPrecondition) {
          next_heartbeat = SteadyClock::now();  // our replica row is gone: register it again
        }
      }
    }
    if (SteadyClock::now() >= next_heartbeat) {
      report(Heartbeat(), "heartbeat");
      next_heartbeat = SteadyClock::now() + options_.heartbeat_interval;
    }
    if (drain || SteadyClock::now() >= next_poll) {
      report(ReplicaStatusOf(DeliverPending()), "delivering forwarded requests");
      next_poll = SteadyClock::now() + options_.poll_interval;
    }
    listening_ = listener.open();

    auto until = std::min(next_poll, next_heartbeat);
    if (options_.listen && !listener.open()) {
      until = std::min(until, next_listen);
    }
    {
      std::lock_guard lock(mutex_);
      if (!pending_.empty()) {
        until = std::min(until, stream_retry_at);
      }
    }
    const auto wait =
        std::chrono::duration_cast<std::chrono::milliseconds>(until - SteadyClock::now());
    pollfd fds[2] = {{wake_fd_, POLLIN, 0}, {listener.socket(), POLLIN, 0}};
    const int count = listener.open() ? 2 : 1;
    const int ready = poll(fds, count, static_cast<int>(std::max<int64_t>(0, wait.count())) + 1);
    {
      std::lock_guard lock(mutex_);
      if (stopping_) {
        listening_ = false;
        return;
      }
    }
    if (ready <= 0) {
      continue;
    }
    if ((fds[0].revents & POLLIN) != 0) {
      uint64_t value = 0;
      (void)!read(wake_fd_, &value, sizeof(value));
    }
    if (count == 2 && fds[1].revents != 0) {
      auto notified = listener.Consume();
      report(ReplicaStatusOf(notified), "LISTEN");
      if (!notified.ok()) {
        next_listen = SteadyClock::now();
        continue;
      }
      if (*notified) {
        report(ReplicaStatusOf(DeliverPending()), "delivering forwarded requests");
        next_poll = SteadyClock::now() + options_.poll_interval;
      }
    }
  }
}

}  // namespace dozor::server
