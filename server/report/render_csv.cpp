#include "dozor/common/text.hpp"
#include "report/renderers.hpp"
#include "report/text_util.hpp"
#include "rules/rule.hpp"

namespace dozor::server::report {
namespace {

void Row(std::string& out, std::initializer_list<std::string_view> cells) {
  bool first = true;
  for (auto cell : cells) {
    if (!first) {
      out += ',';
    }
    first = false;
    out += CsvField(cell);
  }
  out += "\r\n";
}

void FindingRow(std::string& out, const AuditReport& report, const ReportFinding& f) {
  const std::string host = FindingHostLabel(report, f);
  Row(out, {report.organization, host, f.rule_id, f.title, f.severity, f.category, f.state,
            ReportTime(report, f.first_seen_ms), ReportTime(report, f.last_seen_ms),
            JoinStrings(f.evidence, "\n"), f.remediation, f.effort, f.must_fix ? "1" : "0",
            f.effort_hours && f.estimate_counted ? rules::FormatHours(*f.effort_hours, report.lang)
                                                 : ""});
}

}  // namespace

std::string RenderCsv(const AuditReport& report) {
  std::string out = "\xEF\xBB\xBF";  // BOM: Excel reads the file as UTF-8 (Cyrillic)
  Row(out,
      {"organization", "host", "rule_id", "title", "severity", "category", "state", "first_seen",
       "last_seen", "evidence", "remediation", "effort", "must_fix", "effort_hours"});
  for (const auto& finding : report.findings) {
    FindingRow(out, report, finding);
  }
  for (const auto& finding : report.waived) {
    FindingRow(out, report, finding);
  }
  return out;
}

}  // namespace dozor::server::report
