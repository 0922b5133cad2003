// /api/v1/auth/login, /api/v1/auth/logout and /api/v1/me: people log in with a password and get a
// session: the dashboard an HttpOnly cookie plus a CSRF token, dozorctl a bearer session token.
// Failed logins are throttled per account and per client address and written to the audit log
// (as every POST is, by ApiService).
#include <memory>

#include "domain/failure_throttle.hpp"
#include "dozor/common/crypto.hpp"
#include "http/handlers.hpp"
#include "http/password.hpp"

namespace dozor::server::http {

namespace {

struct LoginThrottles {
  LoginThrottles(const FailureThrottleOptions& account, const FailureThrottleOptions& address)
      : by_account(account), by_address(address) {}
  FailureThrottle by_account;
  FailureThrottle by_address;
};

bool IsJsonContentType(std::string_view value) {
  const std::string_view media = value.substr(0, value.find(';'));
  std::string folded;
  for (const char c : media) {
    if (c != ' ' && c != '\t')
      folded += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return folded == "application/json";
}

std::string AccountKey(std::string_view login) {
  // Case-folded like the login column (NOCASE: ASCII), so "Anna" and "anna" share one budget.
  std::string key(login);
  for (char& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return key;
}

ApiResponse TooManyLogins(int64_t blocked_ms, std::string_view what) {
  const int seconds = static_cast<int>((blocked_ms + 999) / 1000);
  ApiResponse response = ErrorResponse(429, "too_many_requests",
                                       "too many failed logins " + std::string(what) +
                                           "; try again in " + std::to_string(seconds) + " s");
  response.retry_after_seconds = seconds;
  return response;
}

std::string SessionCookie(std::string_view value, int64_t max_age_s, bool tls) {
  std::string cookie = std::string(kSessionCookieName) + "=" + std::string(value) +
                       "; Path=/; HttpOnly; SameSite=Strict; Max-Age=" + std::to_string(max_age_s);
  if (tls) cookie += "; Secure";
  return cookie;
}

nlohmann::json MeJson(ApiContext& context, const Caller& caller, const std::optional<User>& user) {
  nlohmann::json out = user ? UserJson(*user)
                            : nlohmann::json{{"id", nullptr},
                                             {"login", caller.name},
                                             {"display_name", caller.name},
                                             {"role", caller.role}};
  out["token_role"] = caller.token_role;
  out["via"] = ToString(caller.via);
  out["session"] = caller.session_id.has_value();
  nlohmann::json orgs = nlohmann::json::array();
  if (auto all = context.store.Organizations().ListOrganizations(); all.ok()) {
    for (const auto& org : *all) {
      if (caller.CanSeeOrg(org.id)) orgs.push_back({{"id", org.id}, {"name", org.name}});
    }
  }
  out["organizations"] = std::move(orgs);
  out["all_organizations"] = caller.SeesAllOrgs();
  return out;
}

ApiResponse Login(ApiContext& context, LoginThrottles& throttles, const ApiRequest& request) {
  // A page of another site can post a form (text/plain, urlencoded, multipart) to this route as a
  // top-level navigation, where even a SameSite=Strict cookie is set: it would log the victim into
  // the attacker's account ("login CSRF"). Such a form cannot send application/json, and a
  // script of another origin cannot either without a CORS preflight this server never grants.
  if (!request.content_type.empty() && !IsJsonContentType(request.content_type)) {
    return ErrorResponse(415, "unsupported_media_type",
                         "send the login as Content-Type: application/json");
  }
  auto body = ParseJsonObject(request.body);
  if (!body.ok()) {
    return ErrorResponse(body.error());
  }
  auto login = OptionalString(*body, "login");
  auto password = OptionalString(*body, "password");
  auto client = OptionalString(*body, "client");
  for (const auto* field : {&login, &password, &client}) {
    if (!field->ok()) {
      return ErrorResponse(field->error());
    }
  }
  if (!login->has_value() || !password->has_value() || (*login)->empty() ||
      (*login)->size() > 200) {
    return ErrorResponse(400, "invalid_argument", "fields 'login' and 'password' are required");
  }
  const std::string& name = **login;
  const SessionKind kind =
      client->value_or("browser") == "cli" ? SessionKind::kCli : SessionKind::kBrowser;
  if (client->has_value() && **client != "cli" && **client != "browser") {
    return ErrorResponse(400, "invalid_argument", "client must be 'browser' or 'cli'");
  }
  const int64_t now_ms = context.clock.NowMs();
  const std::string account_key = AccountKey(name);
  ApiResponse refused;
  if (const int64_t blocked = throttles.by_account.BlockedForMs(account_key, now_ms); blocked > 0) {
    refused = TooManyLogins(blocked, "for this account");
  } else if (const int64_t by_address =
                 request.client_address.empty()
                     ? 0
                     : throttles.by_address.BlockedForMs(request.client_address, now_ms);
             by_address > 0) {
    refused = TooManyLogins(by_address, "from this address");
  }
  if (refused.status == 429) {
    refused.audit_actor = name;
    refused.audit_via = kind == SessionKind::kCli ? Via::kCli : Via::kDashboard;
    refused.audit_detail = "login refused: throttled";
    return refused;
  }
  auto account = context.store.Users().PasswordOf(name);
  if (!account.ok() && account.error().code != ErrorCode::kNotFound &&
      account.error().code != ErrorCode::kPermissionDenied) {
    return ErrorResponse(account.error());
  }
  // Unknown login, disabled account, no password: the same time and the same answer as a wrong
  // password, so logins cannot be enumerated.
  const bool verified = VerifyPassword(account.ok() ? account->second : "", **password);
  if (!account.ok() || !verified) {
    throttles.by_account.RecordFailure(account_key, now_ms);
    if (!request.client_address.empty()) {
      throttles.by_address.RecordFailure(request.client_address, now_ms);
    }
    ApiResponse response = ErrorResponse(401, "login_failed", "wrong login or password");
    response.audit_actor = name;
    response.audit_via = kind == SessionKind::kCli ? Via::kCli : Via::kDashboard;
    response.audit_detail = "login failed";
    return response;
  }
  const User& user = account->first;
  auto session_id = NewSessionIdPlaintext();
  auto csrf = RandomHex(32);
  if (!session_id.ok() || !csrf.ok()) {
    return ErrorResponse(500, "internal", "no randomness for a session id");
  }
  NewSession session;
  session.session_hash = Sha256Hex(*session_id);
  session.user_id = user.id;
  session.kind = kind;
  session.csrf_token = *csrf;
  session.source = request.client_address;
  session.now_ms = now_ms;
  const int64_t lifetime_ms = kind == SessionKind::kCli ? context.sessions.cli_absolute_ms
                                                        : context.sessions.browser_absolute_ms;
  session.expires_at_ms = now_ms + lifetime_ms;
  auto created = context.store.Users().CreateSession(session);
  if (!created.ok()) {
    return ErrorResponse(created.error());
  }
  auto caller = CallerForUser(context.store.Users(), user);
  if (!caller.ok()) {
    return ErrorResponse(caller.error());
  }
  caller->session_id = created->id;
  caller->via = kind == SessionKind::kCli ? Via::kCli : Via::kDashboard;
  ApiResponse response;
  response.body = {{"user", MeJson(context, *caller, user)}};
  PutTime(response.body, "expires_at", session.expires_at_ms);
  response.body["idle_timeout_seconds"] = context.sessions.idle_ms / 1000;
  if (kind == SessionKind::kCli) {
    response.body["session_token"] = *session_id;
  } else {
    response.body["csrf_token"] = *csrf;
    response.set_cookies.push_back(SessionCookie(*session_id, lifetime_ms / 1000, request.tls));
  }
  response.audit_actor = user.login;
  response.audit_via = caller->via;
  response.audit_object = "user " + std::to_string(user.id);
  response.audit_detail = "login (" + std::string(ToString(kind)) + " session)";
  return response;
}

ApiResponse Logout(ApiContext& context, const ApiRequest& request) {
  const Caller& caller = *request.caller;
  if (!caller.session_id) {
    return ErrorResponse(400, "invalid_argument",
                         "this request was made with an API token, not a session; revoke the "
                         "token instead (POST /api/v1/api-tokens/{id}/revoke)");
  }
  if (auto ended = context.store.Users().DeleteSession(*caller.session_id); !ended.ok()) {
    return ErrorResponse(ended.error());
  }
  ApiResponse response;
  response.body = {{"logged_out", true}};
  if (caller.via == Via::kDashboard) {
    response.set_cookies.push_back(SessionCookie("", 0, request.tls));
  }
  return response;
}

ApiResponse NoAccountSessions() {
  return ErrorResponse(400, "invalid_argument",
                       "this credential belongs to no account, so it has no sessions");
}

// The caller's own sessions (browser and dozorctl logins), so someone who logged in elsewhere can
// see where and end what they do not recognise.
ApiResponse ListOwnSessions(ApiContext& context, const ApiRequest& request) {
  const Caller& caller = *request.caller;
  if (!caller.user_id) {
    return NoAccountSessions();
  }
  auto sessions = context.store.Users().ListUserSessions(*caller.user_id, context.clock.NowMs(),
                                                         context.sessions.idle_ms);
  if (!sessions.ok()) {
    return ErrorResponse(sessions.error());
  }
  ApiResponse response;
  response.body["sessions"] = nlohmann::json::array();
  for (const auto& session : *sessions) {
    nlohmann::json row = {{"id", session.id},
                          {"kind", ToString(session.kind)},
                          {"source", session.source},
                          {"current", caller.session_id == session.id}};
    PutTime(row, "created_at", session.created_at_ms);
    PutTime(row, "last_seen_at", session.last_seen_at_ms);
    PutTime(row, "expires_at", session.expires_at_ms);
    response.body["sessions"].push_back(std::move(row));
  }
  return response;
}

ApiResponse EndOwnSession(ApiContext& context, const ApiRequest& request) {
  const Caller& caller = *request.caller;
  if (!caller.user_id) {
    return NoAccountSessions();
  }
  // Not a session id at all: the same answer as another account's session.
  auto parsed = PathId(request, "session");
  if (!parsed.ok()) {
    return ErrorResponse(404, "not_found", "no session with id " + request.params.at("session"));
  }
  const int64_t id = *parsed;
  if (auto ended = context.store.Users().EndUserSession(*caller.user_id, id); !ended.ok()) {
    return ErrorResponse(ended.error());
  }
  ApiResponse response;
  response.body = {{"ended", true}, {"id", id}, {"current", caller.session_id == id}};
  if (caller.session_id == id && caller.via == Via::kDashboard) {
    response.set_cookies.push_back(SessionCookie("", 0, request.tls));
  }
  response.audit_object = "session " + std::to_string(id);
  return response;
}

ApiResponse ShowMe(ApiContext& context, const ApiRequest& request) {
  const Caller& caller = *request.caller;
  std::optional<User> user;
  if (caller.user_id) {
    auto found = context.store.Users().GetUser(*caller.user_id);
    if (!found.ok()) {
      return ErrorResponse(found.error());
    }
    user = std::move(found).value();
  }
  ApiResponse response;
  response.body = MeJson(context, caller, user);
  // A reloaded dashboard tab still has its cookie but no longer the CSRF token the login
  // returned. Another site's page cannot read this answer (same-origin policy, no CORS), so
  // handing the token back here is as safe as the login's own answer.
  if (!request.session_csrf_token.empty()) {
    response.body["csrf_token"] = request.session_csrf_token;
  }
  return response;
}

ApiResponse PatchMe(ApiContext& context, const ApiRequest& request) {
  const Caller& caller = *request.caller;
  if (!caller.user_id) {
    return ErrorResponse(400, "invalid_argument", "this API token belongs to no user account");
  }
  auto body = ParseJsonObject(request.body);
  if (!body.ok()) {
    return ErrorResponse(body.error());
  }
  auto patch = ParseUserPatch(*body, /*admin=*/false);
  if (!patch.ok()) {
    return ErrorResponse(patch.error());
  }
  auto updated = context.store.Users().UpdateUser(*caller.user_id, *patch, context.clock.NowMs());
  if (!updated.ok()) {
    return ErrorResponse(updated.error());
  }
  ApiResponse response;
  response.body = UserJson(*updated);
  response.audit_object = "user " + std::to_string(updated->id);
  return response;
}

ApiResponse ChangeOwnPassword(ApiContext& context, LoginThrottles& throttles,
                              const ApiRequest& request) {
  const Caller& caller = *request.caller;
  if (!caller.user_id) {
    return ErrorResponse(400, "invalid_argument", "this API token belongs to no user account");
  }
  auto body = ParseJsonObject(request.body);
  if (!body.ok()) {
    return ErrorResponse(body.error());
  }
  auto current = OptionalString(*body, "current_password");
  auto next = OptionalString(*body, "new_password");
  if (!current.ok() || !next.ok() || !current->has_value() || !next->has_value()) {
    return ErrorResponse(400, "invalid_argument",
                         "fields 'current_password' and 'new_password' are required");
  }
  // The current password is always required. An account without one (migrated engineers, users
  // created without a password) gets its first password from an administrator: otherwise anyone
  // holding a narrowed API token of that account could set one and log in with full rights.
  auto account = context.store.Users().PasswordOf(caller.name);
  if (!account.ok() && account.error().code == ErrorCode::kPermissionDenied) {
    return ErrorResponse(403, "forbidden",
                         "this account has no password yet; an administrator sets the first one "
                         "(dozorctl user passwd LOGIN)");
  }
  if (!account.ok()) {
    return ErrorResponse(account.error());
  }
  // A wrong current password counts like a failed login of the account: otherwise a stolen
  // session or a narrowed token could guess the password here without limit.
  const std::string account_key = AccountKey(caller.name);
  const int64_t now_ms = context.clock.NowMs();
  if (const int64_t blocked = throttles.by_account.BlockedForMs(account_key, now_ms); blocked > 0) {
    return TooManyLogins(blocked, "for this account");
  }
  if (!VerifyPassword(account->second, **current)) {
    throttles.by_account.RecordFailure(account_key, now_ms);
    return ErrorResponse(403, "forbidden", "the current password is wrong");
  }
  if (auto valid = CheckNewPassword(**next, caller.name); !valid.ok()) {
    return ErrorResponse(valid.error());
  }
  auto hash = HashPassword(**next);
  if (!hash.ok()) {
    return ErrorResponse(hash.error());
  }
  // Every other session ends: whoever knew the old password is logged out; this one stays. The
  // user's own API tokens stay too (the change proves the current password; an admin reset is
  // the way to cut everything off).
  if (auto set = context.store.Users().SetPasswordHash(
          *caller.user_id, *hash, context.clock.NowMs(), caller.session_id, false);
      !set.ok()) {
    return ErrorResponse(set.error());
  }
  ApiResponse response;
  response.body = {{"password_changed", true}};
  response.audit_object = "user " + std::to_string(*caller.user_id);
  return response;
}

}  // namespace

void RegisterSessionRoutes(Router& router, ApiContext& context) {
  auto throttles = std::make_shared<LoginThrottles>(context.login_account_throttle,
                                                    context.login_address_throttle);
  // Verifying a password takes tens of milliseconds: the slow pool.
  router.Add(
      "POST", "/api/v1/auth/login", Access::kPublic, Scope::Public(),
      [&context, throttles](ApiRequest& request) { return Login(context, *throttles, request); },
      RouteLimits{.cost = RouteCost::kSlow, .max_body_bytes = 4096});
  router.Add("POST", "/api/v1/auth/logout", Access::kRead, Scope::CallerOnly(),
             [&context](ApiRequest& request) { return Logout(context, request); });
  router.Add("GET", "/api/v1/me", Access::kRead, Scope::CallerOnly(),
             [&context](ApiRequest& request) { return ShowMe(context, request); });
  router.Add("GET", "/api/v1/me/sessions", Access::kRead, Scope::CallerOnly(),
             [&context](ApiRequest& request) { return ListOwnSessions(context, request); });
  router.Add("POST", "/api/v1/me/sessions/{session}/end", Access::kRead, Scope::CallerOnly(),
             [&context](ApiRequest& request) { return EndOwnSession(context, request); });
  router.Add("PATCH", "/api/v1/me", Access::kClientAction, Scope::CallerOnly(),
             [&context](ApiRequest& request) { return PatchMe(context, request); });
  router.Add(
      "POST", "/api/v1/me/password", Access::kClientAction, Scope::CallerOnly(),
      [&context, throttles](ApiRequest& request) {
        return ChangeOwnPassword(context, *throttles, request);
      },
      RouteLimits{.cost = RouteCost::kSlow, .max_body_bytes = 4096});
}

}  // namespace dozor::server::http
