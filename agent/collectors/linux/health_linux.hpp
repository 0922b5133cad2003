// The Linux health sampler, exposed so tests can control its time source and
// page/tick sizes. Everyone else uses MakeHealthSampler(ctx) from
// collectors/health.hpp.
//
// Not thread-safe: one sampler per scheduler thread. It keeps the previous
// counters (CPU, disks, network, per-process CPU ticks) between Sample() calls
// and reuses its read buffers, because it runs every minute for the life of the
// agent and must stay in the low milliseconds of CPU.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "collectors/health.hpp"
#include "collectors/parsers/health_parsers.hpp"

namespace dozor::agent {

struct LinuxHealthOptions {
  // Milliseconds on a monotonic clock; empty: CLOCK_MONOTONIC. Rates divide by
  // its differences.
  std::function<int64_t()> monotonic_ms;
  int64_t page_size = 0;         // 0: sysconf(_SC_PAGESIZE)
  int64_t ticks_per_second = 0;  // 0: sysconf(_SC_CLK_TCK)
  // statvfs on an NFS/CIFS mount blocks while its server is away, which would
  // hang the sampler, so network filesystems are left out unless asked for.
  bool stat_network_filesystems = false;
  size_t max_processes = 65536;  // /proc entries scanned per sample at most
  size_t max_temperatures = 64;  // sensors reported at most
  size_t top_processes = 5;      // length of top_cpu and top_memory
};

class LinuxHealthSampler final : public HealthSampler {
 public:
  explicit LinuxHealthSampler(CollectContext ctx, LinuxHealthOptions options = {});

  Result<dozor::v1::HealthSample> Sample(std::vector<std::string>* errors) override;
  void ReleaseMemory() override;

 private:
  struct ProcessTicks {
    uint32_t pid = 0;
    uint64_t start_time_ticks = 0;
    uint64_t ticks = 0;  // utime + stime
  };
  struct ProcessRow {
    uint32_t pid = 0;
    double cpu_percent = 0;
    uint64_t rss_bytes = 0;
    std::string name;
  };
  // A previous reading and when it was taken, kept per source so one failed
  // read does not skew the next rate.
  template <typename T>
  struct Previous {
    T value{};
    int64_t at_ms = 0;
    bool valid = false;
  };

  // Reads a whole file into buffer_; the view is valid until the next read.
  Result<std::string_view> ReadToBuffer(const std::string& path);
  void SampleFilesystems(dozor::v1::HealthSample* out, std::vector<std::string>* errors);
  void SampleProcesses(int64_t now_ms, dozor::v1::HealthSample* out,
                       std::vector<std::string>* errors);
  void SampleTemperatures(dozor::v1::HealthSample* out, std::vector<std::string>* errors);
  void AddTemperature(std::string sensor, std::string_view millidegrees,
                      dozor::v1::HealthSample* out);
  [[nodiscard]] double ElapsedSeconds(int64_t now_ms, int64_t then_ms) const;

  CollectContext ctx_;
  LinuxHealthOptions options_;
  std::string proc_dir_;
  std::string stat_path_;
  std::string loadavg_path_;
  std::string meminfo_path_;
  std::string diskstats_path_;
  std::string net_dev_path_;
  std::string mounts_path_;
  std::string thermal_dir_;
  std::string hwmon_dir_;

  std::vector<char> buffer_;
  std::vector<char> pid_buffer_;
  std::vector<ProcessTicks> previous_ticks_;
  std::vector<ProcessTicks> current_ticks_;
  std::vector<ProcessRow> rows_;
  int64_t previous_process_scan_ms_ = 0;
  bool previous_process_scan_complete_ = false;
  bool have_previous_process_scan_ = false;

  Previous<CpuTimes> previous_cpu_;
  Previous<std::vector<DiskCounters>> previous_disks_;
  Previous<std::vector<NetCounters>> previous_networks_;
  int64_t previous_sample_ms_ = 0;
  bool have_previous_sample_ = false;
};

}  // namespace dozor::agent
