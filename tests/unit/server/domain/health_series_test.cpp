#include "domain/health_series.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>

namespace dozor::server {
namespace {

constexpr int64_t kMinute = 60'000;
constexpr int64_t kHour = 60 * kMinute;
// A multiple of an hour, so every range's grid ends on a bucket boundary just after it.
constexpr int64_t kUntil = 1'800'000'000'000 - 1'800'000'000'000 % kHour;

dozor::v1::HealthSample Sample(double cpu) {
  dozor::v1::HealthSample sample;
  sample.set_cpu_percent(cpu);
  sample.set_cpu_iowait_percent(1.5);
  sample.set_load1(0.25);
  sample.set_memory_total_bytes(1000);
  sample.set_memory_available_bytes(250);
  sample.set_swap_total_bytes(200);
  sample.set_swap_free_bytes(150);
  return sample;
}

void AddFilesystem(dozor::v1::HealthSample& sample, const std::string& mount, uint64_t total,
                   uint64_t available, const std::string& type = "ext4") {
  auto* fs = sample.add_filesystems();
  fs->set_mount_point(mount);
  fs->set_fs_type(type);
  fs->set_total_bytes(total);
  fs->set_available_bytes(available);
}

// The index of the bucket holding `at_ms`.
size_t BucketOf(const SeriesGrid& grid, int64_t at_ms) {
  return static_cast<size_t>((at_ms - grid.from_ms) / grid.step_ms);
}

TEST_CASE("health ranges parse as 24h, 7d and 30d only") {
  CHECK(ParseHealthRange("24h") == HealthRange::k24Hours);
  CHECK(ParseHealthRange("7d") == HealthRange::k7Days);
  CHECK(ParseHealthRange("30d") == HealthRange::k30Days);
  for (const char* bad : {"", "1y", "24H", "30", "7d ", "1d"}) {
    CHECK_FALSE(ParseHealthRange(bad).has_value());
  }
  CHECK(ToString(HealthRange::k30Days) == "30d");
}

TEST_CASE("series grids have 720 buckets of 2 min, 15 min and 1 h ending with until") {
  struct Case {
    HealthRange range;
    int64_t step;
  };
  for (const Case& c :
       {Case{HealthRange::k24Hours, 2 * kMinute}, Case{HealthRange::k7Days, 15 * kMinute},
        Case{HealthRange::k30Days, kHour}}) {
    const int64_t until = kUntil + 7 * kMinute + 123;
    const SeriesGrid grid = GridFor(c.range, until);
    CHECK(grid.count == 720);
    CHECK(grid.step_ms == c.step);
    CHECK(grid.to_ms == grid.from_ms + 720 * c.step);
    CHECK(grid.from_ms % c.step == 0);
    CHECK(grid.from_ms <= until - 719 * c.step);
    CHECK(until < grid.to_ms);
    CHECK(grid.to_ms - c.step <= until);
  }
  // A time on a boundary starts the last bucket.
  const SeriesGrid on_boundary = GridFor(HealthRange::k30Days, kUntil);
  CHECK(on_boundary.to_ms == kUntil + kHour);
  // Before the epoch the floor still holds.
  const SeriesGrid negative = GridFor(HealthRange::k24Hours, -1);
  CHECK(negative.to_ms == 0);
}

TEST_CASE("series buckets average samples, keep the CPU maximum and leave gaps as null") {
  const SeriesGrid grid = GridFor(HealthRange::k24Hours, kUntil);
  HealthSeriesBuilder builder(grid);
  const int64_t at = grid.from_ms + 10 * grid.step_ms;
  builder.Add(at, Sample(10));
  builder.Add(at + grid.step_ms - 1, Sample(30));
  builder.Add(grid.from_ms - 1, Sample(99));  // before the grid
  builder.Add(grid.to_ms, Sample(99));        // after it
  builder.Add(grid.to_ms - 1, Sample(50));    // last bucket
  CHECK(builder.samples() == 3);
  const HealthSeries series = builder.Finish();
  REQUIRE(series.cpu_percent_avg.size() == 720);
  REQUIRE(series.cpu_percent_max.size() == 720);
  const size_t bucket = BucketOf(grid, at);
  CHECK(series.cpu_percent_avg[bucket] == doctest::Approx(20));
  CHECK(series.cpu_percent_max[bucket] == doctest::Approx(30));
  CHECK(series.cpu_percent_avg[719] == doctest::Approx(50));
  CHECK_FALSE(series.cpu_percent_avg[0].has_value());
  CHECK_FALSE(series.cpu_percent_avg[bucket + 1].has_value());
  CHECK(series.cpu_iowait_percent[bucket] == doctest::Approx(1.5));
  CHECK(series.load1[bucket] == doctest::Approx(0.25));
  CHECK(series.memory_used_percent[bucket] == doctest::Approx(75));
  CHECK(series.swap_used_percent[bucket] == doctest::Approx(25));
  int gaps = 0;
  for (const auto& value : series.memory_used_percent) {
    gaps += value.has_value() ? 0 : 1;
  }
  CHECK(gaps == 718);
}

TEST_CASE("series do not depend on the order samples arrive in") {
  const SeriesGrid grid = GridFor(HealthRange::k7Days, kUntil);
  HealthSeriesBuilder forwards(grid);
  HealthSeriesBuilder backwards(grid);
  for (int i = 0; i < 100; ++i) {
    forwards.Add(grid.from_ms + i * 7 * kMinute, Sample(i % 17));
  }
  for (int i = 99; i >= 0; --i) {
    backwards.Add(grid.from_ms + i * 7 * kMinute, Sample(i % 17));
  }
  CHECK(forwards.Finish().cpu_percent_avg == backwards.Finish().cpu_percent_avg);
}

TEST_CASE("series skip a memory total of zero and count a host without swap as 0 percent") {
  const SeriesGrid grid = GridFor(HealthRange::k24Hours, kUntil);
  HealthSeriesBuilder builder(grid);
  dozor::v1::HealthSample failed = Sample(5);
  failed.set_memory_total_bytes(0);
  failed.set_memory_available_bytes(0);
  failed.set_swap_total_bytes(0);
  failed.set_swap_free_bytes(0);
  builder.Add(grid.from_ms, failed);
  const HealthSeries series = builder.Finish();
  CHECK_FALSE(series.memory_used_percent[0].has_value());
  CHECK(series.swap_used_percent[0] == doctest::Approx(0));
  CHECK(series.cpu_percent_avg[0] == doctest::Approx(5));
}

TEST_CASE("series round percentages to 0.01 and rates to whole bytes, and skip non-finite values") {
  const SeriesGrid grid = GridFor(HealthRange::k24Hours, kUntil);
  HealthSeriesBuilder builder(grid);
  dozor::v1::HealthSample sample = Sample(33.33333);
  auto* disk = sample.add_disks();
  disk->set_device("sda");
  disk->set_read_bytes_per_s(1000.4);
  disk->set_write_bytes_per_s(std::numeric_limits<double>::quiet_NaN());
  builder.Add(grid.from_ms, sample);
  dozor::v1::HealthSample second = Sample(std::numeric_limits<double>::infinity());
  auto* disk2 = second.add_disks();
  disk2->set_device("sda");
  disk2->set_read_bytes_per_s(2000.4);
  disk2->set_write_bytes_per_s(10.6);
  builder.Add(grid.from_ms + 1, second);
  const HealthSeries series = builder.Finish();
  CHECK(series.cpu_percent_avg[0] == doctest::Approx(33.33));
  CHECK(series.cpu_percent_max[0] == doctest::Approx(33.33));
  REQUIRE(series.disks.size() == 1);
  CHECK(series.disks[0].read_bytes_per_second[0] == doctest::Approx(1500));
  CHECK(series.disks[0].write_bytes_per_second[0] == doctest::Approx(11));
}

TEST_CASE("filesystem series leave out pseudo and empty filesystems, largest first") {
  const SeriesGrid grid = GridFor(HealthRange::k24Hours, kUntil);
  HealthSeriesBuilder builder(grid);
  dozor::v1::HealthSample sample = Sample(1);
  AddFilesystem(sample, "/boot", 1000, 500);
  AddFilesystem(sample, "/", 100000, 25000);
  AddFilesystem(sample, "/run", 5000, 5000, "tmpfs");
  AddFilesystem(sample, "/proc", 0, 0, "proc");
  AddFilesystem(sample, "/mnt/empty", 0, 0);
  AddFilesystem(sample, "/var/lib/docker/overlay2/x/merged", 100000, 1, "overlay");
  builder.Add(grid.from_ms, sample);
  const HealthSeries series = builder.Finish();
  REQUIRE(series.filesystems.size() == 2);
  CHECK(series.filesystems[0].mount_point == "/");
  CHECK(series.filesystems[0].used_percent[0] == doctest::Approx(75));
  CHECK(series.filesystems[1].mount_point == "/boot");
  CHECK(series.filesystems[1].used_percent[0] == doctest::Approx(50));
  CHECK_FALSE(series.filesystems[1].used_percent[1].has_value());
  CHECK(IsPseudoFilesystem("tmpfs"));
  CHECK_FALSE(IsPseudoFilesystem("ext4"));
  CHECK_FALSE(IsPseudoFilesystem("ntfs"));
}

TEST_CASE(
    "a sample with thousands of mounts and interfaces yields at most 16 of each, the largest") {
  const SeriesGrid grid = GridFor(HealthRange::k30Days, kUntil);
  HealthSeriesBuilder builder(grid);
  dozor::v1::HealthSample sample = Sample(1);
  for (int i = 0; i < 10000; ++i) {
    AddFilesystem(sample, "/m" + std::to_string(i), 1000 + static_cast<uint64_t>(i), 0);
    auto* nic = sample.add_networks();
    nic->set_interface("veth" + std::to_string(i));
    nic->set_rx_bytes_per_s(i);
    auto* disk = sample.add_disks();
    disk->set_device("d" + std::to_string(i));
    disk->set_write_bytes_per_s(i);
  }
  for (int minute = 0; minute < 5; ++minute) {
    builder.Add(grid.from_ms + minute * kMinute, sample);
  }
  const HealthSeries series = builder.Finish();
  REQUIRE(series.filesystems.size() == kMaxSeriesPerKind);
  REQUIRE(series.networks.size() == kMaxSeriesPerKind);
  REQUIRE(series.disks.size() == kMaxSeriesPerKind);
  CHECK(series.filesystems.front().mount_point == "/m9999");
  CHECK(series.filesystems.back().mount_point == "/m9984");
  CHECK(series.networks.front().name == "veth9999");
  CHECK(series.networks.front().rx_bytes_per_second[0] == doctest::Approx(9999));
  CHECK(series.disks.back().name == "d9984");
}

TEST_CASE("names that keep changing are followed up to a bound and the busiest 16 answered") {
  const SeriesGrid grid = GridFor(HealthRange::k24Hours, kUntil);
  HealthSeriesBuilder builder(grid);
  // A new interface every sample (containers coming and going): the first kMaxTrackedPerKind
  // are followed, later ones dropped, and the answer keeps the busiest of those followed.
  for (int i = 0; i < 500; ++i) {
    dozor::v1::HealthSample sample = Sample(1);
    auto* nic = sample.add_networks();
    nic->set_interface("veth" + std::to_string(i));
    nic->set_tx_bytes_per_s(i);
    builder.Add(grid.from_ms + i * kMinute, sample);
  }
  const HealthSeries series = builder.Finish();
  REQUIRE(series.networks.size() == kMaxSeriesPerKind);
  CHECK(series.networks.front().name == "veth" + std::to_string(kMaxTrackedPerKind - 1));
}

TEST_CASE("disk and network series are averaged rates, busiest first, named by device") {
  const SeriesGrid grid = GridFor(HealthRange::k24Hours, kUntil);
  HealthSeriesBuilder builder(grid);
  for (int i = 0; i < 2; ++i) {
    dozor::v1::HealthSample sample = Sample(1);
    for (const char* name : {"sdb", "sda"}) {
      auto* disk = sample.add_disks();
      disk->set_device(name);
      const double scale = std::string(name) == "sda" ? 10 : 1;
      disk->set_read_bytes_per_s(scale * (100 + 100 * i));
      disk->set_write_bytes_per_s(scale * 50);
    }
    auto* nic = sample.add_networks();
    nic->set_interface("eth0");
    nic->set_rx_bytes_per_s(1000 * (i + 1));
    nic->set_tx_bytes_per_s(10);
    builder.Add(grid.from_ms + i * kMinute, sample);
  }
  const HealthSeries series = builder.Finish();
  REQUIRE(series.disks.size() == 2);
  CHECK(series.disks[0].name == "sda");
  CHECK(series.disks[0].read_bytes_per_second[0] == doctest::Approx(1500));
  CHECK(series.disks[0].write_bytes_per_second[0] == doctest::Approx(500));
  CHECK(series.disks[1].name == "sdb");
  CHECK(series.disks[1].read_bytes_per_second[0] == doctest::Approx(150));
  REQUIRE(series.networks.size() == 1);
  CHECK(series.networks[0].rx_bytes_per_second[0] == doctest::Approx(1500));
  CHECK(series.networks[0].tx_bytes_per_second[0] == doctest::Approx(10));
  CHECK_FALSE(series.networks[0].tx_bytes_per_second[1].has_value());
}

TEST_CASE("used percent is (total - available) / total and 0 for a zero total") {
  CHECK(UsedPercent(200, 50) == doctest::Approx(75));
  CHECK(UsedPercent(0, 0) == 0);
  CHECK(UsedPercent(100, 100) == 0);
}

}  // namespace

TEST_CASE("huge or negative rates from a hostile agent still rank in a stable order") {
  const SeriesGrid grid = GridFor(HealthRange::k24Hours, kUntil);
  HealthSeriesBuilder builder(grid);
  for (int minute = 0; minute < 30; ++minute) {
    dozor::v1::HealthSample sample = Sample(1);
    for (int i = 0; i < 40; ++i) {
      auto* disk = sample.add_disks();
      disk->set_device("d" + std::to_string(i));
      // Sums of these overflowed to inf and then NaN, which no sort comparator orders.
      disk->set_read_bytes_per_s(i % 2 == 0 ? 1e308 : -1e308);
      disk->set_write_bytes_per_s(i % 3 == 0 ? 1e308 : 5);
    }
    builder.Add(grid.from_ms + minute * kMinute, sample);
  }
  const HealthSeries series = builder.Finish();
  REQUIRE(series.disks.size() == kMaxSeriesPerKind);
  // d0 (both rates huge) outranks every disk with one huge rate; all the chosen ones are named.
  CHECK(series.disks.front().name == "d0");
  for (const auto& disk : series.disks) {
    CHECK_FALSE(disk.name.empty());
  }
}

}  // namespace dozor::server
