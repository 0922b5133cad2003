#include "http/auth.hpp"

#include "dozor/common/crypto.hpp"
#include "dozor/common/files.hpp"

namespace dozor::server::http {

namespace {
// Long enough for any token we issue; longer headers are rejected before hashing.
constexpr size_t kMaxTokenLength = 256;
}  // namespace

Result<std::string> NewApiTokenPlaintext() {
  DOZOR_ASSIGN_OR_RETURN(std::string random, RandomHex(32));
  return std::string(kApiTokenPrefix) + random;
}

Result<std::string> NewEnrollmentTokenPlaintext() {
  DOZOR_ASSIGN_OR_RETURN(std::string random, RandomHex(32));
  return std::string(kEnrollmentTokenPrefix) + random;
}

Result<std::string> NewSessionIdPlaintext() {
  DOZOR_ASSIGN_OR_RETURN(std::string random, RandomHex(32));
  return std::string(kSessionPrefix) + random;
}

std::string CookieValue(std::string_view cookie_header, std::string_view name) {
  while (!cookie_header.empty()) {
    const size_t end = cookie_header.find(';');
    std::string_view pair = cookie_header.substr(0, end);
    cookie_header =
        end == std::string_view::npos ? std::string_view() : cookie_header.substr(end + 1);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    const size_t equals = pair.find('=');
    if (equals != std::string_view::npos && pair.substr(0, equals) == name) {
      return std::string(pair.substr(equals + 1));
    }
  }
  return {};
}

Result<Caller> CallerForUser(UserStore& users, const User& user) {
  Caller caller;
  caller.user_id = user.id;
  caller.name = user.login;
  caller.role = user.role;
  caller.language = user.language;
  caller.token_role = ApiRole::kAdmin;
  if (user.role == UserRole::kClient) {
    caller.client_org_id = user.org_id;
  } else if (user.role == UserRole::kEngineer) {
    DOZOR_ASSIGN_OR_RETURN(caller.assigned_org_ids, users.AssignedOrgIds(user.id));
  }
  return caller;
}

namespace {

Result<Authenticated> BySession(Store& store, std::string_view session_id, bool by_cookie,
                                const Clock& clock, const SessionSettings& sessions) {
  if (session_id.size() > kMaxTokenLength ||
      session_id.substr(0, kSessionPrefix.size()) != kSessionPrefix) {
    return MakeError(ErrorCode::kPermissionDenied, "unknown or ended session; log in again");
  }
  auto found =
      store.Users().AuthenticateSession(Sha256Hex(session_id), clock.NowMs(), sessions.idle_ms);
  if (!found.ok()) {
    return found.error();
  }
  auto& [session, user] = *found;
  DOZOR_ASSIGN_OR_RETURN(Caller caller, CallerForUser(store.Users(), user));
  caller.session_id = session.id;
  caller.via = by_cookie ? Via::kDashboard : Via::kCli;
  Authenticated out{std::move(caller), {}};
  if (by_cookie) {
    out.cookie_csrf_token = session.csrf_token;
  }
  return out;
}

Result<Authenticated> ByApiToken(Store& store, std::string_view token, const ApiRequest& request,
                                 const Clock& clock) {
  auto found = store.ApiTokens().AuthenticateApiToken(Sha256Hex(token), clock.NowMs());
  if (!found.ok()) {
    if (found.error().code == ErrorCode::kNotFound) {
      return MakeError(ErrorCode::kPermissionDenied, "unknown API token");
    }
    return found.error();
  }
  Caller caller;
  if (found->user_id) {
    auto user = store.Users().GetUser(*found->user_id);
    if (!user.ok()) {
      if (user.error().code == ErrorCode::kNotFound) {
        return MakeError(ErrorCode::kPermissionDenied, "the API token's account no longer exists");
      }
      return user.error();
    }
    if (!user->enabled) {
      return MakeError(ErrorCode::kPermissionDenied, "the API token's account is disabled");
    }
    DOZOR_ASSIGN_OR_RETURN(caller, CallerForUser(store.Users(), *user));
  } else {
    // A token from before accounts, or the admin token file's: an admin, narrowed by its role.
    caller.name = found->name;
    caller.role = UserRole::kAdmin;
  }
  caller.token_role = found->role;
  caller.api_token_id = found->id;
  caller.via = request.dozor_client == "dozorctl" ? Via::kCli : Via::kApi;
  return Authenticated{std::move(caller), {}};
}

}  // namespace

Result<Authenticated> Authenticate(Store& store, const ApiRequest& request, const Clock& clock,
                                   const SessionSettings& sessions) {
  const std::string_view header = request.authorization;
  if (header.empty()) {
    const std::string cookie = CookieValue(request.cookie, kSessionCookieName);
    if (!cookie.empty()) {
      return BySession(store, cookie, /*by_cookie=*/true, clock, sessions);
    }
    return MakeError(ErrorCode::kPermissionDenied,
                     "missing Authorization: Bearer token (or log in for a session)");
  }
  if (header.size() <= kBearerScheme.size() ||
      header.substr(0, kBearerScheme.size()) != kBearerScheme) {
    return MakeError(ErrorCode::kPermissionDenied, "Authorization header must be 'Bearer <token>'");
  }
  const std::string token = Trimmed(header.substr(kBearerScheme.size()));
  if (token.empty() || token.size() > kMaxTokenLength) {
    return MakeError(ErrorCode::kPermissionDenied, "unknown API token");
  }
  if (token.substr(0, kSessionPrefix.size()) == kSessionPrefix) {
    return BySession(store, token, /*by_cookie=*/false, clock, sessions);
  }
  return ByApiToken(store, token, request, clock);
}

Result<std::optional<std::string>> BootstrapAdminToken(ApiTokenStore& store,
                                                       const std::filesystem::path& token_file,
                                                       const Clock& clock) {
  (void)clock;  // the bootstrap token never expires; the clock is kept for symmetry with callers
  DOZOR_ASSIGN_OR_RETURN(const int64_t count, store.CountApiTokens());
  if (count > 0) {
    return std::optional<std::string>();
  }
  DOZOR_ASSIGN_OR_RETURN(std::string token, IssueAdminToken(store, token_file, "bootstrap-admin"));
  return std::optional<std::string>(std::move(token));
}

Result<std::string> IssueAdminToken(ApiTokenStore& store, const std::filesystem::path& token_file,
                                    std::string_view name) {
  DOZOR_ASSIGN_OR_RETURN(std::string token, NewApiTokenPlaintext());
  // Write the file first: a token stored but never shown would lock the operator out.
  if (token_file.has_parent_path()) {
    DOZOR_RETURN_IF_ERROR(EnsureDirectory(token_file.parent_path(), 0700));
  }
  DOZOR_RETURN_IF_ERROR(WriteFileAtomic(token_file, token + "\n", 0600));
  auto created = store.CreateApiToken(name, ApiRole::kAdmin, Sha256Hex(token),
                                      token.substr(0, kTokenHintLength), std::nullopt);
  if (!created.ok()) {
    return created.error().Wrap("storing admin token");
  }
  return token;
}

}  // namespace dozor::server::http
