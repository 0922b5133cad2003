// The server's import wrapping key on disk (domain/import_keys.hpp): <state_dir>/import-wrap.key,
// 64 hex characters, mode 0600, created on first start. It must never be in the database or its
// backups: a copy of the database without this file cannot sign an import.
#pragma once

#include <filesystem>

#include "domain/import_keys.hpp"
#include "dozor/common/result.hpp"
#include "store/import_store.hpp"

namespace dozor::server {

struct LoadedImportKey {
  ImportKeyWrapper wrapper;
  bool created = false;  // the file did not exist and was made now
};

// Reads the key file, or creates it (0600, 32 random bytes) when it does not exist. Errors name
// the file: kInvalidArgument when it does not hold 64 hex characters, kPermissionDenied when
// group or others may read or write it (a copy of it is what an attacker needs).
[[nodiscard]] Result<LoadedImportKey> LoadOrCreateImportKeyFile(const std::filesystem::path& path);

// The same for any of the server's secret keys of `bytes` random bytes (hex in the file): the key
// itself, and whether the file was made now. `what` names the key in errors ("the import key").
struct LoadedKey {
  std::string key;
  bool created = false;
};
[[nodiscard]] Result<LoadedKey> LoadOrCreateKeyFile(const std::filesystem::path& path, size_t bytes,
                                                    std::string_view what);

// An advisory lock (flock) on the key file, released with the object or the process. The server
// holds it shared while it runs; a rotation takes it exclusive, so keys are never rewrapped under
// a running server (which would keep using the old key until restarted).
class KeyFileLock {
 public:
  KeyFileLock() = default;
  KeyFileLock(KeyFileLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  KeyFileLock& operator=(KeyFileLock&& other) noexcept;
  KeyFileLock(const KeyFileLock&) = delete;
  KeyFileLock& operator=(const KeyFileLock&) = delete;
  ~KeyFileLock();

 private:
  friend Result<KeyFileLock> LockKeyFile(const std::filesystem::path& path, bool exclusive);
  explicit KeyFileLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

// Never waits: kFailedPrecondition when another process holds a conflicting lock (the message
// says which side: a running server, or a rotation in progress).
[[nodiscard]] Result<KeyFileLock> LockKeyFile(const std::filesystem::path& path, bool exclusive);

// The rotation's new key, beside the key file until every kept import key is rewrapped under it.
std::filesystem::path PendingImportKeyPath(const std::filesystem::path& key_path);

struct ImportKeyFileRotation {
  ImportKeyRotation keys;
  std::string old_key_id;
  std::string new_key_id;
  bool resumed = false;  // a rotation that had stopped halfway was finished
};

// `dozor-server store rotate-import-key`: a new random key replaces the one in `key_path`, and
// every kept import key is rewrapped under it, so a copy of the old key file (a leaked backup of
// the state directory) no longer opens anything. Crash-safe at every step:
//   1. the new key is written to <key>.new (0600), or an existing one is reused (resumed);
//   2. every kept key is rewrapped in one transaction (keys already under the new key are left);
//   3. <key>.new is renamed over the key file.
// Refused (kFailedPrecondition) while a server holds the key file (LockKeyFile).
[[nodiscard]] Result<ImportKeyFileRotation> RotateImportKeyFile(
    const std::filesystem::path& key_path, ImportStore& store);

}  // namespace dozor::server
