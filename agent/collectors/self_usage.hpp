// The agent's own footprint, for the self-limits (core/self_limiter.hpp). Always the real process,
// never under the collectors' root. Per-OS implementation (linux/self_usage_linux.cpp).
#pragma once

#include <cstdint>

#include "dozor/common/result.hpp"

namespace dozor::agent {

struct SelfUsageReading {
  uint64_t rss_bytes = 0;
  int64_t cpu_time_ms = 0;  // user + system of this process (not of the commands it ran)
};

[[nodiscard]] Result<SelfUsageReading> ReadSelfUsage();

// Drops what the collectors keep in memory between runs (cached package-update counts) and returns
// freed heap to the OS. The next inventory recomputes what it needs.
void DropCollectorCaches();

// The part of DropCollectorCaches that lives next to its cache (linux/os_linux.cpp).
void DropPendingUpdatesCache();

}  // namespace dozor::agent
