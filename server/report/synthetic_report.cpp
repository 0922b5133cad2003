#include "report/synthetic_report.hpp"

#include <array>

#include "report/report_charts.hpp"
#include "report/report_coverage.hpp"
#include "rules/rule.hpp"

namespace dozor::server::report {
namespace {

constexpr int64_t kNowMs = 1790000000000;  // fixed so the output is deterministic
constexpr int64_t kDayMs = 86400000;

struct SyntheticRule {
  const char* id;
  const char* severity;
  const char* category;
  const char* title_en;
  const char* title_ru;
};

constexpr std::array<SyntheticRule, 10> kRules = {{
    {"disk-space-low", "high", "hardware", "Filesystem almost full",
     "Файловая система почти заполнена"},
    {"smart-failing", "critical", "hardware", "Disk reports SMART failure",
     "Диск сообщает об отказе SMART"},
    {"os-end-of-life", "high", "os", "Operating system is end of life",
     "Операционная система больше не поддерживается"},
    {"reboot-pending", "medium", "os", "Reboot pending", "Требуется перезагрузка"},
    {"clock-not-synced", "medium", "os", "Clock not synchronised", "Часы не синхронизированы"},
    {"insecure-listener", "high", "security", "Insecure service listens on all addresses",
     "Небезопасная служба слушает все адреса"},
    {"nic-errors", "low", "network", "Network interface errors", "Ошибки сетевого интерфейса"},
    {"no-backup-software", "high", "backup", "No backup software found",
     "Не найдено ПО резервного копирования"},
    {"long-uptime", "low", "os", "Very long uptime", "Очень долгая работа без перезагрузки"},
    {"one-c-platform-mismatch", "info", "business-application", "1C platform versions differ",
     "Версии платформы 1С различаются"},
}};

ReportFinding MakeFinding(const SyntheticRule& rule, int64_t id, const HostRow* host,
                          std::string_view lang, int seed) {
  const bool ru = NormalizeLanguage(lang) == "ru";
  ReportFinding f;
  f.id = id;
  f.rule_id = rule.id;
  f.title = ru ? rule.title_ru : rule.title_en;
  f.why = ru ? "Если не устранить, возможна остановка сервиса и потеря данных клиента."
             : "Left as it is, it may stop a service or lose the client's data.";
  f.remediation = ru ? "Освободить место, заменить диск или обновить систему по регламенту."
                     : "Free space, replace the disk or upgrade the system as per procedure.";
  // One estimate per rule, as a real pack has.
  const size_t id_length = std::string_view(rule.id).size();
  f.effort_hours = (id_length % 3 == 0) ? 1 : (id_length % 3 == 1) ? 4 : 8;
  f.effort = rules::FormatEffort(*f.effort_hours, NormalizeLanguage(lang));
  f.severity = rule.severity;
  f.severity_label = SeverityLabel(rule.severity, lang);
  f.category = rule.category;
  f.category_label = CategoryLabel(rule.category, lang);
  f.state = (seed % 7 == 0) ? "acknowledged" : (seed % 11 == 0) ? "regressed" : "open";
  f.state_label = StateLabel(f.state, lang);
  if (host != nullptr) {
    f.agent_id = host->agent_id;
    f.hostname = host->hostname;
    f.target = "host:" + std::to_string(seed);
  } else {
    f.target = "org:1";
  }
  f.first_seen_ms = kNowMs - (seed % 40 + 1) * kDayMs;
  f.last_seen_ms = kNowMs - (seed % 5) * 60000;
  f.evidence = {"/: " + std::to_string(90 + seed % 10) + "% used, 4.2 GiB free",
                "/var/lib/1cv8: " + std::to_string(85 + seed % 15) + "% used"};
  return f;
}

}  // namespace

AuditReport MakeSyntheticReport(int hosts, int findings_per_host, std::string_view lang) {
  AuditReport report;
  report.lang = NormalizeLanguage(lang);
  report.text = ReportTextFor(report.lang);
  report.org_id = 1;
  report.organization = "ООО «Ромашка»";
  report.contract_type = "complex";
  report.contract_type_label = ContractTypeLabel("complex", report.lang);
  report.phase = "remediation";
  report.phase_label = PhaseLabel("remediation", report.lang);
  report.phase_meaning = PhaseMeaning("remediation", report.lang);
  report.engineer = "Иван Петров";
  report.generated_at_ms = kNowMs;

  static const std::array<const char*, 5> kOs = {"Debian GNU/Linux 12 (bookworm)",
                                                 "Ubuntu 18.04.6 LTS", "CentOS Linux 7",
                                                 "Windows Server 2012 R2", "Astra Linux 1.7"};
  static const std::array<const char*, 5> kBios = {"03/14/2012", "2016-05-01", "11/20/2019",
                                                   "2023-02-10", ""};
  for (int i = 0; i < hosts; ++i) {
    HostRow host;
    host.agent_id = "agent-" + std::to_string(i);
    host.hostname = (i % 2 == 0 ? "бух-пк-" : "srv-") + std::to_string(i);
    host.os = kOs[i % kOs.size()];
    host.role = i % 2 == 0 ? "workstation" : "server";
    host.role_label = RoleLabel(host.role, report.lang);
    host.cpu_model = "Intel(R) Xeon(R) CPU E5-2620 v4 @ 2.10GHz";
    host.cpu_cores = 4 + (i % 4) * 4;
    host.memory_bytes = int64_t{4 + (i % 8) * 4} << 30;
    host.virtual_machine = i % 3 == 0;
    host.bios_date = kBios[i % kBios.size()];
    host.last_seen_ms = kNowMs - (i % 90) * 60000;
    report.estate.hosts.push_back(std::move(host));
  }
  int64_t id = 1;
  for (int i = 0; i < hosts; ++i) {
    for (int j = 0; j < findings_per_host; ++j) {
      const auto& rule = kRules[(i + j) % kRules.size()];
      report.findings.push_back(MakeFinding(rule, id++, &report.estate.hosts[i], lang, i * 31 + j));
    }
  }
  for (int j = 0; j < 3; ++j) {
    report.findings.push_back(MakeFinding(kRules[(j * 3) % kRules.size()], id++, nullptr, lang, j));
  }
  for (int j = 0; j < std::min(hosts, 5); ++j) {
    auto waived = MakeFinding(kRules[j], id++, &report.estate.hosts[j], lang, j);
    waived.state = "waived";
    waived.state_label = StateLabel("waived", report.lang);
    waived.waived_by = "director@romashka.ru";
    waived.waive_reason = report.lang == "ru" ? "Сервер выводится из эксплуатации в марте"
                                              : "The server is decommissioned in March";
    if (j % 2 == 0) {
      waived.waived_until_ms = kNowMs + 60 * kDayMs;
    }
    report.waived.push_back(std::move(waived));
  }
  report.estate.applications = {{"1C:Enterprise 8.3 server", "8.3.22.1709", "server", 2},
                                {"1C:Enterprise 8.3 client", "8.3.22.1709", "client", 40},
                                {"1C:Enterprise 8.3 client", "8.3.18.1208", "client", 7}};
  report.estate.notable_software = {{"postgresql", "postgresql", 2}, {"samba", "samba", 3}};

  ProgressComparison first;
  first.baseline_kind = "first-audit";
  first.baseline_at_ms = kNowMs - 30 * kDayMs;
  for (size_t i = 0; i < report.findings.size() && i < 40; ++i) {
    const auto& f = report.findings[i];
    ProgressItem item{f.rule_id, f.title, f.hostname, f.severity, f.severity_label};
    (i % 3 == 0   ? first.fixed_since
     : i % 3 == 1 ? first.new_since
                  : first.still_open)
        .push_back(item);
  }
  report.progress.since_first_audit = first;

  // Coverage and charts as the builder makes them from a store: three months of history.
  report.time_zone = "Europe/Moscow";
  std::vector<EstateHost> estate_hosts;
  for (int i = 0; i < hosts; ++i) {
    EstateHost host;
    host.agent_id = report.estate.hosts[i].agent_id;
    host.hostname = report.estate.hosts[i].hostname;
    host.os_family = i % 2 == 0 ? "windows" : "linux";
    host.role = i % 2 == 0 ? HostRole::kWorkstation : HostRole::kServer;
    host.virtual_machine = report.estate.hosts[i].virtual_machine;
    host.disk_count = 1;
    host.smartctl_available = i % 5 != 1;
    host.last_inventory_ms = i % 11 == 10 ? 0 : kNowMs - kDayMs;
    host.last_seen_ms = i % 7 == 6 ? kNowMs - 9 * kDayMs : kNowMs - 60000;
    if (i % 13 == 3) {
      host.gaps.emplace_back("collector:smart", "smartctl: timed out after 30 s");
    }
    estate_hosts.push_back(std::move(host));
  }
  report.coverage = AssessCoverage(report, estate_hosts, hosts + hosts / 2 + 1, kNowMs);
  std::vector<ReadinessPoint> points;
  for (int day = 90; day >= 0; --day) {
    ReadinessPoint point;
    point.at_ms = kNowMs - day * kDayMs;
    point.score = 40 + (90 - day) * 50 / 90;
    point.active_by_severity = {day / 30, day / 10, 5 + day / 8, 12 - (90 - day) / 10, 0};
    points.push_back(point);
  }
  report.charts.push_back(ScoreChart(points, lang));
  report.charts.push_back(FindingsChart(points, lang));
  std::vector<HostDiskHistory> disks;
  for (int i = 1; i < hosts && disks.size() < 3; i += 2) {
    HostDiskHistory history{report.estate.hosts[i].hostname, {}};
    for (const char* mount : {"/", "/var/lib/postgresql"}) {
      MountHistory item{mount, {}};
      for (int day = 90; day >= 0; --day) {
        const int64_t total = int64_t{200 + 100 * i} << 30;
        const int64_t used =
            (int64_t{40 + i} << 30) + (int64_t{90 - day} << 29) * (mount[1] ? 2 : 1);
        item.days.push_back(DiskDay{kNowMs - day * kDayMs, std::min(used, total), total});
      }
      history.mounts.push_back(std::move(item));
    }
    disks.push_back(std::move(history));
  }
  for (auto& chart : DiskCharts(disks, lang)) {
    report.charts.push_back(std::move(chart));
  }
  FinalizeReport(report);
  return report;
}

}  // namespace dozor::server::report
