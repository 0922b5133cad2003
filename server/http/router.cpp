#include "http/router.hpp"

namespace dozor::server::http {

std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start < path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) {
      end = path.size();
    }
    if (end > start) {
      out.push_back(path.substr(start, end - start));
    }
    start = end + 1;
  }
  return out;
}

void Router::Add(std::string method, std::string_view pattern, Access access, Handler handler,
                 RouteLimits limits) {
  Route route;
  route.method = std::move(method);
  for (const auto segment : SplitPath(pattern)) {
    route.segments.emplace_back(segment);
  }
  route.access = access;
  route.handler = std::move(handler);
  route.limits = limits;
  routes_.push_back(std::move(route));
}

Router::Match Router::Find(ApiRequest& request) const {
  const auto segments = SplitPath(request.path);
  Match match;
  for (const auto& route : routes_) {
    if (route.segments.size() != segments.size()) {
      continue;
    }
    std::map<std::string, std::string, std::less<>> params;
    bool matches = true;
    for (size_t i = 0; i < segments.size() && matches; ++i) {
      const std::string& expected = route.segments[i];
      if (expected.size() > 2 && expected.front() == '{' && expected.back() == '}') {
        auto decoded = PercentDecode(segments[i], /*plus_is_space=*/false);
        matches = decoded.has_value();
        if (matches) {
          params[expected.substr(1, expected.size() - 2)] = std::move(*decoded);
        }
      } else {
        matches = expected == segments[i];
      }
    }
    if (!matches) {
      continue;
    }
    if (route.method != request.method) {
      if (!match.allowed.empty()) {
        match.allowed += ", ";
      }
      match.allowed += route.method;
      match.kind = MatchKind::kMethodNotAllowed;
      continue;
    }
    request.params = std::move(params);
    return Match{MatchKind::kFound, &route, ""};
  }
  return match;
}

}  // namespace dozor::server::http
