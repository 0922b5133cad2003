// The server's import wrapping key on disk (domain/import_keys.hpp): <state_dir>/import-wrap.key,
// 64 hex characters, mode 0600, created on first start. It must never be in the database or its
// backups: a copy of the database without this file cannot sign an import.
#pragma once

#include <filesystem>

#include "domain/import_keys.hpp"
#include "dozor/common/result.hpp"

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

}  // namespace dozor::server
