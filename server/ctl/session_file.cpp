#include "ctl/session_file.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "dozor/common/files.hpp"

namespace dozor::ctl {

namespace {

// A session file is a few hundred bytes; anything far larger is not one.
constexpr size_t kMaxSessionFileBytes = 64 * 1024;
constexpr std::string_view kFormat = "dozorctl.session/v1";

std::string_view WithoutTrailingSlashes(std::string_view url) {
  while (!url.empty() && url.back() == '/') {
    url.remove_suffix(1);
  }
  return url;
}

std::string StringField(const nlohmann::json& object, const char* key) {
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

std::filesystem::path DefaultSessionPath(const std::function<const char*(const char*)>& getenv) {
  // The XDG base directory spec: a relative XDG_CONFIG_HOME is invalid and must be ignored.
  if (const char* config = getenv("XDG_CONFIG_HOME"); config != nullptr && config[0] == '/') {
    return std::filesystem::path(config) / "dozor" / "session";
  }
  if (const char* home = getenv("HOME"); home != nullptr && home[0] != '\0') {
    return std::filesystem::path(home) / ".config" / "dozor" / "session";
  }
  return {};
}

bool SameServer(std::string_view a, std::string_view b) {
  return WithoutTrailingSlashes(a) == WithoutTrailingSlashes(b);
}

Result<std::optional<StoredSession>> LoadSession(const std::filesystem::path& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) {
      return std::optional<StoredSession>();
    }
    return MakeError(ErrorCode::kInternal,
                     "cannot read session file " + path.string() + ": " + std::strerror(errno));
  }
  if (info.st_uid != ::geteuid()) {
    return MakeError(ErrorCode::kPermissionDenied,
                     "session file " + path.string() + " belongs to another user; not used");
  }
  if ((info.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    return MakeError(ErrorCode::kPermissionDenied,
                     "session file " + path.string() +
                         " can be read by other users; not used (run `dozorctl login` again)");
  }
  DOZOR_ASSIGN_OR_RETURN(std::string text, ReadFile(path, kMaxSessionFileBytes));
  const nlohmann::json parsed = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_object() || StringField(parsed, "format") != kFormat) {
    return MakeError(ErrorCode::kDataLoss, "session file " + path.string() +
                                               " is not a dozorctl session; run `dozorctl login`");
  }
  StoredSession session;
  session.server_url = StringField(parsed, "server");
  session.token = StringField(parsed, "session_token");
  session.login = StringField(parsed, "login");
  session.role = StringField(parsed, "role");
  session.language = StringField(parsed, "language");
  if (const auto it = parsed.find("expires_at_ms"); it != parsed.end() && it->is_number_integer()) {
    session.expires_at_ms = it->get<int64_t>();
  }
  if (session.server_url.empty() || session.token.empty()) {
    return MakeError(ErrorCode::kDataLoss, "session file " + path.string() +
                                               " has no server or token; run `dozorctl login`");
  }
  return std::optional<StoredSession>(std::move(session));
}

Status SaveSession(const std::filesystem::path& path, const StoredSession& session) {
  if (path.has_parent_path()) {
    DOZOR_RETURN_IF_ERROR(EnsureDirectory(path.parent_path(), 0700));
  }
  const nlohmann::json content = {
      {"format", std::string(kFormat)},
      {"server", std::string(WithoutTrailingSlashes(session.server_url))},
      {"session_token", session.token},
      {"login", session.login},
      {"role", session.role},
      {"language", session.language},
      {"expires_at_ms", session.expires_at_ms}};
  return WriteFileAtomic(path, content.dump(2) + "\n", 0600);
}

Status RemoveSession(const std::filesystem::path& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return MakeError(ErrorCode::kInternal,
                     "cannot delete session file " + path.string() + ": " + std::strerror(errno));
  }
  return OkStatus();
}

}  // namespace dozor::ctl
