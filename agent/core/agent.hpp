// The agent's lifecycle: schedules inventory (at start, then every inventory interval) and health
// samples (every health interval), spools each report durably and lets the StreamClient deliver it.
// Server commands (collect inventory now, change intervals) arrive through the stream.
// It holds <state_dir>/agent.lock while running, keeps <state_dir>/status.json current for
// `dozor-agent status`, and checks its own memory and CPU every health tick (SelfLimiter): over a
// limit it defers inventory, doubles the health interval and drops caches until back under.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>

#include "collectors/collector.hpp"
#include "collectors/health.hpp"
#include "core/agent_status.hpp"
#include "core/collector_supervisor.hpp"
#include "core/config.hpp"
#include "core/identity.hpp"
#include "core/self_limiter.hpp"
#include "platform/self_usage.hpp"
#include "transport/channel.hpp"
#include "transport/spool.hpp"
#include "transport/stream_client.hpp"

namespace dozor::agent {

// How the agent reaches its server: the configured address, or else the one it enrolled with.
[[nodiscard]] ChannelOptions ServerChannelOptions(const AgentConfig& config,
                                                  const AgentIdentity& identity);

class Agent {
 public:
  Agent(AgentConfig config, AgentIdentity identity);
  ~Agent();

  // Runs until Stop(); returns the process exit code (1 when it cannot start, or when it exits
  // because its memory stayed far over limits.max_rss_mb, so that systemd restarts it).
  int Run();
  // Safe from any thread (e.g. the signal thread).
  void Stop();

 private:
  void OnCommand(const dozor::v1::Command& command);
  void CollectAndSpoolInventory();
  void SampleAndSpoolHealth();
  void SpoolReport(dozor::v1::Report report, const char* what);
  [[nodiscard]] std::filesystem::path IntervalsFile() const;
  void LoadPersistedIntervals();
  void PersistIntervals();
  // Self-limits check after a health tick; false when the agent must exit.
  bool CheckSelfLimits();
  [[nodiscard]] int EffectiveHealthIntervalSeconds() const;
  void RecordCollector(const dozor::v1::CollectorStatus& status);
  // Writes status.json when anything but the timestamp changed since the last write.
  void UpdateStatusFile();

  AgentConfig config_;
  AgentIdentity identity_;
  CollectorSupervisor collectors_;
  std::unique_ptr<dozor::agent::Spool> spool_;
  std::unique_ptr<StreamClient> client_;

  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool inventory_requested_ = false;
  bool intervals_changed_ = false;
  bool stream_status_changed_ = false;  // the stream client connected, lost or acked something
  int health_interval_s_;
  int inventory_interval_s_;

  // Only the scheduler thread (Run) touches these.
  SelfLimiter limiter_;
  SelfLimitDecision last_limits_;
  bool inventory_deferred_ = false;
  bool trim_after_inventory_ = false;  // an inventory ran: trim heap and code at the next tick
  // A tick ran in a binary laid out for ticks: trim the working set once it has settled.
  bool trim_after_settle_ = false;
  const bool code_laid_out_for_ticks_ = platform::CodeLaidOutForTicks();
  std::map<std::string, CollectorResult> collector_results_;  // by collector name
  int64_t started_at_ms_ = 0;
  int64_t previous_last_send_ms_ = 0;  // from the previous run's status.json
  std::string last_status_written_;
};

}  // namespace dozor::agent
