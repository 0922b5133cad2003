#include <doctest/doctest.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <string>
#include <tuple>

#include "collector_test_util.hpp"
#include "collectors/collector.hpp"
#include "collectors/parsers/package_parsers.hpp"
#include "dozor/common/files.hpp"
#include "test_util.hpp"

namespace dozor::agent {
namespace {

using namespace collector_test;

// Serves <root>/dozor-fixture/systemctl-list-units.txt for `systemctl
// list-units`; any other command, or a host without the file, is "not found"
// like a machine without systemctl.
CommandRunner FixtureRunner(const std::filesystem::path& root) {
  return [root](const std::vector<std::string>& argv) -> Result<CommandOutput> {
    if (argv.size() >= 2 && argv[0] == "systemctl" && argv[1] == "list-units") {
      auto text = ReadFile(root / "dozor-fixture/systemctl-list-units.txt");
      if (text.ok()) return CommandOutput{0, std::move(text).value()};
    }
    return MakeError(ErrorCode::kNotFound, argv.empty() ? "" : argv[0]);
  };
}

CollectContext SoftwareFixture(const std::string& host) {
  CollectContext ctx = FixtureContext(host);
  ctx.run_command = FixtureRunner(ctx.root);
  return ctx;
}

const dozor::v1::Package* FindPackage(const dozor::v1::Software& sw, const std::string& name) {
  return FindNamed(sw.packages(), name);
}

const dozor::v1::Service* FindService(const dozor::v1::Software& sw, const std::string& name) {
  return FindNamed(sw.services(), name);
}

// Builds an RPM header blob: entries {tag, type, offset, count} over `data`.
struct RawEntry {
  int32_t tag, type, offset, count;
};
void PutBe32(std::string* out, uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8)
    out->push_back(static_cast<char>((value >> shift) & 0xFF));
}
std::string RpmBlob(const std::vector<RawEntry>& entries, const std::string& data,
                    int64_t il_override = -1, int64_t dl_override = -1) {
  std::string blob;
  PutBe32(&blob, static_cast<uint32_t>(il_override >= 0 ? il_override
                                                        : static_cast<int64_t>(entries.size())));
  PutBe32(&blob, static_cast<uint32_t>(dl_override >= 0 ? dl_override
                                                        : static_cast<int64_t>(data.size())));
  for (const auto& e : entries) {
    PutBe32(&blob, static_cast<uint32_t>(e.tag));
    PutBe32(&blob, static_cast<uint32_t>(e.type));
    PutBe32(&blob, static_cast<uint32_t>(e.offset));
    PutBe32(&blob, static_cast<uint32_t>(e.count));
  }
  return blob + data;
}

// name "bash" @0, version "5.1" @5, release "2.el9" @9, epoch 3 @16, arch
// "x86_64" @20.
std::string GoodRpmData() {
  std::string data(
      "bash\0"
      "5.1\0"
      "2.el9\0",
      15);
  data.push_back('\0');  // pad to 16 for the int32
  data += std::string("\0\0\0\3", 4);
  data += std::string("x86_64\0", 7);
  return data;
}
std::vector<RawEntry> GoodRpmEntries() {
  return {{kRpmTagName, kRpmTypeString, 0, 1},
          {kRpmTagVersion, kRpmTypeString, 5, 1},
          {kRpmTagRelease, kRpmTypeString, 9, 1},
          {kRpmTagEpoch, kRpmTypeInt32, 16, 1},
          {kRpmTagArch, kRpmTypeString, 20, 1}};
}

}  // namespace

TEST_CASE("dpkg parser keeps installed and held packages with epoch versions") {
  std::string text =
      "Package: openssh-server\nStatus: install ok installed\nMaintainer: "
      "Debian <a@b>\n"
      "Architecture: amd64\nVersion: 1:9.2p1-2+deb12u2\nDescription: ssh\n "
      "long text\n .\n more\n\n"
      "Package: samba\nStatus: hold ok installed\nArchitecture: "
      "amd64\nVersion: 2:4.17.12\n\n"
      "Package: telnetd\nStatus: deinstall ok config-files\nArchitecture: "
      "amd64\nVersion: 0.17\n\n"
      "Package: broken\nStatus: install reinstreq half-installed\nVersion: "
      "1\n\n"
      "Package: g++-12\nStatus: install ok installed\nArchitecture: "
      "amd64\nVersion: 12.2.0-14\n";
  auto packages = ParseDpkgStatus(text);
  REQUIRE(packages.ok());
  REQUIRE(packages->size() == 3);
  CHECK((*packages)[0].name() == "openssh-server");
  CHECK((*packages)[0].version() == "1:9.2p1-2+deb12u2");
  CHECK((*packages)[0].architecture() == "amd64");
  CHECK((*packages)[0].vendor() == "Debian <a@b>");
  CHECK((*packages)[0].source() == "dpkg");
  CHECK_FALSE((*packages)[0].held());
  CHECK((*packages)[1].name() == "samba");
  CHECK((*packages)[1].held());  // "hold ok installed": apt-mark hold
  CHECK((*packages)[2].name() == "g++-12");
  CHECK_FALSE((*packages)[2].held());
  CHECK((*packages)[2].version() == "12.2.0-14");
}

TEST_CASE("dpkg parser handles CRLF, missing final newline and continuation lines") {
  std::string text =
      "Package: libstdc++6\r\nStatus: install ok "
      "installed\r\nArchitecture: i386\r\n"
      "Multi-Arch: same\r\nDescription: lib\r\n Version: 9.9 (a "
      "continuation, not a field)\r\n"
      "Version: 12.2.0-14\r\n\r\n"
      "Package: zlib1g\r\nStatus:   install ok installed  "
      "\r\nVersion: 1:1.2.13.dfsg-1";
  auto packages = ParseDpkgStatus(text);
  REQUIRE(packages.ok());
  REQUIRE(packages->size() == 2);
  CHECK((*packages)[0].name() == "libstdc++6");
  CHECK((*packages)[0].version() == "12.2.0-14");
  CHECK((*packages)[0].architecture() == "i386");
  CHECK((*packages)[1].version() == "1:1.2.13.dfsg-1");
}

TEST_CASE("dpkg parser copes with very long descriptions, blank runs and odd input") {
  std::string long_line(1 << 20, 'x');
  std::string text =
      "\n\n\nPackage: big\nStatus: install ok "
      "installed\nVersion: 1\nDescription: d\n " +
      long_line +
      "\n\n\n\nPackage: second\nstatus: install ok installed\n"
      "VERSION: 2\n";
  auto packages = ParseDpkgStatus(text);
  REQUIRE(packages.ok());
  REQUIRE(packages->size() == 2);
  CHECK((*packages)[1].version() == "2");  // field names are case-insensitive
  auto empty = ParseDpkgStatus("");
  REQUIRE(empty.ok());
  CHECK(empty->empty());
  CHECK(ParseDpkgStatus("\n\r\n").ok());
  CHECK_FALSE(ParseDpkgStatus("this is not a status file\n").ok());
  // A stanza missing its blank separator still yields both packages.
  auto joined = ParseDpkgStatus(
      "Package: a\nStatus: install ok installed\nPackage: "
      "b\nStatus: install ok installed\n");
  REQUIRE(joined.ok());
  CHECK(joined->size() == 2);
  // A package without Status is not installed.
  auto no_status = ParseDpkgStatus("Package: a\nVersion: 1\n");
  REQUIRE(no_status.ok());
  CHECK(no_status->empty());
}

TEST_CASE("dpkg parser fed in chunks of any size gives what the whole text gives") {
  const std::string text =
      "Package: openssh-server\r\nStatus: install ok installed\r\nMaintainer: Debian <a@b>\r\n"
      "Architecture: amd64\r\nVersion: 1:9.2p1-2+deb12u2\r\nDescription: ssh\r\n long text\r\n"
      "\r\nPackage: samba\nStatus: hold ok installed\nVersion: 2:4.17.12\n\n\n"
      "Package: g++-12\nStatus: install ok installed\nArchitecture: amd64\nVersion: 12.2.0-14";
  auto whole = ParseDpkgStatus(text);
  REQUIRE(whole.ok());
  REQUIRE(whole->size() == 3);
  for (size_t chunk = 1; chunk <= text.size(); ++chunk) {
    google::protobuf::RepeatedPtrField<dozor::v1::Package> parsed;
    DpkgStatusParser parser(&parsed);
    for (size_t at = 0; at < text.size(); at += chunk) {
      parser.Feed(std::string_view(text).substr(at, chunk));
    }
    REQUIRE(parser.Finish().ok());
    REQUIRE(parsed.size() == 3);
    for (int i = 0; i < 3; ++i) {
      INFO("chunk " << chunk << " package " << i);
      CHECK(parsed[i].SerializeAsString() == (*whole)[static_cast<size_t>(i)].SerializeAsString());
    }
  }
  CHECK(whole->at(0).vendor() == "Debian <a@b>");  // the CR is not part of the value
  CHECK(whole->at(1).held());
}

TEST_CASE(
    "dpkg parser skips a line longer than its limit across chunks and keeps the fields after") {
  google::protobuf::RepeatedPtrField<dozor::v1::Package> parsed;
  DpkgStatusParser parser(&parsed);
  parser.Feed("Package: big\nStatus: install ok installed\nDescription: d\n ");
  const std::string piece(64 * 1024, 'x');
  for (size_t fed = 0; fed <= DpkgStatusParser::kMaxLineBytes; fed += piece.size()) {
    parser.Feed(piece);
  }
  // The rest of the over-long line (a "field" look-alike included) is dropped with it.
  parser.Feed("Version: 666\nVersion: 7\n\nPackage: next\nStatus: install ok installed\n");
  REQUIRE(parser.Finish().ok());
  REQUIRE(parsed.size() == 2);
  CHECK(parsed[0].version() == "7");
  CHECK(parsed[1].name() == "next");
  // A file that is one over-long line is not a status file.
  google::protobuf::RepeatedPtrField<dozor::v1::Package> none;
  DpkgStatusParser junk(&none);
  for (size_t fed = 0; fed <= DpkgStatusParser::kMaxLineBytes; fed += piece.size()) {
    junk.Feed(piece);
  }
  CHECK_FALSE(junk.Finish().ok());
}

TEST_CASE("rpm header parser builds epoch:version-release and reads arch") {
  auto package = ParseRpmHeader(RpmBlob(GoodRpmEntries(), GoodRpmData()));
  REQUIRE_MESSAGE(package.ok(), (package.ok() ? "" : package.error().ToString()));
  CHECK(package->name() == "bash");
  CHECK(package->version() == "3:5.1-2.el9");
  CHECK(package->architecture() == "x86_64");
  CHECK(package->source() == "rpm");
}

TEST_CASE("rpm header parser rejects truncated and hostile headers") {
  std::string data = GoodRpmData();
  auto entries = GoodRpmEntries();
  std::string good = RpmBlob(entries, data);
  CHECK_FALSE(ParseRpmHeader("").ok());
  CHECK_FALSE(ParseRpmHeader(std::string_view(good.data(), 7)).ok());
  for (size_t cut = 8; cut < good.size(); cut += 3) {
    CHECK_FALSE(ParseRpmHeader(std::string_view(good.data(), cut)).ok());
  }
  // Index count far beyond the blob, and at the 32-bit limit.
  CHECK_FALSE(ParseRpmHeader(RpmBlob(entries, data, 1000)).ok());
  CHECK_FALSE(ParseRpmHeader(RpmBlob(entries, data, 0xFFFFFFFF)).ok());
  CHECK_FALSE(ParseRpmHeader(RpmBlob(entries, data, 0)).ok());
  // Data length claiming more than is there.
  CHECK_FALSE(ParseRpmHeader(RpmBlob(entries, data, -1, 0x7FFFFFFF)).ok());
  // Offset beyond the data store.
  auto bad_offset = entries;
  bad_offset[1].offset = 0x7FFFFFF0;
  CHECK_FALSE(ParseRpmHeader(RpmBlob(bad_offset, data)).ok());
  // Negative-looking offset (0xFFFFFFFF).
  bad_offset[1].offset = -1;
  CHECK_FALSE(ParseRpmHeader(RpmBlob(bad_offset, data)).ok());
  // Count overflowing the store.
  auto bad_count = entries;
  bad_count[3].count = 0x40000001;
  CHECK_FALSE(ParseRpmHeader(RpmBlob(bad_count, data)).ok());
  // int32 whose 4 bytes run past the end.
  auto late_int = entries;
  late_int[3].offset = static_cast<int32_t>(data.size() - 2);
  CHECK_FALSE(ParseRpmHeader(RpmBlob(late_int, data)).ok());
  // Unterminated string at the end of the store.
  std::string unterminated = data;
  unterminated.back() = '4';  // "x86_64" loses its NUL
  CHECK_FALSE(ParseRpmHeader(RpmBlob(entries, unterminated)).ok());
  // Wrong types: NAME as int32, EPOCH as string.
  auto wrong_type = entries;
  wrong_type[0].type = kRpmTypeInt32;
  CHECK_FALSE(ParseRpmHeader(RpmBlob(wrong_type, data)).ok());
  wrong_type = entries;
  wrong_type[3].type = kRpmTypeString;
  CHECK_FALSE(ParseRpmHeader(RpmBlob(wrong_type, data)).ok());
  // No NAME tag at all.
  auto no_name = entries;
  no_name[0].tag = 5000;
  CHECK_FALSE(ParseRpmHeader(RpmBlob(no_name, data)).ok());
}

TEST_CASE("rpm header parser never crashes on random bytes or random mutations") {
  std::mt19937 rng(12345);
  std::string good = RpmBlob(GoodRpmEntries(), GoodRpmData());
  int parsed = 0;
  for (int round = 0; round < 20000; ++round) {
    std::string blob;
    if (round % 2 == 0) {
      blob.resize(rng() % 200);
      for (auto& c : blob) c = static_cast<char>(rng());
      if (blob.size() >= 8 && round % 4 == 0) {
        blob[0] = blob[1] = blob[2] = 0;  // small il so the index is actually walked
        blob[4] = blob[5] = 0;
      }
    } else {
      blob = good;
      for (int flips = 1 + static_cast<int>(rng() % 4); flips > 0; --flips) {
        blob[rng() % blob.size()] = static_cast<char>(rng());
      }
    }
    auto package = ParseRpmHeader(blob);  // under ASan an out-of-bounds read would abort here
    if (package.ok()) ++parsed;
  }
  CHECK(parsed < 20000);
  CHECK(parsed > 0);  // some mutations only touch bytes the parser never reads
}

TEST_CASE(
    "systemctl list-units parser strips the failed marker and keeps "
    "descriptions") {
  auto units = ParseSystemctlListUnits(
      "ssh.service  loaded active running OpenBSD Secure Shell server\n"
      "\xE2\x97\x8F nmbd.service loaded failed failed Samba NMB Daemon\n"
      "* ghost.service not-found inactive dead ghost.service\n"
      "\n"
      "short.service loaded\n"
      "bare.service loaded active exited\n");
  REQUIRE(units.size() == 4);
  CHECK(units[0].unit == "ssh.service");
  CHECK(units[0].description == "OpenBSD Secure Shell server");
  CHECK(units[1].unit == "nmbd.service");
  CHECK(units[1].active_state == "failed");
  CHECK(units[2].load_state == "not-found");
  CHECK(units[3].sub_state == "exited");
  CHECK(units[3].description.empty());
}

TEST_CASE("unit file install section detection") {
  CHECK(UnitFileHasInstallSection("[Unit]\n[Install]\nWantedBy=multi-user.target\n"));
  CHECK(UnitFileHasInstallSection("[Install]\r\nAlias=x.service\r\n"));
  CHECK_FALSE(UnitFileHasInstallSection("[Unit]\nDescription=x\n[Service]\nExecStart=/bin/x\n"));
  CHECK_FALSE(UnitFileHasInstallSection("[Install]\n# WantedBy=multi-user.target\n"));
  CHECK_FALSE(UnitFileHasInstallSection("[Service]\nWantedBy=multi-user.target\n"));
}

TEST_CASE("1C helpers classify kinds, versions and package names") {
  CHECK(OneCKind({true, false, false, false}) == "server");
  CHECK(OneCKind({false, true, true, true}) == "server");
  CHECK(OneCKind({false, false, true, true}) == "client");
  CHECK(OneCKind({false, false, false, true}) == "thin client");
  CHECK(OneCKind({}) == "platform");
  CHECK(LooksLikeOneCVersion("8.3.22.1709"));
  CHECK_FALSE(LooksLikeOneCVersion("conf"));
  CHECK_FALSE(LooksLikeOneCVersion("8.3"));
  CHECK_FALSE(LooksLikeOneCVersion("8..3.1"));
  dozor::v1::Package package;
  package.set_name("1C_Enterprise83-server");
  package.set_version("8.3.18-1334");
  CHECK(OneCVersionFromPackage(package) == "8.3.18.1334");
  package.set_name("1c-enterprise-8.3.22.1709-client");
  package.set_version("8.3.22-1709");
  CHECK(OneCVersionFromPackage(package) == "8.3.22.1709");
  package.set_name("1c-enterprise-8.3.22.1709-common");
  CHECK(OneCVersionFromPackage(package).empty());
}

TEST_CASE(
    "software collector on debian fixture lists packages, 1C platforms "
    "and services") {
  dozor::v1::Software sw;
  Status status = CollectSoftware(SoftwareFixture("debian-server"), &sw);
  CHECK_MESSAGE(status.ok(), (status.ok() ? "" : status.error().ToString()));
  CHECK(sw.packages_size() == 43);  // 45 stanzas minus config-files and half-installed
  CHECK(FindPackage(sw, "telnetd") == nullptr);
  CHECK(FindPackage(sw, "libfoo-half-installed") == nullptr);
  REQUIRE(FindPackage(sw, "openssh-server") != nullptr);
  CHECK(FindPackage(sw, "openssh-server")->version() == "1:9.2p1-2+deb12u2");
  REQUIRE(FindPackage(sw, "samba") != nullptr);  // on hold, still installed
  CHECK(FindPackage(sw, "samba")->held());
  CHECK_FALSE(FindPackage(sw, "openssh-server")->held());

  // APT sources: the installer's list (a Yandex mirror is still Debian's archive), a vendor's
  // one-line list and a disabled deb822 source; the .save copy is not read.
  REQUIRE(sw.repositories_size() == 5);
  CHECK(sw.repositories(0).uri() == "http://mirror.yandex.ru/debian/");
  CHECK(sw.repositories(0).official());
  CHECK(sw.repositories(0).file() == "/etc/apt/sources.list");
  CHECK(sw.repositories(2).suite() == "bookworm-updates");
  int third_party = 0;
  for (const auto& repository : sw.repositories()) third_party += repository.official() ? 0 : 1;
  CHECK(third_party == 2);
  CHECK(sw.repositories(3).file() == "/etc/apt/sources.list.d/docker.sources");
  CHECK_FALSE(sw.repositories(3).enabled());
  CHECK(sw.repositories(4).uri() == "https://apt.postgresql.org/pub/repos/apt");
  REQUIRE(FindPackage(sw, "g++-12") != nullptr);
  REQUIRE(FindPackage(sw, "libstdc++6") != nullptr);
  CHECK(FindPackage(sw, "cron")->vendor().find("Sanguino") != std::string::npos);

  REQUIRE(sw.applications_size() == 2);
  CHECK(sw.applications(0).name() == "1C:Enterprise");
  CHECK(sw.applications(0).version() == "8.3.22.1709");
  CHECK(sw.applications(0).kind() == "server");
  CHECK(sw.applications(0).architecture() == "x86_64");
  CHECK(sw.applications(0).path() == "/opt/1cv8/x86_64/8.3.22.1709");
  CHECK(sw.applications(1).version() == "8.3.23.1865");
  CHECK(sw.applications(1).kind() == "thin client");

  std::map<std::string, std::string> enabled;
  for (const auto& service : sw.services()) enabled[service.name()] = service.enabled();
  CHECK(enabled["ssh.service"] == "enabled");
  CHECK(enabled["cron.service"] == "enabled");
  CHECK(enabled["smbd.service"] == "enabled");
  CHECK(enabled["postgresql.service"] == "enabled");
  CHECK(enabled["nmbd.service"] == "disabled");
  CHECK(enabled["rsync.service"] == "masked");
  CHECK(enabled["systemd-journald.service"] == "static");
  CHECK(enabled["getty@tty1.service"] == "enabled");
  CHECK(enabled["ghost.service"] == "unknown");
  CHECK(enabled.count("sshd.service") == 0);    // alias of ssh.service
  CHECK(enabled.count("getty@.service") == 0);  // template
  CHECK(enabled.count("telnet.socket") == 0);   // not a service
  CHECK(sw.services_size() == 9);

  const auto* ssh = FindService(sw, "ssh.service");
  REQUIRE(ssh != nullptr);
  CHECK(ssh->active_state() == "active");
  CHECK(ssh->sub_state() == "running");
  CHECK(ssh->load_state() == "loaded");
  CHECK(ssh->description() == "OpenBSD Secure Shell server");
  const auto* nmbd = FindService(sw, "nmbd.service");
  REQUIRE(nmbd != nullptr);
  CHECK(nmbd->active_state() == "failed");
}

TEST_CASE(
    "software collector on rpm fixture reads rpmdb.sqlite and the old 1C "
    "layout") {
  dozor::v1::Software sw;
  Status status = CollectSoftware(SoftwareFixture("rpm-server"), &sw);
  CHECK_MESSAGE(status.ok(), (status.ok() ? "" : status.error().ToString()));
  CHECK(sw.packages_size() == 9);  // gpg-pubkey skipped
  // Enabled YUM repositories only: BaseOS (Rocky's own) and EPEL (not the distribution's).
  REQUIRE(sw.repositories_size() == 2);
  CHECK(sw.repositories(0).name() == "epel");
  CHECK_FALSE(sw.repositories(0).official());
  CHECK(sw.repositories(1).name() == "baseos");
  CHECK(sw.repositories(1).official());
  CHECK(FindPackage(sw, "gpg-pubkey") == nullptr);
  const auto* ssl = FindPackage(sw, "openssl-libs");
  REQUIRE(ssl != nullptr);
  CHECK(ssl->version() == "1:3.0.7-24.el9");
  CHECK(ssl->architecture() == "x86_64");
  CHECK(ssl->vendor() == "Rocky Enterprise Software Foundation");
  CHECK(ssl->install_time() == 1700000200);
  CHECK(ssl->source() == "rpm");
  CHECK(FindPackage(sw, "samba")->version() == "4.18.6-101.el9");  // epoch 0 not shown
  CHECK(FindPackage(sw, "glibc")->architecture() == "i686");
  CHECK(FindPackage(sw, "postgresql-server")->vendor().empty());

  REQUIRE(sw.applications_size() == 1);
  CHECK(sw.applications(0).version() == "8.3.18.1334");
  CHECK(sw.applications(0).kind() == "server");
  CHECK(sw.applications(0).path() == "/opt/1C/v8.3/x86_64");

  // No systemctl output for this host: enablement from files, states unknown.
  const auto* sshd = FindService(sw, "sshd.service");
  REQUIRE(sshd != nullptr);
  CHECK(sshd->enabled() == "enabled");
  CHECK(sshd->active_state() == "unknown");
  CHECK(sshd->description() == "OpenSSH server daemon");
  REQUIRE(FindService(sw, "postgresql.service") != nullptr);
  CHECK(FindService(sw, "postgresql.service")->enabled() == "disabled");
}

TEST_CASE(
    "software collector on minimal vm parses a CRLF status without final "
    "newline") {
  dozor::v1::Software sw;
  Status status = CollectSoftware(SoftwareFixture("minimal-vm"), &sw);
  CHECK(status.ok());
  REQUIRE(sw.packages_size() == 3);
  CHECK(sw.packages(2).name() == "openssh-server");
  CHECK(sw.packages(2).version() == "1:9.2p1-2+deb12u2");
  CHECK(sw.packages(1).architecture() == "i386");
  CHECK(sw.applications_size() == 0);
  CHECK(sw.services_size() == 0);
}

TEST_CASE(
    "software collector reports BerkeleyDB rpm as an error and still "
    "fills the rest") {
  testing::TempDir dir;
  REQUIRE(EnsureDirectory(dir / "var/lib/rpm").ok());
  REQUIRE(EnsureDirectory(dir / "var/lib/dpkg").ok());
  REQUIRE(WriteFileAtomic(dir / "var/lib/rpm/Packages", std::string("\0\6\25\141", 4)).ok());
  REQUIRE(WriteFileAtomic(dir / "var/lib/dpkg/status",
                          "Package: bash\nStatus: install ok installed\nVersion: 5.2.15-2\n")
              .ok());
  CollectContext ctx = RootContext(dir.path());
  dozor::v1::Software sw;
  Status status = CollectSoftware(ctx, &sw);
  REQUIRE_FALSE(status.ok());
  CHECK(status.error().message.find("rpm: rpm BerkeleyDB database not supported") !=
        std::string::npos);
  CHECK(status.error().message.find("dpkg") == std::string::npos);
  REQUIRE(sw.packages_size() == 1);
  CHECK(sw.packages(0).name() == "bash");
}

TEST_CASE(
    "software collector names a corrupt rpmdb and a corrupt dpkg status "
    "separately") {
  testing::TempDir dir;
  REQUIRE(EnsureDirectory(dir / "var/lib/rpm").ok());
  REQUIRE(EnsureDirectory(dir / "var/lib/dpkg").ok());
  REQUIRE(WriteFileAtomic(dir / "var/lib/rpm/rpmdb.sqlite", "this is not sqlite").ok());
  REQUIRE(WriteFileAtomic(dir / "var/lib/dpkg/status", "garbage\n").ok());
  REQUIRE(EnsureDirectory(dir / "opt/1cv8/x86_64/8.3.24.1000").ok());
  REQUIRE(WriteFileAtomic(dir / "opt/1cv8/x86_64/8.3.24.1000/1cv8", "").ok());
  CollectContext ctx = RootContext(dir.path());
  dozor::v1::Software sw;
  Status status = CollectSoftware(ctx, &sw);
  REQUIRE_FALSE(status.ok());
  CHECK(status.error().message.find("dpkg:") != std::string::npos);
  CHECK(status.error().message.find("rpm:") != std::string::npos);
  REQUIRE(sw.applications_size() == 1);
  CHECK(sw.applications(0).kind() == "client");
}

TEST_CASE(
    "software collector on the real machine matches dpkg-query's "
    "installed set") {
  if (!std::filesystem::exists("/var/lib/dpkg/status")) {
    MESSAGE("not a dpkg system; skipped");
    return;
  }
  FILE* pipe = popen(
      "dpkg-query -W -f='${db:Status-Abbrev} ${Package} "
      "${Version} ${Architecture}\\n' "
      "2>/dev/null",
      "r");
  REQUIRE(pipe != nullptr);
  std::set<std::tuple<std::string, std::string, std::string>> expected;
  char line[4096];
  while (fgets(line, sizeof(line), pipe) != nullptr) {
    char abbrev[8] = {}, name[1024] = {}, version[1024] = {}, arch[256] = {};
    if (std::sscanf(line, "%7s %1023s %1023s %255s", abbrev, name, version, arch) != 4) continue;
    if (std::strcmp(abbrev, "ii") == 0 || std::strcmp(abbrev, "hi") == 0) {
      expected.emplace(name, version, arch);
    }
  }
  pclose(pipe);
  REQUIRE(!expected.empty());

  CollectContext ctx;
  dozor::v1::Software sw;
  auto started = std::chrono::steady_clock::now();
  Status status = CollectSoftware(ctx, &sw);
  auto elapsed = std::chrono::steady_clock::now() - started;
  if (!status.ok()) MESSAGE(status.error().ToString());
  MESSAGE("CollectSoftware(\"/\") took "
          << std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count() << " ms");
  std::set<std::tuple<std::string, std::string, std::string>> actual;
  size_t with_install_time = 0;
  for (const auto& package : sw.packages()) {
    if (package.source() != "dpkg") continue;
    actual.emplace(package.name(), package.version(), package.architecture());
    if (package.install_time() > 0) ++with_install_time;
  }
  CHECK(actual == expected);
  CHECK(with_install_time * 10 >= actual.size() * 9);  // nearly every package has a .list file
}

TEST_CASE("software collector on pg-backup-server: the process list and which 1C server runs") {
  dozor::v1::Software software;
  (void)CollectSoftware(SoftwareFixture("pg-backup-server"), &software);
  INFO(software.DebugString());
  // Kernel threads (no command line, no memory) are left out.
  REQUIRE(software.processes_size() == 5);
  const dozor::v1::Process* ragent = nullptr;
  for (const auto& process : software.processes()) {
    CHECK(process.name() != "kthreadd");
    if (process.name() == "ragent") ragent = &process;
  }
  REQUIRE(ragent != nullptr);
  CHECK(ragent->pid() == 2001);
  CHECK(ragent->user() == "usr1cv8");
  CHECK(ragent->rss_bytes() == 5000ULL * 4096);
  CHECK(ragent->start_time() == 1793318400 + 10);  // btime + 1000 ticks at 100 per second
  CHECK(ragent->command() ==
        "/opt/1cv8/x86_64/8.3.24.1467/ragent -daemon -port 2540 -regport 2541 -range 2560:2591 "
        "-d /home/usr1cv8/.1cv8/1C/1cv8");
  CHECK(software.processes(software.processes_size() - 1).user() == "4242");  // no account

  const dozor::v1::Application* running = nullptr;
  const dozor::v1::Application* stopped = nullptr;
  for (const auto& app : software.applications()) {
    if (app.version() == "8.3.24.1467") running = &app;
    if (app.version() == "8.3.22.1709") stopped = &app;
  }
  REQUIRE(running != nullptr);
  REQUIRE(stopped != nullptr);
  CHECK(running->kind() == "server");
  CHECK(running->state() == "running");
  // The ports ragent was started with, not the defaults.
  REQUIRE(running->ports_size() == 2 + 32);
  CHECK(running->ports(0) == 2540);
  CHECK(running->ports(1) == 2541);
  CHECK(running->ports(2) == 2560);
  CHECK(stopped->kind() == "server");
  CHECK(stopped->state() == "stopped");
  CHECK(stopped->ports_size() == 0);
}

TEST_CASE("MarkRunningOneCServers: no process list leaves the state unknown") {
  dozor::v1::Software software;
  auto* app = software.add_applications();
  app->set_name("1C:Enterprise");
  app->set_version("8.3.24.1467");
  app->set_kind("server");
  auto* client = software.add_applications();
  client->set_name("1C:Enterprise");
  client->set_version("8.3.24.1467");
  client->set_kind("client");
  MarkRunningOneCServers(&software);
  CHECK(app->state().empty());
  auto* process = software.add_processes();
  process->set_name("ragent.exe");
  process->set_command(R"(C:\Program Files\1cv8\8.3.24.1467\bin\ragent.exe -srvc -agent)");
  MarkRunningOneCServers(&software);
  CHECK(app->state() == "running");
  CHECK(client->state().empty());  // only servers have a cluster
  app->clear_ports();
  process->set_command("/opt/1cv8/x86_64/8.3.25.1000/ragent -daemon");
  MarkRunningOneCServers(&software);
  CHECK(app->state() == "stopped");  // another version's cluster
}

}  // namespace dozor::agent
