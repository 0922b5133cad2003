// GET /api/v1/orgs/{org}/report through ApiService over a real SQLite store: every format with
// its content type and download name, and the errors.
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
#include "store/sqlite/sqlite_store.hpp"
#include "test_util.hpp"

namespace dozor::server::http {
namespace {

struct ReportFixture {
  ReportFixture() {
    store = dozor::testing::OpenTestStore(dir);
    REQUIRE(store
                ->CreateApiToken("bob", ApiRole::kViewer, Sha256Hex("dza_view"), "dza_view",
                                 std::nullopt)
                .ok());
    for (const char* name : {"ООО Ромашка", "Acme Corp"}) {
      Organization org;
      org.name = name;
      org.created_at_ms = clock.NowMs();
      auto created = store->CreateOrganization(org);
      REQUIRE(created.ok());
    }
    ApiContext context{*store, nullptr, clock, "", 180};
    context.rules = &pack;
    api = std::make_unique<ApiService>(std::move(context));
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

TEST_CASE("report endpoint serves html, json, csv and pdf with their content types") {
  ReportFixture f;
  const std::string path = "/api/v1/orgs/Acme%20Corp/report";

  auto html = f.Get(path);
  REQUIRE_MESSAGE(html.status == 200, html.body.dump());
  REQUIRE(html.raw_body.has_value());
  CHECK(html.content_type == "text/html; charset=utf-8");
  CHECK(html.raw_body->find("<html") != std::string::npos);
  CHECK(html.content_disposition.find("attachment; filename=\"audit-Acme_Corp-2027-01-15.html\"") ==
        0);

  auto json = f.Get(path + "?format=json&lang=en");
  REQUIRE(json.status == 200);
  CHECK(json.content_type == "application/json");
  const auto parsed = nlohmann::json::parse(*json.raw_body, nullptr, false);
  CHECK_FALSE(parsed.is_discarded());

  auto csv = f.Get(path + "?format=csv");
  REQUIRE(csv.status == 200);
  CHECK(csv.content_type == "text/csv; charset=utf-8");
  CHECK(csv.content_disposition.find(".csv\"") != std::string::npos);

  auto pdf = f.Get(path + "?format=pdf&lang=ru");
  REQUIRE_MESSAGE(pdf.status == 200, pdf.body.dump());
  CHECK(pdf.content_type == "application/pdf");
  REQUIRE(pdf.raw_body.has_value());
  CHECK(pdf.raw_body->rfind("%PDF-", 0) == 0);
}

TEST_CASE("report download name is ASCII-safe with the exact Cyrillic name in filename*") {
  ReportFixture f;
  auto html =
      f.Get("/api/v1/orgs/%D0%9E%D0%9E%D0%9E%20%D0%A0%D0%BE%D0%BC%D0%B0%D1%88%D0%BA%D0%B0/report");
  REQUIRE(html.status == 200);
  const std::string& header = html.content_disposition;
  CHECK(header.find("filename=\"audit-org1-2027-01-15.html\"") != std::string::npos);
  CHECK(header.find("filename*=UTF-8''audit-%D0%9E%D0%9E%D0%9E%20%D0%A0") != std::string::npos);
  for (const char c : header) {
    CHECK(static_cast<unsigned char>(c) < 0x80);
  }
}

TEST_CASE("report endpoint rejects bad formats and languages and unknown organisations") {
  ReportFixture f;
  CHECK(f.Get("/api/v1/orgs/Acme%20Corp/report?format=docx").status == 400);
  CHECK(f.Get("/api/v1/orgs/Acme%20Corp/report?lang=fr").status == 400);
  auto missing = f.Get("/api/v1/orgs/nope/report");
  CHECK(missing.status == 404);
  CHECK_FALSE(missing.raw_body.has_value());

  ApiService bare(ApiContext{*f.store, nullptr, f.clock, "", 180});
  ApiRequest request;
  request.method = "GET";
  request.path = "/api/v1/orgs/1/report";
  request.authorization = "Bearer dza_view";
  CHECK(bare.Handle(request).status == 503);
}

}  // namespace
}  // namespace dozor::server::http
