// Builds the audit report model of one organisation from the store and the rule pack.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "dozor/common/result.hpp"
#include "report/report_model.hpp"
#include "rules/rule.hpp"
#include "store/finding_store.hpp"
#include "store/host_store.hpp"
#include "store/organization_store.hpp"

namespace dozor::server::report {

// Everything the report is made of, as read from the store.
struct ReportSources {
  Organization organization;
  std::vector<Finding> findings;  // open, acknowledged, regressed and waived
  std::optional<AuditSnapshot> first_audit;
  std::optional<AuditSnapshot> signing;
  EstateSummary estate;
};

// Packages counted under "notable software" in the estate summary (backup, databases, file and
// web servers, remote access, monitoring).
const std::vector<std::string>& NotablePackages();

// Pure assembly of the model (no I/O): texts from the pack in `lang` ("ru" default or "en"),
// evidence through the rule's template, scope by organisation contract type, score, progress.
AuditReport AssembleAuditReport(const ReportSources& sources, const rules::RulePack& pack,
                                int64_t now_ms, std::string_view lang);

// Reads the organisation (kNotFound if absent) and its audit snapshots, its findings and its
// estate summary from those store areas, then assembles the report.
Result<AuditReport> BuildAuditReport(OrganizationStore& organizations, FindingStore& findings,
                                     HostStore& hosts, const rules::RulePack& pack, int64_t org_id,
                                     int64_t now_ms, std::string_view lang);

}  // namespace dozor::server::report
