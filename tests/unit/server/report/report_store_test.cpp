// BuildAuditReport over a real SQLite store: findings, a waiver, the first-audit snapshot taken
// when the contract moves to remediation, and progress after things change.
#include <doctest/doctest.h>

#include "domain/local_time.hpp"
#include "report/renderers.hpp"
#include "report/report_builder.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "test_util.hpp"

namespace dozor::server::report {
namespace {

rules::RulePack Pack() {
  rules::RulePack pack;
  rules::Rule disk;
  disk.id = "disk-space-low";
  disk.severity = "high";
  disk.category = "hardware";
  disk.contracts = {"technical", "complex"};
  disk.effort_hours = 1;
  disk.title = {"Filesystem almost full", "Файловая система почти заполнена"};
  disk.remediation = {"Free space", "Освободить место"};
  disk.evidence_template = {"{mount}: {used_pct}% used", "{mount}: занято {used_pct}%"};
  pack.rules.push_back(disk);
  rules::Rule reboot = disk;
  reboot.id = "reboot-pending";
  reboot.severity = "medium";
  reboot.category = "os";
  reboot.title = {"Reboot pending", "Требуется перезагрузка"};
  reboot.evidence_template = {};
  pack.rules.push_back(reboot);
  return pack;
}

struct Fixture {
  testing::TempDir dir;
  std::unique_ptr<SqliteStore> store;
  int64_t org = 0;
  std::vector<int64_t> hosts;

  Fixture() {
    SqliteStoreOptions options;
    options.path = (dir / "dozor.db").string();
    options.background_checkpoint = false;
    auto opened = SqliteStore::Open(options);
    REQUIRE_MESSAGE(opened.ok(), (opened.ok() ? "" : opened.error().ToString()));
    store = std::move(opened).value();
    Organization organization;
    organization.name = "ООО «Ромашка»";
    organization.contract_type = ContractType::kComplex;
    auto created = store->CreateOrganization(organization);
    REQUIRE(created.ok());
    org = created->id;
    NewEnrollmentToken token;
    token.org_id = org;
    token.token_hash = "token-hash";
    REQUIRE(store->CreateEnrollmentToken(token).ok());
    for (const char* name : {"бух-пк-01", "srv-1c"}) {
      NewAgent agent;
      agent.agent_id = std::string("agent-") + name;
      agent.secret_hash = "secret";
      agent.hostname = name;
      REQUIRE(store->EnrollAgent(token.token_hash, agent, 1000).ok());
      auto pk = store->HostPk(agent.agent_id);
      REQUIRE(pk.ok());
      hosts.push_back(*pk);
    }
  }

  void Evaluate(std::vector<std::pair<std::string, int64_t>> hits, int64_t now) {
    EvaluationInput input;
    input.host_scope = true;
    input.rule_ids = {"disk-space-low", "reboot-pending"};
    input.targets = hosts;
    for (const auto& [rule, host] : hits) {
      input.hits.push_back(
          FindingHit{rule, org, host, R"([{"mount":"/","used_pct":97}])", false, ""});
    }
    input.meta["disk-space-low"] = RuleMeta{Severity::kHigh, "hardware"};
    input.meta["reboot-pending"] = RuleMeta{Severity::kMedium, "os"};
    auto change = store->ApplyEvaluation(input, now);
    REQUIRE_MESSAGE(change.ok(), (change.ok() ? "" : change.error().ToString()));
  }

  AuditReport Build(std::string_view lang, int64_t now) {
    auto report = BuildAuditReport(*store, Pack(), org, now, lang);
    REQUIRE_MESSAGE(report.ok(), (report.ok() ? "" : report.error().ToString()));
    return std::move(report).value();
  }
};

}  // namespace

TEST_CASE("report from the store: prospect with findings, a waiver and no first audit yet") {
  Fixture f;
  f.Evaluate({{"disk-space-low", f.hosts[0]}, {"reboot-pending", f.hosts[1]}}, 10'000);
  auto reboot = f.store->ListFindings(FindingFilter{f.org, std::nullopt, {}, {}, "reboot-pending"});
  REQUIRE(reboot.ok());
  REQUIRE(reboot->size() == 1);
  REQUIRE(f.store->WaiveFinding(reboot->front().id, "director", "план", std::nullopt, 11'000).ok());

  AuditReport report = f.Build("ru", 12'000);
  CHECK(report.organization == "ООО «Ромашка»");
  CHECK(report.phase == "prospect");
  REQUIRE(report.findings.size() == 1);
  CHECK(report.findings[0].title == "Файловая система почти заполнена");
  CHECK(report.findings[0].hostname == "бух-пк-01");
  CHECK(report.findings[0].evidence == std::vector<std::string>{"/: занято 97%"});
  REQUIRE(report.waived.size() == 1);
  CHECK(report.waived[0].waive_reason == "план");
  CHECK(report.must_fix.size() == 1);
  CHECK(report.verdict == "сначала устранить");
  CHECK(report.estate.host_count == 2);
  // Hosts 85 and 100 (the waived finding does not count).
  CHECK(report.readiness_score == 93);
  CHECK_FALSE(report.progress.since_first_audit);
  CHECK_FALSE(report.progress.note.empty());
}

TEST_CASE("report from the store: progress since the first audit after remediation") {
  Fixture f;
  f.Evaluate({{"disk-space-low", f.hosts[0]}, {"disk-space-low", f.hosts[1]}}, 10'000);
  OrganizationPatch patch;
  patch.contract_status = ContractPhase::kRemediation;
  patch.actor = "engineer";
  auto moved = f.store->UpdateOrganization(f.org, patch);
  REQUIRE_MESSAGE(moved.ok(), (moved.ok() ? "" : moved.error().ToString()));
  // Host 0 fixed its disk, host 1 did not, and host 1 now needs a reboot.
  f.Evaluate({{"disk-space-low", f.hosts[1]}, {"reboot-pending", f.hosts[1]}}, 20'000);

  AuditReport report = f.Build("en", 30'000);
  CHECK(report.phase == "remediation");
  REQUIRE(report.progress.since_first_audit);
  const auto& progress = *report.progress.since_first_audit;
  REQUIRE(progress.fixed_since.size() == 1);
  CHECK(progress.fixed_since[0].hostname == "бух-пк-01");
  CHECK(progress.fixed_since[0].title == "Filesystem almost full");
  REQUIRE(progress.still_open.size() == 1);
  CHECK(progress.still_open[0].hostname == "srv-1c");
  REQUIRE(progress.new_since.size() == 1);
  CHECK(progress.new_since[0].rule_id == "reboot-pending");

  auto pdf = RenderPdf(report);
  REQUIRE(pdf.ok());
  CHECK(pdf->rfind("%PDF-", 0) == 0);
}

// Enrols `agent_id` in the fixture's organisation and stores its first inventory, collected at
// `at_ms`.
void AddHostWithInventory(Fixture& f, const std::string& agent_id,
                          const dozor::v1::Inventory& inventory, int64_t at_ms = 5000) {
  NewAgent agent;
  agent.agent_id = agent_id;
  agent.secret_hash = "secret";
  agent.hostname = agent_id;
  REQUIRE(f.store->EnrollAgent("token-hash", agent, 1000).ok());
  std::vector<IncomingReport> batch(1);
  batch[0].agent_id = agent_id;
  batch[0].received_at_ms = at_ms;
  batch[0].report.set_seq(1);
  batch[0].report.set_collected_at_ms(at_ms);
  *batch[0].report.mutable_inventory() = inventory;
  auto committed = f.store->CommitReports(batch);
  REQUIRE(committed.ok());
  REQUIRE((*committed)[0].outcome == CommitOutcome::kStored);
}

void AddHostWithOs(Fixture& f, const std::string& agent_id, const dozor::v1::OperatingSystem& os) {
  dozor::v1::Inventory inventory;
  *inventory.mutable_os() = os;
  AddHostWithInventory(f, agent_id, inventory);
}

dozor::v1::OperatingSystem WindowsOs(const std::string& name, const std::string& version_id) {
  dozor::v1::OperatingSystem os;
  os.set_family("windows");
  os.set_id("windows");
  os.set_name(name);
  os.set_pretty_name(name);
  os.set_version_id(version_id);
  return os;
}

dozor::v1::OperatingSystem LinuxOs(const std::string& id, const std::string& version_id,
                                   const std::string& pretty_name) {
  dozor::v1::OperatingSystem os;
  os.set_family("linux");
  os.set_id(id);
  os.set_version_id(version_id);
  os.set_pretty_name(pretty_name);
  return os;
}

TEST_CASE("report from the store: machines are counted per OS name and version in both languages") {
  Fixture f;  // its two hosts never sent an inventory: their OS is unknown
  AddHostWithOs(f, "nb-1", WindowsOs("Майкрософт Windows 11 Pro", "11"));
  AddHostWithOs(f, "nb-2", WindowsOs("Microsoft Windows 11 Enterprise", "11"));
  AddHostWithOs(f, "nb-3", WindowsOs("Microsoft Windows 11 Pro", "11"));
  AddHostWithOs(f, "srv-a", WindowsOs("Microsoft Windows Server 2019 Standard", "2019"));
  AddHostWithOs(f, "srv-b", WindowsOs("Microsoft Windows Server 2019 Datacenter", "2019"));
  AddHostWithOs(f, "pc-old", WindowsOs("Microsoft Windows 7 Professional", "7"));
  AddHostWithOs(f, "db-1", LinuxOs("debian", "12", "Debian GNU/Linux 12 (bookworm)"));
  AddHostWithOs(f, "web-1", LinuxOs("ubuntu", "22.04", "Ubuntu 22.04.4 LTS"));
  AddHostWithOs(f, "app-1", LinuxOs("rocky", "9.3", "Rocky Linux 9.3 (Blue Onyx)"));

  AuditReport en = f.Build("en", 12'000);
  CHECK(en.estate.host_count == 11);
  CHECK(en.estate.os_version_summary ==
        "Windows 11: 3, Windows Server 2019: 2, unknown: 2, Debian 12: 1, Rocky Linux 9: 1, "
        "Ubuntu 22.04: 1, Windows 7: 1");
  REQUIRE(en.estate.by_os_version.size() == 7);
  CHECK(en.estate.by_os_version[0].label == "Windows 11");
  CHECK(en.estate.by_os_version[0].count == 3);
  CHECK(en.text.machines_by_os_version == "Machines seen per OS version");
  // The detailed table still tells the editions apart.
  CHECK(en.estate.by_os.size() > en.estate.by_os_version.size());

  AuditReport ru = f.Build("ru", 12'000);
  CHECK(ru.estate.os_version_summary ==
        "Windows 11: 3, Windows Server 2019: 2, неизвестно: 2, Debian 12: 1, Rocky Linux 9: 1, "
        "Ubuntu 22.04: 1, Windows 7: 1");
  CHECK(ru.text.machines_by_os_version == "Обнаружено машин по версиям ОС");

  const std::string html = RenderHtml(ru);
  CHECK(html.find("Обнаружено машин по версиям ОС") != std::string::npos);
  CHECK(html.find("Windows 11: 3, Windows Server 2019: 2") != std::string::npos);
  const std::string json = RenderJson(en);
  CHECK(json.find("\"os_version_summary\": \"Windows 11: 3, Windows Server 2019: 2") !=
        std::string::npos);
  CHECK(json.find("\"by_os_version\"") != std::string::npos);
  auto pdf = RenderPdf(ru);
  REQUIRE(pdf.ok());
}

TEST_CASE("report from the store: an unknown organisation is not found") {
  Fixture f;
  auto report = BuildAuditReport(*f.store, Pack(), f.org + 100, 1000, "en");
  REQUIRE_FALSE(report.ok());
  CHECK(report.error().code == ErrorCode::kNotFound);
}

namespace coverage_test {

constexpr int64_t kCoverageDay = 86'400'000;
constexpr int64_t kCoverageGiB = 1024LL * 1024 * 1024;

// A physical Linux server without smartctl, its root filesystem 100 GiB, then a health sample a
// day for `days` days with 2 GiB more used each day.
void AddServerWithDiskHistory(Fixture& f, const std::string& agent_id, int64_t start_ms, int days) {
  dozor::v1::Inventory inventory_message;
  auto* inventory = &inventory_message;
  inventory->mutable_os()->set_family("linux");
  inventory->mutable_os()->set_id("debian");
  inventory->mutable_os()->set_version_id("12");
  inventory->mutable_os()->set_pretty_name("Debian GNU/Linux 12 (bookworm)");
  inventory->mutable_os()->set_product_type("server");
  inventory->mutable_os()->set_hostname(agent_id);
  inventory->mutable_hardware()->set_smartctl_available(false);
  inventory->mutable_hardware()->set_virtual_machine(false);
  auto* disk = inventory->mutable_hardware()->add_disks();
  disk->set_name("sda");
  disk->set_size_bytes(static_cast<uint64_t>(120 * kCoverageGiB));
  AddHostWithInventory(f, agent_id, inventory_message, start_ms);
  for (int day = 0; day < days; ++day) {
    std::vector<IncomingReport> health(1);
    const int64_t at = start_ms + day * kCoverageDay + 3'600'000;
    health[0].agent_id = agent_id;
    health[0].received_at_ms = at;
    health[0].report.set_seq(static_cast<uint64_t>(day + 2));
    health[0].report.set_collected_at_ms(at);
    auto* fs = health[0].report.mutable_health()->add_filesystems();
    fs->set_mount_point("/");
    fs->set_fs_type("ext4");
    fs->set_total_bytes(static_cast<uint64_t>(100 * kCoverageGiB));
    fs->set_free_bytes(static_cast<uint64_t>((60 - 2 * day) * kCoverageGiB));
    fs->set_available_bytes(fs->free_bytes());
    auto stored = f.store->CommitReports(health);
    REQUIRE(stored.ok());
    REQUIRE((*stored)[0].outcome == CommitOutcome::kStored);
  }
}

}  // namespace coverage_test

TEST_CASE("report from the store: coverage, the client's time zone and the disk chart") {
  using namespace coverage_test;  // NOLINT(google-build-using-namespace)
  Fixture f;
  const int64_t start = 1'795'000'000'000;  // 2026-11-18
  AddServerWithDiskHistory(f, "srv-db", start, 6);
  const int64_t now = start + 6 * kCoverageDay;
  OrganizationPatch patch;
  patch.declared_hosts = std::optional<int64_t>(10);
  REQUIRE(f.store->UpdateOrganization(f.org, patch).ok());
  OrgAlertSettings settings;
  settings.org_id = f.org;
  settings.time_zone = "Asia/Novosibirsk";
  REQUIRE(f.store->PutOrgAlertSettings(settings, "test", start).ok());

  AuditReport en = f.Build("en", now);
  CHECK(en.time_zone == "Asia/Novosibirsk");
  // 3 hosts enrolled (the fixture's two without an inventory, srv-db) of the 10 declared.
  CHECK(en.coverage.seen == 3);
  REQUIRE(en.coverage.declared.has_value());
  CHECK(*en.coverage.declared == 10);
  CHECK(en.coverage.limited);
  std::vector<std::string> kinds;
  for (const auto& gap : en.coverage.gaps) {
    kinds.push_back(gap.kind);
  }
  CHECK(kinds == std::vector<std::string>{"declared-unseen", "no-inventory", "smart-unavailable"});
  CHECK(en.coverage.gaps[0].text.find("7 machines were not audited") != std::string::npos);
  CHECK(en.coverage.gaps[2].details == std::vector<std::string>{"srv-db"});
  CHECK(en.verdict_limitation == en.text.verdict_limited);
  // Times in the client's zone (Novosibirsk is UTC+7 without daylight saving).
  CHECK(ReportTime(en, now) == FormatLocalTime("Asia/Novosibirsk", now).value());
  CHECK(ReportTime(en, now).find("+07") != std::string::npos);

  const Chart* disk = nullptr;
  for (const auto& chart : en.charts) {
    if (chart.id == "disk-srv-db") {
      disk = &chart;
    }
  }
  REQUIRE(disk != nullptr);
  REQUIRE(disk->series.size() == 2);  // "/" used and its size
  CHECK(disk->series[0].points.size() == 6);
  CHECK(disk->series[0].points.front().second == doctest::Approx(40.0 * kCoverageGiB));
  CHECK(disk->series[0].points.back().second == doctest::Approx(50.0 * kCoverageGiB));
  CHECK(disk->series[1].dashed);
  // 2 GiB a day with 50 GiB free: full in about 25 days.
  CHECK(disk->note == "/: +2.0 GiB a day; full in about 25 days");

  const std::string html = RenderHtml(en);
  CHECK(html.find("id=\"coverage\"") < html.find("id=\"must-fix\""));
  CHECK(html.find("data-gap=\"declared-unseen\"") != std::string::npos);
  CHECK(html.find("data-chart=\"disk-srv-db\"") != std::string::npos);
  CHECK(html.find("<polyline") != std::string::npos);
  CHECK(html.find("Asia/Novosibirsk") != std::string::npos);
  const std::string json = RenderJson(en);
  CHECK(json.find("\"time_zone\": \"Asia/Novosibirsk\"") != std::string::npos);
  CHECK(json.find("\"declared-unseen\"") != std::string::npos);

  AuditReport ru = f.Build("ru", now);
  CHECK(ru.coverage.gaps[0].text.find("7 машин аудит не видел") != std::string::npos);
  // Sizes read as everywhere else in the report ("2.0 GiB"), words in Russian.
  CHECK(ru.charts.back().note == "/: +2.0 GiB в день; заполнится примерно через 25 дней");
  auto pdf = RenderPdf(ru);
  REQUIRE(pdf.ok());
  CHECK(pdf->rfind("%PDF-", 0) == 0);
}

}  // namespace dozor::server::report
