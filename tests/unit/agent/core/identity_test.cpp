#include "core/identity.hpp"

#include <doctest/doctest.h>
#include <sys/stat.h>

#include <fstream>
#include <string>

#include "test_util.hpp"

namespace dozor::agent {
namespace {

using dozor::testing::TempDir;

AgentIdentity SampleIdentityForIdentity() {
  AgentIdentity identity;
  identity.agent_id = "agt_0123456789abcdef";
  identity.agent_secret = "s3cr3t-value";
  identity.server_address = "dozor.example.com:7443";
  identity.organization = "acme";
  identity.enrolled_at_ms = 1'760'000'000'123;
  return identity;
}

mode_t ModeOf(const std::filesystem::path& path) {
  struct stat info {};
  REQUIRE(::stat(path.c_str(), &info) == 0);
  return info.st_mode & 07777;
}

void WriteRaw(const std::filesystem::path& state_dir, const std::string& text, mode_t mode = 0600) {
  const auto path = state_dir / "identity.json";
  std::ofstream(path) << text;
  REQUIRE(::chmod(path.c_str(), mode) == 0);
}

TEST_CASE("identity round-trips through identity.json with mode 0600") {
  TempDir dir;
  REQUIRE(SaveIdentity(dir.path(), SampleIdentityForIdentity()).ok());
  CHECK(ModeOf(dir / "identity.json") == 0600);
  auto loaded = LoadIdentity(dir.path());
  REQUIRE_MESSAGE(loaded.ok(), loaded.error().ToString());
  CHECK(loaded->agent_id == "agt_0123456789abcdef");
  CHECK(loaded->agent_secret == "s3cr3t-value");
  CHECK(loaded->server_address == "dozor.example.com:7443");
  CHECK(loaded->organization == "acme");
  CHECK(loaded->enrolled_at_ms == 1'760'000'000'123);
}

TEST_CASE("identity save creates a missing state dir with mode 0700") {
  TempDir dir;
  const auto state_dir = dir / "state";
  REQUIRE(SaveIdentity(state_dir, SampleIdentityForIdentity()).ok());
  CHECK(ModeOf(state_dir) == 0700);
  CHECK(LoadIdentity(state_dir).ok());
}

TEST_CASE("identity save replaces an existing identity") {
  TempDir dir;
  REQUIRE(SaveIdentity(dir.path(), SampleIdentityForIdentity()).ok());
  AgentIdentity second = SampleIdentityForIdentity();
  second.agent_id = "agt_second";
  REQUIRE(SaveIdentity(dir.path(), second).ok());
  auto loaded = LoadIdentity(dir.path());
  REQUIRE(loaded.ok());
  CHECK(loaded->agent_id == "agt_second");
  // No temporary files left behind.
  int files = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    ++files;
  }
  CHECK(files == 1);
}

TEST_CASE("identity save refuses an identity without id or secret") {
  TempDir dir;
  AgentIdentity identity = SampleIdentityForIdentity();
  identity.agent_secret.clear();
  auto status = SaveIdentity(dir.path(), identity);
  REQUIRE_FALSE(status.ok());
  CHECK(status.error().code == ErrorCode::kInvalidArgument);
  CHECK_FALSE(std::filesystem::exists(dir / "identity.json"));
}

TEST_CASE("identity missing tells the user to enroll") {
  TempDir dir;
  auto loaded = LoadIdentity(dir.path());
  REQUIRE_FALSE(loaded.ok());
  CHECK(loaded.error().code == ErrorCode::kNotFound);
  CHECK(loaded.error().message.find(
            "not enrolled: run `dozor-agent enroll --server HOST:PORT --token TOKEN`") == 0);
  auto no_dir = LoadIdentity(dir / "does-not-exist");
  REQUIRE_FALSE(no_dir.ok());
  CHECK(no_dir.error().code == ErrorCode::kNotFound);
}

TEST_CASE("identity readable by group or others is refused with a chmod hint") {
  TempDir dir;
  REQUIRE(SaveIdentity(dir.path(), SampleIdentityForIdentity()).ok());
  const auto path = dir / "identity.json";
  for (mode_t mode : {0644, 0640, 0604, 0620}) {
    REQUIRE(::chmod(path.c_str(), mode) == 0);
    auto loaded = LoadIdentity(dir.path());
    REQUIRE_FALSE(loaded.ok());
    CHECK(loaded.error().code == ErrorCode::kPermissionDenied);
    CHECK(loaded.error().message.find("chmod 600") != std::string::npos);
  }
  REQUIRE(::chmod(path.c_str(), 0400) == 0);
  CHECK(LoadIdentity(dir.path()).ok());
}

TEST_CASE("identity malformed file is kDataLoss naming the file") {
  TempDir dir;
  const std::string path = (dir / "identity.json").string();
  const char* bad_files[] = {
      "{not json",
      "[1, 2, 3]",
      R"({"agent_secret": "x"})",
      R"({"agent_id": "", "agent_secret": "x"})",
      R"({"agent_id": 42, "agent_secret": "x"})",
      R"({"agent_id": "a", "agent_secret": "x", "enrolled_at_ms": "yesterday"})",
      "",
  };
  for (const char* text : bad_files) {
    INFO(text);
    WriteRaw(dir.path(), text);
    auto loaded = LoadIdentity(dir.path());
    REQUIRE_FALSE(loaded.ok());
    CHECK(loaded.error().code == ErrorCode::kDataLoss);
    CHECK(loaded.error().message.find(path) != std::string::npos);
  }
}

TEST_CASE("identity with only the required fields loads") {
  TempDir dir;
  WriteRaw(dir.path(), R"({"agent_id": "a1", "agent_secret": "s1"})");
  auto loaded = LoadIdentity(dir.path());
  REQUIRE_MESSAGE(loaded.ok(), loaded.error().ToString());
  CHECK(loaded->agent_id == "a1");
  CHECK(loaded->server_address.empty());
  CHECK(loaded->enrolled_at_ms == 0);
}

}  // namespace
}  // namespace dozor::agent
