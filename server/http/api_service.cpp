#include "http/api_service.hpp"

#include <spdlog/spdlog.h>

#include <exception>

#include "dozor/common/crypto.hpp"
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
  context_.stopping = &stopping_;
  router_.Add("GET", "/api/v1/health", Access::kPublic, Scope::Public(), [](ApiRequest&) {
    ApiResponse response;
    response.body = {{"status", "ok"}, {"version", kVersion}};
    return response;
  });
  RegisterOrgRoutes(router_, context_);
  RegisterEnrollmentTokenRoutes(router_, context_);
  RegisterHostRoutes(router_, context_);
  RegisterSearchRoutes(router_, context_);
  RegisterApiTokenRoutes(router_, context_);
  RegisterSecurityEventRoutes(router_, context_);
  RegisterFindingRoutes(router_, context_);
  RegisterReportRoutes(router_, context_);
  RegisterRuleRoutes(router_, context_);
  RegisterInstallRoutes(router_, context_);
  RegisterImportRoutes(router_, context_);
  RegisterSessionRoutes(router_, context_);
  RegisterUserRoutes(router_, context_);
  RegisterPeopleRoutes(router_, context_);
  RegisterFeedRoutes(router_, context_);
  RegisterAlertRoutes(router_, context_);
  RegisterAlertRuleRoutes(router_, context_);
  RegisterMetricsRoutes(router_, context_);
  RegisterAlertAckRoutes(router_, context_);
  RegisterDashboardRoutes(router_, context_);
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
      auto authenticated = Authenticate(context_.store, request, context_.clock, context_.sessions);
      if (!authenticated.ok()) {
        if (authenticated.error().code == ErrorCode::kPermissionDenied) {
          CountFailedAuthentication(request);
          return {ErrorResponse(401, "unauthenticated", authenticated.error().message), nullptr};
        }
        spdlog::error("api: authenticating request failed: {}", authenticated.error().ToString());
        return {ErrorResponse(authenticated.error()), nullptr};
      }
      const Caller& caller = authenticated->caller;
      const bool changes_state =
          request.method != "GET" && request.method != "HEAD" && request.method != "OPTIONS";
      // A known person trying a change they may not make is worth an audit line: a client's
      // sysadmin probing for an acknowledge, a page of another site riding a session cookie.
      const auto refuse = [&](ApiResponse response) -> Admission {
        if (changes_state) {
          request.caller = caller;
          RecordAudit(route, request, response);
          request.caller.reset();
        }
        return {std::move(response), nullptr};
      };
      if (!Allows(caller, route.access)) {
        std::string who = "role '" + std::string(ToString(caller.role)) + "'";
        if (caller.token_role != ApiRole::kAdmin && !caller.session_id) {
          who += " with a '" + std::string(ToString(caller.token_role)) + "' API token";
        }
        return refuse(ErrorResponse(403, "forbidden",
                                    who + " may not " + request.method + " " + request.path));
      }
      // A cookie is sent by the browser on its own, also on a request another site made it send;
      // only the page that logged in knows the session's CSRF token.
      if (changes_state && !authenticated->cookie_csrf_token.empty() &&
          !ConstantTimeEquals(request.csrf_token, authenticated->cookie_csrf_token)) {
        return refuse(ErrorResponse(403, "csrf_failed",
                                    "missing or wrong X-CSRF-Token header for this session"));
      }
      auto scope_org = ResolveScope(route, request, caller);
      // A caller who sees every organisation has nothing to be hidden from: a missing object is
      // left to the handler, which checks the request first and words the 404 itself.
      if (!scope_org.ok() && caller.SeesAllOrgs() &&
          (scope_org.error().code == ErrorCode::kNotFound ||
           scope_org.error().code == ErrorCode::kInvalidArgument)) {
        scope_org = std::optional<int64_t>();
      }
      if (!scope_org.ok()) {
        if (scope_org.error().code == ErrorCode::kNotFound ||
            scope_org.error().code == ErrorCode::kInvalidArgument) {
          return refuse(ErrorResponse(scope_org.error()));
        }
        spdlog::error("api: resolving the scope of {} {} failed: {}",
                      EscapeControlText(request.method), EscapeControlText(request.path),
                      scope_org.error().ToString());
        return {ErrorResponse(scope_org.error()), nullptr};
      }
      request.scope_org_id = *scope_org;
      request.caller = std::move(authenticated->caller);
      request.session_csrf_token = std::move(authenticated->cookie_csrf_token);
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
  if (context_.audit != nullptr) {
    context_.audit->Record(SecurityEventKind::kApiAuthFailed, request.client_address,
                           CredentialHint(request.authorization),
                           "unknown, expired or revoked credential");
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

Result<std::optional<int64_t>> ApiService::ResolveScope(const Route& route,
                                                        const ApiRequest& request,
                                                        const Caller& caller) {
  const Scope& scope = route.scope;
  if (scope.kind == ScopeKind::kPublic || scope.kind == ScopeKind::kCaller ||
      scope.kind == ScopeKind::kList) {
    return std::optional<int64_t>();
  }
  const auto param = request.params.find(scope.param);
  if (param == request.params.end()) {
    return MakeError(ErrorCode::kInternal, "route parameter missing: " + scope.param);
  }
  const std::string& key = param->second;
  // Outside the scope reads exactly as "does not exist": same status, same words.
  auto hidden = [](std::string message) -> Result<std::optional<int64_t>> {
    return MakeError(ErrorCode::kNotFound, std::move(message));
  };
  auto in_scope = [&](int64_t org_id, std::string message) -> Result<std::optional<int64_t>> {
    if (!caller.CanSeeOrg(org_id)) {
      return hidden(std::move(message));
    }
    return std::optional<int64_t>(org_id);
  };
  switch (scope.kind) {
    case ScopeKind::kOrg: {
      // The words FindOrg (and so every org route) uses for an organisation that does not exist.
      const std::string missing = "organisation '" + key + "' not found";
      auto org = FindOrg(context_.store.Organizations(), key);
      if (!org.ok()) {
        return org.error().code == ErrorCode::kNotFound ? hidden(missing) : org.error();
      }
      return in_scope(org->id, missing);
    }
    case ScopeKind::kHost: {
      // The words HostError uses (hosts_handler.cpp).
      const std::string missing = "host '" + key + "' not found";
      auto host = context_.store.Hosts().GetHost(key);
      if (!host.ok()) {
        return host.error().code == ErrorCode::kNotFound ? hidden(missing) : host.error();
      }
      return in_scope(host->org_id, missing);
    }
    case ScopeKind::kFinding:
    case ScopeKind::kEnrollmentToken:
    case ScopeKind::kApiToken:
    case ScopeKind::kAlert: {
      DOZOR_ASSIGN_OR_RETURN(const int64_t id, PathId(request, scope.param));
      if (scope.kind == ScopeKind::kAlert) {
        const std::string missing = "no alert " + std::to_string(id);
        auto alert = context_.store.Alerts().GetAlert(id);
        if (!alert.ok()) {
          return alert.error().code == ErrorCode::kNotFound ? hidden(missing) : alert.error();
        }
        return in_scope(alert->org_id, missing);
      }
      if (scope.kind == ScopeKind::kFinding) {
        // The words FindingError uses (findings_handler.cpp).
        const std::string missing = "finding " + std::to_string(id) + " not found";
        auto finding = context_.store.Findings().GetFinding(id);
        if (!finding.ok()) {
          return finding.error().code == ErrorCode::kNotFound ? hidden(missing) : finding.error();
        }
        return in_scope(finding->org_id, missing);
      }
      if (scope.kind == ScopeKind::kEnrollmentToken) {
        const std::string missing = "no enrollment token with id " + std::to_string(id);
        auto token = context_.store.Agents().GetEnrollmentToken(id);
        if (!token.ok()) {
          return token.error().code == ErrorCode::kNotFound ? hidden(missing) : token.error();
        }
        return in_scope(token->org_id, missing);
      }
      const std::string missing = "no API token with id " + std::to_string(id);
      auto token = context_.store.ApiTokens().GetApiToken(id);
      if (!token.ok()) {
        return token.error().code == ErrorCode::kNotFound ? hidden(missing) : token.error();
      }
      if (caller.role == UserRole::kAdmin && caller.token_role == ApiRole::kAdmin) {
        return std::optional<int64_t>();
      }
      if (caller.user_id && token->user_id == caller.user_id) {
        return std::optional<int64_t>();
      }
      return hidden(missing);
    }
    default:
      break;
  }
  return MakeError(ErrorCode::kInternal, "unknown scope kind");
}

void ApiService::RecordAudit(const Route& route, const ApiRequest& request,
                             const ApiResponse& response) {
  AuditEntry entry;
  entry.at_ms = context_.clock.NowMs();
  if (request.caller) {
    entry.actor_user_id = request.caller->user_id;
    entry.actor = request.caller->name;
    entry.via = request.caller->via;
  } else {
    entry.actor = response.audit_actor;
    entry.via = request.dozor_client == "dozorctl" ? Via::kCli
                : request.cookie.empty()           ? Via::kApi
                                                   : Via::kDashboard;
  }
  if (response.audit_via) entry.via = *response.audit_via;
  entry.source = request.client_address;
  entry.action = route.method + " " + route.pattern;
  entry.org_id = request.scope_org_id ? request.scope_org_id : response.audit_org_id;
  entry.object = response.audit_object;
  if (entry.object.empty()) {
    for (const auto& [name, value] : request.params) {
      if (!entry.object.empty()) entry.object += " ";
      entry.object += name + "=" + value;
    }
  }
  entry.status = response.status;
  entry.detail = response.audit_detail;
  if (response.status >= 400 && entry.detail.empty()) {
    if (const auto error = response.body.find("error");
        error != response.body.end() && error->is_object()) {
      entry.detail = error->value("message", "");
    }
  }
  if (auto appended = context_.store.AuditLog().AppendAudit(entry); !appended.ok()) {
    spdlog::error("api: writing the audit log entry of {} by {} failed: {}", entry.action,
                  EscapeControlText(entry.actor), appended.error().ToString());
  }
}

ApiResponse ApiService::Dispatch(const Route& route, ApiRequest& request) {
  try {
    ApiResponse response = route.handler(request);
    if (response.status >= 500) {
      spdlog::error("api: {} {} -> {}: {}", EscapeControlText(request.method),
                    EscapeControlText(request.path), response.status,
                    response.body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    }
    if (request.method != "GET" && request.method != "HEAD") {
      RecordAudit(route, request, response);
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
