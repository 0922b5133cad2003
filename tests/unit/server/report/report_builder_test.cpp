#include "report/report_builder.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "report/renderers.hpp"

namespace dozor::server::report {
namespace {

rules::Rule MakeRule(std::string id, std::string severity, std::vector<std::string> contracts,
                     rules::RuleScope scope = rules::RuleScope::kHost) {
  rules::Rule rule;
  rule.id = id;
  rule.scope = scope;
  rule.severity = severity;
  rule.category = "hardware";
  rule.contracts = std::move(contracts);
  rule.effort_hours = 1;
  rule.title = {"Title " + id, "Заголовок " + id};
  rule.why = {"Why " + id, "Почему " + id};
  rule.remediation = {"Fix " + id, "Исправить " + id};
  return rule;
}

rules::RulePack TestPack() {
  rules::RulePack pack;
  auto disk = MakeRule("disk-space-low", "high", {"technical", "complex"});
  disk.evidence_template = {"{mount}: {used_pct}% used", "{mount}: занято {used_pct}%"};
  pack.rules.push_back(disk);
  pack.rules.push_back(MakeRule("one-c-mismatch", "critical", {"application", "complex"},
                                rules::RuleScope::kEstate));
  pack.rules.push_back(
      MakeRule("reboot-pending", "medium", {"technical", "application", "complex"}));
  return pack;
}

Finding MakeFinding(int64_t id, std::string rule_id, std::string severity, std::string state,
                    std::string agent_id) {
  Finding f;
  f.id = id;
  f.rule_id = rule_id;
  f.org_id = 7;
  f.severity = *ParseSeverity(severity);
  f.category = "hardware";
  f.state = *ParseFindingState(state);
  f.agent_id = agent_id;
  f.hostname = agent_id.empty() ? "" : "хост-" + agent_id;
  f.target = agent_id.empty() ? "org:7" : "host:" + agent_id;
  f.first_seen_ms = 1000 * id;
  f.last_seen_ms = 2000 * id;
  f.evidence_json = R"([{"host_id":1,"mount":"/","used_pct":96}])";
  return f;
}

SnapshotFinding Snap(std::string rule_id, std::string agent_id, std::string state = "open") {
  return SnapshotFinding{rule_id,         agent_id.empty() ? "org:7" : "host:" + agent_id,
                         agent_id,        agent_id.empty() ? "" : "хост-" + agent_id,
                         Severity::kHigh, *ParseFindingState(state)};
}

ReportSources TestSources(std::string contract_type, std::string status) {
  ReportSources sources;
  sources.organization.id = 7;
  sources.organization.name = "ООО «Ромашка»";
  sources.organization.contract_type = *ParseContractType(contract_type);
  sources.organization.contract_status = *ParseContractPhase(status);
  sources.organization.engineer = "Иван";
  sources.findings = {
      MakeFinding(1, "disk-space-low", "high", "open", "a1"),
      MakeFinding(2, "one-c-mismatch", "critical", "acknowledged", ""),
      MakeFinding(3, "gone-rule", "medium", "regressed", "a2"),
      MakeFinding(4, "reboot-pending", "medium", "waived", "a2"),
  };
  sources.findings[3].waived_by = "director";
  sources.findings[3].waive_reason = "planned";
  EstateHost a1, a2;
  a1.agent_id = "a1";
  a1.hostname = "хост-a1";
  a1.os_pretty_name = "Debian GNU/Linux 12 (bookworm)";
  a1.role = HostRole::kServer;
  a2.agent_id = "a2";
  a2.hostname = "хост-a2";
  a2.os_id = "ubuntu";
  a2.os_version_id = "18.04";
  a2.role = HostRole::kWorkstation;
  sources.estate.hosts = {a1, a2};
  sources.estate.applications = {{"1C:Enterprise 8.3", "8.3.22.1709", "server", 1}};
  sources.estate.package_hosts = {{"postgresql", 1}, {"samba", 0}};
  return sources;
}

bool HasRule(const std::vector<ProgressItem>& items, std::string_view rule_id) {
  return std::any_of(items.begin(), items.end(),
                     [&](const ProgressItem& item) { return item.rule_id == rule_id; });
}

}  // namespace

TEST_CASE("report texts come from the pack in the chosen language with templated evidence") {
  auto report = AssembleAuditReport(TestSources("complex", "prospect"), TestPack(), 5000, "ru");
  REQUIRE(report.findings.size() == 3);
  CHECK(report.organization == "ООО «Ромашка»");
  CHECK(report.phase_label == "потенциальный клиент");
  const auto& critical = report.findings[0];
  CHECK(critical.rule_id == "one-c-mismatch");
  CHECK(critical.title == "Заголовок one-c-mismatch");
  CHECK(critical.hostname.empty());
  const auto& disk = report.findings[1];
  CHECK(disk.title == "Заголовок disk-space-low");
  CHECK(disk.remediation == "Исправить disk-space-low");
  REQUIRE(disk.evidence.size() == 1);
  CHECK(disk.evidence[0] == "/: занято 96%");
  // A rule missing from the pack still shows, titled by its id, with key=value evidence.
  const auto& gone = report.findings[2];
  CHECK(gone.title == "gone-rule");
  CHECK(gone.evidence[0] == "mount=/, used_pct=96");
  CHECK(gone.state_label == "вернулась");
}

TEST_CASE("waived findings are listed apart and do not count") {
  auto report = AssembleAuditReport(TestSources("complex", "prospect"), TestPack(), 5000, "en");
  REQUIRE(report.waived.size() == 1);
  CHECK(report.waived[0].rule_id == "reboot-pending");
  CHECK(report.waived[0].waived_by == "director");
  CHECK(report.waived[0].waive_reason == "planned");
  // hosts: a1 high (85), a2 medium from the unknown rule (95): mean 90; estate critical -20.
  CHECK(report.readiness_score == 70);
  REQUIRE(report.must_fix.size() == 2);
  CHECK_FALSE(report.ready_to_sign);
  CHECK(report.verdict == "fix first");
}

TEST_CASE("findings outside the contract's scope are shown but not scored or must-fix") {
  // An application contract: disk-space-low (technical, complex) is out of scope.
  auto report = AssembleAuditReport(TestSources("application", "prospect"), TestPack(), 5000, "en");
  REQUIRE(report.must_fix.size() == 1);
  CHECK(report.findings[report.must_fix[0]].rule_id == "one-c-mismatch");
  auto disk = std::find_if(report.findings.begin(), report.findings.end(),
                           [](const ReportFinding& f) { return f.rule_id == "disk-space-low"; });
  REQUIRE(disk != report.findings.end());
  CHECK_FALSE(disk->in_scope);
  // a1 has nothing in scope (100), a2 medium (95): 97.5 -> 98, minus estate critical 20.
  CHECK(report.readiness_score == 78);
}

TEST_CASE("an application contract counts a failing disk on the 1C server, not on a workstation") {
  // The same hardware rule (technical, complex) fires on the 1C server and on a PC.
  rules::RulePack pack;
  pack.rules.push_back(MakeRule("smart-failing", "critical", {"technical", "complex"}));
  pack.rules.push_back(MakeRule("reboot-pending", "medium", {"technical", "complex"}));
  pack.rules.back().category = "os";
  auto sources = TestSources("application", "remediation");
  sources.findings = {MakeFinding(1, "smart-failing", "critical", "open", "a1"),
                      MakeFinding(2, "smart-failing", "critical", "open", "a2"),
                      MakeFinding(3, "reboot-pending", "medium", "open", "a1")};
  sources.findings[2].category = "os";
  sources.estate.hosts[0].duties = HostDuties{HostDuty::kOneC};  // a1: the 1C server
  sources.estate.hosts[1].duties = HostDuties();                 // a2: a workstation

  auto report = AssembleAuditReport(sources, pack, 5000, "en");
  auto finding = [&report](int64_t id) {
    auto it = std::find_if(report.findings.begin(), report.findings.end(),
                           [id](const ReportFinding& f) { return f.id == id; });
    REQUIRE(it != report.findings.end());
    return *it;
  };
  CHECK(finding(1).in_scope);
  CHECK(finding(1).must_fix);
  CHECK_FALSE(report.ready_to_sign);
  CHECK(report.verdict == "fix first");
  REQUIRE(report.must_fix.size() == 1);
  CHECK(report.findings[report.must_fix[0]].id == 1);
  // The workstation's disk and the server's OS finding are listed, outside the scope, unscored:
  // a1 loses 40 for the critical disk, a2 nothing: (60 + 100) / 2.
  CHECK_FALSE(finding(2).in_scope);
  CHECK_FALSE(finding(2).must_fix);
  CHECK_FALSE(finding(3).in_scope);
  CHECK(report.readiness_score == 80);
  CHECK(report.estate.hosts[1].score == 100);
  const std::string html = RenderHtml(report);
  CHECK(html.find("outside the contract&#39;s scope") != std::string::npos);
  // The host table says why: the 1C server's duty after its role.
  CHECK(report.estate.hosts[0].duties == std::vector<std::string>{"onec"});
  CHECK(report.estate.hosts[0].duties_label == "1C");
  CHECK(report.estate.hosts[1].duties_label.empty());
  CHECK(html.find("<td>server · 1C</td>") != std::string::npos);
  const auto json = nlohmann::json::parse(RenderJson(report));
  CHECK(json["estate"]["hosts"][0]["duties"] == nlohmann::json::array({"onec"}));
  CHECK(json["estate"]["hosts"][1]["duties"] == nlohmann::json::array());
  sources.estate.hosts[0].duties = HostDuties{HostDuty::kOneC, HostDuty::kDatabase};
  auto ru = AssembleAuditReport(sources, pack, 5000, "ru");
  CHECK(ru.estate.hosts[0].duties_label == "СУБД, 1С");
  CHECK(RenderPdf(ru).ok());

  // Without the failing disk on the 1C server the contract is ready to sign.
  sources.findings.erase(sources.findings.begin());
  auto without = AssembleAuditReport(sources, pack, 5000, "en");
  CHECK(without.ready_to_sign);
  CHECK(without.readiness_score == 100);
  CHECK(without.findings.size() == 2);  // still listed

  // A database server widens the scope the same way; a technical contract needs no widening.
  sources.findings.insert(sources.findings.begin(),
                          MakeFinding(1, "smart-failing", "critical", "open", "a1"));
  sources.estate.hosts[0].duties = HostDuties{HostDuty::kDatabase};
  CHECK_FALSE(AssembleAuditReport(sources, pack, 5000, "en").ready_to_sign);
  sources.organization.contract_type = ContractType::kTechnical;
  sources.estate.hosts[0].duties = HostDuties();
  auto technical = AssembleAuditReport(sources, pack, 5000, "en");
  CHECK(technical.must_fix.size() == 2);
}

TEST_CASE("progress against the first audit lists fixed, new and still open findings") {
  auto sources = TestSources("complex", "remediation");
  AuditSnapshot first;
  first.kind = AuditSnapshotKind::kFirstAudit;
  first.at_ms = 100;
  first.findings = {Snap("disk-space-low", "a1"), Snap("old-rule", "a2"),
                    Snap("reboot-pending", "a2", "waived")};
  sources.first_audit = first;
  auto report = AssembleAuditReport(sources, TestPack(), 5000, "en");
  REQUIRE(report.progress.since_first_audit);
  const auto& progress = *report.progress.since_first_audit;
  CHECK(progress.baseline_at_ms == 100);
  REQUIRE(progress.fixed_since.size() == 1);
  CHECK(progress.fixed_since[0].rule_id == "old-rule");
  CHECK(progress.fixed_since[0].hostname == "хост-a2");
  REQUIRE(progress.still_open.size() == 1);
  CHECK(progress.still_open[0].rule_id == "disk-space-low");
  CHECK(progress.still_open[0].title == "Title disk-space-low");
  CHECK(progress.new_since.size() == 2);
  CHECK(HasRule(progress.new_since, "one-c-mismatch"));
  CHECK(HasRule(progress.new_since, "gone-rule"));
  // The waived finding is neither fixed nor new.
  CHECK_FALSE(HasRule(progress.fixed_since, "reboot-pending"));
  CHECK_FALSE(HasRule(progress.new_since, "reboot-pending"));
  CHECK_FALSE(report.progress.since_signing);
  CHECK(report.progress.note.empty());
}

TEST_CASE("an active contract is also compared with the signing baseline") {
  auto sources = TestSources("complex", "active");
  AuditSnapshot first;
  first.kind = AuditSnapshotKind::kFirstAudit;
  first.findings = {Snap("disk-space-low", "a1"), Snap("old-rule", "a2")};
  AuditSnapshot signing;
  signing.kind = AuditSnapshotKind::kSigning;
  signing.at_ms = 200;
  signing.findings = {Snap("disk-space-low", "a1"), Snap("one-c-mismatch", "")};
  sources.first_audit = first;
  sources.signing = signing;
  auto report = AssembleAuditReport(sources, TestPack(), 5000, "en");
  REQUIRE(report.progress.since_signing);
  const auto& since = *report.progress.since_signing;
  CHECK(since.fixed_since.empty());
  CHECK(since.still_open.size() == 2);
  REQUIRE(since.new_since.size() == 1);
  CHECK(since.new_since[0].rule_id == "gone-rule");
}

TEST_CASE("without a first audit the report says when it will be recorded") {
  auto report = AssembleAuditReport(TestSources("complex", "prospect"), TestPack(), 5000, "ru");
  CHECK_FALSE(report.progress.since_first_audit);
  CHECK(report.progress.note.find("устранения") != std::string::npos);
  auto en = AssembleAuditReport(TestSources("complex", "prospect"), TestPack(), 5000, "en");
  CHECK(en.progress.note.find("remediation") != std::string::npos);
}

TEST_CASE("estate summary comes from the store's hosts, applications and packages") {
  auto report = AssembleAuditReport(TestSources("complex", "prospect"), TestPack(), 5000, "en");
  const auto& estate = report.estate;
  CHECK(estate.host_count == 2);
  REQUIRE(estate.hosts.size() == 2);
  CHECK(estate.hosts[0].os == "Debian GNU/Linux 12 (bookworm)");
  CHECK(estate.hosts[1].os == "ubuntu 18.04");
  CHECK(estate.hosts[1].role_label == "workstation");
  CHECK(estate.hosts[0].score == 85);
  REQUIRE(estate.applications.size() == 1);
  CHECK(estate.applications[0].version == "8.3.22.1709");
  REQUIRE(estate.notable_software.size() == 1);  // packages on no host are left out
  CHECK(estate.notable_software[0].key == "postgresql");
  REQUIRE(estate.by_role.size() == 2);
}

TEST_CASE("the must-fix list is quoted: the sum of its findings' hours") {
  rules::RulePack pack = TestPack();
  for (auto& rule : pack.rules) {
    rule.effort_hours = rule.id == "disk-space-low"   ? 1.5
                        : rule.id == "one-c-mismatch" ? 24
                                                      : 100;  // reboot-pending: medium, no must-fix
  }
  auto smart = MakeRule("smart-failing", "high", {"technical", "complex"});
  smart.effort_hours = 4;
  pack.rules.push_back(smart);
  auto sources = TestSources("complex", "prospect");
  // A per-host rule on three hosts counts three times; the estate rule once; a high finding whose
  // rule left the pack has no estimate; waived and medium findings are not on the list.
  sources.findings.push_back(MakeFinding(5, "smart-failing", "high", "open", "a1"));
  sources.findings.push_back(MakeFinding(6, "smart-failing", "high", "regressed", "a2"));
  sources.findings.push_back(MakeFinding(7, "smart-failing", "high", "acknowledged", "a3"));
  sources.findings.push_back(MakeFinding(8, "gone-high", "high", "open", "a2"));
  sources.findings.push_back(MakeFinding(9, "smart-failing", "critical", "waived", "a4"));
  sources.findings.push_back(MakeFinding(10, "reboot-pending", "medium", "open", "a1"));

  auto report = AssembleAuditReport(sources, pack, 5000, "ru");
  CHECK(report.must_fix.size() == 6);
  CHECK(report.must_fix_effort_hours == doctest::Approx(1.5 + 24 + 3 * 4));
  CHECK(report.must_fix_unestimated == 1);
  CHECK(report.must_fix_effort == "37,5 ч");
  CHECK(MustFixEffortLine(report) == "Оценка трудоёмкости устранения: 37,5 ч (1 без оценки)");
  auto disk = std::find_if(report.findings.begin(), report.findings.end(),
                           [](const ReportFinding& f) { return f.rule_id == "disk-space-low"; });
  REQUIRE(disk != report.findings.end());
  CHECK(disk->effort == "1,5 ч");
  CHECK(disk->effort_hours == doctest::Approx(1.5));

  auto json = nlohmann::json::parse(RenderJson(report));
  CHECK(json["must_fix_effort_hours"] == 37.5);
  CHECK(json["must_fix_effort"] == "37,5 ч");
  CHECK(json["must_fix_unestimated"] == 1);
  for (const auto& finding : json["findings"]) {
    if (finding["rule_id"] == "gone-high") {
      CHECK(finding["effort_hours"].is_null());
    } else if (finding["rule_id"] == "smart-failing") {
      CHECK(finding["effort_hours"] == 4.0);
      CHECK(finding["effort"] == "4 ч");
    }
  }
  const std::string html = RenderHtml(report);
  CHECK(html.find("Оценка трудоёмкости устранения: 37,5 ч (1 без оценки)") != std::string::npos);
  CHECK(html.find("<th>37,5 ч</th>") != std::string::npos);
  const std::string csv = RenderCsv(report);
  CHECK(csv.find("effort,must_fix,effort_hours\r\n") != std::string::npos);
  CHECK(csv.find(",1,\"1,5\"\r\n") != std::string::npos);  // disk-space-low: must fix, 1.5 h
  CHECK(csv.find(",0,100\r\n") != std::string::npos);      // reboot-pending: not on the list
  auto pdf = RenderPdf(report);
  REQUIRE(pdf.ok());

  // In English; and a technical contract leaves the application rule out of the quote.
  auto technical = TestSources("technical", "prospect");
  technical.findings = sources.findings;
  auto en = AssembleAuditReport(technical, pack, 5000, "en");
  CHECK(en.must_fix_effort_hours == doctest::Approx(1.5 + 3 * 4));
  CHECK(en.must_fix_effort == "13.5 h");
  CHECK(MustFixEffortLine(en) == "Estimated work to fix: 13.5 h (1 without an estimate)");
  // Nothing to fix: nothing to quote.
  auto clean = AssembleAuditReport(TestSources("complex", "prospect"), pack, 5000, "en");
  clean.findings.clear();
  FinalizeReport(clean);
  CHECK(clean.must_fix_effort_hours == 0);
  CHECK(clean.must_fix_effort == "0 h");
}

TEST_CASE("an assembled report renders in every format") {
  auto report = AssembleAuditReport(TestSources("complex", "remediation"), TestPack(), 5000, "ru");
  CHECK(RenderHtml(report).find("Заголовок disk-space-low") != std::string::npos);
  CHECK(RenderJson(report).find("\"rule_id\": \"gone-rule\"") != std::string::npos);
  CHECK(RenderCsv(report).find("хост-a1") != std::string::npos);
  auto pdf = RenderPdf(report);
  REQUIRE(pdf.ok());
  CHECK(pdf->rfind("%PDF-", 0) == 0);
}

}  // namespace dozor::server::report
