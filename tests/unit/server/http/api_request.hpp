// Server HTTP unit tests: an ApiRequest as the HTTP layer builds it, from "path?query".
#pragma once

#include <doctest/doctest.h>

#include <string>
#include <utility>

#include "http/api_types.hpp"

namespace dozor::testing {

inline server::http::ApiRequest MakeApiRequest(const std::string& method,
                                               const std::string& path_and_query,
                                               const std::string& bearer = "",
                                               std::string body = "") {
  server::http::ApiRequest request;
  request.method = method;
  const size_t question = path_and_query.find('?');
  request.path = path_and_query.substr(0, question);
  if (question != std::string::npos) {
    auto query = server::http::ParseQuery(path_and_query.substr(question + 1));
    REQUIRE_MESSAGE(query.ok(), path_and_query);
    request.query = std::move(query).value();
  }
  request.body = std::move(body);
  if (!bearer.empty()) request.authorization = "Bearer " + bearer;
  return request;
}

}  // namespace dozor::testing
