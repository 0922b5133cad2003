// Runs the collectors the way the agent needs them run: each inventory collector in isolation
// (an error or an exception fails that collector only) and every collector, health sampling
// included, under a deadline (core/deadline_runner.hpp). A collector that hangs (a dead NFS mount,
// a slow /proc file, a stuck subprocess) is reported as failed when its deadline passes, the
// others still report, and while it stays hung later runs report it as still running instead of
// starting a second copy.
//
// Thread-safety: one thread at a time (the agent's scheduler thread). Collectors left running
// after a missed deadline own copies of what they use (the context, the health sampler), so they
// never touch the supervisor's state.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "collectors/collector.hpp"
#include "collectors/health.hpp"
#include "core/config.hpp"
#include "core/deadline_runner.hpp"

namespace dozor::agent {

// A health sample reads /proc and /sys and calls statvfs: milliseconds normally. Its deadline is
// this or the collectors' timeout, whichever is shorter.
inline constexpr std::chrono::seconds kMaxHealthSampleDeadline{30};

struct CollectorDeadlines {
  std::chrono::milliseconds inventory_collector{
      std::chrono::seconds(kDefaultCollectorTimeoutSeconds)};
  std::chrono::milliseconds health_sample{kMaxHealthSampleDeadline};

  // Both from collectors.timeout_seconds.
  static CollectorDeadlines FromTimeoutSeconds(int seconds);
};

struct InventoryRun {
  dozor::v1::Inventory inventory;
  std::vector<dozor::v1::CollectorStatus> statuses;  // one per collector, in table order
};

class CollectorSupervisor {
 public:
  // `health_sampler` null: MakeHealthSampler(context) on first use.
  explicit CollectorSupervisor(
      CollectContext context, CollectorDeadlines deadlines = {},
      std::vector<InventoryCollector> collectors = PlatformInventoryCollectors(),
      std::shared_ptr<HealthSampler> health_sampler = nullptr);

  // Runs every inventory collector, one after the other, each with its deadline.
  InventoryRun CollectInventory();

  // One health sample (HealthSampler::Sample) with the health deadline. A missed deadline or a
  // sample still hung from before is an error naming the collector "health".
  Result<dozor::v1::HealthSample> SampleHealth(std::vector<std::string>* errors);

  // HealthSampler::ReleaseMemory, unless a hung sample is still using the sampler.
  void ReleaseHealthMemory();

  [[nodiscard]] const CollectContext& context() const { return context_; }

 private:
  CollectContext context_;
  CollectorDeadlines deadlines_;
  std::vector<InventoryCollector> collectors_;
  std::shared_ptr<HealthSampler> health_sampler_;
  DeadlineRunner runner_;
};

}  // namespace dozor::agent
