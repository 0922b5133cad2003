#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "platform/file_lock.hpp"

namespace dozor::agent::platform {

Result<ExclusiveFileLock> ExclusiveFileLock::Acquire(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return MakeError(ErrorCode::kUnavailable, path.string() + ": " + std::strerror(errno));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int error_number = errno;
    ::close(fd);
    if (error_number == EWOULDBLOCK) {
      return MakeError(ErrorCode::kAlreadyExists, path.string() + " is locked by another process");
    }
    return MakeError(ErrorCode::kUnavailable, path.string() + ": " + std::strerror(error_number));
  }
  return ExclusiveFileLock(fd);
}

ExclusiveFileLock& ExclusiveFileLock::operator=(ExclusiveFileLock&& other) noexcept {
  if (this != &other) {
    Release();
    handle_ = other.handle_;
    other.handle_ = kNoHandle;
  }
  return *this;
}

ExclusiveFileLock::~ExclusiveFileLock() { Release(); }

void ExclusiveFileLock::Release() noexcept {
  if (handle_ != kNoHandle) {
    ::close(static_cast<int>(handle_));  // releases the flock
    handle_ = kNoHandle;
  }
}

Result<bool> IsFileLocked(const std::filesystem::path& path) {
  // flock works on a read-only descriptor, so a reader needs no write access.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) {
      return false;
    }
    return MakeError(errno == EACCES ? ErrorCode::kPermissionDenied : ErrorCode::kUnavailable,
                     path.string() + ": " + std::strerror(errno));
  }
  // A shared probe: it conflicts only with an exclusive lock.
  const bool locked = ::flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
  ::close(fd);
  return locked;
}

}  // namespace dozor::agent::platform
