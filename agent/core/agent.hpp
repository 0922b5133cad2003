// The agent's lifecycle: schedules inventory (at start, then every inventory interval) and health
// samples (every health interval), spools each report durably and lets the StreamClient deliver it.
// Server commands (collect inventory now, change intervals) arrive through the stream.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>

#include "collectors/collector.hpp"
#include "collectors/health.hpp"
#include "core/config.hpp"
#include "core/identity.hpp"
#include "transport/spool.hpp"
#include "transport/stream_client.hpp"

namespace dozor::agent {

class Agent {
 public:
  Agent(AgentConfig config, AgentIdentity identity);
  ~Agent();

  // Runs until Stop(); returns the process exit code.
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

  AgentConfig config_;
  AgentIdentity identity_;
  CollectContext context_;
  std::unique_ptr<dozor::agent::Spool> spool_;
  std::unique_ptr<StreamClient> client_;
  std::unique_ptr<HealthSampler> sampler_;

  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool inventory_requested_ = false;
  bool intervals_changed_ = false;
  int health_interval_s_;
  int inventory_interval_s_;
};

}  // namespace dozor::agent
