// The finding lifecycle as pure decisions. The store loads the findings concerned, asks these
// functions what should happen and applies the answer in one transaction; nothing here does I/O
// or reads a clock (every function takes now_ms).
//
// Engine side (PlanEvaluation), for every (rule, target, object) of an evaluation (object is ""
// unless the rule names an object column; a stored finding with "" object of a rule that now
// names objects is adopted by the first object hit):
//   hit & no finding                         -> open (event opened)
//   hit & finding resolved                   -> regressed (regressions++, event regressed), or
//                                               back to waived while the client's waiver holds
//   (hit or sustain-only hit) & finding active -> stays, last_seen = now, evidence updated
//   sustain-only hit without fresh evidence  -> a keep marker: every finding of its (rule,
//                                               target) that no other hit names stays as it is
//                                               (the engine had no data for the target, or more
//                                               objects than it lists)
//   sustain-only & no active finding         -> nothing
//   no hit & finding active                  -> resolved (actor system)
// Waivers whose end has passed go back to open first (PlanWaiverExpiry, event waive_expired).
//
// People side (PlanPeopleAction): acknowledge from open|regressed; waive from
// open|acknowledged|regressed with a reason and an end in the future (or none); unwaive from
// waived; comment from any state. kFailedPrecondition for a transition the state does not allow,
// kInvalidArgument for a missing reason or text over the limits.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "domain/finding.hpp"
#include "dozor/common/result.hpp"

namespace dozor::server {

// Longest comment / reason accepted on a finding (bytes).
inline constexpr size_t kMaxFindingCommentBytes = 4000;
// Longest actor name recorded on a finding or contract event (bytes).
inline constexpr size_t kMaxActorBytes = 200;
// Largest evidence JSON kept per finding (bytes); longer arrays are truncated with a note.
inline constexpr size_t kMaxEvidenceBytes = 64 * 1024;

// One rule hit (the rules library converts its RuleHit into this, so neither the domain nor the
// store depends on the rules library).
struct FindingHit {
  std::string rule_id;
  int64_t org_id = 0;
  std::optional<int64_t> host_pk;  // agents.id for a per-host rule; empty for estate-wide
  std::string evidence_json;       // JSON array of row objects (truncated beyond 64 KiB)
  bool sustain_only = false;       // matched only the sustain query: keeps, never opens
  // What the finding is about within its target (a mount, an interface, a disk, a service) for
  // a rule with an object column; "" for a finding about the whole target.
  std::string object;
};

// Longest object name kept on a finding (bytes); longer names are cut on a character boundary.
inline constexpr size_t kMaxFindingObjectBytes = 256;

struct RuleMeta {
  Severity severity = Severity::kInfo;
  std::string category;
};

// One evaluation to apply atomically. Every (rule in rule_ids) x (target in targets) pair is
// considered: targets are host pks when host_scope, org ids otherwise.
struct EvaluationInput {
  bool host_scope = true;
  std::vector<std::string> rule_ids;
  std::vector<int64_t> targets;
  std::vector<FindingHit> hits;
  std::unordered_map<std::string, RuleMeta> meta;  // by rule id; copied into the finding row
};

struct FindingsChange {
  int64_t opened = 0;
  int64_t regressed = 0;
  int64_t resolved = 0;
  int64_t updated = 0;
  int64_t waivers_expired = 0;
  std::vector<int64_t> opened_or_regressed_ids;
};

// A stored finding as the lifecycle needs to see it.
struct FindingStateRow {
  int64_t id = 0;
  std::string rule_id;
  std::string target;  // 'host:<pk>' or 'org:<id>'
  std::string object;  // "" for a finding about the whole target
  FindingState state = FindingState::kOpen;
  bool waived_by_someone = false;  // a person waived it at some point (waived_by is set)
  std::optional<int64_t> waived_until_ms;
};

// 'host:<pk>' or 'org:<id>'.
std::string FindingTarget(bool host_scope, int64_t id);

// The rule ids and target ids an evaluation covers: the declared ones plus those of its hits
// (a hit outside the declared sets still counts; its pair is then considered too).
struct EvaluationScope {
  std::vector<std::string> rule_ids;
  std::vector<int64_t> targets;
};
EvaluationScope ScopeOf(const EvaluationInput& input);

enum class FindingMutationKind {
  kOpen,         // insert a new finding in state open
  kTouch,        // active finding seen again: last_seen, evidence, severity, category
  kRegress,      // resolved finding seen again: to `to` (regressed or waived), regressions++
  kResolve,      // active finding no longer seen
  kExpireWaiver  // waived finding whose waiver ended: back to open
};

// One change to write, with the event it records (none for kTouch).
struct FindingMutation {
  FindingMutationKind kind = FindingMutationKind::kTouch;
  int64_t finding_id = 0;  // 0 for kOpen
  // kOpen: the new row's identity.
  std::string rule_id;
  int64_t org_id = 0;
  std::optional<int64_t> host_pk;
  std::string target;
  std::string object;
  // kTouch, kRegress: a finding stored before its rule had an object column ("" object) taken
  // over by the first object the rule now names, so an upgrade keeps its history, acknowledgement
  // and waiver instead of resolving it and opening a new one.
  std::optional<std::string> adopt_object;
  // kOpen, kTouch, kRegress: which hit's evidence to store (index into EvaluationInput::hits)
  // and the rule's current metadata.
  size_t hit_index = 0;
  RuleMeta meta;
  // The event: kind, states before and after (no `from` for an opened finding), comment.
  FindingEventKind event = FindingEventKind::kOpened;
  std::optional<FindingState> from;
  FindingState to = FindingState::kOpen;
  std::string comment;
};

// Waived findings whose waived_until is at or before now_ms go back to open.
std::vector<FindingMutation> PlanWaiverExpiry(const std::vector<FindingStateRow>& findings,
                                              int64_t now_ms);

// The mutations one evaluation causes, given the stored findings of its scope (findings of
// other pairs in `existing` are ignored). Opens come in hit order, resolutions in `existing`
// order.
std::vector<FindingMutation> PlanEvaluation(const EvaluationInput& input,
                                            const std::vector<FindingStateRow>& existing,
                                            int64_t now_ms);

// Active findings of rules not in `live_rule_ids` become resolved.
std::vector<FindingMutation> PlanResolveRemovedRules(const std::vector<FindingStateRow>& findings,
                                                     const std::vector<std::string>& live_rule_ids);

// Tallies mutations the way ApplyEvaluation reports them. Leaves opened_or_regressed_ids empty:
// an opened finding has no id until the store inserts it, so the store fills that list (in
// mutation order) as it writes.
FindingsChange CountMutations(const std::vector<FindingMutation>& mutations);

// Evidence larger than kMaxEvidenceBytes keeps as many leading rows as fit plus a note object;
// "" becomes "[]".
std::string BoundedEvidence(const std::string& evidence);

enum class PeopleAction { kAcknowledge, kWaive, kUnwaive, kComment };

struct PeopleRequest {
  PeopleAction action = PeopleAction::kComment;
  std::string_view actor;           // "" is recorded as "unknown"
  std::string_view text;            // comment, or the waiver's reason
  std::optional<int64_t> until_ms;  // kWaive: end of the waiver, empty = indefinitely
  int64_t now_ms = 0;
};

// Checks what does not depend on the finding (lengths, a reason, a future end), so a bad request
// is refused before the store opens a transaction.
Status ValidatePeopleRequest(const PeopleRequest& request);

// What a person's action does to finding `id` in state `current`.
struct PeopleTransition {
  FindingState to = FindingState::kOpen;  // equal to the current state for a comment
  FindingEventKind event = FindingEventKind::kComment;
  std::string actor;
  std::string comment;
};
Result<PeopleTransition> PlanPeopleAction(int64_t id, FindingState current,
                                          const PeopleRequest& request);

// The actor recorded for an empty name.
std::string ActorOr(std::string_view actor, std::string_view fallback);

}  // namespace dozor::server
