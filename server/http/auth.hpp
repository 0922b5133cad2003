// Management API authentication: who a request comes from. Three ways in, all resolved to a Caller
// (domain/access.hpp) with the account's role and organisations:
//   - a browser session: the opaque id in the "dozor_session" cookie (HttpOnly, SameSite=Strict);
//     its state-changing requests must also carry the session's CSRF token (X-CSRF-Token);
//   - a CLI session (dozorctl login): "Authorization: Bearer dzs_...";
//   - an API token: "Authorization: Bearer dza_..." (stored as SHA-256), owned by a user and
//     narrowed by its own role; tokens from before accounts (and the admin token file's) act as
//     admins narrowed by their role.
// Plus the first-start bootstrap of an admin token.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "dozor/common/clock.hpp"
#include "dozor/common/result.hpp"
#include "http/api_types.hpp"
#include "store/api_token_store.hpp"

namespace dozor::server::http {

inline constexpr std::string_view kApiTokenPrefix = "dza_";
inline constexpr std::string_view kEnrollmentTokenPrefix = "dze_";
inline constexpr std::string_view kSessionPrefix = "dzs_";
inline constexpr std::string_view kSessionCookieName = "dozor_session";
inline constexpr size_t kTokenHintLength = 12;
inline constexpr std::string_view kBearerScheme = "Bearer ";

// What an Authorization header presented, safe to record: its credential's first
// kTokenHintLength characters (the public hint of API tokens), never the whole credential.
inline std::string_view CredentialHint(std::string_view authorization) {
  if (authorization.substr(0, kBearerScheme.size()) == kBearerScheme) {
    authorization.remove_prefix(kBearerScheme.size());
  }
  return authorization.substr(0, kTokenHintLength);
}

// "dza_" / "dze_" + 64 hex characters (256 random bits).
Result<std::string> NewApiTokenPlaintext();
Result<std::string> NewEnrollmentTokenPlaintext();

// "dzs_" + 64 hex characters: a session id (cookie value or CLI bearer token).
Result<std::string> NewSessionIdPlaintext();

struct SessionSettings {
  // A session unused this long ends (the dashboard's polling keeps an open tab alive).
  int64_t idle_ms = 2LL * 3600 * 1000;
  // A browser session ends this long after login whatever its use: one working day.
  int64_t browser_absolute_ms = 12LL * 3600 * 1000;
  // dozorctl login: a month, as an engineer's laptop keeps a CLI session across days.
  int64_t cli_absolute_ms = 30LL * 24 * 3600 * 1000;
};

struct Authenticated {
  Caller caller;
  // The session's CSRF token when the caller came by cookie: then every state-changing request
  // must present it. Empty otherwise (a bearer credential is not sent by browsers on their own).
  std::string cookie_csrf_token;
};

// Authenticates a request by its Authorization header or, without one, its session cookie.
// kPermissionDenied (-> 401) when missing, unknown, expired or disabled; other errors are store
// failures.
Result<Authenticated> Authenticate(Store& store, const ApiRequest& request, const Clock& clock,
                                   const SessionSettings& sessions);

// The Caller an account acts as (role, organisations), before any token narrowing.
Result<Caller> CallerForUser(UserStore& users, const User& user);

// The value of cookie `name` in a Cookie header ("a=1; dozor_session=dzs_..."); empty if absent.
std::string CookieValue(std::string_view cookie_header, std::string_view name);

// If the store holds no API tokens at all, creates an admin token, writes its plaintext to
// `token_file` (mode 0600, atomically) and returns it; otherwise returns nullopt and touches
// nothing. Called once at server start so a fresh install has a way in.
Result<std::optional<std::string>> BootstrapAdminToken(ApiTokenStore& store,
                                                       const std::filesystem::path& token_file,
                                                       const Clock& clock);

// Creates a new admin token, writes its plaintext to `token_file` (0600) and returns it. Used for
// the bootstrap and by `dozor-server --reset-admin-token` when the file was lost or the last
// admin token revoked (whoever can run the server on its database is already trusted).
Result<std::string> IssueAdminToken(ApiTokenStore& store, const std::filesystem::path& token_file,
                                    std::string_view name);

}  // namespace dozor::server::http
