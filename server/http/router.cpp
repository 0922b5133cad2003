#include "http/router.hpp"

#include <stdexcept>

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

std::string_view ToString(ScopeKind kind) {
  switch (kind) {
    case ScopeKind::kPublic:
      return "public";
    case ScopeKind::kCaller:
      return "caller";
    case ScopeKind::kOrg:
      return "org";
    case ScopeKind::kHost:
      return "host";
    case ScopeKind::kFinding:
      return "finding";
    case ScopeKind::kEnrollmentToken:
      return "enrollment_token";
    case ScopeKind::kApiToken:
      return "api_token";
    case ScopeKind::kAlert:
      return "alert";
    case ScopeKind::kList:
      return "list";
  }
  return "unknown";
}

void Router::Add(std::string method, std::string_view pattern, Access access, Scope scope,
                 Handler handler, RouteLimits limits) {
  Route route;
  route.method = std::move(method);
  route.pattern = std::string(pattern);
  for (const auto segment : SplitPath(pattern)) {
    route.segments.emplace_back(segment);
  }
  const std::string where = route.method + " " + route.pattern;
  if ((access == Access::kPublic) != (scope.kind == ScopeKind::kPublic)) {
    throw std::logic_error(where + ": public access and public scope go together");
  }
  const bool has_param = scope.kind != ScopeKind::kPublic && scope.kind != ScopeKind::kCaller &&
                         scope.kind != ScopeKind::kList;
  if (has_param) {
    const std::string segment = "{" + scope.param + "}";
    bool found = false;
    for (const auto& s : route.segments) found = found || s == segment;
    if (!found) {
      throw std::logic_error(where + ": scope parameter " + segment + " is not in the path");
    }
  } else if (!scope.param.empty()) {
    throw std::logic_error(where + ": this scope takes no parameter");
  }
  route.access = access;
  route.scope = std::move(scope);
  route.handler = std::move(handler);
  route.limits = limits;
  routes_.push_back(std::move(route));
}

void Router::AddFallback(std::string method, std::function<bool(std::string_view path)> accepts,
                         Handler handler) {
  Fallback fallback;
  fallback.accepts = std::move(accepts);
  fallback.route.method = std::move(method);
  fallback.route.pattern = "(fallback)";
  fallback.route.access = Access::kPublic;
  fallback.route.scope = Scope::Public();
  fallback.route.handler = std::move(handler);
  fallbacks_.push_back(std::move(fallback));
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
  if (match.kind == MatchKind::kNotFound) {
    for (const auto& fallback : fallbacks_) {
      if (fallback.route.method == request.method && fallback.accepts(request.path)) {
        request.params.clear();
        return Match{MatchKind::kFound, &fallback.route, ""};
      }
    }
  }
  return match;
}

}  // namespace dozor::server::http
