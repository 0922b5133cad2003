#include "core/identity.hpp"

#include <nlohmann/json.hpp>
#include <string>

#include "dozor/common/files.hpp"
#include "dozor/common/path_text.hpp"
#include "platform/file_access.hpp"

namespace dozor::agent {
namespace {

constexpr const char* kNotEnrolledMessage =
    "not enrolled: run `dozor-agent enroll --server HOST:PORT --token TOKEN`";

}  // namespace

std::filesystem::path IdentityPath(const std::filesystem::path& state_dir) {
  return state_dir / kIdentityFileName;
}

Status SaveIdentity(const std::filesystem::path& state_dir, const AgentIdentity& identity) {
  if (identity.agent_id.empty() || identity.agent_secret.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "identity needs an agent id and a secret");
  }
  std::error_code ec;
  if (!std::filesystem::exists(state_dir, ec)) {
    DOZOR_RETURN_IF_ERROR(EnsureDirectory(state_dir, 0700));
  }
  nlohmann::json json = {
      {"agent_id", identity.agent_id},
      {"agent_secret", identity.agent_secret},
      {"server_address", identity.server_address},
      {"organization", identity.organization},
      {"enrolled_at_ms", identity.enrolled_at_ms},
  };
  // Replacing invalid UTF-8 rather than throwing: dump() must not throw out of here.
  const std::string text =
      json.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  auto written = WriteFileAtomic(IdentityPath(state_dir), text, 0600);
  if (!written.ok()) {
    return written.error().Wrap("save identity");
  }
  return OkStatus();
}

Result<AgentIdentity> LoadIdentity(const std::filesystem::path& state_dir) {
  const std::filesystem::path path = IdentityPath(state_dir);
  auto access = platform::ReadFileAccess(path);
  if (!access.ok()) {
    if (access.error().code == ErrorCode::kNotFound) {
      return MakeError(ErrorCode::kNotFound,
                       std::string(kNotEnrolledMessage) + " (no " + PathToUtf8(path) + ")");
    }
    return access.error();
  }
  if (!access->regular_file) {
    return MakeError(ErrorCode::kDataLoss, PathToUtf8(path) + " is not a regular file");
  }
  // The file holds the agent's secret; others must not read it, nor write it (they could point
  // the agent at another server).
  if (!access->owner_only) {
    return MakeError(ErrorCode::kPermissionDenied,
                     PathToUtf8(path) + " is accessible to group or others (" +
                         access->description +
                         ") and holds the agent secret; refusing to use it: run `" +
                         access->make_owner_only_hint + "`");
  }
  auto content = ReadFile(path, kMaxIdentityFileBytes);
  if (!content.ok()) {
    if (content.error().code == ErrorCode::kResourceExhausted) {
      return MakeError(ErrorCode::kDataLoss, content.error().message);
    }
    return content.error().Wrap("load identity");
  }
  auto malformed = [&](const std::string& why) {
    return MakeError(ErrorCode::kDataLoss,
                     PathToUtf8(path) + " is not a valid identity file (" + why +
                         "); enroll again with `dozor-agent enroll --server HOST:PORT --token "
                         "TOKEN`");
  };
  nlohmann::json json = nlohmann::json::parse(*content, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) {
    return malformed("not JSON");
  }
  if (!json.is_object()) {
    return malformed("not a JSON object");
  }
  AgentIdentity identity;
  auto read_string = [&](const char* key, bool required, std::string* out) -> Status {
    auto it = json.find(key);
    if (it == json.end() || it->is_null()) {
      if (required) {
        return malformed(std::string("missing ") + key);
      }
      return OkStatus();
    }
    if (!it->is_string()) {
      return malformed(std::string(key) + " is not a string");
    }
    *out = it->get<std::string>();
    if (required && out->empty()) {
      return malformed(std::string(key) + " is empty");
    }
    return OkStatus();
  };
  DOZOR_RETURN_IF_ERROR(read_string("agent_id", true, &identity.agent_id));
  DOZOR_RETURN_IF_ERROR(read_string("agent_secret", true, &identity.agent_secret));
  DOZOR_RETURN_IF_ERROR(read_string("server_address", false, &identity.server_address));
  DOZOR_RETURN_IF_ERROR(read_string("organization", false, &identity.organization));
  auto enrolled = json.find("enrolled_at_ms");
  if (enrolled != json.end() && !enrolled->is_null()) {
    if (!enrolled->is_number_integer()) {
      return malformed("enrolled_at_ms is not an integer");
    }
    identity.enrolled_at_ms = enrolled->get<int64_t>();
  }
  return identity;
}

}  // namespace dozor::agent
