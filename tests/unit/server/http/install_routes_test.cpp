// The public installer routes (/install.sh, /ca.crt, /packages/) and the install command printed
// with a new enrollment token, through ApiService over a real SQLite store.
#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "dozor/common/clock.hpp"
#include "dozor/common/crypto.hpp"
#include "dozor/common/files.hpp"
#include "http/api_service.hpp"
#include "http/handlers.hpp"
#include "http/install_handler.hpp"
#include "server/test_store.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "test_util.hpp"

namespace dozor::server::http {
namespace {

// Throw-away CA and a server certificate signed by it, plus an unrelated self-signed one.
struct Certificates {
  explicit Certificates(const std::filesystem::path& dir) {
    const std::string d = dir.string();
    const std::string quiet = " >/dev/null 2>&1";
    const std::string script =
        "cd " + d + " && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes " +
        "-days 2 -subj /CN=ca -keyout ca.key -out ca.crt" + quiet +
        " && openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost " +
        "-keyout server.key -out server.csr" + quiet +
        " && openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 " +
        "-out server.crt" + quiet +
        " && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 " +
        "-subj /CN=other -keyout other.key -out other.crt" + quiet +
        " && openssl x509 -in ca.crt -outform DER | sha256sum | cut -d' ' -f1 > ca.sha256" +
        " && openssl x509 -in server.crt -pubkey -noout | openssl pkey -pubin -outform DER | " +
        "openssl dgst -sha256 -binary | base64 > server.pin";
    REQUIRE(std::system(script.c_str()) == 0);
    ca_pem = ReadFile(dir / "ca.crt", 1 << 20).value();
    server_pem = ReadFile(dir / "server.crt", 1 << 20).value();
    other_pem = ReadFile(dir / "other.crt", 1 << 20).value();
    ca_sha256 = Trimmed(ReadFile(dir / "ca.sha256", 1024).value());
    server_pin = "sha256//" + Trimmed(ReadFile(dir / "server.pin", 1024).value());
  }
  std::string ca_pem, server_pem, other_pem, ca_sha256, server_pin;
};

void WriteText(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

struct InstallRoutesFixture {
  InstallRoutesFixture() : certs(dir.path()) {
    store = dozor::testing::OpenTestStore(dir);
    REQUIRE(store
                ->CreateApiToken("alice", ApiRole::kOperator, Sha256Hex("dza_op"), "dza_op",
                                 std::nullopt)
                .ok());
    Organization org;
    org.name = "acme";
    org.contract_type = ContractType::kTechnical;
    org.created_at_ms = clock.NowMs();
    REQUIRE(store->CreateOrganization(org).ok());
    std::filesystem::create_directories(dir / "packages");
    WriteText(dir / "packages" / "dozor-agent_0.1.0-1_amd64.deb", "package one");
    WriteText(dir / "packages" / "dozor-agent_0.2.0-1_arm64.deb", "package two");
    WriteText(dir / "packages" / "dozor-server_0.1.0-1_amd64.deb", "not an agent");
    WriteText(dir / "packages" / "notes.txt", "not a package");
    WriteText(dir / "secret.deb", "outside the packages dir");
    WriteText(dir / "install.sh", "#!/bin/sh\necho hi\n");
    WriteText(dir / "http.crt", certs.server_pem);
    WriteText(dir / "ca.crt", certs.ca_pem);
  }

  InstallSources Sources(std::string public_url = "https://dozor.example.com:8480") const {
    InstallSources sources;
    sources.packages_dir = dir / "packages";
    sources.script_file = dir / "install.sh";
    sources.ca_file = dir / "ca.crt";
    sources.public_url = std::move(public_url);
    sources.http_tls_cert_file = dir / "http.crt";
    return sources;
  }

  ApiResponse Call(ApiService& api, const std::string& method, const std::string& path,
                   const std::string& body = "", const std::string& token = "") {
    ApiRequest request;
    request.method = method;
    request.path = path;
    request.body = body;
    if (!token.empty()) {
      request.authorization = "Bearer " + token;
    }
    return api.Handle(request);
  }

  ApiContext Context(InstallSettings settings) {
    ApiContext context{*store, nullptr, clock, "dozor.example.com:8443", 180};
    context.install = std::move(settings);
    return context;
  }

  testing::TempDir dir;
  Certificates certs;
  FakeClock clock{1'700'000'000'000};
  std::unique_ptr<SqliteStore> store;
};

TEST_CASE("certificate fingerprints match what openssl computes") {
  testing::TempDir dir;
  Certificates certs(dir.path());
  CHECK(CertificateSha256Hex(certs.ca_pem).value() == certs.ca_sha256);
  CHECK(PublicKeyPin(certs.server_pem).value() == certs.server_pin);
  CHECK_FALSE(CertificateSha256Hex("not a certificate").ok());
  CHECK_FALSE(PublicKeyPin("").ok());
}

TEST_CASE("VerifyIssuedBy accepts the CA's certificate and refuses a stranger's") {
  testing::TempDir dir;
  Certificates certs(dir.path());
  CHECK(VerifyIssuedBy(certs.server_pem, certs.ca_pem).ok());
  CHECK_FALSE(VerifyIssuedBy(certs.other_pem, certs.ca_pem).ok());
  CHECK_FALSE(VerifyIssuedBy(certs.server_pem, "garbage").ok());
}

TEST_CASE("agent package names: plain dozor-agent debs only") {
  CHECK(IsAgentPackageFileName("dozor-agent_0.1.0-1_amd64.deb"));
  CHECK(IsAgentPackageFileName("dozor-agent_1.2~rc1+deb12u1_arm64.deb"));
  CHECK(IsAgentPackageFileName("dozor-agent_1.0_all.deb"));
  CHECK_FALSE(IsAgentPackageFileName("dozor-server_0.1.0-1_amd64.deb"));
  CHECK_FALSE(IsAgentPackageFileName("dozor-agent_0.1.0-1_i386.deb"));
  CHECK_FALSE(IsAgentPackageFileName("../dozor-agent_0.1.0-1_amd64.deb"));
  CHECK_FALSE(IsAgentPackageFileName("dozor-agent_../../etc/passwd_amd64.deb"));
  CHECK_FALSE(IsAgentPackageFileName("dozor-agent_1/2_amd64.deb"));
  CHECK_FALSE(IsAgentPackageFileName("dozor-agent_1_amd64.deb\n"));
  CHECK_FALSE(IsAgentPackageFileName("dozor-agent__amd64.deb"));
}

TEST_CASE("install settings refuse a bad public URL and https without an API certificate") {
  InstallRoutesFixture f;
  CHECK_FALSE(LoadInstallSettings(f.Sources("ftp://x")).ok());
  CHECK_FALSE(LoadInstallSettings(f.Sources("https://x:8480/path")).ok());
  auto sources = f.Sources();
  sources.http_tls_cert_file.clear();
  auto no_cert = LoadInstallSettings(sources);
  REQUIRE_FALSE(no_cert.ok());
  CHECK(no_cert.error().message.find("http.tls_cert") != std::string::npos);
  sources = f.Sources();
  sources.ca_file = f.dir / "missing.crt";
  auto no_ca = LoadInstallSettings(sources);
  REQUIRE_FALSE(no_ca.ok());
  CHECK(no_ca.error().message.find("grpc.tls_ca") != std::string::npos);
  auto plain = LoadInstallSettings(f.Sources("http://127.0.0.1:8480/"));
  REQUIRE(plain.ok());
  CHECK(plain->public_url == "http://127.0.0.1:8480");
  CHECK(plain->api_key_pin.empty());
}

TEST_CASE("token creation prints the pinned install command when the server offers one") {
  InstallRoutesFixture f;
  auto settings = LoadInstallSettings(f.Sources());
  REQUIRE(settings.ok());
  ApiService api(f.Context(std::move(settings).value()));
  auto created = f.Call(api, "POST", "/api/v1/orgs/acme/tokens", "{}", "dza_op");
  REQUIRE(created.status == 201);
  const std::string token = created.body["token"];
  REQUIRE(created.body.contains("install_command"));
  const std::string command = created.body["install_command"];
  CHECK(command.rfind("curl -fsSL --pinnedpubkey '" + f.certs.server_pin +
                          "' -k https://dozor.example.com:8480/install.sh | sudo sh -s -- ",
                      0) == 0);
  CHECK(command.find("--token '" + token + "'") != std::string::npos);
  CHECK(command.find("--server 'dozor.example.com:8443'") != std::string::npos);
  CHECK(command.find("--api https://dozor.example.com:8480 ") != std::string::npos);
  CHECK(command.find("--ca-sha256 " + f.certs.ca_sha256) != std::string::npos);
  CHECK(command.find("--pinned-pubkey '" + f.certs.server_pin + "'") != std::string::npos);

  // Plain HTTP (loopback demo): no pin can exist, the command says http://.
  auto plain = LoadInstallSettings(f.Sources("http://127.0.0.1:8480"));
  REQUIRE(plain.ok());
  ApiService plain_api(f.Context(std::move(plain).value()));
  auto demo = f.Call(plain_api, "POST", "/api/v1/orgs/acme/tokens", "{}", "dza_op");
  REQUIRE(demo.status == 201);
  const std::string demo_command = demo.body["install_command"];
  CHECK(demo_command.rfind("curl -fsSL http://127.0.0.1:8480/install.sh | sudo sh -s -- ", 0) == 0);
  CHECK(demo_command.find("pinned") == std::string::npos);
}

TEST_CASE("token creation also prints the Windows command for the newest published MSI") {
  InstallRoutesFixture f;
  CHECK(IsAgentPackageFileName("dozor-agent-0.1.0-x64.msi"));
  CHECK_FALSE(IsAgentPackageFileName("dozor-agent-0.1.0-x86.msi"));
  CHECK_FALSE(IsAgentPackageFileName("dozor-agent-0.1.0-x64.msi.exe"));
  CHECK_FALSE(IsAgentPackageFileName("dozor-agent-..-x64.msi/../x"));
  {
    // No MSI published: only the Linux command.
    ApiService api(f.Context(LoadInstallSettings(f.Sources()).value()));
    auto created = f.Call(api, "POST", "/api/v1/orgs/acme/tokens", "{}", "dza_op");
    REQUIRE(created.status == 201);
    CHECK_FALSE(created.body.contains("install_command_windows"));
  }
  WriteText(f.dir / "packages" / "dozor-agent-0.9.7-x64.msi", "older msi");
  WriteText(f.dir / "packages" / "dozor-agent-0.10.2-x64.msi", "newest msi");
  ApiService api(f.Context(LoadInstallSettings(f.Sources()).value()));
  auto created = f.Call(api, "POST", "/api/v1/orgs/acme/tokens", "{}", "dza_op");
  REQUIRE(created.status == 201);
  const std::string token = created.body["token"];
  REQUIRE(created.body.contains("install_command_windows"));
  const std::string command = created.body["install_command_windows"];
  MESSAGE(command);
  // 0.10.2 is newer than 0.9.7 (numerically, not as text); its hash is checked before msiexec.
  CHECK(command.find("'https://dozor.example.com:8480/packages/dozor-agent-0.10.2-x64.msi'") !=
        std::string::npos);
  CHECK(command.find("0.9.7") == std::string::npos);
  const size_t hash_check = command.find("Get-FileHash -Algorithm SHA256 $msi).Hash -ne '" +
                                         Sha256Hex("newest msi") + "'");
  const size_t msiexec = command.find("Start-Process msiexec.exe");
  REQUIRE(hash_check != std::string::npos);
  REQUIRE(msiexec != std::string::npos);
  CHECK(hash_check < msiexec);
  CHECK(command.find("'TOKEN=" + token + "'") != std::string::npos);
  CHECK(command.find("'SERVER=dozor.example.com:8443'") != std::string::npos);
  CHECK(command.find("'CA_SHA256=" + f.certs.ca_sha256 + "'") != std::string::npos);
  CHECK(command.find("'https://dozor.example.com:8480/ca.crt'") != std::string::npos);
  // The MSI is served with its own type, and listed in the manifest as x64.
  auto download = f.Call(api, "GET", "/packages/dozor-agent-0.10.2-x64.msi");
  CHECK(download.status == 200);
  CHECK(download.content_type == "application/x-msi");
  auto manifest = f.Call(api, "GET", "/packages");
  bool listed = false;
  for (const auto& package : manifest.body["packages"]) {
    if (package["file"] == "dozor-agent-0.10.2-x64.msi") {
      listed = package["arch"] == "x64" && package["version"] == "0.10.2";
    }
  }
  CHECK(listed);
}

TEST_CASE("no install command without a public URL or without a CA") {
  InstallRoutesFixture f;
  auto sources = f.Sources("");
  ApiService no_url(f.Context(LoadInstallSettings(sources).value()));
  auto created = f.Call(no_url, "POST", "/api/v1/orgs/acme/tokens", "{}", "dza_op");
  REQUIRE(created.status == 201);
  CHECK_FALSE(created.body.contains("install_command"));
  CHECK(created.body.contains("enroll_command"));

  sources = f.Sources();
  sources.ca_file.clear();
  ApiService no_ca(f.Context(LoadInstallSettings(sources).value()));
  created = f.Call(no_ca, "POST", "/api/v1/orgs/acme/tokens", "{}", "dza_op");
  REQUIRE(created.status == 201);
  CHECK_FALSE(created.body.contains("install_command"));
}

TEST_CASE("install.sh and ca.crt are public, ca.crt is 404 with a reason when no CA is set") {
  InstallRoutesFixture f;
  ApiService api(f.Context(LoadInstallSettings(f.Sources()).value()));
  auto script = f.Call(api, "GET", "/install.sh");
  CHECK(script.status == 200);
  CHECK(script.content_type.rfind("text/x-shellscript", 0) == 0);
  CHECK(script.raw_body.value() == "#!/bin/sh\necho hi\n");
  auto ca = f.Call(api, "GET", "/ca.crt");
  CHECK(ca.status == 200);
  CHECK(ca.raw_body.value() == f.certs.ca_pem);
  CHECK(f.Call(api, "POST", "/ca.crt").status == 405);

  auto sources = f.Sources("");
  sources.ca_file.clear();
  sources.script_file = f.dir / "missing.sh";
  ApiService bare(f.Context(LoadInstallSettings(sources).value()));
  auto no_ca = f.Call(bare, "GET", "/ca.crt");
  CHECK(no_ca.status == 404);
  CHECK(no_ca.body["error"]["message"].get<std::string>().find("grpc.tls_ca") != std::string::npos);
  auto no_script = f.Call(bare, "GET", "/install.sh");
  CHECK(no_script.status == 404);
  CHECK(no_script.body["error"]["message"].get<std::string>().find("install.script") !=
        std::string::npos);
}

TEST_CASE("package manifest lists only agent debs with version, arch and sha256") {
  InstallRoutesFixture f;
  ApiService api(f.Context(LoadInstallSettings(f.Sources()).value()));
  auto manifest = f.Call(api, "GET", "/packages/");
  REQUIRE(manifest.status == 200);
  const auto& packages = manifest.body["packages"];
  REQUIRE(packages.size() == 2);
  CHECK(packages[0]["file"] == "dozor-agent_0.1.0-1_amd64.deb");
  CHECK(packages[0]["version"] == "0.1.0-1");
  CHECK(packages[0]["arch"] == "amd64");
  CHECK(packages[0]["size"] == 11);
  CHECK(packages[0]["sha256"] == Sha256Hex("package one"));
  CHECK(packages[1]["arch"] == "arm64");

  auto sums = f.Call(api, "GET", "/packages/SHA256SUMS");
  REQUIRE(sums.status == 200);
  CHECK(sums.raw_body.value() == Sha256Hex("package one") + "  dozor-agent_0.1.0-1_amd64.deb\n" +
                                     Sha256Hex("package two") +
                                     "  dozor-agent_0.2.0-1_arm64.deb\n");

  // A replaced file is hashed again (the cache keys on size and mtime).
  WriteText(f.dir / "packages" / "dozor-agent_0.1.0-1_amd64.deb", "package one, rebuilt");
  auto again = f.Call(api, "GET", "/packages");
  CHECK(again.body["packages"][0]["sha256"] == Sha256Hex("package one, rebuilt"));

  auto sources = f.Sources();
  sources.packages_dir.clear();
  ApiService none(f.Context(LoadInstallSettings(sources).value()));
  auto empty = f.Call(none, "GET", "/packages/");
  CHECK(empty.status == 200);
  CHECK(empty.body["packages"].empty());
  CHECK(f.Call(none, "GET", "/packages/dozor-agent_0.1.0-1_amd64.deb").status == 404);
}

TEST_CASE("package downloads serve listed debs and refuse traversal and other names") {
  InstallRoutesFixture f;
  ApiService api(f.Context(LoadInstallSettings(f.Sources()).value()));
  auto deb = f.Call(api, "GET", "/packages/dozor-agent_0.1.0-1_amd64.deb");
  REQUIRE(deb.status == 200);
  CHECK(deb.content_type == "application/vnd.debian.binary-package");
  // Streamed from disk by the transport rather than loaded into the response.
  CHECK(ReadFile(deb.file_body.value()).value() == "package one");

  for (const char* path :
       {"/packages/..%2Fsecret.deb", "/packages/..%2F..%2Fetc%2Fpasswd",
        "/packages/%2E%2E%2Fdozor-agent_0.1.0-1_amd64.deb", "/packages/notes.txt",
        "/packages/dozor-server_0.1.0-1_amd64.deb", "/packages/dozor-agent_9.9_amd64.deb",
        "/packages/dozor-agent_0.1.0-1_amd64.deb%00.txt", "/packages/../secret.deb",
        "/packages/%2Fetc%2Fpasswd"}) {
    CAPTURE(path);
    auto refused = f.Call(api, "GET", path);
    CHECK(refused.status == 404);
    CHECK_FALSE(refused.raw_body.has_value());
    CHECK_FALSE(refused.file_body.has_value());
  }
  CHECK(f.Call(api, "DELETE", "/packages/dozor-agent_0.1.0-1_amd64.deb").status == 405);
}

}  // namespace
}  // namespace dozor::server::http
