#include <cmath>
#include <cstdio>

#include "report/renderers.hpp"
#include "report/report_charts.hpp"
#include "report/text_util.hpp"

namespace dozor::server::report {
namespace {

constexpr std::string_view kCss = R"css(
body{font-family:"DejaVu Sans",Arial,sans-serif;font-size:14px;color:#222;margin:24px auto;
max-width:1100px;line-height:1.4}
h1{font-size:24px;margin-bottom:4px}h2{font-size:19px;border-bottom:2px solid #345;
padding-bottom:3px;margin-top:28px}h3{font-size:16px;margin:18px 0 6px}
table{border-collapse:collapse;width:100%;margin:6px 0 12px}
th,td{border:1px solid #bbb;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#eef1f4}.meta td:first-child{width:200px;font-weight:bold}
.score{font-size:40px;font-weight:bold}.verdict-ok{color:#1a7f37}.verdict-bad{color:#b3261e}
.sev{display:inline-block;padding:1px 6px;border-radius:3px;color:#fff;font-size:12px}
.sev-critical{background:#8e1b1b}.sev-high{background:#d0451b}.sev-medium{background:#c98a00}
.sev-low{background:#4a7fb5}.sev-info{background:#777}
.finding{border:1px solid #ccc;border-left:5px solid #999;padding:6px 10px;margin:8px 0;
page-break-inside:avoid;break-inside:avoid}
.finding.critical{border-left-color:#8e1b1b}.finding.high{border-left-color:#d0451b}
.finding.medium{border-left-color:#c98a00}.finding.low{border-left-color:#4a7fb5}
.muted{color:#666;font-size:12px}ul.evidence{margin:4px 0;font-family:"DejaVu Sans Mono",monospace;
font-size:12px}.note{font-style:italic}.quote{font-weight:bold}
.limited{color:#8a5a00}.gap{margin:6px 0}.gap ul{margin:2px 0 6px;font-size:12px}
.charts{display:flex;flex-wrap:wrap;gap:12px}.chart{flex:1 1 520px;max-width:540px;
page-break-inside:avoid;break-inside:avoid}.chart svg{width:100%;height:auto}
@media print{body{margin:0;max-width:none}h2{page-break-after:avoid}}
)css";

class Html {
 public:
  void Raw(std::string_view text) { out_ += text; }
  void Text(std::string_view text) { out_ += XmlEscape(text); }
  void Tag(std::string_view tag, std::string_view text, std::string_view cls = "") {
    out_ += "<";
    out_ += tag;
    if (!cls.empty()) {
      out_ += " class=\"";
      Text(cls);
      out_ += "\"";
    }
    out_ += ">";
    Text(text);
    out_ += "</";
    out_ += tag;
    out_ += ">";
  }
  void Row(std::initializer_list<std::string_view> cells, bool header = false) {
    out_ += "<tr>";
    for (auto cell : cells) {
      Tag(header ? "th" : "td", cell);
    }
    out_ += "</tr>\n";
  }
  std::string& str() { return out_; }

 private:
  std::string out_;
};

void Severity(Html& h, const ReportFinding& f) {
  h.Tag("span", f.severity_label, "sev sev-" + f.severity);
}

// "server · 1C, DBMS": the role and the duties that widen the contract scope.
std::string RoleCell(const HostRow& host) {
  return host.duties_label.empty() ? host.role_label : host.role_label + " · " + host.duties_label;
}

void CountsTable(Html& h, const std::string& heading, const std::string& key_title,
                 const std::vector<CountEntry>& counts, const std::string& count_title) {
  h.Tag("h3", heading);
  h.Raw("<table>");
  h.Row({key_title, count_title}, true);
  for (const auto& entry : counts) {
    h.Row({entry.label, std::to_string(entry.count)});
  }
  h.Raw("</table>\n");
}

void FindingCard(Html& h, const AuditReport& r, const ReportFinding& f) {
  const auto& t = r.text;
  h.Raw("<div class=\"finding ");
  h.Text(f.severity);
  h.Raw("\">");
  h.Raw("<div>");
  Severity(h, f);
  h.Raw(" <strong>");
  h.Text(f.title);
  h.Raw("</strong> — ");
  h.Text(FindingHostLabel(r, f));
  if (!f.in_scope) {
    h.Raw(" <span class=\"muted\">(");
    h.Text(t.out_of_scope);
    h.Raw(")</span>");
  }
  h.Raw("</div><div class=\"muted\">");
  h.Text(t.rule + ": " + f.rule_id + " · " + t.category + ": " + f.category_label + " · " +
         t.state + ": " + f.state_label + " · " + t.first_seen + ": " +
         ReportTime(r, f.first_seen_ms) + " · " + t.last_seen + ": " +
         ReportTime(r, f.last_seen_ms));
  if (!f.ack_by.empty()) {
    h.Text(" · " + f.ack_by + (f.ack_comment.empty() ? "" : ": " + f.ack_comment));
  }
  h.Raw("</div>");
  if (!f.evidence.empty()) {
    h.Raw("<div><strong>");
    h.Text(t.evidence);
    h.Raw(":</strong><ul class=\"evidence\">");
    for (const auto& line : f.evidence) {
      h.Tag("li", line);
    }
    h.Raw("</ul></div>");
  }
  if (!f.why.empty()) {
    h.Raw("<div><strong>");
    h.Text(t.why);
    h.Raw(":</strong> ");
    h.Text(f.why);
    h.Raw("</div>");
  }
  if (!f.remediation.empty()) {
    h.Raw("<div><strong>");
    h.Text(t.remediation);
    h.Raw(":</strong> ");
    h.Text(f.remediation);
    if (!f.effort.empty()) {
      h.Raw(" <span class=\"muted\">(");
      h.Text(t.effort + ": " + f.effort);
      h.Raw(")</span>");
    }
    h.Raw("</div>");
  }
  if (f.state == "waived") {
    h.Raw("<div><strong>");
    h.Text(t.waived_by);
    h.Raw(":</strong> ");
    h.Text(f.waived_by + " · " + t.waive_reason + ": " + f.waive_reason + " · " + t.waived_until +
           ": " + (f.waived_until_ms ? ReportTime(r, *f.waived_until_ms) : t.no_expiry));
    h.Raw("</div>");
  }
  h.Raw("</div>\n");
}

void FindingList(Html& h, const AuditReport& r, const std::vector<FindingGroup>& groups) {
  for (const auto& group : groups) {
    h.Tag("h3", group.label + " (" + std::to_string(group.finding_indexes.size()) + ")");
    h.Raw("<table>");
    h.Row({r.text.severity, r.text.rule, r.text.host, r.text.state}, true);
    for (size_t index : group.finding_indexes) {
      const auto& f = r.findings[index];
      h.Row({f.severity_label, f.title, FindingHostLabel(r, f), f.state_label});
    }
    h.Raw("</table>\n");
  }
}

void ProgressBlock(Html& h, const AuditReport& r, const std::string& heading,
                   const ProgressComparison& c) {
  const auto& t = r.text;
  h.Tag("h3", heading);
  h.Tag("p", t.baseline_recorded + ": " + ReportTime(r, c.baseline_at_ms), "muted");
  h.Raw("<table>");
  h.Row({t.fixed_since, t.new_since, t.still_open}, true);
  h.Row({std::to_string(c.fixed_since.size()), std::to_string(c.new_since.size()),
         std::to_string(c.still_open.size())});
  h.Raw("</table>\n");
  auto list = [&](const std::string& title, const std::vector<ProgressItem>& items) {
    h.Tag("h4", title);
    if (items.empty()) {
      h.Tag("p", t.none, "muted");
      return;
    }
    h.Raw("<ul>");
    for (const auto& item : items) {
      h.Tag("li", item.severity_label + " · " + item.title + " — " +
                      HostObjectLabel(r, item.hostname, item.object));
    }
    h.Raw("</ul>\n");
  };
  list(t.fixed_since, c.fixed_since);
  list(t.new_since, c.new_since);
  list(t.still_open, c.still_open);
}

void CoverageBlock(Html& h, const AuditReport& r) {
  const auto& t = r.text;
  const auto& c = r.coverage;
  h.Raw("<section id=\"coverage\">");
  h.Tag("h2", t.coverage);
  std::string seen = t.coverage_seen + ": " + std::to_string(c.seen);
  if (c.declared) {
    seen += " / " + std::to_string(*c.declared);
  }
  h.Tag("p", seen);
  if (!c.seen_by_kind.empty()) {
    h.Raw("<table>");
    h.Row({t.kind, t.host_count}, true);
    for (const auto& entry : c.seen_by_kind) {
      h.Row({entry.label, std::to_string(entry.count)});
    }
    h.Raw("</table>\n");
  }
  h.Tag("h3", t.coverage_gaps);
  if (c.gaps.empty()) {
    h.Tag("p", t.coverage_complete, "muted");
  }
  for (const auto& gap : c.gaps) {
    h.Raw("<div class=\"gap\" data-gap=\"");
    h.Text(gap.kind);
    h.Raw("\">");
    h.Tag("strong", gap.text, "limited");
    if (!gap.details.empty()) {
      h.Raw("<ul>");
      for (const auto& line : gap.details) {
        h.Tag("li", line);
      }
      h.Raw("</ul>");
    }
    h.Raw("</div>\n");
  }
  h.Raw("</section>\n");
}

size_t CodePoints(std::string_view text) {
  size_t n = 0;
  for (char c : text) {
    n += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;
  }
  return n;
}

std::string Number(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.1f", std::isfinite(value) ? value : 0.0);
  return buffer;
}

// An inline SVG line chart (no script: the report is mailed, archived and printed).
void ChartSvg(Html& h, const AuditReport& r, const Chart& chart) {
  constexpr double kWidth = 520, kHeight = 230, kLeft = 62, kRight = 10, kTop = 10, kBottom = 40;
  const ChartAxes axes = ComputeAxes(chart);
  const double plot_w = kWidth - kLeft - kRight, plot_h = kHeight - kTop - kBottom;
  auto x_of = [&](int64_t at) {
    return kLeft + plot_w * static_cast<double>(at - axes.x_min) /
                       static_cast<double>(axes.x_max - axes.x_min);
  };
  auto y_of = [&](double value) {
    return kTop + plot_h * (1 - std::clamp(value, 0.0, axes.y_max) / axes.y_max);
  };
  h.Raw("<div class=\"chart\" data-chart=\"");
  h.Text(chart.id);
  h.Raw("\">");
  h.Tag("h3", chart.title);
  if (!HasChartData(chart)) {
    h.Tag("p", r.text.no_chart_data, "muted");
    h.Raw("</div>\n");
    return;
  }
  h.Raw("<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 " + Number(kWidth) + " " +
        Number(kHeight) +
        "\" role=\"img\" font-family=\"DejaVu Sans, Arial, sans-serif\" "
        "font-size=\"10\"><title>");
  h.Text(chart.title);
  h.Raw("</title>");
  for (double tick : axes.y_ticks) {
    const std::string y = Number(y_of(tick));
    h.Raw("<line x1=\"" + Number(kLeft) + "\" x2=\"" + Number(kWidth - kRight) + "\" y1=\"" + y +
          "\" y2=\"" + y + "\" stroke=\"#ddd\"/><text x=\"" + Number(kLeft - 4) + "\" y=\"" +
          Number(y_of(tick) + 3) + "\" text-anchor=\"end\" fill=\"#555\">");
    h.Text(AxisValueLabel(chart, tick));
    h.Raw("</text>");
  }
  for (int64_t tick : axes.x_ticks) {
    const std::string x = Number(x_of(tick));
    h.Raw("<line x1=\"" + x + "\" x2=\"" + x + "\" y1=\"" + Number(kTop + plot_h) + "\" y2=\"" +
          Number(kTop + plot_h + 4) + "\" stroke=\"#888\"/><text x=\"" + x + "\" y=\"" +
          Number(kTop + plot_h + 15) + "\" text-anchor=\"middle\" fill=\"#555\">");
    h.Text(AxisDateLabel(r, tick));
    h.Raw("</text>");
  }
  h.Raw("<rect x=\"" + Number(kLeft) + "\" y=\"" + Number(kTop) + "\" width=\"" + Number(plot_w) +
        "\" height=\"" + Number(plot_h) + "\" fill=\"none\" stroke=\"#888\"/>");
  double legend_x = kLeft;
  for (const auto& series : chart.series) {
    std::string points;
    for (const auto& [at, value] : series.points) {
      points += (points.empty() ? "" : " ") + Number(x_of(at)) + "," + Number(y_of(value));
    }
    h.Raw("<polyline fill=\"none\" stroke-width=\"1.8\" stroke=\"");
    h.Text(series.color);
    h.Raw(std::string("\"") + (series.dashed ? " stroke-dasharray=\"5,3\"" : "") + " points=\"" +
          points + "\"/>");
    if (series.points.size() == 1) {  // a single day is a dot, not an invisible line
      h.Raw("<circle r=\"2.5\" cx=\"" + Number(x_of(series.points[0].first)) + "\" cy=\"" +
            Number(y_of(series.points[0].second)) + "\" fill=\"");
      h.Text(series.color);
      h.Raw("\"/>");
    }
    if (!series.dashed) {
      const std::string y = Number(kHeight - 8);
      h.Raw("<rect x=\"" + Number(legend_x) + "\" y=\"" + Number(kHeight - 16) +
            "\" width=\"10\" height=\"8\" fill=\"");
      h.Text(series.color);
      h.Raw("\"/><text x=\"" + Number(legend_x + 13) + "\" y=\"" + y + "\" fill=\"#333\">");
      h.Text(series.label);
      h.Raw("</text>");
      legend_x += 22 + 6.0 * static_cast<double>(CodePoints(series.label));
    }
  }
  h.Raw("</svg>");
  if (!chart.note.empty()) {
    h.Tag("p", chart.note, "muted");
  }
  h.Raw("</div>\n");
}

void ChartsBlock(Html& h, const AuditReport& r) {
  h.Raw("<section id=\"charts\">");
  h.Tag("h2", r.text.charts);
  h.Raw("<div class=\"charts\">");
  for (const auto& chart : r.charts) {
    ChartSvg(h, r, chart);
  }
  h.Raw("</div></section>\n");
}

}  // namespace

std::string RenderHtml(const AuditReport& r) {
  const auto& t = r.text;
  Html h;
  h.Raw("<!DOCTYPE html>\n<html lang=\"");
  h.Text(r.lang);
  h.Raw("\"><head><meta charset=\"utf-8\"><title>");
  h.Text(t.title + " — " + r.organization);
  h.Raw("</title><style>");
  h.Raw(kCss);
  h.Raw("</style></head><body>\n");
  h.Tag("h1", t.title);
  h.Raw("<table class=\"meta\">");
  h.Row({t.organization, r.organization});
  h.Row({t.contract_type, r.contract_type_label});
  h.Row({t.phase, r.phase_label + " — " + r.phase_meaning});
  h.Row({t.engineer, r.engineer.empty() ? "—" : r.engineer});
  h.Row({t.generated_at, ReportTime(r, r.generated_at_ms)});
  h.Row({t.time_zone, r.time_zone});
  h.Raw("</table>\n<p>");
  h.Text(t.readiness_score + ": ");
  h.Tag("span", std::to_string(r.readiness_score) + "/100", "score");
  h.Raw("<br>");
  h.Text(t.verdict + ": ");
  h.Tag("strong", r.verdict, r.ready_to_sign ? "verdict-ok" : "verdict-bad");
  if (!r.verdict_limitation.empty()) {
    h.Raw(" ");
    h.Raw("<br>");
    h.Tag("span", r.verdict_limitation, "limited");
  }
  if (!r.must_fix.empty()) {
    h.Raw("<br>");
    h.Text(MustFixEffortLine(r));
  }
  h.Raw("</p>\n");

  CoverageBlock(h, r);

  h.Raw("<section id=\"must-fix\">");
  h.Tag("h2", t.must_fix + " (" + std::to_string(r.must_fix.size()) + ")");
  if (r.must_fix.empty()) {
    h.Tag("p", t.must_fix_empty);
  } else {
    h.Raw("<table>");
    h.Row({t.severity, t.rule, t.host, t.remediation, t.effort}, true);
    for (size_t index : r.must_fix) {
      const auto& f = r.findings[index];
      h.Row({f.severity_label, f.title, FindingHostLabel(r, f), f.remediation,
             f.effort.empty()     ? t.no_estimate
             : f.estimate_counted ? f.effort
                                  : t.estimate_included});
    }
    h.Raw("<tr class=\"total\"><th colspan=\"4\">");
    h.Text(t.total);
    h.Raw("</th><th>");
    h.Text(r.must_fix_effort);
    h.Raw("</th></tr>\n</table>");
    h.Tag("p", MustFixEffortLine(r), "quote");
  }
  h.Raw("</section>\n");

  h.Raw("<section id=\"counts\">");
  h.Tag("h2", t.counts);
  CountsTable(h, t.severity, t.severity, r.by_severity_counts, t.counts);
  CountsTable(h, t.category, t.category, r.by_category_counts, t.counts);
  h.Raw("</section>\n");

  ChartsBlock(h, r);

  h.Raw("<section id=\"by-severity\">");
  h.Tag("h2", t.findings_by_severity);
  if (r.findings.empty()) {
    h.Tag("p", t.no_findings);
  }
  for (const auto& group : r.by_severity) {
    h.Tag("h3", group.label + " (" + std::to_string(group.finding_indexes.size()) + ")");
    for (size_t index : group.finding_indexes) {
      FindingCard(h, r, r.findings[index]);
    }
  }
  h.Raw("</section>\n<section id=\"by-category\">");
  h.Tag("h2", t.findings_by_category);
  FindingList(h, r, r.by_category);
  h.Raw("</section>\n<section id=\"by-host\">");
  h.Tag("h2", t.findings_by_host);
  FindingList(h, r, r.by_host);
  h.Raw("</section>\n<section id=\"waived\">");
  h.Tag("h2", t.waived_findings + " (" + std::to_string(r.waived.size()) + ")");
  if (r.waived.empty()) {
    h.Tag("p", t.none, "muted");
  }
  for (const auto& f : r.waived) {
    FindingCard(h, r, f);
  }
  h.Raw("</section>\n");

  const auto& e = r.estate;
  h.Raw("<section id=\"estate\">");
  h.Tag("h2", t.estate_summary);
  h.Raw("<table class=\"meta\">");
  h.Row({t.hosts, std::to_string(e.host_count)});
  h.Row({t.physical_machines, std::to_string(e.physical_count)});
  h.Row({t.virtual_machines, std::to_string(e.virtual_count)});
  h.Row({t.total_cores, std::to_string(e.total_cores)});
  h.Row({t.total_memory, FormatBytes(e.total_memory_bytes)});
  h.Raw("</table>\n");
  h.Tag("h3", t.machines_by_os_version);
  h.Tag("p", e.os_version_summary.empty() ? t.none : e.os_version_summary);
  CountsTable(h, t.hosts_by_os, t.os, e.by_os, t.host_count);
  CountsTable(h, t.hosts_by_role, t.role, e.by_role, t.host_count);
  CountsTable(h, t.hardware_age, t.hardware_age, e.by_hardware_age, t.host_count);
  h.Tag("h3", t.applications);
  h.Raw("<table>");
  h.Row({t.applications, t.version, t.kind, t.host_count}, true);
  for (const auto& app : e.applications) {
    h.Row({app.name, app.version, app.kind, std::to_string(app.hosts)});
  }
  h.Raw("</table>\n");
  CountsTable(h, t.notable_software, t.notable_software, e.notable_software, t.host_count);
  h.Tag("h3", t.host_table);
  h.Raw("<table>");
  h.Row({t.host, t.os, t.role, t.cpu_ram, t.last_seen_host, t.score}, true);
  for (const auto& host : e.hosts) {
    h.Row({host.hostname, host.os, RoleCell(host),
           host.cpu_model + " ×" + std::to_string(host.cpu_cores) + " / " +
               FormatBytes(host.memory_bytes),
           ReportTime(r, host.last_seen_ms), std::to_string(host.score)});
  }
  h.Raw("</table></section>\n");

  h.Raw("<section id=\"progress\">");
  h.Tag("h2", t.progress);
  if (r.progress.since_first_audit) {
    ProgressBlock(h, r, t.progress_since_first_audit, *r.progress.since_first_audit);
  }
  if (r.progress.since_signing) {
    ProgressBlock(h, r, t.progress_since_signing, *r.progress.since_signing);
  }
  if (!r.progress.note.empty()) {
    h.Tag("p", r.progress.note, "note");
  }
  h.Raw("</section>\n</body></html>\n");
  return std::move(h.str());
}

}  // namespace dozor::server::report
