// The state-directory lock on Windows: LockFileEx on the whole file. Windows releases a lock when
// its handle is closed or its process ends, like flock on Linux; unlike flock, the lock is
// mandatory for the range, which does not matter here since the lock file holds no data.
#include "platform/file_lock.hpp"

#include <windows.h>

#include <cstdint>

#include "platform/windows/wide_text.hpp"
#include "platform/windows/win32_handles.hpp"

namespace dozor::agent::platform {
namespace {

// The whole file, whatever its length: offset 0, length 2^64 - 1.
constexpr DWORD kWholeFileLow = MAXDWORD;
constexpr DWORD kWholeFileHigh = MAXDWORD;

HANDLE ToHandle(long long value) { return reinterpret_cast<HANDLE>(static_cast<intptr_t>(value)); }
long long FromHandle(HANDLE handle) {
  return static_cast<long long>(reinterpret_cast<intptr_t>(handle));
}

// LockFileEx without waiting; false with GetLastError() set when it cannot.
bool TryLock(HANDLE file, DWORD flags) {
  OVERLAPPED at_start = {};
  return ::LockFileEx(file, flags | LOCKFILE_FAIL_IMMEDIATELY, 0, kWholeFileLow, kWholeFileHigh,
                      &at_start) != FALSE;
}

void Unlock(HANDLE file) {
  OVERLAPPED at_start = {};
  ::UnlockFileEx(file, 0, kWholeFileLow, kWholeFileHigh, &at_start);
}

}  // namespace

Result<ExclusiveFileLock> ExclusiveFileLock::Acquire(const std::filesystem::path& path) {
  // Every sharing mode: readers (IsFileLocked, `dozor-agent status`) must be able to open the
  // file while it is locked; the lock, not the sharing mode, is what excludes a second agent.
  // Not inheritable (no SECURITY_ATTRIBUTES), so programs the agent runs do not hold it. Access:
  // inherited from the state folder, whose list the installer restricts (file_access.hpp).
  UniqueHandle file(::CreateFileW(path.c_str(), GENERIC_READ | GENERIC_WRITE,
                                  FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr,
                                  OPEN_ALWAYS, FILE_ATTRIBUTE_NORMAL, nullptr));
  if (!file.valid()) {
    const DWORD error = ::GetLastError();
    return MakeError(ErrorCode::kUnavailable, PathText(path) + ": " + WindowsErrorMessage(error));
  }
  if (!TryLock(file.get(), LOCKFILE_EXCLUSIVE_LOCK)) {
    const DWORD error = ::GetLastError();
    if (error == ERROR_LOCK_VIOLATION || error == ERROR_IO_PENDING) {
      return MakeError(ErrorCode::kAlreadyExists, PathText(path) + " is locked by another process");
    }
    return MakeError(ErrorCode::kUnavailable, PathText(path) + ": " + WindowsErrorMessage(error));
  }
  return ExclusiveFileLock(FromHandle(file.Release()));
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
    // Closing the handle releases the lock too, but "when the system has time"; unlocking first
    // lets a restarted agent take it at once.
    HANDLE file = ToHandle(handle_);
    Unlock(file);
    ::CloseHandle(file);
    handle_ = kNoHandle;
  }
}

Result<bool> IsFileLocked(const std::filesystem::path& path) {
  // A shared lock needs only read access, so a reader needs no write access.
  UniqueHandle file(::CreateFileW(path.c_str(), GENERIC_READ,
                                  FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr,
                                  OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, nullptr));
  if (!file.valid()) {
    const DWORD error = ::GetLastError();
    if (error == ERROR_FILE_NOT_FOUND || error == ERROR_PATH_NOT_FOUND) {
      return false;
    }
    return MakeError(
        error == ERROR_ACCESS_DENIED ? ErrorCode::kPermissionDenied : ErrorCode::kUnavailable,
        PathText(path) + ": " + WindowsErrorMessage(error));
  }
  // A shared probe: it conflicts only with an exclusive lock.
  if (TryLock(file.get(), 0)) {
    Unlock(file.get());
    return false;
  }
  const DWORD error = ::GetLastError();
  return error == ERROR_LOCK_VIOLATION || error == ERROR_IO_PENDING;
}

}  // namespace dozor::agent::platform
