#include "report/report_builder.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>
#include <utility>

#include "report/report_coverage.hpp"
#include "report/text_util.hpp"
#include "rules/contract_scope.hpp"

namespace dozor::server::report {
namespace {

// A report of a very large organisation stays bounded (the store caps the rows it returns).
constexpr int kMaxReportFindings = 100000;

std::string HostOs(const EstateHost& host) {
  if (!host.os_pretty_name.empty()) {
    return host.os_pretty_name;
  }
  std::string os = host.os_id;
  if (!host.os_version_id.empty()) {
    os += (os.empty() ? "" : " ") + host.os_version_id;
  }
  return os;
}

// `host_duties`: of the host the finding is about (none for an estate-wide finding), for the
// contract scope (rules/contract_scope.hpp).
ReportFinding ToReportFinding(const Finding& finding, const rules::RulePack& pack,
                              std::string_view contract_type, HostDuties host_duties,
                              std::string_view lang) {
  ReportFinding out;
  const rules::Rule* rule = pack.Find(finding.rule_id);
  out.id = finding.id;
  out.rule_id = SanitizeUtf8(finding.rule_id);
  if (rule != nullptr) {
    out.title = rule->title.In(lang);
    out.why = rule->why.In(lang);
    out.remediation = rule->remediation.In(lang);
    out.effort_hours = rule->effort_hours;
    out.effort = rules::FormatEffort(rule->effort_hours, lang);
    out.in_scope = rules::InContractScope(*rule, contract_type, host_duties);
    out.evidence = RenderEvidence(finding.evidence_json, rule->evidence_template.In(lang));
  } else {
    // A rule removed from the pack (or from an override directory): still shown, counted.
    out.title = out.rule_id;
    out.in_scope = true;
    out.evidence = RenderEvidence(finding.evidence_json, "");
  }
  out.severity = std::string(ToString(finding.severity));
  out.severity_label = SeverityLabel(out.severity, lang);
  out.category = finding.category;
  out.category_label = CategoryLabel(finding.category, lang);
  out.state = std::string(ToString(finding.state));
  out.state_label = StateLabel(out.state, lang);
  out.target = finding.target;
  out.agent_id = finding.agent_id;
  out.hostname = SanitizeUtf8(finding.hostname);
  out.object = SanitizeUtf8(finding.object);
  out.first_seen_ms = finding.first_seen_ms;
  out.last_seen_ms = finding.last_seen_ms;
  out.regressions = finding.regressions;
  out.ack_by = finding.ack_by;
  out.ack_comment = finding.ack_comment;
  out.waived_by = finding.waived_by;
  out.waive_reason = finding.waive_reason;
  out.waived_until_ms = finding.waived_until_ms;
  return out;
}

ProgressItem ItemOf(const std::string& rule_id, const std::string& hostname,
                    const std::string& object, const std::string& severity,
                    const rules::RulePack& pack, std::string_view lang) {
  const rules::Rule* rule = pack.Find(rule_id);
  return ProgressItem{rule_id,
                      rule != nullptr ? rule->title.In(lang) : rule_id,
                      SanitizeUtf8(hostname),
                      severity,
                      SeverityLabel(severity, lang),
                      SanitizeUtf8(object)};
}

// Compares a baseline with the active findings by (rule id, target, object). Waived and resolved
// entries of the snapshot are not part of the baseline; waived findings now are not active. A
// baseline entry taken before its rule named objects ("" object) stands for every object of that
// rule and host: still open while any of them is, fixed when none is.
ProgressComparison Compare(const AuditSnapshot& snapshot, const std::vector<Finding>& findings,
                           const rules::RulePack& pack, std::string_view lang) {
  ProgressComparison out;
  out.baseline_kind = std::string(ToString(snapshot.kind));
  out.baseline_at_ms = snapshot.at_ms;
  using Key = std::tuple<std::string, std::string, std::string>;  // rule, target, object
  std::set<Key> baseline;
  for (const auto& entry : snapshot.findings) {
    if (IsActiveState(ToString(entry.state))) {
      baseline.emplace(entry.rule_id, entry.target, entry.object);
    }
  }
  std::set<Key> active;
  for (const auto& finding : findings) {
    if (!IsActiveState(ToString(finding.state))) {
      continue;
    }
    Key key{finding.rule_id, finding.target, finding.object};
    Key whole{finding.rule_id, finding.target, ""};
    active.insert(key);
    active.insert(whole);
    auto item = ItemOf(finding.rule_id, finding.hostname, finding.object,
                       std::string(ToString(finding.severity)), pack, lang);
    const bool known = baseline.count(key) != 0 || baseline.count(whole) != 0;
    (known ? out.still_open : out.new_since).push_back(std::move(item));
  }
  for (const auto& entry : snapshot.findings) {
    Key key{entry.rule_id, entry.target, entry.object};
    if (baseline.count(key) != 0 && active.count(key) == 0) {
      out.fixed_since.push_back(ItemOf(entry.rule_id, entry.hostname, entry.object,
                                       std::string(ToString(entry.severity)), pack, lang));
      active.insert(key);  // a snapshot should not repeat a finding; never list it twice
    }
  }
  auto by_severity = [](const ProgressItem& a, const ProgressItem& b) {
    int ra = SeverityRank(a.severity), rb = SeverityRank(b.severity);
    return ra != rb ? ra < rb : a.hostname < b.hostname;
  };
  std::stable_sort(out.fixed_since.begin(), out.fixed_since.end(), by_severity);
  std::stable_sort(out.new_since.begin(), out.new_since.end(), by_severity);
  std::stable_sort(out.still_open.begin(), out.still_open.end(), by_severity);
  return out;
}

}  // namespace

const std::vector<std::string>& NotablePackages() {
  static const std::vector<std::string> kPackages = {"bacula-client",
                                                     "bareos-filedaemon",
                                                     "borgbackup",
                                                     "restic",
                                                     "duplicity",
                                                     "rsnapshot",
                                                     "urbackup-client",
                                                     "veeam",
                                                     "amanda-client",
                                                     "postgresql",
                                                     "mariadb-server",
                                                     "mysql-server",
                                                     "samba",
                                                     "nginx",
                                                     "apache2",
                                                     "openssh-server",
                                                     "xrdp",
                                                     "zabbix-agent",
                                                     "zabbix-agent2",
                                                     "docker-ce",
                                                     "docker.io"};
  return kPackages;
}

AuditReport AssembleAuditReport(const ReportSources& sources, const rules::RulePack& pack,
                                int64_t now_ms, std::string_view lang_in) {
  AuditReport report;
  const std::string lang = NormalizeLanguage(lang_in);
  const Organization& org = sources.organization;
  report.lang = lang;
  report.text = ReportTextFor(lang);
  report.org_id = org.id;
  report.organization = SanitizeUtf8(org.name);
  report.contract_type = std::string(ToString(org.contract_type));
  report.contract_type_label = ContractTypeLabel(report.contract_type, lang);
  report.phase = std::string(ToString(org.contract_status));
  report.phase_label = PhaseLabel(report.phase, lang);
  report.phase_meaning = PhaseMeaning(report.phase, lang);
  report.engineer = SanitizeUtf8(org.engineer);
  report.generated_at_ms = now_ms;
  report.time_zone = sources.time_zone.empty() ? "UTC" : sources.time_zone;
  report.coverage = AssessCoverage(report, sources.estate.hosts, sources.declared_hosts, now_ms);
  report.charts.push_back(ScoreChart(sources.readiness, lang));
  report.charts.push_back(FindingsChart(sources.readiness, lang));
  for (auto& chart : DiskCharts(sources.disks, lang)) {
    report.charts.push_back(std::move(chart));
  }

  // A finding on a host that is no longer live (not in the estate) has no duties: its rule alone
  // decides its scope, as for an estate-wide finding.
  std::map<std::string, HostDuties, std::less<>> duties_by_host;
  for (const auto& host : sources.estate.hosts) {
    duties_by_host[host.agent_id] = host.duties;
  }
  for (const auto& finding : sources.findings) {
    const auto host = duties_by_host.find(finding.agent_id);
    const HostDuties duties = host != duties_by_host.end() ? host->second : HostDuties();
    if (IsActiveState(ToString(finding.state))) {
      report.findings.push_back(ToReportFinding(finding, pack, report.contract_type, duties, lang));
    } else if (finding.state == FindingState::kWaived) {
      report.waived.push_back(ToReportFinding(finding, pack, report.contract_type, duties, lang));
    }
  }

  for (const auto& host : sources.estate.hosts) {
    HostRow row;
    row.agent_id = host.agent_id;
    row.hostname = SanitizeUtf8(host.hostname);
    row.os = SanitizeUtf8(HostOs(host));
    row.os_version = SanitizeUtf8(
        OsVersionLabel(host.os_family, host.os_id, host.os_version_id, host.os_pretty_name));
    // The report's rows are its output: the role's spelling from here on.
    row.role = std::string(ToString(host.role));
    row.role_label = RoleLabel(row.role, lang);
    for (HostDuty duty : host.duties.List()) {
      row.duties.emplace_back(ToString(duty));
      row.duties_label +=
          (row.duties_label.empty() ? "" : ", ") + DutyLabel(row.duties.back(), lang);
    }
    row.cpu_model = SanitizeUtf8(host.cpu_model);
    row.cpu_cores = host.cpu_cores;
    row.memory_bytes = host.memory_bytes;
    row.virtual_machine = host.virtual_machine;
    row.bios_date = SanitizeUtf8(host.bios_date);
    row.last_seen_ms = host.last_seen_ms;
    report.estate.hosts.push_back(std::move(row));
  }
  for (const auto& app : sources.estate.applications) {
    report.estate.applications.push_back(ApplicationRow{
        SanitizeUtf8(app.name), SanitizeUtf8(app.version), SanitizeUtf8(app.kind), app.hosts});
  }
  for (const auto& [name, hosts] : sources.estate.package_hosts) {
    if (hosts > 0) {
      report.estate.notable_software.push_back(CountEntry{name, name, hosts});
    }
  }

  if (sources.first_audit) {
    report.progress.since_first_audit = Compare(*sources.first_audit, sources.findings, pack, lang);
  } else {
    report.progress.note =
        lang == "ru" ? "Первый аудит ещё не зафиксирован: он записывается, когда договор "
                       "переходит на этап устранения проблем."
                     : "No first audit recorded yet: it is recorded when the contract moves to "
                       "remediation.";
  }
  if (org.contract_status == ContractPhase::kActive && sources.signing) {
    report.progress.since_signing = Compare(*sources.signing, sources.findings, pack, lang);
  }
  FinalizeReport(report);
  return report;
}

Result<std::vector<HostDiskHistory>> ReadDiskHistory(HostStore& hosts, const EstateSummary& estate,
                                                     int64_t now_ms) {
  // A hostile agent may report thousands of mounts: follow at most this many per host.
  constexpr size_t kMaxTrackedMounts = 64;
  constexpr int64_t kDayMs = 86'400'000;
  std::vector<const EstateHost*> servers;
  for (const auto& host : estate.hosts) {
    if (host.role == HostRole::kServer && host.last_inventory_ms > 0) {
      servers.push_back(&host);
    }
  }
  std::sort(servers.begin(), servers.end(), [](const EstateHost* a, const EstateHost* b) {
    return a->hostname != b->hostname ? a->hostname < b->hostname : a->agent_id < b->agent_id;
  });
  std::vector<HostDiskHistory> out;
  for (const EstateHost* host : servers) {
    if (out.size() >= kMaxDiskChartHosts) {
      break;
    }
    std::map<std::string, std::map<int64_t, DiskDay>> by_mount;  // mount -> day -> last sample
    DOZOR_RETURN_IF_ERROR(hosts.VisitHealth(
        host->agent_id, now_ms - kDiskChartSpanMs, now_ms + 1,
        [&](int64_t at_ms, const dozor::v1::HealthSample& sample) {
          for (const auto& fs : sample.filesystems()) {
            if (fs.total_bytes() == 0 || fs.free_bytes() > fs.total_bytes()) {
              continue;
            }
            auto mount = by_mount.find(fs.mount_point());
            if (mount == by_mount.end()) {
              if (by_mount.size() >= kMaxTrackedMounts) {
                continue;
              }
              mount = by_mount.emplace(fs.mount_point(), std::map<int64_t, DiskDay>()).first;
            }
            DiskDay& day = mount->second[at_ms / kDayMs];
            if (at_ms >= day.at_ms) {
              day = DiskDay{at_ms, static_cast<int64_t>(fs.total_bytes() - fs.free_bytes()),
                            static_cast<int64_t>(fs.total_bytes())};
            }
          }
        }));
    HostDiskHistory history;
    history.hostname = host->hostname.empty() ? host->agent_id : host->hostname;
    for (auto& [mount, days] : by_mount) {
      MountHistory item{mount, {}};
      for (auto& [index, day] : days) {
        item.days.push_back(day);
      }
      history.mounts.push_back(std::move(item));
    }
    // The largest filesystems now first; the rest of the mounts are not charted.
    std::sort(history.mounts.begin(), history.mounts.end(),
              [](const MountHistory& a, const MountHistory& b) {
                const int64_t sa = a.days.back().total_bytes, sb = b.days.back().total_bytes;
                return sa != sb ? sa > sb : a.mount < b.mount;
              });
    if (history.mounts.size() > kMaxDiskChartMounts) {
      history.mounts.resize(kMaxDiskChartMounts);
    }
    if (!history.mounts.empty()) {
      out.push_back(std::move(history));
    }
  }
  return out;
}

Result<AuditReport> BuildAuditReport(Store& store, const rules::RulePack& pack, int64_t org_id,
                                     int64_t now_ms, std::string_view lang) {
  OrganizationStore& organizations = store.Organizations();
  ReportSources sources;
  DOZOR_ASSIGN_OR_RETURN(sources.organization,
                         organizations.FindOrganization(std::to_string(org_id)));
  FindingFilter filter;
  filter.org_id = org_id;
  filter.states.assign(std::begin(kActiveFindingStates), std::end(kActiveFindingStates));
  filter.limit = kMaxReportFindings;
  DOZOR_ASSIGN_OR_RETURN(sources.findings, store.Findings().ListFindings(filter));
  DOZOR_ASSIGN_OR_RETURN(sources.first_audit,
                         organizations.GetAuditSnapshot(org_id, AuditSnapshotKind::kFirstAudit));
  DOZOR_ASSIGN_OR_RETURN(sources.signing,
                         organizations.GetAuditSnapshot(org_id, AuditSnapshotKind::kSigning));
  DOZOR_ASSIGN_OR_RETURN(sources.estate, store.Hosts().GetEstateSummary(org_id, NotablePackages()));
  DOZOR_ASSIGN_OR_RETURN(auto alert_settings, store.Alerts().GetOrgAlertSettings(org_id));
  sources.time_zone = alert_settings.time_zone;
  sources.declared_hosts = sources.organization.declared_hosts;
  DOZOR_ASSIGN_OR_RETURN(auto trend,
                         BuildReadinessTrend(store, &pack, sources.organization, now_ms));
  sources.readiness = std::move(trend.points);
  DOZOR_ASSIGN_OR_RETURN(sources.disks, ReadDiskHistory(store.Hosts(), sources.estate, now_ms));
  return AssembleAuditReport(sources, pack, now_ms, lang);
}

}  // namespace dozor::server::report
