// A host's health samples bucketed for charts: a fixed grid of at most ~720 buckets over 24 hours,
// 7 days or 30 days, per bucket the average (and for CPU the maximum) of the samples in it, and a
// gap (nullopt) where no sample fell. Pure code over plain values; no I/O, no clock.
//
// The samples' disk and network figures are rates already (bytes per second over the agent's own
// sample interval, computed by the agent from two readings of its counters), so a bucket's value
// is the mean of the rates of its samples; nothing here differentiates counters.
//
// Hostile input: an agent may send thousands of filesystems, disks or interfaces and non-finite
// numbers. Each sample contributes at most kMaxSeriesPerKind objects of each kind (its largest or
// busiest), at most kMaxTrackedPerKind distinct names are followed over the whole range, and the
// answer keeps the kMaxSeriesPerKind largest or busiest of those; NaN and infinities are skipped.
// Pseudo filesystems (proc, tmpfs, overlay, ...) and filesystems of zero size are left out.
//
// Thread-safety: a builder is used by one thread; the free functions are safe from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dozor/v1/agent.pb.h"

namespace dozor::server {

enum class HealthRange { k24Hours, k7Days, k30Days };

std::string_view ToString(HealthRange range);  // "24h", "7d", "30d"
std::optional<HealthRange> ParseHealthRange(std::string_view text);

// `count` buckets of `step_ms`: bucket i covers [from_ms + i * step_ms, from_ms + (i + 1) *
// step_ms).
struct SeriesGrid {
  int64_t from_ms = 0;
  int64_t to_ms = 0;  // from_ms + count * step_ms (exclusive)
  int64_t step_ms = 0;
  size_t count = 0;
};

// The grid of `range` that ends with the bucket holding `until_ms`: 720 buckets of 2 minutes
// (24h), 15 minutes (7d) or 1 hour (30d). Bucket starts are multiples of the step since the Unix
// epoch, so a chart polled again keeps its buckets (only the newest changes). `until_ms` must be
// within ±10^15 (the caller validates it).
SeriesGrid GridFor(HealthRange range, int64_t until_ms);

inline constexpr size_t kMaxSeriesPerKind = 16;
inline constexpr size_t kMaxTrackedPerKind = 64;

// One value per bucket of the grid; nullopt where the bucket has no sample (or no value).
using SeriesValues = std::vector<std::optional<double>>;

struct FilesystemSeries {
  std::string mount_point;
  SeriesValues used_percent;
};

struct DiskSeries {
  std::string name;
  SeriesValues read_bytes_per_second;
  SeriesValues write_bytes_per_second;
};

struct NetworkSeries {
  std::string name;
  SeriesValues rx_bytes_per_second;
  SeriesValues tx_bytes_per_second;
};

// Percentages and load rounded to 0.01, rates to whole bytes per second.
struct HealthSeries {
  SeriesGrid grid;
  SeriesValues cpu_percent_avg;
  SeriesValues cpu_percent_max;
  SeriesValues cpu_iowait_percent;
  SeriesValues load1;
  SeriesValues memory_used_percent;  // a sample with no memory total (collector failed) is skipped
  SeriesValues swap_used_percent;    // 0 for a host without swap
  std::vector<FilesystemSeries> filesystems;  // largest (total bytes) first
  std::vector<DiskSeries> disks;              // busiest (bytes read + written) first
  std::vector<NetworkSeries> networks;        // busiest (bytes received + sent) first
};

// (total − available) / total × 100, 0 when total is 0: memory, swap and filesystem usage as every
// health route reports it.
double UsedPercent(uint64_t total_bytes, uint64_t available_bytes);

// proc, sysfs, tmpfs, devtmpfs, overlay, squashfs, cgroup and the like: nothing to fill.
bool IsPseudoFilesystem(std::string_view fs_type);

// Accumulates samples into the grid's buckets. Samples may come in any order (the store hands
// compacted and recent samples over separately); samples outside the grid are ignored.
class HealthSeriesBuilder {
 public:
  explicit HealthSeriesBuilder(SeriesGrid grid);

  void Add(int64_t collected_at_ms, const dozor::v1::HealthSample& sample);

  // Samples added so far that fell inside the grid.
  [[nodiscard]] int64_t samples() const { return samples_; }

  [[nodiscard]] HealthSeries Finish() const;

 private:
  // Per bucket: sum, maximum and count of the values seen.
  struct Accumulator {
    double sum = 0;
    double max = 0;
    uint32_t count = 0;
    void Add(double value);
  };
  using Buckets = std::vector<Accumulator>;

  // A filesystem, disk or interface followed over the range: its name, one or two metrics and
  // how it ranks (largest size seen, or bytes moved).
  struct Tracked {
    std::string name;
    Buckets first;
    Buckets second;  // unused for filesystems
    double rank = 0;
  };

  // The tracked object named `name` of one kind, added while fewer than kMaxTrackedPerKind are;
  // null once the kind is full. `hint` is where this entry's name was found last time.
  Tracked* Find(std::vector<Tracked>& kind, std::string_view name, size_t& hint);
  // One value per bucket: the mean (or the maximum) rounded to 1/scale; nullopt for no sample.
  static SeriesValues Values(const Buckets& buckets, bool maximum, double scale);
  // The kMaxSeriesPerKind best ranked of a kind, best first (ties by name: a stable answer).
  static std::vector<const Tracked*> Ranked(const std::vector<Tracked>& kind);

  SeriesGrid grid_;
  int64_t samples_ = 0;
  Buckets cpu_, iowait_, load1_, memory_, swap_;
  std::vector<Tracked> filesystems_, disks_, networks_;
  // Per entry position of a sample: where its name was found in the previous sample (the agents
  // send their objects in a stable order, so this is nearly always a hit without a search).
  std::vector<size_t> fs_hints_, disk_hints_, network_hints_;
  std::vector<size_t> chosen_;  // scratch: the indexes a sample contributes
};

}  // namespace dozor::server
