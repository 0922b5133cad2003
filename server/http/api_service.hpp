// The management API without the transport: routing, authentication, role checks, per-route body
// limits and the exception boundary. HttpServer feeds it requests in two steps (Admit on the
// request line and headers, before any body byte is read; then Dispatch with the body); tests may
// call Handle with a whole request.
//
// Thread-safety: Admit, Dispatch and Handle may run concurrently on any threads (the routes are
// fixed after construction; handlers use the thread-safe Store).
#pragma once

#include <atomic>
#include <optional>

#include "domain/failure_throttle.hpp"
#include "domain/log_limiter.hpp"
#include "http/handlers.hpp"
#include "http/router.hpp"

namespace dozor::server::http {

// What the request line and headers decide.
struct Admission {
  // Set when the request is answered without reading its body: 404, 405, 401, 403, or a store
  // failure while authenticating.
  std::optional<ApiResponse> response;
  // Otherwise the route to dispatch to (owned by the ApiService), with its limits.
  const Route* route = nullptr;
};

class ApiService {
 public:
  explicit ApiService(ApiContext context);
  ApiService(const ApiService&) = delete;
  ApiService& operator=(const ApiService&) = delete;

  // Makes waiting handlers (event-feed long-polls) answer now: the server is stopping.
  void BeginStop() { stopping_ = true; }

  // Every route (for the scope test and the OpenAPI check).
  [[nodiscard]] const Router& router() const { return router_; }

  // Routes `request` (method, path, authorization; the body is not looked at) and authenticates
  // and role-checks the caller; on success fills request.params and request.caller. A client
  // (request.client_address) with too many failed authentications gets 429 with Retry-After on
  // every authenticated route, its token unchecked, until its block ends. Never throws.
  [[nodiscard]] Admission Admit(ApiRequest& request);
  // Runs an admitted route's handler on the complete request. Never throws: a handler exception
  // becomes a 500 JSON error.
  [[nodiscard]] ApiResponse Dispatch(const Route& route, ApiRequest& request);
  // Admit, the route's body limit (413), then Dispatch.
  ApiResponse Handle(ApiRequest& request);

 private:
  // 429 while request.client_address is blocked; nullopt otherwise.
  std::optional<ApiResponse> RefuseThrottledClient(const ApiRequest& request);
  // Counts a presented but unknown (or revoked, expired) token against its client.
  void CountFailedAuthentication(const ApiRequest& request);
  // The organisation the route's scope parameter names (nullopt for routes naming none); a
  // kNotFound error, worded as for an object that does not exist, when it is outside the
  // caller's scope or does not exist.
  Result<std::optional<int64_t>> ResolveScope(const Route& route, const ApiRequest& request,
                                              const Caller& caller);
  // Appends the audit-log entry of a state-changing request (never fails the request: a store
  // failure is logged).
  void RecordAudit(const Route& route, const ApiRequest& request, const ApiResponse& response);

  std::atomic<bool> stopping_{false};
  ApiContext context_;
  Router router_;
  FailureThrottle auth_failures_;
  LogLimiter block_log_;
};

// The 413 answer for a body over `limit` bytes.
ApiResponse BodyTooLargeResponse(size_t limit);

}  // namespace dozor::server::http
