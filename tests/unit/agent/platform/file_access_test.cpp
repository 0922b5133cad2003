#include "platform/file_access.hpp"

#include <doctest/doctest.h>
#include <sys/stat.h>

#include <fstream>

#include "test_util.hpp"

namespace dozor::agent::platform {
namespace {

using dozor::testing::TempDir;

TEST_CASE("file access tells owner-only files from shared ones") {
  TempDir dir;
  const auto path = dir / "secret";
  std::ofstream(path) << "x";
  REQUIRE(::chmod(path.c_str(), 0600) == 0);
  auto access = ReadFileAccess(path);
  REQUIRE(access.ok());
  CHECK(access->regular_file);
  CHECK(access->owner_only);
  for (mode_t mode : {0644, 0640, 0604, 0620}) {
    REQUIRE(::chmod(path.c_str(), mode) == 0);
    access = ReadFileAccess(path);
    REQUIRE(access.ok());
    CHECK_FALSE(access->owner_only);
    CHECK(access->make_owner_only_hint.find("chmod 600") != std::string::npos);
  }
  REQUIRE(::chmod(path.c_str(), 0644) == 0);
  CHECK(ReadFileAccess(path)->description == "mode 0644");
}

TEST_CASE("file access of a missing file is kNotFound, of a directory not a regular file") {
  TempDir dir;
  CHECK(ReadFileAccess(dir / "missing").error().code == ErrorCode::kNotFound);
  CHECK(ReadFileAccess(dir / "missing/below").error().code == ErrorCode::kNotFound);
  auto directory = ReadFileAccess(dir.path());
  REQUIRE(directory.ok());
  CHECK_FALSE(directory->regular_file);
}

}  // namespace
}  // namespace dozor::agent::platform
