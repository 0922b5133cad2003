// The report's charts, as data (report_model.hpp Chart): the readiness score and the active
// findings by severity since the trend's start, and disk space per server with its growth. Pure
// builders; the renderers draw them (SVG in HTML, cairo in PDF).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "report/readiness_history.hpp"
#include "report/report_model.hpp"

namespace dozor::server::report {

// Servers and filesystems charted at most (the largest filesystems of the first servers by name).
inline constexpr size_t kMaxDiskChartHosts = 12;
inline constexpr size_t kMaxDiskChartMounts = 4;
// Disk history looked at, and the recent part the growth rate is fitted over.
inline constexpr int64_t kDiskChartSpanMs = 90LL * 24 * 3600 * 1000;
inline constexpr int64_t kDiskGrowthSpanMs = 30LL * 24 * 3600 * 1000;

// One filesystem's daily figures: the last sample of each day.
struct DiskDay {
  int64_t at_ms = 0;
  int64_t used_bytes = 0;
  int64_t total_bytes = 0;
};
struct MountHistory {
  std::string mount;
  std::vector<DiskDay> days;  // ascending
};
struct HostDiskHistory {
  std::string hostname;
  std::vector<MountHistory> mounts;
};

// Score (0..100) over time; empty series when there are fewer than two points.
Chart ScoreChart(const std::vector<ReadinessPoint>& points, std::string_view lang);
// Active findings per severity (critical, high, medium, low) over time.
Chart FindingsChart(const std::vector<ReadinessPoint>& points, std::string_view lang);
// One chart per host: used space per filesystem (solid) and its size (dashed), with a note on
// the growth over the last kDiskGrowthSpanMs and when, at that rate, it fills.
std::vector<Chart> DiskCharts(const std::vector<HostDiskHistory>& hosts, std::string_view lang);

// Least-squares slope of used bytes per day over the days at or after since_ms; nullopt with
// fewer than 3 such days or under a day between the first and the last.
std::optional<double> GrowthBytesPerDay(const std::vector<DiskDay>& days, int64_t since_ms);

// True when a chart has at least one series with two or more points.
bool HasChartData(const Chart& chart);

// What both renderers draw around a chart's lines: the ranges and the ticks, so the SVG and the
// PDF show the same picture.
struct ChartAxes {
  int64_t x_min = 0, x_max = 1;  // ms; x_max > x_min
  double y_max = 1;              // the axis runs from 0; y_max > 0
  std::vector<double> y_ticks;   // 0 .. y_max, "nice" steps
  std::vector<int64_t> x_ticks;  // whole days (UTC midnights) spread over the range
};
ChartAxes ComputeAxes(const Chart& chart);
// A y tick as shown: "50", "1.5 GiB".
std::string AxisValueLabel(const Chart& chart, double value);
// An x tick as shown: the month and day in the report's time zone, "12-05"; "" for a time the
// report cannot show (before 1970).
std::string AxisDateLabel(const AuditReport& report, int64_t at_ms);

}  // namespace dozor::server::report
