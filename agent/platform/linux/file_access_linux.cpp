#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "platform/file_access.hpp"

namespace dozor::agent::platform {

Result<FileAccess> ReadFileAccess(const std::filesystem::path& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) {
      return MakeError(ErrorCode::kNotFound, "no " + path.string());
    }
    return MakeError(ErrorCode::kPermissionDenied,
                     "cannot read " + path.string() + ": " + std::strerror(errno));
  }
  FileAccess access;
  access.regular_file = S_ISREG(info.st_mode);
  access.owner_only = (info.st_mode & (S_IRGRP | S_IWGRP | S_IROTH | S_IWOTH)) == 0;
  char mode[16];
  std::snprintf(mode, sizeof(mode), "mode %04o", static_cast<unsigned>(info.st_mode & 07777));
  access.description = mode;
  access.make_owner_only_hint = "chmod 600 " + path.string();
  return access;
}

Result<bool> OwnedByAdministrators(const std::filesystem::path& path) {
  struct stat info {};
  if (::lstat(path.c_str(), &info) != 0) {
    return MakeError(errno == ENOENT ? ErrorCode::kNotFound : ErrorCode::kPermissionDenied,
                     "cannot read " + path.string() + ": " + std::strerror(errno));
  }
  return info.st_uid == 0 || info.st_uid == ::geteuid();
}

Status RestrictToAdministrators(const std::filesystem::path&) { return OkStatus(); }

}  // namespace dozor::agent::platform
