#include "platform/file_lock.hpp"

#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <utility>

#include "test_util.hpp"

namespace dozor::agent::platform {
namespace {

using dozor::testing::TempDir;

TEST_CASE("an exclusive file lock excludes a second holder until released") {
  TempDir dir;
  const auto path = dir / "test.lock";
  CHECK_FALSE(*IsFileLocked(path));  // no file yet
  auto first = ExclusiveFileLock::Acquire(path);
  REQUIRE(first.ok());
  auto second = ExclusiveFileLock::Acquire(path);
  REQUIRE_FALSE(second.ok());
  CHECK(second.error().code == ErrorCode::kAlreadyExists);
  CHECK(*IsFileLocked(path));
  { ExclusiveFileLock released = std::move(first).value(); }
  CHECK_FALSE(*IsFileLocked(path));
  CHECK(ExclusiveFileLock::Acquire(path).ok());
}

TEST_CASE("an exclusive file lock excludes another process") {
  TempDir dir;
  const auto path = dir / "test.lock";
  auto held = ExclusiveFileLock::Acquire(path);
  REQUIRE(held.ok());
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    auto other = ExclusiveFileLock::Acquire(path);
    ::_exit(!other.ok() && other.error().code == ErrorCode::kAlreadyExists ? 0 : 1);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("a moved lock is released once, by its last owner") {
  TempDir dir;
  const auto path = dir / "test.lock";
  auto acquired = ExclusiveFileLock::Acquire(path);
  REQUIRE(acquired.ok());
  ExclusiveFileLock owner = std::move(acquired).value();
  ExclusiveFileLock next = std::move(owner);
  CHECK(*IsFileLocked(path));
  auto other = ExclusiveFileLock::Acquire(dir / "other.lock");
  REQUIRE(other.ok());
  next = std::move(other).value();
  CHECK_FALSE(*IsFileLocked(path));
}

}  // namespace
}  // namespace dozor::agent::platform
