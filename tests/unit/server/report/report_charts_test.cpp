// The report's charts and coverage as pure functions: axes and ticks, the disk growth fit, and
// every kind of coverage gap.
#include <doctest/doctest.h>

#include "report/report_charts.hpp"
#include "report/report_coverage.hpp"

namespace dozor::server::report {
namespace {

constexpr int64_t kChartTestDay = 86'400'000;
constexpr int64_t kChartTestGiB = 1024LL * 1024 * 1024;

}  // namespace

TEST_CASE("chart axes: a fixed 0-100 score axis, nice byte steps with headroom, whole-day ticks") {
  Chart score;
  score.unit = "score";
  score.y_max = 100;
  score.series.push_back({"score", "#000000", {{0, 40}, {10 * kChartTestDay, 90}}, false});
  ChartAxes axes = ComputeAxes(score);
  CHECK(axes.y_max == 100);
  CHECK(axes.y_ticks == std::vector<double>{0, 20, 40, 60, 80, 100});
  CHECK(axes.x_min == 0);
  CHECK(axes.x_max == 10 * kChartTestDay);
  REQUIRE_FALSE(axes.x_ticks.empty());
  for (int64_t tick : axes.x_ticks) {
    CHECK(tick % kChartTestDay == 0);
    CHECK(tick > axes.x_min);
    CHECK(tick < axes.x_max);
  }

  Chart disk;
  disk.unit = "bytes";
  disk.series.push_back({"/ size",
                         "#000000",
                         {{0, 300.0 * kChartTestGiB}, {kChartTestDay, 300.0 * kChartTestGiB}},
                         true});
  axes = ComputeAxes(disk);
  // 300 GiB exactly on a tick would draw the size line on the frame: one more step above it.
  CHECK(axes.y_max == doctest::Approx(400.0 * kChartTestGiB));
  CHECK(AxisValueLabel(disk, 100.0 * kChartTestGiB) == "100 GiB");
  CHECK(AxisValueLabel(disk, 0) == "0");

  AuditReport report;
  report.time_zone = "Asia/Vladivostok";
  CHECK(AxisDateLabel(report, 1'795'000'000'000) == "11-18");
  CHECK(AxisDateLabel(report, -kChartTestDay).empty());  // never throws on a time before 1970

  Chart empty;
  empty.unit = "count";
  axes = ComputeAxes(empty);
  CHECK(axes.x_max > axes.x_min);
  CHECK(axes.y_max > 0);
  CHECK_FALSE(HasChartData(empty));
}

TEST_CASE("disk growth: least squares over the recent days, none from too little data") {
  std::vector<DiskDay> days;
  for (int day = 0; day < 10; ++day) {
    days.push_back({day * kChartTestDay, (10 + 3 * day) * kChartTestGiB, 100 * kChartTestGiB});
  }
  auto growth = GrowthBytesPerDay(days, 0);
  REQUIRE(growth.has_value());
  CHECK(*growth == doctest::Approx(3.0 * kChartTestGiB));
  // Only the days from day 8: two points are not a trend.
  CHECK_FALSE(GrowthBytesPerDay(days, 8 * kChartTestDay).has_value());
  // Three samples within one day are not a daily rate either.
  std::vector<DiskDay> one_day = {{0, 1, 10}, {1000, 2, 10}, {2000, 3, 10}};
  CHECK_FALSE(GrowthBytesPerDay(one_day, 0).has_value());

  HostDiskHistory host{"srv-1c", {{"/var", days}}};
  auto charts = DiskCharts({host}, "en");
  REQUIRE(charts.size() == 1);
  CHECK(charts[0].id == "disk-srv-1c");
  CHECK(charts[0].note == "/var: +3.0 GiB a day; full in about 21 days");
  // A shrinking filesystem never "fills".
  std::vector<DiskDay> shrinking;
  for (int day = 0; day < 5; ++day) {
    shrinking.push_back({day * kChartTestDay, (50 - 2 * day) * kChartTestGiB, 100 * kChartTestGiB});
  }
  charts = DiskCharts({HostDiskHistory{"db", {{"/", shrinking}}}}, "ru");
  REQUIRE(charts.size() == 1);
  CHECK(charts[0].note == "/: −2.0 GiB в день");
}

TEST_CASE("coverage: every gap, with the machines it concerns") {
  AuditReport report;
  report.lang = "en";
  report.time_zone = "Europe/Moscow";
  const int64_t now = 1'795'000'000'000;
  std::vector<EstateHost> hosts(5);
  for (size_t i = 0; i < hosts.size(); ++i) {
    hosts[i].agent_id = "a" + std::to_string(i);
    hosts[i].hostname = "h" + std::to_string(i);
    hosts[i].os_family = "linux";
    hosts[i].role = HostRole::kServer;
    hosts[i].last_inventory_ms = now - 1000;
    hosts[i].last_seen_ms = now - 1000;
    hosts[i].smartctl_available = true;
    hosts[i].disk_count = 1;
  }
  hosts[0].last_inventory_ms = 0;  // enrolled, nothing sent
  hosts[1].last_seen_ms = now - 4 * kChartTestDay;
  hosts[2].smartctl_available = false;
  hosts[3].gaps = {{"collector:smart", "smartctl: timed out"},
                   {"hardware", "hardware RAID: storcli not installed"}};
  hosts[4].virtual_machine = true;
  hosts[4].smartctl_available = false;  // a VM has no SMART to miss

  CoverageSection coverage = AssessCoverage(report, hosts, std::nullopt, now);
  CHECK(coverage.seen == 5);
  CHECK(coverage.limited);
  std::vector<std::string> kinds;
  for (const auto& gap : coverage.gaps) {
    kinds.push_back(gap.kind);
  }
  CHECK(kinds == std::vector<std::string>{"no-inventory", "not-reporting", "smart-unavailable",
                                          "collector-failing", "part-unavailable"});
  CHECK(coverage.gaps[0].details == std::vector<std::string>{"h0"});
  CHECK(coverage.gaps[1].details.at(0).rfind("h1 (last report ", 0) == 0);
  CHECK(coverage.gaps[2].details == std::vector<std::string>{"h2"});
  CHECK(coverage.gaps[3].details == std::vector<std::string>{"h3: smart: smartctl: timed out"});
  CHECK(coverage.gaps[4].details ==
        std::vector<std::string>{"h3: hardware: hardware RAID: storcli not installed"});
  REQUIRE(coverage.seen_by_kind.size() == 2);
  CHECK(coverage.seen_by_kind[0].label == "Linux · servers");
  CHECK(coverage.seen_by_kind[0].count == 4);

  // Declared fewer than seen is no gap; nothing seen at all is.
  hosts.resize(1);
  hosts[0].last_inventory_ms = now;
  coverage = AssessCoverage(report, hosts, 1, now);
  CHECK_FALSE(coverage.limited);
  coverage = AssessCoverage(report, {}, 12, now);
  REQUIRE(coverage.gaps.size() == 2);
  CHECK(coverage.gaps[0].kind == "no-hosts");
  CHECK(coverage.gaps[1].kind == "declared-unseen");
  CHECK(coverage.gaps[1].text.find("12 machines were not audited") != std::string::npos);
}

}  // namespace dozor::server::report
