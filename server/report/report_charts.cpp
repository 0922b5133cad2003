#include "report/report_charts.hpp"

#include <algorithm>
#include <array>
#include <cmath>

#include "report/text_util.hpp"

namespace dozor::server::report {
namespace {

constexpr double kChartDayMs = 86'400'000.0;

bool IsRussian(std::string_view lang) { return lang != "en"; }

// One colour per series slot, distinguishable in print.
constexpr std::array<const char*, 4> kMountColors = {"#1f5fa8", "#c2571a", "#2e8b57", "#7b3fa0"};

std::string SeverityColorHex(std::string_view severity) {
  if (severity == "critical") {
    return "#8e1b1b";
  }
  if (severity == "high") {
    return "#d0451b";
  }
  if (severity == "medium") {
    return "#c98a00";
  }
  return "#4a7fb5";
}

std::string DaysText(double days, bool ru) {
  const auto n = static_cast<int64_t>(std::llround(days));
  if (!ru) {
    return std::to_string(n) + (n == 1 ? " day" : " days");
  }
  return RussianCount(n, "день", "дня", "дней");
}

}  // namespace

bool HasChartData(const Chart& chart) {
  return std::any_of(chart.series.begin(), chart.series.end(),
                     [](const ChartSeries& s) { return s.points.size() >= 2; });
}

Chart ScoreChart(const std::vector<ReadinessPoint>& points, std::string_view lang) {
  const bool ru = IsRussian(lang);
  Chart chart;
  chart.id = "score";
  chart.title = ru ? "Оценка готовности" : "Readiness score";
  chart.unit = "score";
  chart.y_max = 100;
  ChartSeries series{ru ? "оценка" : "score", "#1a7f37", {}, false};
  for (const auto& point : points) {
    series.points.emplace_back(point.at_ms, point.score);
  }
  chart.series.push_back(std::move(series));
  return chart;
}

Chart FindingsChart(const std::vector<ReadinessPoint>& points, std::string_view lang) {
  const bool ru = IsRussian(lang);
  Chart chart;
  chart.id = "findings";
  chart.title = ru ? "Открытые находки по важности" : "Open findings by severity";
  chart.unit = "count";
  static constexpr std::array<std::string_view, 4> kSeverities = {"critical", "high", "medium",
                                                                  "low"};
  for (size_t rank = 0; rank < kSeverities.size(); ++rank) {
    ChartSeries series{
        SeverityLabel(kSeverities[rank], lang), SeverityColorHex(kSeverities[rank]), {}, false};
    bool any = false;
    for (const auto& point : points) {
      series.points.emplace_back(point.at_ms, static_cast<double>(point.active_by_severity[rank]));
      any = any || point.active_by_severity[rank] > 0;
    }
    if (any) {  // a severity never seen would be a flat line at zero and a legend entry
      chart.series.push_back(std::move(series));
    }
  }
  return chart;
}

std::optional<double> GrowthBytesPerDay(const std::vector<DiskDay>& days, int64_t since_ms) {
  double n = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
  int64_t first = 0, last = 0;
  for (const auto& day : days) {
    if (day.at_ms < since_ms) {
      continue;
    }
    if (n == 0) {
      first = day.at_ms;
    }
    last = day.at_ms;
    const double x = static_cast<double>(day.at_ms - since_ms) / kChartDayMs;
    const double y = static_cast<double>(day.used_bytes);
    n += 1;
    sx += x;
    sy += y;
    sxx += x * x;
    sxy += x * y;
  }
  if (n < 3 || static_cast<double>(last - first) < kChartDayMs) {
    return std::nullopt;
  }
  const double denominator = n * sxx - sx * sx;
  if (std::fabs(denominator) < 1e-9) {
    return std::nullopt;
  }
  return (n * sxy - sx * sy) / denominator;
}

std::vector<Chart> DiskCharts(const std::vector<HostDiskHistory>& hosts, std::string_view lang) {
  const bool ru = IsRussian(lang);
  std::vector<Chart> charts;
  for (const auto& host : hosts) {
    if (charts.size() >= kMaxDiskChartHosts) {
      break;
    }
    Chart chart;
    chart.id = "disk-" + SanitizeUtf8(host.hostname);
    chart.title = (ru ? "Место на дисках: " : "Disk space: ") + SanitizeUtf8(host.hostname);
    chart.unit = "bytes";
    std::string notes;
    size_t slot = 0;
    for (const auto& mount : host.mounts) {
      if (slot >= kMaxDiskChartMounts || mount.days.empty()) {
        continue;
      }
      const std::string color = kMountColors[slot++ % kMountColors.size()];
      const std::string name = SanitizeUtf8(mount.mount);
      ChartSeries used{name + (ru ? " занято" : " used"), color, {}, false};
      ChartSeries size{name + (ru ? " объём" : " size"), color, {}, true};
      for (const auto& day : mount.days) {
        used.points.emplace_back(day.at_ms, static_cast<double>(day.used_bytes));
        size.points.emplace_back(day.at_ms, static_cast<double>(day.total_bytes));
      }
      const DiskDay& latest = mount.days.back();
      auto growth = GrowthBytesPerDay(mount.days, latest.at_ms - kDiskGrowthSpanMs);
      if (growth) {
        std::string line = name + ": ";
        const int64_t per_day = static_cast<int64_t>(std::llround(std::fabs(*growth)));
        if (per_day < 1024 * 1024) {
          line += ru ? "почти не растёт" : "about flat";
        } else {
          line += (*growth > 0 ? "+" : "−") + FormatBytes(per_day) + (ru ? " в день" : " a day");
          const int64_t free = latest.total_bytes - latest.used_bytes;
          if (*growth > 0 && free > 0) {
            const double days_left = static_cast<double>(free) / *growth;
            line += days_left < 3650 ? (ru ? "; заполнится примерно через " : "; full in about ") +
                                           DaysText(days_left, ru)
                                     : "";
          }
        }
        notes += (notes.empty() ? "" : " · ") + line;
      }
      chart.series.push_back(std::move(used));
      chart.series.push_back(std::move(size));
    }
    if (chart.series.empty()) {
      continue;
    }
    chart.note = notes;
    charts.push_back(std::move(chart));
  }
  return charts;
}

ChartAxes ComputeAxes(const Chart& chart) {
  ChartAxes axes;
  bool any = false;
  double top = 0;
  for (const auto& series : chart.series) {
    for (const auto& [at, value] : series.points) {
      if (!any) {
        axes.x_min = axes.x_max = at;
        any = true;
      }
      axes.x_min = std::min(axes.x_min, at);
      axes.x_max = std::max(axes.x_max, at);
      if (std::isfinite(value)) {
        top = std::max(top, value);
      }
    }
  }
  if (!any) {
    axes.x_min = 0;
    axes.x_max = static_cast<int64_t>(kChartDayMs);
  }
  if (axes.x_max <= axes.x_min) {
    axes.x_max = axes.x_min + static_cast<int64_t>(kChartDayMs);
  }
  top = chart.y_max > 0 ? chart.y_max : top;
  if (top <= 0) {
    top = 1;
  }
  // A "nice" step (1, 2 or 5 times a power of ten; powers of 1024 for bytes) giving 3-6 ticks.
  const double base = chart.unit == "bytes" ? 1024.0 : 10.0;
  double magnitude = 1;
  while (magnitude * base <= top / 2) {
    magnitude *= base;
  }
  double step = magnitude;
  for (double factor : {1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0}) {
    step = magnitude * factor;
    if (top / step <= 5) {
      break;
    }
  }
  if (chart.unit == "count") {
    step = std::max(1.0, std::ceil(step));
  }
  axes.y_max = chart.y_max > 0 ? chart.y_max : std::ceil(top / step) * step;
  if (chart.y_max <= 0 && axes.y_max - top < step * 0.05) {
    axes.y_max += step;  // a line on the frame's top edge would be lost in it
  }
  for (double tick = 0; tick <= axes.y_max * 1.0001 && axes.y_ticks.size() < 12; tick += step) {
    axes.y_ticks.push_back(tick);
  }
  const auto day = static_cast<int64_t>(kChartDayMs);
  const int64_t span_days = std::max<int64_t>(1, (axes.x_max - axes.x_min) / day);
  const int64_t every = std::max<int64_t>(1, (span_days + 5) / 6);
  for (int64_t at = (axes.x_min / day + 1) * day; at < axes.x_max && axes.x_ticks.size() < 8;
       at += every * day) {
    axes.x_ticks.push_back(at);
  }
  return axes;
}

std::string AxisDateLabel(const AuditReport& report, int64_t at_ms) {
  const std::string date = ReportDate(report, at_ms);  // "2026-12-05", or "—" for none
  return date.size() == 10 ? date.substr(5) : "";
}

std::string AxisValueLabel(const Chart& chart, double value) {
  if (chart.unit == "bytes") {
    return value <= 0 ? "0" : FormatBytes(static_cast<int64_t>(std::llround(value)));
  }
  return std::to_string(static_cast<int64_t>(std::llround(value)));
}

}  // namespace dozor::server::report
