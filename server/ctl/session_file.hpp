// The session `dozorctl login` keeps for later commands: one small JSON file per user
// ($XDG_CONFIG_HOME/dozor/session, else ~/.config/dozor/session), holding the bearer session
// token, the server it is for, and what output needs without asking the server again (the
// account's login and language). The token is a credential: the file is written atomically with
// mode 0600 in a 0700 directory, and a file that others could read, or that another user owns, is
// not used.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "dozor/common/result.hpp"

namespace dozor::ctl {

struct StoredSession {
  std::string server_url;  // without trailing '/', as ApiClient uses it
  std::string token;       // "dzs_..."
  std::string login;
  std::string role;
  std::string language;  // "ru" / "en": the account's setting when the session was made
  int64_t expires_at_ms = 0;
};

// Where the session lives for this user: $XDG_CONFIG_HOME/dozor/session when that is an absolute
// path, else $HOME/.config/dozor/session; empty when neither is known. `getenv` is injectable for
// tests.
std::filesystem::path DefaultSessionPath(const std::function<const char*(const char*)>& getenv =
                                             [](const char* name) { return std::getenv(name); });

// The stored session, nullopt when there is no file. kPermissionDenied when the file is readable
// by group or others or owned by another user (it is then not used: the token may have leaked);
// kDataLoss when it is not a session file.
Result<std::optional<StoredSession>> LoadSession(const std::filesystem::path& path);

// Replaces the file atomically (mode 0600; the directory is created 0700).
Status SaveSession(const std::filesystem::path& path, const StoredSession& session);

// Deletes the file; OK when it did not exist.
Status RemoveSession(const std::filesystem::path& path);

// Whether `a` and `b` name the same server (trailing slashes ignored).
bool SameServer(std::string_view a, std::string_view b);

}  // namespace dozor::ctl
