// The one-line agent install: what the server publishes without a token (the install script, its
// CA certificate, agent packages and their checksums) and the command printed for a client's
// sysadmin when an enrollment token is created. Client-facing guide: docs/install-agent.md.
//
// Thread-safety: InstallSettings is read-only after LoadInstallSettings except for the checksum
// cache, which has its own mutex; handlers may run on several HTTP threads.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "dozor/common/crypto.hpp"
#include "dozor/common/result.hpp"

namespace dozor::server::http {

// Packages and scripts bigger than this are refused: an agent package is a few MiB.
inline constexpr uint64_t kMaxInstallFileBytes = 200ull << 20;
inline constexpr size_t kMaxInstallScriptBytes = 1 << 20;
// Only so many .deb files are listed; a packages directory is not an archive.
inline constexpr size_t kMaxManifestPackages = 200;
// Where the server package is expected to ship deploy/install/install.sh when install.script is
// not configured.
inline constexpr const char* kDefaultInstallScript = "/usr/share/dozor-server/install.sh";

// SHA-256 of files in the packages directory, keyed by (path, size, mtime) so GET /packages/
// does not re-hash 200 MiB files on every request.
class PackageChecksumCache {
 public:
  Result<std::string> Sha256Of(const std::filesystem::path& file, uint64_t size, int64_t mtime_ns);

 private:
  struct Entry {
    uint64_t size = 0;
    int64_t mtime_ns = 0;
    std::string sha256;
  };
  std::mutex mutex_;
  std::map<std::string, Entry, std::less<>> entries_;
};

// What the install routes serve and what the printed install command contains.
struct InstallSettings {
  std::filesystem::path packages_dir;  // empty: /packages/ answers 404
  std::filesystem::path script_file;   // the install script served as /install.sh
  std::string ca_pem;                  // empty: /ca.crt answers 404, no install command
  std::string ca_sha256_hex;           // SHA-256 of the CA certificate's DER encoding
  std::string public_url;              // "https://host:port" of this API as clients reach it
  std::string api_key_pin;             // "sha256//<base64>" of the API certificate's key (https)
  std::shared_ptr<PackageChecksumCache> checksums = std::make_shared<PackageChecksumCache>();
};

// Inputs of LoadInstallSettings (the server configuration's install.* and TLS file keys).
struct InstallSources {
  std::filesystem::path packages_dir;
  std::filesystem::path script_file;  // empty: kDefaultInstallScript
  std::filesystem::path ca_file;      // grpc.tls_ca
  std::string public_url;
  std::filesystem::path http_tls_cert_file;  // the management API's certificate (the pin)
};

// Reads the CA and the API certificate and computes their fingerprints. Errors name the file.
// A public_url that is not http(s)://host[:port] without path is kInvalidArgument; so is an
// https URL when the API has no certificate of its own to pin.
[[nodiscard]] Result<InstallSettings> LoadInstallSettings(const InstallSources& sources);

// The certificate checks the install settings use (dozor/common/crypto.hpp), under the names the
// server's code and tests know.
using ::dozor::CertificateSha256Hex;
using ::dozor::PublicKeyPin;
using ::dozor::VerifyIssuedBy;

// dozor-agent_<version>_<arch>.deb with arch amd64, arm64 or all, or the Windows MSI
// dozor-agent-<version>-x64.msi; nothing else (no '/', no "..").
[[nodiscard]] bool IsAgentPackageFileName(std::string_view name);

// The shell command a client runs as root to install and enroll the agent with `token`;
// nullopt when the server cannot offer one (no public_url or no CA configured).
[[nodiscard]] std::optional<std::string> InstallCommand(const InstallSettings& settings,
                                                        std::string_view grpc_public_address,
                                                        std::string_view token);

// The PowerShell command a client's sysadmin runs (elevated) to download the newest Windows MSI of
// `manifest` (PackageManifest), check it against its SHA-256, and install and enroll the agent
// with `token` (docs/install-agent.md); nullopt when there is no MSI, no public_url or no CA.
[[nodiscard]] std::optional<std::string> WindowsInstallCommand(const InstallSettings& settings,
                                                               std::string_view grpc_public_address,
                                                               std::string_view token,
                                                               const nlohmann::json& manifest);

// {"packages": [{"file", "package", "version", "arch", "size", "sha256"}]} for every agent
// package in settings.packages_dir, sorted by file name.
[[nodiscard]] Result<nlohmann::json> PackageManifest(InstallSettings& settings);

}  // namespace dozor::server::http
