// How far the audit reaches: the machines it saw, per kind, and what it could not see on them or
// beyond them. A verdict over a partial view must say so (a "ready to sign" over three servers of
// a forty-PC office is not one).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "report/report_model.hpp"
#include "store/host_store.hpp"

namespace dozor::server::report {

// A host silent for longer than this is reported as not reporting: its findings are as of its
// last report.
inline constexpr int64_t kCoverageSilentMs = 3LL * 24 * 3600 * 1000;
// At most this many hosts or lines are named under one gap (the count is always whole).
inline constexpr size_t kMaxCoverageDetails = 30;

// Pure: the coverage of `hosts` (the organisation's live hosts) at now_ms, texts in the report's
// language and times in its zone (report.lang and report.time_zone must be set). `declared`: the
// machines the client says it has, when someone recorded it.
CoverageSection AssessCoverage(const AuditReport& report, const std::vector<EstateHost>& hosts,
                               std::optional<int64_t> declared, int64_t now_ms);

}  // namespace dozor::server::report
