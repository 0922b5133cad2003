#include "app/import_key_file.hpp"

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

}  // namespace dozor::server
