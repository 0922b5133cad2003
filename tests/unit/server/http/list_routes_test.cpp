// The paged list routes and the host search through ApiService over a real SQLite store: a
// walk over next_cursor visits every row once, each list's sort whitelist, and the 400s for a
// bad limit, sort or cursor (never a 500).
#include <doctest/doctest.h>

#include <map>
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
        input.hits = {FindingHit{"rule-a", created->id, *pk, "[]", false, ""},
                      FindingHit{"rule-b", created->id, *pk, "[]", false, ""}};
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

TEST_CASE("findings by category and engineer walk by cursor, with org, state and severity") {
  Fixture f;
  // A network rule fires on five hosts of org-1 and org-2; an engineer looks after org-1 (primary)
  // and org-2 (backup).
  std::map<std::string, int64_t> org_ids;
  for (const char* name : {"org-0", "org-1", "org-2"}) {
    auto org = f.store->FindOrganization(name);
    REQUIRE(org.ok());
    org_ids[name] = org->id;
  }
  for (const char* name : {"org-1", "org-2"}) {
    EvaluationInput input;
    input.host_scope = true;
    input.rule_ids = {"rule-c"};
    input.meta["rule-c"] = RuleMeta{Severity::kMedium, "network"};
    for (int h = 0; h < 5; ++h) {
      auto pk = f.store->HostPk("agent-" + std::string(name).substr(4) + "-" + std::to_string(h));
      REQUIRE(pk.ok());
      input.targets.push_back(*pk);
      input.hits.push_back(FindingHit{"rule-c", org_ids[name], *pk, "[]", false, ""});
    }
    REQUIRE(f.store->ApplyEvaluation(input, f.clock.NowMs() + 100).ok());
  }
  NewUser user;
  user.login = "ivanov";
  user.display_name = "Ivanov";
  user.role = UserRole::kEngineer;
  auto ivanov = f.store->CreateUser(user, f.clock.NowMs());
  REQUIRE(ivanov.ok());
  REQUIRE(f.store
              ->AssignEngineer(org_ids["org-1"], ivanov->id, AssignmentKind::kPrimary, "",
                               f.clock.NowMs())
              .ok());
  REQUIRE(f.store
              ->AssignEngineer(org_ids["org-2"], ivanov->id, AssignmentKind::kBackup, "",
                               f.clock.NowMs())
              .ok());

  struct Case {
    std::string params;
    size_t rows;
  };
  const std::vector<Case> cases = {
      {"&category=network", 10},
      {"&category=os", 54},
      {"&category=network,os", 64},
      {"&category=+network+,,", 10},
      {"&category=business-application", 0},
      {"&category=no-such-category", 0},
      {"&engineer=ivanov", 46},  // org-1 and org-2: 18 + 5 each
      {"&engineer=" + std::to_string(ivanov->id), 46},
      {"&engineer=ivanov&category=network", 10},
      {"&engineer=ivanov&category=network&org=org-2", 5},
      {"&engineer=ivanov&org=org-0", 0},
      {"&engineer=ivanov&severity=high", 18},
      {"&engineer=ivanov&severity=medium,low&category=network", 10},
      {"&engineer=ivanov&category=os&state=open,acknowledged", 36},
      {"&engineer=ivanov&state=resolved", 0},
      {"&engineer=nobody", 0},
      {"&engineer=nobody&category=network", 0},
  };
  for (const auto& c : cases) {
    for (const char* sort : {"severity", "-host", "opened", "-last_seen"}) {
      INFO(c.params << " sort=" << sort);
      auto rows = f.Walk("/api/v1/findings", "findings", c.params + "&sort=" + sort, 4);
      CHECK(rows.size() == c.rows);
      std::set<int64_t> ids;
      for (const auto& row : rows) {
        ids.insert(row["id"].get<int64_t>());
        if (c.params.find("category=network") != std::string::npos &&
            c.params.find("os") == std::string::npos) {
          CHECK(row["category"] == "network");
        }
        if (c.params.find("engineer=ivanov") != std::string::npos) {
          CHECK(row["org"] != "org-0");
        }
      }
      CHECK(ids.size() == rows.size());
    }
  }
  // The network findings resolve on org-1: state=all still finds them through both filters.
  EvaluationInput clear;
  clear.host_scope = true;
  clear.rule_ids = {"rule-c"};
  for (int h = 0; h < 5; ++h) {
    clear.targets.push_back(*f.store->HostPk("agent-1-" + std::to_string(h)));
  }
  REQUIRE(f.store->ApplyEvaluation(clear, f.clock.NowMs() + 200).ok());
  CHECK(f.Walk("/api/v1/findings", "findings", "&engineer=ivanov&category=network", 3).size() == 5);
  CHECK(
      f.Walk("/api/v1/findings", "findings", "&engineer=ivanov&category=network&state=resolved", 3)
          .size() == 5);
  CHECK(f.Walk("/api/v1/findings", "findings", "&engineer=ivanov&category=network&state=all", 3)
            .size() == 10);
}

TEST_CASE(
    "a findings category list over 32 items or 200 bytes an item, or a long engineer, is 400") {
  Fixture f;
  std::string many = "c0";
  for (int i = 1; i < 33; ++i) many += ",c" + std::to_string(i);
  std::string thirty_two = "c0";
  for (int i = 1; i < 32; ++i) thirty_two += ",c" + std::to_string(i);
  const std::vector<std::string> bad = {
      "/api/v1/findings?category=" + many,
      "/api/v1/findings?category=os," + std::string(201, 'x'),
      "/api/v1/findings?engineer=" + std::string(201, 'x'),
      "/api/v1/hosts?status=online,sleeping",
      "/api/v1/hosts?status=online,overdue,revoked," + many,
  };
  for (const auto& path : bad) {
    INFO(path);
    auto response = f.Get(path);
    CHECK(response.status == 400);
    CHECK(response.body["error"]["code"] == "invalid_argument");
    CHECK_FALSE(response.body["error"]["message"].get<std::string>().empty());
  }
  CHECK(f.Get("/api/v1/findings?category=" + thirty_two).status == 200);
  CHECK(f.Get("/api/v1/findings?category=" + std::string(200, 'x')).status == 200);
  CHECK(f.Get("/api/v1/findings?engineer=" + std::string(200, 'x')).status == 200);
}

// "overdue" in the host list is the overview's "overdue": the same hosts, at the same moment.
TEST_CASE("host status overdue and comma lists agree with the overview's host counts") {
  Fixture f;
  const int64_t now = f.clock.NowMs();
  // org-0: three online, three offline, one overdue by a day and a half, two never reported;
  // org-1 and org-2 never reported (all overdue); one of org-2's is revoked.
  const int64_t ages[] = {0, 1'000, 170'000, 181'000, 3'600'000, 23 * 3'600'000, 36 * 3'600'000};
  for (int h = 0; h < 7; ++h) {
    std::vector<IncomingReport> batch(1);
    batch[0].agent_id = "agent-0-" + std::to_string(h);
    batch[0].received_at_ms = now - ages[h];
    batch[0].report.set_seq(1);
    batch[0].report.set_collected_at_ms(now - ages[h]);
    batch[0].report.mutable_inventory();
    auto committed = f.store->CommitReports(batch);
    REQUIRE(committed.ok());
    REQUIRE(committed->at(0).outcome == CommitOutcome::kStored);
  }
  REQUIRE(f.store->RevokeAgent("agent-2-8", now).ok());
  auto count = [&](const std::string& params) {
    return f.Walk("/api/v1/hosts", "hosts", params, 5).size();
  };
  auto overview = f.Get("/api/v1/overview");
  REQUIRE(overview.status == 200);
  REQUIRE(overview.body["organizations"].size() == 3);
  size_t overdue_total = 0;
  for (const auto& org : overview.body["organizations"]) {
    const std::string name = org["name"].get<std::string>();
    INFO(name);
    const auto& hosts = org["hosts"];
    const std::string in_org = "&org=" + name;
    CHECK(count(in_org + "&status=online") == hosts["online"].get<size_t>());
    CHECK(count(in_org + "&status=overdue") == hosts["overdue"].get<size_t>());
    // "offline" keeps its meaning: every live host that is not online.
    CHECK(count(in_org + "&status=offline") == hosts["offline"].get<size_t>() +
                                                   hosts["overdue"].get<size_t>() +
                                                   hosts["imported"].get<size_t>());
    CHECK(count(in_org + "&status=online,overdue") ==
          hosts["online"].get<size_t>() + hosts["overdue"].get<size_t>());
    CHECK(count(in_org + "&status=offline,overdue") == count(in_org + "&status=offline"));
    CHECK(count(in_org + "&status=online,offline") == hosts["total"].get<size_t>());
    overdue_total += hosts["overdue"].get<size_t>();
  }
  const auto& org0 = overview.body["organizations"][0];
  REQUIRE(org0["name"] == "org-0");
  CHECK(org0["hosts"]["online"] == 3);
  CHECK(org0["hosts"]["offline"] == 3);
  CHECK(org0["hosts"]["overdue"] == 3);
  CHECK(overdue_total == 3 + 9 + 8);
  CHECK(count("&status=overdue") == overdue_total);
  CHECK(count("&status=overdue,revoked") == overdue_total + 1);
  CHECK(count("&status=revoked") == 1);
  CHECK(count("&status=online,offline,overdue,revoked") == 27);
  // Time moves on: the offline hosts of org-0 cross the day and become overdue in both.
  f.clock.AdvanceMs(24 * 3'600'000LL);
  CHECK(count("&org=org-0&status=overdue") == 9);
  CHECK(count("&org=org-0&status=online") == 0);
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
