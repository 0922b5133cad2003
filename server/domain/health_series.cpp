#include "domain/health_series.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include "dozor/common/clock.hpp"

namespace dozor::server {
namespace {

constexpr size_t kBucketCount = 720;
constexpr int64_t kMinuteMs = 60'000;

struct RangeSpec {
  HealthRange range;
  std::string_view name;
  int64_t step_ms;
};

// 720 buckets each: 24 h of 2 minutes, 7 days of 15 minutes (672 would do; 720 keeps one rule),
// 30 days of an hour.
constexpr std::array<RangeSpec, 3> kRanges = {{
    {HealthRange::k24Hours, "24h", 2 * kMinuteMs},
    {HealthRange::k7Days, "7d", 15 * kMinuteMs},
    {HealthRange::k30Days, "30d", 60 * kMinuteMs},
}};

const RangeSpec& SpecOf(HealthRange range) {
  for (const auto& spec : kRanges) {
    if (spec.range == range) {
      return spec;
    }
  }
  return kRanges[0];
}

// Percentages and load to 0.01, rates to whole units: what a chart shows, at a third of the JSON.
double RoundTo(double value, double scale) {
  const double rounded = std::round(value * scale) / scale;
  return std::isfinite(rounded) ? rounded : value;
}

constexpr std::array<std::string_view, 32> kPseudoFilesystems = {
    "autofs",     "binfmt_misc", "bpf",       "cgroup",     "cgroup2",         "configfs",
    "debugfs",    "devpts",      "devtmpfs",  "efivarfs",   "fusectl",         "hugetlbfs",
    "mqueue",     "nsfs",        "overlay",   "proc",       "pstore",          "ramfs",
    "rpc_pipefs", "securityfs",  "selinuxfs", "squashfs",   "sysfs",           "tmpfs",
    "tracefs",    "aufs",        "devfs",     "fuse.lxcfs", "fuse.gvfsd-fuse", "nfsd",
    "rootfs",     "zram"};

}  // namespace

std::string_view ToString(HealthRange range) { return SpecOf(range).name; }

std::optional<HealthRange> ParseHealthRange(std::string_view text) {
  for (const auto& spec : kRanges) {
    if (spec.name == text) {
      return spec.range;
    }
  }
  return std::nullopt;
}

SeriesGrid GridFor(HealthRange range, int64_t until_ms) {
  SeriesGrid grid;
  grid.step_ms = SpecOf(range).step_ms;
  grid.count = kBucketCount;
  grid.to_ms = FloorToStep(until_ms, grid.step_ms) + grid.step_ms;
  grid.from_ms = grid.to_ms - static_cast<int64_t>(grid.count) * grid.step_ms;
  return grid;
}

double UsedPercent(uint64_t total_bytes, uint64_t available_bytes) {
  if (total_bytes == 0) {
    return 0;
  }
  const double total = static_cast<double>(total_bytes);
  return 100.0 * (total - static_cast<double>(available_bytes)) / total;
}

bool IsPseudoFilesystem(std::string_view fs_type) {
  return std::find(kPseudoFilesystems.begin(), kPseudoFilesystems.end(), fs_type) !=
         kPseudoFilesystems.end();
}

void HealthSeriesBuilder::Accumulator::Add(double value) {
  if (!std::isfinite(value)) {
    return;
  }
  sum += value;
  max = count == 0 ? value : std::max(max, value);
  ++count;
}

HealthSeriesBuilder::HealthSeriesBuilder(SeriesGrid grid) : grid_(grid) {
  for (Buckets* buckets : {&cpu_, &iowait_, &load1_, &memory_, &swap_}) {
    buckets->resize(grid_.count);
  }
}

HealthSeriesBuilder::Tracked* HealthSeriesBuilder::Find(std::vector<Tracked>& kind,
                                                        std::string_view name, size_t& hint) {
  if (hint < kind.size() && kind[hint].name == name) {
    return &kind[hint];
  }
  for (size_t i = 0; i < kind.size(); ++i) {
    if (kind[i].name == name) {
      hint = i;
      return &kind[i];
    }
  }
  if (kind.size() >= kMaxTrackedPerKind) {
    return nullptr;
  }
  Tracked added;
  added.name = std::string(name);
  added.first.resize(grid_.count);
  added.second.resize(grid_.count);
  kind.push_back(std::move(added));
  hint = kind.size() - 1;
  return &kind.back();
}

namespace {

// The positions of at most kMaxSeriesPerKind entries of one repeated field that pass `usable`,
// the largest by `size` when there are more.
template <typename Entries, typename Usable, typename Size>
void ChooseEntries(const Entries& entries, Usable&& usable, Size&& size,
                   std::vector<size_t>& chosen) {
  chosen.clear();
  for (int i = 0; i < entries.size(); ++i) {
    if (usable(entries.Get(i))) {
      chosen.push_back(static_cast<size_t>(i));
    }
  }
  if (chosen.size() <= kMaxSeriesPerKind) {
    return;
  }
  auto larger = [&](size_t a, size_t b) {
    const double size_a = size(entries.Get(static_cast<int>(a)));
    const double size_b = size(entries.Get(static_cast<int>(b)));
    return size_a != size_b ? size_a > size_b : a < b;
  };
  std::nth_element(chosen.begin(), chosen.begin() + kMaxSeriesPerKind, chosen.end(), larger);
  chosen.resize(kMaxSeriesPerKind);
  std::sort(chosen.begin(), chosen.end());
}

double FiniteOrZero(double value) { return std::isfinite(value) ? value : 0; }
// A rate for ranking: a hostile agent's 1e308 would sum to infinity and then NaN, which no sort
// comparator can order. No disk or link moves more than 1 PB/s; negative rates mean nothing.
double RankRate(double value) { return std::isfinite(value) ? std::clamp(value, 0.0, 1e15) : 0; }

constexpr double kHundredths = 100;
constexpr double kWhole = 1;

}  // namespace

void HealthSeriesBuilder::Add(int64_t collected_at_ms, const dozor::v1::HealthSample& sample) {
  if (collected_at_ms < grid_.from_ms || collected_at_ms >= grid_.to_ms) {
    return;
  }
  const auto bucket = static_cast<size_t>((collected_at_ms - grid_.from_ms) / grid_.step_ms);
  ++samples_;
  cpu_[bucket].Add(sample.cpu_percent());
  iowait_[bucket].Add(sample.cpu_iowait_percent());
  load1_[bucket].Add(sample.load1());
  if (sample.memory_total_bytes() > 0) {
    memory_[bucket].Add(UsedPercent(sample.memory_total_bytes(), sample.memory_available_bytes()));
  }
  swap_[bucket].Add(UsedPercent(sample.swap_total_bytes(), sample.swap_free_bytes()));

  auto hint_at = [](std::vector<size_t>& hints, size_t position) -> size_t& {
    if (hints.size() <= position) {
      hints.resize(position + 1, std::numeric_limits<size_t>::max());
    }
    return hints[position];
  };

  ChooseEntries(
      sample.filesystems(),
      [](const dozor::v1::FilesystemUsage& fs) {
        return fs.total_bytes() > 0 && !IsPseudoFilesystem(fs.fs_type());
      },
      [](const dozor::v1::FilesystemUsage& fs) { return static_cast<double>(fs.total_bytes()); },
      chosen_);
  for (size_t position = 0; position < chosen_.size(); ++position) {
    const auto& fs = sample.filesystems(static_cast<int>(chosen_[position]));
    Tracked* tracked = Find(filesystems_, fs.mount_point(), hint_at(fs_hints_, position));
    if (tracked == nullptr) {
      continue;
    }
    tracked->first[bucket].Add(UsedPercent(fs.total_bytes(), fs.available_bytes()));
    tracked->rank = std::max(tracked->rank, static_cast<double>(fs.total_bytes()));
  }

  auto disk_bytes = [](const dozor::v1::DiskIo& disk) {
    return RankRate(disk.read_bytes_per_s()) + RankRate(disk.write_bytes_per_s());
  };
  ChooseEntries(
      sample.disks(), [](const dozor::v1::DiskIo& disk) { return !disk.device().empty(); },
      disk_bytes, chosen_);
  for (size_t position = 0; position < chosen_.size(); ++position) {
    const auto& disk = sample.disks(static_cast<int>(chosen_[position]));
    Tracked* tracked = Find(disks_, disk.device(), hint_at(disk_hints_, position));
    if (tracked == nullptr) {
      continue;
    }
    tracked->first[bucket].Add(disk.read_bytes_per_s());
    tracked->second[bucket].Add(disk.write_bytes_per_s());
    tracked->rank += disk_bytes(disk);
  }

  auto network_bytes = [](const dozor::v1::NetworkIo& nic) {
    return RankRate(nic.rx_bytes_per_s()) + RankRate(nic.tx_bytes_per_s());
  };
  ChooseEntries(
      sample.networks(), [](const dozor::v1::NetworkIo& nic) { return !nic.interface().empty(); },
      network_bytes, chosen_);
  for (size_t position = 0; position < chosen_.size(); ++position) {
    const auto& nic = sample.networks(static_cast<int>(chosen_[position]));
    Tracked* tracked = Find(networks_, nic.interface(), hint_at(network_hints_, position));
    if (tracked == nullptr) {
      continue;
    }
    tracked->first[bucket].Add(nic.rx_bytes_per_s());
    tracked->second[bucket].Add(nic.tx_bytes_per_s());
    tracked->rank += network_bytes(nic);
  }
}

SeriesValues HealthSeriesBuilder::Values(const Buckets& buckets, bool maximum, double scale) {
  SeriesValues out;
  out.reserve(buckets.size());
  for (const auto& bucket : buckets) {
    if (bucket.count == 0) {
      out.emplace_back(std::nullopt);
      continue;
    }
    const double value = maximum ? bucket.max : bucket.sum / static_cast<double>(bucket.count);
    out.emplace_back(RoundTo(value, scale));
  }
  return out;
}

std::vector<const HealthSeriesBuilder::Tracked*> HealthSeriesBuilder::Ranked(
    const std::vector<Tracked>& kind) {
  std::vector<const Tracked*> out;
  out.reserve(kind.size());
  for (const auto& tracked : kind) {
    out.push_back(&tracked);
  }
  std::sort(out.begin(), out.end(), [](const Tracked* a, const Tracked* b) {
    return a->rank != b->rank ? a->rank > b->rank : a->name < b->name;
  });
  if (out.size() > kMaxSeriesPerKind) {
    out.resize(kMaxSeriesPerKind);
  }
  return out;
}

HealthSeries HealthSeriesBuilder::Finish() const {
  HealthSeries out;
  out.grid = grid_;
  out.cpu_percent_avg = Values(cpu_, false, kHundredths);
  out.cpu_percent_max = Values(cpu_, true, kHundredths);
  out.cpu_iowait_percent = Values(iowait_, false, kHundredths);
  out.load1 = Values(load1_, false, kHundredths);
  out.memory_used_percent = Values(memory_, false, kHundredths);
  out.swap_used_percent = Values(swap_, false, kHundredths);
  for (const Tracked* fs : Ranked(filesystems_)) {
    out.filesystems.push_back({fs->name, Values(fs->first, false, kHundredths)});
  }
  for (const Tracked* disk : Ranked(disks_)) {
    out.disks.push_back(
        {disk->name, Values(disk->first, false, kWhole), Values(disk->second, false, kWhole)});
  }
  for (const Tracked* nic : Ranked(networks_)) {
    out.networks.push_back(
        {nic->name, Values(nic->first, false, kWhole), Values(nic->second, false, kWhole)});
  }
  return out;
}

}  // namespace dozor::server
