#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>

#include "collectors/self_usage.hpp"
#include "dozor/common/files.hpp"

namespace dozor::agent {

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

void DropCollectorCaches() {
  DropPendingUpdatesCache();
  malloc_trim(0);
}

}  // namespace dozor::agent
