// Builds the audit report model of one organisation from the store and the rule pack.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "dozor/common/result.hpp"
#include "report/readiness_history.hpp"
#include "report/report_charts.hpp"
#include "report/report_model.hpp"
#include "rules/rule.hpp"
#include "store/finding_store.hpp"
#include "store/host_store.hpp"
#include "store/organization_store.hpp"
#include "store/store.hpp"

namespace dozor::server::report {

// Everything the report is made of, as read from the store.
struct ReportSources {
  Organization organization;
  std::vector<Finding> findings;  // open, acknowledged, regressed and waived
  std::optional<AuditSnapshot> first_audit;
  std::optional<AuditSnapshot> signing;
  EstateSummary estate;
  std::string time_zone = "UTC";          // the client's (its alert settings)
  std::optional<int64_t> declared_hosts;  // the machines the client says it has
  std::vector<ReadinessPoint> readiness;  // the score since the trend's start
  std::vector<HostDiskHistory> disks;     // servers' filesystems, daily
};

// Packages counted under "notable software" in the estate summary (backup, databases, file and
// web servers, remote access, monitoring).
const std::vector<std::string>& NotablePackages();

// Pure assembly of the model (no I/O): texts from the pack in `lang` ("ru" default or "en"),
// evidence through the rule's template, scope by organisation contract type, score, progress.
AuditReport AssembleAuditReport(const ReportSources& sources, const rules::RulePack& pack,
                                int64_t now_ms, std::string_view lang);

// Reads the organisation (kNotFound if absent), its audit snapshots, findings, estate summary,
// time zone, readiness history and its servers' disk history, then assembles the report.
Result<AuditReport> BuildAuditReport(Store& store, const rules::RulePack& pack, int64_t org_id,
                                     int64_t now_ms, std::string_view lang);

// The daily disk history of the organisation's servers over the last kDiskChartSpanMs, the
// largest kMaxDiskChartMounts filesystems of each of the first kMaxDiskChartHosts servers.
Result<std::vector<HostDiskHistory>> ReadDiskHistory(HostStore& hosts, const EstateSummary& estate,
                                                     int64_t now_ms);

}  // namespace dozor::server::report
