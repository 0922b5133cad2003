// dozorctl: table formatting, argument handling and exit codes, and the CLI against a real
// HttpServer over a real SQLite store.
#include <doctest/doctest.h>

#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "ctl/api_client.hpp"
#include "ctl/cli.hpp"
#include "ctl/command_context.hpp"
#include "ctl/format.hpp"
#include "dozor/common/clock.hpp"
#include "dozor/common/crypto.hpp"
#include "dozor/common/files.hpp"
#include "http/auth.hpp"
#include "http/http_server.hpp"
#include "run_cli.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "store_in_temp_dir.hpp"
#include "test_util.hpp"

namespace dozor::ctl {
namespace {

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream stream(text);
  for (std::string line; std::getline(stream, line);) {
    lines.push_back(line);
  }
  return lines;
}

// Display column where `needle` starts in `line`.
size_t ColumnOf(const std::string& line, const std::string& needle) {
  const size_t byte = line.find(needle);
  REQUIRE(byte != std::string::npos);
  return DisplayWidth(std::string_view(line).substr(0, byte));
}

TEST_CASE("text from the server reaches the terminal with its control characters shown") {
  // A hostname an enrolling machine chose: clears the screen and rings the bell if sent raw.
  CHECK(TerminalText("host  \x1b[2Jevil\x07\nnext line\n") ==
        "host  \\x1b[2Jevil\\x07\nnext line\n");
  CHECK(TerminalText(std::string("pkg\0name\tx", 10)) == "pkg\\x00name\\tx");
  CHECK(TerminalText("Бухгалтерия 3.0\n") == "Бухгалтерия 3.0\n");
}

TEST_CASE("display width counts code points so Cyrillic is one column per letter") {
  CHECK(DisplayWidth("abc") == 3);
  CHECK(DisplayWidth("Ромашка") == 7);
  CHECK(DisplayWidth("ООО «Ёлка»") == 10);
  CHECK(DisplayWidth("") == 0);
}

TEST_CASE("tables align columns of Cyrillic and Latin text by display width") {
  Table table({"ID", "NAME", "STATUS"});
  table.AlignRight(0);
  table.AddRow({"1", "ООО Ромашка", "active"});
  table.AddRow({"12", "Acme", "prospect"});
  const auto lines = Lines(table.Render());
  REQUIRE(lines.size() == 3);
  const size_t status_column = ColumnOf(lines[0], "STATUS");
  CHECK(ColumnOf(lines[1], "active") == status_column);
  CHECK(ColumnOf(lines[2], "prospect") == status_column);
  CHECK(ColumnOf(lines[1], "ООО") == ColumnOf(lines[2], "Acme"));
  CHECK(lines[1].substr(0, 2) == " 1");  // right-aligned id
  CHECK(lines[0].back() != ' ');
}

TEST_CASE("sizes are human readable in binary units") {
  CHECK(HumanBytes(0) == "0 B");
  CHECK(HumanBytes(1023) == "1023 B");
  CHECK(HumanBytes(1536) == "1.5 KiB");
  CHECK(HumanBytes(16ULL * 1024 * 1024 * 1024) == "16.0 GiB");
}

TEST_CASE("local times print as YYYY-MM-DD HH:MM and zero as a dash") {
  CHECK(FormatLocalTime(0) == "-");
  const std::string text = FormatLocalTime(1'700'000'000'000);
  REQUIRE(text.size() == 16);
  CHECK(text[4] == '-');
  CHECK(text[10] == ' ');
  CHECK(text[13] == ':');
}

TEST_CASE("64-bit protobuf JSON strings read as numbers") {
  CHECK(JsonU64(nlohmann::json("17179869184")) == 17179869184ULL);
  CHECK(JsonU64(nlohmann::json(5)) == 5);
  CHECK(JsonU64(nlohmann::json("12x")) == 0);
  CHECK(JsonI64(nlohmann::json("-5")) == -5);
  CHECK(JsonU64(nlohmann::json(nullptr)) == 0);
}

TEST_CASE("health table shows cpu, load, memory, swap and the fullest filesystem") {
  const auto reply = nlohmann::json::parse(R"({"samples":[{"collected_at_ms":1700000000000,
      "sample":{"cpu_percent":42.25,"load1":1.5},
      "derived":{"memory_used_percent":75.0,"swap_used_percent":0.0,
                 "fullest_filesystem":{"mount_point":"/var","used_percent":91.04}}}]})");
  const auto lines = Lines(RenderHealth(reply));
  REQUIRE(lines.size() == 2);
  CHECK(lines[0].find("CPU%") != std::string::npos);
  CHECK(lines[1].find("42.2") != std::string::npos);
  CHECK(lines[1].find("1.50") != std::string::npos);
  CHECK(lines[1].find("75.0") != std::string::npos);
  CHECK(lines[1].find("/var 91.0%") != std::string::npos);
}

TEST_CASE("host show renders an overview from inventory JSON with missing fields") {
  const auto host = nlohmann::json::parse(
      R"({"agent_id":"a1","hostname":"db1","org":"Ромашка","online":true,"addresses":["10.0.0.5"]})");
  const auto inventory = nlohmann::json::parse(R"({"inventory":{
      "os":{"pretty_name":"Debian 12","kernel":"6.1"},
      "hardware":{"memory_total_bytes":"17179869184","cpu":{"model":"Xeon","cores":8,"threads":16},
                  "disks":[{"name":"sda","size_bytes":"500107862016","smart_status":"passed"}]},
      "software":{"packages":[{"name":"a"},{"name":"b"}],
                  "applications":[{"name":"1C:Enterprise","version":"8.3.22.1709","kind":"server"}]},
      "network":{"listening":[{"protocol":"tcp","address":"0.0.0.0","port":1541,"process":"ragent"}]}},
      "collectors":[{"name":"smart","ok":false,"error":"smartctl missing"}]})");
  const std::string text = RenderHostShow(host, inventory);
  CHECK(text.find("online") != std::string::npos);
  CHECK(text.find("16.0 GiB") != std::string::npos);
  CHECK(text.find("Xeon (8 cores, 16 threads)") != std::string::npos);
  CHECK(text.find("465.8 GiB") != std::string::npos);
  CHECK(text.find("passed") != std::string::npos);
  CHECK(text.find("8.3.22.1709") != std::string::npos);
  CHECK(text.find("1541") != std::string::npos);
  CHECK(text.find("FAILED") != std::string::npos);
  CHECK(text.find("Packages:") != std::string::npos);

  CHECK(RenderHostShow(host, nullptr).find("No inventory") != std::string::npos);
  // Unexpected shapes never throw.
  CHECK_NOTHROW(RenderInventory(nlohmann::json::parse(R"({"inventory":[1,2],"host":"x"})")));
}

TEST_CASE("argument errors exit with code 2") {
  CHECK(Run({}).code == kExitUsage);
  CHECK(Run({"frobnicate"}).code == kExitUsage);
  CHECK(Run({"org"}).code == kExitUsage);
  CHECK(Run({"org", "create"}).code == kExitUsage);
  CHECK(Run({"host", "changes", "h1", "--limit", "0"}).code == kExitUsage);
  CHECK(Run({"apitoken", "create", "x", "--role", "root"}).code == kExitUsage);
  CHECK(Run({"token", "revoke", "abc"}).code == kExitUsage);
  CHECK(Run({"org", "update", "Acme"}).code == kExitUsage);
  CHECK(Run({"--server", "ftp://x", "org", "list"}).code == kExitUsage);
  const auto help = Run({"--help"});
  CHECK(help.code == kExitOk);
  CHECK(help.out.find("org") != std::string::npos);
}

TEST_CASE("an unreachable server exits with code 3 and names the URL") {
  const auto run = Run({"--server", "http://127.0.0.1:1", "--token", "x", "org", "list"});
  CHECK(run.code == kExitUnreachable);
  CHECK(run.err.find("http://127.0.0.1:1") != std::string::npos);
  CHECK(run.err.find("cannot connect") != std::string::npos);
}

TEST_CASE("dozorctl drives a real server: orgs, tokens, hosts and errors") {
  StoreInTempDir env;
  auto& [dir, store, clock] = env;
  const auto token_file = dir / "admin.token";
  auto admin = server::http::BootstrapAdminToken(**store, token_file, clock);
  REQUIRE(admin.ok());
  REQUIRE(admin->has_value());
  server::http::HttpServer::Options options;
  options.grpc_public_address = "dozor.example:8443";
  server::http::HttpServer http_server(options, **store, nullptr, clock);
  REQUIRE(http_server.Start().ok());
  const std::string url = "http://127.0.0.1:" + std::to_string(http_server.port());
  const std::vector<std::string> global = {"--server", url, "--token-file", token_file.string()};
  auto run = [&](std::vector<std::string> args) {
    args.insert(args.begin(), global.begin(), global.end());
    return Run(args);
  };

  auto created = run({"org", "create", "ООО Ромашка", "--status", "active", "--engineer", "Иван"});
  REQUIRE_MESSAGE(created.code == kExitOk, created.err);
  CHECK(created.out.find("ООО Ромашка") != std::string::npos);
  REQUIRE(run({"org", "create", "Acme"}).code == kExitOk);

  auto duplicate = run({"org", "create", "Acme"});
  CHECK(duplicate.code == kExitApiError);
  CHECK(duplicate.err.find("already exists") != std::string::npos);

  auto listed = run({"org", "list"});
  REQUIRE(listed.code == kExitOk);
  const auto lines = Lines(listed.out);
  REQUIRE(lines.size() == 3);
  const bool acme_first = lines[1].find("Acme") != std::string::npos;
  const std::string& acme = acme_first ? lines[1] : lines[2];
  const std::string& romashka = acme_first ? lines[2] : lines[1];
  CHECK(ColumnOf(romashka, "active") == ColumnOf(lines[0], "STATUS"));
  CHECK(ColumnOf(acme, "prospect") == ColumnOf(lines[0], "STATUS"));
  CHECK(ColumnOf(romashka, "Иван") == ColumnOf(lines[0], "ENGINEER"));

  auto updated = run({"org", "update", "Acme", "--type", "technical"});
  REQUIRE(updated.code == kExitOk);
  CHECK(updated.out.find("technical") != std::string::npos);
  CHECK(run({"org", "update", "Acme", "--status", "bogus"}).code == kExitApiError);

  auto token = run({"token", "create", "--org", "Acme", "--label", "wave 1"});
  REQUIRE_MESSAGE(token.code == kExitOk, token.err);
  const size_t at = token.out.find("dze_");
  REQUIRE(at != std::string::npos);
  const std::string plaintext = token.out.substr(at, 68);
  CHECK(token.out.find("dozor-agent enroll --server dozor.example:8443 --token " + plaintext) !=
        std::string::npos);

  server::NewAgent agent;
  agent.agent_id = "agent-ctl-1";
  agent.secret_hash = Sha256Hex("secret");
  agent.hostname = "db1";
  REQUIRE((*store)->EnrollAgent(Sha256Hex(plaintext), agent, clock.NowMs()).ok());

  auto hosts = run({"host", "list", "--org", "Acme"});
  REQUIRE(hosts.code == kExitOk);
  CHECK(hosts.out.find("agent-ctl-1") != std::string::npos);
  CHECK(hosts.out.find("db1") != std::string::npos);
  auto by_hostname = run({"host", "show", "db1"});
  REQUIRE_MESSAGE(by_hostname.code == kExitOk, by_hostname.err);
  CHECK(by_hostname.out.find("agent-ctl-1") != std::string::npos);
  CHECK(by_hostname.out.find("No inventory") != std::string::npos);
  CHECK(run({"host", "health", "db1"}).code == kExitOk);
  CHECK(run({"host", "changes", "agent-ctl-1", "--limit", "5"}).code == kExitOk);
  auto found = run({"search", "DB1"});
  REQUIRE_MESSAGE(found.code == kExitOk, found.err);
  CHECK(found.out.find("agent-ctl-1") != std::string::npos);
  CHECK(found.out.find("hostname db1") != std::string::npos);
  auto found_ru = run({"--lang", "ru", "search", "agent-ctl"});
  REQUIRE_MESSAGE(found_ru.code == kExitOk, found_ru.err);
  CHECK(found_ru.out.find("СОВПАЛО") != std::string::npos);
  CHECK(found_ru.out.find("agent_id agent-ctl-1") != std::string::npos);
  CHECK(run({"search", "nothing-like-it"}).out.find("No host matches.") != std::string::npos);
  CHECK(run({"search", "x"}).code == kExitApiError);
  auto missing = run({"host", "show", "nope"});
  CHECK(missing.code == kExitApiError);
  CHECK(missing.err.find("not found") != std::string::npos);
  auto not_connected = run({"host", "collect", "db1"});
  CHECK(not_connected.code == kExitApiError);
  CHECK(not_connected.err.find("not connected") != std::string::npos);

  auto json = run({"--json", "token", "list"});
  REQUIRE(json.code == kExitOk);
  const auto parsed = nlohmann::json::parse(json.out);
  REQUIRE(parsed["tokens"].size() == 1);
  CHECK(parsed["tokens"][0]["uses"] == 1);
  auto tokens_text = run({"token", "list"});
  REQUIRE(tokens_text.code == kExitOk);
  CHECK(tokens_text.out.find("IMPORTS") != std::string::npos);
  // This server runs without an import-wrap key: its tokens cannot sign imports, and say so.
  CHECK(parsed["tokens"][0]["signs_imports"] == false);
  CHECK(tokens_text.out.find("no key") != std::string::npos);

  auto viewer = run({"apitoken", "create", "dashboard", "--role", "viewer"});
  REQUIRE(viewer.code == kExitOk);
  const size_t viewer_at = viewer.out.find("dza_");
  REQUIRE(viewer_at != std::string::npos);
  const std::string viewer_token = viewer.out.substr(viewer_at, 68);
  auto forbidden = Run({"--server", url, "--token", viewer_token, "org", "create", "X"});
  CHECK(forbidden.code == kExitApiError);
  CHECK(forbidden.err.find("viewer") != std::string::npos);
  auto api_tokens = run({"apitoken", "list"});
  REQUIRE(api_tokens.code == kExitOk);
  CHECK(api_tokens.out.find("dashboard") != std::string::npos);

  auto unauthenticated = Run({"--server", url, "org", "list"});
  CHECK(unauthenticated.code == kExitApiError);
  CHECK(unauthenticated.err.find("token") != std::string::npos);
  http_server.Stop();
}

}  // namespace
}  // namespace dozor::ctl
