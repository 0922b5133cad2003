// Public installer downloads: GET /install.sh, /ca.crt, /packages/, /packages/SHA256SUMS and
// /packages/<file>. No token: a machine that is not enrolled has none. Nothing secret is served
// (a CA certificate, a script, packages); what makes it safe is that the client checks what it
// got against the fingerprints in the install command (docs/install-agent.md).
#include "http/install_handler.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <regex>
#include <vector>

#include "dozor/common/crypto.hpp"
#include "dozor/common/files.hpp"
#include "http/handlers.hpp"

namespace dozor::server::http {
namespace {

constexpr size_t kMaxCertificateBytes = 1 << 20;
constexpr std::string_view kPackagePrefix = "dozor-agent_";
constexpr std::string_view kDebContentType = "application/vnd.debian.binary-package";
constexpr std::string_view kMsiPrefix = "dozor-agent-";
constexpr std::string_view kMsiSuffix = "-x64.msi";
constexpr std::string_view kMsiContentType = "application/x-msi";

std::string Hex(const unsigned char* data, size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (size_t i = 0; i < size; ++i) {
    out.push_back(kDigits[data[i] >> 4]);
    out.push_back(kDigits[data[i] & 0x0f]);
  }
  return out;
}

// Streams the file through SHA-256 so a large package is never held twice in memory.
Result<std::string> Sha256OfFile(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    return MakeError(ErrorCode::kUnavailable, "cannot open " + file.string());
  }
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) {
    return MakeError(ErrorCode::kInternal, "SHA-256 unavailable");
  }
  std::vector<char> buffer(1 << 16);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    const auto got = in.gcount();
    if (got > 0 && EVP_DigestUpdate(ctx.get(), buffer.data(), static_cast<size_t>(got)) != 1) {
      return MakeError(ErrorCode::kInternal, "SHA-256 update failed");
    }
  }
  if (in.bad()) {
    return MakeError(ErrorCode::kUnavailable, "reading " + file.string() + " failed");
  }
  std::array<unsigned char, 32> digest{};
  unsigned int length = 0;
  if (EVP_DigestFinal_ex(ctx.get(), digest.data(), &length) != 1 || length != digest.size()) {
    return MakeError(ErrorCode::kInternal, "SHA-256 final failed");
  }
  return Hex(digest.data(), digest.size());
}

// "dozor-agent_0.1.0-1_amd64.deb" -> ("0.1.0-1", "amd64"); the name is already validated.
std::pair<std::string, std::string> VersionAndArch(std::string_view name) {
  if (name.size() > kMsiSuffix.size() &&
      name.substr(name.size() - kMsiSuffix.size()) == kMsiSuffix) {
    name.remove_prefix(kMsiPrefix.size());
    name.remove_suffix(kMsiSuffix.size());
    return {std::string(name), "x64"};
  }
  name.remove_prefix(kPackagePrefix.size());
  name.remove_suffix(4);  // ".deb"
  const size_t underscore = name.rfind('_');
  return {std::string(name.substr(0, underscore)), std::string(name.substr(underscore + 1))};
}

// Accepts "http(s)://host[:port]" with nothing after the authority but an optional '/'.
bool IsBaseUrl(std::string_view url) {
  static const std::regex kPattern(
      R"(^https?://([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?/?$)");
  return std::regex_match(url.begin(), url.end(), kPattern);
}

// Single quotes for sh: the token and addresses are validated, but quoting keeps any surprise
// inert when the command is pasted.
// Single quotes for PowerShell: a quote inside is doubled.
std::string PowerShellQuote(std::string_view text) {
  std::string out = "'";
  for (const char c : text) {
    out += c;
    if (c == '\'') out += '\'';
  }
  return out + "'";
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Numeric dotted versions ("0.10.2" > "0.9.7"); a part that is not a number compares as text.
bool VersionLess(std::string_view a, std::string_view b) {
  auto part = [](std::string_view& v) {
    const size_t dot = v.find('.');
    std::string_view head = v.substr(0, dot);
    v = dot == std::string_view::npos ? std::string_view() : v.substr(dot + 1);
    return head;
  };
  while (!a.empty() || !b.empty()) {
    const std::string_view x = part(a);
    const std::string_view y = part(b);
    const bool numeric = !x.empty() && !y.empty() && x.size() < 10 && y.size() < 10 &&
                         std::all_of(x.begin(), x.end(), IsDigit) &&
                         std::all_of(y.begin(), y.end(), IsDigit);
    if (numeric && std::stoul(std::string(x)) != std::stoul(std::string(y))) {
      return std::stoul(std::string(x)) < std::stoul(std::string(y));
    }
    if (!numeric && x != y) return x < y;
  }
  return false;
}

std::string ShellQuote(std::string_view text) {
  std::string out = "'";
  for (const char c : text) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out.push_back(c);
    }
  }
  out += "'";
  return out;
}

ApiResponse NotFound(std::string_view message) { return ErrorResponse(404, "not_found", message); }

ApiResponse ServeScript(const InstallSettings& settings) {
  auto script = ReadFile(settings.script_file, kMaxInstallScriptBytes);
  if (!script.ok()) {
    return NotFound("the install script is not available on this server (install.script = " +
                    settings.script_file.string() + ": " + script.error().message + ")");
  }
  return RawResponse(std::move(script).value(), "text/x-shellscript; charset=utf-8");
}

ApiResponse ServeCa(const InstallSettings& settings) {
  if (settings.ca_pem.empty()) {
    return NotFound(
        "this server has no CA certificate configured (grpc.tls_ca / --tls-ca); ask the Dozor "
        "engineer for the CA file and enroll with dozor-agent enroll --ca FILE");
  }
  return RawResponse(settings.ca_pem, "application/x-pem-file", "attachment; filename=\"ca.crt\"");
}

ApiResponse ServeManifest(InstallSettings& settings, bool text) {
  auto manifest = PackageManifest(settings);
  if (!manifest.ok()) {
    return ErrorResponse(manifest.error());
  }
  if (!text) {
    ApiResponse response;
    response.body = std::move(manifest).value();
    return response;
  }
  // sha256sum format: `sha256sum -c SHA256SUMS` works on the downloaded files.
  std::string sums;
  for (const auto& package : (*manifest)["packages"]) {
    sums += package["sha256"].get<std::string>() + "  " + package["file"].get<std::string>() + "\n";
  }
  return RawResponse(std::move(sums), "text/plain; charset=utf-8");
}

ApiResponse ServePackage(InstallSettings& settings, std::string_view name) {
  if (name == "SHA256SUMS") {
    return ServeManifest(settings, /*text=*/true);
  }
  if (!IsAgentPackageFileName(name)) {
    return NotFound("no such package; names look like dozor-agent_<version>_<arch>.deb");
  }
  if (settings.packages_dir.empty()) {
    return NotFound("this server publishes no agent packages (install.packages_dir is not set)");
  }
  const auto file = settings.packages_dir / std::string(name);
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec)) {
    return NotFound("no such package: " + std::string(name));
  }
  const auto size = std::filesystem::file_size(file, ec);
  if (ec) {
    return ErrorResponse(500, "internal", "cannot read package " + std::string(name));
  }
  if (size > kMaxInstallFileBytes) {
    return ErrorResponse(500, "internal",
                         "package " + std::string(name) + " is larger than " +
                             std::to_string(kMaxInstallFileBytes) + " bytes");
  }
  // Streamed from disk by the transport: a 200 MiB package is never held in memory.
  ApiResponse response;
  response.file_body = file;
  response.content_type =
      name.size() > 4 && name.substr(name.size() - 4) == ".msi" ? kMsiContentType : kDebContentType;
  response.content_disposition = "attachment; filename=\"" + std::string(name) + "\"";
  return response;
}

}  // namespace

Result<std::string> PackageChecksumCache::Sha256Of(const std::filesystem::path& file, uint64_t size,
                                                   int64_t mtime_ns) {
  {
    std::lock_guard lock(mutex_);
    const auto it = entries_.find(file.string());
    if (it != entries_.end() && it->second.size == size && it->second.mtime_ns == mtime_ns) {
      return it->second.sha256;
    }
  }
  // Hash outside the lock: a slow disk must not stall other requests for cached files.
  DOZOR_ASSIGN_OR_RETURN(auto sha256, Sha256OfFile(file));
  std::lock_guard lock(mutex_);
  entries_[file.string()] = Entry{size, mtime_ns, sha256};
  return sha256;
}

bool IsAgentPackageFileName(std::string_view name) {
  static const std::regex kPattern(
      R"(^(dozor-agent_[A-Za-z0-9.~+-]+_(amd64|arm64|all)\.deb|dozor-agent-[0-9][0-9.]*-x64\.msi)$)");
  return name.size() <= 200 && std::regex_match(name.begin(), name.end(), kPattern);
}

Result<InstallSettings> LoadInstallSettings(const InstallSources& sources) {
  InstallSettings settings;
  settings.packages_dir = sources.packages_dir;
  settings.script_file = sources.script_file.empty() ? std::filesystem::path(kDefaultInstallScript)
                                                     : sources.script_file;
  if (!sources.ca_file.empty()) {
    auto pem = ReadFile(sources.ca_file, kMaxCertificateBytes);
    if (!pem.ok()) {
      return pem.error().Wrap("grpc.tls_ca (--tls-ca)");
    }
    auto sha256 = CertificateSha256Hex(*pem);
    if (!sha256.ok()) {
      return sha256.error().Wrap("grpc.tls_ca (--tls-ca) " + sources.ca_file.string());
    }
    settings.ca_pem = std::move(pem).value();
    settings.ca_sha256_hex = std::move(sha256).value();
  }
  if (!sources.public_url.empty()) {
    if (!IsBaseUrl(sources.public_url)) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "install.public_url (--install-public-url) must look like "
                       "https://host:port, got \"" +
                           sources.public_url + "\"");
    }
    settings.public_url = sources.public_url;
    if (settings.public_url.back() == '/') {
      settings.public_url.pop_back();
    }
    if (settings.public_url.rfind("https://", 0) == 0) {
      if (sources.http_tls_cert_file.empty()) {
        return MakeError(ErrorCode::kInvalidArgument,
                         "install.public_url is https but the management API has no certificate "
                         "of its own (http.tls_cert) whose key the install command could pin");
      }
      auto cert = ReadFile(sources.http_tls_cert_file, kMaxCertificateBytes);
      if (!cert.ok()) {
        return cert.error().Wrap("http.tls_cert (--http-tls-cert)");
      }
      auto pin = PublicKeyPin(*cert);
      if (!pin.ok()) {
        return pin.error().Wrap("http.tls_cert (--http-tls-cert) " +
                                sources.http_tls_cert_file.string());
      }
      settings.api_key_pin = std::move(pin).value();
    }
  }
  return settings;
}

std::optional<std::string> InstallCommand(const InstallSettings& settings,
                                          std::string_view grpc_public_address,
                                          std::string_view token) {
  if (settings.public_url.empty() || settings.ca_sha256_hex.empty() ||
      grpc_public_address.empty()) {
    return std::nullopt;
  }
  const std::string& api = settings.public_url;
  std::string command = "curl -fsSL ";
  std::string script_args;
  if (!settings.api_key_pin.empty()) {
    // -k with --pinnedpubkey: curl checks the server's key against the pin instead of a CA
    // chain, so a client without our CA in its trust store still talks only to this server.
    command += "--pinnedpubkey " + ShellQuote(settings.api_key_pin) + " -k ";
    script_args = " --pinned-pubkey " + ShellQuote(settings.api_key_pin);
  }
  command += api + "/install.sh | sudo sh -s -- --token " + ShellQuote(token) + " --server " +
             ShellQuote(grpc_public_address) + " --api " + api + " --ca-sha256 " +
             settings.ca_sha256_hex + script_args;
  return command;
}

std::optional<std::string> WindowsInstallCommand(const InstallSettings& settings,
                                                 std::string_view grpc_public_address,
                                                 std::string_view token,
                                                 const nlohmann::json& manifest) {
  if (settings.public_url.empty() || settings.ca_sha256_hex.empty() ||
      grpc_public_address.empty() || !manifest.is_object() || !manifest.contains("packages")) {
    return std::nullopt;
  }
  const nlohmann::json* newest = nullptr;
  for (const auto& package : manifest["packages"]) {
    if (package.value("arch", "") != "x64") continue;
    if (newest == nullptr ||
        VersionLess((*newest)["version"].get<std::string>(), package.value("version", ""))) {
      newest = &package;
    }
  }
  if (newest == nullptr) return std::nullopt;
  const std::string file = (*newest)["file"].get<std::string>();
  const std::string& api = settings.public_url;
  // For an elevated PowerShell (5.1, Windows 8.1 / Server 2012 R2 and newer). Windows does not
  // know the Dozor CA, so the download skips the certificate check; what is downloaded is checked
  // against the fingerprints written here instead: the MSI by the script, the CA by the agent
  // (CA_SHA256). The same trust as the Linux command: the command itself, from the engineer.
  std::string command;
  command += "$ErrorActionPreference = 'Stop'; ";
  command += "[Net.ServicePointManager]::SecurityProtocol = 'Tls12'; ";
  command += "[Net.ServicePointManager]::ServerCertificateValidationCallback = { $true }; ";
  command +=
      "$d = Join-Path $env:TEMP 'dozor-install'; New-Item -ItemType Directory -Force $d | "
      "Out-Null; ";
  command += "$msi = Join-Path $d " + PowerShellQuote(file) + "; $ca = Join-Path $d 'ca.crt'; ";
  command += "Invoke-WebRequest -UseBasicParsing " + PowerShellQuote(api + "/packages/" + file) +
             " -OutFile $msi; ";
  command += "if ((Get-FileHash -Algorithm SHA256 $msi).Hash -ne " +
             PowerShellQuote((*newest)["sha256"].get<std::string>()) +
             ") { throw 'dozor-install: the MSI does not match its SHA-256; not installed' }; ";
  command +=
      "Invoke-WebRequest -UseBasicParsing " + PowerShellQuote(api + "/ca.crt") + " -OutFile $ca; ";
  command +=
      "$p = Start-Process msiexec.exe -Wait -PassThru -ArgumentList '/i', \"`\"$msi`\"\", "
      "'/qn', '/l*v', \"`\"$d\\install.log`\"\", " +
      PowerShellQuote("TOKEN=" + std::string(token)) + ", " +
      PowerShellQuote("SERVER=" + std::string(grpc_public_address)) + ", \"CA_FILE=`\"$ca`\"\", " +
      PowerShellQuote("CA_SHA256=" + settings.ca_sha256_hex) + "; ";
  command +=
      "if ($p.ExitCode -ne 0) { throw \"dozor-install: msiexec failed ($($p.ExitCode)); "
      "see $d\\install.log\" }; 'dozor-install: OK'";
  return command;
}

Result<nlohmann::json> PackageManifest(InstallSettings& settings) {
  nlohmann::json out = {{"packages", nlohmann::json::array()}};
  if (settings.packages_dir.empty()) {
    return out;
  }
  std::error_code ec;
  std::filesystem::directory_iterator it(settings.packages_dir, ec);
  if (ec) {
    return MakeError(
        ErrorCode::kUnavailable,
        "cannot list install.packages_dir " + settings.packages_dir.string() + ": " + ec.message());
  }
  std::vector<std::string> names;
  for (const auto& entry : it) {
    const std::string name = entry.path().filename().string();
    if (IsAgentPackageFileName(name) && entry.is_regular_file(ec) &&
        names.size() < kMaxManifestPackages) {
      names.push_back(name);
    }
  }
  std::sort(names.begin(), names.end());
  for (const auto& name : names) {
    const auto file = settings.packages_dir / name;
    const auto size = std::filesystem::file_size(file, ec);
    if (ec || size > kMaxInstallFileBytes) {
      continue;  // vanished or too big to serve: not offered
    }
    const auto mtime = std::filesystem::last_write_time(file, ec);
    if (ec) {
      continue;
    }
    const int64_t mtime_ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(mtime.time_since_epoch()).count();
    auto sha256 = settings.checksums->Sha256Of(file, size, mtime_ns);
    if (!sha256.ok()) {
      continue;
    }
    auto [version, arch] = VersionAndArch(name);
    out["packages"].push_back({{"file", name},
                               {"package", "dozor-agent"},
                               {"version", version},
                               {"arch", arch},
                               {"size", size},
                               {"sha256", *sha256}});
  }
  return out;
}

void RegisterInstallRoutes(Router& router, ApiContext& context) {
  router.Add("GET", "/install.sh", Access::kPublic, Scope::Public(),
             [&context](ApiRequest&) { return ServeScript(context.install); });
  router.Add("GET", "/ca.crt", Access::kPublic, Scope::Public(),
             [&context](ApiRequest&) { return ServeCa(context.install); });
  router.Add("GET", "/packages", Access::kPublic, Scope::Public(),
             [&context](ApiRequest&) { return ServeManifest(context.install, /*text=*/false); });
  router.Add("GET", "/packages/{file}", Access::kPublic, Scope::Public(),
             [&context](ApiRequest& request) {
               return ServePackage(context.install, request.params.at("file"));
             });
}

}  // namespace dozor::server::http
