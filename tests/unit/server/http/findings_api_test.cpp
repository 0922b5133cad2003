// The findings, contract and rules routes through ApiService over a real SQLite store: listing
// and filtering, the lifecycle people drive, role checks and the error statuses.
#include <doctest/doctest.h>

#include <memory>
#include <string>

#include "dozor/common/clock.hpp"
#include "dozor/common/crypto.hpp"
#include "http/api_service.hpp"
#include "http/handlers.hpp"
#include "rules/rule.hpp"
#include "server/http/disk_rule.hpp"
#include "server/test_store.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "test_util.hpp"

namespace dozor::server::http {
namespace {

// The test rule every HTTP test of findings uses (server/http/disk_rule.hpp).
constexpr const char* kFindingsApiRuleToml = dozor::testing::kDiskSpaceLowRuleToml;

struct FindingsApiFixture {
  FindingsApiFixture() {
    store = dozor::testing::OpenTestStore(dir);
    REQUIRE(store
                ->CreateApiToken("alice", ApiRole::kOperator, Sha256Hex("dza_op"), "dza_op",
                                 std::nullopt)
                .ok());
    REQUIRE(store
                ->CreateApiToken("bob", ApiRole::kViewer, Sha256Hex("dza_view"), "dza_view",
                                 std::nullopt)
                .ok());
    auto rule = rules::ParseRule(kFindingsApiRuleToml, "test:disk-space-low.toml");
    REQUIRE_MESSAGE(rule.ok(), (rule.ok() ? "" : rule.error().ToString()));
    pack.rules.push_back(std::move(rule).value());

    Organization org;
    org.name = "ООО Ромашка";
    org.contract_type = ContractType::kTechnical;
    org.created_at_ms = clock.NowMs();
    auto created = store->CreateOrganization(org);
    REQUIRE(created.ok());
    org_id = created->id;
    NewEnrollmentToken token;
    token.org_id = org_id;
    token.token_hash = Sha256Hex("dze_x");
    token.hint = "dze_x";
    REQUIRE(store->CreateEnrollmentToken(token).ok());
    NewAgent agent;
    agent.agent_id = "agent-1";
    agent.secret_hash = Sha256Hex("s");
    agent.hostname = "db1";
    REQUIRE(store->EnrollAgent(Sha256Hex("dze_x"), agent, clock.NowMs()).ok());
    auto pk = store->HostPk("agent-1");
    REQUIRE(pk.ok());
    host_pk = *pk;

    ApiContext context{*store, nullptr, clock, "", 180};
    context.rules = &pack;
    context.evaluate_now = [this](int64_t id) {
      evaluated_org = id;
      return OkStatus();
    };
    api = std::make_unique<ApiService>(std::move(context));
  }

  // Fires (or clears, with hit=false) disk-space-low on the host; returns the finding id.
  int64_t Evaluate(bool hit) {
    EvaluationInput input;
    input.host_scope = true;
    input.rule_ids = {"disk-space-low"};
    input.targets = {host_pk};
    input.meta["disk-space-low"] = RuleMeta{Severity::kHigh, "hardware"};
    if (hit) {
      input.hits.push_back(FindingHit{"disk-space-low", org_id, host_pk,
                                      R"([{"mount":"/","used_pct":95.5}])", false, ""});
    }
    auto change = store->ApplyEvaluation(input, clock.NowMs());
    REQUIRE_MESSAGE(change.ok(), (change.ok() ? "" : change.error().ToString()));
    FindingFilter filter;
    auto all = store->ListFindings(filter);
    REQUIRE(all.ok());
    return all->empty() ? 0 : all->front().id;
  }

  ApiResponse Call(std::string method, std::string path, std::string body = "",
                   std::string token = "dza_op") {
    ApiRequest request;
    request.method = std::move(method);
    const size_t question = path.find('?');
    request.path = path.substr(0, question);
    if (question != std::string::npos) {
      auto query = ParseQuery(path.substr(question + 1));
      REQUIRE(query.ok());
      request.query = std::move(query).value();
    }
    request.body = std::move(body);
    if (!token.empty()) {
      request.authorization = "Bearer " + token;
    }
    return api->Handle(request);
  }

  dozor::testing::TempDir dir;
  FakeClock clock{1'800'000'000'000};
  std::unique_ptr<SqliteStore> store;
  rules::RulePack pack;
  int64_t org_id = 0;
  int64_t host_pk = 0;
  int64_t evaluated_org = 0;
  std::unique_ptr<ApiService> api;
};

TEST_CASE("findings list shows active findings with title, host and parsed evidence") {
  FindingsApiFixture f;
  const int64_t id = f.Evaluate(true);
  REQUIRE(id > 0);
  auto listed = f.Call("GET", "/api/v1/findings", "", "dza_view");
  REQUIRE(listed.status == 200);
  REQUIRE(listed.body["findings"].size() == 1);
  const auto& finding = listed.body["findings"][0];
  CHECK(finding["id"] == id);
  CHECK(finding["rule_id"] == "disk-space-low");
  CHECK(finding["title"] == "Filesystem almost full");
  CHECK(finding["severity"] == "high");
  CHECK(finding["category"] == "hardware");
  CHECK(finding["state"] == "open");
  CHECK(finding["org"] == "ООО Ромашка");
  CHECK(finding["host"]["agent_id"] == "agent-1");
  CHECK(finding["host"]["hostname"] == "db1");
  CHECK(finding["evidence"][0]["mount"] == "/");
  CHECK(finding["first_seen_ms"] == f.clock.NowMs());
  CHECK(finding["first_seen"] == IsoUtc(f.clock.NowMs()));

  auto russian = f.Call("GET", "/api/v1/findings?lang=ru");
  CHECK(russian.body["findings"][0]["title"] == "Файловая система почти заполнена");
  CHECK(f.Call("GET", "/api/v1/findings?lang=de").status == 400);

  CHECK(f.Call("GET",
               "/api/v1/findings?org=%D0%9E%D0%9E%D0%9E+%D0%A0%D0%BE%D0%BC%D0%B0%D1%88%D0%BA%D0%B0")
            .body["findings"]
            .size() == 1);
  CHECK(f.Call("GET", "/api/v1/findings?org=nope").status == 404);
  CHECK(f.Call("GET", "/api/v1/findings?host=agent-1").body["findings"].size() == 1);
  CHECK(f.Call("GET", "/api/v1/findings?host=agent-2").body["findings"].empty());
  CHECK(f.Call("GET", "/api/v1/findings?severity=critical").body["findings"].empty());
  CHECK(f.Call("GET", "/api/v1/findings?severity=high,critical").body["findings"].size() == 1);
  CHECK(f.Call("GET", "/api/v1/findings?severity=huge").status == 400);
  CHECK(f.Call("GET", "/api/v1/findings?state=bogus").status == 400);
  CHECK(f.Call("GET", "/api/v1/findings?rule=other").body["findings"].empty());
  CHECK(f.Call("GET", "/api/v1/findings?limit=0").status == 400);
  CHECK(f.Call("GET", "/api/v1/findings", "", "").status == 401);

  // Resolved findings leave the default list but stay under state=all / state=resolved.
  f.clock.AdvanceMs(60'000);
  f.Evaluate(false);
  CHECK(f.Call("GET", "/api/v1/findings").body["findings"].empty());
  auto all = f.Call("GET", "/api/v1/findings?state=all");
  REQUIRE(all.body["findings"].size() == 1);
  CHECK(all.body["findings"][0]["state"] == "resolved");
  CHECK(f.Call("GET", "/api/v1/findings?state=resolved").body["findings"].size() == 1);
}

TEST_CASE("finding show carries events and the rule's why and remediation") {
  FindingsApiFixture f;
  const int64_t id = f.Evaluate(true);
  auto shown = f.Call("GET", "/api/v1/findings/" + std::to_string(id) + "?lang=ru", "", "dza_view");
  REQUIRE(shown.status == 200);
  CHECK(shown.body["finding"]["id"] == id);
  CHECK(shown.body["finding"]["state"] == "open");
  CHECK(shown.body["rule"]["why"] == "Службы останавливаются, когда диск заполнен.");
  CHECK(shown.body["rule"]["remediation"] == "Освободите место.");
  // The rule says effort = "1h" (the older spelling): hours as a number, and shown in the language.
  CHECK(shown.body["rule"]["effort_hours"] == 1.0);
  CHECK(shown.body["rule"]["effort"] == "1 ч");
  REQUIRE(shown.body["events"].size() == 1);
  CHECK(shown.body["events"][0]["kind"] == "opened");
  CHECK(f.Call("GET", "/api/v1/findings/999").status == 404);
  CHECK(f.Call("GET", "/api/v1/findings/abc").status == 400);
}

TEST_CASE("ack, waive, unwaive and comment record the caller and refuse bad moves") {
  FindingsApiFixture f;
  const int64_t id = f.Evaluate(true);
  const std::string base = "/api/v1/findings/" + std::to_string(id);

  auto forbidden = f.Call("POST", base + "/ack", R"({"comment":"x"})", "dza_view");
  CHECK(forbidden.status == 403);
  CHECK(f.Call("POST", base + "/ack", R"({"comment":"x"})", "").status == 401);
  CHECK(f.Call("POST", "/api/v1/findings/999/ack", "{}").status == 404);

  auto acked = f.Call("POST", base + "/ack", R"({"comment":"on it"})");
  REQUIRE_MESSAGE(acked.status == 200, acked.body.dump());
  CHECK(acked.body["state"] == "acknowledged");
  CHECK(acked.body["ack_by"] == "alice");
  CHECK(acked.body["ack_comment"] == "on it");
  auto again = f.Call("POST", base + "/ack", "{}");
  CHECK(again.status == 409);
  CHECK_FALSE(again.body["error"]["message"].get<std::string>().empty());

  CHECK(f.Call("POST", base + "/unwaive", "{}").status == 409);  // not waived

  CHECK(f.Call("POST", base + "/waive", R"({"until":"2099-01-01"})").status == 400);
  CHECK(f.Call("POST", base + "/waive", R"({"reason":"  "})").status == 400);
  auto past = f.Call("POST", base + "/waive", R"({"reason":"ok","until":"2020-01-01"})");
  CHECK(past.status == 400);
  CHECK(past.body["error"]["message"].get<std::string>().find("future") != std::string::npos);
  CHECK(f.Call("POST", base + "/waive", R"({"reason":"ok","until":"31.12.2099"})").status == 400);
  CHECK(f.Call("POST", base + "/waive", R"({"reason":"ok","until":true})").status == 400);

  auto waived = f.Call("POST", base + "/waive",
                       R"({"reason":"client accepts the risk","until":"2099-12-31"})");
  REQUIRE_MESSAGE(waived.status == 200, waived.body.dump());
  CHECK(waived.body["state"] == "waived");
  CHECK(waived.body["waived_by"] == "alice");
  CHECK(waived.body["waive_reason"] == "client accepts the risk");
  CHECK(waived.body["waived_until"] == "2100-01-01T00:00:00Z");  // through 31 Dec, UTC

  auto unwaived = f.Call("POST", base + "/unwaive", R"({"comment":"client changed mind"})");
  REQUIRE(unwaived.status == 200);
  CHECK(unwaived.body["state"] == "open");

  CHECK(f.Call("POST", base + "/comments", "{}").status == 400);
  CHECK(f.Call("POST", base + "/comments", "not json").status == 400);
  auto commented = f.Call("POST", base + "/comments", R"({"comment":"called the client"})");
  REQUIRE(commented.status == 200);

  auto shown = f.Call("GET", base);
  const auto& events = shown.body["events"];
  REQUIRE(events.size() == 5);
  CHECK(events[1]["kind"] == "acknowledged");
  CHECK(events[1]["actor"] == "alice");
  CHECK(events[2]["kind"] == "waived");
  CHECK(events[3]["kind"] == "unwaived");
  CHECK(events[4]["kind"] == "comment");
  CHECK(events[4]["comment"] == "called the client");
}

TEST_CASE("waive until accepts dates, RFC 3339 times and milliseconds") {
  CHECK(ParseWaiveUntil("2024-02-29").value() == 1'709'251'200'000);  // next midnight UTC
  CHECK(ParseWaiveUntil("2024-01-31T12:00:00Z").value() == 1'706'702'400'000);
  CHECK(ParseWaiveUntil("2024-01-31T15:00:00+03:00").value() == 1'706'702'400'000);
  CHECK(ParseWaiveUntil("2024-01-31T12:00:00.250Z").value() == 1'706'702'400'250);
  CHECK_FALSE(ParseWaiveUntil("2023-02-29").ok());
  CHECK_FALSE(ParseWaiveUntil("2024-13-01").ok());
  CHECK_FALSE(ParseWaiveUntil("2024-01-31T12:00:00").ok());  // no zone
  CHECK_FALSE(ParseWaiveUntil("2024-01-31T12:00:00Zjunk").ok());
  CHECK_FALSE(ParseWaiveUntil("").ok());

  FindingsApiFixture f;
  const int64_t id = f.Evaluate(true);
  const int64_t until = f.clock.NowMs() + 3'600'000;
  auto waived = f.Call("POST", "/api/v1/findings/" + std::to_string(id) + "/waive",
                       R"({"reason":"r","until":)" + std::to_string(until) + "}");
  REQUIRE(waived.status == 200);
  CHECK(waived.body["waived_until_ms"] == until);
}

TEST_CASE("contract moves go through the lifecycle with the caller as actor, bad moves are 409") {
  FindingsApiFixture f;
  f.Evaluate(true);
  const std::string org = "/api/v1/orgs/" + std::to_string(f.org_id);
  auto initial = f.Call("GET", org + "/contract", "", "dza_view");
  REQUIRE(initial.status == 200);
  CHECK(initial.body["status"] == "prospect");
  CHECK(initial.body["first_audit"].is_null());
  CHECK(initial.body["events"].empty());

  CHECK(f.Call("POST", org + "/contract", R"({"status":"active"})", "dza_view").status == 403);
  CHECK(f.Call("POST", org + "/contract", R"({"status":"bogus"})").status == 400);
  CHECK(f.Call("POST", org + "/contract", "{}").status == 400);
  CHECK(f.Call("POST", "/api/v1/orgs/nope/contract", R"({"status":"active"})").status == 404);
  auto refused = f.Call("POST", org + "/contract", R"({"status":"ended"})");
  CHECK(refused.status == 409);
  CHECK_FALSE(refused.body["error"]["message"].get<std::string>().empty());

  auto moved = f.Call("POST", org + "/contract", R"({"status":"remediation"})");
  REQUIRE_MESSAGE(moved.status == 200, moved.body.dump());
  CHECK(moved.body["status"] == "remediation");
  REQUIRE(moved.body["events"].size() == 1);
  CHECK(moved.body["events"][0]["from_status"] == "prospect");
  CHECK(moved.body["events"][0]["to_status"] == "remediation");
  CHECK(moved.body["events"][0]["actor"] == "alice");
  REQUIRE(moved.body["first_audit"].is_object());
  CHECK(moved.body["first_audit"]["finding_count"] == 1);
  CHECK(moved.body["first_audit"]["findings"][0]["rule_id"] == "disk-space-low");

  // PATCH still works and lands in the same history.
  auto patched = f.Call("PATCH", org, R"({"contract_status":"active"})");
  REQUIRE(patched.status == 200);
  CHECK(patched.body["contract_status"] == "active");
  CHECK(f.Call("PATCH", org, R"({"contract_status":"remediation"})").status == 409);
  auto after = f.Call("GET", org + "/contract");
  REQUIRE(after.body["events"].size() == 2);
  CHECK(after.body["events"][1]["actor"] == "alice");
  CHECK(after.body["signing"].is_object());
}

TEST_CASE("snapshots are recorded by hand and evaluation is requested through the context") {
  FindingsApiFixture f;
  f.Evaluate(true);
  const std::string org = "/api/v1/orgs/" + std::to_string(f.org_id);
  auto snapshot = f.Call("POST", org + "/snapshots", R"({"kind":"first-audit"})");
  REQUIRE_MESSAGE(snapshot.status == 201, snapshot.body.dump());
  CHECK(snapshot.body["kind"] == "first-audit");
  CHECK(snapshot.body["actor"] == "alice");
  CHECK(snapshot.body["finding_count"] == 1);
  CHECK(snapshot.body["by_severity"]["high"] == 1);
  CHECK(f.Call("POST", org + "/snapshots", R"({"kind":"other"})").status == 400);
  CHECK(f.Call("POST", org + "/snapshots", "{}", "dza_view").status == 403);

  auto evaluated = f.Call("POST", org + "/evaluate", "");
  CHECK(evaluated.status == 200);
  CHECK(f.evaluated_org == f.org_id);
  CHECK(f.Call("POST", org + "/evaluate", "", "dza_view").status == 403);
}

TEST_CASE("rules routes list the pack with load errors and show one rule, 503 without a pack") {
  FindingsApiFixture f;
  f.pack.errors.push_back(rules::RuleLoadError{"/etc/dozor/rules/bad.toml", 3, 7, "bad enum"});
  auto listed = f.Call("GET", "/api/v1/rules", "", "dza_view");
  REQUIRE(listed.status == 200);
  REQUIRE(listed.body["rules"].size() == 1);
  CHECK(listed.body["rules"][0]["id"] == "disk-space-low");
  CHECK(listed.body["rules"][0]["scope"] == "host");
  CHECK(listed.body["rules"][0]["contracts"].size() == 2);
  CHECK(listed.body["rules"][0]["enabled"] == true);
  REQUIRE(listed.body["errors"].size() == 1);
  CHECK(listed.body["errors"][0]["text"] == "/etc/dozor/rules/bad.toml:3:7: bad enum");

  auto shown = f.Call("GET", "/api/v1/rules/disk-space-low?lang=ru");
  REQUIRE(shown.status == 200);
  CHECK(shown.body["title"] == "Файловая система почти заполнена");
  CHECK(shown.body["params"]["fire_pct"] == 90);
  CHECK(shown.body["condition"].get<std::string>().find("health_fs") != std::string::npos);
  CHECK(f.Call("GET", "/api/v1/rules/nope").status == 404);

  ApiService bare(ApiContext{*f.store, nullptr, f.clock, "", 180});
  ApiRequest request;
  request.method = "GET";
  request.path = "/api/v1/rules";
  request.authorization = "Bearer dza_view";
  CHECK(bare.Handle(request).status == 503);
  request.method = "POST";
  request.path = "/api/v1/orgs/" + std::to_string(f.org_id) + "/evaluate";
  request.authorization = "Bearer dza_op";
  CHECK(bare.Handle(request).status == 503);
  // Findings still list without a pack, titled by rule id.
  f.Evaluate(true);
  request.method = "GET";
  request.path = "/api/v1/findings";
  auto untitled = bare.Handle(request);
  REQUIRE(untitled.status == 200);
  CHECK(untitled.body["findings"][0]["title"] == "disk-space-low");
}

}  // namespace
}  // namespace dozor::server::http
