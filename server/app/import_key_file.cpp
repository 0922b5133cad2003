#include "app/import_key_file.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <system_error>

#include "dozor/common/crypto.hpp"
#include "dozor/common/files.hpp"
#include "dozor/common/text.hpp"

namespace dozor::server {
namespace {

constexpr size_t kMaxKeyFileBytes = 1024;

Error InFile(const std::filesystem::path& path, ErrorCode code, const std::string& message) {
  return MakeError(code, path.string() + ": " + message);
}

}  // namespace

Result<LoadedKey> LoadOrCreateKeyFile(const std::filesystem::path& path, size_t bytes,
                                      std::string_view what) {
  std::error_code error;
  const auto status = std::filesystem::status(path, error);
  bool created = false;
  if (status.type() == std::filesystem::file_type::not_found) {
    DOZOR_ASSIGN_OR_RETURN(std::string key_hex, RandomHex(bytes));
    if (auto written = WriteFileAtomic(path, key_hex + "\n", 0600); !written.ok()) {
      return written.error().Wrap(path.string());
    }
    created = true;
  } else if (error) {
    return InFile(path, ErrorCode::kUnavailable, error.message());
  } else {
    using std::filesystem::perms;
    const perms shared = status.permissions() & (perms::group_all | perms::others_all);
    if (shared != perms::none) {
      return InFile(
          path, ErrorCode::kPermissionDenied,
          std::string(what) + " must be private to the server's user: chmod 600 " + path.string());
    }
  }
  auto text = ReadFile(path, kMaxKeyFileBytes);
  if (!text.ok()) {
    return text.error().Wrap(path.string());
  }
  auto key = HexDecode(Trim(*text));
  if (!key.ok() || key->size() != bytes) {
    return InFile(path, ErrorCode::kInvalidArgument,
                  "not " + std::string(what) + " (expected " + std::to_string(2 * bytes) +
                      " hex characters)");
  }
  return LoadedKey{std::move(*key), created};
}

Result<LoadedImportKey> LoadOrCreateImportKeyFile(const std::filesystem::path& path) {
  DOZOR_ASSIGN_OR_RETURN(auto loaded,
                         LoadOrCreateKeyFile(path, kImportWrappingKeyBytes, "an import key"));
  DOZOR_ASSIGN_OR_RETURN(ImportKeyWrapper wrapper, ImportKeyWrapper::FromServerKey(loaded.key));
  return LoadedImportKey{std::move(wrapper), loaded.created};
}

KeyFileLock& KeyFileLock::operator=(KeyFileLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

KeyFileLock::~KeyFileLock() {
  if (fd_ >= 0) ::close(fd_);
}

Result<KeyFileLock> LockKeyFile(const std::filesystem::path& path, bool exclusive) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return InFile(path, ErrorCode::kUnavailable, std::strerror(errno));
  }
  KeyFileLock lock(fd);
  if (::flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return InFile(path, ErrorCode::kFailedPrecondition,
                    exclusive ? "a server is running with this import key: stop it (and every "
                                "server sharing this state directory) first"
                              : "an import key rotation is running: start the server after it");
    }
    return InFile(path, ErrorCode::kUnavailable, std::strerror(errno));
  }
  return lock;
}

std::filesystem::path PendingImportKeyPath(const std::filesystem::path& key_path) {
  return key_path.string() + ".new";
}

Result<ImportKeyFileRotation> RotateImportKeyFile(const std::filesystem::path& key_path,
                                                  ImportStore& store) {
  std::error_code error;
  if (!std::filesystem::exists(key_path, error)) {
    return InFile(key_path, ErrorCode::kNotFound,
                  "no import key to rotate (the server creates it at its first start)");
  }
  DOZOR_ASSIGN_OR_RETURN(KeyFileLock lock, LockKeyFile(key_path, /*exclusive=*/true));
  DOZOR_ASSIGN_OR_RETURN(LoadedImportKey current, LoadOrCreateImportKeyFile(key_path));
  const std::filesystem::path pending_path = PendingImportKeyPath(key_path);
  DOZOR_ASSIGN_OR_RETURN(LoadedImportKey pending, LoadOrCreateImportKeyFile(pending_path));
  // Run as root, the new file would be root's and the server (its own user) could not read it
  // after the rename: it takes the owner of the file it replaces.
  struct stat current_owner {};
  if (::geteuid() == 0 && ::stat(key_path.c_str(), &current_owner) == 0 &&
      ::chown(pending_path.c_str(), current_owner.st_uid, current_owner.st_gid) != 0) {
    return InFile(pending_path, ErrorCode::kUnavailable,
                  std::string("could not give it the key file's owner: ") + std::strerror(errno));
  }
  ImportKeyFileRotation rotation;
  rotation.old_key_id = current.wrapper.key_id();
  rotation.new_key_id = pending.wrapper.key_id();
  rotation.resumed = !pending.created;
  if (rotation.old_key_id == rotation.new_key_id) {
    return InFile(pending_path, ErrorCode::kFailedPrecondition,
                  "holds the same key as " + key_path.string() + ": remove it and run again");
  }
  DOZOR_ASSIGN_OR_RETURN(rotation.keys, RotateImportKeys(store, current.wrapper, pending.wrapper));
  // The rename is the commit point of the file side: before it, a run again resumes with the same
  // new key; after it, the old key is gone from the state directory.
  std::filesystem::rename(pending_path, key_path, error);
  if (error) {
    return InFile(pending_path, ErrorCode::kUnavailable,
                  "could not replace the key file: " + error.message() + "; run again");
  }
  const int dir = ::open(key_path.parent_path().empty() ? "." : key_path.parent_path().c_str(),
                         O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    (void)::fsync(dir);  // the rename survives a power cut; a failure here changes nothing else
    ::close(dir);
  }
  return rotation;
}

}  // namespace dozor::server
