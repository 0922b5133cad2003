#include "http/api_service.hpp"

#include <spdlog/spdlog.h>

#include <exception>

#include "dozor/common/text.hpp"
#include "dozor/common/version.hpp"
#include "http/auth.hpp"

namespace dozor::server::http {

namespace {
// Blocks of clients are logged at most this often (with a count of those left out): a spray from
// many addresses must not flood the log either.
constexpr int64_t kBlockLogIntervalMs = 10'000;
}  // namespace

ApiService::ApiService(ApiContext context)
    : context_(std::move(context)),
      auth_failures_(context_.auth_throttle),
      block_log_(kBlockLogIntervalMs) {
  router_.Add("GET", "/api/v1/health", Access::kPublic, [](ApiRequest&) {
    ApiResponse response;
    response.body = {{"status", "ok"}, {"version", kVersion}};
    return response;
  });
  RegisterOrgRoutes(router_, context_);
  RegisterEnrollmentTokenRoutes(router_, context_);
  RegisterHostRoutes(router_, context_);
  RegisterApiTokenRoutes(router_, context_);
  RegisterFindingRoutes(router_, context_);
  RegisterReportRoutes(router_, context_);
  RegisterRuleRoutes(router_, context_);
  RegisterInstallRoutes(router_, context_);
  RegisterImportRoutes(router_, context_);
}

Admission ApiService::Admit(ApiRequest& request) {
  try {
    const Router::Match match = router_.Find(request);
    if (match.kind == Router::MatchKind::kNotFound) {
      return {ErrorResponse(404, "not_found", "no such endpoint: " + request.path), nullptr};
    }
    if (match.kind == Router::MatchKind::kMethodNotAllowed) {
      auto response =
          ErrorResponse(405, "method_not_allowed",
                        request.method + " not allowed here; allowed: " + match.allowed);
      response.body["error"]["allowed"] = match.allowed;
      return {std::move(response), nullptr};
    }
    const Route& route = *match.route;
    if (route.access != Access::kPublic) {
      if (auto refused = RefuseThrottledClient(request)) {
        return {std::move(*refused), nullptr};
      }
      auto caller = Authenticate(context_.store.ApiTokens(), request.authorization, context_.clock);
      if (!caller.ok()) {
        if (caller.error().code == ErrorCode::kPermissionDenied) {
          CountFailedAuthentication(request);
          return {ErrorResponse(401, "unauthenticated", caller.error().message), nullptr};
        }
        spdlog::error("api: authenticating request failed: {}", caller.error().ToString());
        return {ErrorResponse(caller.error()), nullptr};
      }
      if (!RoleAllows(caller->role, route.access)) {
        return {ErrorResponse(403, "forbidden",
                              "role '" + std::string(ToString(caller->role)) + "' may not " +
                                  request.method + " " + request.path),
                nullptr};
      }
      request.caller = std::move(caller).value();
    }
    return {std::nullopt, &route};
  } catch (const std::exception& e) {
    spdlog::error("api: admitting {} {} threw: {}", EscapeControlText(request.method),
                  EscapeControlText(request.path), e.what());
  } catch (...) {
    spdlog::error("api: admitting {} {} threw a non-standard exception", request.method,
                  request.path);
  }
  return {ErrorResponse(500, "internal", "internal error"), nullptr};
}

std::optional<ApiResponse> ApiService::RefuseThrottledClient(const ApiRequest& request) {
  if (request.client_address.empty()) {
    return std::nullopt;
  }
  const int64_t blocked_ms =
      auth_failures_.BlockedForMs(request.client_address, context_.clock.NowMs());
  if (blocked_ms <= 0) {
    return std::nullopt;
  }
  const int retry_after_seconds = static_cast<int>((blocked_ms + 999) / 1000);
  ApiResponse response =
      ErrorResponse(429, "too_many_requests",
                    "too many failed authentications from this address; retry in " +
                        std::to_string(retry_after_seconds) + " s");
  response.retry_after_seconds = retry_after_seconds;
  return response;
}

void ApiService::CountFailedAuthentication(const ApiRequest& request) {
  // No token at all is not a guess (a browser or a script without its token file): only
  // presented tokens count.
  if (request.client_address.empty() || request.authorization.empty()) {
    return;
  }
  const int64_t now_ms = context_.clock.NowMs();
  if (!auth_failures_.RecordFailure(request.client_address, now_ms)) {
    return;
  }
  const auto left_out = block_log_.Allow(now_ms);
  if (!left_out) {
    return;
  }
  const FailureThrottleOptions& limits = auth_failures_.options();
  spdlog::warn(
      "api: {} failed authentications from {} within {} s; its API requests get 429 for {} s{}",
      limits.max_failures, EscapeControlText(request.client_address), limits.window_ms / 1000,
      limits.block_ms / 1000,
      *left_out > 0
          ? " (" + std::to_string(*left_out) + " more clients blocked since the last such line)"
          : std::string());
}

ApiResponse ApiService::Dispatch(const Route& route, ApiRequest& request) {
  try {
    ApiResponse response = route.handler(request);
    if (response.status >= 500) {
      spdlog::error("api: {} {} -> {}: {}", EscapeControlText(request.method),
                    EscapeControlText(request.path), response.status, response.body.dump());
    }
    return response;
  } catch (const std::exception& e) {
    spdlog::error("api: {} {} threw: {}", EscapeControlText(request.method),
                  EscapeControlText(request.path), e.what());
  } catch (...) {
    spdlog::error("api: {} {} threw a non-standard exception", EscapeControlText(request.method),
                  EscapeControlText(request.path));
  }
  return ErrorResponse(500, "internal", "internal error");
}

ApiResponse ApiService::Handle(ApiRequest& request) {
  Admission admission = Admit(request);
  if (admission.response) {
    return std::move(*admission.response);
  }
  const size_t limit = admission.route->limits.max_body_bytes;
  if (limit != 0 && request.body.size() > limit) {
    return BodyTooLargeResponse(limit);
  }
  return Dispatch(*admission.route, request);
}

ApiResponse BodyTooLargeResponse(size_t limit) {
  return ErrorResponse(413, "too_large",
                       "request body exceeds " + std::to_string(limit) + " bytes");
}

}  // namespace dozor::server::http
