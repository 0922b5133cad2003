#include "http/router.hpp"

#include <doctest/doctest.h>
#include <stdexcept>

#include "http/api_types.hpp"

namespace dozor::server::http {
namespace {

ApiResponse Echo(ApiRequest& request) {
  ApiResponse response;
  for (const auto& [key, value] : request.params) {
    response.body[key] = value;
  }
  return response;
}

TEST_CASE("router captures decoded path parameters and tells 404 from 405") {
  Router router;
  router.Add("GET", "/api/v1/orgs/{org}", Access::kRead, Scope::Org(), Echo);
  router.Add("PATCH", "/api/v1/orgs/{org}", Access::kWrite, Scope::Org(), Echo);
  router.Add("POST", "/api/v1/orgs/{org}/tokens", Access::kWrite, Scope::Org(), Echo);

  ApiRequest request;
  request.method = "GET";
  request.path = "/api/v1/orgs/%D0%A0%D0%BE%D0%BC%D0%B0%D1%88%D0%BA%D0%B0";
  auto match = router.Find(request);
  REQUIRE(match.kind == Router::MatchKind::kFound);
  CHECK(match.route->access == Access::kRead);
  CHECK(request.params.at("org") == "Ромашка");

  request.method = "DELETE";
  match = router.Find(request);
  CHECK(match.kind == Router::MatchKind::kMethodNotAllowed);
  CHECK(match.allowed == "GET, PATCH");

  request.method = "GET";
  request.path = "/api/v1/orgs/a/b/c";
  CHECK(router.Find(request).kind == Router::MatchKind::kNotFound);
  request.path = "/api/v1/orgs/%zz";
  CHECK(router.Find(request).kind == Router::MatchKind::kNotFound);
}

TEST_CASE("query strings decode plus as space and reject bad escapes") {
  auto query = ParseQuery("org=%D0%90%D0%B1+%D0%B2&limit=5&flag");
  REQUIRE(query.ok());
  CHECK(query->at("org") == "Аб в");
  CHECK(query->at("limit") == "5");
  CHECK(query->at("flag").empty());
  CHECK_FALSE(ParseQuery("a=%4").ok());
  CHECK_FALSE(ParseQuery("a=%G0").ok());
}

TEST_CASE("integer query parameters are range checked") {
  ApiRequest request;
  request.query = {{"limit", "10000"}, {"big", "99999999999999999999"}, {"neg", "-1"}};
  CHECK(QueryInt(request, "limit", 100, 1, 10000).value_or(-1) == 10000);
  CHECK(QueryInt(request, "absent", 100, 1, 10000).value_or(-1) == 100);
  CHECK_FALSE(QueryInt(request, "big", 0, 0, 100).ok());
  CHECK_FALSE(QueryInt(request, "neg", 0, 0, 100).ok());
}

}  // namespace
}  // namespace dozor::server::http

namespace dozor::server::http {
namespace {

TEST_CASE("a route's scope declaration must agree with its access and its path") {
  Router router;
  // Public access goes with the public scope, and only with it.
  CHECK_THROWS_AS(router.Add("GET", "/x", Access::kPublic, Scope::CallerOnly(), Echo),
                  std::logic_error);
  CHECK_THROWS_AS(router.Add("GET", "/x", Access::kRead, Scope::Public(), Echo), std::logic_error);
  // A scoped route names its parameter in the path.
  CHECK_THROWS_AS(router.Add("GET", "/api/v1/hosts/{id}", Access::kRead, Scope::Host(), Echo),
                  std::logic_error);
  CHECK_NOTHROW(router.Add("GET", "/api/v1/hosts/{agent_id}", Access::kRead, Scope::Host(), Echo));
  CHECK(router.routes().size() == 1);
  CHECK(router.routes()[0].pattern == "/api/v1/hosts/{agent_id}");
}

}  // namespace
}  // namespace dozor::server::http
