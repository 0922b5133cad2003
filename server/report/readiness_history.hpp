// The readiness score of an organisation in the past, reconstructed from its findings' state
// changes and its hosts' enrollment and revocation, with the audit report's formula
// (ReadinessScore in report_model.hpp). Pure functions; no I/O, no clock.
//
// What history does not keep is taken as it is now: a finding's severity, and whether it is in
// the organisation's contract scope (the current type, rule and host duties; a rule no longer in
// the pack counts, as in the report).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>
#include <vector>

#include "dozor/common/result.hpp"
#include "rules/rule.hpp"
#include "store/finding_store.hpp"
#include "store/host_store.hpp"
#include "store/store.hpp"

namespace dozor::server::report {

struct ReadinessPoint {
  int64_t at_ms = 0;
  int score = 100;
  int64_t active_findings = 0;  // open, acknowledged or regressed at that time (any scope)
  // The same by severity (SeverityRank order: critical, high, medium, low, info), with today's
  // severity of each finding.
  std::array<int64_t, 5> active_by_severity{};
};

inline constexpr size_t kMaxReadinessPoints = 400;

// The past times of a trend from `start_ms` to `now_ms`: `start_ms` itself, then UTC midnights
// after it, one a day, or every N days when a day each would make more than `max_points` points
// with the "now" point the caller adds. Every time is before `now_ms`; none when start_ms >=
// now_ms. max_points must be at least 3.
std::vector<int64_t> ReadinessTimes(int64_t start_ms, int64_t now_ms,
                                    size_t max_points = kMaxReadinessPoints);

// The score at each of `past_times` (ascending, before now) and then now: one point per time plus
// a last one at `now_ms`.
//  - At a past time t a host counts while enrolled_at <= t < revoked_at, and a finding is in the
//    state of its last change at or before t (before its first change it did not exist yet; a
//    finding without recorded changes is taken to have been in its current state since it was
//    first seen).
//  - Now, hosts count unless revoked and findings are in their current state: exactly what the
//    organisation's summary counts, so the last point equals its readiness_score.
// A finding counts towards the score when active (open, acknowledged, regressed) and
// `in_scope(finding)` (its rule and host: rules/contract_scope.hpp); one on a host not counted at
// that time counts as one more host, as in ReadinessScore.
std::vector<ReadinessPoint> ReconstructReadiness(
    const std::vector<FindingTimeline>& findings, const std::vector<HostLifetime>& hosts,
    const std::function<bool(const FindingTimeline& finding)>& in_scope,
    const std::vector<int64_t>& past_times, int64_t now_ms);

// The score from the trend's start to now, as the store knows it.
struct ReadinessTrend {
  std::optional<int64_t> first_audit_at_ms;
  // The store reads at most kMaxFindingTimelines findings (the oldest): a trend drawn from them
  // leaves the rest out, and says so.
  bool partial = false;
  std::vector<ReadinessPoint> points;
};

// Starts at the first-audit baseline; without one at the first finding; without any at the
// organisation's creation. Scope as the audit report decides it (the live hosts' duties; a rule
// not in `pack`, or no pack, counts).
Result<ReadinessTrend> BuildReadinessTrend(Store& store, const rules::RulePack* pack,
                                           const Organization& org, int64_t now_ms);

}  // namespace dozor::server::report
