#include "report/renderers.hpp"
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
         FormatTime(f.first_seen_ms) + " · " + t.last_seen + ": " + FormatTime(f.last_seen_ms));
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
           ": " + (f.waived_until_ms ? FormatTime(*f.waived_until_ms) : t.no_expiry));
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
  h.Tag("p", t.baseline_recorded + ": " + FormatTime(c.baseline_at_ms), "muted");
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
  h.Row({t.generated_at, FormatTime(r.generated_at_ms)});
  h.Raw("</table>\n<p>");
  h.Text(t.readiness_score + ": ");
  h.Tag("span", std::to_string(r.readiness_score) + "/100", "score");
  h.Raw("<br>");
  h.Text(t.verdict + ": ");
  h.Tag("strong", r.verdict, r.ready_to_sign ? "verdict-ok" : "verdict-bad");
  if (!r.must_fix.empty()) {
    h.Raw("<br>");
    h.Text(MustFixEffortLine(r));
  }
  h.Raw("</p>\n");

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
           FormatTime(host.last_seen_ms), std::to_string(host.score)});
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
