// Management API over a real socket: HttpServer on 127.0.0.1:0 over a real SQLite store in a temp
// dir, driven by dozorctl's ApiClient (libcurl) and raw sockets.
#include "http/http_server.hpp"

#include <doctest/doctest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <boost/asio.hpp>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "ctl/api_client.hpp"
#include "dozor/common/clock.hpp"
#include "dozor/common/crypto.hpp"
#include "dozor/common/files.hpp"
#include "dozor/common/text.hpp"
#include "dozor/contract/snapshot_file.hpp"
#include "http/auth.hpp"
#include "ingest/agent_control.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "test_util.hpp"

namespace dozor::server::http {
namespace {

class FakeAgentControl final : public AgentControl {
 public:
  [[nodiscard]] bool IsConnected(std::string_view agent_id) const override {
    std::lock_guard lock(mutex_);
    return connected_.count(std::string(agent_id)) > 0;
  }
  Result<uint64_t> SendCommand(std::string_view agent_id, dozor::v1::Command command) override {
    std::lock_guard lock(mutex_);
    if (connected_.count(std::string(agent_id)) == 0) {
      return MakeError(ErrorCode::kUnavailable, "not connected");
    }
    command.set_id(++next_id_);
    sent_.emplace_back(std::string(agent_id), command);
    return command.id();
  }
  void Disconnect(std::string_view agent_id) override {
    std::lock_guard lock(mutex_);
    connected_.erase(std::string(agent_id));
    disconnected_.emplace_back(agent_id);
  }
  void Connect(const std::string& agent_id) {
    std::lock_guard lock(mutex_);
    connected_.insert(agent_id);
  }
  std::vector<std::pair<std::string, dozor::v1::Command>> sent() const {
    std::lock_guard lock(mutex_);
    return sent_;
  }
  std::vector<std::string> disconnected() const {
    std::lock_guard lock(mutex_);
    return disconnected_;
  }

 private:
  mutable std::mutex mutex_;
  std::set<std::string> connected_;
  std::vector<std::pair<std::string, dozor::v1::Command>> sent_;
  std::vector<std::string> disconnected_;
  uint64_t next_id_ = 0;
};

struct ApiFixture {
  explicit ApiFixture(HttpServer::Options options = {}, std::string scheme = "http")
      : scheme_(std::move(scheme)) {
    SqliteStoreOptions store_options;
    store_options.path = (dir / "dozor.db").string();
    auto opened = OpenSqliteStore(store_options);
    REQUIRE_MESSAGE(opened.ok(), (opened.ok() ? "" : opened.error().ToString()));
    store = std::move(opened).value();
    auto bootstrap = BootstrapAdminToken(*store, dir / "admin.token", clock);
    REQUIRE(bootstrap.ok());
    REQUIRE(bootstrap->has_value());
    admin_token = **bootstrap;
    options.address = "127.0.0.1";
    options.port = 0;
    options.grpc_public_address = "dozor.example:8443";
    server = std::make_unique<HttpServer>(options, *store, &agents, clock);
    auto started = server->Start();
    REQUIRE_MESSAGE(started.ok(), (started.ok() ? "" : started.error().ToString()));
    REQUIRE(server->port() != 0);
  }

  [[nodiscard]] std::string Url(const std::string& host = "127.0.0.1") const {
    return scheme_ + "://" + host + ":" + std::to_string(server->port());
  }
  [[nodiscard]] ctl::ApiClient Client(const std::string& token) const {
    ctl::ClientOptions options;
    options.server_url = Url();
    options.token = token;
    options.timeout_seconds = 10;
    return ctl::ApiClient(options);
  }
  [[nodiscard]] ctl::ApiClient Admin() const { return Client(admin_token); }

  // An API token with `role` put straight into the store; returns its plaintext.
  std::string TokenWithRole(const std::string& role) {
    const std::string token = "dza_test_" + role;
    auto created = store->CreateApiToken(role + "-token", *ParseApiRole(role), Sha256Hex(token),
                                         token.substr(0, 12), std::nullopt);
    REQUIRE(created.ok());
    return token;
  }

  // Enrolls an agent with a fresh token of `org` obtained through the API; returns the agent id.
  std::string EnrollThroughApi(const std::string& org, const std::string& agent_id,
                               const std::string& hostname) {
    auto admin = Admin();
    auto token = admin.Post("/api/v1/orgs/" + PercentEncode(org) + "/tokens", {{"label", "test"}});
    REQUIRE_MESSAGE(token.ok(), (token.ok() ? "" : token.error().ToString()));
    NewAgent agent;
    agent.agent_id = agent_id;
    agent.secret_hash = Sha256Hex("secret-" + agent_id);
    agent.hostname = hostname;
    agent.os = "linux";
    auto enrolled =
        store->EnrollAgent(Sha256Hex((*token)["token"].get<std::string>()), agent, clock.NowMs());
    REQUIRE_MESSAGE(enrolled.ok(), (enrolled.ok() ? "" : enrolled.error().ToString()));
    return agent_id;
  }

  dozor::testing::TempDir dir;
  FakeClock clock{1'700'000'000'000};
  FakeAgentControl agents;
  std::unique_ptr<SqliteStore> store;
  std::unique_ptr<HttpServer> server;
  std::string admin_token;
  std::string scheme_;
};

std::string ErrorCodeOf(const ctl::HttpReply& reply) {
  const auto parsed = nlohmann::json::parse(reply.body, nullptr, false);
  if (parsed.is_discarded() || !parsed.contains("error")) {
    return "<no JSON error: " + reply.body + ">";
  }
  return parsed["error"].value("code", "");
}

// Sends raw bytes on a fresh connection and returns whatever comes back before close/timeout.
std::string RawExchange(uint16_t port, const std::string& bytes) {
  namespace net = boost::asio;
  net::io_context io;
  net::ip::tcp::socket socket(io);
  boost::system::error_code ec;
  socket.connect({net::ip::make_address("127.0.0.1"), port}, ec);
  REQUIRE_FALSE(ec);
  net::write(socket, net::buffer(bytes), ec);
  std::string reply;
  char buffer[4096];
  for (;;) {
    const size_t n = socket.read_some(net::buffer(buffer), ec);
    reply.append(buffer, n);
    if (ec) {
      break;
    }
  }
  return reply;
}

dozor::v1::Inventory SampleInventory() {
  dozor::v1::Inventory inventory;
  auto* os = inventory.mutable_os();
  os->set_pretty_name("Debian GNU/Linux 12 (bookworm)");
  os->set_family("linux");
  os->set_kernel("6.1.0-18-amd64");
  auto* hardware = inventory.mutable_hardware();
  hardware->set_memory_total_bytes(16ULL * 1024 * 1024 * 1024);
  hardware->mutable_cpu()->set_model("Intel Xeon E5-2680");
  auto* disk = hardware->add_disks();
  disk->set_name("sda");
  disk->set_size_bytes(500ULL * 1000 * 1000 * 1000);
  disk->set_smart_status("passed");
  auto* eth = inventory.mutable_network()->add_interfaces();
  eth->set_name("eth0");
  auto* ip = eth->add_addresses();
  ip->set_address("10.0.0.5");
  ip->set_prefix(24);
  ip->set_family(4);
  auto* package = inventory.mutable_software()->add_packages();
  package->set_name("openssl");
  package->set_version("3.0.11-1~deb12u2");
  return inventory;
}

TEST_CASE("health endpoint answers without a token") {
  ApiFixture fixture;
  auto client = fixture.Client("");
  auto reply = client.Get("/api/v1/health");
  REQUIRE(reply.ok());
  CHECK((*reply)["status"] == "ok");
  CHECK((*reply)["version"].is_string());
}

TEST_CASE("requests without or with an unknown token get 401 with a JSON error") {
  ApiFixture fixture;
  auto anonymous = fixture.Client("");
  auto reply = anonymous.Send("GET", "/api/v1/orgs");
  REQUIRE(reply.ok());
  CHECK(reply->status == 401);
  CHECK(ErrorCodeOf(*reply) == "unauthenticated");

  auto stranger = fixture.Client("dza_0000000000000000");
  reply = stranger.Send("GET", "/api/v1/orgs");
  REQUIRE(reply.ok());
  CHECK(reply->status == 401);

  auto admin = fixture.Admin();
  reply = admin.Send("GET", "/api/v1/orgs");
  REQUIRE(reply.ok());
  CHECK(reply->status == 200);
}

TEST_CASE("viewer may read but not write and operator may not manage API tokens") {
  ApiFixture fixture;
  auto viewer = fixture.Client(fixture.TokenWithRole("viewer"));
  auto reply = viewer.Send("POST", "/api/v1/orgs", R"({"name":"Acme"})");
  REQUIRE(reply.ok());
  CHECK(reply->status == 403);
  CHECK(ErrorCodeOf(*reply) == "forbidden");
  reply = viewer.Send("GET", "/api/v1/orgs");
  REQUIRE(reply.ok());
  CHECK(reply->status == 200);

  auto op = fixture.Client(fixture.TokenWithRole("operator"));
  reply = op.Send("POST", "/api/v1/orgs", R"({"name":"Acme"})");
  REQUIRE(reply.ok());
  CHECK(reply->status == 201);
  reply = op.Send("GET", "/api/v1/api-tokens");
  REQUIRE(reply.ok());
  CHECK(reply->status == 403);
  reply = op.Send("POST", "/api/v1/api-tokens", R"({"name":"x","role":"admin"})");
  REQUIRE(reply.ok());
  CHECK(reply->status == 403);
}

TEST_CASE("malformed JSON and bad fields get 400 with a JSON error body") {
  ApiFixture fixture;
  auto admin = fixture.Admin();
  auto reply = admin.Send("POST", "/api/v1/orgs", "{not json");
  REQUIRE(reply.ok());
  CHECK(reply->status == 400);
  CHECK(ErrorCodeOf(*reply) == "invalid_argument");

  reply = admin.Send("POST", "/api/v1/orgs", R"(["array"])");
  REQUIRE(reply.ok());
  CHECK(reply->status == 400);
  reply = admin.Send("POST", "/api/v1/orgs", R"({"name":"   "})");
  REQUIRE(reply.ok());
  CHECK(reply->status == 400);
  reply = admin.Send("POST", "/api/v1/orgs", R"({"name":"A","contract_status":"bogus"})");
  REQUIRE(reply.ok());
  CHECK(reply->status == 400);
  reply = admin.Send("POST", "/api/v1/orgs", R"({"name":42})");
  REQUIRE(reply.ok());
  CHECK(reply->status == 400);
  reply = admin.Send("POST", "/api/v1/orgs", "{\"name\":\"" + std::string(201, 'x') + "\"}");
  REQUIRE(reply.ok());
  CHECK(reply->status == 400);
  reply = admin.Send("GET", "/api/v1/hosts/abc/changes?limit=0");
  REQUIRE(reply.ok());
  CHECK(reply->status == 400);
  reply = admin.Send("GET", "/api/v1/hosts/abc/health?limit=10001");
  REQUIRE(reply.ok());
  CHECK(reply->status == 400);
  reply = admin.Send("GET", "/api/v1/hosts/abc/health?limit=12x");
  REQUIRE(reply.ok());
  CHECK(reply->status == 400);
}

TEST_CASE("a body over the limit gets 413") {
  HttpServer::Options options;
  options.max_body_bytes = 64 * 1024;
  ApiFixture fixture(options);
  auto admin = fixture.Admin();
  const std::string big = "{\"name\":\"" + std::string(200 * 1024, 'a') + "\"}";
  auto reply = admin.Send("POST", "/api/v1/orgs", big);
  REQUIRE_MESSAGE(reply.ok(), (reply.ok() ? "" : reply.error().ToString()));
  CHECK(reply->status == 413);
  CHECK(ErrorCodeOf(*reply) == "too_large");
  // The server keeps serving.
  CHECK(admin.Get("/api/v1/orgs").ok());
}

TEST_CASE("unknown routes get 404 and wrong methods 405") {
  ApiFixture fixture;
  auto admin = fixture.Admin();
  auto reply = admin.Send("GET", "/api/v1/nothing-here");
  REQUIRE(reply.ok());
  CHECK(reply->status == 404);
  CHECK(ErrorCodeOf(*reply) == "not_found");
  reply = admin.Send("DELETE", "/api/v1/orgs");
  REQUIRE(reply.ok());
  CHECK(reply->status == 405);
  reply = admin.Send("GET", "/api/v1/orgs/NoSuchOrg");
  REQUIRE(reply.ok());
  CHECK(reply->status == 404);
  reply = admin.Send("GET", "/api/v1/hosts/no-such-agent");
  REQUIRE(reply.ok());
  CHECK(reply->status == 404);
  reply = admin.Send("GET", "/api/v1/hosts/no-such-agent/health");
  REQUIRE(reply.ok());
  CHECK(reply->status == 404);
}

TEST_CASE("organisations are created, found by id or name, patched, and duplicates get 409") {
  ApiFixture fixture;
  auto admin = fixture.Admin();
  auto created = admin.Post(
      "/api/v1/orgs",
      {{"name", "  ООО Ромашка  "}, {"contract_status", "active"}, {"engineer", "Иван"}});
  REQUIRE_MESSAGE(created.ok(), (created.ok() ? "" : created.error().ToString()));
  CHECK((*created)["name"] == "ООО Ромашка");
  CHECK((*created)["contract_status"] == "active");
  CHECK((*created)["contract_type"] == "complex");
  CHECK((*created)["created_at"].is_string());
  const int64_t id = (*created)["id"].get<int64_t>();

  auto duplicate = admin.Send("POST", "/api/v1/orgs", R"({"name":"ООО Ромашка"})");
  REQUIRE(duplicate.ok());
  CHECK(duplicate->status == 409);
  CHECK(ErrorCodeOf(*duplicate) == "already_exists");

  auto by_name = admin.Get("/api/v1/orgs/" + PercentEncode("ООО Ромашка"));
  REQUIRE(by_name.ok());
  CHECK((*by_name)["id"] == id);
  auto patched = admin.Patch("/api/v1/orgs/" + std::to_string(id),
                             {{"contract_type", "technical"}, {"engineer", "Пётр"}});
  REQUIRE(patched.ok());
  CHECK((*patched)["contract_type"] == "technical");
  CHECK((*patched)["engineer"] == "Пётр");
  CHECK((*patched)["contract_status"] == "active");
  auto bad_patch = admin.Send("PATCH", "/api/v1/orgs/" + std::to_string(id), R"({"name":"x"})");
  REQUIRE(bad_patch.ok());
  CHECK(bad_patch->status == 400);

  // An escaped slash stays inside the name instead of changing the route.
  REQUIRE(admin.Post("/api/v1/orgs", {{"name", "Sales/North"}}).ok());
  auto slashed = admin.Get("/api/v1/orgs/" + PercentEncode("Sales/North"));
  REQUIRE(slashed.ok());
  CHECK((*slashed)["name"] == "Sales/North");

  auto list = admin.Get("/api/v1/orgs");
  REQUIRE(list.ok());
  REQUIRE((*list)["organizations"].size() == 2);
}

TEST_CASE("an enrollment token from the API enrolls an agent and the host is listed") {
  ApiFixture fixture;
  auto admin = fixture.Admin();
  REQUIRE(admin.Post("/api/v1/orgs", {{"name", "Acme"}}).ok());
  auto token = admin.Post("/api/v1/orgs/Acme/tokens", {{"label", "rollout"}, {"ttl_hours", 1}});
  REQUIRE(token.ok());
  const std::string plaintext = (*token)["token"];
  CHECK(plaintext.rfind("dze_", 0) == 0);
  CHECK(plaintext.size() == 4 + 64);
  CHECK((*token)["hint"] == plaintext.substr(0, 12));
  CHECK((*token)["enroll_command"] ==
        "dozor-agent enroll --server dozor.example:8443 --token " + plaintext);
  CHECK((*token)["expires_at_ms"] == fixture.clock.NowMs() + 3600 * 1000);

  NewAgent agent;
  agent.agent_id = "agent-1";
  agent.secret_hash = Sha256Hex("s");
  agent.hostname = "db1";
  auto enrolled = fixture.store->EnrollAgent(Sha256Hex(plaintext), agent, fixture.clock.NowMs());
  REQUIRE_MESSAGE(enrolled.ok(), (enrolled.ok() ? "" : enrolled.error().ToString()));
  CHECK(enrolled->org_name == "Acme");

  auto hosts = admin.Get("/api/v1/hosts?org=Acme");
  REQUIRE(hosts.ok());
  REQUIRE((*hosts)["hosts"].size() == 1);
  CHECK((*hosts)["hosts"][0]["agent_id"] == "agent-1");
  CHECK((*hosts)["hosts"][0]["hostname"] == "db1");
  CHECK((*hosts)["hosts"][0]["org"] == "Acme");
  CHECK((*hosts)["hosts"][0]["online"] == false);

  auto tokens = admin.Get("/api/v1/tokens?org=Acme");
  REQUIRE(tokens.ok());
  REQUIRE((*tokens)["tokens"].size() == 1);
  CHECK((*tokens)["tokens"][0]["uses"] == 1);
  CHECK((*tokens)["tokens"][0]["state"] == "active");
  CHECK_FALSE((*tokens)["tokens"][0].contains("token"));

  const int64_t token_id = (*tokens)["tokens"][0]["id"];
  REQUIRE(
      admin.Post("/api/v1/tokens/" + std::to_string(token_id) + "/revoke", nlohmann::json::object())
          .ok());
  agent.agent_id = "agent-2";
  CHECK_FALSE(fixture.store->EnrollAgent(Sha256Hex(plaintext), agent, fixture.clock.NowMs()).ok());

  auto bad_ttl = admin.Send("POST", "/api/v1/orgs/Acme/tokens", R"({"ttl_hours":9000})");
  REQUIRE(bad_ttl.ok());
  CHECK(bad_ttl->status == 400);
  auto missing_org = admin.Send("POST", "/api/v1/orgs/Nope/tokens", "{}");
  REQUIRE(missing_org.ok());
  CHECK(missing_org->status == 404);
}

TEST_CASE("host inventory, changes and health are served as JSON") {
  ApiFixture fixture;
  auto admin = fixture.Admin();
  REQUIRE(admin.Post("/api/v1/orgs", {{"name", "Acme"}}).ok());
  const std::string id = fixture.EnrollThroughApi("Acme", "agent-inv", "db1");

  std::vector<IncomingReport> batch(2);
  batch[0].agent_id = id;
  batch[0].received_at_ms = fixture.clock.NowMs();
  batch[0].report.set_seq(1);
  batch[0].report.set_collected_at_ms(fixture.clock.NowMs() - 1000);
  *batch[0].report.mutable_inventory() = SampleInventory();
  auto* collector = batch[0].report.add_collectors();
  collector->set_name("packages");
  collector->set_ok(true);
  batch[1].agent_id = id;
  batch[1].received_at_ms = fixture.clock.NowMs();
  batch[1].report.set_seq(2);
  batch[1].report.set_collected_at_ms(fixture.clock.NowMs() - 500);
  auto* health = batch[1].report.mutable_health();
  health->set_cpu_percent(42.5);
  health->set_memory_total_bytes(1000);
  health->set_memory_available_bytes(250);
  auto* fs = health->add_filesystems();
  fs->set_mount_point("/var");
  fs->set_total_bytes(100);
  fs->set_available_bytes(10);
  auto committed = fixture.store->CommitReports(batch);
  REQUIRE_MESSAGE(committed.ok(), (committed.ok() ? "" : committed.error().ToString()));

  auto host = admin.Get("/api/v1/hosts/" + id);
  REQUIRE(host.ok());
  CHECK((*host)["online"] == true);  // seen just now
  CHECK((*host)["os_pretty_name"] == "Debian GNU/Linux 12 (bookworm)");
  fixture.clock.AdvanceMs(181 * 1000);
  host = admin.Get("/api/v1/hosts/" + id);
  REQUIRE(host.ok());
  CHECK((*host)["online"] == false);
  fixture.agents.Connect(id);
  host = admin.Get("/api/v1/hosts/" + id);
  REQUIRE(host.ok());
  CHECK((*host)["online"] == true);

  auto inventory = admin.Get("/api/v1/hosts/" + id + "/inventory");
  REQUIRE(inventory.ok());
  const auto& inv = (*inventory)["inventory"];
  CHECK(inv["os"]["pretty_name"] == "Debian GNU/Linux 12 (bookworm)");
  CHECK(inv["hardware"]["cpu"]["model"] == "Intel Xeon E5-2680");
  CHECK(inv["software"]["packages"][0]["name"] == "openssl");
  CHECK(inv["network"]["interfaces"][0]["addresses"][0]["address"] == "10.0.0.5");
  REQUIRE((*inventory)["collectors"].size() == 1);
  CHECK((*inventory)["collectors"][0]["name"] == "packages");

  auto samples = admin.Get("/api/v1/hosts/" + id + "/health?limit=10");
  REQUIRE(samples.ok());
  REQUIRE((*samples)["samples"].size() == 1);
  const auto& sample = (*samples)["samples"][0];
  CHECK(sample["sample"]["cpu_percent"].get<double>() == doctest::Approx(42.5));
  CHECK(sample["derived"]["memory_used_percent"].get<double>() == doctest::Approx(75.0));
  CHECK(sample["derived"]["fullest_filesystem"]["mount_point"] == "/var");
  CHECK(sample["derived"]["fullest_filesystem"]["used_percent"].get<double>() ==
        doctest::Approx(90.0));
  CHECK(sample["collected_at"].is_string());

  auto changes = admin.Get("/api/v1/hosts/" + id + "/changes?limit=100&since=0");
  REQUIRE(changes.ok());
  CHECK((*changes)["changes"].is_array());
}

TEST_CASE("commands reach connected agents only and intervals are range-checked") {
  ApiFixture fixture;
  auto admin = fixture.Admin();
  REQUIRE(admin.Post("/api/v1/orgs", {{"name", "Acme"}}).ok());
  const std::string id = fixture.EnrollThroughApi("Acme", "agent-cmd", "app1");

  auto offline =
      admin.Send("POST", "/api/v1/hosts/" + id + "/commands", R"({"collect_inventory":true})");
  REQUIRE(offline.ok());
  CHECK(offline->status == 409);

  fixture.agents.Connect(id);
  auto sent =
      admin.Send("POST", "/api/v1/hosts/" + id + "/commands", R"({"collect_inventory":true})");
  REQUIRE(sent.ok());
  CHECK(sent->status == 202);
  CHECK(nlohmann::json::parse(sent->body)["command_id"] == 1);

  auto too_fast =
      admin.Send("POST", "/api/v1/hosts/" + id + "/commands", R"({"health_interval_seconds":5})");
  REQUIRE(too_fast.ok());
  CHECK(too_fast->status == 400);
  auto both = admin.Send("POST", "/api/v1/hosts/" + id + "/commands",
                         R"({"collect_inventory":true,"health_interval_seconds":60})");
  REQUIRE(both.ok());
  CHECK(both->status == 400);
  auto intervals =
      admin.Send("POST", "/api/v1/hosts/" + id + "/commands",
                 R"({"health_interval_seconds":30,"inventory_interval_seconds":3600})");
  REQUIRE(intervals.ok());
  CHECK(intervals->status == 202);

  const auto commands = fixture.agents.sent();
  REQUIRE(commands.size() == 2);
  CHECK(commands[0].second.has_collect_inventory());
  CHECK(commands[1].second.set_intervals().health_interval_seconds() == 30);
  CHECK(commands[1].second.set_intervals().inventory_interval_seconds() == 3600);

  auto revoked = admin.Post("/api/v1/hosts/" + id + "/revoke", nlohmann::json::object());
  REQUIRE(revoked.ok());
  REQUIRE(fixture.agents.disconnected().size() == 1);
  CHECK(fixture.agents.disconnected()[0] == id);
  auto credential = fixture.store->GetAgentCredential(id);
  REQUIRE(credential.ok());
  CHECK(credential->revoked);
}

TEST_CASE("API tokens created by an admin authenticate with their role and can be revoked") {
  ApiFixture fixture;
  auto admin = fixture.Admin();
  auto created = admin.Post("/api/v1/api-tokens", {{"name", "dashboard"}, {"role", "viewer"}});
  REQUIRE(created.ok());
  const std::string token = (*created)["token"];
  CHECK(token.rfind("dza_", 0) == 0);
  auto viewer = fixture.Client(token);
  CHECK(viewer.Get("/api/v1/orgs").ok());
  auto list = admin.Get("/api/v1/api-tokens");
  REQUIRE(list.ok());
  CHECK((*list)["api_tokens"].size() == 2);  // bootstrap + dashboard
  auto bad_role = admin.Send("POST", "/api/v1/api-tokens", R"({"name":"x","role":"root"})");
  REQUIRE(bad_role.ok());
  CHECK(bad_role->status == 400);
  const int64_t id = (*created)["id"];
  REQUIRE(
      admin.Post("/api/v1/api-tokens/" + std::to_string(id) + "/revoke", nlohmann::json::object())
          .ok());
  auto after = viewer.Send("GET", "/api/v1/orgs");
  REQUIRE(after.ok());
  CHECK(after->status == 401);
}

TEST_CASE("garbage bytes on the socket do not crash the server") {
  ApiFixture fixture;
  static constexpr char kGarbage[] = "\x16\x03\x01\xff\xfe garbage \r\n\r\n\x00\x01";
  const std::string garbage(kGarbage, sizeof(kGarbage) - 1);
  const std::string reply = RawExchange(fixture.server->port(), garbage);
  CHECK(reply.find("400") != std::string::npos);
  RawExchange(fixture.server->port(), "GET / HTTP/9.9\r\nContent-Length: -5\r\n\r\n");
  RawExchange(fixture.server->port(), std::string(64 * 1024, 'A') + "\r\n\r\n");
  const std::string ok =
      RawExchange(fixture.server->port(),
                  "GET /api/v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  CHECK(ok.find("200 OK") != std::string::npos);
  CHECK(ok.find("application/json") != std::string::npos);
  CHECK(fixture.Admin().Get("/api/v1/orgs").ok());
}

TEST_CASE("bootstrap admin token is written once with mode 0600") {
  dozor::testing::TempDir dir;
  SqliteStoreOptions options;
  options.path = (dir / "dozor.db").string();
  auto store = OpenSqliteStore(options);
  REQUIRE(store.ok());
  FakeClock clock;
  const auto path = dir / "secrets" / "admin.token";
  auto first = BootstrapAdminToken(**store, path, clock);
  REQUIRE_MESSAGE(first.ok(), (first.ok() ? "" : first.error().ToString()));
  REQUIRE(first->has_value());
  CHECK((*first)->rfind("dza_", 0) == 0);
  auto content = ReadFile(path);
  REQUIRE(content.ok());
  CHECK(*content == **first + "\n");
  struct stat info {};
  REQUIRE(::stat(path.c_str(), &info) == 0);
  CHECK((info.st_mode & 0777) == 0600);
  auto authenticated = (*store)->AuthenticateApiToken(Sha256Hex(**first), clock.NowMs());
  REQUIRE(authenticated.ok());
  CHECK(authenticated->role == ApiRole::kAdmin);

  auto second = BootstrapAdminToken(**store, path, clock);
  REQUIRE(second.ok());
  CHECK_FALSE(second->has_value());
  auto unchanged = ReadFile(path);
  REQUIRE(unchanged.ok());
  CHECK(*unchanged == *content);
}

TEST_CASE("HTTPS with a self-signed certificate works when the client trusts it") {
  dozor::testing::TempDir certs;
  const auto cert = certs / "cert.pem";
  const auto key = certs / "key.pem";
  const std::string command =
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost "
      "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout " +
      key.string() + " -out " + cert.string() + " >/dev/null 2>&1";
  REQUIRE(std::system(command.c_str()) == 0);

  HttpServer::Options options;
  options.tls_cert_file = cert.string();
  options.tls_key_file = key.string();
  ApiFixture fixture(options, "https");

  ctl::ClientOptions client_options;
  client_options.server_url = fixture.Url();
  client_options.token = fixture.admin_token;
  client_options.ca_file = cert.string();
  client_options.timeout_seconds = 10;
  ctl::ApiClient trusting(client_options);
  auto reply = trusting.Get("/api/v1/orgs");
  REQUIRE_MESSAGE(reply.ok(), (reply.ok() ? "" : reply.error().ToString()));
  CHECK((*reply)["organizations"].is_array());

  // Without the CA the certificate is not trusted: a connection-level failure, not a reply.
  client_options.ca_file.clear();
  ctl::ApiClient untrusting(client_options);
  auto refused = untrusting.Get("/api/v1/orgs");
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ErrorCode::kUnavailable);

  // Plain HTTP to the TLS port gets no HTTP answer, and the server keeps serving TLS clients.
  const std::string plain =
      RawExchange(fixture.server->port(), "GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(plain.find("200 OK") == std::string::npos);
  CHECK(trusting.Get("/api/v1/health").ok());
}

// Like RawExchange, but gives up after `seconds` without an answer (a server waiting for a body
// that never comes must fail the test, not hang it).
std::string RawExchangeWithin(uint16_t port, const std::string& bytes, int seconds) {
  namespace net = boost::asio;
  net::io_context io;
  net::ip::tcp::socket socket(io);
  boost::system::error_code ec;
  socket.connect({net::ip::make_address("127.0.0.1"), port}, ec);
  REQUIRE_FALSE(ec);
  timeval timeout{};
  timeout.tv_sec = seconds;
  REQUIRE(::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &timeout,
                       sizeof(timeout)) == 0);
  net::write(socket, net::buffer(bytes), ec);
  std::string reply;
  char buffer[4096];
  for (;;) {
    const size_t n = socket.read_some(net::buffer(buffer), ec);
    reply.append(buffer, n);
    if (ec) {
      break;
    }
  }
  return reply;
}

std::string StatusLine(const std::string& reply) { return reply.substr(0, reply.find("\r\n")); }

// A real slow route: POST .../evaluate with an evaluate_now that blocks until released.
struct BlockingEvaluation {
  std::function<Status(int64_t)> Hook() {
    return [this](int64_t) {
      {
        std::lock_guard lock(mutex);
        ++entered;
      }
      changed.notify_all();
      std::unique_lock lock(mutex);
      changed.wait_for(lock, std::chrono::seconds(20), [this] { return released; });
      return OkStatus();
    };
  }
  bool WaitEntered(int count) {
    std::unique_lock lock(mutex);
    return changed.wait_for(lock, std::chrono::seconds(10), [&] { return entered >= count; });
  }
  void Release() {
    {
      std::lock_guard lock(mutex);
      released = true;
    }
    changed.notify_all();
  }
  std::mutex mutex;
  std::condition_variable changed;
  int entered = 0;
  bool released = false;
};

TEST_CASE("a slow handler does not delay a fast one") {
  BlockingEvaluation evaluation;
  HttpServer::Options options;
  options.workers = 1;  // even one worker stays free: slow routes have their own pool
  options.slow_workers = 1;
  options.evaluate_now = evaluation.Hook();
  ApiFixture fixture(options);
  auto admin = fixture.Admin();
  REQUIRE(admin.Post("/api/v1/orgs", {{"name", "Acme"}}).ok());

  std::optional<Result<ctl::HttpReply>> slow_reply;
  std::thread slow([&] {
    auto client = fixture.Admin();
    slow_reply.emplace(client.Send("POST", "/api/v1/orgs/Acme/evaluate", "{}"));
  });
  REQUIRE(evaluation.WaitEntered(1));
  const auto started = std::chrono::steady_clock::now();
  auto fast = admin.Get("/api/v1/orgs");
  const auto took = std::chrono::steady_clock::now() - started;
  evaluation.Release();
  slow.join();
  REQUIRE_MESSAGE(fast.ok(), (fast.ok() ? "" : fast.error().ToString()));
  CHECK((*fast)["organizations"].size() == 1);
  CHECK(took < std::chrono::seconds(2));
  REQUIRE(slow_reply.has_value());
  REQUIRE(slow_reply->ok());
  CHECK((*slow_reply)->status == 200);
}

TEST_CASE("a full slow queue answers 503 with Retry-After and the server recovers") {
  BlockingEvaluation evaluation;
  HttpServer::Options options;
  options.slow_workers = 1;
  options.slow_queue = 0;
  options.evaluate_now = evaluation.Hook();
  ApiFixture fixture(options);
  auto admin = fixture.Admin();
  REQUIRE(admin.Post("/api/v1/orgs", {{"name", "Acme"}}).ok());
  std::thread slow([&] {
    auto client = fixture.Admin();
    (void)client.Send("POST", "/api/v1/orgs/Acme/evaluate", "{}");
  });
  REQUIRE(evaluation.WaitEntered(1));
  const std::string busy = RawExchangeWithin(
      fixture.server->port(),
      "POST /api/v1/orgs/Acme/evaluate HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
          fixture.admin_token + "\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
      10);
  evaluation.Release();
  slow.join();
  CHECK(StatusLine(busy) == "HTTP/1.1 503 Service Unavailable");
  CHECK(busy.find("Retry-After: 5") != std::string::npos);
  auto again = admin.Send("POST", "/api/v1/orgs/Acme/evaluate", "{}");
  REQUIRE(again.ok());
  CHECK(again->status == 200);
}

TEST_CASE("the connection over the cap gets 503 and is closed, a freed slot is reused") {
  HttpServer::Options options;
  options.max_connections = 2;
  ApiFixture fixture(options);
  namespace net = boost::asio;
  net::io_context io;
  const std::string health = "GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n";
  std::vector<std::unique_ptr<net::ip::tcp::socket>> open;
  for (int i = 0; i < 2; ++i) {
    auto socket = std::make_unique<net::ip::tcp::socket>(io);
    socket->connect({net::ip::make_address("127.0.0.1"), fixture.server->port()});
    net::write(*socket, net::buffer(health));
    char buffer[4096];
    const size_t n = socket->read_some(net::buffer(buffer));  // kept alive afterwards
    CHECK(std::string(buffer, n).rfind("HTTP/1.1 200", 0) == 0);
    open.push_back(std::move(socket));
  }
  const std::string refused = RawExchangeWithin(fixture.server->port(), health, 10);
  CHECK(StatusLine(refused) == "HTTP/1.1 503 Service Unavailable");
  CHECK(refused.find("Retry-After: 5") != std::string::npos);
  CHECK(refused.find("too many connections") != std::string::npos);

  open.front()->close();
  std::string reply;
  for (int attempt = 0; attempt < 50; ++attempt) {  // the server notices the close shortly
    reply = RawExchangeWithin(fixture.server->port(),
                              "GET /api/v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                              10);
    if (StatusLine(reply) == "HTTP/1.1 200 OK") {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(StatusLine(reply) == "HTTP/1.1 200 OK");
}

TEST_CASE("an unauthenticated or unauthorised upload is refused before its body is sent") {
  ApiFixture fixture;
  auto admin = fixture.Admin();
  REQUIRE(admin.Post("/api/v1/orgs", {{"name", "Acme"}}).ok());
  const std::string viewer = fixture.TokenWithRole("viewer");
  // Headers only: the server must answer without waiting for the 10 MB it was promised.
  const std::string headers =
      "POST /api/v1/orgs/Acme/imports HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Content-Length: 10000000\r\n";
  const std::string anonymous = RawExchangeWithin(fixture.server->port(), headers + "\r\n", 10);
  CHECK(StatusLine(anonymous) == "HTTP/1.1 401 Unauthorized");
  CHECK(anonymous.find("Connection: close") != std::string::npos);
  const std::string forbidden = RawExchangeWithin(
      fixture.server->port(), headers + "Authorization: Bearer " + viewer + "\r\n\r\n", 10);
  CHECK(StatusLine(forbidden) == "HTTP/1.1 403 Forbidden");
  CHECK(admin.Get("/api/v1/health").ok());
}

TEST_CASE("a body over the route's limit gets 413 from Content-Length alone") {
  HttpServer::Options options;
  options.max_body_bytes = 64 * 1024;
  ApiFixture fixture(options);
  const std::string auth = "Authorization: Bearer " + fixture.admin_token + "\r\n";
  const std::string small_route = RawExchangeWithin(
      fixture.server->port(),
      "POST /api/v1/orgs HTTP/1.1\r\nHost: x\r\n" + auth + "Content-Length: 70000\r\n\r\n", 10);
  CHECK(StatusLine(small_route) == "HTTP/1.1 413 Payload Too Large");
  CHECK(small_route.find("65536") != std::string::npos);
  // Imports have their own limit (one snapshot file), far above the default.
  REQUIRE(fixture.Admin().Post("/api/v1/orgs", {{"name", "Acme"}}).ok());
  const std::string import_route = RawExchangeWithin(
      fixture.server->port(),
      "POST /api/v1/orgs/Acme/imports HTTP/1.1\r\nHost: x\r\n" + auth +
          "Content-Length: " + std::to_string(kMaxSnapshotFileBytes + 1) + "\r\n\r\n",
      10);
  CHECK(StatusLine(import_route) == "HTTP/1.1 413 Payload Too Large");
  CHECK(import_route.find(std::to_string(kMaxSnapshotFileBytes)) != std::string::npos);
  // Under that limit an import body is read (and here refused as not a snapshot file).
  const std::string body = "{\"name\":\"" + std::string(200 * 1024, 'a') + "\"}";
  const std::string read = RawExchangeWithin(
      fixture.server->port(),
      "POST /api/v1/orgs/Acme/imports HTTP/1.1\r\nHost: x\r\n" + auth +
          "Connection: close\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body,
      10);
  CHECK(StatusLine(read) == "HTTP/1.1 400 Bad Request");
}

TEST_CASE("Expect: 100-continue gets 100 Continue once the caller is admitted") {
  ApiFixture fixture;
  namespace net = boost::asio;
  net::io_context io;
  net::ip::tcp::socket socket(io);
  socket.connect({net::ip::make_address("127.0.0.1"), fixture.server->port()});
  const std::string body = R"({"name":"Acme"})";
  net::write(socket, net::buffer("POST /api/v1/orgs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                                 fixture.admin_token +
                                 "\r\nExpect: 100-continue\r\n"
                                 "Connection: close\r\nContent-Length: " +
                                 std::to_string(body.size()) + "\r\n\r\n"));
  char buffer[4096];
  const size_t n = socket.read_some(net::buffer(buffer));
  CHECK(std::string(buffer, n).rfind("HTTP/1.1 100 Continue\r\n", 0) == 0);
  net::write(socket, net::buffer(body));
  std::string reply;
  boost::system::error_code ec;
  while (!ec) {
    const size_t got = socket.read_some(net::buffer(buffer), ec);
    reply.append(buffer, got);
  }
  CHECK(reply.find("HTTP/1.1 201 Created") != std::string::npos);
}

// A raw client connection whose reads give up after a timeout (poll(); Asio's blocking reads
// ignore SO_RCVTIMEO), for requests sent or trickled in pieces.
class RawConnection {
 public:
  RawConnection(uint16_t port, int receive_timeout_seconds)
      : socket_(io_), timeout_(std::chrono::seconds(receive_timeout_seconds)) {
    namespace net = boost::asio;
    socket_.connect({net::ip::make_address("127.0.0.1"), port});
    ::signal(SIGPIPE, SIG_IGN);  // a write after the server closed must fail, not kill the test
  }
  // False once the server has closed the connection (the write fails).
  bool Send(const std::string& bytes) {
    boost::system::error_code ec;
    boost::asio::write(socket_, boost::asio::buffer(bytes), ec);
    return !ec;
  }
  // What arrives until the server closes the connection or the timeout passes.
  std::string ReadUntilClosedOrTimeout() {
    std::string reply;
    const auto deadline = std::chrono::steady_clock::now() + timeout_;
    while (WaitReadable(deadline)) {
      if (!ReadInto(reply)) {
        break;
      }
    }
    return reply;
  }
  // The first bytes that arrive within the timeout (e.g. "100 Continue"); empty if none.
  std::string ReadSome() {
    std::string reply;
    if (WaitReadable(std::chrono::steady_clock::now() + timeout_)) {
      ReadInto(reply);
    }
    return reply;
  }
  [[nodiscard]] bool closed_by_server() const { return closed_by_server_; }
  void Close() { socket_.close(); }

 private:
  bool WaitReadable(std::chrono::steady_clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return false;
    }
    pollfd readable{socket_.native_handle(), POLLIN, 0};
    return ::poll(&readable, 1, static_cast<int>(left.count())) > 0;
  }
  // False when the connection ended (closed_by_server_ says whether the server closed it).
  bool ReadInto(std::string& reply) {
    char buffer[4096];
    boost::system::error_code ec;
    const size_t n = socket_.read_some(boost::asio::buffer(buffer), ec);
    reply.append(buffer, n);
    if (ec) {
      closed_by_server_ =
          ec == boost::asio::error::eof || ec == boost::asio::error::connection_reset;
      return false;
    }
    return true;
  }

  boost::asio::io_context io_;
  boost::asio::ip::tcp::socket socket_;
  std::chrono::milliseconds timeout_;
  bool closed_by_server_ = false;
};

// Sends `bytes` and returns what comes back within `seconds` (less if the server closes first).
std::string ExchangeWithin(uint16_t port, const std::string& bytes, int seconds) {
  RawConnection connection(port, seconds);
  if (!connection.Send(bytes)) {
    return {};
  }
  return connection.ReadUntilClosedOrTimeout();
}

std::string ImportHeaders(const std::string& token, size_t content_length, bool expect_continue) {
  return "POST /api/v1/orgs/Acme/imports HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token +
         "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(content_length) +
         "\r\n" + (expect_continue ? "Expect: 100-continue\r\n" : "") + "\r\n";
}

TEST_CASE("at most two uploads are received at once, a third gets 503 before its body") {
  ApiFixture fixture;
  REQUIRE(fixture.Admin().Post("/api/v1/orgs", {{"name", "Acme"}}).ok());
  const uint16_t port = fixture.server->port();
  // Two uploads admitted (100 Continue) whose bodies are still on their way.
  std::vector<std::unique_ptr<RawConnection>> uploads;
  for (int i = 0; i < 2; ++i) {
    uploads.push_back(std::make_unique<RawConnection>(port, 10));
    REQUIRE(uploads.back()->Send(ImportHeaders(fixture.admin_token, 1'000'000, true)));
    CHECK(uploads.back()->ReadSome().rfind("HTTP/1.1 100 Continue", 0) == 0);
    REQUIRE(uploads.back()->Send(std::string(1000, ' ')));
  }
  // A third is refused on its headers: no 100 Continue, no waiting for the promised megabyte.
  const std::string refused =
      ExchangeWithin(port, ImportHeaders(fixture.admin_token, 1'000'000, false), 5);
  CHECK(StatusLine(refused) == "HTTP/1.1 503 Service Unavailable");
  CHECK(refused.find("Retry-After: 5") != std::string::npos);
  CHECK(refused.find("\"code\":\"unavailable\"") != std::string::npos);
  CHECK(refused.find("uploads") != std::string::npos);
  // Small requests are not affected.
  CHECK(fixture.Admin().Get("/api/v1/orgs").ok());

  // A finished (or abandoned) upload frees its slot.
  uploads.front()->Close();
  std::string admitted;
  for (int attempt = 0; attempt < 50; ++attempt) {
    RawConnection next(port, 5);
    REQUIRE(next.Send(ImportHeaders(fixture.admin_token, 1'000'000, true)));
    admitted = next.ReadSome();
    if (admitted.rfind("HTTP/1.1 100 Continue", 0) == 0) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(admitted.rfind("HTTP/1.1 100 Continue", 0) == 0);
}

TEST_CASE("a trickled upload body is cut at its deadline instead of holding its slot") {
  HttpServer::Options options;
  options.read_timeout_seconds = 1;
  ApiFixture fixture(options);
  REQUIRE(fixture.Admin().Post("/api/v1/orgs", {{"name", "Acme"}}).ok());
  // 1000 bytes promised, one byte sent every 200 ms: that would take 200 s.
  RawConnection upload(fixture.server->port(), 1);
  REQUIRE(upload.Send(ImportHeaders(fixture.admin_token, 1000, false)));
  const auto started = std::chrono::steady_clock::now();
  bool open = true;
  while (open && std::chrono::steady_clock::now() - started < std::chrono::seconds(8)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    open = upload.Send("{");
  }
  if (open) {
    upload.ReadUntilClosedOrTimeout();
    open = !upload.closed_by_server();
  }
  const auto took = std::chrono::steady_clock::now() - started;
  CHECK_FALSE(open);
  CHECK(took < std::chrono::seconds(6));
}

TEST_CASE("a connection that never completes its header is closed at the header deadline") {
  HttpServer::Options options;
  options.read_timeout_seconds = 1;
  ApiFixture fixture(options);
  RawConnection idle(fixture.server->port(), 1);
  REQUIRE(idle.Send("GET /api/v1/health HTTP/1.1\r\nHost: x\r\n"));
  const auto started = std::chrono::steady_clock::now();
  bool open = true;
  while (open && std::chrono::steady_clock::now() - started < std::chrono::seconds(8)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    open = idle.Send("X-Slow: 1\r\n");  // a header line now and then, never the blank line
  }
  if (open) {
    idle.ReadUntilClosedOrTimeout();
    open = !idle.closed_by_server();
  }
  CHECK_FALSE(open);
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(6));
}

TEST_CASE("wrong bearer tokens from one address are answered 429 after ten failures") {
  ApiFixture fixture;
  auto stranger = fixture.Client("dza_" + std::string(64, '1'));
  for (int i = 0; i < 10; ++i) {
    auto reply = stranger.Send("GET", "/api/v1/orgs");
    REQUIRE(reply.ok());
    CHECK(reply->status == 401);
  }
  // The eleventh guess is not checked at all; neither is a good token from that address.
  const std::string throttled =
      ExchangeWithin(fixture.server->port(),
                     "GET /api/v1/orgs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                         fixture.admin_token + "\r\nConnection: close\r\n\r\n",
                     5);
  CHECK(StatusLine(throttled) == "HTTP/1.1 429 Too Many Requests");
  CHECK(throttled.find("Retry-After: 60") != std::string::npos);
  CHECK(throttled.find("\"code\":\"too_many_requests\"") != std::string::npos);
  // Public routes stay open.
  CHECK(fixture.Client("").Get("/api/v1/health").ok());
  // The block ends.
  fixture.clock.AdvanceMs(61'000);
  auto admin = fixture.Admin().Send("GET", "/api/v1/orgs");
  REQUIRE(admin.ok());
  CHECK(admin->status == 200);
}

TEST_CASE("TLS configuration errors are reported by Start") {
  dozor::testing::TempDir dir;
  SqliteStoreOptions store_options;
  store_options.path = (dir / "dozor.db").string();
  auto store = OpenSqliteStore(store_options);
  REQUIRE(store.ok());
  FakeClock clock;
  HttpServer::Options options;
  options.tls_cert_file = (dir / "missing.pem").string();
  HttpServer only_cert(options, **store, nullptr, clock);
  CHECK_FALSE(only_cert.Start().ok());
  options.tls_key_file = (dir / "missing-key.pem").string();
  HttpServer missing(options, **store, nullptr, clock);
  auto started = missing.Start();
  REQUIRE_FALSE(started.ok());
  CHECK(started.error().message.find("missing.pem") != std::string::npos);
}

}  // namespace
}  // namespace dozor::server::http
