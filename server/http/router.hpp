// Method + path-pattern routing with "{name}" parameters, e.g. "/api/v1/orgs/{org}/tokens".
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "http/api_types.hpp"

namespace dozor::server::http {

using Handler = std::function<ApiResponse(ApiRequest&)>;

struct Route {
  std::string method;
  std::vector<std::string> segments;  // "{name}" segments capture
  Access access = Access::kRead;
  Handler handler;
};

class Router {
 public:
  void Add(std::string method, std::string_view pattern, Access access, Handler handler);

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
