#include "report/readiness_history.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "report/report_model.hpp"

namespace dozor::server::report {
namespace {

constexpr int64_t kDay = 86'400'000;
constexpr int64_t kHour = 3'600'000;
// Midnight UTC.
constexpr int64_t kT0 = 1'800'000'000'000 - 1'800'000'000'000 % kDay;

FindingTimeline Timeline(std::string rule, std::string agent, Severity severity,
                         std::vector<FindingStateChange> changes) {
  FindingTimeline finding;
  finding.rule_id = std::move(rule);
  finding.agent_id = std::move(agent);
  finding.severity = severity;
  finding.first_seen_ms = changes.empty() ? 0 : changes.front().at_ms;
  finding.state = changes.empty() ? FindingState::kOpen : changes.back().to_state;
  finding.changes = std::move(changes);
  return finding;
}

bool AllInScope(const FindingTimeline& /*finding*/) { return true; }

std::vector<int> Scores(const std::vector<ReadinessPoint>& points) {
  std::vector<int> out;
  for (const auto& point : points) {
    out.push_back(point.score);
  }
  return out;
}

TEST_CASE("readiness times: the start, then midnights, all before now") {
  CHECK(ReadinessTimes(kT0, kT0).empty());
  CHECK(ReadinessTimes(kT0 + 5, kT0).empty());
  CHECK(ReadinessTimes(kT0 + kHour, kT0 + 2 * kHour) == std::vector<int64_t>{kT0 + kHour});
  const auto week = ReadinessTimes(kT0 + 10 * kHour, kT0 + 7 * kDay + kHour);
  REQUIRE(week.size() == 8);
  CHECK(week[0] == kT0 + 10 * kHour);
  CHECK(week[1] == kT0 + kDay);
  CHECK(week[7] == kT0 + 7 * kDay);
  // Now exactly at midnight: that midnight is the "now" point, not a past one.
  CHECK(ReadinessTimes(kT0, kT0 + 3 * kDay).back() == kT0 + 2 * kDay);
}

TEST_CASE("readiness times widen the step so a long history stays within the point budget") {
  const int64_t now = kT0 + 1500 * kDay + kHour;
  const auto times = ReadinessTimes(kT0 + kHour, now);
  CHECK(times.size() + 1 <= kMaxReadinessPoints);
  CHECK(times.size() > kMaxReadinessPoints / 2);
  CHECK(times.front() == kT0 + kHour);
  CHECK(times[2] - times[1] == 4 * kDay);
  for (size_t i = 1; i < times.size(); ++i) {
    CHECK(times[i] > times[i - 1]);
    CHECK(times[i] % kDay == 0);
    CHECK(times[i] < now);
  }
  const auto small = ReadinessTimes(kT0 + kHour, now, 10);
  CHECK(small.size() <= 9);
}

TEST_CASE("readiness follows a finding through open, acknowledged, waived and resolved") {
  const std::vector<HostLifetime> hosts = {{"a", kT0, std::nullopt}};
  const std::vector<FindingTimeline> findings = {
      Timeline("disk", "a", Severity::kHigh,
               {{kT0 + 1 * kDay, FindingState::kOpen},
                {kT0 + 2 * kDay, FindingState::kAcknowledged},
                {kT0 + 3 * kDay, FindingState::kWaived},
                {kT0 + 4 * kDay, FindingState::kOpen},
                {kT0 + 5 * kDay, FindingState::kResolved}})};
  std::vector<int64_t> times;
  for (int day = 0; day <= 5; ++day) {
    times.push_back(kT0 + day * kDay);
  }
  const auto points = ReconstructReadiness(findings, hosts, AllInScope, times, kT0 + 6 * kDay);
  REQUIRE(points.size() == 7);
  CHECK(Scores(points) == std::vector<int>{100, 85, 85, 100, 85, 100, 100});
  CHECK(points[1].active_findings == 1);
  CHECK(points[3].active_findings == 0);
  CHECK(points[6].at_ms == kT0 + 6 * kDay);
}

TEST_CASE("readiness counts hosts while enrolled and not revoked") {
  // Host b is enrolled on day 2 and revoked on day 4; host a carries a critical finding all along.
  const std::vector<HostLifetime> hosts = {{"a", kT0, std::nullopt},
                                           {"b", kT0 + 2 * kDay, kT0 + 4 * kDay}};
  const std::vector<FindingTimeline> findings = {
      Timeline("crit", "a", Severity::kCritical, {{kT0, FindingState::kOpen}})};
  const std::vector<int64_t> times = {kT0 + kDay, kT0 + 3 * kDay, kT0 + 5 * kDay};
  const auto points = ReconstructReadiness(findings, hosts, AllInScope, times, kT0 + 6 * kDay);
  // One host at 60; two hosts (60 and 100) average 80; one again.
  CHECK(Scores(points) == std::vector<int>{60, 80, 60, 60});
}

TEST_CASE("an active finding of a revoked host counts as one more host, as in ReadinessScore") {
  const std::vector<HostLifetime> hosts = {{"a", kT0, std::nullopt}, {"b", kT0, kT0 + kDay}};
  const std::vector<FindingTimeline> findings = {
      Timeline("crit", "b", Severity::kCritical, {{kT0, FindingState::kOpen}})};
  const auto points =
      ReconstructReadiness(findings, hosts, AllInScope, {kT0 + 2 * kDay}, kT0 + 3 * kDay);
  const int expected = ReadinessScore({"a"}, {ScoredFinding{"critical", "b"}});
  CHECK(expected == 80);
  CHECK(Scores(points) == std::vector<int>{expected, expected});
}

TEST_CASE("readiness: rules outside the contract do not score but are counted as active") {
  const std::vector<HostLifetime> hosts = {{"a", kT0, std::nullopt}};
  const std::vector<FindingTimeline> findings = {
      Timeline("app-only", "a", Severity::kCritical, {{kT0, FindingState::kOpen}}),
      Timeline("estate", "", Severity::kHigh, {{kT0, FindingState::kRegressed}})};
  auto technical = [](const FindingTimeline& finding) { return finding.rule_id != "app-only"; };
  const auto points = ReconstructReadiness(findings, hosts, technical, {kT0 + kHour}, kT0 + kDay);
  // Only the estate-wide high finding scores: 100 - 10.
  CHECK(Scores(points) == std::vector<int>{90, 90});
  CHECK(points[0].active_findings == 2);
}

TEST_CASE(
    "readiness before a finding's first change leaves it out, without changes it dates from "
    "first seen") {
  const std::vector<HostLifetime> hosts = {{"a", kT0, std::nullopt}};
  FindingTimeline unrecorded = Timeline("old", "a", Severity::kMedium, {});
  unrecorded.first_seen_ms = kT0 + 2 * kDay;
  unrecorded.state = FindingState::kAcknowledged;
  const std::vector<FindingTimeline> findings = {
      unrecorded, Timeline("late", "a", Severity::kLow, {{kT0 + 3 * kDay, FindingState::kOpen}})};
  const auto points = ReconstructReadiness(
      findings, hosts, AllInScope, {kT0 + kDay, kT0 + 2 * kDay, kT0 + 3 * kDay}, kT0 + 4 * kDay);
  CHECK(Scores(points) == std::vector<int>{100, 95, 94, 94});
}

TEST_CASE("the last point uses the current states, whatever the recorded changes say") {
  // A host revoked "now" (after its enrollment) and a finding whose last change is missing from
  // its history: the last point follows the rows as they are, like the summary.
  const std::vector<HostLifetime> hosts = {{"a", kT0, std::nullopt}, {"b", kT0, kT0 + kDay}};
  FindingTimeline drifted = Timeline("disk", "a", Severity::kHigh, {{kT0, FindingState::kOpen}});
  drifted.state = FindingState::kResolved;
  const auto points =
      ReconstructReadiness({drifted}, hosts, AllInScope, {kT0 + kHour}, kT0 + 2 * kDay);
  REQUIRE(points.size() == 2);
  CHECK(points[0].score == ReadinessScore({"a", "b"}, {ScoredFinding{"high", "a"}}));
  CHECK(points[1].score == 100);
  CHECK(points[1].active_findings == 0);
}

TEST_CASE("readiness of an organisation without hosts or findings is 100") {
  const auto points = ReconstructReadiness({}, {}, AllInScope, {kT0}, kT0 + kDay);
  CHECK(Scores(points) == std::vector<int>{100, 100});
}

}  // namespace
}  // namespace dozor::server::report
