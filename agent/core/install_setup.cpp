#include "core/install_setup.hpp"

#include <cctype>
#include <system_error>

#include "dozor/common/crypto.hpp"
#include "dozor/common/files.hpp"
#include "dozor/common/path_text.hpp"
#include "platform/file_access.hpp"

namespace dozor::agent {
namespace {

// A CA certificate is a few kB; a chain of a few certificates at most.
constexpr size_t kMaxCaFileBytes = 256 * 1024;

// A TOML basic string: the address and the path are the operator's text, so quote and escape
// rather than trust them (a Windows path is full of backslashes).
std::string TomlString(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (byte < 0x20 || byte == 0x7f) {
      static constexpr char kHex[] = "0123456789ABCDEF";
      out += "\\u00";
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    } else {
      out += c;
    }
  }
  return out + "\"";
}

}  // namespace

Result<std::string> NormalizeSha256Hex(std::string_view hex) {
  std::string digits;
  for (char c : hex) {
    if (c == ':' || c == ' ') continue;
    if (!std::isxdigit(static_cast<unsigned char>(c))) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "the CA fingerprint must be a SHA-256 in hex (64 digits)");
    }
    digits += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (digits.size() != 64) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "the CA fingerprint must be a SHA-256 in hex (64 digits), got " +
                         std::to_string(digits.size()) + " digits");
  }
  return digits;
}

Result<InstallSetupResult> ApplyInstallSetup(const InstallSetup& setup) {
  if (setup.server_address.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "the server address (HOST:PORT) is missing");
  }
  DOZOR_ASSIGN_OR_RETURN(std::string expected, NormalizeSha256Hex(setup.ca_sha256));
  auto pem = ReadFile(setup.ca_file, kMaxCaFileBytes);
  if (!pem.ok()) {
    return MakeError(pem.error().code, "cannot read the CA file: " + pem.error().message);
  }
  auto fingerprint = CertificateSha256Hex(*pem);
  if (!fingerprint.ok()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "the CA file " + PathToUtf8(setup.ca_file) + " is not a PEM certificate");
  }
  const std::string& actual = *fingerprint;
  if (actual != expected) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "the CA file's SHA-256 is " + actual + ", the install command says " +
                         expected + ": not the CA of your Dozor server; nothing was installed");
  }
  InstallSetupResult result;
  // Absolute, as the configuration names the CA and the service does not start in this folder.
  std::error_code ec;
  const std::filesystem::path folder =
      std::filesystem::absolute(setup.config_file, ec).parent_path();
  if (ec) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "cannot resolve the configuration path " + PathToUtf8(setup.config_file));
  }
  DOZOR_RETURN_IF_ERROR(EnsureDirectory(folder, 0755));
  result.installed_ca = folder / "ca.crt";
  DOZOR_RETURN_IF_ERROR(WriteFileAtomic(result.installed_ca, *pem, 0644));
  if (std::filesystem::exists(setup.config_file, ec)) {
    auto trusted = platform::OwnedByAdministrators(setup.config_file);
    if (!trusted.ok()) return trusted.error();
    if (*trusted) {
      DOZOR_RETURN_IF_ERROR(platform::RestrictToAdministrators(folder));
      return result;
    }
    result.untrusted_config = setup.config_file;
    result.untrusted_config += ".untrusted";
    std::filesystem::rename(setup.config_file, result.untrusted_config, ec);
    if (ec) {
      return MakeError(ErrorCode::kPermissionDenied,
                       "cannot move aside " + PathToUtf8(setup.config_file) +
                           ", which an ordinary user put there: " + ec.message());
    }
  }
  const std::string config =
      "# Written by `dozor-agent enroll --configure` at installation. Yours to edit: a reinstall\n"
      "# or an upgrade keeps it. Reference: docs/agent-config.md\n\n"
      "[server]\n"
      "address = " +
      TomlString(setup.server_address) +
      "\n"
      "ca_file = " +
      TomlString(PathToUtf8(result.installed_ca)) + "\n";
  DOZOR_RETURN_IF_ERROR(WriteFileAtomic(setup.config_file, config, 0644));
  result.config_written = true;
  DOZOR_RETURN_IF_ERROR(platform::RestrictToAdministrators(folder));
  return result;
}

}  // namespace dozor::agent
