// The agent's enrolled identity, kept in <state_dir>/identity.json (mode 0600: it holds the
// secret the agent authenticates with). Written once by `dozor-agent enroll`, read at every start.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "dozor/common/result.hpp"

namespace dozor::agent {

inline constexpr const char* kIdentityFileName = "identity.json";
inline constexpr size_t kMaxIdentityFileBytes = 64 * 1024;

struct AgentIdentity {
  std::string agent_id;
  std::string agent_secret;
  std::string server_address;  // where it enrolled, "host:port"
  std::string organization;
  int64_t enrolled_at_ms = 0;  // Unix ms
};

// <state_dir>/identity.json
[[nodiscard]] std::filesystem::path IdentityPath(const std::filesystem::path& state_dir);

// Writes the identity atomically (temp file + fsync + rename) with mode 0600. Creates state_dir
// with mode 0700 if it does not exist (an existing directory's mode is left alone).
// kInvalidArgument when agent_id or agent_secret is empty.
[[nodiscard]] Status SaveIdentity(const std::filesystem::path& state_dir,
                                  const AgentIdentity& identity);

// kNotFound ("not enrolled: run `dozor-agent enroll ...`") when the file is missing;
// kPermissionDenied when group or others may read or write it (the user must chmod 600);
// kDataLoss naming the file when it is not a valid identity.
[[nodiscard]] Result<AgentIdentity> LoadIdentity(const std::filesystem::path& state_dir);

}  // namespace dozor::agent
