// dozorctl import / token create / host list for one-shot imports, against a real HttpServer over a
// real SQLite store, plus the pure renderers.
#include <doctest/doctest.h>

#include <sstream>
#include <string>
#include <vector>

#include "ctl/cli.hpp"
#include "ctl/format.hpp"
#include "dozor/common/base64.hpp"
#include "dozor/common/clock.hpp"
#include "dozor/common/crypto.hpp"
#include "dozor/common/files.hpp"
#include "dozor/contract/snapshot_file.hpp"
#include "http/auth.hpp"
#include "http/http_server.hpp"
#include "run_cli.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "store_in_temp_dir.hpp"
#include "test_util.hpp"

namespace dozor::ctl {
namespace {

// A snapshot file as `dozor-agent collect` writes it, with `packages` packages (enough of them
// make the file larger than the server's default 1 MiB request limit).
std::string SnapshotText(const std::string& token, int64_t at_ms, int packages,
                         bool tamper = false) {
  dozor::v1::Report report;
  report.set_seq(1);
  report.set_collected_at_ms(at_ms);
  report.set_agent_version("0.4.0");
  auto* os = report.mutable_inventory()->mutable_os();
  os->set_hostname("legacy1");
  os->set_machine_id("0123456789abcdef0123456789abcdef");
  os->set_pretty_name("Debian GNU/Linux 11 (bullseye)");
  for (int i = 0; i < packages; ++i) {
    auto* pkg = report.mutable_inventory()->mutable_software()->add_packages();
    pkg->set_name("package-number-" + std::to_string(i));
    pkg->set_version("1.2." + std::to_string(i) + "-1+deb11u1");
  }
  SnapshotContents contents;
  contents.created_at_ms = at_ms;
  contents.agent_version = "0.4.0";
  contents.hostname = "legacy1";
  contents.machine_id = "0123456789abcdef0123456789abcdef";
  contents.inventory_report = report;
  auto built = BuildSnapshotJson(contents, token);
  REQUIRE(built.ok());
  if (!tamper) {
    return *built;
  }
  auto file = nlohmann::json::parse(*built);
  std::string payload = *Base64Decode(file["payload"].get<std::string>());
  payload[payload.size() / 2] ^= 0x20;
  file["payload"] = Base64Encode(payload);
  return file.dump(2);
}

TEST_CASE("dozorctl import loads a snapshot larger than the default body limit, once") {
  StoreInTempDir env;
  auto& [dir, store, clock] = env;
  const auto token_file = dir / "admin.token";
  REQUIRE(server::http::BootstrapAdminToken(**store, token_file, clock).ok());
  server::http::HttpServer::Options options;  // max_body_bytes stays at its 1 MiB default
  const auto import_keys = server::ImportKeyWrapper::FromServerKey(std::string(32, 's'));
  REQUIRE(import_keys.ok());
  options.import_keys = &*import_keys;
  server::http::HttpServer http_server(options, **store, nullptr, clock);
  REQUIRE(http_server.Start().ok());
  const std::string url = "http://127.0.0.1:" + std::to_string(http_server.port());
  auto run = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"--server", url, "--token-file", token_file.string()});
    return Run(args);
  };

  REQUIRE(run({"org", "create", "Acme"}).code == kExitOk);
  REQUIRE(run({"org", "create", "Other"}).code == kExitOk);
  auto token = run({"token", "create", "--org", "Acme"});
  REQUIRE_MESSAGE(token.code == kExitOk, token.err);
  const size_t at = token.out.find("dze_");
  REQUIRE(at != std::string::npos);
  const std::string plaintext = token.out.substr(at, 68);

  const int64_t collected = clock.NowMs() - 3600 * 1000;
  const std::string text = SnapshotText(plaintext, collected, 30000);
  REQUIRE(text.size() > options.max_body_bytes);
  const auto file = dir / "legacy1.dozor";
  REQUIRE(WriteFileAtomic(file, text, 0600).ok());

  auto imported = run({"import", file.string(), "--org", "Acme"});
  REQUIRE_MESSAGE(imported.code == kExitOk, imported.err);
  CHECK(imported.out.find("Imported legacy1 into Acme as a new host snap-") != std::string::npos);

  auto again = run({"import", file.string(), "--org", "Acme", "--json"});
  REQUIRE_MESSAGE(again.code == kExitOk, again.err);
  const auto reply = nlohmann::json::parse(again.out);
  CHECK(reply["duplicate"] == true);
  CHECK(reply["import"]["outcome"] == "created");
  auto again_text = run({"import", file.string(), "--org", "Acme"});
  CHECK(again_text.out.find("Already imported") != std::string::npos);

  auto hosts = run({"host", "list"});
  REQUIRE(hosts.code == kExitOk);
  CHECK(hosts.out.find("SOURCE") != std::string::npos);
  CHECK(hosts.out.find("import") != std::string::npos);
  CHECK(hosts.out.find("snapshot") != std::string::npos);
  auto listed = (*store)->ListHosts(std::nullopt);
  REQUIRE(listed.ok());
  REQUIRE(listed->size() == 1);
  CHECK(listed->front().source == "import");

  const auto tampered = dir / "tampered.dozor";
  REQUIRE(
      WriteFileAtomic(tampered, SnapshotText(plaintext, collected + 1000, 10, true), 0600).ok());
  auto refused = run({"import", tampered.string(), "--org", "Acme"});
  CHECK(refused.code == kExitApiError);
  CHECK(refused.err.find("modified after collection") != std::string::npos);

  const auto foreign = dir / "foreign.dozor";
  REQUIRE(WriteFileAtomic(foreign, SnapshotText(plaintext, collected + 2000, 10), 0600).ok());
  auto wrong_org = run({"import", foreign.string(), "--org", "Other"});
  CHECK(wrong_org.code == kExitApiError);
  CHECK(wrong_org.err.find("no enrollment token of this organisation") != std::string::npos);

  auto missing = run({"import", (dir / "nope.dozor").string(), "--org", "Acme"});
  CHECK(missing.code == kExitApiError);
  CHECK(missing.err.find("nope.dozor") != std::string::npos);
  CHECK(run({"import", file.string()}).code == kExitUsage);  // --org is required
  CHECK((*store)->ListHosts(std::nullopt)->size() == 1);
}

TEST_CASE("import output says whether the host is new, updated, kept or a duplicate") {
  nlohmann::json reply = {{"duplicate", false},
                          {"org", "Acme"},
                          {"import",
                           {{"hostname", "legacy1"},
                            {"agent_id", "snap-0011223344556677"},
                            {"outcome", "updated"},
                            {"collected_at_ms", 1'700'000'000'000},
                            {"imported_at_ms", 1'700'000'100'000}}}};
  CHECK(RenderImport(reply).find("updated host snap-0011223344556677") != std::string::npos);
  reply["import"]["outcome"] = "stale";
  CHECK(RenderImport(reply).find("already has a newer inventory") != std::string::npos);
  reply["duplicate"] = true;
  CHECK(RenderImport(reply).find("Already imported on") != std::string::npos);
}

TEST_CASE("token create prints the one-line install command when the server sends one") {
  nlohmann::json token = {{"id", 3},
                          {"org", "Acme"},
                          {"token", "dze_abc"},
                          {"expires_at_ms", nullptr},
                          {"enroll_command", "dozor-agent enroll --server s:1 --token dze_abc"}};
  const std::string without = RenderTokenCreated(token);
  CHECK(without.find("dozor-agent enroll --server s:1 --token dze_abc") != std::string::npos);
  CHECK(without.find("install.sh") == std::string::npos);
  token["install_command"] = "curl -fsSL https://s/install.sh | sudo sh -s -- --token dze_abc";
  const std::string with = RenderTokenCreated(token);
  CHECK(with.find("curl -fsSL https://s/install.sh | sudo sh -s -- --token dze_abc") !=
        std::string::npos);
}

TEST_CASE("host list shows where each host's data comes from") {
  const nlohmann::json reply = {
      {"hosts",
       {{{"agent_id", "a-1"}, {"hostname", "web1"}, {"org", "Acme"}, {"online", true}},
        {{"agent_id", "snap-1"},
         {"hostname", "legacy1"},
         {"org", "Acme"},
         {"source", "import"},
         {"online", false}}}}};
  const std::string out = RenderHostList(reply);
  std::istringstream lines(out);
  std::string header, agent, snapshot;
  std::getline(lines, header);
  std::getline(lines, agent);
  std::getline(lines, snapshot);
  const size_t column = header.find("SOURCE");
  REQUIRE(column != std::string::npos);
  CHECK(agent.substr(column, 5) == "agent");  // no source from an older server: an agent
  CHECK(snapshot.substr(column, 6) == "import");
  CHECK(snapshot.find("snapshot") != std::string::npos);
}

}  // namespace
}  // namespace dozor::ctl
