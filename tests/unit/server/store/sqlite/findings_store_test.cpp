// Findings lifecycle in the SQLite store: the engine's state machine (ApplyEvaluation), people's
// transitions and the event history.
#include <doctest/doctest.h>

#include <chrono>
#include <ctime>

#include "dozor/common/clock.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "test_util.hpp"

namespace dozor::server {
namespace {

using dozor::testing::TempDir;

struct Estate {
  TempDir dir;
  std::unique_ptr<SqliteStore> store;
  int64_t org = 0;
  std::vector<int64_t> hosts;
};

std::unique_ptr<Estate> MakeEstate(int host_count) {
  auto e = std::make_unique<Estate>();
  SqliteStoreOptions options;
  options.path = (e->dir / "dozor.db").string();
  options.background_checkpoint = false;
  auto store = SqliteStore::Open(options);
  REQUIRE_MESSAGE(store.ok(), (store.ok() ? "" : store.error().ToString()));
  e->store = std::move(store).value();
  Organization org;
  org.name = "acme";
  auto created = e->store->CreateOrganization(org);
  REQUIRE(created.ok());
  e->org = created->id;
  NewEnrollmentToken token;
  token.org_id = e->org;
  token.token_hash = "token-hash";
  REQUIRE(e->store->CreateEnrollmentToken(token).ok());
  for (int i = 0; i < host_count; ++i) {
    NewAgent agent;
    agent.agent_id = "agent-" + std::to_string(i);
    agent.secret_hash = "secret";
    agent.hostname = "host-" + std::to_string(i);
    REQUIRE(e->store->EnrollAgent(token.token_hash, agent, 1000).ok());
    auto pk = e->store->HostPk(agent.agent_id);
    REQUIRE(pk.ok());
    e->hosts.push_back(*pk);
  }
  return e;
}

FindingHit Hit(const Estate& e, const std::string& rule, int64_t host, bool sustain = false,
               const std::string& evidence = R"([{"mount":"/","used_pct":95}])") {
  return FindingHit{rule, e.org, host, evidence, sustain, ""};
}

EvaluationInput HostInput(const Estate& e, std::vector<std::string> rules,
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

FindingsChange Apply(Estate& e, const EvaluationInput& input, int64_t now) {
  auto change = e.store->ApplyEvaluation(input, now);
  REQUIRE_MESSAGE(change.ok(), (change.ok() ? "" : change.error().ToString()));
  return *change;
}

std::vector<Finding> All(Estate& e) {
  auto list = e.store->ListFindings(FindingFilter{});
  REQUIRE(list.ok());
  return *list;
}

std::vector<std::string> EventKinds(Estate& e, int64_t id) {
  auto events = e.store->ListFindingEvents(id);
  REQUIRE(events.ok());
  std::vector<std::string> kinds;
  for (const auto& ev : *events) {
    kinds.push_back(std::string(ToString(ev.kind)));
  }
  return kinds;
}

TEST_CASE("findings: a hit opens one finding, repeated hits update it without duplicates") {
  auto e = MakeEstate(2);
  auto input = HostInput(*e, {"disk-space-low"}, {Hit(*e, "disk-space-low", e->hosts[0])});
  auto first = Apply(*e, input, 10'000);
  CHECK(first.opened == 1);
  REQUIRE(first.opened_or_regressed_ids.size() == 1);
  auto second = Apply(*e, input, 20'000);
  CHECK(second.opened == 0);
  CHECK(second.updated == 1);
  auto list = All(*e);
  REQUIRE(list.size() == 1);
  const Finding& f = list[0];
  CHECK(f.state == FindingState::kOpen);
  CHECK(f.rule_id == "disk-space-low");
  CHECK(f.severity == Severity::kHigh);
  CHECK(f.category == "hardware");
  CHECK(f.agent_id == "agent-0");
  CHECK(f.hostname == "host-0");
  CHECK(f.org_name == "acme");
  CHECK(f.target == "host:" + std::to_string(e->hosts[0]));
  CHECK(f.first_seen_ms == 10'000);
  CHECK(f.last_seen_ms == 20'000);
  CHECK(f.evidence_json == R"([{"mount":"/","used_pct":95}])");
  CHECK(EventKinds(*e, f.id) == std::vector<std::string>{"opened"});
}

TEST_CASE("findings: resolve when not hit, regress when it returns") {
  auto e = MakeEstate(1);
  auto hit = HostInput(*e, {"disk-space-low"}, {Hit(*e, "disk-space-low", e->hosts[0])});
  auto none = HostInput(*e, {"disk-space-low"}, {});
  Apply(*e, hit, 1000);
  auto resolved = Apply(*e, none, 2000);
  CHECK(resolved.resolved == 1);
  auto f = All(*e).at(0);
  CHECK(f.state == FindingState::kResolved);
  REQUIRE(f.resolved_at_ms.has_value());
  CHECK(*f.resolved_at_ms == 2000);
  auto again = Apply(*e, hit, 3000);
  CHECK(again.regressed == 1);
  CHECK(again.opened == 0);
  REQUIRE(again.opened_or_regressed_ids == std::vector<int64_t>{f.id});
  f = All(*e).at(0);
  CHECK(f.state == FindingState::kRegressed);
  CHECK(f.regressions == 1);
  CHECK_FALSE(f.resolved_at_ms.has_value());
  CHECK(f.first_seen_ms == 1000);
  CHECK(All(*e).size() == 1);
  auto events = e->store->ListFindingEvents(f.id);
  REQUIRE(events.ok());
  REQUIRE(events->size() == 3);
  CHECK((*events)[1].kind == FindingEventKind::kResolved);
  CHECK((*events)[1].actor == "system");
  CHECK((*events)[1].from_state == FindingState::kOpen);
  CHECK((*events)[2].kind == FindingEventKind::kRegressed);
  CHECK((*events)[2].from_state == FindingState::kResolved);
  CHECK((*events)[2].to_state == FindingState::kRegressed);
  CHECK((*events)[2].at_ms == 3000);
}

TEST_CASE("findings: sustain-only hits keep an active finding but never open one") {
  auto e = MakeEstate(2);
  auto open = HostInput(*e, {"disk-space-low"}, {Hit(*e, "disk-space-low", e->hosts[0])});
  Apply(*e, open, 1000);
  auto sustain = HostInput(
      *e, {"disk-space-low"},
      {Hit(*e, "disk-space-low", e->hosts[0], true), Hit(*e, "disk-space-low", e->hosts[1], true)});
  auto change = Apply(*e, sustain, 2000);
  CHECK(change.opened == 0);
  CHECK(change.resolved == 0);
  CHECK(change.updated == 1);
  auto list = All(*e);
  REQUIRE(list.size() == 1);  // host 1 only matched sustain: nothing opened
  CHECK(list[0].state == FindingState::kOpen);
  CHECK(list[0].last_seen_ms == 2000);
  // Resolved + sustain-only does not regress.
  Apply(*e, HostInput(*e, {"disk-space-low"}, {}), 3000);
  auto after = Apply(*e, sustain, 4000);
  CHECK(after.regressed == 0);
  CHECK(All(*e).at(0).state == FindingState::kResolved);
}

TEST_CASE("findings: an evidence-less sustain hit keeps the finding exactly as it was") {
  // The engine sends it for a host without fresh health samples: no data is not "cleared".
  auto e = MakeEstate(1);
  Apply(*e, HostInput(*e, {"disk-space-low"}, {Hit(*e, "disk-space-low", e->hosts[0])}), 1000);
  auto keep = HostInput(*e, {"disk-space-low"},
                        {Hit(*e, "disk-space-low", e->hosts[0], true, /*evidence=*/"")});
  auto change = Apply(*e, keep, 2000);
  CHECK(change.resolved == 0);
  CHECK(change.updated == 0);
  auto f = All(*e).at(0);
  CHECK(f.state == FindingState::kOpen);
  CHECK(f.last_seen_ms == 1000);  // not touched: nothing new was seen
  CHECK(f.evidence_json == R"([{"mount":"/","used_pct":95}])");
}

TEST_CASE("findings: a finding that returns while its waiver is valid comes back waived") {
  auto e = MakeEstate(1);
  auto hit = HostInput(*e, {"disk-space-low"}, {Hit(*e, "disk-space-low", e->hosts[0])});
  auto none = HostInput(*e, {"disk-space-low"}, {});
  Apply(*e, hit, 1000);
  int64_t id = All(*e).at(0).id;
  REQUIRE(
      e->store->WaiveFinding(id, "ivan", "batch server, full disk by design", 100000, 1500).ok());
  Apply(*e, none, 2000);
  CHECK(All(*e).at(0).state == FindingState::kResolved);
  auto back = Apply(*e, hit, 3000);
  CHECK(back.regressed == 1);
  auto f = All(*e).at(0);
  CHECK(f.state == FindingState::kWaived);  // the client's acceptance still holds until 100000
  CHECK(f.waive_reason == "batch server, full disk by design");
  auto events = e->store->ListFindingEvents(id);
  REQUIRE(events.ok());
  CHECK(events->back().kind == FindingEventKind::kRegressed);
  CHECK(events->back().to_state == FindingState::kWaived);
  // After the waiver's end the same return is a plain regression.
  Apply(*e, none, 200000);
  Apply(*e, hit, 300000);
  CHECK(All(*e).at(0).state == FindingState::kRegressed);
}

TEST_CASE("findings: an evaluation of some rules does not resolve other rules' findings") {
  auto e = MakeEstate(1);
  Apply(*e,
        HostInput(*e, {"disk-space-low", "reboot-pending"},
                  {Hit(*e, "disk-space-low", e->hosts[0]), Hit(*e, "reboot-pending", e->hosts[0])}),
        1000);
  auto change = Apply(*e, HostInput(*e, {"reboot-pending"}, {}), 2000);
  CHECK(change.resolved == 1);
  FindingFilter filter;
  filter.rule_id = "disk-space-low";
  auto disk = e->store->ListFindings(filter);
  REQUIRE(disk.ok());
  REQUIRE(disk->size() == 1);
  CHECK((*disk)[0].state == FindingState::kOpen);
  filter.rule_id = "reboot-pending";
  auto reboot = e->store->ListFindings(filter);
  REQUIRE(reboot.ok());
  CHECK(reboot->at(0).state == FindingState::kResolved);
}

TEST_CASE("findings: acknowledge, waive with expiry back to open, unwaive, comment") {
  auto e = MakeEstate(1);
  auto hit = HostInput(*e, {"disk-space-low"}, {Hit(*e, "disk-space-low", e->hosts[0])});
  Apply(*e, hit, 1000);
  int64_t id = All(*e).at(0).id;

  auto acked = e->store->AcknowledgeFinding(id, "ivan", "looking into it", 2000);
  REQUIRE(acked.ok());
  CHECK(acked->state == FindingState::kAcknowledged);
  CHECK(acked->ack_by == "ivan");
  CHECK(acked->ack_comment == "looking into it");
  // Acknowledging twice is a bad transition.
  auto twice = e->store->AcknowledgeFinding(id, "ivan", "", 2100);
  REQUIRE_FALSE(twice.ok());
  CHECK(twice.error().code == ErrorCode::kFailedPrecondition);

  auto no_reason = e->store->WaiveFinding(id, "ivan", "  ", std::nullopt, 2200);
  REQUIRE_FALSE(no_reason.ok());
  CHECK(no_reason.error().code == ErrorCode::kInvalidArgument);
  auto waived = e->store->WaiveFinding(id, "client", "replacement ordered", 5000, 2300);
  REQUIRE(waived.ok());
  CHECK(waived->state == FindingState::kWaived);
  CHECK(waived->waive_reason == "replacement ordered");
  REQUIRE(waived->waived_until_ms.has_value());
  CHECK(*waived->waived_until_ms == 5000);

  // A waived finding stays waived while it is hit; the waiver expires at its time.
  auto before = Apply(*e, hit, 4000);
  CHECK(before.waivers_expired == 0);
  CHECK(All(*e).at(0).state == FindingState::kWaived);
  auto expired = Apply(*e, hit, 5000);
  CHECK(expired.waivers_expired == 1);
  CHECK(All(*e).at(0).state == FindingState::kOpen);

  auto waived_again = e->store->WaiveFinding(id, "client", "accepted risk", std::nullopt, 6000);
  REQUIRE(waived_again.ok());
  CHECK(e->store->ExpireWaivers(1'000'000'000).value() == 0);  // no end date: never expires
  auto unwaived = e->store->UnwaiveFinding(id, "ivan", "client changed mind", 7000);
  REQUIRE(unwaived.ok());
  CHECK(unwaived->state == FindingState::kOpen);
  auto bad_unwaive = e->store->UnwaiveFinding(id, "ivan", "", 7100);
  REQUIRE_FALSE(bad_unwaive.ok());
  CHECK(bad_unwaive.error().code == ErrorCode::kFailedPrecondition);

  auto commented = e->store->CommentFinding(id, "petr", "disk swapped tomorrow", 8000);
  REQUIRE(commented.ok());
  CHECK(commented->state == FindingState::kOpen);
  auto empty_comment = e->store->CommentFinding(id, "petr", "", 8100);
  REQUIRE_FALSE(empty_comment.ok());
  CHECK(empty_comment.error().code == ErrorCode::kInvalidArgument);
  auto long_comment = e->store->CommentFinding(id, "petr", std::string(4001, 'x'), 8200);
  REQUIRE_FALSE(long_comment.ok());
  CHECK(long_comment.error().code == ErrorCode::kInvalidArgument);

  auto events = e->store->ListFindingEvents(id);
  REQUIRE(events.ok());
  std::vector<std::string> kinds, actors;
  for (const auto& ev : *events) {
    kinds.push_back(std::string(ToString(ev.kind)));
    actors.push_back(ev.actor);
  }
  CHECK(kinds == std::vector<std::string>{"opened", "acknowledged", "waived", "waive_expired",
                                          "waived", "unwaived", "comment"});
  CHECK(actors ==
        std::vector<std::string>{"system", "ivan", "client", "system", "client", "ivan", "petr"});
  CHECK(events->at(2).comment == "replacement ordered");
  CHECK(events->at(6).at_ms == 8000);
}

TEST_CASE("findings: resolved findings cannot be acknowledged or waived, unknown id is not found") {
  auto e = MakeEstate(1);
  Apply(*e, HostInput(*e, {"disk-space-low"}, {Hit(*e, "disk-space-low", e->hosts[0])}), 1000);
  Apply(*e, HostInput(*e, {"disk-space-low"}, {}), 2000);
  int64_t id = All(*e).at(0).id;
  auto ack = e->store->AcknowledgeFinding(id, "ivan", "", 3000);
  REQUIRE_FALSE(ack.ok());
  CHECK(ack.error().code == ErrorCode::kFailedPrecondition);
  auto waive = e->store->WaiveFinding(id, "ivan", "why", std::nullopt, 3000);
  REQUIRE_FALSE(waive.ok());
  CHECK(waive.error().code == ErrorCode::kFailedPrecondition);
  auto missing = e->store->GetFinding(id + 100);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == ErrorCode::kNotFound);
}

TEST_CASE("findings: an acknowledged finding that resolves and returns is regressed") {
  auto e = MakeEstate(1);
  auto hit = HostInput(*e, {"disk-space-low"}, {Hit(*e, "disk-space-low", e->hosts[0])});
  Apply(*e, hit, 1000);
  int64_t id = All(*e).at(0).id;
  REQUIRE(e->store->AcknowledgeFinding(id, "ivan", "ok", 1500).ok());
  Apply(*e, HostInput(*e, {"disk-space-low"}, {}), 2000);
  CHECK(e->store->GetFinding(id)->state == FindingState::kResolved);
  Apply(*e, hit, 3000);
  CHECK(e->store->GetFinding(id)->state == FindingState::kRegressed);
  // regressed can be acknowledged again
  CHECK(e->store->AcknowledgeFinding(id, "ivan", "again", 3500).ok());
}

TEST_CASE("findings: estate-wide findings and removed rules") {
  auto e = MakeEstate(1);
  EvaluationInput input;
  input.host_scope = false;
  input.rule_ids = {"single-dns-server"};
  input.targets = {e->org};
  input.hits = {FindingHit{"single-dns-server", e->org, std::nullopt, "[]", false, ""}};
  input.meta["single-dns-server"] = RuleMeta{Severity::kMedium, "network"};
  CHECK(Apply(*e, input, 1000).opened == 1);
  CHECK(Apply(*e, input, 2000).updated == 1);
  auto f = All(*e).at(0);
  CHECK(f.target == "org:" + std::to_string(e->org));
  CHECK(f.agent_id.empty());
  CHECK(f.hostname.empty());
  auto removed = e->store->ResolveFindingsOfRemovedRules({"disk-space-low"}, 3000);
  REQUIRE(removed.ok());
  CHECK(*removed == 1);
  CHECK(e->store->GetFinding(f.id)->state == FindingState::kResolved);
  auto events = e->store->ListFindingEvents(f.id);
  CHECK(events->back().comment == "rule removed or disabled");
  CHECK(e->store->ResolveFindingsOfRemovedRules({}, 4000).value() == 0);  // already resolved
}

TEST_CASE("findings: filters and severity order") {
  auto e = MakeEstate(2);
  auto input =
      HostInput(*e, {"disk-space-low", "reboot-pending"},
                {Hit(*e, "reboot-pending", e->hosts[0]), Hit(*e, "disk-space-low", e->hosts[1])});
  Apply(*e, input, 1000);
  auto all = All(*e);
  REQUIRE(all.size() == 2);
  CHECK(all[0].severity == Severity::kHigh);  // high before medium although opened in the same pass
  CHECK(all[1].severity == Severity::kMedium);
  FindingFilter filter;
  filter.agent_id = "agent-0";
  CHECK(e->store->ListFindings(filter)->size() == 1);
  filter = {};
  filter.severities = {Severity::kMedium, Severity::kLow};
  CHECK(e->store->ListFindings(filter)->at(0).rule_id == "reboot-pending");
  filter = {};
  filter.states = {FindingState::kResolved};
  CHECK(e->store->ListFindings(filter)->empty());
  filter = {};
  filter.org_id = e->org + 1;
  CHECK(e->store->ListFindings(filter)->empty());
}

TEST_CASE("findings: evidence over 64 KiB is truncated with a note") {
  auto e = MakeEstate(1);
  std::string big = "[";
  for (int i = 0; i < 5000; ++i) {
    big += (i ? "," : "") + std::string(R"({"package":"libfoo)") + std::to_string(i) +
           R"(","version":"1.2.3-4+deb12u1"})";
  }
  big += "]";
  REQUIRE(big.size() > kMaxEvidenceBytes);
  Apply(*e, HostInput(*e, {"disk-space-low"}, {Hit(*e, "disk-space-low", e->hosts[0], false, big)}),
        1000);
  auto f = All(*e).at(0);
  CHECK(f.evidence_json.size() <= kMaxEvidenceBytes);
  CHECK(f.evidence_json.find("evidence truncated") != std::string::npos);
  CHECK(f.evidence_json.rfind("[{\"package\":\"libfoo0\"", 0) == 0);
}

TEST_CASE("findings: a full evaluation of 50,000 hits applies in one transaction (timed)") {
  constexpr int kHosts = 2000;
  constexpr int kRules = 25;
  auto e = MakeEstate(kHosts);
  EvaluationInput input;
  input.host_scope = true;
  input.targets = e->hosts;
  for (int r = 0; r < kRules; ++r) {
    std::string rule = "rule-" + std::to_string(r);
    input.rule_ids.push_back(rule);
    input.meta[rule] = RuleMeta{Severity::kLow, "os"};
    for (int64_t host : e->hosts) {
      input.hits.push_back(FindingHit{rule, e->org, host, R"([{"value":1}])", false, ""});
    }
  }
  REQUIRE(input.hits.size() == 50'000);
  auto t0 = std::chrono::steady_clock::now();
  std::clock_t c0 = std::clock();
  auto first = Apply(*e, input, 1000);
  std::clock_t c1 = std::clock();
  auto t1 = std::chrono::steady_clock::now();
  auto second = Apply(*e, input, 2000);
  auto t2 = std::chrono::steady_clock::now();
  input.hits.resize(25'000);  // half of them clear
  auto third = Apply(*e, input, 3000);
  auto t3 = std::chrono::steady_clock::now();
  CHECK(first.opened == 50'000);
  CHECK(second.updated == 50'000);
  CHECK(third.resolved == 25'000);
  auto ms = [](auto a, auto b) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(b - a).count();
  };
  MESSAGE("ApplyEvaluation 50k hits: open "
          << ms(t0, t1) << " ms wall (" << (c1 - c0) * 1000 / CLOCKS_PER_SEC << " ms CPU), update "
          << ms(t1, t2) << " ms, half resolve " << ms(t2, t3) << " ms");
  // Single-host re-evaluation after the estate is full of findings.
  EvaluationInput one;
  one.host_scope = true;
  one.rule_ids = input.rule_ids;
  one.targets = {e->hosts[5]};
  one.meta = input.meta;
  auto t4 = std::chrono::steady_clock::now();
  auto single = Apply(*e, one, 4000);
  auto t5 = std::chrono::steady_clock::now();
  // hits were rule-major: after the resize host 5 still had rules 0..12 active.
  CHECK(single.resolved == 13);
  MESSAGE("ApplyEvaluation one host x "
          << kRules << " rules: "
          << std::chrono::duration_cast<std::chrono::microseconds>(t5 - t4).count() << " us");
}

}  // namespace
}  // namespace dozor::server
