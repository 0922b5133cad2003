// The dashboard's trend routes through ApiService over a real SQLite store: a host's health series
// (GET /api/v1/hosts/{agent_id}/health/series) and an organisation's readiness trend
// (GET /api/v1/orgs/{org}/readiness): their shapes, values, 400s and per-client scope.
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "dozor/common/clock.hpp"
#include "dozor/common/crypto.hpp"
#include "http/api_service.hpp"
#include "http/handlers.hpp"
#include "rules/rule.hpp"
#include "server/http/api_request.hpp"
#include "server/http/disk_rule.hpp"
#include "server/test_store.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "test_util.hpp"

namespace dozor::server::http {
namespace {

constexpr int64_t kMinute = 60'000;
constexpr int64_t kHour = 60 * kMinute;
constexpr int64_t kDay = 24 * kHour;
// Midnight UTC, so bucket and day boundaries fall where the checks expect them.
constexpr int64_t kT0 = 1'800'000'000'000 - 1'800'000'000'000 % kDay;

// The test rule every HTTP test of findings uses (server/http/disk_rule.hpp).
constexpr const char* kRuleToml = dozor::testing::kDiskSpaceLowRuleToml;

struct TrendRoutesFixture {
  TrendRoutesFixture() {
    store = dozor::testing::OpenTestStore(dir);
    auto rule = rules::ParseRule(kRuleToml, "test:disk-space-low.toml");
    REQUIRE(rule.ok());
    pack.rules.push_back(std::move(rule).value());
    REQUIRE(store
                ->CreateApiToken("root", ApiRole::kAdmin, Sha256Hex("dza_root"), "dza_root",
                                 std::nullopt)
                .ok());
    alpha = MakeOrg("Alpha");
    beta = MakeOrg("Beta");
    a1 = Enroll(alpha, "agent-a1", kT0);
    a2 = Enroll(alpha, "agent-a2", kT0 + 2 * kDay);
    b1 = Enroll(beta, "agent-b1", kT0);

    NewUser client;
    client.login = "alpha-client";
    client.display_name = "Sysadmin of Alpha";
    client.role = UserRole::kClient;
    client.org_id = alpha;
    auto user = store->CreateUser(client, kT0);
    REQUIRE(user.ok());
    REQUIRE(store
                ->CreateApiToken("alpha-client-token", ApiRole::kAdmin, Sha256Hex("dza_client"),
                                 "dza_client", std::nullopt, user->id)
                .ok());

    ApiContext context{.store = *store, .clock = clock};
    context.rules = &pack;
    api = std::make_unique<ApiService>(std::move(context));
  }

  int64_t MakeOrg(const std::string& name) {
    Organization org;
    org.name = name;
    org.contract_type = ContractType::kTechnical;
    org.created_at_ms = kT0 - kDay;
    auto created = store->CreateOrganization(org);
    REQUIRE(created.ok());
    return created->id;
  }

  int64_t Enroll(int64_t org_id, const std::string& agent_id, int64_t at_ms) {
    NewEnrollmentToken token;
    token.org_id = org_id;
    token.token_hash = Sha256Hex("dze_" + agent_id);
    token.hint = agent_id;
    REQUIRE(store->CreateEnrollmentToken(token).ok());
    NewAgent agent;
    agent.agent_id = agent_id;
    agent.secret_hash = Sha256Hex("s");
    agent.hostname = "host-" + agent_id;
    REQUIRE(store->EnrollAgent(token.token_hash, agent, at_ms).ok());
    auto pk = store->HostPk(agent_id);
    REQUIRE(pk.ok());
    return *pk;
  }

  // Samples one a minute from `from_ms`: cpu = minute index % 50, a root filesystem half full
  // and a tmpfs, one disk and one interface.
  void CommitMinutes(const std::string& agent_id, int64_t from_ms, int count, uint64_t first_seq) {
    std::vector<IncomingReport> batch;
    for (int i = 0; i < count; ++i) {
      IncomingReport in;
      in.agent_id = agent_id;
      in.received_at_ms = from_ms + i * kMinute;
      in.report.set_seq(first_seq + static_cast<uint64_t>(i));
      in.report.set_collected_at_ms(from_ms + i * kMinute);
      auto* health = in.report.mutable_health();
      health->set_cpu_percent(i % 50);
      health->set_memory_total_bytes(1000);
      health->set_memory_available_bytes(400);
      health->set_interval_seconds(60);
      for (const char* type : {"ext4", "tmpfs"}) {
        auto* fs = health->add_filesystems();
        fs->set_mount_point(std::string(type) == "ext4" ? "/" : "/run");
        fs->set_fs_type(type);
        fs->set_total_bytes(2000);
        fs->set_available_bytes(1000);
      }
      auto* disk = health->add_disks();
      disk->set_device("sda");
      disk->set_read_bytes_per_s(512);
      auto* nic = health->add_networks();
      nic->set_interface("eth0");
      nic->set_tx_bytes_per_s(100 + i % 2 * 100);
      batch.push_back(std::move(in));
    }
    auto committed = store->CommitReports(batch);
    REQUIRE_MESSAGE(committed.ok(), (committed.ok() ? "" : committed.error().ToString()));
  }

  // Fires disk-space-low on the hosts given (and clears it on the others) at `at_ms`.
  void Evaluate(const std::vector<std::pair<int64_t, int64_t>>& hits_org_host, int64_t at_ms) {
    EvaluationInput input;
    input.host_scope = true;
    input.rule_ids = {"disk-space-low"};
    input.targets = {a1, a2, b1};
    input.meta["disk-space-low"] = RuleMeta{Severity::kHigh, "hardware"};
    for (const auto& [org, host] : hits_org_host) {
      input.hits.push_back(FindingHit{"disk-space-low", org, host, "[]", false, ""});
    }
    REQUIRE(store->ApplyEvaluation(input, at_ms).ok());
  }

  ApiResponse Get(const std::string& path, const std::string& token = "dza_root") {
    ApiRequest request = dozor::testing::MakeApiRequest("GET", path, token);
    return api->Handle(request);
  }

  dozor::testing::TempDir dir;
  FakeClock clock{kT0 + 10 * kDay};
  std::unique_ptr<SqliteStore> store;
  rules::RulePack pack;
  int64_t alpha = 0, beta = 0;
  int64_t a1 = 0, a2 = 0, b1 = 0;
  std::unique_ptr<ApiService> api;
};

void CheckLength(const nlohmann::json& array, size_t length, const std::string& what) {
  INFO(what);
  REQUIRE(array.is_array());
  CHECK(array.size() == length);
}

TEST_CASE("health series: 720 columnar buckets from both tiers, gaps as null") {
  TrendRoutesFixture f;
  // Three hours of samples, the first two compacted into blocks.
  const int64_t start = kT0 + 5 * kDay;
  f.CommitMinutes("agent-a1", start, 180, 1);
  auto stats = f.store->CompactHealth(start + 2 * kHour + kMinute);
  REQUIRE(stats.ok());
  REQUIRE(stats->samples == 120);

  const auto response = f.Get("/api/v1/hosts/agent-a1/health/series?range=24h&until_ms=" +
                              std::to_string(start + 3 * kHour - kMinute));
  REQUIRE_MESSAGE(response.status == 200, response.body.dump());
  const auto& body = response.body;
  CHECK(body["agent_id"] == "agent-a1");
  CHECK(body["range"] == "24h");
  CHECK(body["step_ms"] == 2 * kMinute);
  CHECK(body["to_ms"] == start + 3 * kHour);
  CHECK(body["from_ms"] == start + 3 * kHour - kDay);
  CHECK(body["from"] == IsoUtc(start + 3 * kHour - kDay));
  CHECK(body["to"] == IsoUtc(start + 3 * kHour));
  CheckLength(body["t"], 720, "t");
  CHECK(body["t"][0] == body["from_ms"]);
  CHECK(body["t"][719] == start + 3 * kHour - 2 * kMinute);
  for (const char* key :
       {"cpu_iowait_percent", "load1", "memory_used_percent", "swap_used_percent"}) {
    CheckLength(body[key], 720, key);
  }
  CheckLength(body["cpu_percent"]["avg"], 720, "cpu avg");
  CheckLength(body["cpu_percent"]["max"], 720, "cpu max");
  // The last 90 buckets hold the three hours: minutes 2k and 2k+1 each.
  const size_t first = 720 - 90;
  CHECK(body["cpu_percent"]["avg"][first - 1].is_null());
  CHECK(body["cpu_percent"]["avg"][first] == 0.5);
  CHECK(body["cpu_percent"]["max"][first] == 1.0);
  CHECK(body["cpu_percent"]["avg"][first + 60] == 20.5);  // minute 120: the first raw row
  CHECK(body["memory_used_percent"][first + 30] == 60.0);
  CHECK(body["memory_used_percent"][0].is_null());
  // The tmpfs is not charted.
  REQUIRE(body["filesystems"].size() == 1);
  CHECK(body["filesystems"][0]["mount_point"] == "/");
  CheckLength(body["filesystems"][0]["used_percent"], 720, "fs");
  CHECK(body["filesystems"][0]["used_percent"][719] == 50.0);
  REQUIRE(body["disks"].size() == 1);
  CHECK(body["disks"][0]["name"] == "sda");
  CHECK(body["disks"][0]["read_bytes_per_second"][700] == 512.0);
  CheckLength(body["disks"][0]["write_bytes_per_second"], 720, "disk write");
  REQUIRE(body["networks"].size() == 1);
  CHECK(body["networks"][0]["name"] == "eth0");
  CHECK(body["networks"][0]["tx_bytes_per_second"][700] == 150.0);
  CheckLength(body["networks"][0]["rx_bytes_per_second"], 720, "nic rx");
}

TEST_CASE("health series: 7d and 30d are 720 buckets too, 24h is the default, until is now") {
  TrendRoutesFixture f;
  f.CommitMinutes("agent-a1", f.clock.NowMs() - 3 * kHour, 180, 1);
  const auto by_default = f.Get("/api/v1/hosts/agent-a1/health/series");
  REQUIRE(by_default.status == 200);
  CHECK(by_default.body["range"] == "24h");
  CHECK(by_default.body["to_ms"].get<int64_t>() > f.clock.NowMs());
  CHECK(by_default.body["to_ms"].get<int64_t>() <= f.clock.NowMs() + 2 * kMinute);
  CHECK_FALSE(by_default.body["cpu_percent"]["avg"][718].is_null());
  for (const auto& [range, step] :
       std::vector<std::pair<std::string, int64_t>>{{"7d", 15 * kMinute}, {"30d", kHour}}) {
    const auto response = f.Get("/api/v1/hosts/agent-a1/health/series?range=" + range);
    REQUIRE(response.status == 200);
    CHECK(response.body["range"] == range);
    CHECK(response.body["step_ms"] == step);
    CHECK(response.body["t"].size() == 720);
    CHECK(response.body["filesystems"][0]["used_percent"].size() == 720);
  }
  // A host without samples answers all gaps.
  const auto empty = f.Get("/api/v1/hosts/agent-a2/health/series?range=30d");
  REQUIRE(empty.status == 200);
  CHECK(empty.body["cpu_percent"]["avg"].size() == 720);
  CHECK(empty.body["cpu_percent"]["avg"][719].is_null());
  CHECK(empty.body["filesystems"].empty());
}

TEST_CASE("health series: malformed queries are 400, other clients' and unknown hosts 404") {
  TrendRoutesFixture f;
  for (const char* query : {"?range=1y", "?range=24H", "?until_ms=abc", "?until_ms=-5",
                            "?range=7d&until_ms=99999999999999999999"}) {
    INFO(query);
    const auto response = f.Get(std::string("/api/v1/hosts/agent-a1/health/series") + query);
    CHECK(response.status == 400);
    CHECK(response.body["error"]["code"] == "invalid_argument");
  }
  const auto unknown = f.Get("/api/v1/hosts/agent-none/health/series");
  CHECK(unknown.status == 404);
  CHECK(unknown.body["error"]["code"] == "not_found");
  // Alpha's client sees its own host and not Beta's, answered like one that does not exist.
  CHECK(f.Get("/api/v1/hosts/agent-a1/health/series", "dza_client").status == 200);
  const auto other = f.Get("/api/v1/hosts/agent-b1/health/series", "dza_client");
  const auto missing = f.Get("/api/v1/hosts/agent-zz/health/series", "dza_client");
  CHECK(other.status == 404);
  CHECK(missing.status == 404);
}

TEST_CASE("readiness: daily points from the first audit, the last one equal to the summary") {
  TrendRoutesFixture f;
  // Day 1: a1 fires. First audit recorded on day 1 noon. Day 3: a2 (enrolled day 2) fires too.
  // Day 6: a1's finding is resolved. Beta's host fires all along (not Alpha's business).
  f.Evaluate({{f.alpha, f.a1}, {f.beta, f.b1}}, kT0 + kDay);
  REQUIRE(f.store
              ->RecordAuditSnapshot(f.alpha, AuditSnapshotKind::kFirstAudit, "anna",
                                    kT0 + kDay + 12 * kHour)
              .ok());
  f.Evaluate({{f.alpha, f.a1}, {f.alpha, f.a2}, {f.beta, f.b1}}, kT0 + 3 * kDay);
  f.Evaluate({{f.alpha, f.a2}, {f.beta, f.b1}}, kT0 + 6 * kDay);

  const auto response = f.Get("/api/v1/orgs/Alpha/readiness");
  REQUIRE_MESSAGE(response.status == 200, response.body.dump());
  const auto& body = response.body;
  CHECK(body["org_id"] == f.alpha);
  CHECK(body["partial"] == false);
  CHECK(body["first_audit_at_ms"] == kT0 + kDay + 12 * kHour);
  CHECK(body["first_audit_at"] == IsoUtc(kT0 + kDay + 12 * kHour));
  const auto& points = body["points"];
  // The audit, midnights of days 2..10, now (day 10 + 0: now is a midnight, so it is the last).
  REQUIRE(points.size() == 10);
  CHECK(points[0]["at_ms"] == kT0 + kDay + 12 * kHour);
  CHECK(points[0]["at"] == IsoUtc(kT0 + kDay + 12 * kHour));
  CHECK(points[1]["at_ms"] == kT0 + 2 * kDay);
  CHECK(points[9]["at_ms"] == f.clock.NowMs());
  // Day 1.5: one host, one high finding -> 85. Day 2: a2 enrolled, clean -> (85 + 100) / 2.
  // Day 4: both hosts with a high finding -> 85. Day 7: only a2's -> 93 (92.5 rounded).
  CHECK(points[0]["score"] == 85);
  CHECK(points[0]["active_findings"] == 1);
  CHECK(points[1]["score"] == 93);
  CHECK(points[3]["score"] == 85);
  CHECK(points[3]["active_findings"] == 2);
  CHECK(points[6]["score"] == 93);
  CHECK(points[6]["active_findings"] == 1);

  const auto summary = f.Get("/api/v1/orgs/Alpha/summary");
  REQUIRE(summary.status == 200);
  CHECK(points[9]["score"] == summary.body["readiness_score"]);
  const auto& open = summary.body["open_findings"];
  CHECK(points[9]["active_findings"] ==
        open["critical"].get<int64_t>() + open["high"].get<int64_t>() +
            open["medium"].get<int64_t>() + open["low"].get<int64_t>() +
            open["info"].get<int64_t>());

  // Waiving and revoking move the current score; the last point follows the summary.
  auto findings = f.store->ListFindings(FindingFilter{f.alpha});
  REQUIRE(findings.ok());
  for (const auto& finding : *findings) {
    if (finding.state == FindingState::kOpen) {
      REQUIRE(f.store->WaiveFinding(finding.id, "anna", "accepted", std::nullopt, f.clock.NowMs())
                  .ok());
    }
  }
  REQUIRE(f.store->RevokeAgent("agent-a1", f.clock.NowMs()).ok());
  f.clock.AdvanceMs(kHour);
  const auto after = f.Get("/api/v1/orgs/Alpha/readiness");
  const auto summary_after = f.Get("/api/v1/orgs/Alpha/summary");
  REQUIRE(after.status == 200);
  CHECK(after.body["points"].back()["score"] == summary_after.body["readiness_score"]);
  CHECK(after.body["points"].back()["score"] == 100);
  CHECK(after.body["points"][6]["score"] == 93);  // history keeps the past
}

TEST_CASE("readiness: without a first audit the trend starts at the first finding") {
  TrendRoutesFixture f;
  f.Evaluate({{f.beta, f.b1}}, kT0 + 4 * kDay + 3 * kHour);
  const auto response = f.Get("/api/v1/orgs/" + std::to_string(f.beta) + "/readiness");
  REQUIRE(response.status == 200);
  CHECK(response.body["first_audit_at_ms"].is_null());
  CHECK(response.body["first_audit_at"].is_null());
  CHECK(response.body["points"][0]["at_ms"] == kT0 + 4 * kDay + 3 * kHour);
  CHECK(response.body["points"][0]["score"] == 85);
  // Without findings: from the organisation's creation, all 100.
  const auto clean = f.Get("/api/v1/orgs/Alpha/readiness");
  REQUIRE(clean.status == 200);
  CHECK(clean.body["points"][0]["at_ms"] == kT0 - kDay);
  CHECK(clean.body["points"].size() == 12);
  for (const auto& point : clean.body["points"]) {
    CHECK(point["score"] == 100);
  }
}

TEST_CASE("readiness: an application contract scores a disk finding on the 1C server only") {
  TrendRoutesFixture f;
  OrganizationPatch patch;
  patch.contract_type = ContractType::kApplication;
  REQUIRE(f.store->UpdateOrganization(f.alpha, patch).ok());
  // a1 runs the 1C:Enterprise server; a2 is a plain machine.
  std::vector<IncomingReport> batch(2);
  for (size_t i = 0; i < batch.size(); ++i) {
    batch[i].agent_id = i == 0 ? "agent-a1" : "agent-a2";
    batch[i].received_at_ms = kT0 + 2 * kDay;
    batch[i].report.set_seq(1);
    batch[i].report.set_collected_at_ms(kT0 + 2 * kDay);
    batch[i].report.mutable_inventory()->mutable_os()->set_hostname(batch[i].agent_id);
  }
  auto* app = batch[0].report.mutable_inventory()->mutable_software()->add_applications();
  app->set_name("1C:Enterprise");
  app->set_version("8.3.22.1709");
  app->set_kind("server");
  REQUIRE(f.store->CommitReports(batch).ok());
  CHECK(f.Get("/api/v1/hosts/agent-a1").body["duties"] == nlohmann::json::array({"onec"}));
  CHECK(f.Get("/api/v1/hosts/agent-a2").body["duties"] == nlohmann::json::array());

  // disk-space-low (hardware; technical and complex contracts) fires on both.
  f.Evaluate({{f.alpha, f.a1}, {f.alpha, f.a2}}, kT0 + 3 * kDay);
  const auto summary = f.Get("/api/v1/orgs/Alpha/summary");
  REQUIRE(summary.status == 200);
  // Only the 1C server's finding scores: (85 + 100) / 2 = 92.5 -> 93.
  CHECK(summary.body["readiness_score"] == 93);
  const auto trend = f.Get("/api/v1/orgs/Alpha/readiness");
  REQUIRE(trend.status == 200);
  CHECK(trend.body["points"].back()["score"] == 93);
  CHECK(trend.body["points"].back()["active_findings"] == 2);

  ApiRequest report_request = dozor::testing::MakeApiRequest(
      "GET", "/api/v1/orgs/Alpha/report?format=json&lang=en", "dza_root");
  auto report = f.api->Handle(report_request);
  REQUIRE(report.status == 200);
  REQUIRE(report.raw_body.has_value());
  const auto doc = nlohmann::json::parse(*report.raw_body);
  CHECK(doc["readiness_score"] == 93);
  CHECK(doc["ready_to_sign"] == false);
  REQUIRE(doc["must_fix"].size() == 1);
  for (const auto& finding : doc["findings"]) {
    CHECK(finding["in_scope"] == (finding["agent_id"] == "agent-a1"));
  }

  // A technical contract scores both, as before.
  patch.contract_type = ContractType::kTechnical;
  REQUIRE(f.store->UpdateOrganization(f.alpha, patch).ok());
  CHECK(f.Get("/api/v1/orgs/Alpha/summary").body["readiness_score"] == 85);
}

TEST_CASE("readiness: another client's organisation is 404 like one that does not exist") {
  TrendRoutesFixture f;
  CHECK(f.Get("/api/v1/orgs/Alpha/readiness", "dza_client").status == 200);
  const auto other = f.Get("/api/v1/orgs/Beta/readiness", "dza_client");
  const auto missing = f.Get("/api/v1/orgs/Gamma/readiness", "dza_client");
  CHECK(other.status == 404);
  CHECK(missing.status == 404);
  CHECK(other.body["error"]["code"] == "not_found");
}

}  // namespace
}  // namespace dozor::server::http
