// The audit report as the dashboard shows it: inside a frame of the same origin
// (?disposition=inline), with a Content-Security-Policy that fits what the HTML report contains.
#include <doctest/doctest.h>

#include <memory>
#include <string>

#include "dozor/common/clock.hpp"
#include "dozor/common/crypto.hpp"
#include "http/api_service.hpp"
#include "http/handlers.hpp"
#include "rules/rule.hpp"
#include "server/http/api_request.hpp"
#include "server/test_store.hpp"
#include "test_util.hpp"

namespace dozor::server::http {
namespace {

struct ReportFramingFixture {
  ReportFramingFixture() {
    store = dozor::testing::OpenTestStore(dir);
    REQUIRE(store
                ->CreateApiToken("bob", ApiRole::kViewer, Sha256Hex("dza_view"), "dza_view",
                                 std::nullopt)
                .ok());
    Organization org;
    org.name = "Acme Corp";
    org.created_at_ms = clock.NowMs();
    REQUIRE(store->CreateOrganization(org).ok());
    api = std::make_unique<ApiService>(ApiContext{
        .store = *store, .clock = clock, .grpc_public_address = {}, .rules = &pack, .install = {}});
  }

  ApiResponse Get(const std::string& path_and_query) {
    ApiRequest request = dozor::testing::MakeApiRequest("GET", path_and_query, "dza_view");
    return api->Handle(request);
  }

  dozor::testing::TempDir dir;
  FakeClock clock{1'800'000'000'000};  // 2027-01-15 UTC
  std::unique_ptr<SqliteStore> store;
  rules::RulePack pack = rules::LoadRulePack({}, /*include_builtin=*/true);
  std::unique_ptr<ApiService> api;
};

std::string Header(const ApiResponse& response, std::string_view name) {
  for (const auto& [key, value] : response.headers) {
    if (key == name) {
      return value;
    }
  }
  return "";
}

TEST_CASE("the HTML report may be framed by its own origin only, and runs no script") {
  ReportFramingFixture f;
  const ApiResponse html = f.Get("/api/v1/orgs/Acme%20Corp/report?format=html");
  REQUIRE(html.status == 200);
  const std::string csp = Header(html, "Content-Security-Policy");
  CHECK(csp.find("default-src 'none'") != std::string::npos);
  CHECK(csp.find("style-src 'unsafe-inline'") != std::string::npos);
  CHECK(csp.find("frame-ancestors 'self'") != std::string::npos);
  CHECK(csp.find("script-src") == std::string::npos);
  CHECK(Header(html, "X-Frame-Options") == "SAMEORIGIN");
  CHECK(Header(html, "X-Content-Type-Options") == "nosniff");
  // What the policy allows is all the report needs: one inline style sheet, no scripts.
  CHECK(html.raw_body->find("<style>") != std::string::npos);
  CHECK(html.raw_body->find("<script") == std::string::npos);
  CHECK(html.raw_body->find(" style=") == std::string::npos);
  CHECK(html.raw_body->find("src=") == std::string::npos);

  const ApiResponse pdf = f.Get("/api/v1/orgs/Acme%20Corp/report?format=pdf");
  REQUIRE(pdf.status == 200);
  CHECK(Header(pdf, "X-Content-Type-Options") == "nosniff");
  CHECK(Header(pdf, "Content-Security-Policy").empty());
}

TEST_CASE("disposition=inline shows the report in the browser under the same file name") {
  ReportFramingFixture f;
  const ApiResponse saved = f.Get("/api/v1/orgs/Acme%20Corp/report?format=html");
  const ApiResponse shown = f.Get("/api/v1/orgs/Acme%20Corp/report?format=html&disposition=inline");
  REQUIRE(shown.status == 200);
  CHECK(saved.content_disposition.rfind("attachment; filename=\"audit-Acme_Corp-", 0) == 0);
  CHECK(shown.content_disposition ==
        "inline" + saved.content_disposition.substr(std::string("attachment").size()));
  CHECK(f.Get("/api/v1/orgs/Acme%20Corp/report?disposition=attachment").content_disposition ==
        saved.content_disposition);
  const ApiResponse bad = f.Get("/api/v1/orgs/Acme%20Corp/report?disposition=frame");
  CHECK(bad.status == 400);
  CHECK(bad.body["error"]["code"] == "invalid_argument");
}

}  // namespace
}  // namespace dozor::server::http
