// The finding lifecycle without a database: every engine and people transition.
#include "domain/finding_lifecycle.hpp"

#include <doctest/doctest.h>

#include <string>

namespace dozor::server {
namespace {

constexpr int64_t kNow = 1'000'000;

FindingStateRow Row(int64_t id, const std::string& rule, int64_t host, FindingState state) {
  FindingStateRow row;
  row.id = id;
  row.rule_id = rule;
  row.target = FindingTarget(true, host);
  row.state = state;
  return row;
}

FindingHit Hit(const std::string& rule, int64_t host, bool sustain = false,
               std::string evidence = R"([{"x":1}])") {
  return FindingHit{rule, 1, host, std::move(evidence), sustain, ""};
}

EvaluationInput Input(std::vector<FindingHit> hits) {
  EvaluationInput input;
  input.host_scope = true;
  input.rule_ids = {"disk"};
  input.targets = {10, 11};
  input.hits = std::move(hits);
  input.meta["disk"] = RuleMeta{Severity::kHigh, "hardware"};
  return input;
}

TEST_CASE("a hit without a finding opens one with the rule's severity and category") {
  auto plan = PlanEvaluation(Input({Hit("disk", 10)}), {}, kNow);
  REQUIRE(plan.size() == 1);
  CHECK(plan[0].kind == FindingMutationKind::kOpen);
  CHECK(plan[0].rule_id == "disk");
  CHECK(plan[0].target == "host:10");
  CHECK(plan[0].host_pk == 10);
  CHECK(plan[0].meta.severity == Severity::kHigh);
  CHECK(plan[0].meta.category == "hardware");
  CHECK(plan[0].event == FindingEventKind::kOpened);
  CHECK_FALSE(plan[0].from.has_value());
  CHECK(plan[0].to == FindingState::kOpen);
  auto change = CountMutations(plan);
  CHECK(change.opened == 1);
  CHECK(change.opened_or_regressed_ids.empty());  // ids are the store's to fill
}

TEST_CASE("a sustain-only hit never opens a finding") {
  CHECK(PlanEvaluation(Input({Hit("disk", 10, true)}), {}, kNow).empty());
}

TEST_CASE("an active finding hit again is touched, not re-opened, and records no event") {
  for (FindingState state : kActiveFindingStates) {
    auto plan = PlanEvaluation(Input({Hit("disk", 10)}), {Row(5, "disk", 10, state)}, kNow);
    REQUIRE(plan.size() == 1);
    CHECK(plan[0].kind == FindingMutationKind::kTouch);
    CHECK(plan[0].finding_id == 5);
    CHECK(CountMutations(plan).updated == 1);
  }
}

TEST_CASE("a sustain-only hit keeps an active finding, and without fresh evidence leaves it") {
  auto kept = PlanEvaluation(Input({Hit("disk", 10, true)}),
                             {Row(5, "disk", 10, FindingState::kOpen)}, kNow);
  REQUIRE(kept.size() == 1);
  CHECK(kept[0].kind == FindingMutationKind::kTouch);
  auto untouched = PlanEvaluation(Input({Hit("disk", 10, true, "")}),
                                  {Row(5, "disk", 10, FindingState::kOpen)}, kNow);
  CHECK(untouched.empty());  // neither touched nor resolved
}

TEST_CASE("a resolved finding hit again regresses, sustain-only does not regress it") {
  auto plan =
      PlanEvaluation(Input({Hit("disk", 10)}), {Row(5, "disk", 10, FindingState::kResolved)}, kNow);
  REQUIRE(plan.size() == 1);
  CHECK(plan[0].kind == FindingMutationKind::kRegress);
  CHECK(plan[0].from == FindingState::kResolved);
  CHECK(plan[0].to == FindingState::kRegressed);
  CHECK(plan[0].event == FindingEventKind::kRegressed);
  CHECK(plan[0].comment.empty());
  CHECK(CountMutations(plan).regressed == 1);
  CHECK(PlanEvaluation(Input({Hit("disk", 10, true)}),
                       {Row(5, "disk", 10, FindingState::kResolved)}, kNow)
            .empty());
}

TEST_CASE("a resolved finding returns as waived while the client's waiver holds") {
  FindingStateRow row = Row(5, "disk", 10, FindingState::kResolved);
  row.waived_by_someone = true;
  SUBCASE("indefinite waiver") {
    auto plan = PlanEvaluation(Input({Hit("disk", 10)}), {row}, kNow);
    REQUIRE(plan.size() == 1);
    CHECK(plan[0].to == FindingState::kWaived);
    CHECK(plan[0].comment == "still covered by the client's waiver");
  }
  SUBCASE("waiver ending later") {
    row.waived_until_ms = kNow + 1;
    CHECK(PlanEvaluation(Input({Hit("disk", 10)}), {row}, kNow)[0].to == FindingState::kWaived);
  }
  SUBCASE("waiver already over") {
    row.waived_until_ms = kNow;
    CHECK(PlanEvaluation(Input({Hit("disk", 10)}), {row}, kNow)[0].to == FindingState::kRegressed);
  }
}

TEST_CASE("an active finding not hit is resolved by the system, a resolved one stays") {
  auto plan = PlanEvaluation(Input({}),
                             {Row(5, "disk", 10, FindingState::kAcknowledged),
                              Row(6, "disk", 11, FindingState::kResolved)},
                             kNow);
  REQUIRE(plan.size() == 1);
  CHECK(plan[0].kind == FindingMutationKind::kResolve);
  CHECK(plan[0].finding_id == 5);
  CHECK(plan[0].from == FindingState::kAcknowledged);
  CHECK(plan[0].to == FindingState::kResolved);
  CHECK(CountMutations(plan).resolved == 1);
}

TEST_CASE("findings outside the evaluated rules and targets are left alone") {
  auto plan = PlanEvaluation(
      Input({}),
      {Row(5, "other-rule", 10, FindingState::kOpen), Row(6, "disk", 99, FindingState::kOpen)},
      kNow);
  CHECK(plan.empty());
}

TEST_CASE("a hit outside the declared targets still counts") {
  auto plan = PlanEvaluation(Input({Hit("disk", 42)}), {}, kNow);
  REQUIRE(plan.size() == 1);
  CHECK(plan[0].target == "host:42");
  auto scope = ScopeOf(Input({Hit("disk", 42)}));
  CHECK(scope.targets.size() == 3);
}

TEST_CASE("a condition hit wins over a sustain-only hit of the same pair, duplicates count once") {
  auto plan =
      PlanEvaluation(Input({Hit("disk", 10, true), Hit("disk", 10), Hit("disk", 10)}), {}, kNow);
  REQUIRE(plan.size() == 1);
  CHECK(plan[0].kind == FindingMutationKind::kOpen);
  CHECK(plan[0].hit_index == 1);
}

TEST_CASE("a per-host evaluation ignores an estate-wide hit, an estate one targets the org") {
  EvaluationInput host = Input({FindingHit{"disk", 1, std::nullopt, "[]", false, ""}});
  CHECK(PlanEvaluation(host, {}, kNow).empty());
  EvaluationInput estate;
  estate.host_scope = false;
  estate.rule_ids = {"backup"};
  estate.targets = {1};
  estate.hits = {FindingHit{"backup", 1, std::nullopt, "[]", false, ""}};
  auto plan = PlanEvaluation(estate, {}, kNow);
  REQUIRE(plan.size() == 1);
  CHECK(plan[0].target == "org:1");
  CHECK_FALSE(plan[0].host_pk.has_value());
  CHECK(plan[0].meta.severity == Severity::kInfo);  // no meta given: info, no category
}

// ------------------------------------------------------------------ findings per object

FindingStateRow ObjectRow(int64_t id, int64_t host, const std::string& object, FindingState state) {
  FindingStateRow row = Row(id, "disk", host, state);
  row.object = object;
  return row;
}

FindingHit ObjectHit(int64_t host, const std::string& object, bool sustain = false) {
  FindingHit hit = Hit("disk", host, sustain, R"([{"mount":")" + object + R"("}])");
  hit.object = object;
  return hit;
}

TEST_CASE("objects of one host have findings of their own: one fixed resolves, the other stays") {
  // /var was full and is fixed; /boot is still full.
  auto plan = PlanEvaluation(Input({ObjectHit(10, "/boot")}),
                             {ObjectRow(1, 10, "/var", FindingState::kOpen),
                              ObjectRow(2, 10, "/boot", FindingState::kAcknowledged)},
                             kNow);
  REQUIRE(plan.size() == 2);
  CHECK(plan[0].kind == FindingMutationKind::kTouch);
  CHECK(plan[0].finding_id == 2);
  CHECK(plan[0].from == FindingState::kAcknowledged);  // the acknowledgement stays
  CHECK_FALSE(plan[0].adopt_object.has_value());
  CHECK(plan[1].kind == FindingMutationKind::kResolve);
  CHECK(plan[1].finding_id == 1);
  CHECK(plan[1].object == "/var");
}

TEST_CASE("a new object opens its own finding next to an active one of the same rule and host") {
  auto plan = PlanEvaluation(Input({ObjectHit(10, "/var"), ObjectHit(10, "/boot")}),
                             {ObjectRow(1, 10, "/var", FindingState::kOpen)}, kNow);
  REQUIRE(plan.size() == 2);
  int opened = 0;
  int touched = 0;
  for (const auto& m : plan) {
    if (m.kind == FindingMutationKind::kOpen) {
      ++opened;
      CHECK(m.object == "/boot");
      CHECK(m.target == "host:10");
    } else if (m.kind == FindingMutationKind::kTouch) {
      ++touched;
      CHECK(m.finding_id == 1);
    }
  }
  CHECK(opened == 1);
  CHECK(touched == 1);
}

TEST_CASE("a resolved object regresses alone, a sustain-only object keeps only its own finding") {
  auto plan = PlanEvaluation(Input({ObjectHit(10, "/var"), ObjectHit(10, "/home", true)}),
                             {ObjectRow(1, 10, "/var", FindingState::kResolved),
                              ObjectRow(2, 10, "/home", FindingState::kOpen),
                              ObjectRow(3, 10, "/srv", FindingState::kOpen)},
                             kNow);
  REQUIRE(plan.size() == 3);
  CHECK(plan[0].kind == FindingMutationKind::kRegress);
  CHECK(plan[0].finding_id == 1);
  CHECK(plan[1].kind == FindingMutationKind::kTouch);
  CHECK(plan[1].finding_id == 2);
  CHECK(plan[2].kind == FindingMutationKind::kResolve);
  CHECK(plan[2].finding_id == 3);
}

TEST_CASE("a keep marker leaves every object not hit as it is, hit objects still change") {
  // The host's health is stale (or it has more objects than the engine lists).
  FindingHit keep = Hit("disk", 10, true, "");
  auto plan = PlanEvaluation(Input({keep, ObjectHit(10, "/var")}),
                             {ObjectRow(1, 10, "/var", FindingState::kOpen),
                              ObjectRow(2, 10, "/boot", FindingState::kOpen),
                              ObjectRow(3, 11, "/data", FindingState::kOpen)},
                             kNow);
  REQUIRE(plan.size() == 2);
  CHECK(plan[0].kind == FindingMutationKind::kTouch);
  CHECK(plan[0].finding_id == 1);
  // /boot on host 10 is kept; host 11 had no marker and no hit: resolved.
  CHECK(plan[1].kind == FindingMutationKind::kResolve);
  CHECK(plan[1].finding_id == 3);
}

TEST_CASE("a finding stored before its rule named objects is adopted by the first object") {
  SUBCASE("an active one is kept with its state and takes the object's name") {
    auto plan = PlanEvaluation(Input({ObjectHit(10, "/var"), ObjectHit(10, "/boot")}),
                               {ObjectRow(7, 10, "", FindingState::kAcknowledged)}, kNow);
    REQUIRE(plan.size() == 2);
    CHECK(plan[0].kind == FindingMutationKind::kTouch);
    CHECK(plan[0].finding_id == 7);
    REQUIRE(plan[0].adopt_object.has_value());
    CHECK(*plan[0].adopt_object == "/boot");  // text order: the same object every time
    CHECK(plan[1].kind == FindingMutationKind::kOpen);
    CHECK(plan[1].object == "/var");
  }
  SUBCASE("a resolved one regresses under the object's name") {
    auto plan = PlanEvaluation(Input({ObjectHit(10, "/var")}),
                               {ObjectRow(7, 10, "", FindingState::kResolved)}, kNow);
    REQUIRE(plan.size() == 1);
    CHECK(plan[0].kind == FindingMutationKind::kRegress);
    REQUIRE(plan[0].adopt_object.has_value());
    CHECK(*plan[0].adopt_object == "/var");
  }
  SUBCASE("an object that already has its finding does not adopt, the old one resolves") {
    auto plan = PlanEvaluation(
        Input({ObjectHit(10, "/var")}),
        {ObjectRow(7, 10, "", FindingState::kOpen), ObjectRow(8, 10, "/var", FindingState::kOpen)},
        kNow);
    REQUIRE(plan.size() == 2);
    CHECK(plan[0].kind == FindingMutationKind::kTouch);
    CHECK(plan[0].finding_id == 8);
    CHECK_FALSE(plan[0].adopt_object.has_value());
    CHECK(plan[1].kind == FindingMutationKind::kResolve);
    CHECK(plan[1].finding_id == 7);
  }
}

TEST_CASE("waivers whose end has passed go back to open, others stay") {
  FindingStateRow due = Row(1, "disk", 10, FindingState::kWaived);
  due.waived_until_ms = kNow;
  FindingStateRow later = Row(2, "disk", 11, FindingState::kWaived);
  later.waived_until_ms = kNow + 1;
  FindingStateRow forever = Row(3, "disk", 12, FindingState::kWaived);
  auto plan = PlanWaiverExpiry({due, later, forever}, kNow);
  REQUIRE(plan.size() == 1);
  CHECK(plan[0].kind == FindingMutationKind::kExpireWaiver);
  CHECK(plan[0].finding_id == 1);
  CHECK(plan[0].event == FindingEventKind::kWaiveExpired);
  CHECK(plan[0].from == FindingState::kWaived);
  CHECK(plan[0].to == FindingState::kOpen);
}

TEST_CASE("findings of removed rules are resolved with a reason") {
  auto plan = PlanResolveRemovedRules(
      {Row(1, "gone", 10, FindingState::kOpen), Row(2, "gone", 11, FindingState::kResolved),
       Row(3, "disk", 10, FindingState::kWaived)},
      {"disk"});
  REQUIRE(plan.size() == 1);
  CHECK(plan[0].finding_id == 1);
  CHECK(plan[0].comment == "rule removed or disabled");
}

PeopleRequest Request(PeopleAction action, std::string_view text = "",
                      std::optional<int64_t> until = std::nullopt) {
  return PeopleRequest{action, "alice", text, until, kNow};
}

TEST_CASE("acknowledge is allowed from open and regressed only") {
  for (FindingState state : {FindingState::kOpen, FindingState::kRegressed}) {
    auto t = PlanPeopleAction(7, state, Request(PeopleAction::kAcknowledge, "seen"));
    REQUIRE(t.ok());
    CHECK(t->to == FindingState::kAcknowledged);
    CHECK(t->event == FindingEventKind::kAcknowledged);
    CHECK(t->actor == "alice");
    CHECK(t->comment == "seen");
  }
  for (FindingState state :
       {FindingState::kAcknowledged, FindingState::kResolved, FindingState::kWaived}) {
    auto t = PlanPeopleAction(7, state, Request(PeopleAction::kAcknowledge));
    REQUIRE_FALSE(t.ok());
    CHECK(t.error().code == ErrorCode::kFailedPrecondition);
  }
  CHECK(PlanPeopleAction(7, FindingState::kResolved, Request(PeopleAction::kAcknowledge))
            .error()
            .message == "cannot acknowledge finding 7 in state 'resolved'");
}

TEST_CASE("waive needs a reason and a future end, from open, acknowledged or regressed") {
  for (FindingState state :
       {FindingState::kOpen, FindingState::kAcknowledged, FindingState::kRegressed}) {
    auto t = PlanPeopleAction(7, state, Request(PeopleAction::kWaive, "accepted", kNow + 1));
    REQUIRE(t.ok());
    CHECK(t->to == FindingState::kWaived);
    CHECK(t->event == FindingEventKind::kWaived);
  }
  CHECK(PlanPeopleAction(7, FindingState::kResolved, Request(PeopleAction::kWaive, "r"))
            .error()
            .code == ErrorCode::kFailedPrecondition);
  CHECK(PlanPeopleAction(7, FindingState::kOpen, Request(PeopleAction::kWaive, "  \n"))
            .error()
            .message == "a waiver needs a reason");
  CHECK(PlanPeopleAction(7, FindingState::kOpen, Request(PeopleAction::kWaive, "r", kNow))
            .error()
            .message == "a waiver must end in the future");
}

TEST_CASE("unwaive only from waived, back to open, comment from any state, keeping it") {
  auto unwaived = PlanPeopleAction(7, FindingState::kWaived, Request(PeopleAction::kUnwaive));
  REQUIRE(unwaived.ok());
  CHECK(unwaived->to == FindingState::kOpen);
  CHECK(unwaived->event == FindingEventKind::kUnwaived);
  CHECK(PlanPeopleAction(7, FindingState::kOpen, Request(PeopleAction::kUnwaive)).error().code ==
        ErrorCode::kFailedPrecondition);
  auto comment = PlanPeopleAction(7, FindingState::kResolved, Request(PeopleAction::kComment, "x"));
  REQUIRE(comment.ok());
  CHECK(comment->to == FindingState::kResolved);
  CHECK(comment->event == FindingEventKind::kComment);
  CHECK(PlanPeopleAction(7, FindingState::kOpen, Request(PeopleAction::kComment, " "))
            .error()
            .message == "comment is empty");
}

TEST_CASE("people requests are bounded and an empty actor is recorded as unknown") {
  PeopleRequest long_actor = Request(PeopleAction::kComment, "x");
  std::string actor(kMaxActorBytes + 1, 'a');
  long_actor.actor = actor;
  CHECK(ValidatePeopleRequest(long_actor).error().code == ErrorCode::kInvalidArgument);
  std::string text(kMaxFindingCommentBytes + 1, 'x');
  CHECK(ValidatePeopleRequest(Request(PeopleAction::kWaive, text)).error().message ==
        "reason must be at most 4000 bytes");
  CHECK(ValidatePeopleRequest(Request(PeopleAction::kAcknowledge, text)).error().message ==
        "comment must be at most 4000 bytes");
  PeopleRequest anonymous = Request(PeopleAction::kAcknowledge);
  anonymous.actor = "";
  CHECK(PlanPeopleAction(1, FindingState::kOpen, anonymous)->actor == "unknown");
}

TEST_CASE("evidence is kept as is when small and truncated with a note when large") {
  CHECK(BoundedEvidence("") == "[]");
  CHECK(BoundedEvidence(R"([{"a":1}])") == R"([{"a":1}])");
  std::string big = "[";
  for (int i = 0; i < 5000; ++i) {
    big += (i ? "," : "") + std::string(R"({"row":")") + std::string(20, 'x') + "\"}";
  }
  big += "]";
  REQUIRE(big.size() > kMaxEvidenceBytes);
  std::string bounded = BoundedEvidence(big);
  CHECK(bounded.size() <= kMaxEvidenceBytes);
  CHECK(bounded.find("evidence truncated") != std::string::npos);
  CHECK(BoundedEvidence(std::string(kMaxEvidenceBytes + 1, 'x')).find("not a JSON array") !=
        std::string::npos);
}

}  // namespace
}  // namespace dozor::server
