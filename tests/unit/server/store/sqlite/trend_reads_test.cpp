// The store reads behind the dashboard's trends: VisitHealth over both health tiers, and the
// finding timelines and host lifetimes a past readiness score is rebuilt from.
#include <doctest/doctest.h>

#include <map>
#include <string>
#include <vector>

#include "server/test_store.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "test_util.hpp"

namespace dozor::server {
// Named, not anonymous: in the unity build rule_windows_test.cpp has a Fixture of its own.
namespace trend_reads_test {

constexpr int64_t kHour = 3'600'000;
constexpr int64_t kMinute = 60'000;
constexpr int64_t kT0 = 1'800'000'000'000 - 1'800'000'000'000 % kHour;

struct Fixture {
  Fixture() { store = dozor::testing::OpenTestStore(dir); }

  int64_t MakeOrg(const std::string& name) {
    Organization org;
    org.name = name;
    org.contract_type = ContractType::kTechnical;
    auto created = store->CreateOrganization(org);
    REQUIRE(created.ok());
    return created->id;
  }

  int64_t Enroll(int64_t org_id, const std::string& agent_id, int64_t at_ms) {
    NewEnrollmentToken token;
    token.org_id = org_id;
    token.token_hash = "hash-" + agent_id;
    token.hint = agent_id;
    REQUIRE(store->CreateEnrollmentToken(token).ok());
    NewAgent agent;
    agent.agent_id = agent_id;
    agent.secret_hash = "secret";
    agent.hostname = "host-" + agent_id;
    REQUIRE(store->EnrollAgent(token.token_hash, agent, at_ms).ok());
    auto pk = store->HostPk(agent_id);
    REQUIRE(pk.ok());
    return *pk;
  }

  // One sample a minute from kT0, cpu_percent = the minute's index.
  void CommitMinutes(const std::string& agent_id, int count) {
    std::vector<IncomingReport> batch;
    for (int i = 0; i < count; ++i) {
      IncomingReport in;
      in.agent_id = agent_id;
      in.received_at_ms = kT0 + i * kMinute;
      in.report.set_seq(static_cast<uint64_t>(i + 1));
      in.report.set_collected_at_ms(kT0 + i * kMinute);
      in.report.mutable_health()->set_cpu_percent(i % 100);
      in.report.mutable_health()->set_interval_seconds(60);
      batch.push_back(std::move(in));
    }
    auto committed = store->CommitReports(batch);
    REQUIRE_MESSAGE(committed.ok(), (committed.ok() ? "" : committed.error().ToString()));
  }

  // collected_at -> cpu_percent of every visited sample (and how many visits in all).
  std::map<int64_t, double> Visit(const std::string& agent_id, int64_t from, int64_t to,
                                  int* visits) {
    std::map<int64_t, double> seen;
    *visits = 0;
    auto status = store->VisitHealth(agent_id, from, to,
                                     [&](int64_t at, const dozor::v1::HealthSample& sample) {
                                       seen[at] = sample.cpu_percent();
                                       ++*visits;
                                     });
    REQUIRE_MESSAGE(status.ok(), (status.ok() ? "" : status.error().ToString()));
    return seen;
  }

  dozor::testing::TempDir dir;
  std::unique_ptr<SqliteStore> store;
};

TEST_CASE("VisitHealth hands over each sample of the range once, from blocks and recent rows") {
  Fixture f;
  const int64_t org = f.MakeOrg("Alpha");
  f.Enroll(org, "a1", kT0);
  f.Enroll(org, "a2", kT0);
  f.CommitMinutes("a1", 200);  // 3 h 20 min
  f.CommitMinutes("a2", 200);
  int visits = 0;
  const auto before = f.Visit("a1", kT0, kT0 + 200 * kMinute, &visits);
  CHECK(before.size() == 200);
  CHECK(visits == 200);

  // Hours 0..2 move into blocks, hour 3 stays in rows.
  auto stats = f.store->CompactHealth(kT0 + 3 * kHour + 30 * kMinute);
  REQUIRE(stats.ok());
  REQUIRE(stats->samples == 2 * 180);
  CHECK(f.Visit("a1", kT0, kT0 + 200 * kMinute, &visits) == before);
  CHECK(visits == 200);

  // Bounds are [from, to), inside a block and across the tiers.
  const auto middle = f.Visit("a1", kT0 + 90 * kMinute, kT0 + 185 * kMinute, &visits);
  CHECK(visits == 95);
  CHECK(middle.begin()->first == kT0 + 90 * kMinute);
  CHECK(middle.rbegin()->first == kT0 + 184 * kMinute);
  CHECK(middle.at(kT0 + 150 * kMinute) == 50);
  CHECK(f.Visit("a1", kT0 + 10 * kHour, kT0 + 11 * kHour, &visits).empty());
  CHECK(f.Visit("a1", kT0 + kHour, kT0 + kHour, &visits).empty());

  auto unknown = f.store->VisitHealth("nobody", kT0, kT0 + kHour,
                                      [](int64_t, const dozor::v1::HealthSample&) {});
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().code == ErrorCode::kNotFound);
}

TEST_CASE("host lifetimes and finding timelines are one organisation's, state changes only") {
  Fixture f;
  const int64_t alpha = f.MakeOrg("Alpha");
  const int64_t beta = f.MakeOrg("Beta");
  const int64_t a1 = f.Enroll(alpha, "a1", kT0);
  const int64_t a2 = f.Enroll(alpha, "a2", kT0 + kHour);
  const int64_t b1 = f.Enroll(beta, "b1", kT0);
  REQUIRE(f.store->RevokeAgent("a2", kT0 + 2 * kHour).ok());

  EvaluationInput input;
  input.host_scope = true;
  input.rule_ids = {"disk"};
  input.targets = {a1, a2, b1};
  input.meta["disk"] = RuleMeta{Severity::kHigh, "hardware"};
  input.hits = {FindingHit{"disk", alpha, a1, "[]", false, ""},
                FindingHit{"disk", beta, b1, "[]", false, ""}};
  REQUIRE(f.store->ApplyEvaluation(input, kT0 + kHour).ok());
  auto listed = f.store->ListFindings(FindingFilter{alpha});
  REQUIRE(listed.ok());
  REQUIRE(listed->size() == 1);
  const int64_t finding = listed->front().id;
  REQUIRE(f.store->CommentFinding(finding, "anna", "looking", kT0 + 2 * kHour).ok());
  REQUIRE(f.store->AcknowledgeFinding(finding, "anna", "", kT0 + 3 * kHour).ok());
  input.hits.resize(1);
  input.hits[0] = FindingHit{"disk", beta, b1, "[]", false, ""};
  REQUIRE(f.store->ApplyEvaluation(input, kT0 + 4 * kHour).ok());  // a1's finding resolves

  auto hosts = f.store->ListHostLifetimes(alpha);
  REQUIRE(hosts.ok());
  REQUIRE(hosts->size() == 2);
  CHECK(hosts->at(0).agent_id == "a1");
  CHECK(hosts->at(0).enrolled_at_ms == kT0);
  CHECK_FALSE(hosts->at(0).revoked_at_ms.has_value());
  CHECK(hosts->at(1).agent_id == "a2");
  CHECK(hosts->at(1).revoked_at_ms == kT0 + 2 * kHour);

  auto timelines = f.store->ListFindingTimelines(alpha);
  REQUIRE(timelines.ok());
  REQUIRE(timelines->size() == 1);
  const FindingTimeline& timeline = timelines->front();
  CHECK(timeline.id == finding);
  CHECK(timeline.rule_id == "disk");
  CHECK(timeline.agent_id == "a1");
  CHECK(timeline.severity == Severity::kHigh);
  CHECK(timeline.state == FindingState::kResolved);
  CHECK(timeline.first_seen_ms == kT0 + kHour);
  REQUIRE(timeline.changes.size() == 3);  // the comment is not a change
  CHECK(timeline.changes[0].at_ms == kT0 + kHour);
  CHECK(timeline.changes[0].to_state == FindingState::kOpen);
  CHECK(timeline.changes[1].to_state == FindingState::kAcknowledged);
  CHECK(timeline.changes[2].at_ms == kT0 + 4 * kHour);
  CHECK(timeline.changes[2].to_state == FindingState::kResolved);

  auto other = f.store->ListFindingTimelines(beta);
  REQUIRE(other.ok());
  REQUIRE(other->size() == 1);
  CHECK(other->front().agent_id == "b1");
  CHECK(other->front().changes.size() == 1);
}

}  // namespace trend_reads_test
}  // namespace dozor::server
