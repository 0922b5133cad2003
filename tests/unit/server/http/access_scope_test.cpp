// Per-client access through ApiService over a real SQLite store: the whole route table is walked
// for every role against its own and another organisation's objects, and nothing of the other
// organisation may show (a 404 worded exactly as for an object that does not exist, or a 403 the
// role gets anyway). Plus what each role may do, and the audit log of the walk.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <regex>
#include <set>
#include <string>
#include <thread>

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

// The test rule every HTTP test of findings uses (server/http/disk_rule.hpp).
constexpr const char* kRuleToml = dozor::testing::kDiskSpaceLowRuleToml;

// Everything of the "other" organisation carries this marker in its names, so a leak through any
// listing, search or report shows as the marker in a response body.
constexpr char kSecret[] = "zz-beta-secret";

struct OrgObjects {
  int64_t org_id = 0;
  std::string org_name;
  std::string agent_id;
  int64_t host_pk = 0;
  int64_t finding_id = 0;
  int64_t enrollment_token_id = 0;
  int64_t engineer_user_id = 0;
  int64_t client_user_id = 0;
  int64_t engineer_api_token_id = 0;
  int64_t alert_id = 0;
};

struct Fixture {
  Fixture() {
    store = dozor::testing::OpenTestStore(dir);
    auto rule = rules::ParseRule(kRuleToml, "test:disk-space-low.toml");
    REQUIRE(rule.ok());
    pack.rules.push_back(std::move(rule).value());

    alpha = MakeOrg("Alpha", "agent-alpha", "alpha");
    // The other organisation's agent id is not secret-marked: a 404 echoes the id the caller
    // asked for, which is no leak; its hostname, name and evidence are.
    beta = MakeOrg(std::string("Beta ") + kSecret, "agent-beta", "beta");
    Evaluate();
    // One alert per organisation, its summary and message marked like the rest of its data.
    for (OrgObjects* objects : {&alpha, &beta}) {
      NewAlert alert;
      alert.event_id = objects->finding_id;
      alert.kind = "finding_opened";
      alert.org_id = objects->org_id;
      alert.finding_id = objects->finding_id;
      alert.agent_id = objects->agent_id;
      alert.severity = "high";
      alert.summary = "disk-space-low on " + objects->org_name;
      NewDelivery mail;
      mail.user_id = objects->engineer_user_id;
      mail.address = "eng@" + objects->agent_id + ".example";
      mail.language = "en";
      mail.idempotency_key = "key-" + objects->agent_id;
      mail.payload = "Subject: " + objects->org_name;
      alert.deliveries.push_back(mail);
      REQUIRE(store->RecordAlerts({alert}, {}, 0, clock.NowMs()).ok());
      AlertFilter of_org;
      of_org.org_id = objects->org_id;
      auto listed = store->ListAlerts(of_org);
      REQUIRE(listed.ok());
      REQUIRE(listed->size() == 1);
      objects->alert_id = listed->front().id;
    }

    NewUser admin;
    admin.login = "root";
    admin.display_name = "Admin";
    admin.role = UserRole::kAdmin;
    auto created = store->CreateUser(admin, clock.NowMs());
    REQUIRE(created.ok());
    admin_user_id = created->id;
    REQUIRE(store
                ->CreateApiToken("root-token", ApiRole::kAdmin, Sha256Hex("dza_root"), "dza_root",
                                 std::nullopt, admin_user_id)
                .ok());
    REQUIRE(store
                ->CreateApiToken("eng-viewer", ApiRole::kViewer, Sha256Hex("dza_engview"),
                                 "dza_engview", std::nullopt, alpha.engineer_user_id)
                .ok());

    ApiContext context{.store = *store, .clock = clock};
    context.rules = &pack;
    context.evaluate_now = [](int64_t) { return OkStatus(); };
    api = std::make_unique<ApiService>(std::move(context));
  }

  OrgObjects MakeOrg(const std::string& name, const std::string& agent_id,
                     const std::string& prefix) {
    OrgObjects out;
    Organization org;
    org.name = name;
    org.contract_type = ContractType::kComplex;
    auto created = store->CreateOrganization(org);
    REQUIRE(created.ok());
    out.org_id = created->id;
    out.org_name = name;
    out.agent_id = agent_id;
    NewEnrollmentToken token;
    token.org_id = out.org_id;
    token.token_hash = Sha256Hex("dze_" + prefix);
    token.hint = "dze_" + prefix;
    token.label = "label of " + name;
    auto made_token = store->CreateEnrollmentToken(token);
    REQUIRE(made_token.ok());
    out.enrollment_token_id = made_token->id;
    NewAgent agent;
    agent.agent_id = agent_id;
    agent.secret_hash = Sha256Hex("s-" + prefix);
    agent.hostname = "host of " + name;
    REQUIRE(store->EnrollAgent(token.token_hash, agent, clock.NowMs()).ok());
    auto pk = store->HostPk(agent_id);
    REQUIRE(pk.ok());
    out.host_pk = *pk;

    NewUser engineer;
    engineer.login = prefix + "-eng";
    engineer.display_name = "Engineer of " + name;
    engineer.role = UserRole::kEngineer;
    auto eng = store->CreateUser(engineer, clock.NowMs());
    REQUIRE_MESSAGE(eng.ok(), (eng.ok() ? "" : eng.error().ToString()));
    out.engineer_user_id = eng->id;
    REQUIRE(
        store->AssignEngineer(out.org_id, eng->id, AssignmentKind::kPrimary, "1C", clock.NowMs())
            .ok());
    auto eng_token = store->CreateApiToken(prefix + "-eng-token", ApiRole::kAdmin,
                                           Sha256Hex("dza_" + prefix + "_eng"), "dza_" + prefix,
                                           std::nullopt, eng->id);
    REQUIRE(eng_token.ok());
    out.engineer_api_token_id = eng_token->id;

    NewUser client;
    client.login = prefix + "-client";
    client.display_name = "Sysadmin of " + name;
    client.role = UserRole::kClient;
    client.org_id = out.org_id;
    auto cli = store->CreateUser(client, clock.NowMs());
    REQUIRE(cli.ok());
    out.client_user_id = cli->id;
    REQUIRE(store
                ->CreateApiToken(prefix + "-client-token", ApiRole::kAdmin,
                                 Sha256Hex("dza_" + prefix + "_client"), "dza_c" + prefix,
                                 std::nullopt, cli->id)
                .ok());
    REQUIRE(store
                ->SaveOrgNote(out.org_id, "call before 10:00 " + name, eng->id, engineer.login,
                              clock.NowMs())
                .ok());
    return out;
  }

  void Evaluate() {
    EvaluationInput input;
    input.host_scope = true;
    input.rule_ids = {"disk-space-low"};
    input.targets = {alpha.host_pk, beta.host_pk};
    input.meta["disk-space-low"] = RuleMeta{Severity::kHigh, "hardware"};
    input.hits.push_back(FindingHit{"disk-space-low", alpha.org_id, alpha.host_pk,
                                    R"([{"mount":"/alpha","used_pct":95.5}])", false, ""});
    input.hits.push_back(
        FindingHit{"disk-space-low", beta.org_id, beta.host_pk,
                   std::string(R"([{"mount":"/)") + kSecret + R"(","used_pct":97}])", false, ""});
    REQUIRE(store->ApplyEvaluation(input, clock.NowMs()).ok());
    auto all = store->ListFindings(FindingFilter{});
    REQUIRE(all.ok());
    REQUIRE(all->size() == 2);
    for (const auto& finding : *all) {
      (finding.org_id == alpha.org_id ? alpha : beta).finding_id = finding.id;
    }
  }

  ApiResponse Call(const std::string& method, const std::string& path, const std::string& token,
                   std::string body = "{}") {
    ApiRequest request = dozor::testing::MakeApiRequest(method, path, token, std::move(body));
    return api->Handle(request);
  }

  // The route's path with its parameters pointing at `objects` (or at nothing, with `missing`).
  static std::string PathFor(const Route& route, const OrgObjects& objects, bool missing) {
    std::string path;
    for (const auto& segment : route.segments) {
      path += "/";
      if (segment == "{org}") {
        path += missing ? "999999" : std::to_string(objects.org_id);
      } else if (segment == "{agent_id}") {
        path += missing ? "agent-none" : objects.agent_id;
      } else if (segment == "{user}") {
        path += std::to_string(objects.engineer_user_id);
      } else if (segment == "{file}") {
        path += "dozor-agent.deb";
      } else if (segment == "{id}") {
        int64_t id = 0;
        switch (route.scope.kind) {
          case ScopeKind::kFinding:
            id = objects.finding_id;
            break;
          case ScopeKind::kEnrollmentToken:
            id = objects.enrollment_token_id;
            break;
          case ScopeKind::kApiToken:
            id = objects.engineer_api_token_id;
            break;
          case ScopeKind::kAlert:
            id = objects.alert_id;
            break;
          default:
            id = 1;
            break;  // rules are global: any id
        }
        path += missing ? "999999" : std::to_string(id);
      } else {
        path += segment;
      }
    }
    return path;
  }

  dozor::testing::TempDir dir;
  FakeClock clock{1'800'000'000'000};
  std::unique_ptr<SqliteStore> store;
  rules::RulePack pack;
  OrgObjects alpha, beta;
  int64_t admin_user_id = 0;
  std::unique_ptr<ApiService> api;
};

std::string MessageOf(const ApiResponse& response) {
  if (response.body.contains("error") && response.body["error"].contains("message")) {
    return response.body["error"]["message"].get<std::string>();
  }
  return {};
}

std::string BodyText(const ApiResponse& response) {
  return response.raw_body ? *response.raw_body : response.body.dump();
}

bool IsScopedByParam(ScopeKind kind) {
  return kind == ScopeKind::kOrg || kind == ScopeKind::kHost || kind == ScopeKind::kFinding ||
         kind == ScopeKind::kEnrollmentToken || kind == ScopeKind::kApiToken ||
         kind == ScopeKind::kAlert;
}

TEST_CASE("every route declares a scope that matches its path") {
  Fixture f;
  const auto& routes = f.api->router().routes();
  REQUIRE(routes.size() > 40);
  for (const auto& route : routes) {
    INFO(route.method << " " << route.pattern);
    CHECK((route.access == Access::kPublic) == (route.scope.kind == ScopeKind::kPublic));
    // A route naming an organisation's object in its path must be scoped by it: a path
    // parameter other than {user}, {file}, the rules' {id} and one's own {session} (the store
    // looks it up within the caller's account) on a kCaller route is a leak.
    for (const auto& segment : route.segments) {
      if (segment == "{org}" || segment == "{agent_id}") {
        CHECK(IsScopedByParam(route.scope.kind));
      }
      if (segment == "{id}" && route.pattern.rfind("/api/v1/rules/", 0) != 0) {
        CHECK(IsScopedByParam(route.scope.kind));
      }
      if (segment == "{session}") {
        CHECK(route.pattern.rfind("/api/v1/me/", 0) == 0);
      }
    }
  }
}

TEST_CASE("the route table x every role x own and other organisation: nothing of the other shows") {
  Fixture f;
  struct Role {
    std::string name;
    std::string token;
  };
  const std::vector<Role> roles = {{"engineer", "dza_alpha_eng"},
                                   {"client", "dza_alpha_client"},
                                   {"engineer-viewer-token", "dza_engview"}};
  int checked = 0;
  for (const auto& route : f.api->router().routes()) {
    if (route.access == Access::kPublic) continue;
    for (const auto& role : roles) {
      INFO(role.name << ": " << route.method << " " << route.pattern);
      // The other organisation's object.
      const std::string other = Fixture::PathFor(route, f.beta, false);
      ApiResponse response = f.Call(route.method, other, role.token);
      CHECK(BodyText(response).find(kSecret) == std::string::npos);
      if (IsScopedByParam(route.scope.kind)) {
        // Exactly what an object that does not exist gets (403 when the role may not call the
        // route at all: that answer names no object either).
        const ApiResponse missing =
            f.Call(route.method, Fixture::PathFor(route, f.beta, true), role.token);
        CHECK((response.status == 404 || response.status == 403));
        CHECK(response.status == missing.status);
        if (response.status == 404) {
          std::string words = MessageOf(response);
          std::string missing_words = MessageOf(missing);
          // Only the key differs ("host 'agent-x' not found" vs "host 'agent-none' not found").
          words = std::regex_replace(words, std::regex("'[^']*'|[0-9]+"), "K");
          missing_words = std::regex_replace(missing_words, std::regex("'[^']*'|[0-9]+"), "K");
          CHECK(words == missing_words);
        }
      }
      // Listings filtered by another organisation: refused like an unknown organisation.
      if (route.scope.kind == ScopeKind::kList && route.method == "GET") {
        const ApiResponse filtered =
            f.Call("GET", other + "?org=" + std::to_string(f.beta.org_id), role.token);
        CHECK(BodyText(filtered).find(kSecret) == std::string::npos);
        static const std::set<std::string> kOrgFiltered = {"/api/v1/hosts", "/api/v1/findings",
                                                           "/api/v1/tokens"};
        if (kOrgFiltered.count(route.pattern) != 0) {
          CHECK((filtered.status == 404 || filtered.status == 403));
        }
      }
      ++checked;
    }
  }
  CHECK(checked > 100);
  // Nothing of the other organisation changed: its finding is open, its token and host live.
  auto finding = f.store->GetFinding(f.beta.finding_id);
  REQUIRE(finding.ok());
  CHECK(finding->state == FindingState::kOpen);
  auto tokens = f.store->ListEnrollmentTokens(f.beta.org_id);
  REQUIRE(tokens.ok());
  REQUIRE(tokens->size() == 1);
  CHECK_FALSE(tokens->front().revoked_at_ms.has_value());
  auto host = f.store->GetAgentCredential(f.beta.agent_id);
  REQUIRE(host.ok());
  CHECK_FALSE(host->revoked);
  auto notes = f.store->ListOrgNotes(f.beta.org_id, 10);
  REQUIRE(notes.ok());
  CHECK(notes->size() == 1);
  auto alert = f.store->GetAlert(f.beta.alert_id);
  REQUIRE(alert.ok());
  CHECK_FALSE(alert->acked_at_ms.has_value());
}

// An inventory for `agent_id` with addresses, a MAC, serial numbers and a package.
void CommitInventory(Fixture& f, const std::string& agent_id, const std::string& hostname,
                     const std::string& ip, const std::string& mac, const std::string& serial,
                     const std::string& package_name) {
  std::vector<IncomingReport> batch(1);
  batch[0].agent_id = agent_id;
  batch[0].received_at_ms = f.clock.NowMs();
  batch[0].report.set_seq(1);
  batch[0].report.set_collected_at_ms(f.clock.NowMs());
  auto* inventory = batch[0].report.mutable_inventory();
  inventory->mutable_os()->set_hostname(hostname);
  inventory->mutable_hardware()->mutable_dmi()->set_system_serial(serial);
  inventory->mutable_hardware()->add_disks()->set_serial("disk-" + serial);
  auto* eth = inventory->mutable_network()->add_interfaces();
  eth->set_name("eth0");
  eth->set_mac(mac);
  auto* address = eth->add_addresses();
  address->set_address(ip);
  address->set_prefix(24);
  address->set_family(4);
  auto* package = inventory->mutable_software()->add_packages();
  package->set_name(package_name);
  package->set_version("1.0");
  auto committed = f.store->CommitReports(batch);
  REQUIRE_MESSAGE(committed.ok(), (committed.ok() ? "" : committed.error().ToString()));
}

TEST_CASE("search: nothing of another organisation by hostname, IP, MAC, serial or package") {
  Fixture f;
  CommitInventory(f, f.alpha.agent_id, "web-alpha", "10.1.0.7", "52:54:00:00:00:0a", "SN-ALPHA",
                  "alpha-tool");
  CommitInventory(f, f.beta.agent_id, std::string("web-") + kSecret, "10.2.0.7",
                  "52:54:00:00:00:0b", "SN-BETA-7", std::string(kSecret) + "-tool");
  const std::vector<std::string> beta_terms = {std::string("web-") + kSecret,
                                               kSecret,
                                               "10.2.0.7",
                                               "10.2.0",
                                               "52:54:00:00:00:0b",
                                               "52-54-00-00-00-0B",
                                               "5254.0000.000b",
                                               "SN-BETA-7",
                                               "sn-beta-7",
                                               "disk-SN-BETA-7",
                                               std::string(kSecret) + "-tool",
                                               std::string(kSecret) + "-tool=1.0",
                                               f.beta.agent_id};
  // The admin finds beta's host by each of them, so the searches below can find something.
  for (const auto& term : beta_terms) {
    INFO("admin: " << term);
    auto found = f.Call("GET", "/api/v1/search/hosts?q=" + term, "dza_root");
    REQUIRE(found.status == 200);
    REQUIRE(found.body["hits"].size() == 1);
    CHECK(found.body["hits"][0]["host"]["agent_id"] == f.beta.agent_id);
    CHECK_FALSE(found.body["hits"][0]["matches"].empty());
  }
  for (const std::string token : {"dza_alpha_eng", "dza_alpha_client", "dza_engview"}) {
    for (const auto& term : beta_terms) {
      INFO(token << ": " << term);
      auto found = f.Call("GET", "/api/v1/search/hosts?q=" + term, token);
      REQUIRE(found.status == 200);
      CHECK(found.body["hits"].empty());
      // (The answer echoes the caller's own text as "q"; nothing else of beta may show.)
      found.body.erase("q");
      CHECK(BodyText(found).find(f.beta.agent_id) == std::string::npos);
      CHECK(BodyText(found).find("SN-BETA") == std::string::npos);
      CHECK(BodyText(found).find(kSecret) == std::string::npos);
      // Nor through the lists' own text filter.
      auto hosts = f.Call("GET", "/api/v1/hosts?q=" + term, token);
      CHECK(hosts.status == 200);
      CHECK(hosts.body["hosts"].empty());
    }
    // Their own host, by its serial; and beta named as the organisation is a 404.
    auto own = f.Call("GET", "/api/v1/search/hosts?q=SN-ALPHA", token);
    REQUIRE(own.status == 200);
    REQUIRE(own.body["hits"].size() == 1);
    CHECK(own.body["hits"][0]["host"]["agent_id"] == f.alpha.agent_id);
    CHECK(own.body["hits"][0]["matches"][0]["field"] == "system_serial");
    auto other_org =
        f.Call("GET", "/api/v1/search/hosts?q=web&org=" + std::to_string(f.beta.org_id), token);
    CHECK(other_org.status == 404);
    CHECK(BodyText(other_org).find(kSecret) == std::string::npos);
  }
}

TEST_CASE("own organisation: each role sees it and may do exactly its actions") {
  Fixture f;
  const std::string finding = "/api/v1/findings/" + std::to_string(f.alpha.finding_id);
  const std::string eng = "dza_alpha_eng";
  const std::string client = "dza_alpha_client";

  // Both see their organisation, its host and finding.
  for (const auto& token : {eng, client}) {
    auto orgs = f.Call("GET", "/api/v1/orgs", token);
    REQUIRE(orgs.status == 200);
    REQUIRE(orgs.body["organizations"].size() == 1);
    CHECK(orgs.body["organizations"][0]["name"] == "Alpha");
    CHECK(f.Call("GET", "/api/v1/hosts/agent-alpha", token).status == 200);
    CHECK(f.Call("GET", finding, token).status == 200);
    auto findings = f.Call("GET", "/api/v1/findings", token);
    REQUIRE(findings.status == 200);
    CHECK(findings.body["findings"].size() == 1);
    CHECK(f.Call("GET", "/api/v1/orgs/Alpha/report?format=json", token).status == 200);
  }
  // The client comments but cannot acknowledge, waive, revoke or create tokens.
  CHECK(f.Call("POST", finding + "/comments", client, R"({"comment":"fixed the disk"})").status ==
        200);
  CHECK(f.Call("POST", finding + "/ack", client, R"({"comment":"x"})").status == 403);
  CHECK(f.Call("POST", finding + "/waive", client, R"({"reason":"x"})").status == 403);
  CHECK(f.Call("POST", "/api/v1/orgs/Alpha/tokens", client).status == 403);
  CHECK(f.Call("POST", "/api/v1/tokens/" + std::to_string(f.alpha.enrollment_token_id) + "/revoke",
               client)
            .status == 403);
  CHECK(f.Call("POST", "/api/v1/hosts/agent-alpha/revoke", client).status == 403);
  CHECK(f.Call("POST", "/api/v1/api-tokens", client, R"({"name":"x","role":"viewer"})").status ==
        403);
  CHECK(f.Call("GET", "/api/v1/tokens", client).status == 403);
  CHECK(f.Call("GET", "/api/v1/orgs/Alpha/notes", client).status == 403);
  // The engineer acknowledges, writes notes and makes tokens for their organisation.
  CHECK(f.Call("POST", finding + "/ack", eng, R"({"comment":"on it"})").status == 200);
  CHECK(f.Call("PUT", "/api/v1/orgs/Alpha/notes", eng, R"({"text":"director decides"})").status ==
        201);
  auto notes = f.Call("GET", "/api/v1/orgs/Alpha/notes", eng);
  REQUIRE(notes.status == 200);
  CHECK(notes.body["current"]["text"] == "director decides");
  CHECK(notes.body["current"]["author"] == "alpha-eng");
  CHECK(notes.body["history"].size() == 2);
  CHECK(f.Call("POST", "/api/v1/orgs/Alpha/tokens", eng).status == 201);
  // ...but not accounts, assignments or the audit log.
  CHECK(f.Call("GET", "/api/v1/users", eng).status == 403);
  CHECK(
      f.Call("PUT", "/api/v1/orgs/Alpha/engineers/" + std::to_string(f.beta.engineer_user_id), eng)
          .status == 403);
  CHECK(f.Call("GET", "/api/v1/audit-log", eng).status == 403);
  // A viewer-role token of the engineer only reads.
  CHECK(f.Call("GET", finding, "dza_engview").status == 200);
  CHECK(f.Call("POST", finding + "/comments", "dza_engview", R"({"comment":"x"})").status == 403);
}

TEST_CASE("an engineer's new organisation is assigned to them, admins assign engineers") {
  Fixture f;
  auto created = f.Call("POST", "/api/v1/orgs", "dza_alpha_eng", R"({"name":"Gamma"})");
  REQUIRE(created.status == 201);
  CHECK(created.body["engineer"] == "Engineer of Alpha");
  CHECK(f.Call("GET", "/api/v1/orgs/Gamma", "dza_alpha_eng").status == 200);
  CHECK(f.Call("GET", "/api/v1/orgs/Gamma", "dza_beta_eng").status == 404);
  CHECK(f.Call("POST", "/api/v1/orgs", "dza_alpha_eng", R"({"name":"Delta","engineer":"x"})")
            .status == 403);

  // The admin adds the beta engineer as a backup 1C specialist.
  auto assigned =
      f.Call("PUT", "/api/v1/orgs/Gamma/engineers/" + std::to_string(f.beta.engineer_user_id),
             "dza_root", R"({"kind":"backup","specialty":"1C"})");
  REQUIRE(assigned.status == 200);
  CHECK(assigned.body["kind"] == "backup");
  CHECK(f.Call("GET", "/api/v1/orgs/Gamma", "dza_beta_eng").status == 200);
  auto engineers = f.Call("GET", "/api/v1/orgs/Gamma/engineers", "dza_beta_eng");
  REQUIRE(engineers.status == 200);
  REQUIRE(engineers.body["engineers"].size() == 2);
  CHECK(engineers.body["engineers"][0]["kind"] == "primary");
  CHECK(engineers.body["engineers"][1]["specialty"] == "1C");
  // A client account cannot be assigned as an engineer.
  CHECK(f.Call("PUT", "/api/v1/orgs/Gamma/engineers/" + std::to_string(f.alpha.client_user_id),
               "dza_root")
            .status == 400);
  CHECK(f.Call("DELETE", "/api/v1/orgs/Gamma/engineers/" + std::to_string(f.beta.engineer_user_id),
               "dza_root")
            .status == 200);
  CHECK(f.Call("GET", "/api/v1/orgs/Gamma", "dza_beta_eng").status == 404);
}

TEST_CASE("every change lands in the audit log with who, how and where, admins filter it") {
  Fixture f;
  const std::string finding = "/api/v1/findings/" + std::to_string(f.alpha.finding_id);
  REQUIRE(f.Call("POST", finding + "/ack", "dza_alpha_eng", R"({"comment":"on it"})").status ==
          200);
  REQUIRE(f.Call("PUT", "/api/v1/orgs/Alpha/notes", "dza_alpha_eng", R"({"text":"n"})").status ==
          201);
  REQUIRE(f.Call("POST", finding + "/ack", "dza_alpha_client", R"({"comment":"x"})").status ==
          403);  // refused before the handler, recorded as a refused attempt

  auto log = f.Call("GET", "/api/v1/audit-log", "dza_root");
  REQUIRE(log.status == 200);
  REQUIRE(log.body["entries"].size() == 3);
  const auto& refused = log.body["entries"][0];
  CHECK(refused["action"] == "POST /api/v1/findings/{id}/ack");
  CHECK(refused["status"] == 403);
  CHECK(refused["actor"] == "alpha-client");
  CHECK(refused["detail"].get<std::string>().find("may not") != std::string::npos);
  const auto& notes = log.body["entries"][1];
  CHECK(notes["action"] == "PUT /api/v1/orgs/{org}/notes");
  CHECK(notes["actor"] == "alpha-eng");
  CHECK(notes["actor_user_id"] == f.alpha.engineer_user_id);
  CHECK(notes["via"] == "api");
  CHECK(notes["org_id"] == f.alpha.org_id);
  CHECK(notes["status"] == 201);
  CHECK(log.body["entries"][2]["action"] == "POST /api/v1/findings/{id}/ack");
  CHECK(log.body["entries"][2]["status"] == 200);
  CHECK(log.body["entries"][2]["object"] == "id=" + std::to_string(f.alpha.finding_id));

  auto by_action = f.Call("GET", "/api/v1/audit-log?action=POST", "dza_root");
  REQUIRE(by_action.status == 200);
  CHECK(by_action.body["entries"].size() == 2);
  auto by_org = f.Call("GET", "/api/v1/audit-log?org=Beta%20" + std::string(kSecret), "dza_root");
  REQUIRE(by_org.status == 200);
  CHECK(by_org.body["entries"].empty());
  auto page = f.Call("GET", "/api/v1/audit-log?limit=1", "dza_root");
  REQUIRE(page.body["entries"].size() == 1);
  REQUIRE(page.body["next_before"].is_number());
  auto next = f.Call(
      "GET",
      "/api/v1/audit-log?limit=1&before=" + std::to_string(page.body["next_before"].get<int64_t>()),
      "dza_root");
  REQUIRE(next.body["entries"].size() == 1);
  CHECK(next.body["entries"][0]["action"] == "PUT /api/v1/orgs/{org}/notes");
}

TEST_CASE("the event feed: scoped, by cursor, long-polled") {
  Fixture f;
  auto all = f.Call("GET", "/api/v1/events", "dza_root");
  REQUIRE(all.status == 200);
  REQUIRE(all.body["events"].size() == 2);  // one finding opened in each organisation
  CHECK(all.body["events"][0]["kind"] == "finding_opened");
  CHECK(all.body["events"][0]["finding"]["rule_id"] == "disk-space-low");
  CHECK(all.body["events"][0]["finding"]["severity"] == "high");

  auto mine = f.Call("GET", "/api/v1/events", "dza_alpha_eng");
  REQUIRE(mine.status == 200);
  REQUIRE(mine.body["events"].size() == 1);
  CHECK(mine.body["events"][0]["org"] == "Alpha");
  CHECK(f.Call("GET", "/api/v1/events?org=" + std::to_string(f.beta.org_id), "dza_alpha_eng")
            .status == 404);
  const int64_t cursor = mine.body["next_after"];

  // Nothing new: an empty page after the wait, the cursor kept.
  const auto started = std::chrono::steady_clock::now();
  auto empty =
      f.Call("GET", "/api/v1/events?wait=1&after=" + std::to_string(cursor), "dza_alpha_eng");
  CHECK(empty.body["events"].empty());
  CHECK(empty.body["next_after"] == cursor);
  CHECK(std::chrono::steady_clock::now() - started >= std::chrono::milliseconds(900));

  // A change while a client waits wakes it; changes of the other organisation do not show.
  std::thread changer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    REQUIRE(f.store->AcknowledgeFinding(f.beta.finding_id, "beta-eng", "x", 1).ok());
    REQUIRE(f.store->AcknowledgeFinding(f.alpha.finding_id, "alpha-eng", "on it", 2).ok());
  });
  auto woken =
      f.Call("GET", "/api/v1/events?wait=10&after=" + std::to_string(cursor), "dza_alpha_eng");
  changer.join();
  REQUIRE(woken.body["events"].size() == 1);
  CHECK(woken.body["events"][0]["kind"] == "finding_acknowledged");
  CHECK(woken.body["events"][0]["actor"] == "alpha-eng");
  CHECK(woken.body["events"][0]["detail"] == "on it");

  // A contract move is in the feed too.
  REQUIRE(
      f.Call("POST", "/api/v1/orgs/Alpha/contract", "dza_alpha_eng", R"({"status":"remediation"})")
          .status == 200);
  auto moved =
      f.Call("GET", "/api/v1/events?after=" + woken.body["next_after"].dump(), "dza_alpha_client");
  REQUIRE(moved.body["events"].size() == 1);
  CHECK(moved.body["events"][0]["kind"] == "contract_moved");
  CHECK(moved.body["events"][0]["detail"] == "prospect -> remediation");
}

// ?engineer= narrows the findings to that engineer's organisations and is intersected with the
// caller's own: a client or an engineer naming another engineer never sees more than before.
TEST_CASE("the findings engineer filter narrows within the caller's scope, never widens it") {
  Fixture f;
  auto ids = [&](const std::string& query, const std::string& token) {
    auto listed = f.Call("GET", "/api/v1/findings" + query, token);
    REQUIRE_MESSAGE(listed.status == 200, listed.body.dump());
    if (token != "dza_root" && token != "dza_beta_eng") {
      CHECK(BodyText(listed).find(kSecret) == std::string::npos);
    }
    std::set<int64_t> out;
    for (const auto& finding : listed.body["findings"]) out.insert(finding["id"].get<int64_t>());
    return out;
  };
  const std::set<int64_t> alpha = {f.alpha.finding_id};
  const std::set<int64_t> beta = {f.beta.finding_id};
  const std::set<int64_t> none;
  // An admin sees everything; the filter picks each engineer's organisations, by login or id.
  CHECK(ids("?engineer=alpha-eng", "dza_root") == alpha);
  CHECK(ids("?engineer=BETA-ENG", "dza_root") == beta);  // logins are case-insensitive
  CHECK(ids("?engineer=" + std::to_string(f.beta.engineer_user_id), "dza_root") == beta);
  CHECK(ids("?engineer=nobody", "dza_root") == none);  // unknown: empty, not an error
  CHECK(ids("?engineer=999999", "dza_root") == none);
  CHECK(ids("?engineer=root", "dza_root") == none);  // assigned nowhere
  CHECK(ids("?engineer=alpha-eng&category=hardware&severity=high&state=open", "dza_root") == alpha);
  CHECK(ids("?engineer=alpha-eng&org=" + std::to_string(f.beta.org_id), "dza_root") == none);
  CHECK(ids("?engineer=alpha-eng&category=network", "dza_root") == none);
  // Alpha's client and engineer naming Beta's engineer: nothing of Beta.
  for (const char* token : {"dza_alpha_client", "dza_alpha_eng", "dza_engview"}) {
    INFO(token);
    CHECK(ids("", token) == alpha);
    CHECK(ids("?engineer=beta-eng", token) == none);
    CHECK(ids("?engineer=" + std::to_string(f.beta.engineer_user_id), token) == none);
    CHECK(ids("?engineer=alpha-eng", token) == alpha);
  }
  // Beta's engineer as Alpha's backup too: Alpha's client filtering by them sees Alpha's finding
  // only, and Beta's engineer sees both.
  REQUIRE(f.store
              ->AssignEngineer(f.alpha.org_id, f.beta.engineer_user_id, AssignmentKind::kBackup, "",
                               f.clock.NowMs())
              .ok());
  CHECK(ids("?engineer=beta-eng", "dza_alpha_client") == alpha);
  CHECK(ids("?engineer=beta-eng", "dza_alpha_eng") == alpha);
  CHECK(ids("?engineer=beta-eng", "dza_beta_eng") ==
        std::set<int64_t>{f.alpha.finding_id, f.beta.finding_id});
  CHECK(ids("?engineer=alpha-eng", "dza_beta_eng") == alpha);
}

TEST_CASE("the estate overview: one summary per visible organisation in one call") {
  Fixture f;
  auto overview = f.Call("GET", "/api/v1/overview", "dza_root");
  REQUIRE(overview.status == 200);
  REQUIRE(overview.body["organizations"].size() == 2);
  const auto& alpha = overview.body["organizations"][0];
  CHECK(alpha["name"] == "Alpha");
  CHECK(alpha["contract_type"] == "complex");
  CHECK(alpha["open_findings"]["high"] == 1);
  CHECK(alpha["readiness_score"] == 85);  // one host, one high finding (-15)
  CHECK(alpha["hosts"]["total"] == 1);
  CHECK(alpha["hosts"]["imported"] == 0);
  REQUIRE(alpha["engineers"].size() == 1);
  CHECK(alpha["engineers"][0]["login"] == "alpha-eng");
  CHECK(alpha["engineers"][0]["specialty"] == "1C");

  auto mine = f.Call("GET", "/api/v1/overview", "dza_alpha_client");
  REQUIRE(mine.status == 200);
  REQUIRE(mine.body["organizations"].size() == 1);
  CHECK(BodyText(mine).find(kSecret) == std::string::npos);
  auto one = f.Call("GET", "/api/v1/orgs/Alpha/summary", "dza_alpha_client");
  REQUIRE(one.status == 200);
  CHECK(one.body["readiness_score"] == 85);
}

// The overview is computed once and shared; what it shows must still move at once when a
// finding or an assignment changes, and within OverviewCache::kMaxAgeMs for what no event or
// audit entry marks (an agent enrolling).
TEST_CASE("the shared overview follows feed events and audited changes at once, the rest by age") {
  Fixture f;
  auto alpha_of = [&](const ApiResponse& overview) {
    for (const auto& org : overview.body["organizations"]) {
      if (org["id"] == f.alpha.org_id) return org;
    }
    FAIL("Alpha is not in the overview");
    return nlohmann::json();
  };
  auto first = f.Call("GET", "/api/v1/overview", "dza_root");
  REQUIRE(first.status == 200);
  CHECK(alpha_of(first)["open_findings"]["high"] == 1);
  CHECK(alpha_of(first)["engineers"].size() == 1);
  // A waiver (a feed event) takes the finding out of the open counts on the next call.
  REQUIRE(f.Call("POST", "/api/v1/findings/" + std::to_string(f.alpha.finding_id) + "/waive",
                 "dza_root", R"({"reason":"client accepts the risk","until":"2099-12-31"})")
              .status == 200);
  auto waived = f.Call("GET", "/api/v1/overview", "dza_root");
  CHECK(alpha_of(waived)["open_findings"]["high"] == 0);
  // Its feed cursor moved past the waiver: a page polling from it hears only later changes.
  CHECK(waived.body["events_after"].get<int64_t>() > first.body["events_after"].get<int64_t>());
  auto after =
      f.Call("GET", "/api/v1/events?after=" + waived.body["events_after"].dump(), "dza_root");
  REQUIRE(after.status == 200);
  CHECK(after.body["events"].empty());
  // A backup engineer (an audited change, no feed event) shows at once too.
  REQUIRE(f.Call("PUT",
                 "/api/v1/orgs/" + std::to_string(f.alpha.org_id) + "/engineers/" +
                     std::to_string(f.beta.engineer_user_id),
                 "dza_root", R"({"kind":"backup"})")
              .status == 200);
  auto assigned = f.Call("GET", "/api/v1/overview", "dza_alpha_client");
  REQUIRE(assigned.body["organizations"].size() == 1);
  CHECK(alpha_of(assigned)["engineers"].size() == 2);
  // An agent enrolling marks nothing: the host shows once the shared answer is old enough.
  NewAgent agent;
  agent.agent_id = "agent-alpha-2";
  agent.secret_hash = Sha256Hex("s-alpha-2");
  agent.hostname = "second host of Alpha";
  REQUIRE(f.store->EnrollAgent(Sha256Hex("dze_alpha"), agent, f.clock.NowMs()).ok());
  f.clock.AdvanceMs(5'001);
  auto later = f.Call("GET", "/api/v1/overview", "dza_root");
  CHECK(alpha_of(later)["hosts"]["total"] == 2);
  CHECK(later.body["generated_at_ms"] == f.clock.NowMs());
}

TEST_CASE("a host loaded from a snapshot file counts as imported, never online or overdue") {
  Fixture f;
  SnapshotImport import;
  import.org_id = f.alpha.org_id;
  import.sha256 = Sha256Hex("a snapshot file");
  import.hostname = "legacy1";
  import.machine_id = "m-legacy";
  import.actor = "engineer";
  import.now_ms = f.clock.NowMs();
  import.inventory.set_seq(1);
  import.inventory.set_collected_at_ms(f.clock.NowMs() - 2 * 24 * 3'600'000LL);
  import.inventory.mutable_inventory()->mutable_os()->set_hostname("legacy1");
  import.inventory.mutable_inventory()->mutable_os()->set_machine_id("m-legacy");
  REQUIRE(f.store->ImportSnapshot(import).ok());
  auto one = f.Call("GET", "/api/v1/orgs/Alpha/summary", "dza_root");
  REQUIRE(one.status == 200);
  CHECK(one.body["hosts"]["total"] == 2);
  CHECK(one.body["hosts"]["imported"] == 1);
  CHECK(one.body["hosts"]["online"].get<int>() + one.body["hosts"]["offline"].get<int>() +
            one.body["hosts"]["overdue"].get<int>() ==
        1);
}

TEST_CASE("an admin's narrowed token cannot assign engineers through the old engineer field") {
  Fixture f;
  REQUIRE(f.store
              ->CreateApiToken("ops", ApiRole::kOperator, Sha256Hex("dza_ops"), "dza_ops",
                               std::nullopt, f.admin_user_id)
              .ok());
  CHECK(f.Call("PATCH", "/api/v1/orgs/" + std::to_string(f.beta.org_id), "dza_ops",
               R"({"engineer":"alpha-eng"})")
            .status == 403);
  CHECK(f.Call("POST", "/api/v1/orgs", "dza_ops", R"({"name":"Gamma","engineer":"alpha-eng"})")
            .status == 403);
  auto engineers =
      f.Call("GET", "/api/v1/orgs/" + std::to_string(f.beta.org_id) + "/engineers", "dza_root");
  REQUIRE(engineers.status == 200);
  CHECK(BodyText(engineers).find("alpha-eng") == std::string::npos);
  // The full admin credential still may.
  CHECK(f.Call("PATCH", "/api/v1/orgs/" + std::to_string(f.beta.org_id), "dza_root",
               R"({"engineer":"alpha-eng"})")
            .status == 200);
}

TEST_CASE("a copied display name does not win another engineer's client") {
  Fixture f;
  // alpha-eng renames itself after beta's engineer; an admin then uses the old name field.
  const std::string beta_name = f.store->GetUser(f.beta.engineer_user_id)->display_name;
  CHECK(f.Call("PATCH", "/api/v1/me", "dza_alpha_eng",
               nlohmann::json{{"display_name", beta_name}}.dump())
            .status == 200);
  auto ambiguous = f.Call("POST", "/api/v1/orgs", "dza_root",
                          nlohmann::json{{"name", "Gamma"}, {"engineer", beta_name}}.dump());
  CHECK(ambiguous.status == 409);
  CHECK(BodyText(ambiguous).find("by login") != std::string::npos);
  CHECK(f.Call("GET", "/api/v1/orgs/Gamma", "dza_alpha_eng").status == 404);
  CHECK(f.Call("GET", "/api/v1/orgs/Gamma", "dza_root").status == 404);  // rolled back whole
}

TEST_CASE("names of digits are refused: paths read them as ids") {
  Fixture f;
  CHECK(f.Call("POST", "/api/v1/orgs", "dza_root", R"({"name":"2"})").status == 400);
  CHECK(f.Call("POST", "/api/v1/users", "dza_root",
               R"({"login":"5","display_name":"Five","role":"engineer"})")
            .status == 400);
  CHECK(f.Call("POST", "/api/v1/orgs", "dza_root", R"({"name":"2 Ltd"})").status == 201);
}

TEST_CASE("a name taken by a hidden organisation is refused without naming it") {
  Fixture f;
  const std::string body = nlohmann::json{{"name", f.beta.org_name}}.dump();
  auto taken = f.Call("POST", "/api/v1/orgs", "dza_alpha_eng", body);
  CHECK(taken.status == 409);
  CHECK(BodyText(taken).find("Beta") == std::string::npos);
  CHECK(f.Call("POST", "/api/v1/orgs", "dza_root", body).status == 409);
}

TEST_CASE("one caller holds at most 4 waiting long-polls of the shared pool") {
  Fixture f;
  const std::string after = std::to_string(
      f.Call("GET", "/api/v1/events", "dza_alpha_client").body["next_after"].get<int64_t>());
  // Six waits of one account at once (nothing new arrives, so each waits its 5 s): four wait,
  // two are refused at once; another account meanwhile still gets its wait.
  std::atomic<int> waited{0};
  std::atomic<int> refused{0};
  std::vector<std::thread> callers;
  for (int i = 0; i < 6; ++i) {
    callers.emplace_back([&] {
      auto page = f.Call("GET", "/api/v1/events?wait=5&after=" + after, "dza_alpha_client");
      if (page.status == 200) ++waited;
      if (page.status == 429 && page.retry_after_seconds == 1) ++refused;
    });
  }
  CHECK(dozor::testing::WaitUntil([&] { return refused == 2; }, std::chrono::seconds(4)));
  CHECK(f.Call("GET", "/api/v1/events?wait=1&after=" + after, "dza_alpha_eng").status == 200);
  for (auto& caller : callers) caller.join();
  CHECK(waited == 4);
  CHECK(refused == 2);
  // The slots come back when the waits end.
  CHECK(f.Call("GET", "/api/v1/events?wait=1&after=" + after, "dza_alpha_client").status == 200);
}

}  // namespace
}  // namespace dozor::server::http
