#include "platform/host.hpp"

#include <doctest/doctest.h>

#include <fstream>
#include <string>

#include "test_util.hpp"

namespace dozor::agent::platform {
namespace {

using dozor::testing::TempDir;

void WriteMachineId(const TempDir& root, const std::string& text) {
  std::filesystem::create_directories(root / "etc");
  std::ofstream(root / "etc/machine-id") << text;
}

TEST_CASE("machine id is the first line of etc/machine-id under the root") {
  Result<std::string> id = ReadMachineId(std::string(DOZOR_FIXTURES_DIR) + "/hosts/debian-server");
  REQUIRE(id.ok());
  CHECK(*id == "4f3c2b1a0e9d8c7b6a5f4e3d2c1b0a99");
}

TEST_CASE("machine id is trimmed and ends at the first line") {
  TempDir root;
  WriteMachineId(root, "  abc123 \nsecond line\n");
  Result<std::string> id = ReadMachineId(root.path());
  REQUIRE(id.ok());
  CHECK(*id == "abc123");
}

TEST_CASE("a missing machine id is kNotFound") {
  TempDir root;
  Result<std::string> id = ReadMachineId(root.path());
  REQUIRE_FALSE(id.ok());
  CHECK(id.error().code == ErrorCode::kNotFound);
}

TEST_CASE("an empty or overlong machine id is refused") {
  TempDir root;
  WriteMachineId(root, "\n");
  CHECK(ReadMachineId(root.path()).error().code == ErrorCode::kDataLoss);
  WriteMachineId(root, std::string(kMaxMachineIdLength + 1, 'a') + "\n");
  CHECK(ReadMachineId(root.path()).error().code == ErrorCode::kDataLoss);
  WriteMachineId(root, std::string(kMaxMachineIdLength, 'a') + "\n");
  CHECK(ReadMachineId(root.path()).ok());
}

TEST_CASE("this machine has a host name") { CHECK_FALSE(Hostname().empty()); }

}  // namespace
}  // namespace dozor::agent::platform
