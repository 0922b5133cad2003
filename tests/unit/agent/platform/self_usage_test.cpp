#include "platform/self_usage.hpp"

#include <doctest/doctest.h>

#include <functional>
#include <string>

#ifdef __linux__
#include <elf.h>
#include <link.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#endif

namespace dozor::agent::platform {
namespace {

TEST_CASE("own usage reports a resident set and a peak at least as large") {
  auto usage = ReadSelfUsage();
  REQUIRE(usage.ok());
  CHECK(usage->rss_bytes > 0);
  CHECK(usage->cpu_time_ms >= 0);
  auto peak = ReadPeakRss();
  REQUIRE(peak.ok());
  CHECK(*peak >= usage->rss_bytes / 2);
}

TEST_CASE("trimming the working set loses nothing the process uses") {
  static const std::string kText = "still here";
  TrimWorkingSet();
  ReleaseFreeHeap();
  CHECK(kText == "still here");  // code and read-only data come back on access
  auto usage = ReadSelfUsage();
  REQUIRE(usage.ok());
  CHECK(usage->rss_bytes > 0);
}

#ifdef __linux__
// Resident pages mapped from files (code, read-only data), from /proc/self/status.
long ResidentFileKiB() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    long kib = 0;
    if (std::sscanf(line.c_str(), "RssFile: %ld kB", &kib) == 1) return kib;
  }
  return -1;
}

// Reads every page of the test program's own read-only segments (code and read-only data), so
// the working set has a known large file-backed part whatever a fork left of it.
int TouchProgramSegments(dl_phdr_info* info, size_t /*size*/, void* sum) {
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& segment = info->dlpi_phdr[i];
    if (segment.p_type != PT_LOAD || (segment.p_flags & PF_W) != 0) continue;
    const auto* bytes =
        reinterpret_cast<const volatile unsigned char*>(info->dlpi_addr + segment.p_vaddr);
    for (size_t at = 0; at < segment.p_filesz; at += 4096)
      *static_cast<unsigned*>(sum) += bytes[at];
  }
  return 1;  // the first object is the program itself
}

// 0 when the trim took at least half of the file-backed working set away and relocated data
// (a virtual call through std::function) still works afterwards.
int TrimAndReport() {
  unsigned sum = 0;
  ::dl_iterate_phdr(TouchProgramSegments, &sum);
  const long before = ResidentFileKiB();
  TrimWorkingSet();
  const long after = ResidentFileKiB();
  std::function<long(long)> twice = [](long x) { return 2 * x; };
  std::fprintf(stderr, "file-backed resident: %ld KiB before the trim, %ld after\n", before, after);
  return before > 1024 && after >= 0 && twice(after) < before && twice(21) == 42 ? 0 : 1;
}

TEST_CASE(
    "a binary BOLT did not lay out says so, and the agent then trims only after inventories") {
  // The test binary is linked as usual: no hot range in its dynamic symbol table (the release
  // agent's is checked by the packaging test, tests/packaging/test_packages.py).
  CHECK_FALSE(CodeLaidOutForTicks());
}

TEST_CASE(
    "trimming the working set takes code out of it, also in a process that does not own its "
    "binary") {
  CHECK(TrimAndReport() == 0);
  if (::geteuid() != 0) {
    return;  // the unprivileged case is this process itself
  }
  // As the service runs: a user that neither owns the binary and the libraries nor may write
  // them (MADV_PAGEOUT then did nothing at all).
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    if (::setresgid(65534, 65534, 65534) != 0 || ::setresuid(65534, 65534, 65534) != 0) _exit(2);
    _exit(TrimAndReport());
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}
#endif

}  // namespace
}  // namespace dozor::agent::platform
