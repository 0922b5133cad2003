// Decides which lines of a repeated event reach the log: the first one, then at most one per
// interval, which says how many were left out since the last line. For events an attacker or a
// broken environment can repeat thousands of times a second (failed accepts, blocked sources).
//
// Nothing here reads a clock: Allow takes now_ms from the caller's injected Clock.
// Thread-safety: Allow may be called concurrently (one internal mutex).
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>

namespace dozor::server {

class LogLimiter {
 public:
  explicit LogLimiter(int64_t interval_ms) : interval_ms_(interval_ms) {}

  // Counts one event. When it should be logged, returns how many events were left out since the
  // last logged one (0 for the first); nullopt when it should not be logged.
  [[nodiscard]] std::optional<int64_t> Allow(int64_t now_ms) {
    std::lock_guard lock(mutex_);
    if (logged_once_ && now_ms - last_logged_ms_ < interval_ms_) {
      ++suppressed_;
      return std::nullopt;
    }
    logged_once_ = true;
    last_logged_ms_ = now_ms;
    const int64_t suppressed = suppressed_;
    suppressed_ = 0;
    return suppressed;
  }

 private:
  const int64_t interval_ms_;
  std::mutex mutex_;
  bool logged_once_ = false;
  int64_t last_logged_ms_ = 0;
  int64_t suppressed_ = 0;
};

}  // namespace dozor::server
