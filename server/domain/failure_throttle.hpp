// Throttles repeated failures (wrong API tokens, wrong enrollment tokens, wrong stream secrets) by
// a key such as a source address or an agent id: a key that fails too often within a window is
// blocked for a while, and the caller refuses it without checking its credentials again.
//
// Counting is a leaky bucket: each failure adds one and the level drains at max_failures per
// window, so max_failures failures in a burst block the key for block_ms (spread over the window it
// takes a few more; a steady rate under max_failures per window is never blocked). Attempts while
// blocked are not counted, so a block always ends. Memory is bounded: at most max_keys keys are
// tracked; a new key beyond that evicts the one used least recently.
//
// Nothing here reads a clock: every call takes now_ms (Unix ms from the caller's injected Clock).
// Thread-safety: all member functions may be called concurrently (one internal mutex).
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace dozor::server {

struct FailureThrottleOptions {
  // Failures within window_ms that block a key; 0 turns throttling off.
  int max_failures = 10;
  int64_t window_ms = 60'000;
  // How long a blocked key stays blocked.
  int64_t block_ms = 60'000;
  // Keys tracked at once (each costs about 100 bytes plus the key).
  size_t max_keys = 10'000;
};

class FailureThrottle {
 public:
  explicit FailureThrottle(FailureThrottleOptions options = {});
  FailureThrottle(const FailureThrottle&) = delete;
  FailureThrottle& operator=(const FailureThrottle&) = delete;

  // Milliseconds until `key` may try again; 0 when it is not blocked. Call before checking the
  // credentials; a blocked key is refused without looking at them.
  [[nodiscard]] int64_t BlockedForMs(std::string_view key, int64_t now_ms);

  // Records one failed attempt of `key`. True when this failure blocks the key: the caller logs or
  // audits the block once, not every failure.
  bool RecordFailure(std::string_view key, int64_t now_ms);

  // Keys currently tracked (<= max_keys).
  [[nodiscard]] size_t TrackedKeys() const;
  [[nodiscard]] const FailureThrottleOptions& options() const { return options_; }

 private:
  struct Entry {
    double level = 0;  // failures not yet drained
    int64_t updated_ms = 0;
    int64_t blocked_until_ms = 0;
    std::list<std::string>::iterator recency;
  };
  void Drain(Entry& entry, int64_t now_ms) const;
  void Touch(Entry& entry);

  const FailureThrottleOptions options_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;
  std::list<std::string> recency_;  // least recently used first
};

}  // namespace dozor::server
