#include "alerts/alert_policy.hpp"

#include <algorithm>

#include "domain/enum_spelling.hpp"
#include "dozor/common/text.hpp"

namespace dozor::server::alerts {

namespace {

constexpr enum_spelling::Table<AlertKind, 9> kKinds = {
    {{AlertKind::kFindingOpened, "finding_opened"},
     {AlertKind::kFindingRegressed, "finding_regressed"},
     {AlertKind::kFindingResolved, "finding_resolved"},
     {AlertKind::kVerifyRequested, "verify_requested"},
     {AlertKind::kHostOffline, "host_offline"},
     {AlertKind::kSiteOffline, "site_offline"},
     {AlertKind::kAgentTrouble, "agent_trouble"},
     {AlertKind::kChannelFailed, "channel_failed"},
     {AlertKind::kMonthlyReport, "monthly_report"}}};

// Severity is declared most severe first.
bool AtLeast(Severity severity, Severity threshold) {
  return static_cast<int>(severity) <= static_cast<int>(threshold);
}

}  // namespace

std::string_view ToString(AlertKind kind) { return enum_spelling::Spell(kKinds, kind); }
std::optional<AlertKind> ParseAlertKind(std::string_view text) {
  return enum_spelling::Lookup(kKinds, text);
}

bool Escalates(AlertKind kind) {
  return kind == AlertKind::kFindingOpened || kind == AlertKind::kFindingRegressed ||
         kind == AlertKind::kHostOffline || kind == AlertKind::kSiteOffline;
}

bool Urgent(AlertKind kind, std::string_view severity) {
  switch (kind) {
    case AlertKind::kHostOffline:
    case AlertKind::kSiteOffline:
      return true;
    case AlertKind::kFindingOpened:
    case AlertKind::kFindingRegressed:
      return severity == ToString(Severity::kCritical);
    default:
      return false;
  }
}

void ApplyThreshold(const std::vector<RuleAlertOverride>& overrides,
                    std::optional<Severity> org_min_severity, std::string_view rule_id,
                    EventFacts& facts) {
  for (const auto& override_rule : overrides) {
    if (override_rule.rule_id == rule_id) {
      facts.threshold = override_rule.min_severity;
      facts.rule_muted = !override_rule.min_severity.has_value();
      return;
    }
  }
  facts.threshold = org_min_severity;
  facts.rule_muted = false;
}

bool IsFlapping(int recent, const FlapPolicy& policy) {
  return policy.threshold > 0 && recent >= policy.threshold;
}

std::optional<AlertKind> AlertKindFor(const FeedEvent& event, const EventFacts& facts,
                                      const AlertPolicy& policy) {
  if (facts.phase != ContractPhase::kActive || !event.org_id) {
    return std::nullopt;
  }
  const std::string_view kind = event.kind;
  if (kind == "finding_opened" || kind == "finding_regressed" || kind == "finding_resolved") {
    if (!facts.rule_in_contract || !facts.severity || facts.rule_muted ||
        !AtLeast(*facts.severity, facts.threshold.value_or(policy.min_severity))) {
      return std::nullopt;
    }
    if (kind == "finding_opened") return AlertKind::kFindingOpened;
    if (kind == "finding_regressed") return AlertKind::kFindingRegressed;
    return AlertKind::kFindingResolved;
  }
  if (kind == "finding_verify_requested") {
    // The client says it is fixed and waits for the engineer, whatever the severity.
    return facts.rule_in_contract ? std::optional(AlertKind::kVerifyRequested) : std::nullopt;
  }
  if (kind == "host_offline") {
    return facts.host_role == HostRole::kWorkstation ? std::nullopt
                                                     : std::optional(AlertKind::kHostOffline);
  }
  if (kind == "agent_trouble") {
    return AlertKind::kAgentTrouble;
  }
  return std::nullopt;
}

bool IsSiteOutage(const OrgOutage& outage, const AlertPolicy& policy) {
  const auto went = static_cast<int64_t>(outage.offline_events.size());
  if (went < policy.site_min_hosts || outage.live_hosts <= 0) {
    return false;
  }
  const int64_t offline = std::max(outage.offline_hosts, went);
  return offline * 100 >= outage.live_hosts * policy.site_offline_percent;
}

bool SpecialtyCovers(std::string_view specialty, std::string_view category) {
  const std::string folded = FoldCase(Trim(specialty));
  if (folded.empty()) {
    return true;
  }
  // "1c" in Latin or "1с" with the Cyrillic es (U+0441), as people type it.
  const bool one_c =
      folded.find("1c") != std::string::npos || folded.find("1\xD1\x81") != std::string::npos;
  return one_c == (category == "business-application");
}

std::vector<int64_t> Recipients(int stage, std::string_view category,
                                const std::vector<Assignment>& assignments,
                                const std::vector<int64_t>& duty_user_ids) {
  if (stage >= kLastStage) {
    return duty_user_ids;
  }
  const AssignmentKind wanted = stage == 0 ? AssignmentKind::kPrimary : AssignmentKind::kBackup;
  std::vector<int64_t> all;
  std::vector<int64_t> specialists;  // a specialty that covers the category
  std::vector<int64_t> generalists;  // no specialty
  for (const auto& assignment : assignments) {
    if (assignment.kind != wanted || !assignment.enabled) continue;
    all.push_back(assignment.user_id);
    if (Trim(assignment.specialty).empty()) {
      generalists.push_back(assignment.user_id);
    } else if (SpecialtyCovers(assignment.specialty, category)) {
      specialists.push_back(assignment.user_id);
    }
  }
  auto& chosen = !specialists.empty() ? specialists : !generalists.empty() ? generalists : all;
  std::sort(chosen.begin(), chosen.end());
  chosen.erase(std::unique(chosen.begin(), chosen.end()), chosen.end());
  return chosen;
}

}  // namespace dozor::server::alerts
