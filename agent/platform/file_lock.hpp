// An exclusive, advisory lock on a file, held for a process's lifetime and released by the OS when
// the process dies (linux/file_lock_linux.cpp: flock). Used so that one agent owns a state
// directory.
#pragma once

#include <filesystem>

#include "dozor/common/result.hpp"

namespace dozor::agent::platform {

// Move-only; destroying it releases the lock. Not thread-safe (one owner).
class ExclusiveFileLock {
 public:
  // Creates the file (owner-only) if needed and locks it without waiting. kAlreadyExists when
  // another holder has it; kUnavailable when the file cannot be opened or locked.
  [[nodiscard]] static Result<ExclusiveFileLock> Acquire(const std::filesystem::path& path);

  ExclusiveFileLock(ExclusiveFileLock&& other) noexcept : handle_(other.handle_) {
    other.handle_ = kNoHandle;
  }
  ExclusiveFileLock& operator=(ExclusiveFileLock&& other) noexcept;
  ExclusiveFileLock(const ExclusiveFileLock&) = delete;
  ExclusiveFileLock& operator=(const ExclusiveFileLock&) = delete;
  ~ExclusiveFileLock();

 private:
  // A file descriptor on POSIX; wide enough for a HANDLE value on Windows.
  using Handle = long long;
  static constexpr Handle kNoHandle = -1;
  explicit ExclusiveFileLock(Handle handle) : handle_(handle) {}
  void Release() noexcept;

  Handle handle_ = kNoHandle;
};

// True when some holder has the exclusive lock on `path`. Needs only read access to the file;
// false when the file does not exist. kPermissionDenied / kUnavailable when it cannot be opened.
[[nodiscard]] Result<bool> IsFileLocked(const std::filesystem::path& path);

}  // namespace dozor::agent::platform
