// The paged list routes and the host search through ApiService over a real SQLite store: a
// walk over next_cursor visits every row once, each list's sort whitelist, and the 400s for a
// bad limit, sort or cursor (never a 500).
#include <doctest/doctest.h>

#include <memory>
#include <set>
#include <string>

#include "dozor/common/clock.hpp"
#include "dozor/common/crypto.hpp"
#include "http/api_service.hpp"
#include "server/http/api_request.hpp"
#include "server/test_store.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "test_util.hpp"

namespace dozor::server::http {
namespace {

struct Fixture {
  Fixture() {
    store = dozor::testing::OpenTestStore(dir);
    REQUIRE(store
                ->CreateApiToken("viewer", ApiRole::kViewer, Sha256Hex("dza_view"), "dza_view",
                                 std::nullopt)
                .ok());
    for (int o = 0; o < 3; ++o) {
      Organization org;
      org.name = "org-" + std::to_string(o);
      org.created_at_ms = clock.NowMs() + o;
      auto created = store->CreateOrganization(org);
      REQUIRE(created.ok());
      NewEnrollmentToken token;
      token.org_id = created->id;
      token.token_hash = Sha256Hex("dze_" + org.name);
      REQUIRE(store->CreateEnrollmentToken(token).ok());
      for (int h = 0; h < 9; ++h) {
        NewAgent agent;
        agent.agent_id = "agent-" + std::to_string(o) + "-" + std::to_string(h);
        agent.secret_hash = Sha256Hex("s");
        agent.hostname = "host-" + std::to_string(h) + "-" + std::to_string(o);
        REQUIRE(store->EnrollAgent(token.token_hash, agent, clock.NowMs()).ok());
        auto pk = store->HostPk(agent.agent_id);
        REQUIRE(pk.ok());
        EvaluationInput input;
        input.host_scope = true;
        input.rule_ids = {"rule-a", "rule-b"};
        input.targets = {*pk};
        input.meta["rule-a"] = RuleMeta{Severity::kHigh, "os"};
        input.meta["rule-b"] = RuleMeta{Severity::kLow, "os"};
        input.hits = {FindingHit{"rule-a", created->id, *pk, "[]", false},
                      FindingHit{"rule-b", created->id, *pk, "[]", false}};
        REQUIRE(store->ApplyEvaluation(input, clock.NowMs() + h).ok());
      }
    }
    ApiContext context{*store, nullptr, clock, "", 180};
    api = std::make_unique<ApiService>(std::move(context));
  }

  ApiResponse Get(const std::string& path) {
    ApiRequest request = dozor::testing::MakeApiRequest("GET", path, "dza_view");
    return api->Handle(request);
  }

  // Every row of a list walked by next_cursor, `limit` rows a page.
  std::vector<nlohmann::json> Walk(const std::string& path, const std::string& field,
                                   const std::string& params, int limit) {
    std::vector<nlohmann::json> rows;
    std::string cursor;
    for (int guard = 0; guard < 200; ++guard) {
      std::string url = path + "?limit=" + std::to_string(limit) + params;
      if (!cursor.empty()) url += "&cursor=" + cursor;
      auto page = Get(url);
      REQUIRE_MESSAGE(page.status == 200, page.body.dump());
      REQUIRE(page.body.contains("next_cursor"));
      for (const auto& row : page.body[field]) rows.push_back(row);
      if (page.body["next_cursor"].is_null()) return rows;
      cursor = page.body["next_cursor"].get<std::string>();
    }
    FAIL("paging did not end");
    return rows;
  }

  dozor::testing::TempDir dir;
  FakeClock clock{1'800'000'000'000};
  std::unique_ptr<SqliteStore> store;
  std::unique_ptr<ApiService> api;
};

TEST_CASE("each list walks by next_cursor in every sort order, every row once") {
  Fixture f;
  struct List {
    std::string path, field, key;
    std::vector<std::string> sorts;
    size_t rows;
  };
  const std::vector<List> lists = {
      {"/api/v1/orgs", "organizations", "id", {"name", "-name", "created", "-created"}, 3},
      {"/api/v1/hosts",
       "hosts",
       "agent_id",
       {"org", "-org", "hostname", "-hostname", "last_seen", "-last_seen"},
       27},
      {"/api/v1/findings",
       "findings",
       "id",
       {"severity", "-severity", "opened", "-opened", "last_seen", "-last_seen", "host", "-host"},
       54},
  };
  for (const auto& list : lists) {
    for (const auto& sort : list.sorts) {
      INFO(list.path << " sort=" << sort);
      auto rows = f.Walk(list.path, list.field, "&sort=" + sort, 4);
      CHECK(rows.size() == list.rows);
      std::set<std::string> keys;
      for (const auto& row : rows) keys.insert(row[list.key].dump());
      CHECK(keys.size() == list.rows);
    }
  }
  // Sorted as asked: hostnames descending.
  auto hosts = f.Walk("/api/v1/hosts", "hosts", "&sort=-hostname", 10);
  for (size_t i = 1; i < hosts.size(); ++i) {
    CHECK(hosts[i - 1]["hostname"].get<std::string>() >= hosts[i]["hostname"].get<std::string>());
  }
  // Filters combine with paging.
  auto high = f.Walk("/api/v1/findings", "findings", "&severity=high&org=org-1", 2);
  CHECK(high.size() == 9);
  auto some_hosts = f.Walk("/api/v1/hosts", "hosts", "&q=HOST-3", 2);
  CHECK(some_hosts.size() == 3);
  auto orgs = f.Walk("/api/v1/orgs", "organizations", "&q=org-2&contract_status=prospect", 1);
  CHECK(orgs.size() == 1);
}

TEST_CASE("bad limit, sort, cursor or filter is a 400 with a message, never a 500") {
  Fixture f;
  auto first = f.Get("/api/v1/findings?limit=2&sort=opened");
  REQUIRE(first.status == 200);
  const std::string cursor = first.body["next_cursor"].get<std::string>();
  const std::vector<std::string> bad = {
      "/api/v1/orgs?limit=0",
      "/api/v1/orgs?limit=1001",
      "/api/v1/orgs?sort=engineer",
      "/api/v1/orgs?contract_status=signed",
      "/api/v1/orgs?cursor=%21%21",
      "/api/v1/hosts?limit=x",
      "/api/v1/hosts?sort=-ip",
      "/api/v1/hosts?status=sleeping",
      "/api/v1/hosts?cursor=" + cursor,  // a findings cursor does not fit hosts' sort
      "/api/v1/findings?sort=-opened&cursor=" + cursor,  // another direction
      "/api/v1/findings?sort=host&cursor=" + cursor,
      "/api/v1/findings?sort=opened&cursor=" + cursor.substr(0, cursor.size() - 3),
      "/api/v1/findings?sort=opened&cursor=eyJzIjoib3BlbmVkIiwiayI6WyJ4Il0sImkiOjF9",
      "/api/v1/findings?limit=100000",
      "/api/v1/findings?since=-1",
      "/api/v1/search/hosts",
      "/api/v1/search/hosts?q=a",
      "/api/v1/search/hosts?q=web&limit=201",
      "/api/v1/search/hosts?q=" + std::string(201, 'x'),
  };
  for (const auto& path : bad) {
    INFO(path);
    auto response = f.Get(path);
    CHECK(response.status == 400);
    CHECK(response.body["error"]["code"] == "invalid_argument");
    CHECK_FALSE(response.body["error"]["message"].get<std::string>().empty());
  }
  auto sort_error = f.Get("/api/v1/findings?sort=rule");
  CHECK(sort_error.body["error"]["message"].get<std::string>().find(
            "severity, opened, last_seen, host") != std::string::npos);
  // The same cursor continues its own sort.
  auto second = f.Get("/api/v1/findings?limit=2&sort=opened&cursor=" + cursor);
  REQUIRE(second.status == 200);
  CHECK(second.body["findings"][0]["id"] != first.body["findings"][0]["id"]);
}

TEST_CASE("lists default to 100 rows a page and keep their old fields") {
  Fixture f;
  auto hosts = f.Get("/api/v1/hosts");
  REQUIRE(hosts.status == 200);
  CHECK(hosts.body["hosts"].size() == 27);
  CHECK(hosts.body["next_cursor"].is_null());
  CHECK(hosts.body["hosts"][0].contains("online"));
  auto findings = f.Get("/api/v1/findings?state=all");
  REQUIRE(findings.status == 200);
  CHECK(findings.body["findings"].size() == 54);
  // Most severe first by default, as before.
  CHECK(findings.body["findings"][0]["severity"] == "high");
  CHECK(findings.body["findings"][53]["severity"] == "low");
}

TEST_CASE("search says what matched") {
  Fixture f;
  auto found = f.Get("/api/v1/search/hosts?q=host-3-1");
  REQUIRE(found.status == 200);
  CHECK(found.body["q"] == "host-3-1");
  REQUIRE(found.body["hits"].size() == 1);
  CHECK(found.body["hits"][0]["host"]["agent_id"] == "agent-1-3");
  CHECK(found.body["hits"][0]["matches"][0] ==
        nlohmann::json{{"field", "hostname"}, {"value", "host-3-1"}});
  CHECK(found.body["truncated"] == false);
  auto capped = f.Get("/api/v1/search/hosts?q=host&limit=5");
  REQUIRE(capped.status == 200);
  CHECK(capped.body["hits"].size() == 5);
  CHECK(capped.body["truncated"] == true);
}

}  // namespace
}  // namespace dozor::server::http
