// The agent's own footprint on Windows: the working set stands for RSS, kernel + user time for CPU.
#include "platform/self_usage.hpp"

// <windows.h> before the headers that build on its types.
#include <windows.h>

#include <malloc.h>
#include <psapi.h>

namespace dozor::agent::platform {
namespace {

// FILETIME durations count 100-nanosecond intervals.
int64_t FileTimeMs(const FILETIME& time) {
  const uint64_t ticks = (static_cast<uint64_t>(time.dwHighDateTime) << 32) | time.dwLowDateTime;
  return static_cast<int64_t>(ticks / 10'000);
}

Result<PROCESS_MEMORY_COUNTERS> MemoryCounters() {
  PROCESS_MEMORY_COUNTERS counters = {};
  counters.cb = sizeof(counters);
  if (!::GetProcessMemoryInfo(::GetCurrentProcess(), &counters, sizeof(counters))) {
    return MakeError(ErrorCode::kInternal, "GetProcessMemoryInfo failed (error " +
                                               std::to_string(::GetLastError()) + ")");
  }
  return counters;
}

}  // namespace

Result<SelfUsageReading> ReadSelfUsage() {
  DOZOR_ASSIGN_OR_RETURN(PROCESS_MEMORY_COUNTERS memory, MemoryCounters());
  FILETIME created = {};
  FILETIME exited = {};
  FILETIME kernel = {};
  FILETIME user = {};
  if (!::GetProcessTimes(::GetCurrentProcess(), &created, &exited, &kernel, &user)) {
    return MakeError(ErrorCode::kInternal,
                     "GetProcessTimes failed (error " + std::to_string(::GetLastError()) + ")");
  }
  SelfUsageReading reading;
  reading.rss_bytes = memory.WorkingSetSize;
  reading.cpu_time_ms = FileTimeMs(kernel) + FileTimeMs(user);
  return reading;
}

Result<uint64_t> ReadPeakRss() {
  DOZOR_ASSIGN_OR_RETURN(PROCESS_MEMORY_COUNTERS memory, MemoryCounters());
  return static_cast<uint64_t>(memory.PeakWorkingSetSize);
}

int64_t ProcessId() { return static_cast<int64_t>(::GetCurrentProcessId()); }

void ReleaseFreeHeap() {
  // msvcrt's heap is the process heap: _heapmin decommits its free blocks at the top of each
  // segment, HeapCompact coalesces the rest and decommits what it can.
  ::_heapmin();
  ::HeapCompact(::GetProcessHeap(), 0);
}

void TrimWorkingSet(TrimScope /*scope*/) {
  // Windows cannot drop only the code pages: this trims the whole working set. Clean pages (code,
  // read-only data) go to the standby list, written ones to the modified list, to be written to
  // the page file only under memory pressure; what the agent touches again comes back by a soft
  // fault, usually without disk I/O. Best effort: ignored when refused.
  ::SetProcessWorkingSetSize(::GetCurrentProcess(), static_cast<SIZE_T>(-1),
                             static_cast<SIZE_T>(-1));
}

bool CodeLaidOutForTicks() { return false; }

}  // namespace dozor::agent::platform
