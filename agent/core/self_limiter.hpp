// The agent guards its own footprint (docs/agent-config.md, "Self-limits").
//
// Every health tick the agent reads its resident memory and CPU time and feeds them to
// SelfLimiter, a pure state machine (time comes with the reading, so tests drive it with fake
// readings). Over a limit the agent sheds work: no inventory (and so no smartctl / apt-get / dnf
// runs), a doubled health interval, caches dropped. It recovers after `recover_ticks` consecutive
// readings under both limits. Memory above `fatal_memory_factor` x the limit for `fatal_ticks`
// consecutive readings asks the agent to exit so systemd restarts it (the spool is durable).
// Not thread-safe: one owner (the agent's scheduler loop).
#pragma once

#include <cstdint>
#include <deque>
#include <string>

namespace dozor::agent {

struct SelfLimits {
  uint64_t max_rss_bytes = 100ull << 20;
  double max_cpu_percent = 10.0;  // of one core, averaged over cpu_window_ms
  int64_t cpu_window_ms = 60000;
  int recover_ticks = 3;
  double fatal_memory_factor = 1.5;
  int fatal_ticks = 3;
};

// One reading of the agent's own usage.
struct SelfUsage {
  int64_t monotonic_ms = 0;
  uint64_t rss_bytes = 0;
  int64_t cpu_time_ms = 0;  // user + system, cumulative
};

struct SelfLimitDecision {
  bool shed = false;        // shed work until the next reading
  bool started = false;     // this reading began an episode: log a warning once
  bool recovered = false;   // this reading ended an episode: log that
  bool exit = false;        // memory far over the limit for too long: exit for a restart
  double cpu_percent = -1;  // average over the window; -1 until two readings span time
  uint64_t rss_bytes = 0;
  std::string reason;  // why over the limit (empty when under), for logs and status
};

class SelfLimiter {
 public:
  explicit SelfLimiter(SelfLimits limits) : limits_(limits) {}

  SelfLimitDecision Observe(const SelfUsage& usage);
  [[nodiscard]] bool shedding() const { return shedding_; }
  [[nodiscard]] const SelfLimits& limits() const { return limits_; }

 private:
  // CPU % between the oldest kept reading and `usage`; readings older than the window are dropped
  // except the last one before it, so the average spans at least the window once it has filled.
  double AverageCpuPercent(const SelfUsage& usage);

  SelfLimits limits_;
  std::deque<SelfUsage> history_;
  bool shedding_ = false;
  int under_ticks_ = 0;
  int fatal_over_ticks_ = 0;
};

}  // namespace dozor::agent
