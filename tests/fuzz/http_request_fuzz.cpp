// Fuzz target: the management API from raw bytes on the socket to the response. The input is an
// HTTP/1.1 request; it goes through Beast's parser with the server's header limit and default
// body limit, the transport's head conversion (request_head.hpp: path and query decoding), the
// router, authentication and role checks, and the route's handler over a real SQLite store in a
// temporary directory, with the built-in rule pack loaded.
//
// "Authorization: Bearer FUZZ-ADMIN" (or FUZZ-OPERATOR, FUZZ-VIEWER) in an input stands for a
// valid token of that role, so the fuzzer explores the handlers behind authentication; any other
// value is passed through as the attacker sent it.
#include <unistd.h>

#include <boost/beast/core/error.hpp>
#include <boost/beast/http.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "dozor/common/clock.hpp"
#include "dozor/common/crypto.hpp"
#include "http/api_service.hpp"
#include "http/request_head.hpp"
#include "rules/rule.hpp"
#include "store/sqlite/sqlite_store.hpp"

namespace {

namespace bhttp = boost::beast::http;
using namespace dozor::server;  // NOLINT(google-build-using-namespace)

constexpr size_t kDefaultBodyLimit = 1024 * 1024;  // HttpServer::Options::max_body_bytes

struct Fixture {
  std::filesystem::path dir;
  std::unique_ptr<SqliteStore> store;
  dozor::FakeClock clock{1'780'000'000'000};
  rules::RulePack pack;
  std::unique_ptr<http::ApiService> api;

  Fixture() {
    std::string pattern = (std::filesystem::temp_directory_path() / "dozor-fuzz-http-XXXXXX");
    if (::mkdtemp(pattern.data()) == nullptr) {
      std::abort();
    }
    dir = pattern;
    SqliteStoreOptions options;
    options.path = (dir / "dozor.db").string();
    options.background_checkpoint = false;
    auto opened = OpenSqliteStore(options);
    if (!opened.ok()) {
      std::abort();
    }
    store = std::move(opened).value();
    for (auto [role, name] :
         {std::pair{ApiRole::kAdmin, "ADMIN"}, std::pair{ApiRole::kOperator, "OPERATOR"},
          std::pair{ApiRole::kViewer, "VIEWER"}}) {
      const std::string secret = std::string("dza_fuzz_") + name;
      if (!store->CreateApiToken(name, role, dozor::Sha256Hex(secret), secret, std::nullopt).ok()) {
        std::abort();
      }
    }
    // Scoped callers too: an engineer assigned to one organisation and that organisation's client
    // ("Bearer FUZZ-ENGINEER", "Bearer FUZZ-CLIENT"), so the scope checks run on fuzzed requests.
    Organization org;
    org.name = "Fuzz";
    auto made_org = store->CreateOrganization(org);
    if (!made_org.ok()) {
      std::abort();
    }
    for (auto [role, name] :
         {std::pair{UserRole::kEngineer, "ENGINEER"}, std::pair{UserRole::kClient, "CLIENT"}}) {
      NewUser user;
      user.login = name;
      user.display_name = name;
      user.role = role;
      if (role == UserRole::kClient) user.org_id = made_org->id;
      auto made = store->CreateUser(user, clock.NowMs());
      if (!made.ok()) {
        std::abort();
      }
      if (role == UserRole::kEngineer &&
          !store->AssignEngineer(made_org->id, made->id, AssignmentKind::kPrimary, "", 0).ok()) {
        std::abort();
      }
      const std::string secret = std::string("dza_fuzz_") + name;
      if (!store
               ->CreateApiToken(name, ApiRole::kAdmin, dozor::Sha256Hex(secret), secret,
                                std::nullopt, made->id)
               .ok()) {
        std::abort();
      }
    }
    pack = rules::LoadRulePack({}, true);
    http::ApiContext context{
        .store = *store, .clock = clock, .grpc_public_address = "127.0.0.1:1", .install = {}};
    context.rules = &pack;
    api = std::make_unique<http::ApiService>(std::move(context));
  }
  ~Fixture() {
    api.reset();
    store.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  }
};

Fixture& TheFixture() {
  static Fixture fixture;
  return fixture;
}

void SubstituteTestToken(std::string& authorization) {
  static constexpr std::string_view kPrefix = "Bearer FUZZ-";
  if (authorization.compare(0, kPrefix.size(), kPrefix) == 0) {
    authorization = "Bearer dza_fuzz_" + authorization.substr(kPrefix.size());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Fixture& fixture = TheFixture();
  bhttp::request_parser<bhttp::string_body> parser;
  parser.header_limit(http::kHeaderLimitBytes);
  parser.body_limit(kDefaultBodyLimit);
  parser.eager(true);
  boost::beast::error_code ec;
  const size_t used = parser.put(boost::asio::buffer(data, size), ec);
  if (ec || used == 0 || !parser.is_done()) {
    return 0;
  }
  auto request = http::ToApiRequest(parser.get().base());
  if (!request.ok()) {
    return 0;
  }
  request->body = std::move(parser.get().body());
  SubstituteTestToken(request->authorization);
  http::ApiResponse response = fixture.api->Handle(*request);
  if (response.status < 100 || response.status > 599) {
    std::abort();  // the transport cannot send this
  }
  // What the transport sends: must serialize whatever the handler put in it.
  (void)response.body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return 0;
}
