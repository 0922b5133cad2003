// The installer's step done by the agent (enroll --configure): the CA is accepted only with the
// fingerprint from the install command, and a configuration already there is never replaced.
#include "core/install_setup.hpp"

#include "core/config.hpp"

#include <doctest/doctest.h>

#include "agent/core/test_ca.hpp"
#include "dozor/common/crypto.hpp"
#include "dozor/common/files.hpp"
#include "dozor/common/path_text.hpp"
#include "test_util.hpp"

namespace dozor::agent {
namespace {

struct Installation {
  testing::TempDir dir;
  InstallSetup setup;
  Installation() {
    REQUIRE(WriteFileAtomic(dir / "downloaded-ca.crt", kTestCaPem).ok());
    setup.ca_file = dir / "downloaded-ca.crt";
    setup.ca_sha256 = kTestCaFingerprint;
    setup.server_address = "dozor.example.com:8443";
    // A Cyrillic folder, as on a Russian machine (C:\ProgramData is ASCII, a test folder may not
    // be).
    setup.config_file = dir.path() / PathFromUtf8("Дозор") / "agent.toml";
  }
};

TEST_CASE("install setup: the checked CA is installed and the configuration names it") {
  Installation installation;
  // The fingerprint is the certificate's (DER), as the server computes it, not the file's.
  CHECK(*CertificateSha256Hex(kTestCaPem) == kTestCaFingerprint);
  CHECK(Sha256Hex(kTestCaPem) != kTestCaFingerprint);
  auto result = ApplyInstallSetup(installation.setup);
  REQUIRE(result.ok());
  CHECK(result->config_written);
  CHECK(result->installed_ca == installation.setup.config_file.parent_path() / "ca.crt");
  CHECK(*ReadFile(result->installed_ca) == kTestCaPem);
  const std::string config = *ReadFile(installation.setup.config_file);
  CHECK(config.find("address = \"dozor.example.com:8443\"") != std::string::npos);
  // The path is written as a TOML string: backslashes of a Windows path would be escaped.
  std::string expected_path;
  for (char c : PathToUtf8(result->installed_ca)) {
    if (c == '\\') expected_path += '\\';
    expected_path += c;
  }
  CHECK(config.find("ca_file = \"" + expected_path + "\"") != std::string::npos);
  CHECK(config.find("Дозор") != std::string::npos);
  // And the agent reads it back: the keys are its own, the path survives the escaping.
  auto loaded = LoadAgentConfigFile(installation.setup.config_file);
  REQUIRE_MESSAGE(loaded.ok(), loaded.error().ToString());
  CHECK(loaded->server_address == "dozor.example.com:8443");
  CHECK(loaded->tls_ca_file == result->installed_ca);
}

TEST_CASE("install setup: a configuration already there is kept, the CA refreshed") {
  Installation installation;
  REQUIRE(EnsureDirectory(installation.setup.config_file.parent_path()).ok());
  REQUIRE(WriteFileAtomic(installation.setup.config_file, "[server]\naddress = \"mine:1\"\n").ok());
  auto result = ApplyInstallSetup(installation.setup);
  REQUIRE(result.ok());
  CHECK_FALSE(result->config_written);
  CHECK(*ReadFile(installation.setup.config_file) == "[server]\naddress = \"mine:1\"\n");
  CHECK(*ReadFile(result->installed_ca) == kTestCaPem);
}

TEST_CASE("install setup: a CA with another fingerprint is refused and nothing is written") {
  Installation installation;
  installation.setup.ca_sha256 = Sha256Hex("another CA");
  auto result = ApplyInstallSetup(installation.setup);
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().code == ErrorCode::kInvalidArgument);
  CHECK(result.error().message.find(kTestCaFingerprint) != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(installation.setup.config_file.parent_path()));
}

TEST_CASE("install setup: fingerprints as pasted are accepted, anything else is not") {
  const std::string hex = Sha256Hex("x");
  std::string with_colons;
  for (size_t i = 0; i < hex.size(); i += 2) {
    if (i > 0) with_colons += ':';
    with_colons += static_cast<char>(std::toupper(static_cast<unsigned char>(hex[i])));
    with_colons += static_cast<char>(std::toupper(static_cast<unsigned char>(hex[i + 1])));
  }
  CHECK(*NormalizeSha256Hex(with_colons) == hex);
  CHECK_FALSE(NormalizeSha256Hex(hex.substr(1)).ok());
  CHECK_FALSE(NormalizeSha256Hex(hex.substr(1) + "g").ok());
  CHECK_FALSE(NormalizeSha256Hex("").ok());
}

TEST_CASE("install setup: a missing or non-PEM CA file and a missing server are refused") {
  Installation installation;
  InstallSetup no_server = installation.setup;
  no_server.server_address.clear();
  CHECK(ApplyInstallSetup(no_server).error().code == ErrorCode::kInvalidArgument);
  InstallSetup missing = installation.setup;
  missing.ca_file = installation.dir / "nowhere.crt";
  CHECK(ApplyInstallSetup(missing).error().code == ErrorCode::kNotFound);
  REQUIRE(WriteFileAtomic(installation.dir / "html.crt", "<html>login</html>").ok());
  InstallSetup html = installation.setup;
  html.ca_file = installation.dir / "html.crt";
  html.ca_sha256 = Sha256Hex("<html>login</html>");
  CHECK(ApplyInstallSetup(html).error().code == ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace dozor::agent
