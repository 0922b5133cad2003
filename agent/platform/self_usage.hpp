// The agent's own footprint, for the self-limits (core/self_limiter.hpp). Always the real process,
// never under the collectors' root (linux/self_usage_linux.cpp).
#pragma once

#include <cstdint>

#include "dozor/common/result.hpp"

namespace dozor::agent::platform {

struct SelfUsageReading {
  uint64_t rss_bytes = 0;
  int64_t cpu_time_ms = 0;  // user + system of this process (not of the commands it ran)
};

[[nodiscard]] Result<SelfUsageReading> ReadSelfUsage();

// The highest RSS this process has had, in bytes (for benchmarks).
[[nodiscard]] Result<uint64_t> ReadPeakRss();

// This process's id, as the OS shows it to `status` and the service manager.
[[nodiscard]] int64_t ProcessId();

// Returns the heap's free memory to the OS (after caches were dropped).
void ReleaseFreeHeap();

// What TrimWorkingSet takes out.
enum class TrimScope {
  // All code and read-only data, the shared C/C++ runtimes' too: after an inventory.
  kAllCode,
  // The program's own code and read-only data outside the range a tick runs (see
  // CodeLaidOutForTicks): after every tick. Shared runtimes stay: their pages are shared with
  // every other process, so they count little in the agent's proportional set, while every
  // thread would fault them back.
  kProgramColdCode,
};

// Takes the pages of the agent's code and read-only data out of its working set (start-up
// code, the inventory collectors after an inventory); what the agent still uses comes back on the
// next access, from the page cache or the binary. Nothing is lost: no written memory is touched.
// Leaves an idle agent with its steady working set instead of everything it ever ran, also when
// it runs as a user that does not own its binary (the service). Best effort; does nothing where
// the OS cannot do it. In a binary whose code was laid out from a profile
// (deploy/bolt/bolt-agent.sh), the range holding the code a health tick runs stays mapped.
void TrimWorkingSet(TrimScope scope = TrimScope::kAllCode);

bool CodeLaidOutForTicks();

}  // namespace dozor::agent::platform
