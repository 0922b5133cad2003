// The server's import wrapping key file: created private on first start, the same key on every
// later start, refused when shared with other users or damaged.
#include "app/import_key_file.hpp"

#include <doctest/doctest.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>

#include "dozor/common/files.hpp"
#include "test_util.hpp"

namespace dozor::server {
namespace {

TEST_CASE("the import key file is created 0600 once and reused on every later start") {
  dozor::testing::TempDir dir;
  const auto path = dir / "import-wrap.key";
  auto first = LoadOrCreateImportKeyFile(path);
  REQUIRE_MESSAGE(first.ok(), (first.ok() ? "" : first.error().ToString()));
  CHECK(first->created);
  struct stat info {};
  REQUIRE(::stat(path.c_str(), &info) == 0);
  CHECK((info.st_mode & 0777) == 0600);
  auto text = ReadFile(path);
  REQUIRE(text.ok());
  CHECK(text->size() == 65);  // 64 hex characters and a newline

  auto second = LoadOrCreateImportKeyFile(path);
  REQUIRE(second.ok());
  CHECK_FALSE(second->created);
  CHECK(second->wrapper.key_id() == first->wrapper.key_id());
  // A key wrapped before the restart unwraps after it.
  const std::string import_key(32, 'i');
  auto wrapped = first->wrapper.Wrap({1, 2}, import_key);
  REQUIRE(wrapped.ok());
  CHECK(*second->wrapper.Unwrap({1, 2}, *wrapped) == import_key);

  dozor::testing::TempDir other_dir;
  auto other = LoadOrCreateImportKeyFile(other_dir / "import-wrap.key");
  REQUIRE(other.ok());
  CHECK(other->wrapper.key_id() != first->wrapper.key_id());
}

TEST_CASE("a shared or damaged import key file stops the start with the file named") {
  dozor::testing::TempDir dir;
  const auto path = dir / "import-wrap.key";
  REQUIRE(LoadOrCreateImportKeyFile(path).ok());
  std::filesystem::permissions(path, std::filesystem::perms::group_read,
                               std::filesystem::perm_options::add);
  auto shared = LoadOrCreateImportKeyFile(path);
  REQUIRE_FALSE(shared.ok());
  CHECK(shared.error().code == ErrorCode::kPermissionDenied);
  CHECK(shared.error().message.find(path.string()) != std::string::npos);
  CHECK(shared.error().message.find("chmod 600") != std::string::npos);

  REQUIRE(WriteFileAtomic(path, "not a key\n", 0600).ok());
  auto damaged = LoadOrCreateImportKeyFile(path);
  REQUIRE_FALSE(damaged.ok());
  CHECK(damaged.error().code == ErrorCode::kInvalidArgument);
  CHECK(damaged.error().message.find(path.string()) != std::string::npos);
  REQUIRE(WriteFileAtomic(path, std::string(62, 'a') + "\n", 0600).ok());
  CHECK_FALSE(LoadOrCreateImportKeyFile(path).ok());
}

}  // namespace
}  // namespace dozor::server
