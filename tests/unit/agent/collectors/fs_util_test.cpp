#include "collectors/linux/fs_util.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "dozor/common/files.hpp"
#include "test_util.hpp"

namespace dozor::agent {
namespace {

using dozor::testing::TempDir;

TEST_CASE("small file readers give empty text for missing or oversized files") {
  TempDir dir;
  REQUIRE(WriteFileAtomic(dir / "value", "  eth0 \t\nsecond line\n").ok());
  CHECK(ReadSmallFile(dir / "value") == "  eth0 \t\nsecond line\n");
  CHECK(ReadTrimmedFile(dir / "value") == "eth0 \t\nsecond line");
  CHECK(ReadFirstLine(dir / "value") == "eth0");
  CHECK(ReadSmallFile(dir / "value", 4).empty());
  CHECK(ReadSmallFile(dir / "missing").empty());
  CHECK(ReadTrimmedFile(dir / "missing").empty());
  CHECK(ReadFirstLine(dir / "missing").empty());
}

TEST_CASE("sysfs values keep leading blanks and numbers must be whole") {
  TempDir dir;
  REQUIRE(WriteFileAtomic(dir / "comm", " kworker\t\n").ok());
  REQUIRE(WriteFileAtomic(dir / "mtu", "1500\n").ok());
  REQUIRE(WriteFileAtomic(dir / "speed", "-1\n").ok());
  REQUIRE(WriteFileAtomic(dir / "junk", "12abc\n").ok());
  CHECK(ReadSysfsValue(dir / "comm") == " kworker\t");
  uint32_t mtu = 0;
  CHECK(ReadSysfsNumber(dir / "mtu", &mtu));
  CHECK(mtu == 1500);
  int64_t speed = 0;
  CHECK(ReadSysfsNumber(dir / "speed", &speed));
  CHECK(speed == -1);
  uint64_t unsigned_speed = 0;
  CHECK_FALSE(ReadSysfsNumber(dir / "speed", &unsigned_speed));
  uint64_t junk = 0;
  CHECK_FALSE(ReadSysfsNumber(dir / "junk", &junk));
  CHECK_FALSE(ReadSysfsNumber(dir / "missing", &junk));
}

TEST_CASE("directory listing is sorted, capped and reports an unreadable directory") {
  TempDir dir;
  for (const char* name : {"sdb", "nvme0n1", "sda"}) {
    REQUIRE(EnsureDirectory(dir / name).ok());
  }
  auto names = ListDirectory(dir.path());
  REQUIRE(names.ok());
  CHECK(*names == std::vector<std::string>{"nvme0n1", "sda", "sdb"});
  auto capped = ListDirectory(dir.path(), 2);
  REQUIRE(capped.ok());
  CHECK(capped->size() == 2);
  auto missing = ListDirectory(dir / "missing");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == ErrorCode::kNotFound);
  CHECK(missing.error().message.find("cannot list") != std::string::npos);
  CHECK(PathExists(dir / "sda"));
  CHECK(IsDirectory(dir / "sda"));
  CHECK_FALSE(PathExists(dir / "missing"));
  CHECK_FALSE(IsDirectory(dir / "missing"));
}

}  // namespace
}  // namespace dozor::agent
