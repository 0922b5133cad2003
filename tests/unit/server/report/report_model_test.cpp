#include "report/report_model.hpp"

#include <doctest/doctest.h>

namespace dozor::server::report {
namespace {

ReportFinding MakeFinding(std::string severity, std::string agent_id, std::string state = "open",
                          bool in_scope = true) {
  ReportFinding f;
  f.rule_id = "rule-" + severity;
  f.title = f.rule_id;
  f.severity = severity;
  f.category = "os";
  f.state = std::move(state);
  f.agent_id = agent_id;
  f.hostname = agent_id.empty() ? "" : "host-" + agent_id;
  f.in_scope = in_scope;
  return f;
}

AuditReport ReportWithHosts(int hosts, std::string lang = "en") {
  AuditReport report;
  report.lang = lang;
  report.text = ReportTextFor(lang);
  report.generated_at_ms = 1790000000000;
  for (int i = 0; i < hosts; ++i) {
    HostRow host;
    host.agent_id = "a" + std::to_string(i);
    host.hostname = "host-a" + std::to_string(i);
    host.role = "server";
    report.estate.hosts.push_back(host);
  }
  return report;
}

}  // namespace

TEST_CASE("readiness score is 100 for an estate without hosts or findings") {
  CHECK(ReadinessScore({}, {}) == 100);
  AuditReport report = ReportWithHosts(0);
  FinalizeReport(report);
  CHECK(report.readiness_score == 100);
  CHECK(report.ready_to_sign);
  CHECK(report.verdict == "ready to sign");
}

TEST_CASE("readiness score averages host scores after a critical host finding") {
  // Two hosts: one with a critical (100-40=60), one clean (100): mean 80.
  CHECK(ReadinessScore({"a", "b"}, {{"critical", "a"}}) == 80);
  // Host penalties add up and are floored at 0 per host.
  CHECK(ReadinessScore({"a"}, {{"critical", "a"}, {"critical", "a"}, {"critical", "a"}}) == 0);
  CHECK(ReadinessScore({"a"}, {{"high", "a"}, {"medium", "a"}, {"low", "a"}, {"info", "a"}}) == 79);
}

TEST_CASE("readiness score subtracts estate-wide penalties from the host mean") {
  CHECK(ReadinessScore({"a"}, {{"critical", ""}}) == 80);
  CHECK(ReadinessScore({"a"}, {{"high", ""}, {"medium", ""}, {"low", ""}}) == 86);
  CHECK(ReadinessScore({}, {{"high", ""}}) == 90);
}

TEST_CASE("readiness score is clamped to zero and rounded") {
  std::vector<ScoredFinding> many(6, ScoredFinding{"critical", ""});
  CHECK(ReadinessScore({"a"}, many) == 0);
  // Three hosts 100, 100, 99 -> mean 99.67 -> 100 after rounding.
  CHECK(ReadinessScore({"a", "b", "c"}, {{"low", "c"}}) == 100);
  // 100, 95, 95 -> 96.67 -> 97.
  CHECK(ReadinessScore({"a", "b", "c"}, {{"medium", "b"}, {"medium", "c"}}) == 97);
}

TEST_CASE("a finding on a host missing from the host list counts as one more host") {
  CHECK(ReadinessScore({"a"}, {{"critical", "ghost"}}) == 80);
}

TEST_CASE("waived and out-of-scope findings do not count towards score or must-fix") {
  AuditReport report = ReportWithHosts(1);
  report.findings.push_back(MakeFinding("critical", "a0", "open", /*in_scope=*/false));
  report.waived.push_back(MakeFinding("critical", "a0", "waived"));
  FinalizeReport(report);
  CHECK(report.readiness_score == 100);
  CHECK(report.must_fix.empty());
  CHECK(report.ready_to_sign);
  CHECK(report.findings.size() == 1);  // still listed
}

TEST_CASE("verdict is fix first while a critical or high in-scope finding is active") {
  AuditReport report = ReportWithHosts(2, "ru");
  report.findings.push_back(MakeFinding("medium", "a0"));
  report.findings.push_back(MakeFinding("high", "a1", "acknowledged"));
  report.findings.push_back(MakeFinding("critical", "", "regressed"));
  FinalizeReport(report);
  REQUIRE(report.must_fix.size() == 2);
  CHECK(report.findings[report.must_fix[0]].severity == "critical");
  CHECK(report.findings[report.must_fix[1]].severity == "high");
  CHECK_FALSE(report.ready_to_sign);
  CHECK(report.verdict == "сначала устранить");
  // hosts: a0 = 95, a1 = 85 -> 90, minus estate critical 20 -> 70.
  CHECK(report.readiness_score == 70);
  CHECK(report.estate.hosts[0].score == 95);
  CHECK(report.estate.hosts[1].score == 85);
}

TEST_CASE("a report with only medium findings is ready to sign") {
  AuditReport report = ReportWithHosts(1, "ru");
  report.findings.push_back(MakeFinding("medium", "a0"));
  FinalizeReport(report);
  CHECK(report.ready_to_sign);
  CHECK(report.verdict == "готов к подписанию");
  CHECK(report.readiness_score == 95);
}

TEST_CASE("findings are grouped by severity, category and host with estate-wide first") {
  AuditReport report = ReportWithHosts(2);
  report.findings.push_back(MakeFinding("low", "a1"));
  report.findings.push_back(MakeFinding("critical", "a0"));
  report.findings.push_back(MakeFinding("high", ""));
  report.findings.back().category = "network";
  FinalizeReport(report);
  CHECK(report.findings[0].severity == "critical");
  REQUIRE(report.by_severity.size() == 3);
  CHECK(report.by_severity[0].key == "critical");
  REQUIRE(report.by_host.size() == 3);
  CHECK(report.by_host[0].key.empty());
  CHECK(report.by_host[0].label == "estate-wide");
  REQUIRE(report.by_category.size() == 2);
  CHECK(report.by_severity_counts.size() == 5);
  CHECK(report.by_severity_counts[0].count == 1);
  CHECK(report.by_severity_counts[4].count == 0);
}

TEST_CASE("evidence rows go through the template and fall back to key=value") {
  auto lines = RenderEvidence(
      R"([{"host_id":1,"mount":"/","used_pct":95.5},{"mount":"/var","used_pct":91}])",
      "{mount}: {used_pct}% used");
  REQUIRE(lines.size() == 2);
  CHECK(lines[0] == "/: 95.5% used");
  CHECK(lines[1] == "/var: 91% used");
  auto fallback = RenderEvidence(R"([{"host_id":1,"mount":"/","used_pct":95.0}])", "");
  REQUIRE(fallback.size() == 1);
  CHECK(fallback[0] == "mount=/, used_pct=95");
  // Unknown columns stay visible instead of vanishing.
  CHECK(RenderEvidence(R"([{"a":1}])", "{b} and {a}")[0] == "{b} and 1");
}

TEST_CASE("evidence rendering survives bad JSON and caps the row count") {
  CHECK(RenderEvidence("not json", "{x}") == std::vector<std::string>{"not json"});
  CHECK(RenderEvidence("", "").empty());
  std::string many = "[";
  for (int i = 0; i < 50; ++i) {
    many += std::string(i ? "," : "") + "{\"n\":" + std::to_string(i) + "}";
  }
  many += "]";
  CHECK(RenderEvidence(many, "{n}").size() == kMaxEvidenceRows);
  // Invalid UTF-8 from an agent is repaired.
  auto repaired = RenderEvidence("[{\"v\":\"ok\"}]", "{v}\xff");
  CHECK(repaired[0] == "ok\xEF\xBF\xBD");
}

TEST_CASE("estate summary buckets hardware age by BIOS date and counts VMs") {
  AuditReport report = ReportWithHosts(0);
  report.generated_at_ms = 1790000000000;  // 2026
  auto add = [&](std::string bios, bool vm) {
    HostRow host;
    host.agent_id = "h" + std::to_string(report.estate.hosts.size());
    host.bios_date = std::move(bios);
    host.virtual_machine = vm;
    host.memory_bytes = int64_t{8} << 30;
    host.cpu_cores = 4;
    host.os = "Debian 12";
    host.role = "server";
    report.estate.hosts.push_back(host);
  };
  add("03/14/2012", false);
  add("2025-01-01", false);
  add("2021-06-01", false);
  add("", false);
  add("2024-01-01", true);
  FinalizeReport(report);
  const auto& estate = report.estate;
  CHECK(estate.host_count == 5);
  CHECK(estate.virtual_count == 1);
  CHECK(estate.physical_count == 4);
  CHECK(estate.total_cores == 20);
  CHECK(estate.total_memory_bytes == (int64_t{40} << 30));
  REQUIRE(estate.by_hardware_age.size() == 5);
  CHECK(estate.by_hardware_age[0].key == "0-2");
  CHECK(estate.by_hardware_age[1].key == "5-7");
  CHECK(estate.by_hardware_age[2].key == "8+");
  CHECK(estate.by_hardware_age[3].key == "virtual");
  CHECK(estate.by_hardware_age[4].key == "unknown");
  REQUIRE(estate.by_os.size() == 1);
  CHECK(estate.by_os[0].count == 5);
}

TEST_CASE("labels are localized with Russian as the default language") {
  CHECK(NormalizeLanguage("") == "ru");
  CHECK(NormalizeLanguage("de") == "ru");
  CHECK(SeverityLabel("critical", "en") == "critical");
  CHECK(SeverityLabel("critical", "ru") == "критично");
  CHECK(PhaseLabel("remediation", "ru") == "устранение проблем");
  CHECK_FALSE(PhaseMeaning("active", "en").empty());
  CHECK(ReportTextFor("en").must_fix == "Must fix before the contract");
  CHECK(FormatTime(0) == "—");
  CHECK(FormatTime(1790000000000) == "2026-09-21 14:13 UTC");
  CHECK(FormatBytes(int64_t{3} << 30) == "3.0 GiB");
}

TEST_CASE("machines are counted under the OS name and major version") {
  CHECK(OsVersionLabel("windows", "windows", "11", "Майкрософт Windows 11 Pro 23H2") ==
        "Windows 11");
  CHECK(OsVersionLabel("windows", "windows", "2019", "Microsoft Windows Server 2019 Standard") ==
        "Windows Server 2019");
  CHECK(OsVersionLabel("windows", "windows", "2012 R2", "") == "Windows Server 2012 R2");
  CHECK(OsVersionLabel("windows", "windows", "7", "") == "Windows 7");
  CHECK(OsVersionLabel("windows", "windows", "8.1", "") == "Windows 8.1");
  CHECK(OsVersionLabel("windows", "windows", "", "Windows Server 2012 R2 Standard") ==
        "Windows Server 2012 R2 Standard");
  CHECK(OsVersionLabel("linux", "debian", "12", "Debian GNU/Linux 12 (bookworm)") == "Debian 12");
  CHECK(OsVersionLabel("linux", "rocky", "9.3", "") == "Rocky Linux 9");
  CHECK(OsVersionLabel("linux", "ubuntu", "22.04", "") == "Ubuntu 22.04");
  CHECK(OsVersionLabel("linux", "astra", "1.7", "") == "Astra Linux 1.7");
  CHECK(OsVersionLabel("linux", "someos", "", "") == "someos");
  CHECK(OsVersionLabel("", "", "", "") == "");
}

}  // namespace dozor::server::report

namespace dozor::server::report {
namespace {

TEST_CASE("a rule's findings about several objects of one host are scored and quoted once") {
  // Without rule ids every finding counts (the formula's own tests above); with them, /var and
  // /boot full on one host are one "disk space" problem.
  CHECK(ReadinessScore({"a"}, {{"high", "a", "disk"}, {"high", "a", "disk"}}) == 85);
  CHECK(ReadinessScore({"a"}, {{"high", "a", "disk"}, {"high", "a", "smart"}}) == 70);
  CHECK(ReadinessScore({"a", "b"}, {{"high", "a", "disk"}, {"high", "b", "disk"}}) == 85);

  AuditReport report = ReportWithHosts(2);
  for (const char* object : {"/var", "/boot"}) {
    ReportFinding f = MakeFinding("high", "a0");
    f.rule_id = "disk-space-low";
    f.object = object;
    f.effort_hours = 2;
    f.effort = "2 h";
    report.findings.push_back(f);
  }
  ReportFinding other = MakeFinding("high", "a1");
  other.rule_id = "disk-space-low";
  other.object = "/";
  other.effort_hours = 2;
  other.effort = "2 h";
  report.findings.push_back(other);
  FinalizeReport(report);
  REQUIRE(report.must_fix.size() == 3);      // each object is listed
  CHECK(report.must_fix_effort_hours == 4);  // two hosts x 2 h, not three findings x 2 h
  CHECK(report.findings[0].estimate_counted);
  CHECK_FALSE(report.findings[1].estimate_counted);
  CHECK(report.findings[2].estimate_counted);
  CHECK(report.estate.hosts[0].score == 85);
  CHECK(report.estate.hosts[0].active_findings == 2);
  CHECK(report.readiness_score == 85);
  CHECK(FindingHostLabel(report, report.findings[1]) == "host-a0: /boot");
}

}  // namespace
}  // namespace dozor::server::report

namespace dozor::server::report {
namespace {

TEST_CASE("after signing the report's title is no longer pre-contract") {
  CHECK(ReportTitle("prospect", "en") == "Pre-contract audit report");
  CHECK(ReportTitle("remediation", "ru") == "Отчёт о предконтрактном аудите");
  CHECK(ReportTitle("active", "en") == "Infrastructure audit report");
  CHECK(ReportTitle("ended", "ru") == "Отчёт об аудите инфраструктуры");
  AuditReport signed_report = ReportWithHosts(1);
  signed_report.phase = "active";
  FinalizeReport(signed_report);
  CHECK(signed_report.text.title == "Infrastructure audit report");
  AuditReport prospect = ReportWithHosts(1);
  prospect.phase = "prospect";
  FinalizeReport(prospect);
  CHECK(prospect.text.title == "Pre-contract audit report");
}

}  // namespace
}  // namespace dozor::server::report
