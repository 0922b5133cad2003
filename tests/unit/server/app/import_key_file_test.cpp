// The server's import wrapping key file: created private on first start, the same key on every
// later start, refused when shared with other users or damaged.
#include "app/import_key_file.hpp"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <string>

#include "dozor/common/crypto.hpp"
#include "dozor/common/files.hpp"
#include "dozor/common/text.hpp"
#include "dozor/contract/snapshot_file.hpp"
#include "server/test_store.hpp"
#include "store/import_store.hpp"
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

// A store with two tokens whose import keys are wrapped under the key file at `key_path`;
// returns the plaintext import keys, by token id.
std::map<int64_t, std::string> TokensWithImportKeys(SqliteStore& store,
                                                    const std::filesystem::path& key_path) {
  auto key = LoadOrCreateImportKeyFile(key_path);
  REQUIRE(key.ok());
  std::map<int64_t, std::string> import_keys;
  for (const char* name : {"acme", "other"}) {
    Organization org;
    org.name = name;
    auto created = store.CreateOrganization(org);
    REQUIRE(created.ok());
    NewEnrollmentToken token;
    token.org_id = created->id;
    token.token_hash = std::string("hash-") + name;
    token.hint = "tok";
    auto issued = store.CreateEnrollmentToken(token);
    REQUIRE(issued.ok());
    const std::string plaintext = std::string("plaintext-token-of-") + name;
    REQUIRE(SaveImportKeyForNewToken(store, key->wrapper, {created->id, issued->id}, plaintext, 1)
                .ok());
    import_keys[issued->id] = *SnapshotImportKey(plaintext);
  }
  return import_keys;
}

// Every kept key unwraps, under the key now in `key_path`, to the import key it was made from.
void CheckKeysUnwrapUnder(SqliteStore& store, const std::filesystem::path& key_path,
                          const std::map<int64_t, std::string>& import_keys) {
  auto key = LoadOrCreateImportKeyFile(key_path);
  REQUIRE(key.ok());
  auto kept = store.ListImportKeys();
  REQUIRE(kept.ok());
  REQUIRE(kept->size() == import_keys.size());
  for (const StoredImportKey& stored : *kept) {
    CHECK(ImportKeyWrapper::KeyIdOf(stored.wrapped_key) == key->wrapper.key_id());
    auto unwrapped = key->wrapper.Unwrap({stored.org_id, stored.token_id}, stored.wrapped_key);
    REQUIRE_MESSAGE(unwrapped.ok(), (unwrapped.ok() ? "" : unwrapped.error().ToString()));
    CHECK(*unwrapped == import_keys.at(stored.token_id));
  }
}

TEST_CASE("rotating the import key rewraps every kept key under a new key file") {
  dozor::testing::TempDir dir;
  auto store = dozor::testing::OpenTestStore(dir);
  const auto key_path = dir / "import-wrap.key";
  const auto import_keys = TokensWithImportKeys(*store, key_path);
  const std::string old_text = *ReadFile(key_path);

  auto rotated = RotateImportKeyFile(key_path, *store);
  REQUIRE_MESSAGE(rotated.ok(), (rotated.ok() ? "" : rotated.error().ToString()));
  CHECK(rotated->keys.rewrapped == 2);
  CHECK(rotated->keys.already == 0);
  CHECK(rotated->keys.unreadable.empty());
  CHECK_FALSE(rotated->resumed);
  CHECK(rotated->old_key_id != rotated->new_key_id);
  CHECK(*ReadFile(key_path) != old_text);
  CHECK_FALSE(std::filesystem::exists(PendingImportKeyPath(key_path)));
  struct stat info {};
  REQUIRE(::stat(key_path.c_str(), &info) == 0);
  CHECK((info.st_mode & 0777) == 0600);
  CheckKeysUnwrapUnder(*store, key_path, import_keys);
  // The old key opens none of them any more.
  auto old_key = ImportKeyWrapper::FromServerKey(*HexDecode(Trim(old_text)));
  REQUIRE(old_key.ok());
  for (const StoredImportKey& stored : *store->ListImportKeys()) {
    CHECK_FALSE(old_key->Unwrap({stored.org_id, stored.token_id}, stored.wrapped_key).ok());
  }
}

TEST_CASE("a rotation run as root leaves the new key file to the key file's owner") {
  if (::geteuid() != 0) {
    MESSAGE("skipped: needs root to give files away");
    return;
  }
  dozor::testing::TempDir dir;
  auto store = dozor::testing::OpenTestStore(dir);
  const auto key_path = dir / "import-wrap.key";
  TokensWithImportKeys(*store, key_path);
  // As the package installs it: the service user's file, which root then rotates.
  REQUIRE(::chown(key_path.c_str(), 65534, 65534) == 0);
  REQUIRE(RotateImportKeyFile(key_path, *store).ok());
  struct stat info {};
  REQUIRE(::stat(key_path.c_str(), &info) == 0);
  CHECK(info.st_uid == 65534);
  CHECK(info.st_gid == 65534);
  CHECK((info.st_mode & 0777) == 0600);
}

TEST_CASE("a rotation that stopped before replacing the key file is finished by the next run") {
  dozor::testing::TempDir dir;
  auto store = dozor::testing::OpenTestStore(dir);
  const auto key_path = dir / "import-wrap.key";
  const auto import_keys = TokensWithImportKeys(*store, key_path);
  // As a crash after the transaction would leave it: the keys under <key>.new, the file not
  // renamed yet.
  auto current = LoadOrCreateImportKeyFile(key_path);
  auto pending = LoadOrCreateImportKeyFile(PendingImportKeyPath(key_path));
  REQUIRE(current.ok());
  REQUIRE(pending.ok());
  REQUIRE(RotateImportKeys(*store, current->wrapper, pending->wrapper).ok());

  auto rotated = RotateImportKeyFile(key_path, *store);
  REQUIRE_MESSAGE(rotated.ok(), (rotated.ok() ? "" : rotated.error().ToString()));
  CHECK(rotated->resumed);
  CHECK(rotated->keys.rewrapped == 0);
  CHECK(rotated->keys.already == 2);
  CHECK(rotated->new_key_id == pending->wrapper.key_id());
  CHECK_FALSE(std::filesystem::exists(PendingImportKeyPath(key_path)));
  CheckKeysUnwrapUnder(*store, key_path, import_keys);
}

TEST_CASE("no rotation while a server holds the key file, and no server start during one") {
  dozor::testing::TempDir dir;
  auto store = dozor::testing::OpenTestStore(dir);
  const auto key_path = dir / "import-wrap.key";
  const auto import_keys = TokensWithImportKeys(*store, key_path);
  const std::string old_text = *ReadFile(key_path);
  {
    auto server = LockKeyFile(key_path, /*exclusive=*/false);
    REQUIRE(server.ok());
    auto second_server = LockKeyFile(key_path, /*exclusive=*/false);
    CHECK(second_server.ok());  // replicas sharing a state directory may all hold it
    auto refused = RotateImportKeyFile(key_path, *store);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == ErrorCode::kFailedPrecondition);
    CHECK(refused.error().message.find("server is running") != std::string::npos);
    CHECK(*ReadFile(key_path) == old_text);
    CHECK_FALSE(std::filesystem::exists(PendingImportKeyPath(key_path)));
  }
  {
    auto rotation = LockKeyFile(key_path, /*exclusive=*/true);
    REQUIRE(rotation.ok());
    auto server = LockKeyFile(key_path, /*exclusive=*/false);
    REQUIRE_FALSE(server.ok());
    CHECK(server.error().message.find("rotation is running") != std::string::npos);
  }
  // Both released: the rotation runs.
  REQUIRE(RotateImportKeyFile(key_path, *store).ok());
  CheckKeysUnwrapUnder(*store, key_path, import_keys);
}

TEST_CASE("rotating without a key file is refused, and a key under no known key is left alone") {
  dozor::testing::TempDir dir;
  auto store = dozor::testing::OpenTestStore(dir);
  const auto key_path = dir / "import-wrap.key";
  auto missing = RotateImportKeyFile(key_path, *store);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == ErrorCode::kNotFound);
  CHECK_FALSE(std::filesystem::exists(key_path));

  // Keys wrapped under a key file that was since lost stay as they were, and are reported.
  const auto lost_path = dir / "lost.key";
  TokensWithImportKeys(*store, lost_path);
  REQUIRE(LoadOrCreateImportKeyFile(key_path).ok());
  const auto before = *store->ListImportKeys();
  auto rotated = RotateImportKeyFile(key_path, *store);
  REQUIRE(rotated.ok());
  CHECK(rotated->keys.rewrapped == 0);
  CHECK(rotated->keys.unreadable.size() == 2);
  const auto after = *store->ListImportKeys();
  REQUIRE(after.size() == before.size());
  for (size_t i = 0; i < after.size(); ++i) {
    CHECK(after[i].wrapped_key == before[i].wrapped_key);
  }
}

}  // namespace
}  // namespace dozor::server
