// What an installer does after placing the binary, done by the agent itself so every installer
// (the Windows MSI's custom action; install.sh does the same in shell) gets it the same way:
// check the server's CA against the fingerprint the engineer sent, keep a copy of it beside the
// configuration, and write a configuration that names the server and that CA. An existing
// configuration is the sysadmin's and is never overwritten.
#pragma once

#include <filesystem>
#include <string>

#include "dozor/common/result.hpp"

namespace dozor::agent {

struct InstallSetup {
  std::filesystem::path ca_file;      // the CA as downloaded (PEM)
  std::string ca_sha256;              // hex SHA-256 of that file, from the install command
  std::string server_address;         // HOST:PORT of the server's gRPC endpoint
  std::filesystem::path config_file;  // where the configuration lives (its folder gets ca.crt)
};

struct InstallSetupResult {
  std::filesystem::path installed_ca;  // <config folder>/ca.crt
  bool config_written = false;         // false: a configuration was there already, kept as is
  // A configuration found there that neither the system, the administrators nor the installer
  // put there, moved aside (to this path) and replaced: someone planted it before the install.
  std::filesystem::path untrusted_config;
};

// Checks that `hex` is a SHA-256 in hex (64 digits; case, ':' and spaces ignored, as fingerprints
// are often pasted from `openssl x509 -noout -fingerprint -sha256`) and returns it in lower case.
// The fingerprint is the certificate's (the SHA-256 of its DER form), not the PEM file's.
[[nodiscard]] Result<std::string> NormalizeSha256Hex(std::string_view hex);

// The configuration's folder is then made changeable by administrators only
// (platform::RestrictToAdministrators).
// kInvalidArgument when the CA file is not PEM or its SHA-256 is not `ca_sha256` (the message
// gives both, so an engineer on the phone can compare); kNotFound when it is missing. Writes
// ca.crt (readable by all, like the configuration: neither is secret) and, when absent, the
// configuration. Safe to run again (an upgrade).
[[nodiscard]] Result<InstallSetupResult> ApplyInstallSetup(const InstallSetup& setup);

}  // namespace dozor::agent
