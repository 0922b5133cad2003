// CPU cost of one health sample (LinuxHealthSampler::Sample) on this machine.
//
// The agent samples health every 60 s for its whole life with a budget of <=
// 0.03 % of one core, i.e. ~18 ms of CPU per minute for everything; this prints
// what one sample costs (user + kernel time of the calling thread: reading
// /proc/<pid>/stat is mostly kernel time).
//
// Usage: health_sample_bench [samples=200] [root=/]
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <string>
#include <vector>

#include "collectors/health.hpp"

namespace {

int64_t ThreadCpuNs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

int64_t MonotonicNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

double TimevalUs(const timeval& tv) {
  return static_cast<double>(tv.tv_sec) * 1e6 + static_cast<double>(tv.tv_usec);
}

}  // namespace

int main(int argc, char** argv) {
  int samples = argc > 1 ? std::max(1, std::atoi(argv[1])) : 200;
  dozor::agent::CollectContext ctx;
  if (argc > 2) {
    ctx.root = argv[2];
  }
  auto sampler = dozor::agent::MakeHealthSampler(ctx);

  // The first sample allocates buffers and primes counters; the steady state is
  // what runs forever.
  std::vector<std::string> errors;
  auto warmup = sampler->Sample(&errors);
  if (!warmup.ok()) {
    std::fprintf(stderr, "sample failed: %s\n", warmup.error().ToString().c_str());
    return 1;
  }

  std::vector<double> cpu_us;
  std::vector<double> wall_us;
  cpu_us.reserve(static_cast<size_t>(samples));
  rusage before{};
  getrusage(RUSAGE_THREAD, &before);
  uint32_t processes = 0;
  size_t error_count = 0;
  for (int i = 0; i < samples; ++i) {
    errors.clear();
    int64_t wall_start = MonotonicNs();
    int64_t cpu_start = ThreadCpuNs();
    auto sample = sampler->Sample(&errors);
    int64_t cpu_end = ThreadCpuNs();
    int64_t wall_end = MonotonicNs();
    if (!sample.ok()) {
      std::fprintf(stderr, "sample failed: %s\n", sample.error().ToString().c_str());
      return 1;
    }
    processes = sample->process_count();
    error_count = errors.size();
    cpu_us.push_back(static_cast<double>(cpu_end - cpu_start) / 1000.0);
    wall_us.push_back(static_cast<double>(wall_end - wall_start) / 1000.0);
  }
  rusage after{};
  getrusage(RUSAGE_THREAD, &after);

  auto mean = [](const std::vector<double>& v) {
    return std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
  };
  auto percentile = [](std::vector<double> v, double p) {
    std::sort(v.begin(), v.end());
    size_t index = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
    return v[index];
  };
  double user_us = (TimevalUs(after.ru_utime) - TimevalUs(before.ru_utime)) / samples;
  double sys_us = (TimevalUs(after.ru_stime) - TimevalUs(before.ru_stime)) / samples;
  double cpu_mean = mean(cpu_us);

  std::printf("health sample: %d samples, %u processes, %zu errors per sample\n", samples,
              processes, error_count);
  for (const auto& e : errors) {
    std::printf("  error: %s\n", e.c_str());
  }
  std::printf(
      "cpu  us/sample: mean %.0f  p50 %.0f  p99 %.0f  max %.0f  (user "
      "%.0f, kernel %.0f)\n",
      cpu_mean, percentile(cpu_us, 0.50), percentile(cpu_us, 0.99), percentile(cpu_us, 1.0),
      user_us, sys_us);
  std::printf("wall us/sample: mean %.0f  p99 %.0f\n", mean(wall_us), percentile(wall_us, 0.99));
  std::printf("at one sample per 60 s: %.5f %% of one core (budget 0.03 %%)\n",
              cpu_mean / 60e6 * 100.0);
  return 0;
}
