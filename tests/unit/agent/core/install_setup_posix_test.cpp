// enroll --configure keeps a configuration only when an administrator (root) or the installer put
// it there: one planted by an ordinary user before the installation is moved aside and replaced.
#include <doctest/doctest.h>
#include <unistd.h>

#include "core/install_setup.hpp"
#include "dozor/common/files.hpp"
#include "test_util.hpp"

namespace dozor::agent {
namespace {

// The same throw-away CA as install_setup_test.cpp.
constexpr const char* kCaPem =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBhzCCAS2gAwIBAgIUPudAWlmy/4n3YG6hX+ksxK4TXE4wCgYIKoZIzj0EAwIw\n"
    "GDEWMBQGA1UEAwwNRG96b3IgdGVzdCBDQTAgFw0yNjEyMDQwMDE2MzdaGA8yMTI2\n"
    "MTExMDAwMTYzN1owGDEWMBQGA1UEAwwNRG96b3IgdGVzdCBDQTBZMBMGByqGSM49\n"
    "AgEGCCqGSM49AwEHA0IABPeR9pZAGsLxRAPBRBtnGlx97AZ7l09PAYRSjMWUS/VL\n"
    "vFKaTS9dEjkJoc6eHctuaezm1jGm41dZmMnBr3afuhKjUzBRMB0GA1UdDgQWBBSZ\n"
    "14RCx4ewKancsOdFZA3Rd3as4TAfBgNVHSMEGDAWgBSZ14RCx4ewKancsOdFZA3R\n"
    "d3as4TAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0gAMEUCICnLNDGYJRSF\n"
    "YH1/PLluS7JLjUSekBT4l5bpfXbvoGN4AiEA36ojZVtxDRU+8CBcnxBu/R2xWkHa\n"
    "LIOfKME7skBU+xI=\n"
    "-----END CERTIFICATE-----\n";

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
  setup.ca_sha256 = "7bf5fac6e116b4e15e8bdd794e157a4cb50ed6816792372d5fdad4d2e2a16b3c";
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
