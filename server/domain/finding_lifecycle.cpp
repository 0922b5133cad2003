#include "domain/finding_lifecycle.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <unordered_set>

namespace dozor::server {
namespace {

std::string PairKey(std::string_view rule_id, std::string_view target) {
  std::string key(rule_id);
  key.push_back('\n');
  key.append(target);
  return key;
}

// (rule, target, object): one finding's identity. Object names come from client machines, so
// the separator is a byte no sanitized name contains.
std::string FindingKey(std::string_view rule_id, std::string_view target, std::string_view object) {
  std::string key = PairKey(rule_id, target);
  key.push_back('\0');
  key.append(object);
  return key;
}

bool IsBlank(std::string_view text) {
  return text.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

FindingMutation SystemMutation(FindingMutationKind kind, const FindingStateRow& row,
                               FindingEventKind event, FindingState to, std::string comment) {
  FindingMutation m;
  m.kind = kind;
  m.finding_id = row.id;
  m.rule_id = row.rule_id;
  m.target = row.target;
  m.object = row.object;
  m.event = event;
  m.from = row.state;
  m.to = to;
  m.comment = std::move(comment);
  return m;
}

bool WaiverHolds(const FindingStateRow& row, int64_t now_ms) {
  return row.waived_by_someone && (!row.waived_until_ms || *row.waived_until_ms > now_ms);
}

Error BadTransition(int64_t id, FindingState state, std::string_view action) {
  return MakeError(ErrorCode::kFailedPrecondition, "cannot " + std::string(action) + " finding " +
                                                       std::to_string(id) + " in state '" +
                                                       std::string(ToString(state)) + "'");
}

}  // namespace

std::string FindingTarget(bool host_scope, int64_t id) {
  return (host_scope ? "host:" : "org:") + std::to_string(id);
}

EvaluationScope ScopeOf(const EvaluationInput& input) {
  std::unordered_set<std::string> rules(input.rule_ids.begin(), input.rule_ids.end());
  std::unordered_set<int64_t> targets(input.targets.begin(), input.targets.end());
  for (const auto& hit : input.hits) {
    rules.insert(hit.rule_id);
    if (input.host_scope && hit.host_pk) {
      targets.insert(*hit.host_pk);
    } else if (!input.host_scope) {
      targets.insert(hit.org_id);
    }
  }
  return EvaluationScope{{rules.begin(), rules.end()}, {targets.begin(), targets.end()}};
}

std::vector<FindingMutation> PlanWaiverExpiry(const std::vector<FindingStateRow>& findings,
                                              int64_t now_ms) {
  std::vector<FindingMutation> out;
  for (const auto& row : findings) {
    if (row.state == FindingState::kWaived && row.waived_until_ms &&
        *row.waived_until_ms <= now_ms) {
      out.push_back(SystemMutation(FindingMutationKind::kExpireWaiver, row,
                                   FindingEventKind::kWaiveExpired, FindingState::kOpen, ""));
    }
  }
  return out;
}

std::vector<FindingMutation> PlanEvaluation(const EvaluationInput& input,
                                            const std::vector<FindingStateRow>& existing,
                                            int64_t now_ms) {
  EvaluationScope scope = ScopeOf(input);
  std::unordered_set<std::string> rules(scope.rule_ids.begin(), scope.rule_ids.end());
  std::unordered_set<std::string> targets;
  for (int64_t target : scope.targets) {
    targets.insert(FindingTarget(input.host_scope, target));
  }
  // (rule, target, object) -> index into `existing`, for the findings this evaluation is about;
  // and the "" object finding of each pair, which an object hit may adopt.
  std::unordered_map<std::string, size_t> index_of;
  std::unordered_map<std::string, size_t> whole_target_of;
  for (size_t i = 0; i < existing.size(); ++i) {
    const auto& row = existing[i];
    if (rules.count(row.rule_id) != 0 && targets.count(row.target) != 0) {
      index_of.emplace(FindingKey(row.rule_id, row.target, row.object), i);
      if (row.object.empty()) {
        whole_target_of.emplace(PairKey(row.rule_id, row.target), i);
      }
    }
  }
  std::vector<bool> seen(existing.size(), false);
  auto meta_of = [&](const std::string& rule_id) -> RuleMeta {
    auto it = input.meta.find(rule_id);
    return it == input.meta.end() ? RuleMeta{Severity::kInfo, ""} : it->second;
  };

  // Condition hits before sustain-only ones, so a finding hit by both is treated as a hit; and
  // object hits in object order, so the same object adopts a legacy finding every time.
  std::vector<size_t> order(input.hits.size());
  for (size_t i = 0; i < order.size(); ++i) {
    order[i] = i;
  }
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const FindingHit& x = input.hits[a];
    const FindingHit& y = input.hits[b];
    if (x.sustain_only != y.sustain_only) {
      return !x.sustain_only;
    }
    return x.object < y.object;
  });

  std::vector<FindingMutation> out;
  std::unordered_set<std::string> handled;
  std::unordered_set<std::string> kept_pairs;  // pairs with a keep marker
  handled.reserve(input.hits.size());
  for (size_t i : order) {
    const FindingHit& hit = input.hits[i];
    if (input.host_scope && !hit.host_pk) {
      continue;  // a per-host evaluation cannot place an estate-wide hit
    }
    int64_t target = input.host_scope ? *hit.host_pk : hit.org_id;
    std::string target_text = FindingTarget(input.host_scope, target);
    if (hit.sustain_only && hit.evidence_json.empty()) {
      // The engine had no fresh data for this target (or listed only some of its objects):
      // whatever no other hit names stays as it is.
      kept_pairs.insert(PairKey(hit.rule_id, target_text));
      continue;
    }
    std::string key = FindingKey(hit.rule_id, target_text, hit.object);
    if (!handled.insert(key).second) {
      continue;  // several hits for one finding: the first (a condition hit if any) decides
    }
    std::optional<std::string> adopt;
    auto it = index_of.find(key);
    if (it == index_of.end() && !hit.object.empty()) {
      auto legacy = whole_target_of.find(PairKey(hit.rule_id, target_text));
      if (legacy != whole_target_of.end() && !seen[legacy->second]) {
        it = index_of.find(FindingKey(hit.rule_id, target_text, ""));
        adopt = hit.object;
      }
    }
    if (it == index_of.end()) {
      if (hit.sustain_only) {
        continue;
      }
      FindingMutation m;
      m.kind = FindingMutationKind::kOpen;
      m.rule_id = hit.rule_id;
      m.org_id = hit.org_id;
      if (input.host_scope) {
        m.host_pk = target;
      }
      m.target = target_text;
      m.object = hit.object;
      m.hit_index = i;
      m.meta = meta_of(hit.rule_id);
      m.event = FindingEventKind::kOpened;
      m.to = FindingState::kOpen;
      out.push_back(std::move(m));
      continue;
    }
    const FindingStateRow& found = existing[it->second];
    if (IsActive(found.state)) {
      seen[it->second] = true;
      FindingMutation m = SystemMutation(FindingMutationKind::kTouch, found,
                                         FindingEventKind::kComment, found.state, "");
      m.hit_index = i;
      m.meta = meta_of(hit.rule_id);
      m.adopt_object = adopt;
      out.push_back(std::move(m));
    } else if (!hit.sustain_only) {
      seen[it->second] = true;
      // A finding the client accepted (waiver still valid) returns as waived, not regressed.
      bool waived = WaiverHolds(found, now_ms);
      FindingMutation m =
          SystemMutation(FindingMutationKind::kRegress, found, FindingEventKind::kRegressed,
                         waived ? FindingState::kWaived : FindingState::kRegressed,
                         waived ? "still covered by the client's waiver" : "");
      m.hit_index = i;
      m.meta = meta_of(hit.rule_id);
      m.adopt_object = adopt;
      out.push_back(std::move(m));
    } else if (!adopt) {
      seen[it->second] = true;  // sustain never reopens a resolved finding
    }
  }
  // Resolutions in `existing` order.
  for (size_t index = 0; index < existing.size(); ++index) {
    const FindingStateRow& found = existing[index];
    if (seen[index] || !IsActive(found.state) ||
        index_of.count(FindingKey(found.rule_id, found.target, found.object)) == 0 ||
        kept_pairs.count(PairKey(found.rule_id, found.target)) != 0) {
      continue;
    }
    out.push_back(SystemMutation(FindingMutationKind::kResolve, found, FindingEventKind::kResolved,
                                 FindingState::kResolved, ""));
  }
  return out;
}

std::vector<FindingMutation> PlanResolveRemovedRules(
    const std::vector<FindingStateRow>& findings, const std::vector<std::string>& live_rule_ids) {
  std::unordered_set<std::string> live(live_rule_ids.begin(), live_rule_ids.end());
  std::vector<FindingMutation> out;
  for (const auto& row : findings) {
    if (!IsActive(row.state) || live.count(row.rule_id) != 0) {
      continue;
    }
    out.push_back(SystemMutation(FindingMutationKind::kResolve, row, FindingEventKind::kResolved,
                                 FindingState::kResolved, "rule removed or disabled"));
  }
  return out;
}

FindingsChange CountMutations(const std::vector<FindingMutation>& mutations) {
  FindingsChange change;
  for (const auto& m : mutations) {
    switch (m.kind) {
      case FindingMutationKind::kOpen:
        ++change.opened;
        break;
      case FindingMutationKind::kTouch:
        ++change.updated;
        break;
      case FindingMutationKind::kRegress:
        ++change.regressed;
        break;
      case FindingMutationKind::kResolve:
        ++change.resolved;
        break;
      case FindingMutationKind::kExpireWaiver:
        ++change.waivers_expired;
        break;
    }
  }
  return change;
}

std::string BoundedEvidence(const std::string& evidence) {
  if (evidence.empty()) {
    return "[]";
  }
  if (evidence.size() <= kMaxEvidenceBytes) {
    return evidence;
  }
  auto parsed = nlohmann::json::parse(evidence, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_array()) {
    nlohmann::json note = nlohmann::json::array();
    note.push_back({{"note", "evidence too large (" + std::to_string(evidence.size()) +
                                 " bytes) and not a JSON array; dropped"}});
    return note.dump();
  }
  constexpr size_t kNoteReserve = 200;
  nlohmann::json kept = nlohmann::json::array();
  size_t used = 2;
  for (const auto& row : parsed) {
    std::string text = row.dump();
    if (used + text.size() + 1 + kNoteReserve > kMaxEvidenceBytes) {
      break;
    }
    used += text.size() + 1;
    kept.push_back(row);
  }
  size_t shown = kept.size();
  kept.push_back({{"note", "evidence truncated: " + std::to_string(shown) + " of " +
                               std::to_string(parsed.size()) + " rows shown"}});
  return kept.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string ActorOr(std::string_view actor, std::string_view fallback) {
  return std::string(actor.empty() ? fallback : actor);
}

Status ValidatePeopleRequest(const PeopleRequest& request) {
  if (request.actor.size() > kMaxActorBytes) {
    return MakeError(ErrorCode::kInvalidArgument, "actor must be at most 200 bytes");
  }
  const char* what = request.action == PeopleAction::kWaive ? "reason" : "comment";
  if (request.text.size() > kMaxFindingCommentBytes) {
    return MakeError(ErrorCode::kInvalidArgument, std::string(what) + " must be at most " +
                                                      std::to_string(kMaxFindingCommentBytes) +
                                                      " bytes");
  }
  if (request.action == PeopleAction::kWaive) {
    if (IsBlank(request.text)) {
      return MakeError(ErrorCode::kInvalidArgument, "a waiver needs a reason");
    }
    if (request.until_ms && *request.until_ms <= request.now_ms) {
      return MakeError(ErrorCode::kInvalidArgument, "a waiver must end in the future");
    }
  }
  if (request.action == PeopleAction::kComment && IsBlank(request.text)) {
    return MakeError(ErrorCode::kInvalidArgument, "comment is empty");
  }
  return OkStatus();
}

Result<PeopleTransition> PlanPeopleAction(int64_t id, FindingState current,
                                          const PeopleRequest& request) {
  DOZOR_RETURN_IF_ERROR(ValidatePeopleRequest(request));
  using S = FindingState;
  PeopleTransition t;
  t.actor = ActorOr(request.actor, "unknown");
  t.comment = std::string(request.text);
  switch (request.action) {
    case PeopleAction::kAcknowledge:
      if (current != S::kOpen && current != S::kRegressed) {
        return BadTransition(id, current, "acknowledge");
      }
      t.to = S::kAcknowledged;
      t.event = FindingEventKind::kAcknowledged;
      break;
    case PeopleAction::kWaive:
      if (current != S::kOpen && current != S::kAcknowledged && current != S::kRegressed) {
        return BadTransition(id, current, "waive");
      }
      t.to = S::kWaived;
      t.event = FindingEventKind::kWaived;
      break;
    case PeopleAction::kUnwaive:
      if (current != S::kWaived) {
        return BadTransition(id, current, "unwaive");
      }
      t.to = S::kOpen;
      t.event = FindingEventKind::kUnwaived;
      break;
    case PeopleAction::kComment:
      t.to = current;
      t.event = FindingEventKind::kComment;
      break;
  }
  return t;
}

}  // namespace dozor::server
