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

// For installers (enroll --configure, which the MSI runs as SYSTEM): whether `path` belongs to the
// system, the administrators or this process's own user (root or the installing user on Linux).
// A configuration an ordinary user planted before the installation must not be kept: it could
// point the agent, and its secret, at another server. kNotFound when `path` does not exist.
[[nodiscard]] Result<bool> OwnedByAdministrators(const std::filesystem::path& path);

// For installers: makes `folder` (the configuration's) and everything below it changeable only by
// the system and the administrators, whatever an ordinary user who created it first gave
// themselves. Windows (%ProgramData%, where every user may create folders): owner
// Administrators; the folder and its files readable by users, its subfolders (state, logs) by
// SYSTEM and Administrators only. Linux: nothing to do (the package owns /etc/dozor).
[[nodiscard]] Status RestrictToAdministrators(const std::filesystem::path& folder);

}  // namespace dozor::agent::platform
