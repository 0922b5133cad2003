#include "domain/failure_throttle.hpp"

#include <algorithm>

namespace dozor::server {

FailureThrottle::FailureThrottle(FailureThrottleOptions options) : options_(options) {}

void FailureThrottle::Drain(Entry& entry, int64_t now_ms) const {
  const int64_t elapsed = std::max<int64_t>(0, now_ms - entry.updated_ms);  // a clock step back
  const double window = static_cast<double>(std::max<int64_t>(1, options_.window_ms));
  entry.level =
      std::max(0.0, entry.level - static_cast<double>(elapsed) * options_.max_failures / window);
  entry.updated_ms = std::max(entry.updated_ms, now_ms);
}

void FailureThrottle::Touch(Entry& entry) {
  recency_.splice(recency_.end(), recency_, entry.recency);
}

int64_t FailureThrottle::BlockedForMs(std::string_view key, int64_t now_ms) {
  if (options_.max_failures <= 0) {
    return 0;
  }
  std::lock_guard lock(mutex_);
  const auto it = entries_.find(std::string(key));
  if (it == entries_.end()) {
    return 0;
  }
  Entry& entry = it->second;
  if (entry.blocked_until_ms > now_ms) {
    // A blocked key that keeps knocking stays tracked: others' failures do not evict it early.
    Touch(entry);
    return entry.blocked_until_ms - now_ms;
  }
  Drain(entry, now_ms);
  if (entry.level <= 0) {
    recency_.erase(entry.recency);
    entries_.erase(it);
  }
  return 0;
}

bool FailureThrottle::RecordFailure(std::string_view key, int64_t now_ms) {
  if (options_.max_failures <= 0) {
    return false;
  }
  std::lock_guard lock(mutex_);
  auto it = entries_.find(std::string(key));
  if (it == entries_.end()) {
    if (entries_.size() >= std::max<size_t>(1, options_.max_keys)) {
      entries_.erase(recency_.front());
      recency_.pop_front();
    }
    recency_.emplace_back(key);
    it = entries_.emplace(recency_.back(), Entry{}).first;
    it->second.updated_ms = now_ms;
    it->second.recency = std::prev(recency_.end());
  }
  Entry& entry = it->second;
  Touch(entry);
  if (entry.blocked_until_ms > now_ms) {
    return false;  // already blocked: the caller should not have checked this attempt
  }
  Drain(entry, now_ms);
  entry.level += 1;
  // "> max - 1" rather than ">= max": the drain between failures of a burst is not counted
  // against the attacker.
  if (entry.level > options_.max_failures - 1) {
    entry.blocked_until_ms = now_ms + options_.block_ms;
    return true;
  }
  return false;
}

size_t FailureThrottle::TrackedKeys() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

}  // namespace dozor::server
