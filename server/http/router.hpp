// Method + path-pattern routing with "{name}" parameters, e.g. "/api/v1/orgs/{org}/tokens".
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "http/api_types.hpp"

namespace dozor::server::http {

using Handler = std::function<ApiResponse(ApiRequest&)>;

// How the HTTP server schedules a route. kSlow routes (reports, evaluation, imports) run on their
// own small bounded pool so they cannot occupy every worker; a full slow queue answers 503.
enum class RouteCost { kFast, kSlow };

// What the transport decides from the request line and headers, before reading the body.
struct RouteLimits {
  RouteCost cost = RouteCost::kFast;
  // Largest request body the route accepts; 0: the server's default (HttpServer::Options).
  size_t max_body_bytes = 0;
  // Longest time a body may take to arrive; 0: the server's read timeout. Large uploads need
  // longer; a small or slow body is cut earlier by the server's minimum transfer rate.
  int body_read_timeout_seconds = 0;
  // A large upload (the import route): while its body is received and handled it takes one of
  // the server's few upload slots; when none is free it is answered 503 before its body is read.
  bool upload = false;
};

struct Route {
  std::string method;
  std::vector<std::string> segments;  // "{name}" segments capture
  Access access = Access::kRead;
  Handler handler;
  RouteLimits limits;
};

class Router {
 public:
  void Add(std::string method, std::string_view pattern, Access access, Handler handler,
           RouteLimits limits = {});

  enum class MatchKind { kFound, kNotFound, kMethodNotAllowed };
  struct Match {
    MatchKind kind = MatchKind::kNotFound;
    const Route* route = nullptr;
    std::string allowed;  // for kMethodNotAllowed: "GET, POST"
  };
  // On kFound fills request.params from the pattern.
  [[nodiscard]] Match Find(ApiRequest& request) const;

 private:
  std::vector<Route> routes_;
};

// "/a/b/" -> {"a", "b"}; empty segments are dropped.
std::vector<std::string_view> SplitPath(std::string_view path);

}  // namespace dozor::server::http
