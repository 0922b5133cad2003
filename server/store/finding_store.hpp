// Findings: applying an evaluation (the lifecycle decisions are domain/finding_lifecycle.hpp's;
// the store loads, asks and writes them in one transaction), people's transitions, queries.
//
// Thread-safety: every method may be called from any thread (see store/store.hpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "domain/finding.hpp"
#include "domain/finding_lifecycle.hpp"
#include "dozor/common/result.hpp"
#include "store/list_page.hpp"

namespace dozor::server {

struct Finding {
  int64_t id = 0;
  std::string rule_id;
  int64_t org_id = 0;
  std::string org_name;
  std::string agent_id;  // empty for estate-wide
  std::string hostname;  // empty for estate-wide
  std::string target;    // 'host:<pk>' or 'org:<id>'
  // What within the target the finding is about ('/var', 'eth0', 'sda') when its rule names an
  // object column (rules/rule.hpp); "" for a finding about the whole host or estate.
  std::string object;
  Severity severity = Severity::kInfo;
  std::string category;
  FindingState state = FindingState::kOpen;
  int64_t first_seen_ms = 0;
  int64_t last_seen_ms = 0;
  int64_t state_changed_ms = 0;
  std::optional<int64_t> resolved_at_ms;
  std::string evidence_json;
  std::string ack_by;
  std::string ack_comment;
  std::string waived_by;
  std::string waive_reason;
  std::optional<int64_t> waived_until_ms;
  int64_t regressions = 0;
  // "Fixed — please verify" pending: when and by whom it was asked.
  std::optional<int64_t> verify_requested_at_ms;
  std::string verify_requested_by;
};

struct FindingEvent {
  int64_t id = 0;
  int64_t finding_id = 0;
  int64_t at_ms = 0;
  std::string actor;
  FindingEventKind kind = FindingEventKind::kComment;
  std::optional<FindingState> from_state;  // empty for an opened finding
  FindingState to_state = FindingState::kOpen;
  std::string comment;
};

// A finding's move to another state (from its events; comments and the other events that keep the
// state are not changes).
struct FindingStateChange {
  int64_t at_ms = 0;
  FindingState to_state = FindingState::kOpen;
};

// One finding's life: what a past readiness score is reconstructed from.
struct FindingTimeline {
  int64_t id = 0;
  std::string rule_id;
  std::string agent_id;                      // empty for estate-wide
  Severity severity = Severity::kInfo;       // now (earlier severities are not kept)
  FindingState state = FindingState::kOpen;  // now
  int64_t first_seen_ms = 0;
  std::vector<FindingStateChange> changes;  // oldest first
};

struct FindingFilter {
  std::optional<int64_t> org_id;
  std::optional<std::string> agent_id;
  std::vector<FindingState> states;  // empty = all
  std::vector<Severity> severities;  // empty = all
  std::optional<std::string> rule_id;
  std::vector<std::string> categories;  // the rules' categories; empty = all
  // Only findings of the organisations this user is assigned to (primary or backup).
  std::optional<int64_t> assigned_user_id;
  // Only findings of these organisations (the caller's scope); nullopt = every organisation.
  std::optional<std::vector<int64_t>> visible_org_ids;
  int limit = 1000;
};

// severity: most severe first, then oldest (the ListFindings order); opened: first_seen;
// last_seen; host: hostname (estate-wide findings have none and sort first).
enum class FindingSort { kSeverity, kOpened, kLastSeen, kHost };

// A page of findings: the filter's rows (its limit is ignored; the page's applies).
struct FindingQuery {
  FindingFilter filter;
  std::optional<int64_t> last_seen_since_ms;  // only findings seen at or after this
  FindingSort sort = FindingSort::kSeverity;
  SortDirection direction = SortDirection::kAscending;
  PageRequest page;
};

// Active findings (open, acknowledged, regressed) counted by organisation, host, rule and
// severity: what the estate overview needs without reading every finding.
struct ActiveFindingCount {
  int64_t org_id = 0;
  std::string agent_id;  // empty for estate-wide
  std::string rule_id;
  Severity severity = Severity::kInfo;
  int64_t count = 0;
};

inline constexpr int kMaxFindingTimelines = 100000;

class FindingStore {
 public:
  virtual ~FindingStore() = default;

  // Applies one evaluation atomically (one transaction). For every (rule, target) pair:
  //  hit & no finding -> create 'open' (event opened)
  //  hit & finding resolved -> 'regressed' (regressions++, event regressed)
  //  (hit or sustain_only hit) & finding active -> stays, last_seen=now, evidence updated
  //  sustain_only & no active finding -> nothing
  //  no hit & finding active (open/acknowledged/regressed/waived) -> 'resolved' (actor system)
  // Also expires waivers (waived_until <= now -> open, event waive_expired).
  virtual Result<FindingsChange> ApplyEvaluation(const EvaluationInput& input, int64_t now_ms) = 0;
  // Waived findings whose waived_until <= now_ms go back to open; returns how many.
  virtual Result<int64_t> ExpireWaivers(int64_t now_ms) = 0;
  // Active findings of rules not in `live_rule_ids` become resolved; returns how many.
  virtual Result<int64_t> ResolveFindingsOfRemovedRules(
      const std::vector<std::string>& live_rule_ids, int64_t now_ms) = 0;
  // Severity order (critical first), then first_seen.
  virtual Result<std::vector<Finding>> ListFindings(const FindingFilter& filter) = 0;
  // One keyset page in the query's order, ties broken by id.
  virtual Result<Page<Finding>> QueryFindings(const FindingQuery& query) = 0;
  virtual Result<Finding> GetFinding(int64_t id) = 0;  // kNotFound
  // kNotFound
  // Oldest first.
  virtual Result<std::vector<FindingEvent>> ListFindingEvents(int64_t finding_id) = 0;
  // Lifecycle by people. kFailedPrecondition for a transition not allowed from the current
  // state, kInvalidArgument for a missing reason or a comment over kMaxFindingCommentBytes.
  // From open|regressed.
  virtual Result<Finding> AcknowledgeFinding(int64_t id, std::string_view actor,
                                             std::string_view comment, int64_t now_ms) = 0;
  // From open|acknowledged|regressed; reason required; until_ms empty = indefinitely.
  virtual Result<Finding> WaiveFinding(int64_t id, std::string_view actor, std::string_view reason,
                                       std::optional<int64_t> until_ms, int64_t now_ms) = 0;
  // waived -> open.
  virtual Result<Finding> UnwaiveFinding(int64_t id, std::string_view actor,
                                         std::string_view comment, int64_t now_ms) = 0;
  // Any state; comment required.
  virtual Result<Finding> CommentFinding(int64_t id, std::string_view actor,
                                         std::string_view comment, int64_t now_ms) = 0;
  // "Fixed — please verify": records who asked (event verify_requested) and marks the finding
  // pending. The next evaluation of its rule after a fresh inventory of its host (estate-wide:
  // of any host of the organisation) decides: resolved -> event verify_confirmed; still there ->
  // event verify_failed with the new evidence, the state unchanged. kFailedPrecondition while an
  // earlier request is pending (less than 10 minutes old) and for a
  // resolved finding.
  virtual Result<Finding> RequestVerification(int64_t id, std::string_view actor,
                                              std::string_view comment, int64_t now_ms) = 0;
  // Grouped counts of active findings, of these organisations (nullopt: all).
  virtual Result<std::vector<ActiveFindingCount>> CountActiveFindings(
      const std::optional<std::vector<int64_t>>& org_ids) = 0;
  // Every finding of the organisation (at most kMaxFindingTimelines, by id) with its state
  // changes, oldest first. Reads that organisation's rows only.
  virtual Result<std::vector<FindingTimeline>> ListFindingTimelines(int64_t org_id) = 0;
  // The client's named person accepts a waived finding's risk (event waiver_accepted).
  // kFailedPrecondition unless the finding is waived.
  virtual Result<Finding> AcceptWaiver(int64_t id, std::string_view actor, std::string_view comment,
                                       int64_t now_ms) = 0;
};

}  // namespace dozor::server
