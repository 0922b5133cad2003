// dozorctl's findings, report, contract and rules commands against a real HttpServer over a real
// SQLite store on loopback.
#include <doctest/doctest.h>

#include <sstream>
#include <string>
#include <vector>

#include "ctl/cli.hpp"
#include "ctl/format.hpp"
#include "dozor/common/clock.hpp"
#include "dozor/common/crypto.hpp"
#include "dozor/common/files.hpp"
#include "http/http_server.hpp"
#include "rules/rule.hpp"
#include "run_cli.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "store_in_temp_dir.hpp"
#include "test_util.hpp"

namespace dozor::ctl {
namespace {

TEST_CASE("evidence rows render as key=value pairs") {
  CHECK(EvidenceLine(nlohmann::json::parse(R"({"mount":"/","used_pct":95.5})")) ==
        "mount=/ used_pct=95.5");
  CHECK(EvidenceLine(nlohmann::json("text")) == "text");
  CHECK_NOTHROW(RenderFinding(nlohmann::json::parse(R"({"finding":{"evidence":7},"events":{}})")));
  CHECK(RenderFindingList(nlohmann::json::object()) == "No findings.\n");
}

TEST_CASE("new commands check their arguments before calling the server") {
  CHECK(Run({"findings"}).code == kExitUsage);
  CHECK(Run({"findings", "ack"}).code == kExitUsage);
  CHECK(Run({"findings", "ack", "x"}).code == kExitUsage);
  CHECK(Run({"findings", "waive", "1"}).code == kExitUsage);    // --reason required
  CHECK(Run({"findings", "comment", "1"}).code == kExitUsage);  // -m required
  CHECK(Run({"findings", "list", "--all", "--state", "open"}).code == kExitUsage);
  CHECK(Run({"findings", "list", "--lang", "de"}).code == kExitUsage);
  CHECK(Run({"report"}).code == kExitUsage);  // --org required
  CHECK(Run({"report", "--org", "A", "--format", "docx"}).code == kExitUsage);
  CHECK(Run({"org", "contract", "A", "--status", "signed"}).code == kExitUsage);
  CHECK(Run({"rules"}).code == kExitUsage);
}

TEST_CASE("dozorctl findings, contract, rules and report against a real server") {
  StoreInTempDir env;
  auto& [dir, store, clock] = env;
  REQUIRE((*store)
              ->CreateApiToken("alice", server::ApiRole::kOperator, Sha256Hex("dza_op"), "dza_op",
                               std::nullopt)
              .ok());
  REQUIRE((*store)
              ->CreateApiToken("bob", server::ApiRole::kViewer, Sha256Hex("dza_view"), "dza_view",
                               std::nullopt)
              .ok());
  server::Organization org;
  org.name = "ООО Ромашка";
  org.created_at_ms = clock.NowMs();
  auto created = (*store)->CreateOrganization(org);
  REQUIRE(created.ok());
  server::NewEnrollmentToken token;
  token.org_id = created->id;
  token.token_hash = Sha256Hex("dze_x");
  token.hint = "dze_x";
  REQUIRE((*store)->CreateEnrollmentToken(token).ok());
  server::NewAgent agent;
  agent.agent_id = "agent-ctl-2";
  agent.secret_hash = Sha256Hex("s");
  agent.hostname = "srv-01";
  REQUIRE((*store)->EnrollAgent(Sha256Hex("dze_x"), agent, clock.NowMs()).ok());
  auto host_pk = (*store)->HostPk("agent-ctl-2");
  REQUIRE(host_pk.ok());

  const server::rules::RulePack pack = server::rules::LoadRulePack({}, true);
  REQUIRE_FALSE(pack.rules.empty());
  const server::rules::Rule& rule = pack.rules.front();
  server::EvaluationInput input;
  input.host_scope = rule.scope == server::rules::RuleScope::kHost;
  input.rule_ids = {rule.id};
  input.targets = {input.host_scope ? *host_pk : created->id};
  input.meta[rule.id] = server::RuleMeta{*server::ParseSeverity(rule.severity), rule.category};
  input.hits.push_back(server::FindingHit{
      rule.id, created->id, input.host_scope ? std::optional<int64_t>(*host_pk) : std::nullopt,
      R"([{"value":"evidence-marker"}])", false, ""});
  REQUIRE((*store)->ApplyEvaluation(input, clock.NowMs()).ok());

  int64_t evaluated = 0;
  server::http::HttpServer::Options options;
  options.rules = &pack;
  options.evaluate_now = [&evaluated](int64_t org_id) {
    evaluated = org_id;
    return OkStatus();
  };
  server::http::HttpServer http_server(options, **store, nullptr, clock);
  REQUIRE(http_server.Start().ok());
  const std::string url = "http://127.0.0.1:" + std::to_string(http_server.port());
  auto run = [&](std::vector<std::string> args, const std::string& bearer = "dza_op") {
    std::vector<std::string> full = {"--server", url, "--token", bearer};
    full.insert(full.end(), args.begin(), args.end());
    return Run(full);
  };

  auto listed = run({"findings", "list", "--org", "ООО Ромашка"}, "dza_view");
  REQUIRE_MESSAGE(listed.code == kExitOk, listed.err);
  CHECK(listed.out.find(rule.id) != std::string::npos);
  CHECK(listed.out.find("SEVERITY") != std::string::npos);
  CHECK(listed.out.find(rule.title.en) != std::string::npos);
  auto json = run({"--json", "findings", "list"});
  REQUIRE(json.code == kExitOk);
  const auto parsed = nlohmann::json::parse(json.out);
  REQUIRE(parsed["findings"].size() == 1);
  const std::string id = std::to_string(parsed["findings"][0]["id"].get<int64_t>());
  if (input.host_scope) {
    CHECK(run({"findings", "list", "--host", "srv-01"}).out.find(rule.id) != std::string::npos);
  }
  CHECK(run({"findings", "list", "--state", "resolved"}).out == "No findings.\n");

  auto shown_json = run({"--json", "findings", "show", id});
  REQUIRE(shown_json.code == kExitOk);
  CHECK(nlohmann::json::parse(shown_json.out)["finding"]["rule_id"] == rule.id);
  auto shown = run({"findings", "show", id, "--lang", "ru"});
  REQUIRE_MESSAGE(shown.code == kExitOk, shown.err);
  CHECK(shown.out.find("value=evidence-marker") != std::string::npos);
  CHECK(shown.out.find(rule.remediation.ru.substr(0, 20)) != std::string::npos);
  CHECK(shown.out.find("opened") != std::string::npos);

  auto viewer_ack = run({"findings", "ack", id}, "dza_view");
  CHECK(viewer_ack.code == kExitApiError);
  auto acked = run({"findings", "ack", id, "-m", "on it"});
  REQUIRE_MESSAGE(acked.code == kExitOk, acked.err);
  CHECK(acked.out.find("acknowledged") != std::string::npos);
  auto twice = run({"findings", "ack", id});
  CHECK(twice.code == kExitApiError);
  CHECK(twice.err.find("409") != std::string::npos);
  auto past = run({"findings", "waive", id, "--reason", "ok", "--until", "2001-01-01"});
  CHECK(past.code == kExitApiError);
  CHECK(past.err.find("future") != std::string::npos);
  auto waived = run({"findings", "waive", id, "--reason", "accepted", "--until", "2099-01-01"});
  REQUIRE_MESSAGE(waived.code == kExitOk, waived.err);
  CHECK(waived.out.find("waived") != std::string::npos);
  CHECK(run({"findings", "unwaive", id, "-m", "no"}).out.find("open") != std::string::npos);
  CHECK(run({"findings", "comment", id, "-m", "called"}).code == kExitOk);
  CHECK(run({"findings", "show", "99999"}).code == kExitApiError);

  auto contract = run({"org", "contract", "ООО Ромашка"});
  REQUIRE_MESSAGE(contract.code == kExitOk, contract.err);
  CHECK(contract.out.find("prospect") != std::string::npos);
  CHECK(contract.out.find("no contract moves yet") != std::string::npos);
  auto refused = run({"org", "contract", "ООО Ромашка", "--status", "ended"});
  CHECK(refused.code == kExitApiError);
  auto moved = run({"org", "contract", "ООО Ромашка", "--status", "remediation"});
  REQUIRE_MESSAGE(moved.code == kExitOk, moved.err);
  CHECK(moved.out.find("alice") != std::string::npos);
  CHECK(moved.out.find("1 findings") != std::string::npos);  // first-audit baseline
  auto snapshot = run({"org", "snapshot", "ООО Ромашка"});
  REQUIRE_MESSAGE(snapshot.code == kExitOk, snapshot.err);
  CHECK(snapshot.out.find("first-audit") != std::string::npos);
  CHECK(run({"org", "evaluate", "ООО Ромашка"}).code == kExitOk);
  CHECK(evaluated == created->id);

  auto rules = run({"rules", "list"}, "dza_view");
  REQUIRE(rules.code == kExitOk);
  CHECK(rules.out.find(rule.id) != std::string::npos);
  auto one = run({"rules", "show", rule.id});
  REQUIRE(one.code == kExitOk);
  CHECK(one.out.find("SELECT") != std::string::npos);
  CHECK(run({"rules", "show", "no-such-rule"}).code == kExitApiError);

  const auto pdf_path = dir / "audit.pdf";
  auto pdf = run({"report", "--org", "ООО Ромашка", "--format", "pdf", "-o", pdf_path.string()},
                 "dza_view");
  REQUIRE_MESSAGE(pdf.code == kExitOk, pdf.err);
  CHECK(pdf.out.find("application/pdf") != std::string::npos);
  auto bytes = ReadFile(pdf_path, 64 * 1024 * 1024);
  REQUIRE(bytes.ok());
  CHECK(bytes->rfind("%PDF-", 0) == 0);
  CHECK(bytes->find("%%EOF") != std::string::npos);

  auto csv = run({"report", "--org", "ООО Ромашка", "--format", "csv", "-o", "-"});
  REQUIRE(csv.code == kExitOk);
  CHECK(csv.out.find(rule.id) != std::string::npos);
  auto missing = run({"report", "--org", "nope", "-o", (dir / "x.html").string()});
  CHECK(missing.code == kExitApiError);
  CHECK(missing.err.find("not found") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir / "x.html"));
  http_server.Stop();
}

}  // namespace
}  // namespace dozor::ctl
