#include <malloc.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <sstream>
#include <string>

#include "dozor/common/files.hpp"
#include "platform/self_usage.hpp"

namespace dozor::agent::platform {

Result<SelfUsageReading> ReadSelfUsage() {
  SelfUsageReading reading;
  // statm: size resident shared text lib data dt, in pages.
  DOZOR_ASSIGN_OR_RETURN(std::string statm, ReadFile("/proc/self/statm", 4096));
  unsigned long long size_pages = 0;
  unsigned long long resident_pages = 0;
  if (std::sscanf(statm.c_str(), "%llu %llu", &size_pages, &resident_pages) != 2) {
    return MakeError(ErrorCode::kDataLoss, "/proc/self/statm: unexpected content");
  }
  reading.rss_bytes = resident_pages * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) != 0) {
    return MakeError(ErrorCode::kInternal, "getrusage failed");
  }
  auto ms = [](const timeval& tv) {
    return static_cast<int64_t>(tv.tv_sec) * 1000 + static_cast<int64_t>(tv.tv_usec) / 1000;
  };
  reading.cpu_time_ms = ms(usage.ru_utime) + ms(usage.ru_stime);
  return reading;
}

Result<uint64_t> ReadPeakRss() {
  DOZOR_ASSIGN_OR_RETURN(std::string status, ReadFile("/proc/self/status", 1 << 16));
  const size_t at = status.find("VmHWM:");
  unsigned long long kib = 0;
  if (at == std::string::npos || std::sscanf(status.c_str() + at + 6, "%llu", &kib) != 1) {
    return MakeError(ErrorCode::kDataLoss, "/proc/self/status: no VmHWM");
  }
  return static_cast<uint64_t>(kib) << 10;
}

int64_t ProcessId() { return static_cast<int64_t>(::getpid()); }

void ReleaseFreeHeap() { malloc_trim(0); }

void TrimWorkingSet() {
#ifndef MADV_PAGEOUT
  constexpr int MADV_PAGEOUT = 21;  // Linux 5.4; older glibc headers lack the name
#endif
  auto maps = ReadFile("/proc/self/maps", 1 << 20);
  if (!maps.ok()) {
    return;
  }
  // Only file-backed mappings that cannot be written: code and read-only data. MADV_PAGEOUT
  // reclaims only pages no other process maps (shared libraries in use elsewhere stay), and an
  // older kernel answers EINVAL: both are fine.
  std::istringstream lines(*maps);
  std::string line;
  while (std::getline(lines, line)) {
    unsigned long long start = 0;
    unsigned long long end = 0;
    char permissions[8] = {};
    int path_at = 0;
    if (std::sscanf(line.c_str(), "%llx-%llx %7s %*s %*s %*s %n", &start, &end, permissions,
                    &path_at) < 3 ||
        path_at <= 0 || static_cast<size_t>(path_at) >= line.size() || line[path_at] != '/' ||
        permissions[1] == 'w') {
      continue;
    }
    ::madvise(reinterpret_cast<void*>(static_cast<uintptr_t>(start)),
              static_cast<size_t>(end - start), MADV_PAGEOUT);
  }
}

}  // namespace dozor::agent::platform
