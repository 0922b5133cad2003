// The agent's side of the one long-lived stream: sends spooled reports in seq order (at most
// `window` unacked at a time), deletes each from the spool when its ack arrives, hands server
// commands to the agent, and reconnects with exponential backoff and jitter whenever the stream
// ends. Runs on its own thread (the agent has exactly one stream, so the sync API is the simple
// and cheap choice here).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "dozor/common/clock.hpp"
#include "dozor/v1/agent.pb.h"
#include "transport/channel.hpp"
#include "transport/spool.hpp"

namespace dozor::agent {

struct StreamClientOptions {
  ChannelOptions channel;
  std::string agent_id;
  std::string agent_secret;
  size_t window = 32;
  int backoff_initial_ms = 1000;
  // At most a minute between attempts: after a long outage every agent is back within a minute
  // of the server (the jittered delay is 30-60 s at the cap). 10,000 agents then try about 250
  // times a second while the server is down, which a refused connection makes cheap; the old
  // 300 s cap kept agents away for up to 5 minutes after the server was back.
  int backoff_max_ms = 60000;
  // A stream the server has not accepted (StreamAccepted) within this is given up and opened
  // again after the backoff: keepalive pings prove the connection, not that the server's handler
  // ever ran (found under 10 % loss, where one stream in ~100 waited for ever).
  int accept_timeout_ms = 60000;
  // Called after status() changed (connected, an ack, an error), on one of the client's threads
  // and without its locks held; must be quick. May be empty.
  std::function<void()> on_status_change;
};

struct StreamClientStatus {
  bool connected = false;
  int64_t last_ack_ms = 0;
  int64_t last_connect_ms = 0;
  uint64_t acked_total = 0;
  uint64_t rejected_total = 0;
  std::string last_error;
};

// Exponential backoff with full jitter: uniform in [base/2, base], base doubling to max.
class Backoff {
 public:
  Backoff(int initial_ms, int max_ms, uint64_t seed);
  int NextDelayMs();
  void Reset() { attempt_ = 0; }

 private:
  int initial_ms_;
  int max_ms_;
  int attempt_ = 0;
  uint64_t state_;
};

class StreamClient {
 public:
  using CommandHandler = std::function<void(const dozor::v1::Command&)>;

  StreamClient(StreamClientOptions options, Spool& spool, CommandHandler on_command);
  ~StreamClient();
  StreamClient(const StreamClient&) = delete;
  StreamClient& operator=(const StreamClient&) = delete;

  void Start();
  void Stop();
  // Something new is in the spool.
  void Wake();
  [[nodiscard]] StreamClientStatus status() const;

 private:
  void Run();
  // One connected session; returns when the stream ends.
  // One connection until it ends; true when the server acked at least one report in it.
  bool RunSession();
  void SleepInterruptibly(int ms);
  // The replica this session goes to (options_.channel.server_address may list several).
  [[nodiscard]] std::string CurrentAddress() const;
  void NotifyStatusChange() const;

  StreamClientOptions options_;
  Spool& spool_;
  CommandHandler on_command_;
  std::thread thread_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool woken_ = false;
  StreamClientStatus status_;
  void* active_context_ = nullptr;  // grpc::ClientContext* of the live session, for Stop()
  // Index into the server address list: moves on after a session that stored nothing, stays
  // while sessions work. Touched by the run thread only.
  size_t address_index_ = 0;
};

}  // namespace dozor::agent
