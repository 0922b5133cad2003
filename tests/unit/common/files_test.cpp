// The file helpers on every OS (the Windows build runs these under Wine): atomic replace, bounded
// reads, folders, and names outside ASCII, which the agent meets in Cyrillic user and share names.
#include "dozor/common/files.hpp"

#include <doctest/doctest.h>

#include <string>

#include "dozor/common/path_text.hpp"
#include "test_util.hpp"

namespace dozor {
namespace {

TEST_CASE("files: an atomic write replaces the content whole, under a Cyrillic name") {
  testing::TempDir dir;
  const std::filesystem::path file = dir.path() / PathFromUtf8("Бухгалтерия отчёт.txt");
  REQUIRE(WriteFileAtomic(file, "первая версия").ok());
  REQUIRE(WriteFileAtomic(file, "вторая").ok());
  auto read = ReadFile(file);
  REQUIRE(read.ok());
  CHECK(*read == "вторая");
  CHECK(PathToUtf8(file.filename()) == "Бухгалтерия отчёт.txt");
  // No temporary file is left beside it.
  int entries = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    ++entries;
  }
  CHECK(entries == 1);
}

TEST_CASE("files: reads are bounded and a missing file is kNotFound") {
  testing::TempDir dir;
  REQUIRE(WriteFileAtomic(dir / "big", std::string(4096, 'x')).ok());
  auto bounded = ReadFile(dir / "big", 1024);
  REQUIRE_FALSE(bounded.ok());
  CHECK(bounded.error().code == ErrorCode::kResourceExhausted);
  auto missing = ReadFile(dir / "nowhere");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == ErrorCode::kNotFound);
  CHECK(ReadFile(dir / "big", 4096)->size() == 4096);
}

TEST_CASE("files: EnsureDirectory creates parents, is idempotent, and holds owner-only files") {
  testing::TempDir dir;
  const std::filesystem::path state = dir.path() / PathFromUtf8("Дозор") / "state";
  REQUIRE(EnsureDirectory(state, 0700).ok());
  REQUIRE(EnsureDirectory(state, 0700).ok());
  CHECK(std::filesystem::is_directory(state));
  // The owner (this test) can still write and read inside an owner-only folder.
  REQUIRE(WriteFileAtomic(state / "identity.json", "{}", 0600).ok());
  CHECK(*ReadFile(state / "identity.json") == "{}");
  // A file where a folder should be is an error, not success.
  REQUIRE(WriteFileAtomic(dir / "plain", "x").ok());
  CHECK_FALSE(EnsureDirectory(dir / "plain", 0700).ok());
}

}  // namespace
}  // namespace dozor
