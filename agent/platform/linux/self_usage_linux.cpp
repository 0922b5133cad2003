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

namespace {

// One mapping of /proc/self/smaps: its header line and the one field that decides.
struct Mapping {
  uintptr_t start = 0;
  uintptr_t end = 0;
  bool file_backed_read_only = false;
  uint64_t anonymous_kib = 0;
};

// Takes the mapping's pages out of this process's page tables. Only file-backed mappings that
// cannot be written and hold no private copy: code and read-only data exactly as in the file, so
// the next access maps the same bytes back from the page cache (or the file). The mapping that
// holds relocated data (RELRO: written at start-up, then made read-only) has anonymous pages and
// is skipped: dropping it would bring back the file's unrelocated bytes.
//
// MADV_DONTNEED, not MADV_PAGEOUT: PAGEOUT also evicts the pages from the page cache, but the
// kernel allows that only to a process that owns the file or could open it for writing (the
// side-channel rule of can_do_file_pageout), and the service runs as `dozor-agent` over a
// root-owned binary: there it did nothing. Unmapping needs no such right, and what stays in the
// page cache is the kernel's to reclaim like any other clean page.
void Unmap(const Mapping& mapping) {
  if (mapping.file_backed_read_only && mapping.anonymous_kib == 0 && mapping.end > mapping.start) {
    ::madvise(reinterpret_cast<void*>(mapping.start), mapping.end - mapping.start, MADV_DONTNEED);
  }
}

}  // namespace

void TrimWorkingSet() {
  // The agent's own smaps is a few dozen mappings (the binary is static); 4 MiB is far above it.
  auto smaps = ReadFile("/proc/self/smaps", 4 << 20);
  if (!smaps.ok()) {
    return;
  }
  std::istringstream lines(*smaps);
  std::string line;
  Mapping current;
  while (std::getline(lines, line)) {
    unsigned long long start = 0;
    unsigned long long end = 0;
    char permissions[8] = {};
    int path_at = 0;
    if (std::sscanf(line.c_str(), "%llx-%llx %7s %*s %*s %*s %n", &start, &end, permissions,
                    &path_at) >= 3 &&
        line.find('-') < line.find(' ')) {
      Unmap(current);
      current = Mapping{};
      current.start = static_cast<uintptr_t>(start);
      current.end = static_cast<uintptr_t>(end);
      current.file_backed_read_only = path_at > 0 && static_cast<size_t>(path_at) < line.size() &&
                                      line[path_at] == '/' && permissions[1] != 'w' &&
                                      permissions[3] == 'p';
      continue;
    }
    unsigned long long kib = 0;
    if (std::sscanf(line.c_str(), "Anonymous: %llu kB", &kib) == 1) {
      current.anonymous_kib = kib;
    }
  }
  Unmap(current);
}

}  // namespace dozor::agent::platform
