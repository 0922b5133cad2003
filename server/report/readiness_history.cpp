#include "report/readiness_history.hpp"

#include <algorithm>
#include <optional>
#include <string>
#include <unordered_map>

#include "dozor/common/clock.hpp"
#include "report/report_model.hpp"
#include "rules/contract_scope.hpp"

namespace dozor::server::report {
namespace {

constexpr int64_t kDayMs = 86'400'000;

bool CountsAsActive(FindingState state) {
  return state == FindingState::kOpen || state == FindingState::kAcknowledged ||
         state == FindingState::kRegressed;
}

// Scores one moment from what existed then: host keys of the hosts counted, and per finding its
// state (nullopt: did not exist yet).
ReadinessPoint ScoreAt(int64_t at_ms, const std::vector<FindingTimeline>& findings,
                       const std::vector<bool>& scored_rule,
                       const std::vector<std::optional<FindingState>>& states,
                       const std::vector<std::string>& host_keys) {
  ReadinessPoint point;
  point.at_ms = at_ms;
  std::vector<ScoredFinding> scored;
  for (size_t i = 0; i < findings.size(); ++i) {
    if (!states[i] || !CountsAsActive(*states[i])) {
      continue;
    }
    ++point.active_findings;
    const int rank = SeverityRank(ToString(findings[i].severity));
    if (rank < static_cast<int>(point.active_by_severity.size())) {
      ++point.active_by_severity[static_cast<size_t>(rank)];
    }
    if (scored_rule[i]) {
      scored.push_back(
          {std::string(ToString(findings[i].severity)), findings[i].agent_id, findings[i].rule_id});
    }
  }
  point.score = ReadinessScore(host_keys, scored);
  return point;
}

}  // namespace

std::vector<int64_t> ReadinessTimes(int64_t start_ms, int64_t now_ms, size_t max_points) {
  std::vector<int64_t> times;
  if (start_ms >= now_ms) {
    return times;
  }
  times.push_back(start_ms);
  const int64_t first_midnight = FloorToStep(start_ms, kDayMs) + kDayMs;
  if (first_midnight >= now_ms) {
    return times;
  }
  const int64_t midnights = (now_ms - 1 - first_midnight) / kDayMs + 1;
  // Room for the start and the "now" point the caller adds.
  const auto room = static_cast<int64_t>(std::max<size_t>(max_points, 3) - 2);
  const int64_t step_days = std::max<int64_t>(1, (midnights + room - 1) / room);
  for (int64_t at = first_midnight; at < now_ms; at += step_days * kDayMs) {
    times.push_back(at);
  }
  return times;
}

std::vector<ReadinessPoint> ReconstructReadiness(
    const std::vector<FindingTimeline>& findings, const std::vector<HostLifetime>& hosts,
    const std::function<bool(const FindingTimeline& finding)>& in_scope,
    const std::vector<int64_t>& past_times, int64_t now_ms) {
  std::vector<bool> scored_rule(findings.size());
  for (size_t i = 0; i < findings.size(); ++i) {
    scored_rule[i] = in_scope(findings[i]);
  }
  std::vector<ReadinessPoint> points;
  points.reserve(past_times.size() + 1);

  // Times ascend, so each finding's next change is found by moving one cursor forwards.
  std::vector<size_t> next_change(findings.size(), 0);
  std::vector<std::optional<FindingState>> states(findings.size());
  std::vector<std::string> host_keys;
  for (const int64_t at : past_times) {
    for (size_t i = 0; i < findings.size(); ++i) {
      const auto& changes = findings[i].changes;
      if (changes.empty()) {
        if (findings[i].first_seen_ms <= at) {
          states[i] = findings[i].state;
        }
        continue;
      }
      while (next_change[i] < changes.size() && changes[next_change[i]].at_ms <= at) {
        states[i] = changes[next_change[i]].to_state;
        ++next_change[i];
      }
    }
    host_keys.clear();
    for (const auto& host : hosts) {
      if (host.enrolled_at_ms <= at && (!host.revoked_at_ms || *host.revoked_at_ms > at)) {
        host_keys.push_back(host.agent_id);
      }
    }
    points.push_back(ScoreAt(at, findings, scored_rule, states, host_keys));
  }

  for (size_t i = 0; i < findings.size(); ++i) {
    states[i] = findings[i].state;
  }
  host_keys.clear();
  for (const auto& host : hosts) {
    if (!host.revoked_at_ms) {
      host_keys.push_back(host.agent_id);
    }
  }
  points.push_back(ScoreAt(now_ms, findings, scored_rule, states, host_keys));
  return points;
}

namespace {

int64_t TrendStart(const Organization& org, const std::optional<AuditSnapshot>& first_audit,
                   const std::vector<FindingTimeline>& findings) {
  if (first_audit) {
    return first_audit->at_ms;
  }
  std::optional<int64_t> earliest;
  for (const auto& finding : findings) {
    int64_t seen = finding.first_seen_ms;
    if (!finding.changes.empty()) {
      seen = std::min(seen, finding.changes.front().at_ms);
    }
    earliest = std::min(earliest.value_or(seen), seen);
  }
  return earliest.value_or(org.created_at_ms);
}

}  // namespace

Result<ReadinessTrend> BuildReadinessTrend(Store& store, const rules::RulePack* pack,
                                           const Organization& org, int64_t now_ms) {
  DOZOR_ASSIGN_OR_RETURN(auto first_audit, store.Organizations().GetAuditSnapshot(
                                               org.id, AuditSnapshotKind::kFirstAudit));
  DOZOR_ASSIGN_OR_RETURN(auto findings, store.Findings().ListFindingTimelines(org.id));
  DOZOR_ASSIGN_OR_RETURN(auto hosts, store.Hosts().ListHostLifetimes(org.id));
  // The live hosts' duties widen the scope (rules/contract_scope.hpp), as in the report and the
  // organisation's summary; a finding on a revoked host goes by its rule alone.
  DOZOR_ASSIGN_OR_RETURN(auto host_list, store.Hosts().ListHosts(org.id));
  std::unordered_map<std::string, HostDuties> duties_by_host;
  for (const auto& host : host_list) {
    if (!host.revoked && !host.duties.empty()) {
      duties_by_host.emplace(host.agent_id, host.duties);
    }
  }
  const ContractType contract = org.contract_type;
  auto in_scope = [pack, &duties_by_host, contract](const FindingTimeline& finding) {
    const rules::Rule* rule = pack != nullptr ? pack->Find(finding.rule_id) : nullptr;
    if (rule == nullptr) {
      return true;
    }
    const auto host = duties_by_host.find(finding.agent_id);
    return rules::InContractScope(*rule, contract,
                                  host != duties_by_host.end() ? host->second : HostDuties());
  };
  ReadinessTrend trend;
  if (first_audit) {
    trend.first_audit_at_ms = first_audit->at_ms;
  }
  trend.partial = findings.size() >= static_cast<size_t>(kMaxFindingTimelines);
  const int64_t start_ms = TrendStart(org, first_audit, findings);
  trend.points =
      ReconstructReadiness(findings, hosts, in_scope, ReadinessTimes(start_ms, now_ms), now_ms);
  return trend;
}

}  // namespace dozor::server::report
