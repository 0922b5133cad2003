// The web dashboard's routes through ApiService with a table of test files: index.html at / and
// for every client-side route, /assets/ files, 404s, the security and cache headers, ETag
// revalidation and gzip negotiation. Plus the header parsers on their own.
#include "http/dashboard_handler.hpp"

#include <doctest/doctest.h>

#include <memory>
#include <string>

#include "dozor/common/clock.hpp"
#include "http/api_service.hpp"
#include "http/handlers.hpp"
#include "server/http/api_request.hpp"
#include "server/test_store.hpp"
#include "test_util.hpp"

namespace dozor::server::http {
namespace {

constexpr unsigned char kIndex[] = {'<', 'h', 't', 'm', 'l', '>'};
constexpr unsigned char kIndexGzip[] = {0x1f, 0x8b, 'i'};
constexpr unsigned char kScript[] = {'j', 's'};
constexpr unsigned char kScriptGzip[] = {0x1f, 0x8b, 'j'};
constexpr unsigned char kIcon[] = {0, 0, 1, 0};

constexpr EmbeddedAsset kAssets[] = {
    {"/index.html", "text/html; charset=utf-8", "1d3x", kIndex, kIndexGzip},
    {"/assets/index-AbC123.js", "text/javascript; charset=utf-8", "5cr1pt", kScript, kScriptGzip},
    {"/favicon.ico", "image/x-icon", "1c0n", kIcon, {}},
};

std::string Header(const ApiResponse& response, std::string_view name) {
  for (const auto& [key, value] : response.headers) {
    if (key == name) {
      return value;
    }
  }
  return "";
}

std::string Body(const ApiResponse& response) {
  if (response.static_body) {
    return std::string(response.static_body->begin(), response.static_body->end());
  }
  return response.raw_body.value_or("<json>");
}

struct DashboardHandlerFixture {
  explicit DashboardHandlerFixture(std::span<const EmbeddedAsset> assets = kAssets) {
    store = dozor::testing::OpenTestStore(dir);
    api = std::make_unique<ApiService>(ApiContext{.store = *store,
                                                  .clock = clock,
                                                  .grpc_public_address = {},
                                                  .install = {},
                                                  .dashboard = assets});
  }

  ApiResponse Get(const std::string& path, const std::string& accept_encoding = "",
                  const std::string& if_none_match = "", const std::string& method = "GET") {
    ApiRequest request = dozor::testing::MakeApiRequest(method, path);
    request.accept_encoding = accept_encoding;
    request.if_none_match = if_none_match;
    return api->Handle(request);
  }

  dozor::testing::TempDir dir;
  FakeClock clock{1'700'000'000'000};
  std::unique_ptr<SqliteStore> store;
  std::unique_ptr<ApiService> api;
};

void CheckSecurityHeaders(const ApiResponse& response) {
  CHECK(Header(response, "Content-Security-Policy") == kDashboardContentSecurityPolicy);
  CHECK(Header(response, "X-Content-Type-Options") == "nosniff");
  CHECK(Header(response, "Referrer-Policy") == "same-origin");
  CHECK(Header(response, "X-Frame-Options") == "DENY");
}

TEST_CASE("the dashboard's index.html is served at / with its headers, no credential needed") {
  DashboardHandlerFixture f;
  const ApiResponse response = f.Get("/");
  CHECK(response.status == 200);
  CHECK(Body(response) == "<html>");
  CHECK(response.content_type == "text/html; charset=utf-8");
  CHECK(response.cache_control == "no-cache");
  CHECK(Header(response, "ETag") == "\"1d3x\"");
  CHECK(Header(response, "Vary") == "Accept-Encoding");
  CHECK(Header(response, "Content-Encoding").empty());
  CheckSecurityHeaders(response);
  CHECK(f.Get("/index.html").static_body->data() == response.static_body->data());
}

TEST_CASE("an /assets/ file is served by its path and cached for a year") {
  DashboardHandlerFixture f;
  const ApiResponse response = f.Get("/assets/index-AbC123.js");
  CHECK(response.status == 200);
  CHECK(Body(response) == "js");
  CHECK(response.content_type == "text/javascript; charset=utf-8");
  CHECK(response.cache_control == "public, max-age=31536000, immutable");
  CHECK(Header(response, "ETag") == "\"5cr1pt\"");
  CheckSecurityHeaders(response);
}

TEST_CASE("an unknown /assets/ file is 404, not the page") {
  DashboardHandlerFixture f;
  for (const char* path : {"/assets/index-Old999.js", "/assets/nothing", "/assets/a/b.js",
                           "/assets/index-AbC123.js/", "/assets/index%2DAbC123.js"}) {
    INFO(std::string(path));
    const ApiResponse response = f.Get(path);
    CHECK(response.status == 404);
    CHECK(!response.static_body);
    CHECK(Header(response, "X-Content-Type-Options") == "nosniff");
  }
}

TEST_CASE("client-side routes of the app get index.html, other root files themselves") {
  DashboardHandlerFixture f;
  for (const char* path : {"/orgs/acme", "/hosts/abc", "/findings", "/orgs/12/hosts/",
                           "/orgs/acme.ru", "/hosts/db01.example.local", "/orgs/%D0%90"}) {
    INFO(std::string(path));
    const ApiResponse response = f.Get(path);
    CHECK(response.status == 200);
    CHECK(Body(response) == "<html>");
    CHECK(response.cache_control == "no-cache");
    CheckSecurityHeaders(response);
  }
  const ApiResponse icon = f.Get("/favicon.ico");
  CHECK(icon.status == 200);
  CHECK(icon.content_type == "image/x-icon");
  CHECK(icon.cache_control == "no-cache");
  CHECK(Header(icon, "Vary").empty());  // no gzip copy, nothing varies
}

TEST_CASE("no page for paths of the API, the installer, or missing files") {
  DashboardHandlerFixture f;
  const ApiResponse api = f.Get("/api/v1/no-such-route");
  CHECK(api.status == 404);
  CHECK(api.body["error"]["code"] == "not_found");
  CHECK(api.body["error"]["message"] == "no such endpoint: /api/v1/no-such-route");
  CHECK(f.Get("/api").status == 404);
  CHECK(f.Get("/api/orgs").status == 404);
  for (const char* path : {"/packages/a/b", "/logo.png", "/main.js", "/favicon.svg",
                           "/orgs/acme/report.html", "/robots.txt"}) {
    INFO(std::string(path));
    const ApiResponse response = f.Get(path);
    CHECK(response.status == 404);
    CHECK(!response.static_body);
  }
  // The API's own answers are untouched.
  const ApiResponse health = f.Get("/api/v1/health");
  CHECK(health.status == 200);
  CHECK(health.cache_control.empty());
  CHECK(health.headers.empty());
  // Other methods on a page are not the dashboard's.
  CHECK(f.Get("/orgs/acme", "", "", "POST").status == 404);
  CHECK(f.Get("/", "", "", "POST").status == 405);
}

TEST_CASE("a matching If-None-Match gets 304 with no body and the same validators") {
  DashboardHandlerFixture f;
  for (const char* if_none_match :
       {"\"1d3x\"", "W/\"1d3x\"", "\"other\", \"1d3x\"", "*", " \"x\" ,W/\"1d3x\" "}) {
    INFO(std::string(if_none_match));
    const ApiResponse response = f.Get("/orgs/acme", "", if_none_match);
    CHECK(response.status == 304);
    CHECK(response.raw_body == std::string());
    CHECK(!response.static_body);
    CHECK(response.content_type.empty());
    CHECK(Header(response, "ETag") == "\"1d3x\"");
    CHECK(response.cache_control == "no-cache");
    CheckSecurityHeaders(response);
  }
  CHECK(f.Get("/", "", "\"1d3y\"").status == 200);
  CHECK(f.Get("/", "", "\"1d3x-gzip\"").status == 200);  // the other encoding's tag
  CHECK(f.Get("/", "gzip", "\"1d3x-gzip\"").status == 304);
  CHECK(f.Get("/", "gzip", "\"1d3x\"").status == 200);
  CHECK(f.Get("/assets/index-AbC123.js", "", "\"5cr1pt\"").status == 304);
}

TEST_CASE("the gzip copy goes to clients that accept gzip, by q-value") {
  DashboardHandlerFixture f;
  struct Case {
    const char* accept_encoding;
    bool gzip;
  };
  for (const Case& c :
       {Case{"", false}, Case{"gzip", true}, Case{"gzip, deflate, br", true},
        Case{"br;q=1.0, gzip;q=0.8", true}, Case{"GZIP", true}, Case{"x-gzip", true},
        Case{"*", true}, Case{"identity", false}, Case{"br", false}, Case{"gzip;q=0", false},
        Case{"gzip; q=0.000", false}, Case{"gzip;q=0.001", true}, Case{"*;q=0", false},
        Case{"gzip;q=0, *", false}, Case{"*, gzip;q=0", false}, Case{"gzip;q=1.5", false},
        Case{"gzip;q=abc", false}}) {
    INFO(std::string(c.accept_encoding));
    CHECK(AcceptsGzip(c.accept_encoding) == c.gzip);
    const ApiResponse response = f.Get("/assets/index-AbC123.js", c.accept_encoding);
    CHECK(response.status == 200);
    CHECK(Header(response, "Vary") == "Accept-Encoding");
    if (c.gzip) {
      CHECK(Body(response) == "\x1f\x8bj");
      CHECK(Header(response, "Content-Encoding") == "gzip");
      CHECK(Header(response, "ETag") == "\"5cr1pt-gzip\"");
    } else {
      CHECK(Body(response) == "js");
      CHECK(Header(response, "Content-Encoding").empty());
      CHECK(Header(response, "ETag") == "\"5cr1pt\"");
    }
  }
  // A file without a gzip copy is sent plain to everyone.
  const ApiResponse icon = f.Get("/favicon.ico", "gzip");
  CHECK(Header(icon, "Content-Encoding").empty());
  CHECK(Body(icon).size() == 4);
}

TEST_CASE("HEAD is answered like GET on the dashboard's paths") {
  DashboardHandlerFixture f;
  const ApiResponse head = f.Get("/", "gzip", "", "HEAD");
  CHECK(head.status == 200);
  CHECK(Header(head, "Content-Encoding") == "gzip");
  CHECK(f.Get("/assets/index-AbC123.js", "", "", "HEAD").status == 200);
  CHECK(f.Get("/orgs/acme", "", "", "HEAD").status == 200);
  CHECK(f.Get("/assets/missing.js", "", "", "HEAD").status == 404);
}

TEST_CASE("a server built without the dashboard says so at / and on its pages") {
  DashboardHandlerFixture f(std::span<const EmbeddedAsset>{});
  for (const char* path : {"/", "/orgs/acme"}) {
    INFO(std::string(path));
    const ApiResponse response = f.Get(path);
    CHECK(response.status == 404);
    CHECK(response.content_type == "text/plain; charset=utf-8");
    CHECK(Body(response).find("built without its web dashboard") != std::string::npos);
    CHECK(Header(response, "X-Content-Type-Options") == "nosniff");
  }
  CHECK(f.Get("/api/v1/health").status == 200);
}

TEST_CASE("client-route and ETag parsing on their own") {
  CHECK(IsClientRoute("/"));
  CHECK(IsClientRoute("/orgs/acme"));
  CHECK(IsClientRoute("/orgs/acme.ru"));
  CHECK(IsClientRoute("/findings"));
  CHECK(IsClientRoute("/admin/audit"));
  CHECK_FALSE(IsClientRoute("/apis"));
  CHECK_FALSE(IsClientRoute("/packages-list"));
  CHECK_FALSE(IsClientRoute("/etc/passwd"));
  CHECK_FALSE(IsClientRoute("/orgsx"));
  CHECK_FALSE(IsClientRoute("/orgs/app.js"));
  CHECK_FALSE(IsClientRoute("/api"));
  CHECK_FALSE(IsClientRoute("/api/"));
  CHECK_FALSE(IsClientRoute("/api/v1/x"));
  CHECK_FALSE(IsClientRoute("/assets/x"));
  CHECK_FALSE(IsClientRoute("/packages"));
  CHECK_FALSE(IsClientRoute("/packages/x"));
  CHECK_FALSE(IsClientRoute("/install.sh"));
  CHECK_FALSE(IsClientRoute("/ca.crt"));
  CHECK_FALSE(IsClientRoute("/app.JS"));
  CHECK_FALSE(IsClientRoute("/x/y.woff2"));
  CHECK_FALSE(IsClientRoute(""));
  CHECK_FALSE(IsClientRoute("orgs"));
  CHECK(EtagMatches("\"a\"", "\"a\""));
  CHECK(EtagMatches("W/\"a\"", "\"a\""));
  CHECK_FALSE(EtagMatches("", "\"a\""));
  CHECK_FALSE(EtagMatches("\"ab\"", "\"a\""));
  CHECK_FALSE(EtagMatches("a", "\"a\""));
}

}  // namespace
}  // namespace dozor::server::http
