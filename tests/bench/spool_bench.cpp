// Spool benchmark: append cost per report (synchronous=FULL, one transaction per report, as the
// agent does), drain cost (ReadAfter + RemoveUpTo), and the process RSS.
//   spool_bench [reports=2000] [payload_bytes=1250] [dir=$TMPDIR]
// Prints one "name value unit" line per measurement.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "transport/spool.hpp"

namespace {

long ReadStatusKb(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field, 0) == 0) {
      return std::strtol(line.c_str() + std::string(field).size(), nullptr, 10);
    }
  }
  return -1;
}

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) {
    return 0;
  }
  std::sort(values.begin(), values.end());
  return values[std::min(values.size() - 1,
                         static_cast<size_t>(p * static_cast<double>(values.size())))];
}

}  // namespace

int main(int argc, char** argv) {
  using Clock = std::chrono::steady_clock;
  const int reports = argc > 1 ? std::atoi(argv[1]) : 2000;
  const size_t payload_bytes = argc > 2 ? static_cast<size_t>(std::atol(argv[2])) : 1250;
  std::filesystem::path base =
      argc > 3 ? std::filesystem::path(argv[3]) : std::filesystem::temp_directory_path();
  std::string pattern = (base / "dozor-spool-bench-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    std::perror("mkdtemp");
    return 1;
  }
  const std::filesystem::path dir(pattern);
  const long rss_start_kb = ReadStatusKb("VmRSS:");

  std::string warning;
  auto opened = dozor::agent::Spool::Open({dir / "spool.db", 64ull << 20}, &warning);
  if (!opened.ok()) {
    std::fprintf(stderr, "open: %s\n", opened.error().ToString().c_str());
    return 1;
  }
  auto& spool = *opened.value();

  std::vector<double> append_us;
  append_us.reserve(static_cast<size_t>(reports));
  const auto start = Clock::now();
  for (int i = 0; i < reports; ++i) {
    dozor::v1::Report report;
    report.set_collected_at_ms(1'700'000'000'000 + i);
    report.set_agent_version(std::string(payload_bytes, 'x'));  // stands in for the samples
    report.mutable_health();
    const auto t0 = Clock::now();
    auto seq = spool.Append(&report);
    append_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    if (!seq.ok()) {
      std::fprintf(stderr, "append: %s\n", seq.error().ToString().c_str());
      return 1;
    }
  }
  const double append_total_s = std::chrono::duration<double>(Clock::now() - start).count();

  const auto drain_start = Clock::now();
  uint64_t after = 0;
  size_t drained = 0;
  while (true) {
    auto page = spool.ReadAfter(after, 100);
    if (!page.ok() || page->empty()) {
      break;
    }
    drained += page->size();
    after = page->back().seq;
    if (!spool.RemoveUpTo(after).ok()) {
      std::fprintf(stderr, "remove failed\n");
      return 1;
    }
  }
  const double drain_s = std::chrono::duration<double>(Clock::now() - drain_start).count();

  std::printf("reports %d count\n", reports);
  std::printf("payload %zu bytes\n", payload_bytes);
  std::printf("append_mean %.1f us/report\n", append_total_s * 1e6 / reports);
  std::printf("append_p50 %.1f us\n", Percentile(append_us, 0.50));
  std::printf("append_p99 %.1f us\n", Percentile(append_us, 0.99));
  std::printf("append_rate %.0f reports/s\n", reports / append_total_s);
  std::printf("drain_mean %.1f us/report (ReadAfter 100 + RemoveUpTo)\n",
              drained > 0 ? drain_s * 1e6 / static_cast<double>(drained) : 0.0);
  std::printf("rss_start %ld KiB\n", rss_start_kb);
  std::printf("rss_end %ld KiB\n", ReadStatusKb("VmRSS:"));
  std::printf("rss_peak %ld KiB\n", ReadStatusKb("VmHWM:"));
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return 0;
}
