#include "dozor/common/files.hpp"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <thread>

#include "test_util.hpp"

namespace dozor {
namespace {

TEST_CASE("ReadFile refuses a FIFO at once instead of waiting for a writer") {
  dozor::testing::TempDir dir;
  const auto fifo = dir / "resolv.conf";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  auto read = ReadFile(fifo);
  REQUIRE_FALSE(read.ok());
  CHECK(read.error().code == ErrorCode::kInvalidArgument);
  CHECK(read.error().message.find("not a regular file") != std::string::npos);
  auto device = ReadFile("/dev/zero", 1024);
  REQUIRE_FALSE(device.ok());
  CHECK(device.error().code == ErrorCode::kInvalidArgument);
}

TEST_CASE("ReadFile reads a pipe an operator names on purpose (kAnyStream)") {
  dozor::testing::TempDir dir;
  const auto fifo = dir / "token";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  std::thread writer([&] {
    const int fd = ::open(fifo.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
      (void)::write(fd, "dza_secret\n", 11);
      ::close(fd);
    }
  });
  auto read = ReadFile(fifo, 1024, ReadFrom::kAnyStream);
  writer.join();
  REQUIRE(read.ok());
  CHECK(*read == "dza_secret\n");
}

}  // namespace
}  // namespace dozor
