// The findings area (FindingStore) on every backend: the lifecycle an evaluation drives (open,
// touch, resolve, regress, waivers that hold or expire, sustain-only hits, estate-wide findings,
// removed rules), people's transitions and their refusals, verification requests, the event
// history and the feed rows, keyset pages in every order with the filters and the caller's scope,
// counts and timelines, and evaluations and people writing the same findings at once.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "backends.hpp"

namespace dozor::server {
namespace {

using dozor::testing::Commit;
using dozor::testing::EnrollHost;
using dozor::testing::kBackendClockStartMs;
using dozor::testing::MakeOrg;
using dozor::testing::Ok;

constexpr int64_t kFindingT0 = kBackendClockStartMs;

// An organisation and its hosts, with the host pks evaluations target.
struct FindingEstate {
  int64_t org = 0;
  std::vector<int64_t> hosts;
  std::vector<std::string> agents;
};

// `count` hosts "<org>-<i>" in organisation `org_name`, each with the hostname `hostname(i)`.
template <typename Store, typename Hostname>
FindingEstate MakeFindingEstate(Store& store, const std::string& org_name, int count,
                                Hostname&& hostname) {
  FindingEstate estate;
  auto found = store.Organizations().FindOrganization(org_name);
  estate.org = found.ok() ? found->id : MakeOrg(store, org_name);
  NewEnrollmentToken token;
  token.org_id = estate.org;
  token.token_hash = "findings-token-" + org_name;
  Ok(store.Agents().CreateEnrollmentToken(token));
  for (int i = 0; i < count; ++i) {
    NewAgent agent;
    agent.agent_id = org_name + "-" + std::to_string(i);
    agent.secret_hash = "secret";
    agent.hostname = hostname(i);
    Ok(store.Agents().EnrollAgent(token.token_hash, agent, 1000));
    estate.hosts.push_back(Ok(store.Hosts().HostPk(agent.agent_id)));
    estate.agents.push_back(agent.agent_id);
  }
  return estate;
}

template <typename Store>
FindingEstate MakeFindingEstate(Store& store, const std::string& org_name, int count) {
  return MakeFindingEstate(store, org_name, count,
                           [](int i) { return "host-" + std::to_string(i); });
}

FindingHit DiskHit(const FindingEstate& e, int64_t host, bool sustain = false,
                   const std::string& evidence = R"([{"mount":"/","used_pct":95}])") {
  return FindingHit{"disk-space-low", e.org, host, evidence, sustain, ""};
}

EvaluationInput HostEvaluation(const FindingEstate& e, std::vector<std::string> rules,
                               std::vector<FindingHit> hits) {
  EvaluationInput input;
  input.host_scope = true;
  input.rule_ids = std::move(rules);
  input.targets = e.hosts;
  input.hits = std::move(hits);
  input.meta["disk-space-low"] = RuleMeta{Severity::kHigh, "hardware"};
  input.meta["reboot-pending"] = RuleMeta{Severity::kMedium, "os"};
  return input;
}

template <typename Store>
FindingsChange Apply(Store& store, const EvaluationInput& input, int64_t now_ms) {
  return Ok(store.Findings().ApplyEvaluation(input, now_ms));
}

template <typename Store>
std::vector<Finding> AllFindings(Store& store) {
  return Ok(store.Findings().ListFindings(FindingFilter{}));
}

template <typename Store>
std::vector<std::string> EventKinds(Store& store, int64_t id) {
  std::vector<std::string> kinds;
  for (const auto& event : Ok(store.Findings().ListFindingEvents(id))) {
    kinds.emplace_back(ToString(event.kind));
  }
  return kinds;
}

TEST_CASE_TEMPLATE("findings: a hit opens one finding, misses resolve it, a return regresses it",
                   Backend, DOZOR_BACKENDS) {
  Backend backend;
  auto& store = *backend.store;
  const FindingEstate e = MakeFindingEstate(store, "acme", 2);
  const auto hit = HostEvaluation(e, {"disk-space-low"}, {DiskHit(e, e.hosts[0])});
  const auto none = HostEvaluation(e, {"disk-space-low"}, {});

  const FindingsChange first = Apply(store, hit, kFindingT0 + 10'000);
  CHECK(first.opened == 1);
  REQUIRE(first.opened_or_regressed_ids.size() == 1);
  const int64_t id = first.opened_or_regressed_ids[0];
  const FindingsChange second = Apply(store, hit, kFindingT0 + 20'000);
  CHECK(second.opened == 0);
  CHECK(second.updated == 1);
  CHECK(second.opened_or_regressed_ids.empty());

  auto list = AllFindings(store);
  REQUIRE(list.size() == 1);
  Finding f = list[0];
  CHECK(f.id == id);
  CHECK(f.state == FindingState::kOpen);
  CHECK(f.rule_id == "disk-space-low");
  CHECK(f.severity == Severity::kHigh);
  CHECK(f.category == "hardware");
  CHECK(f.org_id == e.org);
  CHECK(f.org_name == "acme");
  CHECK(f.agent_id == "acme-0");
  CHECK(f.hostname == "host-0");
  CHECK(f.target == "host:" + std::to_string(e.hosts[0]));
  CHECK(f.object.empty());
  CHECK(f.first_seen_ms == kFindingT0 + 10'000);
  CHECK(f.last_seen_ms == kFindingT0 + 20'000);
  CHECK(f.state_changed_ms == kFindingT0 + 10'000);
  CHECK(f.evidence_json == R"([{"mount":"/","used_pct":95}])");
  CHECK(EventKinds(store, id) == std::vector<std::string>{"opened"});

  const FindingsChange resolved = Apply(store, none, kFindingT0 + 30'000);
  CHECK(resolved.resolved == 1);
  f = Ok(store.Findings().GetFinding(id));
  CHECK(f.state == FindingState::kResolved);
  CHECK(f.resolved_at_ms == kFindingT0 + 30'000);
  CHECK(f.state_changed_ms == kFindingT0 + 30'000);
  CHECK(Apply(store, none, kFindingT0 + 35'000).resolved == 0);  // already resolved: nothing

  const FindingsChange again = Apply(store, hit, kFindingT0 + 40'000);
  CHECK(again.regressed == 1);
  CHECK(again.opened == 0);
  CHECK(again.opened_or_regressed_ids == std::vector<int64_t>{id});
  f = Ok(store.Findings().GetFinding(id));
  CHECK(f.state == FindingState::kRegressed);
  CHECK(f.regressions == 1);
  CHECK_FALSE(f.resolved_at_ms.has_value());
  CHECK(f.first_seen_ms == kFindingT0 + 10'000);
  CHECK(f.last_seen_ms == kFindingT0 + 40'000);
  CHECK(AllFindings(store).size() == 1);

  const auto events = Ok(store.Findings().ListFindingEvents(id));
  REQUIRE(events.size() == 3);
  CHECK(events[0].kind == FindingEventKind::kOpened);
  CHECK_FALSE(events[0].from_state.has_value());
  CHECK(events[0].to_state == FindingState::kOpen);
  CHECK(events[0].actor == "system");
  CHECK(events[0].finding_id == id);
  CHECK(events[1].kind == FindingEventKind::kResolved);
  CHECK(events[1].from_state == FindingState::kOpen);
  CHECK(events[1].to_state == FindingState::kResolved);
  CHECK(events[1].at_ms == kFindingT0 + 30'000);
  CHECK(events[2].kind == FindingEventKind::kRegressed);
  CHECK(events[2].from_state == FindingState::kResolved);
  CHECK(events[2].to_state == FindingState::kRegressed);
  CHECK(events[2].at_ms == kFindingT0 + 40'000);
  CHECK(events[0].id < events[1].id);
  CHECK(events[1].id < events[2].id);

  // The feed has every finding event, with its organisation and host.
  CHECK(backend.QueryInt("SELECT count(*) FROM events WHERE finding_id = " + std::to_string(id)) ==
        3);
  CHECK(backend.QueryInt("SELECT count(*) FROM events WHERE kind = 'finding_opened' AND "
                         "agent_id = 'acme-0' AND actor = 'system' AND org_id = " +
                         std::to_string(e.org)) == 1);
  CHECK(backend.QueryInt("SELECT count(*) FROM events WHERE kind = 'finding_resolved'") == 1);
  CHECK(backend.QueryInt("SELECT count(*) FROM events WHERE kind = 'finding_regressed' AND at = " +
                         std::to_string(kFindingT0 + 40'000)) == 1);
}

TEST_CASE_TEMPLATE("findings: an evaluation opens in hit order and resolves only its own rules",
                   Backend, DOZOR_BACKENDS) {
  Backend backend;
  auto& store = *backend.store;
  const FindingEstate e = MakeFindingEstate(store, "acme", 3);
  auto both = HostEvaluation(
      e, {"disk-space-low", "reboot-pending"},
      {DiskHit(e, e.hosts[2]), FindingHit{"reboot-pending", e.org, e.hosts[0], "[]", false, ""},
       DiskHit(e, e.hosts[1])});
  const FindingsChange opened = Apply(store, both, 1000);
  CHECK(opened.opened == 3);
  REQUIRE(opened.opened_or_regressed_ids.size() == 3);
  CHECK(opened.opened_or_regressed_ids[0] < opened.opened_or_regressed_ids[1]);
  CHECK(opened.opened_or_regressed_ids[1] < opened.opened_or_regressed_ids[2]);
  CHECK(Ok(store.Findings().GetFinding(opened.opened_or_regressed_ids[1])).rule_id ==
        "reboot-pending");

  // Severity order (high first), then first seen, then id.
  auto all = AllFindings(store);
  REQUIRE(all.size() == 3);
  CHECK(all[0].severity == Severity::kHigh);
  CHECK(all[0].agent_id == "acme-2");
  CHECK(all[1].agent_id == "acme-1");
  CHECK(all[2].rule_id == "reboot-pending");

  // An evaluation of reboot-pending alone leaves the disk findings open.
  const FindingsChange change = Apply(store, HostEvaluation(e, {"reboot-pending"}, {}), 2000);
  CHECK(change.resolved == 1);
  FindingFilter filter;
  filter.rule_id = "disk-space-low";
  for (const Finding& f : Ok(store.Findings().ListFindings(filter))) {
    CHECK(f.state == FindingState::kOpen);
  }
  filter.rule_id = "reboot-pending";
  CHECK(Ok(store.Findings().ListFindings(filter)).at(0).state == FindingState::kResolved);
  // An evaluation of one host leaves the other hosts' findings open.
  auto one_host = HostEvaluation(e, {"disk-space-low"}, {});
  one_host.targets = {e.hosts[1]};
  CHECK(Apply(store, one_host, 3000).resolved == 1);
  filter.rule_id = "disk-space-low";
  filter.states = {FindingState::kOpen};
  const auto still_open = Ok(store.Findings().ListFindings(filter));
  REQUIRE(still_open.size() == 1);
  CHECK(still_open[0].agent_id == "acme-2");
}

TEST_CASE_TEMPLATE("findings: sustain-only hits keep active findings and never open or reopen",
                   Backend, DOZOR_BACKENDS) {
  Backend backend;
  auto& store = *backend.store;
  const FindingEstate e = MakeFindingEstate(store, "acme", 2);
  Apply(store, HostEvaluation(e, {"disk-space-low"}, {DiskHit(e, e.hosts[0])}), 1000);
  const auto sustain = HostEvaluation(e, {"disk-space-low"},
                                      {DiskHit(e, e.hosts[0], true), DiskHit(e, e.hosts[1], true)});
  const FindingsChange change = Apply(store, sustain, 2000);
  CHECK(change.opened == 0);
  CHECK(change.resolved == 0);
  CHECK(change.updated == 1);
  auto list = AllFindings(store);
  REQUIRE(list.size() == 1);
  CHECK(list[0].last_seen_ms == 2000);

  // An evidence-less sustain hit (no fresh data) keeps the finding exactly as it was.
  const auto keep = HostEvaluation(e, {"disk-space-low"}, {DiskHit(e, e.hosts[0], true, "")});
  const FindingsChange kept = Apply(store, keep, 2500);
  CHECK(kept.updated == 0);
  CHECK(kept.resolved == 0);
  CHECK(AllFindings(store).at(0).last_seen_ms == 2000);

  Apply(store, HostEvaluation(e, {"disk-space-low"}, {}), 3000);
  CHECK(Apply(store, sustain, 4000).regressed == 0);
  CHECK(AllFindings(store).at(0).state == FindingState::kResolved);
}

TEST_CASE_TEMPLATE("findings: waivers hold across a return and expire back to open", Backend,
                   DOZOR_BACKENDS) {
  Backend backend;
  auto& store = *backend.store;
  const FindingEstate e = MakeFindingEstate(store, "acme", 1);
  const auto hit = HostEvaluation(e, {"disk-space-low"}, {DiskHit(e, e.hosts[0])});
  const auto none = HostEvaluation(e, {"disk-space-low"}, {});
  Apply(store, hit, 1000);
  const int64_t id = AllFindings(store).at(0).id;
  const Finding waived =
      Ok(store.Findings().WaiveFinding(id, "ivan", "batch server, full by design", 100000, 1500));
  CHECK(waived.state == FindingState::kWaived);
  CHECK(waived.waived_by == "ivan");
  CHECK(waived.waived_until_ms == 100000);

  // Resolved while waived, then back while the waiver holds: waived again, not regressed.
  CHECK(Apply(store, none, 2000).resolved == 1);
  const FindingsChange back = Apply(store, hit, 3000);
  CHECK(back.regressed == 1);
  Finding f = Ok(store.Findings().GetFinding(id));
  CHECK(f.state == FindingState::kWaived);
  CHECK(f.waive_reason == "batch server, full by design");
  auto events = Ok(store.Findings().ListFindingEvents(id));
  CHECK(events.back().kind == FindingEventKind::kRegressed);
  CHECK(events.back().to_state == FindingState::kWaived);
  CHECK(events.back().comment == "still covered by the client's waiver");

  // A waived finding stays waived while hit; the evaluation at its end expires it first.
  CHECK(Apply(store, hit, 99'999).waivers_expired == 0);
  CHECK(Ok(store.Findings().GetFinding(id)).state == FindingState::kWaived);
  const FindingsChange expired = Apply(store, hit, 100'000);
  CHECK(expired.waivers_expired == 1);
  CHECK(expired.updated == 1);  // then touched as the open finding it now is
  f = Ok(store.Findings().GetFinding(id));
  CHECK(f.state == FindingState::kOpen);
  CHECK(f.state_changed_ms == 100'000);
  CHECK(EventKinds(store, id) ==
        std::vector<std::string>{"opened", "waived", "resolved", "regressed", "waive_expired"});
  CHECK(backend.QueryInt("SELECT count(*) FROM events WHERE kind = 'finding_waive_expired'") == 1);

  // ExpireWaivers on its own: only waivers with an end at or before now; none without an end.
  const FindingEstate other = MakeFindingEstate(store, "globex", 2);
  Apply(store,
        HostEvaluation(other, {"disk-space-low"},
                       {DiskHit(other, other.hosts[0]), DiskHit(other, other.hosts[1])}),
        200'000);
  FindingFilter filter;
  filter.org_id = other.org;
  const auto globex = Ok(store.Findings().ListFindings(filter));
  REQUIRE(globex.size() == 2);
  Ok(store.Findings().WaiveFinding(globex[0].id, "client", "until spring", 300'000, 200'100));
  Ok(store.Findings().WaiveFinding(globex[1].id, "client", "forever", std::nullopt, 200'100));
  CHECK(Ok(store.Findings().ExpireWaivers(299'999)) == 0);
  CHECK(Ok(store.Findings().ExpireWaivers(300'000)) == 1);
  CHECK(Ok(store.Findings().ExpireWaivers(1'000'000'000)) == 0);
  CHECK(Ok(store.Findings().GetFinding(globex[0].id)).state == FindingState::kOpen);
  CHECK(Ok(store.Findings().GetFinding(globex[1].id)).state == FindingState::kWaived);
  // After the waiver's end a return is a plain regression.
  Apply(store, none, 400'000);
  Apply(store, hit, 500'000);
  CHECK(Ok(store.Findings().GetFinding(id)).state == FindingState::kRegressed);

  // Unwaiving ends the waiver for good: the open-ended one no longer covers a later return.
  const Finding unwaived =
      Ok(store.Findings().UnwaiveFinding(globex[1].id, "ivan", "fix it after all", 600'000));
  CHECK(unwaived.state == FindingState::kOpen);
  CHECK(unwaived.waived_by.empty());
  CHECK(unwaived.waive_reason.empty());
  CHECK_FALSE(unwaived.waived_until_ms.has_value());
  const auto other_hit = HostEvaluation(
      other, {"disk-space-low"}, {DiskHit(other, other.hosts[0]), DiskHit(other, other.hosts[1])});
  Apply(store, HostEvaluation(other, {"disk-space-low"}, {}), 700'000);
  Apply(store, other_hit, 800'000);
  CHECK(Ok(store.Findings().GetFinding(globex[1].id)).state == FindingState::kRegressed);
}

TEST_CASE_TEMPLATE("findings: people's transitions, their refusals and the history they leave",
                   Backend, DOZOR_BACKENDS) {
  Backend backend;
  auto& store = *backend.store;
  const FindingEstate e = MakeFindingEstate(store, "acme", 1);
  const auto hit = HostEvaluation(e, {"disk-space-low"}, {DiskHit(e, e.hosts[0])});
  Apply(store, hit, 1000);
  const int64_t id = AllFindings(store).at(0).id;
  auto& findings = store.Findings();

  const Finding acked = Ok(findings.AcknowledgeFinding(id, "ivan", "looking into it", 2000));
  CHECK(acked.state == FindingState::kAcknowledged);
  CHECK(acked.ack_by == "ivan");
  CHECK(acked.ack_comment == "looking into it");
  CHECK(acked.state_changed_ms == 2000);
  CHECK(acked.agent_id == "acme-0");  // the finding as read back, joined
  auto twice = findings.AcknowledgeFinding(id, "ivan", "", 2100);
  REQUIRE_FALSE(twice.ok());
  CHECK(twice.error().code == ErrorCode::kFailedPrecondition);
  CHECK(twice.error().message.find("acknowledged") != std::string::npos);

  auto no_reason = findings.WaiveFinding(id, "ivan", "  ", std::nullopt, 2200);
  REQUIRE_FALSE(no_reason.ok());
  CHECK(no_reason.error().code == ErrorCode::kInvalidArgument);
  auto past_end = findings.WaiveFinding(id, "ivan", "why", 2000, 2200);
  REQUIRE_FALSE(past_end.ok());
  CHECK(past_end.error().code == ErrorCode::kInvalidArgument);
  auto long_actor = findings.CommentFinding(id, std::string(kMaxActorBytes + 1, 'a'), "x", 2200);
  REQUIRE_FALSE(long_actor.ok());
  CHECK(long_actor.error().code == ErrorCode::kInvalidArgument);

  const Finding waived = Ok(findings.WaiveFinding(id, "client", "replacement ordered", 5000, 2300));
  CHECK(waived.state == FindingState::kWaived);
  CHECK(waived.waive_reason == "replacement ordered");
  CHECK(waived.waived_until_ms == 5000);
  CHECK(waived.ack_by == "ivan");  // kept
  const Finding unwaived = Ok(findings.UnwaiveFinding(id, "ivan", "client changed mind", 3000));
  CHECK(unwaived.state == FindingState::kOpen);
  CHECK_FALSE(unwaived.waived_until_ms.has_value());
  auto bad_unwaive = findings.UnwaiveFinding(id, "ivan", "", 3100);
  REQUIRE_FALSE(bad_unwaive.ok());
  CHECK(bad_unwaive.error().code == ErrorCode::kFailedPrecondition);

  const Finding commented = Ok(findings.CommentFinding(id, "", "disk swapped tomorrow", 4000));
  CHECK(commented.state == FindingState::kOpen);
  auto empty_comment = findings.CommentFinding(id, "petr", "", 4100);
  REQUIRE_FALSE(empty_comment.ok());
  CHECK(empty_comment.error().code == ErrorCode::kInvalidArgument);
  auto long_comment =
      findings.CommentFinding(id, "petr", std::string(kMaxFindingCommentBytes + 1, 'x'), 4200);
  REQUIRE_FALSE(long_comment.ok());
  CHECK(long_comment.error().code == ErrorCode::kInvalidArgument);
  CHECK(Ok(findings.CommentFinding(id, "petr", std::string(kMaxFindingCommentBytes, 'y'), 4300))
            .state == FindingState::kOpen);

  // Unknown findings.
  CHECK(findings.GetFinding(id + 1000).error().code == ErrorCode::kNotFound);
  CHECK(findings.AcknowledgeFinding(id + 1000, "ivan", "", 5000).error().code ==
        ErrorCode::kNotFound);
  CHECK(findings.CommentFinding(id + 1000, "ivan", "hello", 5000).error().code ==
        ErrorCode::kNotFound);
  CHECK(Ok(findings.ListFindingEvents(id + 1000)).empty());

  const auto events = Ok(findings.ListFindingEvents(id));
  std::vector<std::string> kinds, actors;
  for (const auto& event : events) {
    kinds.emplace_back(ToString(event.kind));
    actors.push_back(event.actor);
  }
  CHECK(kinds == std::vector<std::string>{"opened", "acknowledged", "waived", "unwaived", "comment",
                                          "comment"});
  CHECK(actors == std::vector<std::string>{"system", "ivan", "client", "ivan", "unknown", "petr"});
  CHECK(events[2].comment == "replacement ordered");
  CHECK(events[2].from_state == FindingState::kAcknowledged);
  CHECK(events[2].to_state == FindingState::kWaived);
  CHECK(events[4].from_state == FindingState::kOpen);
  CHECK(events[4].to_state == FindingState::kOpen);
  CHECK(events[4].at_ms == 4000);
  // Refusals leave nothing behind; each accepted action one feed row.
  CHECK(backend.QueryInt("SELECT count(*) FROM finding_events") == 6);
  CHECK(backend.QueryInt("SELECT count(*) FROM events WHERE kind = 'finding_comment' AND "
                         "detail = 'disk swapped tomorrow' AND actor = 'unknown'") == 1);
  CHECK(backend.QueryInt("SELECT count(*) FROM events WHERE kind = 'finding_acknowledged' AND "
                         "agent_id = 'acme-0'") == 1);

  // A resolved finding can be commented on, but not acknowledged or waived.
  Apply(store, HostEvaluation(e, {"disk-space-low"}, {}), 6000);
  CHECK(findings.AcknowledgeFinding(id, "ivan", "", 7000).error().code ==
        ErrorCode::kFailedPrecondition);
  CHECK(findings.WaiveFinding(id, "ivan", "why", std::nullopt, 7000).error().code ==
        ErrorCode::kFailedPrecondition);
  CHECK(Ok(findings.CommentFinding(id, "ivan", "fixed by the new disk", 7000)).state ==
        FindingState::kResolved);
  // Its return: the waiver ended when it was withdrawn, so this is a regression, which people
  // can acknowledge again.
  Apply(store, hit, 8000);
  CHECK(Ok(findings.GetFinding(id)).state == FindingState::kRegressed);
  CHECK(Ok(findings.AcknowledgeFinding(id, "ivan", "again", 8500)).state ==
        FindingState::kAcknowledged);
}

TEST_CASE_TEMPLATE("findings: a verification waits for a fresh inventory, then decides", Backend,
                   DOZOR_BACKENDS) {
  Backend backend;
  auto& store = *backend.store;
  const FindingEstate e = MakeFindingEstate(store, "acme", 2);
  auto evaluate = [&](std::vector<FindingHit> hits, int64_t now_ms) {
    EvaluationInput input = HostEvaluation(e, {"disk-space-low"}, std::move(hits));
    return Apply(store, input, now_ms);
  };
  uint64_t seq = 0;
  auto inventory = [&](int host, int64_t at_ms) {
    std::vector<IncomingReport> batch(1);
    batch[0].agent_id = e.agents[host];
    batch[0].received_at_ms = at_ms;
    batch[0].report.set_seq(++seq);
    batch[0].report.set_collected_at_ms(at_ms);
    batch[0].report.mutable_inventory()->mutable_os()->set_family("linux");
    const auto results = Commit(store, std::move(batch));
    REQUIRE(results.at(0).outcome == CommitOutcome::kStored);
  };
  evaluate({DiskHit(e, e.hosts[0], false, R"([{"v":"10"}])")}, kFindingT0);
  const int64_t id = AllFindings(store).at(0).id;
  auto& findings = store.Findings();

  CHECK(findings.RequestVerification(id, "", "", kFindingT0 + 500).error().code ==
        ErrorCode::kInvalidArgument);
  CHECK(findings.RequestVerification(id, "x", std::string(4097, 'c'), kFindingT0 + 500)
            .error()
            .code == ErrorCode::kInvalidArgument);
  CHECK(findings.RequestVerification(id + 1000, "x", "", kFindingT0 + 500).error().code ==
        ErrorCode::kNotFound);
  const Finding asked =
      Ok(findings.RequestVerification(id, "sysadmin", "upgraded", kFindingT0 + 1000));
  CHECK(asked.verify_requested_by == "sysadmin");
  CHECK(asked.verify_requested_at_ms == kFindingT0 + 1000);
  CHECK(asked.state == FindingState::kOpen);
  auto again = findings.RequestVerification(id, "engineer", "", kFindingT0 + 2000);
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().code == ErrorCode::kFailedPrecondition);
  CHECK(again.error().message.find("pending") != std::string::npos);
  CHECK(again.error().message.find("sysadmin") != std::string::npos);

  // Another host's inventory, and evaluations on old data, decide nothing.
  inventory(1, kFindingT0 + 3000);
  evaluate({DiskHit(e, e.hosts[0], false, R"([{"v":"10"}])")}, kFindingT0 + 4000);
  CHECK(Ok(findings.GetFinding(id)).verify_requested_at_ms.has_value());
  // After its host's inventory the next evaluation finds it still there: failed, state kept.
  inventory(0, kFindingT0 + 5000);
  evaluate({DiskHit(e, e.hosts[0], false, R"([{"v":"11"}])")}, kFindingT0 + 6000);
  Finding f = Ok(findings.GetFinding(id));
  CHECK(f.state == FindingState::kOpen);
  CHECK(f.evidence_json == R"([{"v":"11"}])");
  CHECK_FALSE(f.verify_requested_at_ms.has_value());
  CHECK(f.verify_requested_by.empty());
  auto events = Ok(findings.ListFindingEvents(id));
  CHECK(events.back().kind == FindingEventKind::kVerifyFailed);
  CHECK(events.back().actor == "system");
  CHECK(events.back().comment.find("still present") != std::string::npos);
  CHECK(events.back().comment.find("sysadmin") != std::string::npos);

  // Asked again (no pending request now); fixed: the evaluation after the inventory confirms.
  Ok(findings.RequestVerification(id, "sysadmin", "", kFindingT0 + 7000));
  evaluate({}, kFindingT0 + 8000);  // resolves on its own data, decides nothing yet
  CHECK(EventKinds(store, id).back() == "resolved");
  inventory(0, kFindingT0 + 9000);
  evaluate({}, kFindingT0 + 10'000);
  CHECK(EventKinds(store, id).back() == "verify_confirmed");
  f = Ok(findings.GetFinding(id));
  CHECK(f.state == FindingState::kResolved);
  CHECK_FALSE(f.verify_requested_at_ms.has_value());
  CHECK(findings.RequestVerification(id, "sysadmin", "", kFindingT0 + 11'000).error().code ==
        ErrorCode::kFailedPrecondition);
  CHECK(backend.QueryInt("SELECT count(*) FROM events WHERE kind IN ('finding_verify_requested', "
                         "'finding_verify_failed', 'finding_verify_confirmed')") == 4);

  // A request unanswered for 10 minutes may be repeated.
  evaluate({DiskHit(e, e.hosts[0])}, kFindingT0 + 20'000);
  Ok(findings.RequestVerification(id, "a", "", kFindingT0 + 30'000));
  CHECK_FALSE(findings.RequestVerification(id, "b", "", kFindingT0 + 30'000 + 599'999).ok());
  CHECK(Ok(findings.RequestVerification(id, "b", "", kFindingT0 + 30'000 + 600'000))
            .verify_requested_by == "b");
}

TEST_CASE_TEMPLATE("findings: only a waived finding's waiver can be accepted", Backend,
                   DOZOR_BACKENDS) {
  Backend backend;
  auto& store = *backend.store;
  const FindingEstate e = MakeFindingEstate(store, "acme", 1);
  Apply(store, HostEvaluation(e, {"disk-space-low"}, {DiskHit(e, e.hosts[0])}), 1000);
  const int64_t id = AllFindings(store).at(0).id;
  auto& findings = store.Findings();
  CHECK(findings.AcceptWaiver(id, "director", "", 1100).error().code ==
        ErrorCode::kFailedPrecondition);
  CHECK(findings.AcceptWaiver(id, "", "", 1100).error().code == ErrorCode::kInvalidArgument);
  CHECK(findings.AcceptWaiver(id + 1000, "director", "", 1100).error().code ==
        ErrorCode::kNotFound);
  Ok(findings.WaiveFinding(id, "engineer", "client accepts the risk", std::nullopt, 1200));
  const Finding accepted = Ok(findings.AcceptWaiver(id, "director", "согласовано", 1300));
  CHECK(accepted.state == FindingState::kWaived);
  const auto events = Ok(findings.ListFindingEvents(id));
  CHECK(events.back().kind == FindingEventKind::kWaiverAccepted);
  CHECK(events.back().actor == "director");
  CHECK(events.back().comment == "согласовано");
  CHECK(events.back().from_state == FindingState::kWaived);
  CHECK(events.back().to_state == FindingState::kWaived);
}

TEST_CASE_TEMPLATE("findings: estate-wide findings, removed rules and adopted objects", Backend,
                   DOZOR_BACKENDS) {
  Backend backend;
  auto& store = *backend.store;
  const FindingEstate e = MakeFindingEstate(store, "acme", 1);
  EvaluationInput estate;
  estate.host_scope = false;
  estate.rule_ids = {"single-dns-server"};
  estate.targets = {e.org};
  estate.hits = {FindingHit{"single-dns-server", e.org, std::nullopt, "[]", false, ""}};
  estate.meta["single-dns-server"] = RuleMeta{Severity::kMedium, "network"};
  CHECK(Apply(store, estate, 1000).opened == 1);
  CHECK(Apply(store, estate, 2000).updated == 1);
  const Finding f = AllFindings(store).at(0);
  CHECK(f.target == "org:" + std::to_string(e.org));
  CHECK(f.agent_id.empty());
  CHECK(f.hostname.empty());
  CHECK(f.org_name == "acme");
  CHECK(backend.QueryInt("SELECT count(*) FROM events WHERE kind = 'finding_opened' AND "
                         "agent_id = ''") == 1);

  // A host evaluation of the same rule does not touch the estate-wide finding.
  CHECK(Apply(store, HostEvaluation(e, {"single-dns-server"}, {}), 2500).resolved == 0);

  // A rule that now names objects: its "" finding is adopted by the first object hit.
  Apply(store, HostEvaluation(e, {"disk-space-low"}, {DiskHit(e, e.hosts[0])}), 3000);
  const int64_t disk_id = Ok(store.Findings().ListFindings([] {
                            FindingFilter filter;
                            filter.rule_id = "disk-space-low";
                            return filter;
                          }()))
                              .at(0)
                              .id;
  Ok(store.Findings().AcknowledgeFinding(disk_id, "ivan", "known", 3100));
  FindingHit var = DiskHit(e, e.hosts[0]);
  var.object = "/var";
  FindingHit home = DiskHit(e, e.hosts[0]);
  home.object = "/home";
  const FindingsChange adopted =
      Apply(store, HostEvaluation(e, {"disk-space-low"}, {var, home}), 4000);
  CHECK(adopted.opened == 1);
  CHECK(adopted.updated == 1);
  const Finding legacy = Ok(store.Findings().GetFinding(disk_id));
  CHECK(legacy.object == "/home");  // objects in order: "/home" first
  CHECK(legacy.state == FindingState::kAcknowledged);
  FindingFilter disk;
  disk.rule_id = "disk-space-low";
  std::set<std::string> objects;
  for (const Finding& row : Ok(store.Findings().ListFindings(disk))) {
    objects.insert(row.object);
  }
  CHECK(objects == std::set<std::string>{"/home", "/var"});

  // Removed rules: their active findings resolve with a comment; resolved ones stay.
  CHECK(Ok(store.Findings().ResolveFindingsOfRemovedRules({"disk-space-low"}, 5000)) == 1);
  CHECK(Ok(store.Findings().GetFinding(f.id)).state == FindingState::kResolved);
  CHECK(Ok(store.Findings().ListFindingEvents(f.id)).back().comment == "rule removed or disabled");
  CHECK(Ok(store.Findings().ResolveFindingsOfRemovedRules({"disk-space-low"}, 6000)) == 0);
  CHECK(Ok(store.Findings().ResolveFindingsOfRemovedRules({}, 7000)) == 2);
  for (const Finding& row : AllFindings(store)) {
    CHECK(row.state == FindingState::kResolved);
  }
}

TEST_CASE_TEMPLATE("findings: evidence over 64 KiB is cut with a note, empty evidence is []",
                   Backend, DOZOR_BACKENDS) {
  Backend backend;
  auto& store = *backend.store;
  const FindingEstate e = MakeFindingEstate(store, "acme", 2);
  std::string big = "[";
  for (int i = 0; i < 5000; ++i) {
    big += (i ? "," : "") + std::string(R"({"package":"libfoo)") + std::to_string(i) +
           R"(","version":"1.2.3-4+deb12u1"})";
  }
  big += "]";
  REQUIRE(big.size() > kMaxEvidenceBytes);
  Apply(store,
        HostEvaluation(e, {"disk-space-low"},
                       {DiskHit(e, e.hosts[0], false, big), DiskHit(e, e.hosts[1], false, "")}),
        1000);
  FindingFilter filter;
  filter.agent_id = "acme-0";
  const Finding f = Ok(store.Findings().ListFindings(filter)).at(0);
  CHECK(f.evidence_json.size() <= kMaxEvidenceBytes);
  CHECK(f.evidence_json.find("evidence truncated") != std::string::npos);
  CHECK(f.evidence_json.rfind(R"([{"package":"libfoo0")", 0) == 0);
  filter.agent_id = "acme-1";
  CHECK(Ok(store.Findings().ListFindings(filter)).at(0).evidence_json == "[]");
}

// ------------------------------------------------------------------ pages and filters

constexpr const char* kPageRules[] = {"rule-critical", "rule-high", "rule-medium", "rule-low",
                                      "rule-info"};

template <typename Store>
void EvaluateEveryRule(Store& store, const FindingEstate& e, int64_t now_ms,
                       const std::string& category = "os") {
  EvaluationInput input;
  input.host_scope = true;
  input.targets = e.hosts;
  const Severity severities[] = {Severity::kCritical, Severity::kHigh, Severity::kMedium,
                                 Severity::kLow, Severity::kInfo};
  for (size_t i = 0; i < std::size(kPageRules); ++i) {
    input.rule_ids.emplace_back(kPageRules[i]);
    input.meta[kPageRules[i]] = RuleMeta{severities[i], category};
    for (const int64_t host : e.hosts) {
      input.hits.push_back(FindingHit{kPageRules[i], e.org, host, "[]", false, ""});
    }
  }
  Apply(store, input, now_ms);
}

struct PagedFindings {
  FindingEstate acme;
  FindingEstate globex;
};

// 60 findings: 5 rules on 6 hosts of two organisations. Hostnames mix cases and non-ASCII so
// the host order shows whether text compares byte by byte (SQLite's BINARY).
template <typename Store>
PagedFindings MakePagedFindings(Store& store) {
  const std::vector<std::string> acme_names = {"web-5", "Web-4", "étoile",
                                               "web-2", "Zeta",  "web-0"};
  const std::vector<std::string> globex_names = {"db-0", "DB-1", "db-2", "Ærø", "db-4", "db-5"};
  PagedFindings paged;
  paged.acme = MakeFindingEstate(store, "acme", 6, [&](int i) { return acme_names[i]; });
  paged.globex = MakeFindingEstate(store, "globex", 6, [&](int i) { return globex_names[i]; });
  EvaluateEveryRule(store, paged.acme, 10'000);
  EvaluateEveryRule(store, paged.globex, 20'000);
  EvaluateEveryRule(store, paged.acme, 30'000);  // sustains: acme's last_seen moves past globex's
  return paged;
}

// Whether a comes before b in the sort order (ties by id), ascending.
bool FindingSortsBefore(FindingSort sort, const Finding& a, const Finding& b) {
  switch (sort) {
    case FindingSort::kSeverity:
      return std::tuple(static_cast<int>(a.severity), a.first_seen_ms, a.id) <
             std::tuple(static_cast<int>(b.severity), b.first_seen_ms, b.id);
    case FindingSort::kOpened:
      return std::tuple(a.first_seen_ms, a.id) < std::tuple(b.first_seen_ms, b.id);
    case FindingSort::kLastSeen:
      return std::tuple(a.last_seen_ms, a.id) < std::tuple(b.last_seen_ms, b.id);
    case FindingSort::kHost:
      return std::tuple(a.hostname, a.id) < std::tuple(b.hostname, b.id);  // bytes
  }
  return false;
}

template <typename Store>
std::vector<Finding> WalkFindingPages(Store& store, FindingQuery query) {
  std::vector<Finding> all;
  for (int page_number = 0; page_number < 1000; ++page_number) {
    const Page<Finding> page = Ok(store.Findings().QueryFindings(query));
    CHECK(static_cast<int>(page.rows.size()) <= query.page.limit);
    all.insert(all.end(), page.rows.begin(), page.rows.end());
    if (!page.next) {
      return all;
    }
    CHECK(static_cast<int>(page.rows.size()) == query.page.limit);
    query.page.after = page.next;
  }
  FAIL("paging did not end");
  return all;
}

TEST_CASE_TEMPLATE("findings pages of every sort order cover every finding once, in byte order",
                   Backend, DOZOR_BACKENDS) {
  Backend backend;
  auto& store = *backend.store;
  MakePagedFindings(store);
  const auto everything = AllFindings(store);
  REQUIRE(everything.size() == 60);
  for (size_t i = 1; i < everything.size(); ++i) {
    CHECK(FindingSortsBefore(FindingSort::kSeverity, everything[i - 1], everything[i]));
  }
  for (const auto sort :
       {FindingSort::kSeverity, FindingSort::kOpened, FindingSort::kLastSeen, FindingSort::kHost}) {
    for (const auto direction : {SortDirection::kAscending, SortDirection::kDescending}) {
      INFO("sort " << static_cast<int>(sort) << " direction " << static_cast<int>(direction));
      FindingQuery query;
      query.sort = sort;
      query.direction = direction;
      query.page.limit = 7;
      const auto rows = WalkFindingPages(store, query);
      REQUIRE(rows.size() == 60);
      std::set<int64_t> ids;
      for (const auto& row : rows) ids.insert(row.id);
      CHECK(ids.size() == 60);
      for (size_t i = 1; i < rows.size(); ++i) {
        if (direction == SortDirection::kAscending) {
          CHECK(FindingSortsBefore(sort, rows[i - 1], rows[i]));
        } else {
          CHECK(FindingSortsBefore(sort, rows[i], rows[i - 1]));
        }
      }
    }
  }
  // Byte order: upper case before lower case, non-ASCII last.
  FindingQuery by_host;
  by_host.sort = FindingSort::kHost;
  by_host.page.limit = 1000;
  const auto hosts = Ok(store.Findings().QueryFindings(by_host)).rows;
  CHECK(hosts.front().hostname == "DB-1");
  CHECK(hosts.back().hostname == "étoile");
  // The position's key: the sort's columns, then the id.
  FindingQuery first;
  first.sort = FindingSort::kHost;
  first.page.limit = 1;
  const auto page = Ok(store.Findings().QueryFindings(first));
  REQUIRE(page.next.has_value());
  REQUIRE(page.next->key.size() == 1);
  CHECK(std::get<std::string>(page.next->key[0]) == "DB-1");
  CHECK(page.next->id == page.rows.at(0).id);
  // The default page keeps ListFindings' order.
  FindingQuery all_at_once;
  all_at_once.page.limit = 1000;
  const auto one_page = Ok(store.Findings().QueryFindings(all_at_once));
  CHECK_FALSE(one_page.next.has_value());
  REQUIRE(one_page.rows.size() == everything.size());
  for (size_t i = 0; i < everything.size(); ++i) {
    CHECK(one_page.rows[i].id == everything[i].id);
  }
}

TEST_CASE_TEMPLATE("findings pages refuse a position of another sort", Backend, DOZOR_BACKENDS) {
  Backend backend;
  auto& store = *backend.store;
  MakePagedFindings(store);
  FindingQuery query;
  query.sort = FindingSort::kHost;
  query.page.after = PagePosition{{int64_t{5}}, 1};
  CHECK(store.Findings().QueryFindings(query).error().code == ErrorCode::kInvalidArgument);
  query.sort = FindingSort::kSeverity;
  query.page.after = PagePosition{{int64_t{1}}, 1};
  CHECK(store.Findings().QueryFindings(query).error().code == ErrorCode::kInvalidArgument);
  query.sort = FindingSort::kOpened;
  query.page.after = PagePosition{{std::string("x")}, 1};
  CHECK(store.Findings().QueryFindings(query).error().code == ErrorCode::kInvalidArgument);
  query.page.after = PagePosition{{int64_t{0}}, 0};
  CHECK(Ok(store.Findings().QueryFindings(query)).rows.size() == 60);
}

TEST_CASE_TEMPLATE("findings pages stay stable while findings are added between pages", Backend,
                   DOZOR_BACKENDS) {
  Backend backend;
  auto& store = *backend.store;
  MakePagedFindings(store);
  const FindingEstate initech = MakeFindingEstate(store, "initech", 3);
  std::set<int64_t> original;
  for (const Finding& f : AllFindings(store)) original.insert(f.id);
  FindingQuery query;
  query.sort = FindingSort::kOpened;
  query.page.limit = 9;
  std::vector<Finding> rows;
  for (int page_number = 0;; ++page_number) {
    REQUIRE(page_number < 100);
    const Page<Finding> page = Ok(store.Findings().QueryFindings(query));
    rows.insert(rows.end(), page.rows.begin(), page.rows.end());
    if (!page.next) break;
    query.page.after = page.next;
    if (page_number == 2) {
      EvaluateEveryRule(store, initech, 40'000);  // 15 new findings, after every existing one
    }
  }
  std::map<int64_t, int> seen;
  for (const auto& row : rows) ++seen[row.id];
  for (const int64_t id : original) CHECK(seen[id] == 1);
  CHECK(rows.size() == 75);
  CHECK(std::all_of(seen.begin(), seen.end(), [](const auto& kv) { return kv.second == 1; }));
}

TEST_CASE_TEMPLATE("every combination of findings filters selects exactly the matching findings",
                   Backend, DOZOR_BACKENDS) {
  Backend backend;
  auto& store = *backend.store;
  const PagedFindings paged = MakePagedFindings(store);
  const int64_t acme = paged.acme.org;
  const int64_t globex = paged.globex.org;
  // A network rule on two globex hosts (one of them then clears), and engineers: "olga"
  // assigned to acme (primary), nobody to globex.
  {
    EvaluationInput input;
    input.targets = paged.globex.hosts;
    input.rule_ids = {"net-errors"};
    input.meta["net-errors"] = RuleMeta{Severity::kHigh, "network"};
    input.hits = {FindingHit{"net-errors", globex, paged.globex.hosts[1], "[]", false, ""},
                  FindingHit{"net-errors", globex, paged.globex.hosts[2], "[]", false, ""}};
    Apply(store, input, 50'000);
    input.hits.pop_back();
    Apply(store, input, 60'000);
  }
  Ok(store.Organizations().UpdateOrganization(acme, [] {
    OrganizationPatch patch;
    patch.engineer = "olga";
    return patch;
  }()));
  const int64_t olga = backend.QueryInt("SELECT user_id FROM org_assignments WHERE org_id = " +
                                        std::to_string(acme));
  const auto all = AllFindings(store);
  REQUIRE(all.size() == 62);
  std::map<int64_t, std::vector<int64_t>> assigned = {{olga, {acme}}, {olga + 1000, {}}};

  const std::vector<std::optional<int64_t>> org_choices = {std::nullopt, acme, globex};
  const std::vector<std::optional<std::string>> host_choices = {std::nullopt, "acme-2", "globex-1",
                                                                "no-such-host"};
  const std::vector<std::vector<FindingState>> state_choices = {
      {}, {FindingState::kResolved}, {FindingState::kOpen, FindingState::kAcknowledged}};
  const std::vector<std::vector<Severity>> severity_choices = {
      {}, {Severity::kCritical, Severity::kHigh}};
  const std::vector<std::optional<std::string>> rule_choices = {std::nullopt, "rule-medium",
                                                                "net-errors"};
  const std::vector<std::vector<std::string>> category_choices = {
      {}, {"network"}, {"os", "backup"}};
  const std::vector<std::optional<std::vector<int64_t>>> visible_choices = {
      std::nullopt, std::vector<int64_t>{}, std::vector<int64_t>{globex}};
  const std::vector<std::optional<int64_t>> user_choices = {std::nullopt, olga, olga + 1000};
  const std::vector<std::optional<int64_t>> since_choices = {std::nullopt, 25'000};
  int combinations = 0;
  for (const auto& org : org_choices) {
    for (const auto& host : host_choices) {
      for (const auto& states : state_choices) {
        for (const auto& severities : severity_choices) {
          for (const auto& rule : rule_choices) {
            for (const auto& categories : category_choices) {
              for (const auto& visible : visible_choices) {
                for (const auto& user : user_choices) {
                  for (const auto& since : since_choices) {
                    // Not every product: a rotating subset keeps the test quick while every
                    // value of every filter still meets every other filter's values.
                    ++combinations;
                    if (combinations % 7 != 0 && (org || host || !states.empty())) continue;
                    FindingFilter filter;
                    filter.org_id = org;
                    filter.agent_id = host;
                    filter.states = states;
                    filter.severities = severities;
                    filter.rule_id = rule;
                    filter.categories = categories;
                    filter.visible_org_ids = visible;
                    filter.assigned_user_id = user;
                    auto contains = [](const auto& list, const auto& value) {
                      return std::find(list.begin(), list.end(), value) != list.end();
                    };
                    std::set<int64_t> expected, expected_since;
                    for (const Finding& f : all) {
                      const bool match = (!org || f.org_id == *org) &&
                                         (!host || f.agent_id == *host) &&
                                         (states.empty() || contains(states, f.state)) &&
                                         (severities.empty() || contains(severities, f.severity)) &&
                                         (!rule || f.rule_id == *rule) &&
                                         (categories.empty() || contains(categories, f.category)) &&
                                         (!visible || contains(*visible, f.org_id)) &&
                                         (!user || contains(assigned[*user], f.org_id));
                      if (match) expected.insert(f.id);
                      if (match && (!since || f.last_seen_ms >= *since)) {
                        expected_since.insert(f.id);
                      }
                    }
                    std::set<int64_t> listed;
                    for (const Finding& f : Ok(store.Findings().ListFindings(filter))) {
                      listed.insert(f.id);
                    }
                    CHECK_MESSAGE(listed == expected, "combination " << combinations);
                    FindingQuery query;
                    query.filter = filter;
                    query.last_seen_since_ms = since;
                    query.page.limit = 11;
                    std::set<int64_t> paged_ids;
                    const auto rows = WalkFindingPages(store, query);
                    for (const Finding& f : rows) paged_ids.insert(f.id);
                    CHECK(rows.size() == paged_ids.size());
                    CHECK_MESSAGE(paged_ids == expected_since, "combination " << combinations);
                  }
                }
              }
            }
          }
        }
      }
    }
  }
  // The filter's limit bounds the plain list.
  FindingFilter limited;
  limited.limit = 5;
  const auto five = Ok(store.Findings().ListFindings(limited));
  REQUIRE(five.size() == 5);
  CHECK(five[0].id == all[0].id);
  CHECK(five[4].id == all[4].id);
}

// ------------------------------------------------------------------ counts and timelines

TEST_CASE_TEMPLATE("findings: active counts by organisation, host, rule and severity", Backend,
                   DOZOR_BACKENDS) {
  Backend backend;
  auto& store = *backend.store;
  const FindingEstate acme = MakeFindingEstate(store, "acme", 2);
  const FindingEstate globex = MakeFindingEstate(store, "globex", 1);
  Apply(store,
        HostEvaluation(acme, {"disk-space-low", "reboot-pending"},
                       {DiskHit(acme, acme.hosts[0]), DiskHit(acme, acme.hosts[1]),
                        FindingHit{"reboot-pending", acme.org, acme.hosts[0], "[]", false, ""}}),
        1000);
  Apply(store, HostEvaluation(globex, {"disk-space-low"}, {DiskHit(globex, globex.hosts[0])}),
        1000);
  EvaluationInput estate;
  estate.host_scope = false;
  estate.rule_ids = {"single-dns-server"};
  estate.targets = {acme.org};
  estate.hits = {FindingHit{"single-dns-server", acme.org, std::nullopt, "[]", false, ""}};
  estate.meta["single-dns-server"] = RuleMeta{Severity::kMedium, "network"};
  Apply(store, estate, 1000);
  // Acknowledged counts as active; waived and resolved do not.
  FindingFilter filter;
  filter.agent_id = "acme-1";
  const int64_t acme1 = Ok(store.Findings().ListFindings(filter)).at(0).id;
  Ok(store.Findings().WaiveFinding(acme1, "c", "fine", std::nullopt, 1100));
  filter.agent_id = "acme-0";
  filter.rule_id = "reboot-pending";
  Ok(store.Findings().AcknowledgeFinding(Ok(store.Findings().ListFindings(filter)).at(0).id, "e",
                                         "", 1100));
  Apply(store, HostEvaluation(globex, {"disk-space-low"}, {}), 2000);

  const auto counts = Ok(store.Findings().CountActiveFindings(std::nullopt));
  std::map<std::tuple<int64_t, std::string, std::string>, std::pair<Severity, int64_t>> got;
  for (const auto& c : counts) {
    got[{c.org_id, c.agent_id, c.rule_id}] = {c.severity, c.count};
  }
  CHECK(got.size() == 3);
  CHECK(got[{acme.org, "acme-0", "disk-space-low"}] == std::pair{Severity::kHigh, int64_t{1}});
  CHECK(got[{acme.org, "acme-0", "reboot-pending"}] == std::pair{Severity::kMedium, int64_t{1}});
  CHECK(got[{acme.org, "", "single-dns-server"}] == std::pair{Severity::kMedium, int64_t{1}});
  REQUIRE_FALSE(counts.empty());
  CHECK(counts.front().agent_id.empty());  // estate-wide first within the organisation
  CHECK(Ok(store.Findings().CountActiveFindings(std::vector<int64_t>{globex.org})).empty());
  CHECK(Ok(store.Findings().CountActiveFindings(std::vector<int64_t>{})).empty());
  CHECK(Ok(store.Findings().CountActiveFindings(std::vector<int64_t>{acme.org})).size() == 3);
}

TEST_CASE_TEMPLATE("findings: timelines list each finding's state changes, oldest first", Backend,
                   DOZOR_BACKENDS) {
  Backend backend;
  auto& store = *backend.store;
  const FindingEstate acme = MakeFindingEstate(store, "acme", 1);
  const FindingEstate globex = MakeFindingEstate(store, "globex", 1);
  const auto hit = HostEvaluation(acme, {"disk-space-low"}, {DiskHit(acme, acme.hosts[0])});
  Apply(store, hit, 1000);
  Apply(store, HostEvaluation(globex, {"disk-space-low"}, {DiskHit(globex, globex.hosts[0])}),
        1000);
  const int64_t id = AllFindings(store).at(0).org_id == acme.org ? AllFindings(store).at(0).id
                                                                 : AllFindings(store).at(1).id;
  Ok(store.Findings().CommentFinding(id, "e", "not a change", 1500));
  Ok(store.Findings().AcknowledgeFinding(id, "e", "", 2000));
  Apply(store, HostEvaluation(acme, {"disk-space-low"}, {}), 3000);
  Apply(store, hit, 4000);

  const auto timelines = Ok(store.Findings().ListFindingTimelines(acme.org));
  REQUIRE(timelines.size() == 1);
  const FindingTimeline& t = timelines[0];
  CHECK(t.id == id);
  CHECK(t.rule_id == "disk-space-low");
  CHECK(t.agent_id == "acme-0");
  CHECK(t.severity == Severity::kHigh);
  CHECK(t.state == FindingState::kRegressed);
  CHECK(t.first_seen_ms == 1000);
  REQUIRE(t.changes.size() == 4);
  CHECK(t.changes[0].at_ms == 1000);
  CHECK(t.changes[0].to_state == FindingState::kOpen);
  CHECK(t.changes[1].at_ms == 2000);
  CHECK(t.changes[1].to_state == FindingState::kAcknowledged);
  CHECK(t.changes[2].to_state == FindingState::kResolved);
  CHECK(t.changes[3].to_state == FindingState::kRegressed);
  CHECK(Ok(store.Findings().ListFindingTimelines(globex.org)).size() == 1);
  CHECK(Ok(store.Findings().ListFindingTimelines(globex.org + 1000)).empty());
}

// ------------------------------------------------------------------ concurrency

TEST_CASE_TEMPLATE("findings: two writers applying one evaluation at once open each finding once",
                   Backend, DOZOR_BACKENDS) {
  Backend backend;
  auto& store = *backend.store;
  const FindingEstate e = MakeFindingEstate(store, "acme", 8);
  constexpr int kRounds = 6;
  for (int round = 0; round < kRounds; ++round) {
    // A fresh rule each round, so every round opens new findings on every host.
    const std::string rule = "rule-" + std::to_string(round);
    EvaluationInput input;
    input.targets = e.hosts;
    input.rule_ids = {rule};
    input.meta[rule] = RuleMeta{Severity::kLow, "os"};
    for (const int64_t host : e.hosts) {
      input.hits.push_back(FindingHit{rule, e.org, host, "[]", false, ""});
    }
    std::atomic<int> ready{0};
    std::vector<Result<FindingsChange>> results(2, Error{});
    std::vector<std::thread> threads;
    for (int t = 0; t < 2; ++t) {
      threads.emplace_back([&, t] {
        ready.fetch_add(1);
        while (ready.load() < 2) {
        }
        results[t] = store.Findings().ApplyEvaluation(input, 1000 + round);
      });
    }
    for (auto& thread : threads) thread.join();
    int64_t opened = 0;
    int64_t updated = 0;
    for (const auto& result : results) {
      REQUIRE_MESSAGE(result.ok(), (result.ok() ? "" : result.error().ToString()));
      opened += result->opened;
      updated += result->updated;
    }
    // One writer opened them all, the other (after its retry) found and touched them.
    CHECK(opened == static_cast<int64_t>(e.hosts.size()));
    CHECK(updated == static_cast<int64_t>(e.hosts.size()));
    CHECK(backend.QueryInt("SELECT count(*) FROM findings WHERE rule_id = '" + rule + "'") ==
          static_cast<int64_t>(e.hosts.size()));
    CHECK(backend.QueryInt("SELECT count(*) FROM finding_events WHERE kind = 'opened' AND "
                           "finding_id IN (SELECT id FROM findings WHERE rule_id = '" +
                           rule + "')") == static_cast<int64_t>(e.hosts.size()));
  }
  CHECK(backend.QueryInt("SELECT count(*) FROM events WHERE kind = 'finding_opened'") ==
        kRounds * static_cast<int64_t>(e.hosts.size()));
}

TEST_CASE_TEMPLATE("findings: people and evaluations changing one finding at once lose nothing",
                   Backend, DOZOR_BACKENDS) {
  Backend backend;
  auto& store = *backend.store;
  const FindingEstate e = MakeFindingEstate(store, "acme", 4);
  auto hits = [&] {
    std::vector<FindingHit> out;
    for (const int64_t host : e.hosts) out.push_back(DiskHit(e, host));
    return out;
  };
  const auto hit = HostEvaluation(e, {"disk-space-low"}, hits());
  const auto none = HostEvaluation(e, {"disk-space-low"}, {});
  Apply(store, hit, 1000);
  std::vector<int64_t> ids;
  for (const Finding& f : AllFindings(store)) ids.push_back(f.id);
  REQUIRE(ids.size() == 4);

  // One thread flips the estate between hit and clear; two people acknowledge, waive, unwaive
  // and comment the same findings meanwhile. Refusals (a transition the state no longer
  // allows) are expected; any other error is not.
  std::atomic<bool> stop{false};
  std::atomic<int> unexpected{0};
  std::atomic<int64_t> clock{2000};
  std::thread engine([&] {
    for (int i = 0; i < 30; ++i) {
      auto applied = store.Findings().ApplyEvaluation(i % 2 ? hit : none, clock.fetch_add(10));
      if (!applied.ok()) ++unexpected;
    }
    stop = true;
  });
  std::vector<std::thread> people;
  for (int p = 0; p < 2; ++p) {
    people.emplace_back([&, p] {
      const std::string who = "person-" + std::to_string(p);
      for (int i = 0; !stop.load() || i < 10; ++i) {
        const int64_t id = ids[(i + p) % ids.size()];
        Result<Finding> done = Error{};
        switch (i % 4) {
          case 0:
            done = store.Findings().AcknowledgeFinding(id, who, "", clock.fetch_add(10));
            break;
          case 1:
            done = store.Findings().WaiveFinding(id, who, "ok", std::nullopt, clock.fetch_add(10));
            break;
          case 2:
            done = store.Findings().UnwaiveFinding(id, who, "", clock.fetch_add(10));
            break;
          default:
            done = store.Findings().CommentFinding(id, who, "note", clock.fetch_add(10));
            break;
        }
        if (!done.ok() && done.error().code != ErrorCode::kFailedPrecondition) ++unexpected;
        if (i > 200) break;
      }
    });
  }
  engine.join();
  for (auto& person : people) person.join();
  CHECK(unexpected.load() == 0);

  // Every finding's history is one unbroken chain of states ending in its current state: no
  // transition was decided on a state another writer had already changed.
  for (const int64_t id : ids) {
    // In write order: ids are taken under the finding's row lock (the times were taken before
    // each writer waited for it).
    auto events = Ok(store.Findings().ListFindingEvents(id));
    std::sort(events.begin(), events.end(),
              [](const FindingEvent& a, const FindingEvent& b) { return a.id < b.id; });
    REQUIRE_FALSE(events.empty());
    CHECK(events[0].kind == FindingEventKind::kOpened);
    for (size_t i = 1; i < events.size(); ++i) {
      INFO("finding " << id << " event " << i << " " << ToString(events[i].kind));
      REQUIRE(events[i].from_state.has_value());
      CHECK(*events[i].from_state == events[i - 1].to_state);
    }
    CHECK(Ok(store.Findings().GetFinding(id)).state == events.back().to_state);
    CHECK(events.size() > 1);
  }
  CHECK(backend.QueryInt("SELECT count(*) FROM findings") == 4);
  CHECK(backend.QueryInt("SELECT count(*) FROM finding_events") ==
        backend.QueryInt("SELECT count(*) FROM events WHERE finding_id IS NOT NULL"));
}

}  // namespace
}  // namespace dozor::server

namespace dozor::server {
namespace {

TEST_CASE_TEMPLATE("findings: a full evaluation of 10,000 hits applies in one transaction (timed)",
                   Backend, DOZOR_BACKENDS) {
  Backend backend;
  auto& store = *backend.store;
  constexpr int kHosts = 500;
  constexpr int kRules = 20;
  const FindingEstate e = MakeFindingEstate(store, "acme", kHosts);
  EvaluationInput input;
  input.host_scope = true;
  input.targets = e.hosts;
  for (int r = 0; r < kRules; ++r) {
    const std::string rule = "rule-" + std::to_string(r);
    input.rule_ids.push_back(rule);
    input.meta[rule] = RuleMeta{Severity::kLow, "os"};
    for (const int64_t host : e.hosts) {
      input.hits.push_back(FindingHit{rule, e.org, host, R"([{"value":1}])", false, ""});
    }
  }
  auto ms_since = [](auto start) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 start)
        .count();
  };
  auto t0 = std::chrono::steady_clock::now();
  const FindingsChange first = Apply(store, input, 1000);
  const auto open_ms = ms_since(t0);
  t0 = std::chrono::steady_clock::now();
  const FindingsChange second = Apply(store, input, 2000);
  const auto update_ms = ms_since(t0);
  input.hits.resize(input.hits.size() / 2);  // rules 0..9 still fire, 10..19 clear
  t0 = std::chrono::steady_clock::now();
  const FindingsChange third = Apply(store, input, 3000);
  const auto resolve_ms = ms_since(t0);
  CHECK(first.opened == kHosts * kRules);
  CHECK(first.opened_or_regressed_ids.size() == static_cast<size_t>(kHosts * kRules));
  CHECK(second.updated == kHosts * kRules);
  CHECK(third.resolved == kHosts * kRules / 2);
  CHECK(backend.QueryInt("SELECT count(*) FROM finding_events") == kHosts * kRules * 3 / 2);
  CHECK(backend.QueryInt("SELECT count(*) FROM events WHERE kind LIKE 'finding_%'") ==
        kHosts * kRules * 3 / 2);
  // One host re-evaluated with nothing firing: its ten active findings resolve.
  EvaluationInput one;
  one.host_scope = true;
  one.rule_ids = input.rule_ids;
  one.targets = {e.hosts[5]};
  one.meta = input.meta;
  t0 = std::chrono::steady_clock::now();
  CHECK(Apply(store, one, 4000).resolved == kRules / 2);
  MESSAGE(std::string(Backend::kName)
          << ": ApplyEvaluation " << kHosts * kRules << " hits: open " << open_ms << " ms, update "
          << update_ms << " ms, half resolve " << resolve_ms << " ms, one host " << ms_since(t0)
          << " ms");
}

}  // namespace
}  // namespace dozor::server
