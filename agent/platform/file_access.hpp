// Who may read or write a file: the agent refuses a secret (identity.json) that others can reach.
// POSIX permission bits on Linux (linux/file_access_linux.cpp); the DACL on Windows later.
#pragma once

#include <filesystem>
#include <string>

#include "dozor/common/result.hpp"

namespace dozor::agent::platform {

struct FileAccess {
  bool regular_file = false;
  // Nobody but the owner (and the administrator) may read or write it.
  bool owner_only = false;
  // What the user sees and how to fix it, e.g. "mode 0644" / "chmod 600 <path>".
  std::string description;
  std::string make_owner_only_hint;
};

// kNotFound when `path` (or a directory on the way) does not exist; kPermissionDenied when it
// cannot be examined.
[[nodiscard]] Result<FileAccess> ReadFileAccess(const std::filesystem::path& path);

}  // namespace dozor::agent::platform
