#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "collector_test_util.hpp"
#include "collectors/collector.hpp"
#include "collectors/parsers/os_parsers.hpp"
#include "dozor/common/clock.hpp"
#include "dozor/common/files.hpp"
#include "test_util.hpp"

namespace dozor::agent {
namespace {

namespace fs = std::filesystem;
using namespace collector_test;

// Serves package-manager output from <commands>/<file>.txt (+ optional .exit)
// and counts calls.
CommandRunner CannedPackageManager(const fs::path& commands, int* calls) {
  return [commands, calls](const std::vector<std::string>& argv) -> Result<CommandOutput> {
    ++*calls;
    std::string file;
    if (!argv.empty() && argv[0] == "apt-get") {
      file = "apt-get-dist-upgrade";
    } else if (!argv.empty() && argv[0] == "dnf" && argv.back() == "check-update") {
      file = "dnf-check-update";
    } else if (!argv.empty() && argv[0] == "dnf" && argv.back() == "--security") {
      file = "dnf-updateinfo-security";
    } else {
      return MakeError(ErrorCode::kNotFound, "no canned output");
    }
    std::optional<CommandOutput> output = ReadCannedOutput(commands / file, ".txt");
    if (!output) {
      return MakeError(ErrorCode::kNotFound, "no canned " + file);
    }
    return *output;
  };
}

const dozor::v1::UserAccount* FindUser(const dozor::v1::OperatingSystem& os,
                                       const std::string& name) {
  return FindNamed(os.users(), name);
}

// A private copy of a fixture root: the update cache is keyed by root, so a
// fresh path starts with an empty cache.
void CopyTree(const fs::path& from, const fs::path& to) {
  fs::copy(from, to, fs::copy_options::recursive | fs::copy_options::copy_symlinks);
}

}  // namespace

// ----------------------------------------------------------------------------------
// parsers

TEST_CASE("os-release parser unquotes values and skips comments and junk") {
  auto fields = ParseOsRelease(ReadFixture("minimal-vm", "etc/os-release"));
  CHECK(fields["NAME"] == "Alpine Linux");
  CHECK(fields["ID"] == "alpine");
  CHECK(fields["VERSION_ID"] == "3.19.1");
  CHECK(fields["PRETTY_NAME"] == "Alpine Linux v3.19 \"edge-ish\"");
  CHECK(fields.count("not a key value line") == 0);
  CHECK(fields.size() == 6);

  auto odd = ParseOsRelease(
      "A=\"unterminated\nB='it''s'\nC=plain\\ word\n  "
      "D=\"x\\$y\\\\z\" \n9X=bad\nE=\r\nF=a b\n");
  CHECK(odd.count("A") == 0);
  CHECK(odd["B"] == "its");
  CHECK(odd["C"] == "plain word");
  CHECK(odd["D"] == "x$y\\z");
  CHECK(odd.count("9X") == 0);
  CHECK(odd["E"].empty());
  CHECK(odd["F"] == "a");
}

TEST_CASE("passwd and group parsers give login users and administrators") {
  auto passwd = ParsePasswd(ReadFixture("debian-server", "etc/passwd"));
  auto groups = ParseGroup(ReadFixture("debian-server", "etc/group"));
  std::vector<dozor::v1::UserAccount> users;
  for (auto& user : BuildUserAccounts(passwd, groups)) {
    if (user.kind() == "user") {
      users.push_back(std::move(user));
    }
  }
  std::vector<std::string> names;
  for (const auto& user : users) {
    names.push_back(user.name());
  }
  CHECK(names == std::vector<std::string>{"root", "postgres", "usr1cv8", "ivanov", "petrova"});
  CHECK(users[0].administrator());  // uid 0
  CHECK(users[3].administrator());  // member of sudo
  CHECK_FALSE(users[4].administrator());
  CHECK_FALSE(users[1].administrator());
  CHECK(users[3].home() == "/home/ivanov");
  CHECK(users[3].shell() == "/bin/bash");
  CHECK(users[3].uid() == 1000);
}

TEST_CASE("admin detection counts the primary group and skips malformed lines") {
  auto passwd = ParsePasswd(ReadFixture("rpm-server", "etc/passwd"));
  auto groups = ParseGroup(ReadFixture("rpm-server", "etc/group"));
  std::vector<dozor::v1::UserAccount> users;
  for (auto& user : BuildUserAccounts(passwd, groups)) {
    if (user.kind() == "user") {
      users.push_back(std::move(user));
    }
  }
  REQUIRE(users.size() == 4);  // root, rocky, deploy, smirnov: sync/halt/shutdown are not logins
  CHECK(users[1].name() == "rocky");
  CHECK(users[1].administrator());  // wheel member list
  CHECK(users[2].name() == "deploy");
  CHECK(users[2].administrator());  // primary gid 10 = wheel
  CHECK_FALSE(users[3].administrator());

  auto odd_passwd = ParsePasswd(ReadFixture("minimal-vm", "etc/passwd"));
  auto odd_groups = ParseGroup(ReadFixture("minimal-vm", "etc/group"));
  CHECK(odd_passwd.size() == 6);  // comment, broken line and NIS "+" entry dropped
  CHECK(odd_groups.size() == 4);  // "ops:x:1000" lacks the member field
  auto odd_users = BuildUserAccounts(odd_passwd, odd_groups);
  REQUIRE(odd_users.size() == 6);
  CHECK(odd_users[5].name() == "ops");
  CHECK(odd_users[5].kind() == "user");
  CHECK(odd_users[5].shell() == "/bin/sh");  // empty shell field means /bin/sh
  CHECK(odd_users[5].administrator());       // wheel member
  CHECK(odd_users[3].name() == "halt");
  CHECK(odd_users[3].kind() == "system");

  CHECK(ParsePasswd("x:x:notanumber:0::/:/bin/sh\n").empty());
  CHECK(IsLoginShell("/bin/zsh"));
  CHECK_FALSE(IsLoginShell("/usr/sbin/nologin"));
  CHECK_FALSE(IsLoginShell("/bin/false"));
}

TEST_CASE("apt simulation parser counts pending and security updates") {
  PendingUpdates updates = ParseAptSimulation(
      ReadFixture("debian-server", "dozor-fixture/commands/apt-get-dist-upgrade.txt"));
  CHECK(updates.total == 10);
  CHECK(updates.security == 7);

  PendingUpdates ubuntu = ParseAptSimulation(
      "Inst libc6 [2.35-0ubuntu3.1] (2.35-0ubuntu3.4 "
      "Ubuntu:22.04/jammy-updates, "
      "Ubuntu:22.04/jammy-security [amd64])\n"
      "Inst vim [2:8.2] (2:8.2.1 Ubuntu:22.04/jammy-updates [amd64])\n"
      "Inst security-tool [1.0] (1.1 Ubuntu:22.04/jammy-updates [amd64])\n");
  CHECK(ubuntu.total == 3);
  CHECK(ubuntu.security == 1);  // a package *named* security-tool is not a security update

  PendingUpdates none =
      ParseAptSimulation("Reading package lists...\n0 upgraded, 0 newly installed\n");
  CHECK(none.total == 0);
  CHECK(none.security == 0);
}

TEST_CASE("dnf parsers count updates and distinct security packages") {
  CHECK(CountDnfCheckUpdate(
            ReadFixture("rpm-server", "dozor-fixture/commands/dnf-check-update.txt")) == 10);
  CHECK(CountDnfSecurityUpdates(
            ReadFixture("rpm-server", "dozor-fixture/commands/dnf-updateinfo-security.txt")) == 5);
  CHECK(CountDnfCheckUpdate("Last metadata expiration check: 0:01:02 ago on Mon.\n") == 0);
  CHECK(CountDnfSecurityUpdates("FEDORA-2024-1 bugfix foo-1.0-1.fc39.x86_64\n") == 0);
}

TEST_CASE("adjtimex fixture parser reads sync state and max error") {
  ClockSync synced = ParseAdjtimexFixture("status=8193 maxerror=4500\n");
  CHECK(synced.synchronized == 1);
  CHECK(synced.max_error_us == 4500);
  ClockSync unsynced = ParseAdjtimexFixture("status=65 maxerror=16000000");
  CHECK(unsynced.synchronized == 0);
  CHECK(unsynced.max_error_us == 16000000);
  CHECK(ParseAdjtimexFixture("status=banana").synchronized == -1);
  CHECK(ParseAdjtimexFixture("").synchronized == -1);
}

// ----------------------------------------------------------------------------------
// collectors

TEST_CASE("os collector on the debian server fixture") {
  FakeClock clock(1'700'000'000'000);
  CollectContext ctx = FixtureContext("debian-server");
  ctx.clock = &clock;
  int calls = 0;
  ctx.run_command = CannedPackageManager(ctx.root / "dozor-fixture/commands", &calls);
  dozor::v1::OperatingSystem os;
  Status status = CollectOperatingSystem(ctx, &os);
  REQUIRE_MESSAGE(status.ok(), (status.ok() ? "" : status.error().ToString()));
  CHECK(os.family() == "linux");
  CHECK(os.id() == "debian");
  CHECK(os.version_id() == "12");
  CHECK(os.pretty_name() == "Debian GNU/Linux 12 (bookworm)");
  CHECK(os.kernel() == "6.1.0-17-amd64");
  CHECK(os.architecture() == "x86_64");
  CHECK(os.hostname() == "db01");
  CHECK(os.fqdn() == "db01.corp.example.ru");
  CHECK(os.uptime_seconds() == 3888123);
  CHECK(os.boot_time() == 1'700'000'000 - 3888123);
  CHECK(os.timezone() == "Europe/Moscow");
  CHECK(os.clock_synchronized() == 1);
  CHECK(os.clock_max_error_us() == 4500);
  CHECK(os.reboot_required());
  CHECK(os.pending_updates() == 10);
  CHECK(os.pending_security_updates() == 7);
  CHECK(os.machine_id() == "4f3c2b1a0e9d8c7b6a5f4e3d2c1b0a99");
  REQUIRE(FindUser(os, "ivanov") != nullptr);
  CHECK(FindUser(os, "ivanov")->administrator());
  REQUIRE(FindUser(os, "backupsvc") != nullptr);
  CHECK(FindUser(os, "backupsvc")->kind() == "system");  // /bin/false
}

TEST_CASE("os collector on the rpm server fixture uses dnf and the localtime link") {
  FakeClock clock;
  CollectContext ctx = FixtureContext("rpm-server");
  ctx.clock = &clock;
  int calls = 0;
  ctx.run_command = CannedPackageManager(ctx.root / "dozor-fixture/commands", &calls);
  dozor::v1::OperatingSystem os;
  REQUIRE(CollectOperatingSystem(ctx, &os).ok());
  CHECK(os.id() == "rocky");
  CHECK(os.id_like() == "rhel centos fedora");
  CHECK(os.kernel() == "5.14.0-362.13.1.el9_3.x86_64");
  CHECK(os.hostname() == "app02.corp.example.ru");
  CHECK(os.fqdn() == "app02.corp.example.ru");  // domainname "(none)", hostname already dotted
  CHECK(os.timezone() == "Europe/Berlin");
  CHECK(os.clock_synchronized() == 0);
  CHECK(os.clock_max_error_us() == 16000000);
  CHECK_FALSE(os.reboot_required());
  CHECK(os.pending_updates() == 10);
  CHECK(os.pending_security_updates() == 5);
  CHECK(FindUser(os, "deploy") != nullptr);
}

TEST_CASE("os collector on the minimal VM fills what exists and marks the rest unknown") {
  FakeClock clock;
  CollectContext ctx = FixtureContext("minimal-vm");
  ctx.clock = &clock;
  int calls = 0;
  ctx.run_command = CannedPackageManager(ctx.root / "dozor-fixture/commands", &calls);
  dozor::v1::OperatingSystem os;
  REQUIRE(CollectOperatingSystem(ctx, &os).ok());
  CHECK(os.id() == "alpine");
  CHECK(os.architecture() == "aarch64");
  CHECK(os.hostname() == "tiny-vm");  // from /etc/hostname: no proc/sys/kernel/hostname
  CHECK(os.fqdn() == "tiny-vm");
  CHECK(os.timezone() == "UTC");  // no /etc/timezone, no /etc/localtime
  CHECK(os.clock_synchronized() == -1);
  CHECK(os.clock_max_error_us() == -1);
  CHECK(os.pending_updates() == -1);  // no known package manager
  CHECK(os.pending_security_updates() == -1);
  CHECK(os.machine_id().empty());
  CHECK(os.uptime_seconds() == 4521);
  CHECK(calls == 0);
}

TEST_CASE("os collector caches the update count until the package database changes") {
  testing::TempDir dir;
  fs::path root = dir / "host";
  CopyTree(HostRoot("debian-server"), root);
  fs::create_directories(root / "var/lib/dpkg");
  REQUIRE(WriteFileAtomic(root / "var/lib/dpkg/status", "Package: a\n").ok());
  int calls = 0;
  CollectContext ctx;
  ctx.root = root;
  ctx.run_command =
      CannedPackageManager(HostRoot("debian-server") / "dozor-fixture/commands", &calls);

  dozor::v1::OperatingSystem first;
  REQUIRE(CollectOperatingSystem(ctx, &first).ok());
  CHECK(calls == 1);
  auto started = std::chrono::steady_clock::now();
  dozor::v1::OperatingSystem second;
  REQUIRE(CollectOperatingSystem(ctx, &second).ok());
  auto cached_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::steady_clock::now() - started)
                       .count();
  CHECK(calls == 1);
  CHECK(second.pending_updates() == 10);
  CHECK(cached_ms < 60);

  // dpkg rewrote its status file: the simulation runs again.
  fs::last_write_time(root / "var/lib/dpkg/status",
                      fs::last_write_time(root / "var/lib/dpkg/status") + std::chrono::seconds(5));
  dozor::v1::OperatingSystem third;
  REQUIRE(CollectOperatingSystem(ctx, &third).ok());
  CHECK(calls == 2);
}

TEST_CASE("os collector retries a timed-out update query only after an hour") {
  testing::TempDir dir;
  fs::path root = dir / "host";
  CopyTree(HostRoot("debian-server"), root);
  FakeClock clock;
  int calls = 0;
  CollectContext ctx;
  ctx.root = root;
  ctx.clock = &clock;
  ctx.run_command = [&calls](const std::vector<std::string>&) -> Result<CommandOutput> {
    ++calls;
    return MakeError(ErrorCode::kUnavailable, "apt-get: timed out after 10000 ms");
  };
  dozor::v1::OperatingSystem os;
  REQUIRE(CollectOperatingSystem(ctx, &os).ok());
  CHECK(os.pending_updates() == -1);
  CHECK(os.pending_security_updates() == -1);
  REQUIRE(CollectOperatingSystem(ctx, &os).ok());
  CHECK(calls == 1);
  clock.AdvanceMs(3601 * 1000);
  REQUIRE(CollectOperatingSystem(ctx, &os).ok());
  CHECK(calls == 2);
}

TEST_CASE("os collector falls back to /usr/lib/os-release and reports missing essentials") {
  testing::TempDir dir;
  fs::create_directories(dir / "usr/lib");
  REQUIRE(WriteFileAtomic(dir / "usr/lib/os-release", "ID=debian\nVERSION_ID=\"13\"\n").ok());
  CollectContext ctx = RootContext(dir.path());
  dozor::v1::OperatingSystem os;
  Status status = CollectOperatingSystem(ctx, &os);
  CHECK(os.id() == "debian");
  CHECK(os.version_id() == "13");
  CHECK(os.pending_updates() == -1);  // no command runner
  REQUIRE_FALSE(status.ok());
  CHECK(status.error().message.find("kernel") != std::string::npos);
  CHECK(status.error().message.find("uptime") != std::string::npos);
}

// ----------------------------------------------------------------------------------
// real machine

TEST_CASE("os collector on this machine reports sane values") {
  CollectContext ctx;
  ctx.run_command = SystemCommandRunner(60000);
  dozor::v1::OperatingSystem os;
  Status status = CollectOperatingSystem(ctx, &os);
  REQUIRE_MESSAGE(status.ok(), (status.ok() ? "" : status.error().ToString()));
  CHECK(os.family() == "linux");
  CHECK_FALSE(os.kernel().empty());
  CHECK_FALSE(os.architecture().empty());
  CHECK_FALSE(os.hostname().empty());
  CHECK_FALSE(os.fqdn().empty());
  CHECK(os.uptime_seconds() > 0);
  CHECK(os.boot_time() > 1'000'000'000);
  CHECK(os.boot_time() <= SystemClock::Instance().NowSeconds());
  CHECK(os.clock_synchronized() >= -1);
  CHECK(os.clock_synchronized() <= 1);
  CHECK(os.pending_updates() >= -1);
  CHECK(os.pending_security_updates() <= std::max(os.pending_updates(), 0));
  bool has_root = false;
  for (const auto& user : os.users()) {
    has_root = has_root || (user.uid() == 0 && user.administrator());
  }
  CHECK(has_root);

  // Second run is served from the update cache: inventory stays fast.
  auto started = std::chrono::steady_clock::now();
  dozor::v1::OperatingSystem again;
  REQUIRE(CollectOperatingSystem(ctx, &again).ok());
  auto elapsed_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - started)
                        .count();
  MESSAGE("cached os inventory took " << elapsed_ms << " ms");
  CHECK(elapsed_ms < 60);
  CHECK(again.pending_updates() == os.pending_updates());
}

}  // namespace dozor::agent
