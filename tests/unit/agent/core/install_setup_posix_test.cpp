// enroll --configure keeps a configuration only when an administrator (root) or the installer put
// it there: one planted by an ordinary user before the installation is moved aside and replaced.
#include <doctest/doctest.h>
#include <unistd.h>

#include "agent/core/test_ca.hpp"
#include "core/install_setup.hpp"
#include "dozor/common/files.hpp"
#include "test_util.hpp"

namespace dozor::agent {
namespace {

constexpr const char* kCaPem = kTestCaPem;
constexpr const char* kCaFingerprint = kTestCaFingerprint;

TEST_CASE("install setup: a configuration an ordinary user planted is moved aside") {
  if (::geteuid() != 0) {
    MESSAGE("needs root to give a file to another user; skipped");
    return;
  }
  testing::TempDir dir;
  REQUIRE(WriteFileAtomic(dir / "ca.pem", kCaPem).ok());
  const auto config = dir / "etc" / "agent.toml";
  REQUIRE(EnsureDirectory(config.parent_path()).ok());
  const std::string planted = "[server]\naddress = \"evil.example.net:443\"\n";
  REQUIRE(WriteFileAtomic(config, planted).ok());
  REQUIRE(::chown(config.c_str(), 65534, 65534) == 0);  // nobody
  InstallSetup setup;
  setup.ca_file = dir / "ca.pem";
  setup.ca_sha256 = kCaFingerprint;
  setup.server_address = "dozor.example.com:8443";
  setup.config_file = config;
  auto result = ApplyInstallSetup(setup);
  REQUIRE_MESSAGE(result.ok(), result.error().ToString());
  CHECK(result->config_written);
  CHECK(result->untrusted_config == dir / "etc" / "agent.toml.untrusted");
  CHECK(*ReadFile(result->untrusted_config) == planted);
  const std::string written = *ReadFile(config);
  CHECK(written.find("dozor.example.com:8443") != std::string::npos);
  CHECK(written.find("evil") == std::string::npos);

  // One root wrote is kept.
  auto again = ApplyInstallSetup(setup);
  REQUIRE(again.ok());
  CHECK_FALSE(again->config_written);
  CHECK(again->untrusted_config.empty());
}

}  // namespace
}  // namespace dozor::agent
