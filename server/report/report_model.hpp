// The audit report model: plain structs with every text already in the report's language, so
// each renderer (HTML, JSON, CSV, PDF) is a pure function of this model. Built from the store by
// BuildAuditReport (report_builder.hpp) or synthetically by MakeSyntheticReport.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dozor::server::report {

// Headings and fixed phrases in the report's language (filled by ReportTextFor).
struct ReportText {
  std::string title;  // "Pre-contract audit report"
  std::string organization, contract_type, phase, engineer, generated_at;
  std::string readiness_score, verdict;
  std::string must_fix, must_fix_short, must_fix_empty;
  std::string must_fix_effort;  // "Estimated work to fix"
  std::string no_estimate;      // "without an estimate" (findings whose rule is gone)
  // "counted above": a further object of a rule already estimated for that host
  std::string estimate_included;
  std::string findings_by_severity, findings_by_category, findings_by_host, waived_findings;
  std::string counts, severity, category, state, host, rule, first_seen, last_seen, evidence;
  std::string why, remediation, effort, estate_wide, out_of_scope;
  std::string waived_by, waive_reason, waived_until, no_expiry, no_findings;
  std::string machines_by_os_version;  // "Machines seen per OS version"
  std::string estate_summary, hosts, hosts_by_os, hosts_by_role, hardware_age, virtual_machines,
      physical_machines, total_memory, total_cores, applications, notable_software, host_table, os,
      role, cpu_ram, last_seen_host, version, kind, host_count, score;
  std::string progress, progress_since_first_audit, progress_since_signing, fixed_since, new_since,
      still_open, baseline_recorded, none;
  std::string page_of;  // "page {n} of {m}"
  std::string total;
  std::string time_zone;  // "Times are in"
  std::string coverage, coverage_seen, coverage_gaps, coverage_complete, verdict_limited;
  std::string charts, no_chart_data;
};

// Returns the text table for "ru" (default) or "en"; any other language gets Russian.
ReportText ReportTextFor(std::string_view lang);
// "ru" or "en": the language a request resolves to.
std::string NormalizeLanguage(std::string_view lang);

// The OS name and version a machine is counted under in the estate summary: "Windows 11",
// "Windows Server 2012 R2", "Windows 7" (from the Windows agent's version_id), "Debian 12",
// "Ubuntu 22.04", "Rocky Linux 9" (the major release for the RHEL family and Debian). Without an
// ID the pretty name, and "" when nothing is known. Pure.
std::string OsVersionLabel(std::string_view family, std::string_view os_id,
                           std::string_view version_id, std::string_view pretty_name);

// Localized labels of the fixed vocabularies.
std::string SeverityLabel(std::string_view severity, std::string_view lang);
std::string CategoryLabel(std::string_view category, std::string_view lang);
std::string StateLabel(std::string_view state, std::string_view lang);
std::string PhaseLabel(std::string_view phase, std::string_view lang);
std::string PhaseMeaning(std::string_view phase, std::string_view lang);
std::string ContractTypeLabel(std::string_view contract_type, std::string_view lang);
std::string RoleLabel(std::string_view role, std::string_view lang);
// A host duty, short for table cells: "1C", "DBMS" ("1С", "СУБД" in Russian).
std::string DutyLabel(std::string_view duty, std::string_view lang);
// 0 for critical ... 4 for info, 5 for anything else (sort order).
int SeverityRank(std::string_view severity);

struct ReportFinding {
  int64_t id = 0;
  std::string rule_id;
  std::string title, why, remediation;  // in the report's language; title = rule id if the rule
                                        // is not in the pack
  // The rule's estimate for this one finding (one host, or the estate), in working hours, and as
  // shown in the report's language ("4 h", "0,5 ч"). None / "" when the rule is not in the pack.
  std::optional<double> effort_hours;
  std::string effort;
  std::string severity, severity_label, category, category_label, state, state_label;
  std::string target;              // "host:<pk>" or "org:<id>"
  std::string agent_id, hostname;  // empty for an estate-wide finding
  std::string object;              // what on the host ("/var", "eth0"); "" the whole host
  int64_t first_seen_ms = 0, last_seen_ms = 0;
  std::vector<std::string> evidence;  // one line per evidence row (template or key=value list)
  bool in_scope = true;               // rule belongs to the organisation's contract type
  bool must_fix = false;              // active, in scope, critical or high
  // False for a further object of a rule on a host already listed (/boot after /var): the
  // estimate is per host, so it is shown and quoted once.
  bool estimate_counted = true;
  int64_t regressions = 0;
  std::string ack_by, ack_comment;
  std::string waived_by, waive_reason;
  std::optional<int64_t> waived_until_ms;
};

struct CountEntry {
  std::string key, label;
  int64_t count = 0;
};

// Findings grouped under one key; indexes point into AuditReport::findings.
struct FindingGroup {
  std::string key, label;
  std::vector<size_t> finding_indexes;
};

struct ApplicationRow {
  std::string name, version, kind;
  int64_t hosts = 0;
};

struct HostRow {
  std::string agent_id, hostname, os, role, role_label, cpu_model;
  // What the host does for the business ("database", "onec"; rules/contract_scope.hpp) and as
  // shown after the role: "1C, DBMS"; empty for none.
  std::vector<std::string> duties;
  std::string duties_label;
  std::string os_version;  // OsVersionLabel: "Windows 11", "Debian 12"; empty: grouped by `os`
  int64_t cpu_cores = 0, memory_bytes = 0;
  bool virtual_machine = false;
  std::string bios_date;
  int64_t last_seen_ms = 0;
  int score = 100;  // host readiness score
  int64_t active_findings = 0;
};

struct EstateSection {
  int64_t host_count = 0, virtual_count = 0, physical_count = 0;
  int64_t total_memory_bytes = 0, total_cores = 0;
  std::vector<CountEntry> by_os, by_role, by_hardware_age;
  // Machines per OS name and version ("Windows 11", "Windows Server 2019", "Debian 12"), most
  // first, and the same as one line: "Windows 11: 12, Windows Server 2019: 2, Debian 12: 3".
  std::vector<CountEntry> by_os_version;
  std::string os_version_summary;
  std::vector<ApplicationRow> applications;  // incl. 1C:Enterprise versions
  std::vector<CountEntry> notable_software;  // package name -> hosts that have it
  std::vector<HostRow> hosts;
};

struct ProgressItem {
  std::string rule_id, title, hostname, severity, severity_label;
  std::string object;  // "" for a finding about the whole host or the estate
};

struct ProgressComparison {
  std::string baseline_kind;  // first-audit | signing
  int64_t baseline_at_ms = 0;
  std::vector<ProgressItem> fixed_since, new_since, still_open;
};

struct ProgressSection {
  std::optional<ProgressComparison> since_first_audit;
  std::optional<ProgressComparison> since_signing;
  std::string note;  // set when there is no first-audit baseline yet
};

// ------------------------------------------------------------------ coverage
// What the audit saw and what it could not: the reader must know how far the verdict reaches.
struct CoverageGap {
  // declared-unseen | no-inventory | not-reporting | smart-unavailable | collector-failing |
  // part-unavailable
  std::string kind;
  std::string text;                  // in the report's language, with the count
  std::vector<std::string> details;  // "db1", "db1: hardware: ZFS pools: zpool list failed"
};

struct CoverageSection {
  int64_t seen = 0;                      // live hosts with an agent
  std::optional<int64_t> declared;       // machines the client says it has; none: not asked
  std::vector<CountEntry> seen_by_kind;  // "Windows workstations": 12, "Linux servers": 3
  std::vector<CoverageGap> gaps;
  bool limited = false;  // some gap: the verdict holds only for what was seen
};

// ------------------------------------------------------------------ charts
// A line chart the server renders itself into the HTML (SVG) and the PDF (cairo): no script, no
// external service, so a report mailed or printed shows the same picture.
struct ChartSeries {
  std::string label;
  std::string color;                               // "#rrggbb"
  std::vector<std::pair<int64_t, double>> points;  // (time in ms, value), ascending time
  bool dashed = false;  // a limit (the filesystem's size) rather than a measurement
};

struct Chart {
  std::string id;     // "score", "findings", "disk-<host>"
  std::string title;  // in the report's language
  std::string unit;   // "score" (0..100), "count", "bytes": how the axis is labelled
  double y_max = 0;   // the axis top; 0: from the data
  std::vector<ChartSeries> series;
  std::string note;  // a line under the chart ("+1.2 GiB a day; full in about 40 days")
};

struct AuditReport {
  std::string lang = "ru";
  // The client's time zone (its alert settings, "Europe/Moscow" by default): every time in the
  // report is shown in it.
  std::string time_zone = "UTC";
  ReportText text;
  int64_t org_id = 0;
  std::string organization, contract_type, contract_type_label;
  std::string phase, phase_label, phase_meaning;  // prospect | remediation | active | ended
  std::string engineer;
  int64_t generated_at_ms = 0;

  int readiness_score = 100;
  bool ready_to_sign = true;
  std::string verdict;  // localized
  // Set when coverage.limited: "limited to what the audit could see (see Coverage)".
  std::string verdict_limitation;
  CoverageSection coverage;
  std::vector<Chart> charts;

  std::vector<ReportFinding> findings;  // active (open, acknowledged, regressed), severity order
  std::vector<ReportFinding> waived;
  std::vector<size_t> must_fix;                                    // indexes into findings
  std::vector<CountEntry> by_severity_counts, by_category_counts;  // active findings
  std::vector<FindingGroup> by_severity, by_category, by_host;
  // The quote for the must-fix list: the sum of its findings' estimates (a per-host rule firing
  // on 5 hosts is 5 findings, so 5 x its hours; an estate rule counts once), as shown ("37.5 h"),
  // and how many must-fix findings have no estimate (their rule is no longer in the pack).
  double must_fix_effort_hours = 0;
  std::string must_fix_effort;
  int64_t must_fix_unestimated = 0;
  EstateSection estate;
  ProgressSection progress;
};

// ------------------------------------------------------------------ readiness score
// Only active in-scope findings count. host score = max(0, 100 - sum of its penalties) with
// critical 40, high 15, medium 5, low 1, info 0; estate score = mean host score (100 without
// hosts) - estate-wide penalties (critical 20, high 10, medium 3, low 1), clamped to 0..100 and
// rounded. See docs/audit-report.md.
// Findings of one rule on one host count once whatever objects they are about (three full
// filesystems are one "disk space" problem of that host, as before findings were per object);
// a finding without a rule id always counts.
struct ScoredFinding {
  std::string severity;
  std::string host_key;  // empty for an estate-wide finding
  std::string rule_id;
};
int HostPenalty(std::string_view severity);
int EstatePenalty(std::string_view severity);
int HostScore(const std::vector<std::string_view>& severities);
// host_keys: every live host of the organisation; a finding on a host not in the list counts as
// one more host.
int ReadinessScore(const std::vector<std::string>& host_keys,
                   const std::vector<ScoredFinding>& findings);

bool IsActiveState(std::string_view state);  // open | acknowledged | regressed

// Evidence rows (a JSON array of objects) as text lines through a "{column}" template; rows
// without a template (or when the JSON is not an array of objects) become "key=value, ...".
// host_id / org_id columns are dropped from the fallback. At most kMaxEvidenceRows lines.
inline constexpr size_t kMaxEvidenceRows = 20;
std::vector<std::string> RenderEvidence(std::string_view evidence_json,
                                        std::string_view evidence_template);

// Fills counts, groups, must-fix indexes and their quote, host scores, readiness score and verdict
// from report.findings / report.estate.hosts (used by the builder and the synthetic report).
void FinalizeReport(AuditReport& report);

// The report's title for a contract phase: "Pre-contract audit report" before signing
// (prospect, remediation, or no phase), "Infrastructure audit report" once signed (active,
// ended); Russian for lang "ru".
std::string ReportTitle(std::string_view phase, std::string_view lang);

// "Estimated work to fix: 37.5 h" plus, when some must-fix findings have no estimate, "(2
// without an estimate)": the quote line under the must-fix list.
std::string MustFixEffortLine(const AuditReport& report);

// "2026-11-26 20:39 UTC"; "—" for 0.
std::string FormatTime(int64_t ms);
// The time in the report's time zone: "2026-11-26 23:39 MSK"; "—" for 0; UTC when the zone is
// not in the installed tzdata. ReportDate: its date only, "2026-11-26".
std::string ReportTime(const AuditReport& report, int64_t ms);
std::string ReportDate(const AuditReport& report, int64_t ms);
// "1.5 GiB", "512 MiB".
std::string FormatBytes(int64_t bytes);
// The finding's hostname, or the report's "estate-wide" label for an organisation-wide finding.
std::string FindingHostLabel(const AuditReport& report, const ReportFinding& finding);
// "db1", "db1: /var" (a finding about an object of the host), the estate-wide label without host.
std::string HostObjectLabel(const AuditReport& report, const std::string& hostname,
                            const std::string& object);

}  // namespace dozor::server::report
