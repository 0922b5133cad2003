// "Fixed — please verify" in the SQLite store: a request is decided only by an evaluation after a
// fresh inventory of the finding's host; it confirms (resolved) or fails (still present, new
// evidence, state unchanged), and the history names who asked. Also waiver acceptance.
#include <doctest/doctest.h>

#include "store/sqlite/sqlite_store.hpp"
#include "test_util.hpp"

namespace dozor::server {
namespace {

using dozor::testing::TempDir;

struct VerifyStoreFixture {
  VerifyStoreFixture() {
    SqliteStoreOptions options;
    options.path = (dir / "dozor.db").string();
    options.background_checkpoint = false;
    auto opened = OpenSqliteStore(options);
    REQUIRE(opened.ok());
    store = std::move(opened).value();
    Organization org;
    org.name = "Acme";
    org_id = store->CreateOrganization(org)->id;
    NewEnrollmentToken token;
    token.org_id = org_id;
    token.token_hash = "th";
    REQUIRE(store->CreateEnrollmentToken(token).ok());
    NewAgent agent;
    agent.agent_id = "agent-1";
    agent.secret_hash = "s";
    REQUIRE(store->EnrollAgent("th", agent, 1000).ok());
    host_pk = *store->HostPk("agent-1");
  }

  // One evaluation of rule r1 on the host: hit with `evidence`, or clear.
  void Evaluate(bool hit, const std::string& evidence, int64_t now_ms) {
    EvaluationInput input;
    input.rule_ids = {"r1"};
    input.targets = {host_pk};
    input.meta["r1"] = RuleMeta{Severity::kHigh, "os"};
    if (hit) input.hits.push_back(FindingHit{"r1", org_id, host_pk, evidence, false, ""});
    auto applied = store->ApplyEvaluation(input, now_ms);
    REQUIRE_MESSAGE(applied.ok(), (applied.ok() ? "" : applied.error().ToString()));
  }

  // The host reports an inventory collected at `at_ms`.
  void Inventory(uint64_t seq, int64_t at_ms) {
    std::vector<IncomingReport> batch(1);
    batch[0].agent_id = "agent-1";
    batch[0].received_at_ms = at_ms;
    batch[0].report.set_seq(seq);
    batch[0].report.set_collected_at_ms(at_ms);
    batch[0].report.mutable_inventory()->mutable_os()->set_family("linux");
    auto committed = store->CommitReports(batch);
    REQUIRE(committed.ok());
    REQUIRE(committed->at(0).outcome == CommitOutcome::kStored);
  }

  std::vector<std::string> Kinds(int64_t id) {
    std::vector<std::string> out;
    // Kept: a range-for over *ListFindingEvents(...) would walk a destroyed temporary.
    auto events = store->ListFindingEvents(id);
    REQUIRE(events.ok());
    for (const auto& event : *events) {
      out.emplace_back(ToString(event.kind));
    }
    return out;
  }

  TempDir dir;
  std::unique_ptr<SqliteStore> store;
  int64_t org_id = 0;
  int64_t host_pk = 0;
};

TEST_CASE("a verification waits for a fresh inventory, then confirms the fix") {
  VerifyStoreFixture f;
  f.Evaluate(true, R"([{"version":"10"}])", 10'000);
  const int64_t id = f.store->ListFindings(FindingFilter{})->front().id;
  auto asked = f.store->RequestVerification(id, "sysadmin", "upgraded", 20'000);
  REQUIRE(asked.ok());
  CHECK(asked->verify_requested_by == "sysadmin");
  CHECK(asked->verify_requested_at_ms == 20'000);
  CHECK(asked->state == FindingState::kOpen);

  // An evaluation on old data decides nothing.
  f.Evaluate(false, "", 21'000);  // (the finding resolves on its own data)
  CHECK(f.Kinds(id) == std::vector<std::string>{"opened", "verify_requested", "resolved"});
  CHECK(f.store->GetFinding(id)->verify_requested_at_ms.has_value());
  // After a fresh inventory, the next evaluation confirms.
  f.Inventory(1, 25'000);
  f.Evaluate(false, "", 26'000);
  auto kinds = f.Kinds(id);
  CHECK(kinds.back() == "verify_confirmed");
  auto after = f.store->GetFinding(id);
  CHECK(after->state == FindingState::kResolved);
  CHECK_FALSE(after->verify_requested_at_ms.has_value());
  auto events = f.store->ListFindingEvents(id);
  CHECK(events->back().comment.find("sysadmin") != std::string::npos);
  // A resolved finding cannot be asked again.
  CHECK(f.store->RequestVerification(id, "sysadmin", "", 30'000).error().code ==
        ErrorCode::kFailedPrecondition);
}

TEST_CASE("a verification that finds the problem still there keeps the state, with new evidence") {
  VerifyStoreFixture f;
  f.Evaluate(true, R"([{"version":"10"}])", 10'000);
  const int64_t id = f.store->ListFindings(FindingFilter{})->front().id;
  REQUIRE(f.store->AcknowledgeFinding(id, "engineer", "planned", 11'000).ok());
  REQUIRE(f.store->RequestVerification(id, "sysadmin", "", 20'000).ok());
  // One pending request at a time (each makes the client's hosts collect), unless it went
  // unanswered for 10 minutes.
  auto again = f.store->RequestVerification(id, "engineer", "", 21'000);
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().code == ErrorCode::kFailedPrecondition);
  CHECK(again.error().message.find("pending") != std::string::npos);
  CHECK(f.store->RequestVerification(id, "sysadmin", "", 20'000 + 10 * 60'000).ok());
  f.Inventory(1, 20'000 + 10 * 60'000 + 5'000);
  f.Evaluate(true, R"([{"version":"11"}])", 20'000 + 10 * 60'000 + 6'000);
  auto after = f.store->GetFinding(id);
  CHECK(after->state == FindingState::kAcknowledged);  // back to (still in) its state
  CHECK(after->evidence_json.find("11") != std::string::npos);
  CHECK_FALSE(after->verify_requested_at_ms.has_value());
  auto kinds = f.Kinds(id);
  CHECK(kinds.back() == "verify_failed");
  CHECK(f.store->ListFindingEvents(id)->back().comment.find("still present") != std::string::npos);
}

TEST_CASE("only a waived finding's waiver can be accepted") {
  VerifyStoreFixture f;
  f.Evaluate(true, "[]", 10'000);
  const int64_t id = f.store->ListFindings(FindingFilter{})->front().id;
  CHECK(f.store->AcceptWaiver(id, "director", "", 11'000).error().code ==
        ErrorCode::kFailedPrecondition);
  REQUIRE(
      f.store->WaiveFinding(id, "engineer", "client accepts the risk", std::nullopt, 12'000).ok());
  auto accepted = f.store->AcceptWaiver(id, "director", "согласовано", 13'000);
  REQUIRE(accepted.ok());
  CHECK(accepted->state == FindingState::kWaived);
  CHECK(f.Kinds(id).back() == "waiver_accepted");
}

}  // namespace
}  // namespace dozor::server
