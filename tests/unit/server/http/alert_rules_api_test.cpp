// An organisation's alert rules and maintenance windows through ApiService over a real SQLite
// store: /api/v1/orgs/{org}/alert-settings (defaults, a PUT round-trip, validation) and
// /api/v1/orgs/{org}/maintenance (one-off and weekly windows, whether each is on now, deletion),
// and who may read and change them.
#include <doctest/doctest.h>

#include <memory>
#include <string>

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

constexpr int64_t kMinuteMs = 60'000;
constexpr int64_t kHourMs = 60 * kMinuteMs;
// Friday 2027-01-15 08:00 UTC: 11:00 in Moscow, the default time zone.
constexpr int64_t kNowMs = 1'800'000'000'000;

struct AlertRulesFixture {
  AlertRulesFixture() {
    store = dozor::testing::OpenTestStore(dir);
    auto rule = rules::ParseRule(dozor::testing::kDiskSpaceLowRuleToml, "test:disk.toml");
    REQUIRE(rule.ok());
    pack.rules.push_back(std::move(rule).value());

    alpha_id = MakeOrg("Alpha", "agent-alpha", "db-alpha");
    beta_id = MakeOrg("Beta", "agent-beta", "db-beta");
    MakeUser("root", UserRole::kAdmin, std::nullopt, "dza_root", ApiRole::kAdmin);
    const int64_t eng =
        MakeUser("alpha-eng", UserRole::kEngineer, std::nullopt, "dza_eng", ApiRole::kAdmin);
    REQUIRE(store->AssignEngineer(alpha_id, eng, AssignmentKind::kPrimary, "", kNowMs).ok());
    REQUIRE(store
                ->CreateApiToken("eng-viewer", ApiRole::kViewer, Sha256Hex("dza_engview"),
                                 "dza_engview", std::nullopt, eng)
                .ok());
    const int64_t beta_eng =
        MakeUser("beta-eng", UserRole::kEngineer, std::nullopt, "dza_beta", ApiRole::kAdmin);
    REQUIRE(store->AssignEngineer(beta_id, beta_eng, AssignmentKind::kPrimary, "", kNowMs).ok());
    MakeUser("idle-eng", UserRole::kEngineer, std::nullopt, "dza_idle", ApiRole::kAdmin);
    MakeUser("alpha-client", UserRole::kClient, alpha_id, "dza_client", ApiRole::kAdmin);

    ApiContext context{.store = *store, .clock = clock};
    context.rules = &pack;
    api = std::make_unique<ApiService>(std::move(context));
  }

  int64_t MakeOrg(const std::string& name, const std::string& agent_id,
                  const std::string& hostname) {
    Organization org;
    org.name = name;
    org.created_at_ms = kNowMs;
    auto created = store->CreateOrganization(org);
    REQUIRE(created.ok());
    NewEnrollmentToken token;
    token.org_id = created->id;
    token.token_hash = Sha256Hex("dze_" + name);
    token.hint = "dze_" + name;
    REQUIRE(store->CreateEnrollmentToken(token).ok());
    NewAgent agent;
    agent.agent_id = agent_id;
    agent.secret_hash = Sha256Hex("s-" + name);
    agent.hostname = hostname;
    REQUIRE(store->EnrollAgent(token.token_hash, agent, kNowMs).ok());
    return created->id;
  }

  int64_t MakeUser(const std::string& login, UserRole role, std::optional<int64_t> org_id,
                   const std::string& token, ApiRole token_role) {
    NewUser user;
    user.login = login;
    user.display_name = login;
    user.role = role;
    user.org_id = org_id;
    auto created = store->CreateUser(user, kNowMs);
    REQUIRE_MESSAGE(created.ok(), (created.ok() ? "" : created.error().ToString()));
    REQUIRE(store
                ->CreateApiToken(login + "-token", token_role, Sha256Hex(token), token,
                                 std::nullopt, created->id)
                .ok());
    return created->id;
  }

  ApiResponse Call(const std::string& method, const std::string& path,
                   const std::string& token = "dza_root", std::string body = "") {
    ApiRequest request = dozor::testing::MakeApiRequest(method, path, token, std::move(body));
    return api->Handle(request);
  }
  ApiResponse Put(const std::string& body, const std::string& token = "dza_root") {
    return Call("PUT", "/api/v1/orgs/Alpha/alert-settings", token, body);
  }
  ApiResponse AddWindow(const nlohmann::json& body, const std::string& org = "Alpha",
                        const std::string& token = "dza_root") {
    return Call("POST", "/api/v1/orgs/" + org + "/maintenance", token, body.dump());
  }

  dozor::testing::TempDir dir;
  FakeClock clock{kNowMs};
  std::unique_ptr<SqliteStore> store;
  rules::RulePack pack;
  int64_t alpha_id = 0;
  int64_t beta_id = 0;
  std::unique_ptr<ApiService> api;
};

std::string CodeOf(const ApiResponse& response) {
  return response.body.contains("error") ? response.body["error"].value("code", "") : "";
}

std::string AlertRulesMessageOf(const ApiResponse& response) {
  return response.body.contains("error") ? response.body["error"].value("message", "") : "";
}

TEST_CASE("alert settings: an organisation never configured shows the defaults") {
  AlertRulesFixture f;
  auto shown = f.Call("GET", "/api/v1/orgs/Alpha/alert-settings");
  REQUIRE(shown.status == 200);
  CHECK(shown.body["org_id"] == f.alpha_id);
  CHECK(shown.body["time_zone"] == "Europe/Moscow");
  CHECK(shown.body["working_days"] == "mon-fri");
  CHECK(shown.body["working_hours"] == "09:00-18:00");
  CHECK(shown.body["after_hours"] == "all");
  CHECK(shown.body["min_severity"].is_null());
  CHECK(shown.body["server_grace_minutes"] == 0);
  CHECK(shown.body["rule_overrides"] == nlohmann::json::array());
  CHECK(shown.body["updated_at"].is_null());
  CHECK(shown.body["updated_at_ms"].is_null());
  CHECK(shown.body["updated_by"] == "");
  CHECK(f.Call("GET", "/api/v1/orgs/Nowhere/alert-settings").status == 404);
}

TEST_CASE("alert settings: a PUT is stored and read back, fields left out keep their value") {
  AlertRulesFixture f;
  auto stored = f.Put(R"({"time_zone":"Asia/Yekaterinburg","working_days":"mon-sat",
      "working_hours":"08:00-17:30","after_hours":"urgent","min_severity":"high",
      "server_grace_minutes":10,
      "rule_overrides":[{"rule_id":"disk-space-low","min_severity":"never"}]})",
                      "dza_eng");
  REQUIRE_MESSAGE(stored.status == 200, stored.body.dump());
  CHECK(stored.body["time_zone"] == "Asia/Yekaterinburg");
  CHECK(stored.body["working_days"] == "mon-sat");
  CHECK(stored.body["working_hours"] == "08:00-17:30");
  CHECK(stored.body["after_hours"] == "urgent");
  CHECK(stored.body["min_severity"] == "high");
  CHECK(stored.body["server_grace_minutes"] == 10);
  REQUIRE(stored.body["rule_overrides"].size() == 1);
  CHECK(stored.body["rule_overrides"][0]["rule_id"] == "disk-space-low");
  CHECK(stored.body["rule_overrides"][0]["min_severity"] == "never");
  CHECK(stored.body["updated_by"] == "alpha-eng");
  CHECK(stored.body["updated_at_ms"] == kNowMs);

  auto shown = f.Call("GET", "/api/v1/orgs/" + std::to_string(f.alpha_id) + "/alert-settings");
  REQUIRE(shown.status == 200);
  CHECK(shown.body == stored.body);

  // Only after_hours and the end of the day change; an override to a severity replaces the list.
  f.clock.AdvanceMs(kMinuteMs);
  auto changed = f.Put(R"({"after_hours":"none","working_hours":"20:00-24:00",
      "rule_overrides":[{"rule_id":"disk-space-low","min_severity":"critical"}]})");
  REQUIRE_MESSAGE(changed.status == 200, changed.body.dump());
  CHECK(changed.body["after_hours"] == "none");
  CHECK(changed.body["working_hours"] == "20:00-24:00");
  CHECK(changed.body["time_zone"] == "Asia/Yekaterinburg");
  CHECK(changed.body["working_days"] == "mon-sat");
  CHECK(changed.body["min_severity"] == "high");
  CHECK(changed.body["server_grace_minutes"] == 10);
  CHECK(changed.body["rule_overrides"][0]["min_severity"] == "critical");
  CHECK(changed.body["updated_by"] == "root");
  CHECK(changed.body["updated_at_ms"] == kNowMs + kMinuteMs);

  // null: the server's threshold again; an empty list drops the overrides.
  auto cleared = f.Put(R"({"min_severity":null,"rule_overrides":[],"working_days":"all"})");
  REQUIRE(cleared.status == 200);
  CHECK(cleared.body["min_severity"].is_null());
  CHECK(cleared.body["rule_overrides"].empty());
  CHECK(cleared.body["working_days"] == "all");
  CHECK(f.Put("{}").status == 200);  // nothing to change is fine

  // The change is in the audit log, naming the organisation.
  auto log = f.Call("GET", "/api/v1/audit-log?action=PUT");
  REQUIRE(log.status == 200);
  REQUIRE(log.body["entries"].size() == 4);
  CHECK(log.body["entries"][3]["action"] == "PUT /api/v1/orgs/{org}/alert-settings");
  CHECK(log.body["entries"][3]["actor"] == "alpha-eng");
  CHECK(log.body["entries"][3]["org_id"] == f.alpha_id);
}

TEST_CASE("alert settings: a bad value is a 400 with the reason, and nothing is stored") {
  AlertRulesFixture f;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"working_hours":"9-18"})", "09:00-18:00"},
      {R"({"working_hours":"22:00-07:00"})", "end on the day"},
      {R"({"working_days":"weekdays"})", "mon-fri"},
      {R"({"time_zone":"Mars/Olympus_Mons"})", "Mars/Olympus_Mons"},
      {R"({"time_zone":7})", "time_zone"},
      {R"({"time_zone":" "})", "time_zone"},
      {R"({"after_hours":"sometimes"})", "all, urgent, none"},
      {R"({"min_severity":"urgent"})", "critical, high"},
      {R"({"server_grace_minutes":5000})", "server_grace_minutes"},
      {R"({"server_grace_minutes":"10"})", "server_grace_minutes"},
      {R"({"colour":"red"})", "'colour'"},
      {R"({"org_id":2})", "'org_id'"},
      {R"({"rule_overrides":{"disk-space-low":"never"}})", "rule_overrides"},
      {R"({"rule_overrides":[{"rule_id":"no-such-rule","min_severity":"high"}]})",
       "no rule 'no-such-rule'"},
      {R"({"rule_overrides":[{"rule_id":"disk-space-low","min_severity":"loud"}]})", "never"},
      {R"({"rule_overrides":[{"rule_id":"disk-space-low"}]})", "needs min_severity"},
      {R"({"rule_overrides":[{"rule_id":"disk-space-low","min_severity":"high","x":1}]})", "'x'"},
      {R"({"rule_overrides":[{"rule_id":"disk-space-low","min_severity":"high"},
           {"rule_id":"disk-space-low","min_severity":"low"}]})",
       "twice"},
      {"[1]", ""},
      {"not json", ""},
  };
  for (const auto& [body, words] : cases) {
    INFO(body);
    auto refused = f.Put(body);
    CHECK(refused.status == 400);
    CHECK(CodeOf(refused) == "invalid_argument");
    CHECK(AlertRulesMessageOf(refused).find(words) != std::string::npos);
  }
  auto shown = f.Call("GET", "/api/v1/orgs/Alpha/alert-settings");
  REQUIRE(shown.status == 200);
  CHECK(shown.body["updated_at"].is_null());
  CHECK(shown.body["working_hours"] == "09:00-18:00");
}

TEST_CASE("maintenance: one-off and weekly windows, which are on now, and deleting one") {
  AlertRulesFixture f;
  auto empty = f.Call("GET", "/api/v1/orgs/Alpha/maintenance");
  REQUIRE(empty.status == 200);
  CHECK(empty.body["windows"] == nlohmann::json::array());
  CHECK(empty.body["time_zone"] == "Europe/Moscow");

  // Covers now: an RFC 3339 start and a start in Unix ms.
  auto now_on = f.AddWindow({{"starts_at", IsoUtc(kNowMs - kHourMs)},
                             {"ends_at", kNowMs + kHourMs},
                             {"reason", "  disk replacement  "}},
                            "Alpha", "dza_eng");
  REQUIRE_MESSAGE(now_on.status == 201, now_on.body.dump());
  CHECK(now_on.body["kind"] == "one-off");
  CHECK(now_on.body["org_id"] == f.alpha_id);
  CHECK(now_on.body["agent_id"].is_null());
  CHECK(now_on.body["hostname"].is_null());
  CHECK(now_on.body["starts_at_ms"] == kNowMs - kHourMs);
  CHECK(now_on.body["ends_at"] == IsoUtc(kNowMs + kHourMs));
  CHECK(now_on.body["weekdays"].is_null());
  CHECK(now_on.body["start"].is_null());
  CHECK(now_on.body["duration_minutes"].is_null());
  CHECK(now_on.body["reason"] == "disk replacement");
  CHECK(now_on.body["created_by"] == "alpha-eng");
  CHECK(now_on.body["created_at_ms"] == kNowMs);
  CHECK(now_on.body["active_now"] == true);
  CHECK(now_on.body["active_until_ms"] == kNowMs + kHourMs);

  // Tomorrow, for one host, with a +03:00 offset.
  auto later = f.AddWindow({{"starts_at", "2027-01-16T11:00:00+03:00"},
                            {"ends_at", "2027-01-16T13:00:00+03:00"},
                            {"agent_id", "agent-alpha"}});
  REQUIRE_MESSAGE(later.status == 201, later.body.dump());
  CHECK(later.body["starts_at_ms"] == kNowMs + 24 * kHourMs);
  CHECK(later.body["agent_id"] == "agent-alpha");
  CHECK(later.body["hostname"] == "db-alpha");
  CHECK(later.body["active_now"] == false);
  CHECK(later.body["active_until"].is_null());

  // Weekly in Moscow time: Friday 10:00 for two hours is on at 11:00 until 12:00 (09:00 UTC).
  auto friday = f.AddWindow({{"weekdays", "fri"}, {"start", "10:00"}, {"duration_minutes", 120}});
  REQUIRE_MESSAGE(friday.status == 201, friday.body.dump());
  CHECK(friday.body["kind"] == "weekly");
  CHECK(friday.body["weekdays"] == "fri");
  CHECK(friday.body["start"] == "10:00");
  CHECK(friday.body["duration_minutes"] == 120);
  CHECK(friday.body["starts_at"].is_null());
  CHECK(friday.body["active_now"] == true);
  CHECK(friday.body["active_until_ms"] == kNowMs + kHourMs);
  auto weekend =
      f.AddWindow({{"weekdays", "sat-sun"}, {"start", "22:00"}, {"duration_minutes", 240}});
  REQUIRE(weekend.status == 201);
  CHECK(weekend.body["weekdays"] == "sat-sun");
  CHECK(weekend.body["active_now"] == false);

  auto listed = f.Call("GET", "/api/v1/orgs/Alpha/maintenance", "dza_engview");
  REQUIRE(listed.status == 200);
  const auto& windows = listed.body["windows"];
  REQUIRE(windows.size() == 4);
  CHECK(windows[0]["id"] == now_on.body["id"]);
  CHECK(windows[0]["active_now"] == true);
  CHECK(windows[1]["active_now"] == false);
  CHECK(windows[1]["hostname"] == "db-alpha");
  CHECK(windows[2]["active_now"] == true);
  CHECK(windows[3]["active_now"] == false);

  // The organisation's time zone decides a weekly window: in Vladivostok (UTC+10) it is 18:00.
  REQUIRE(f.Put(R"({"time_zone":"Asia/Vladivostok"})").status == 200);
  auto elsewhere = f.Call("GET", "/api/v1/orgs/Alpha/maintenance");
  REQUIRE(elsewhere.status == 200);
  CHECK(elsewhere.body["windows"][2]["active_now"] == false);
  CHECK(elsewhere.body["windows"][0]["active_now"] == true);  // a one-off is absolute

  // Two hours on, the first window has ended.
  f.clock.AdvanceMs(2 * kHourMs);
  auto after = f.Call("GET", "/api/v1/orgs/Alpha/maintenance");
  CHECK(after.body["windows"][0]["active_now"] == false);

  const std::string first =
      "/api/v1/orgs/Alpha/maintenance/" + std::to_string(now_on.body["id"].get<int64_t>());
  auto deleted = f.Call("DELETE", first, "dza_eng");
  REQUIRE(deleted.status == 200);
  CHECK(deleted.body["deleted"] == true);
  CHECK(deleted.body["id"] == now_on.body["id"]);
  CHECK(f.Call("GET", "/api/v1/orgs/Alpha/maintenance").body["windows"].size() == 3);
  auto again = f.Call("DELETE", first);
  CHECK(again.status == 404);
  CHECK(CodeOf(again) == "not_found");
  CHECK(f.Call("DELETE", "/api/v1/orgs/Alpha/maintenance/x").status == 400);
}

TEST_CASE("maintenance: a bad window is a 400 with the reason, and nothing is added") {
  AlertRulesFixture f;
  const int64_t tomorrow = kNowMs + 24 * kHourMs;
  const std::vector<std::pair<nlohmann::json, std::string>> cases = {
      {nlohmann::json::object(), "give starts_at and ends_at"},
      {{{"starts_at", tomorrow}}, "both starts_at and ends_at"},
      {{{"starts_at", tomorrow}, {"ends_at", tomorrow - kHourMs}}, "after starts_at"},
      {{{"starts_at", kNowMs - 2 * kHourMs}, {"ends_at", kNowMs - kHourMs}}, "ended already"},
      {{{"starts_at", "2027-01-16"}, {"ends_at", tomorrow + kHourMs}}, "RFC 3339"},
      {{{"starts_at", "tomorrow"}, {"ends_at", tomorrow + kHourMs}}, "RFC 3339"},
      {{{"starts_at", tomorrow}, {"ends_at", tomorrow + kHourMs}, {"weekdays", "sat"}}, "not both"},
      {{{"weekdays", "sat"}, {"start", "22:00"}}, "duration_minutes"},
      {{{"weekdays", "caturday"}, {"start", "22:00"}, {"duration_minutes", 60}}, "mon-fri"},
      {{{"weekdays", "sat"}, {"start", "25:00"}, {"duration_minutes", 60}}, "22:00"},
      {{{"weekdays", "sat"}, {"start", "22:00"}, {"duration_minutes", 0}}, "duration_minutes"},
      {{{"weekdays", "sat"},
        {"start", "22:00"},
        {"duration_minutes", 60},
        {"agent_id", "agent-beta"}},
       "not in this organisation"},
      {{{"weekdays", "sat"},
        {"start", "22:00"},
        {"duration_minutes", 60},
        {"reason", std::string(501, 'x')}},
       "reason"},
      {{{"weekdays", "sat"}, {"start", "22:00"}, {"duration_minutes", 60}, {"hours", 2}},
       "'hours'"},
  };
  for (const auto& [body, words] : cases) {
    INFO(body.dump());
    auto refused = f.AddWindow(body);
    CHECK(refused.status == 400);
    CHECK(CodeOf(refused) == "invalid_argument");
    CHECK(AlertRulesMessageOf(refused).find(words) != std::string::npos);
  }
  CHECK(f.Call("GET", "/api/v1/orgs/Alpha/maintenance").body["windows"].empty());
}

TEST_CASE("maintenance: another organisation's window is not found and stays") {
  AlertRulesFixture f;
  auto beta = f.AddWindow({{"weekdays", "sat"}, {"start", "22:00"}, {"duration_minutes", 60}},
                          "Beta", "dza_beta");
  REQUIRE(beta.status == 201);
  const std::string id = std::to_string(beta.body["id"].get<int64_t>());
  // Through Alpha's path, even for an admin: the window is not Alpha's.
  auto through_alpha = f.Call("DELETE", "/api/v1/orgs/Alpha/maintenance/" + id);
  CHECK(through_alpha.status == 404);
  auto through_alpha_eng = f.Call("DELETE", "/api/v1/orgs/Alpha/maintenance/" + id, "dza_eng");
  CHECK(through_alpha_eng.status == 404);
  // Through Beta's path by Alpha's engineer: Beta is outside their scope, worded as no such org.
  auto out_of_scope = f.Call("DELETE", "/api/v1/orgs/Beta/maintenance/" + id, "dza_eng");
  CHECK(out_of_scope.status == 404);
  auto missing = f.Call("DELETE", "/api/v1/orgs/999999/maintenance/" + id, "dza_eng");
  CHECK(missing.status == 404);
  CHECK(f.Call("GET", "/api/v1/orgs/Beta/maintenance", "dza_eng").status == 404);
  CHECK(f.Call("GET", "/api/v1/orgs/Alpha/maintenance", "dza_eng").body["windows"].empty());
  CHECK(f.Call("GET", "/api/v1/orgs/Beta/maintenance", "dza_beta").body["windows"].size() == 1);
}

TEST_CASE("alert rules: clients, unassigned engineers and viewer tokens are refused") {
  AlertRulesFixture f;
  const nlohmann::json weekly = {{"weekdays", "sat"}, {"start", "22:00"}, {"duration_minutes", 60}};
  // A client of the organisation: staff only, even to read.
  CHECK(f.Call("GET", "/api/v1/orgs/Alpha/alert-settings", "dza_client").status == 403);
  CHECK(f.Put(R"({"after_hours":"none"})", "dza_client").status == 403);
  CHECK(f.Call("GET", "/api/v1/orgs/Alpha/maintenance", "dza_client").status == 403);
  CHECK(f.AddWindow(weekly, "Alpha", "dza_client").status == 403);
  // An engineer not assigned to it, and the other organisation's engineer: as if it did not exist.
  for (const std::string token : {"dza_idle", "dza_beta"}) {
    INFO(token);
    auto hidden = f.Call("GET", "/api/v1/orgs/Alpha/alert-settings", token);
    CHECK(hidden.status == 404);
    // Worded as for an organisation that does not exist, the name aside.
    std::string missing =
        AlertRulesMessageOf(f.Call("GET", "/api/v1/orgs/Gamma/alert-settings", token));
    missing.replace(missing.find("Gamma"), 5, "Alpha");
    CHECK(AlertRulesMessageOf(hidden) == missing);
    CHECK(f.Put(R"({"after_hours":"none"})", token).status == 404);
    CHECK(f.Call("GET", "/api/v1/orgs/Alpha/maintenance", token).status == 404);
    CHECK(f.AddWindow(weekly, "Alpha", token).status == 404);
  }
  // The assigned engineer's viewer token reads but does not change.
  CHECK(f.Call("GET", "/api/v1/orgs/Alpha/alert-settings", "dza_engview").status == 200);
  CHECK(f.Put(R"({"after_hours":"none"})", "dza_engview").status == 403);
  CHECK(f.AddWindow(weekly, "Alpha", "dza_engview").status == 403);
  // Nothing changed.
  auto shown = f.Call("GET", "/api/v1/orgs/Alpha/alert-settings");
  CHECK(shown.body["after_hours"] == "all");
  CHECK(f.Call("GET", "/api/v1/orgs/Alpha/maintenance").body["windows"].empty());
}

}  // namespace
}  // namespace dozor::server::http
