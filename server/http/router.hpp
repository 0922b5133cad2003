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
// kLongPoll routes (the event feed with ?wait=) sleep while they wait: their own pool of mostly
// idle threads, capped, so waiting clients never hold the workers; beyond the cap they get 503.
enum class RouteCost { kFast, kSlow, kLongPoll };

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

// Which organisation's data a route touches, so the router can refuse an object outside the
// caller's scope before any handler runs. Part of every route's declaration: a route cannot be
// added without one. An object outside the scope answers 404 exactly like one that does not exist.
enum class ScopeKind {
  kPublic,           // no caller (kPublic access only)
  kCaller,           // the caller's own account, or data of no organisation (the rule pack)
  kOrg,              // the parameter names an organisation (id or name)
  kHost,             // the parameter is a host's agent id
  kFinding,          // the parameter is a finding id
  kEnrollmentToken,  // the parameter is an enrollment token id
  kApiToken,         // the parameter is an API token id: the caller's own (admins: any)
  kAlert,            // the parameter is an alert id
  kList,             // a listing: its handler filters rows (and any ?org=) to the caller's scope
};

struct Scope {
  ScopeKind kind = ScopeKind::kCaller;
  std::string param;  // the path parameter for kOrg .. kApiToken

  static Scope Public() { return {ScopeKind::kPublic, {}}; }
  static Scope CallerOnly() { return {ScopeKind::kCaller, {}}; }
  static Scope List() { return {ScopeKind::kList, {}}; }
  static Scope Org(std::string param = "org") { return {ScopeKind::kOrg, std::move(param)}; }
  static Scope Host(std::string param = "agent_id") { return {ScopeKind::kHost, std::move(param)}; }
  static Scope OfFinding(std::string param = "id") {
    return {ScopeKind::kFinding, std::move(param)};
  }
  static Scope OfEnrollmentToken(std::string param = "id") {
    return {ScopeKind::kEnrollmentToken, std::move(param)};
  }
  static Scope OfApiToken(std::string param = "id") {
    return {ScopeKind::kApiToken, std::move(param)};
  }
  static Scope OfAlert(std::string param = "id") { return {ScopeKind::kAlert, std::move(param)}; }
};

std::string_view ToString(ScopeKind kind);

struct Route {
  std::string method;
  std::vector<std::string> segments;  // "{name}" segments capture
  std::string pattern;                // as declared, "/api/v1/orgs/{org}"
  Access access = Access::kRead;
  Scope scope;
  Handler handler;
  RouteLimits limits;
};

class Router {
 public:
  // Throws std::logic_error for a declaration that contradicts itself (a public route with a
  // scope, a scoped route without its parameter): a programming error found at start.
  void Add(std::string method, std::string_view pattern, Access access, Scope scope,
           Handler handler, RouteLimits limits = {});

  // A public route for a path no declared route matches (by any method), taken when
  // `accepts(path)` holds. For the dashboard, whose client-side routes ("/orgs/12") are pages of
  // one single-page app. Not part of routes(): it has no pattern for the route-table checks and
  // the OpenAPI document to list. Fallbacks are tried in the order they were added.
  void AddFallback(std::string method, std::function<bool(std::string_view path)> accepts,
                   Handler handler);

  enum class MatchKind { kFound, kNotFound, kMethodNotAllowed };
  struct Match {
    MatchKind kind = MatchKind::kNotFound;
    const Route* route = nullptr;
    std::string allowed;  // for kMethodNotAllowed: "GET, POST"
  };
  // On kFound fills request.params from the pattern (a fallback has none).
  [[nodiscard]] Match Find(ApiRequest& request) const;
  // Every route, in declaration order (the scope test and the OpenAPI check walk it).
  [[nodiscard]] const std::vector<Route>& routes() const { return routes_; }

 private:
  struct Fallback {
    std::function<bool(std::string_view)> accepts;
    Route route;
  };
  std::vector<Route> routes_;
  std::vector<Fallback> fallbacks_;
};

// "/a/b/" -> {"a", "b"}; empty segments are dropped.
std::vector<std::string_view> SplitPath(std::string_view path);

}  // namespace dozor::server::http
