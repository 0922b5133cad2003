#include <nlohmann/json.hpp>

#include "report/renderers.hpp"
#include "report/text_util.hpp"

namespace dozor::server::report {
namespace {

using nlohmann::json;

// Every string goes through SanitizeUtf8 so dump() never throws on agent-supplied bytes.
std::string S(const std::string& text) { return SanitizeUtf8(text); }

json Counts(const std::vector<CountEntry>& counts) {
  json out = json::array();
  for (const auto& entry : counts) {
    out.push_back({{"key", S(entry.key)}, {"label", S(entry.label)}, {"count", entry.count}});
  }
  return out;
}

json FindingJson(const ReportFinding& f) {
  json evidence = json::array();
  for (const auto& line : f.evidence) {
    evidence.push_back(S(line));
  }
  json out = {{"id", f.id},
              {"rule_id", S(f.rule_id)},
              {"title", S(f.title)},
              {"why", S(f.why)},
              {"remediation", S(f.remediation)},
              {"effort", S(f.effort)},
              {"effort_hours", f.effort_hours ? json(*f.effort_hours) : json(nullptr)},
              {"estimate_counted", f.estimate_counted},
              {"severity", S(f.severity)},
              {"severity_label", S(f.severity_label)},
              {"category", S(f.category)},
              {"category_label", S(f.category_label)},
              {"state", S(f.state)},
              {"state_label", S(f.state_label)},
              {"target", S(f.target)},
              {"agent_id", S(f.agent_id)},
              {"hostname", S(f.hostname)},
              {"object", S(f.object)},
              {"first_seen_ms", f.first_seen_ms},
              {"last_seen_ms", f.last_seen_ms},
              {"evidence", evidence},
              {"in_scope", f.in_scope},
              {"must_fix", f.must_fix},
              {"regressions", f.regressions},
              {"ack_by", S(f.ack_by)},
              {"ack_comment", S(f.ack_comment)}};
  if (f.state == "waived") {
    out["waived_by"] = S(f.waived_by);
    out["waive_reason"] = S(f.waive_reason);
    out["waived_until_ms"] = f.waived_until_ms ? json(*f.waived_until_ms) : json(nullptr);
  }
  return out;
}

json Groups(const std::vector<FindingGroup>& groups, const AuditReport& report) {
  json out = json::array();
  for (const auto& group : groups) {
    json ids = json::array();
    for (size_t index : group.finding_indexes) {
      ids.push_back(report.findings[index].id);
    }
    out.push_back({{"key", S(group.key)}, {"label", S(group.label)}, {"finding_ids", ids}});
  }
  return out;
}

json Comparison(const std::optional<ProgressComparison>& comparison) {
  if (!comparison) {
    return nullptr;
  }
  auto items = [](const std::vector<ProgressItem>& list) {
    json out = json::array();
    for (const auto& item : list) {
      out.push_back({{"rule_id", S(item.rule_id)},
                     {"title", S(item.title)},
                     {"hostname", S(item.hostname)},
                     {"object", S(item.object)},
                     {"severity", S(item.severity)}});
    }
    return out;
  };
  return {{"baseline_kind", comparison->baseline_kind},
          {"baseline_at_ms", comparison->baseline_at_ms},
          {"fixed_since", items(comparison->fixed_since)},
          {"new_since", items(comparison->new_since)},
          {"still_open", items(comparison->still_open)}};
}

}  // namespace

std::string RenderJson(const AuditReport& report) {
  json findings = json::array();
  for (const auto& finding : report.findings) {
    findings.push_back(FindingJson(finding));
  }
  json waived = json::array();
  for (const auto& finding : report.waived) {
    waived.push_back(FindingJson(finding));
  }
  json must_fix = json::array();
  for (size_t index : report.must_fix) {
    must_fix.push_back(report.findings[index].id);
  }
  json hosts = json::array();
  for (const auto& host : report.estate.hosts) {
    hosts.push_back({{"agent_id", S(host.agent_id)},
                     {"hostname", S(host.hostname)},
                     {"os", S(host.os)},
                     {"role", S(host.role)},
                     {"duties", host.duties},
                     {"cpu_model", S(host.cpu_model)},
                     {"cpu_cores", host.cpu_cores},
                     {"memory_bytes", host.memory_bytes},
                     {"virtual_machine", host.virtual_machine},
                     {"bios_date", S(host.bios_date)},
                     {"last_seen_ms", host.last_seen_ms},
                     {"score", host.score},
                     {"active_findings", host.active_findings}});
  }
  json applications = json::array();
  for (const auto& app : report.estate.applications) {
    applications.push_back({{"name", S(app.name)},
                            {"version", S(app.version)},
                            {"kind", S(app.kind)},
                            {"hosts", app.hosts}});
  }
  const auto& estate = report.estate;
  json gaps = json::array();
  for (const auto& gap : report.coverage.gaps) {
    json details = json::array();
    for (const auto& line : gap.details) {
      details.push_back(S(line));
    }
    gaps.push_back({{"kind", gap.kind}, {"text", S(gap.text)}, {"details", details}});
  }
  json coverage = {
      {"seen", report.coverage.seen},
      {"declared", report.coverage.declared ? json(*report.coverage.declared) : json(nullptr)},
      {"seen_by_kind", Counts(report.coverage.seen_by_kind)},
      {"gaps", gaps},
      {"limited", report.coverage.limited}};
  json charts = json::array();
  for (const auto& chart : report.charts) {
    json series = json::array();
    for (const auto& line : chart.series) {
      json points = json::array();
      for (const auto& [at, value] : line.points) {
        points.push_back({{"at_ms", at}, {"value", value}});
      }
      series.push_back({{"label", S(line.label)},
                        {"color", line.color},
                        {"dashed", line.dashed},
                        {"points", points}});
    }
    charts.push_back({{"id", S(chart.id)},
                      {"title", S(chart.title)},
                      {"unit", chart.unit},
                      {"series", series},
                      {"note", S(chart.note)}});
  }
  json doc = {{"format", "dozor.audit-report/v1"},
              {"lang", report.lang},
              {"organization",
               {{"id", report.org_id},
                {"name", S(report.organization)},
                {"contract_type", S(report.contract_type)},
                {"contract_type_label", S(report.contract_type_label)},
                {"engineer", S(report.engineer)}}},
              {"phase",
               {{"key", S(report.phase)},
                {"label", S(report.phase_label)},
                {"meaning", S(report.phase_meaning)}}},
              {"generated_at_ms", report.generated_at_ms},
              {"time_zone", report.time_zone},
              {"coverage", coverage},
              {"verdict_limitation", S(report.verdict_limitation)},
              {"charts", charts},
              {"readiness_score", report.readiness_score},
              {"ready_to_sign", report.ready_to_sign},
              {"verdict", S(report.verdict)},
              {"must_fix", must_fix},
              {"must_fix_effort_hours", report.must_fix_effort_hours},
              {"must_fix_effort", S(report.must_fix_effort)},
              {"must_fix_unestimated", report.must_fix_unestimated},
              {"counts",
               {{"by_severity", Counts(report.by_severity_counts)},
                {"by_category", Counts(report.by_category_counts)}}},
              {"findings", findings},
              {"waived", waived},
              {"groups",
               {{"by_severity", Groups(report.by_severity, report)},
                {"by_category", Groups(report.by_category, report)},
                {"by_host", Groups(report.by_host, report)}}},
              {"estate",
               {{"host_count", estate.host_count},
                {"virtual_count", estate.virtual_count},
                {"physical_count", estate.physical_count},
                {"total_memory_bytes", estate.total_memory_bytes},
                {"total_cores", estate.total_cores},
                {"by_os", Counts(estate.by_os)},
                {"by_os_version", Counts(estate.by_os_version)},
                {"os_version_summary", S(estate.os_version_summary)},
                {"by_role", Counts(estate.by_role)},
                {"by_hardware_age", Counts(estate.by_hardware_age)},
                {"applications", applications},
                {"notable_software", Counts(estate.notable_software)},
                {"hosts", hosts}}},
              {"progress",
               {{"since_first_audit", Comparison(report.progress.since_first_audit)},
                {"since_signing", Comparison(report.progress.since_signing)},
                {"note", S(report.progress.note)}}}};
  return doc.dump(2);
}

}  // namespace dozor::server::report
