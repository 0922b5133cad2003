#include "core/self_limiter.hpp"

#include <cstdio>

namespace dozor::agent {
namespace {

// Below this span a CPU average is noise (one inventory parse would look like 100 %).
constexpr int64_t kMinCpuSpanMs = 10000;

std::string Mib(uint64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  return text;
}

}  // namespace

double SelfLimiter::AverageCpuPercent(const SelfUsage& usage) {
  if (!history_.empty() && (usage.monotonic_ms < history_.back().monotonic_ms ||
                            usage.cpu_time_ms < history_.back().cpu_time_ms)) {
    history_.clear();  // not one process's monotonic readings any more: start over
  }
  history_.push_back(usage);
  const int64_t window_start = usage.monotonic_ms - limits_.cpu_window_ms;
  while (history_.size() >= 2 && history_[1].monotonic_ms <= window_start) {
    history_.pop_front();
  }
  const SelfUsage& oldest = history_.front();
  const int64_t span_ms = usage.monotonic_ms - oldest.monotonic_ms;
  if (span_ms < kMinCpuSpanMs && span_ms < limits_.cpu_window_ms) {
    return -1;
  }
  if (span_ms <= 0) {
    return -1;
  }
  return 100.0 * static_cast<double>(usage.cpu_time_ms - oldest.cpu_time_ms) /
         static_cast<double>(span_ms);
}

SelfLimitDecision SelfLimiter::Observe(const SelfUsage& usage) {
  SelfLimitDecision decision;
  decision.rss_bytes = usage.rss_bytes;
  decision.cpu_percent = AverageCpuPercent(usage);

  const bool memory_over = usage.rss_bytes > limits_.max_rss_bytes;
  const bool cpu_over = decision.cpu_percent >= 0 && decision.cpu_percent > limits_.max_cpu_percent;
  if (memory_over) {
    decision.reason =
        "memory " + Mib(usage.rss_bytes) + " over the limit of " + Mib(limits_.max_rss_bytes);
  }
  if (cpu_over) {
    char text[96];
    std::snprintf(text, sizeof(text), "CPU %.1f%% over the limit of %.1f%%", decision.cpu_percent,
                  limits_.max_cpu_percent);
    decision.reason += (decision.reason.empty() ? "" : "; ") + std::string(text);
  }

  const auto fatal_bytes = static_cast<double>(limits_.max_rss_bytes) * limits_.fatal_memory_factor;
  fatal_over_ticks_ =
      static_cast<double>(usage.rss_bytes) > fatal_bytes ? fatal_over_ticks_ + 1 : 0;
  decision.exit = fatal_over_ticks_ >= limits_.fatal_ticks;

  if (memory_over || cpu_over) {
    under_ticks_ = 0;
    if (!shedding_) {
      shedding_ = true;
      decision.started = true;
    }
  } else if (shedding_) {
    ++under_ticks_;
    if (under_ticks_ >= limits_.recover_ticks) {
      shedding_ = false;
      under_ticks_ = 0;
      decision.recovered = true;
    }
  }
  decision.shed = shedding_;
  return decision;
}

}  // namespace dozor::agent
