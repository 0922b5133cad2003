// What pages whom: the pure decisions of alerting (docs/alerts.md). No I/O, no clock.
//  - AlertKindFor: whether one feed event is worth a message at all. Only organisations whose
//    contract is active are alerted (a prospect's findings go to the audit report); findings only
//    for rules within the contract's type and at or above the severity threshold; hosts going
//    offline only when they are servers (workstations are switched off at night and at weekends).
//  - GroupOutages: many hosts of one organisation going offline in one pass is the client's
//    internet link or power: one "site offline" alert instead of one per host.
//  - Recipients: who hears of it at each escalation stage.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "domain/contract.hpp"
#include "domain/finding.hpp"
#include "domain/host_role.hpp"
#include "store/alert_store.hpp"
#include "store/event_store.hpp"
#include "store/user_store.hpp"

namespace dozor::server::alerts {

enum class AlertKind {
  kFindingOpened,
  kFindingRegressed,
  kFindingResolved,
  kVerifyRequested,
  kHostOffline,
  kSiteOffline,
  kAgentTrouble,
  // To admins: a channel gave up on a message (wrong SMTP password, the bot blocked).
  kChannelFailed,
  // The organisation's monthly report, with the audit report's PDF attached.
  kMonthlyReport,
};
std::string_view ToString(AlertKind kind);
std::optional<AlertKind> ParseAlertKind(std::string_view text);

// Kinds someone must act on: unacknowledged, they escalate. The others are notices.
bool Escalates(AlertKind kind);
// Kinds that page outside working hours under the "urgent" policy and through a person's quiet
// hours: a critical finding, a server or the whole site offline.
bool Urgent(AlertKind kind, std::string_view severity);

struct AlertPolicy {
  // Findings below this severity do not page anyone (they stay on the board and in reports).
  Severity min_severity = Severity::kHigh;
  // Unacknowledged for this long, an alert goes to the next stage: backups, then the duty list.
  // 0: no escalation.
  int64_t escalate_after_ms = 30 * 60'000;
  // A site is offline when, in one pass, at least this many of an organisation's hosts went
  // offline and together with those already offline they are at least this share of its live
  // hosts.
  int site_min_hosts = 3;
  int site_offline_percent = 60;
};

// What the policy needs to know beyond the event itself.
struct EventFacts {
  ContractPhase phase = ContractPhase::kProspect;
  // Finding events: the finding's current severity and whether its rule is within the contract's
  // type (a rule no longer in the pack counts as within, as in the report).
  std::optional<Severity> severity;
  bool rule_in_contract = true;
  // Host events: the host's role; none before its first inventory (treated as a server, strict).
  std::optional<HostRole> host_role;
  // The organisation's threshold for this finding's rule (its override, else the organisation's,
  // else the policy's); nullopt with rule_muted: this rule never pages this organisation.
  std::optional<Severity> threshold;
  bool rule_muted = false;
};

std::optional<AlertKind> AlertKindFor(const FeedEvent& event, const EventFacts& facts,
                                      const AlertPolicy& policy);

// One organisation's host_offline alerts of one pass, and how many of its live hosts there are
// and are offline now (the new ones included).
struct OrgOutage {
  int64_t org_id = 0;
  std::vector<FeedEvent> offline_events;  // the servers and workstations that went offline
  int64_t live_hosts = 0;
  int64_t offline_hosts = 0;
};

// True when the outage is a site outage (one alert for all) rather than separate hosts.
bool IsSiteOutage(const OrgOutage& outage, const AlertPolicy& policy);

// Whether an engineer's specialty covers a rule category: a 1C specialist ("1C", "1С", "1c
// developer") covers business applications, anyone else the rest; no specialty covers all.
bool SpecialtyCovers(std::string_view specialty, std::string_view category);

// The user ids to tell at a stage: 0 the organisation's primary engineers, 1 its backups, 2 the
// duty list. Within a stage, the specialists whose specialty covers the category (the 1C
// specialist for a 1C finding); without one, those with no specialty; without those, everyone of
// the stage. Disabled accounts never. Empty: nobody at that stage.
std::vector<int64_t> Recipients(int stage, std::string_view category,
                                const std::vector<Assignment>& assignments,
                                const std::vector<int64_t>& duty_user_ids);

inline constexpr int kLastStage = 2;

// The threshold an organisation's settings give a rule: its override (nullopt inside: muted), the
// organisation's own, or the server's default. Sets facts.threshold / facts.rule_muted.
void ApplyThreshold(const std::vector<RuleAlertOverride>& overrides,
                    std::optional<Severity> org_min_severity, std::string_view rule_id,
                    EventFacts& facts);

// The flap detector: a finding whose state went bad this many times within the window is
// flapping, and its further changes are recorded without messages until it settles.
struct FlapPolicy {
  int64_t window_ms = 3'600'000;
  int threshold = 3;  // 0: off
};
// `recent`: the finding's opened/regressed alerts within the window, before this one.
bool IsFlapping(int recent, const FlapPolicy& policy);

}  // namespace dozor::server::alerts
