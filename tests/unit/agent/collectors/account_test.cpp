#include <doctest/doctest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "collector_test_util.hpp"
#include "collectors/collector.hpp"
#include "collectors/parsers/account_parsers.hpp"
#include "collectors/parsers/os_parsers.hpp"
#include "dozor/common/clock.hpp"

namespace dozor::agent {
namespace account_test {

using collector_test::FixtureContext;
using collector_test::ReadFixture;

constexpr int64_t kNow = 1'780'000'000;  // 2026-05-28

void PutInt32(std::string* bytes, size_t offset, int32_t value) {
  for (size_t i = 0; i < 4; ++i) {
    (*bytes)[offset + i] = static_cast<char>((static_cast<uint32_t>(value) >> (8 * i)) & 0xff);
  }
}

void PutText(std::string* bytes, size_t offset, std::string_view text) {
  bytes->replace(offset, text.size(), text);
}

// One glibc x86_64 struct utmp.
std::string UtmpRecord(int16_t type, std::string_view user, std::string_view line,
                       std::string_view host, int32_t time) {
  std::string record(kUtmpRecordBytes, '\0');
  PutInt32(&record, 0, type);
  PutText(&record, 8, line);
  PutText(&record, 44, user);
  PutText(&record, 76, host);
  PutInt32(&record, 340, time);
  return record;
}

std::string LastlogRecord(int32_t time, std::string_view line, std::string_view host) {
  std::string record(kLastlogRecordBytes, '\0');
  PutInt32(&record, 0, time);
  PutText(&record, 4, line);
  PutText(&record, 36, host);
  return record;
}

const dozor::v1::LocalGroup* FindGroup(const std::vector<dozor::v1::LocalGroup>& groups,
                                       std::string_view name) {
  for (const auto& group : groups) {
    if (group.name() == name) return &group;
  }
  return nullptr;
}

std::vector<std::string> Names(const google::protobuf::RepeatedPtrField<std::string>& names) {
  return {names.begin(), names.end()};
}

TEST_CASE("local groups carry listed and primary members and the admin mark") {
  auto passwd = ParsePasswd(ReadFixture("debian-server", "etc/passwd"));
  auto groups =
      BuildLocalGroups(passwd, ParseGroup(ReadFixture("debian-server", "etc/group")), 4096);
  CHECK(groups.size() == 44);
  const auto* sudo = FindGroup(groups, "sudo");
  REQUIRE(sudo != nullptr);
  CHECK(sudo->gid() == 27);
  CHECK(sudo->administrator());
  CHECK(Names(sudo->members()) == std::vector<std::string>{"ivanov"});
  CHECK(sudo->primary_members().empty());
  const auto* ivanov = FindGroup(groups, "ivanov");
  REQUIRE(ivanov != nullptr);
  CHECK_FALSE(ivanov->administrator());
  CHECK(Names(ivanov->primary_members()) == std::vector<std::string>{"ivanov"});
  // gid 999 twice: the first group is the one getgrgid and `id` name for usr1cv8's passwd gid.
  CHECK(Names(FindGroup(groups, "systemd-journal")->primary_members()) ==
        std::vector<std::string>{"usr1cv8"});
  CHECK(Names(FindGroup(groups, "grp1cv8")->members()) == std::vector<std::string>{"usr1cv8"});
  CHECK(FindGroup(groups, "grp1cv8")->primary_members().empty());
  CHECK(Names(FindGroup(groups, "nogroup")->primary_members()) ==
        std::vector<std::string>{"sync", "_apt", "nobody", "sshd"});

  auto wheel = BuildLocalGroups(
      {}, ParseGroup("wheel:x:10:a,b,a\nwheel:x:11:c\nusers:x:100:\nextra:x:200:\n"), 2);
  REQUIRE(wheel.size() == 2);  // bounded; the duplicate name is dropped, not counted
  CHECK(wheel[0].administrator());
  CHECK(Names(wheel[0].members()) == std::vector<std::string>{"a", "b"});
  CHECK(wheel[1].name() == "users");
}

TEST_CASE("every local account is listed and accounts without a login shell are system") {
  auto passwd = ParsePasswd(ReadFixture("debian-server", "etc/passwd"));
  auto users = BuildUserAccounts(passwd, ParseGroup(ReadFixture("debian-server", "etc/group")));
  REQUIRE(users.size() == passwd.size());
  CHECK(users[1].name() == "daemon");
  CHECK(users[1].kind() == "system");
  CHECK(users[1].gid() == 1);
  CHECK(users[0].kind() == "user");
  CHECK(users.back().name() == "backupsvc");
  CHECK(users.back().kind() == "system");  // /bin/false
}

TEST_CASE("wtmp parser keeps the newest login per user and where it came from") {
  std::string wtmp;
  wtmp += UtmpRecord(2, "reboot", "~", "6.1.0", kNow - 9000);  // BOOT_TIME
  wtmp += UtmpRecord(7, "petrova", "pts/0", "192.0.2.10", kNow - 8000);
  wtmp += UtmpRecord(8, "", "pts/0", "", kNow - 7000);  // DEAD_PROCESS: logout
  wtmp += UtmpRecord(7, "petrova", "tty1", "", kNow - 6000);
  wtmp += UtmpRecord(7, "ivanov", "pts/1", "admin.example.com", kNow - 5000);
  wtmp += UtmpRecord(7, "ivanov", "pts/2", "old.example.com", kNow - 90000);  // older, later
  wtmp += UtmpRecord(7, "future", "pts/3", "", kNow + 3 * 86400);             // a wrong clock
  wtmp += UtmpRecord(7, "ancient", "pts/3", "", 1000);                        // zeroed or garbage
  wtmp += UtmpRecord(7, "bad\x01name", "pts/3", "", kNow - 100);              // control byte
  wtmp += UtmpRecord(7, "", "pts/4", "", kNow - 100);                         // no user
  wtmp += std::string(100, '\x07');                                           // a torn final record
  auto logins = ParseWtmp(wtmp, kNow);
  REQUIRE(logins.size() == 2);
  CHECK(logins["petrova"].time == kNow - 6000);
  CHECK(logins["petrova"].from == "tty1");
  CHECK(logins["ivanov"].time == kNow - 5000);
  CHECK(logins["ivanov"].from == "admin.example.com");

  CHECK(ParseWtmp("", kNow).empty());
  CHECK(ParseWtmp(std::string(kUtmpRecordBytes * 3, '\xff'), kNow).empty());
  // A user name filling all 32 bytes has no NUL: it ends at the field.
  auto full = ParseWtmp(UtmpRecord(7, std::string(32, 'u'), "pts/0", "", kNow - 1), kNow);
  REQUIRE(full.size() == 1);
  CHECK(full.begin()->first == std::string(32, 'u'));
}

TEST_CASE("lastlog records read time and host else line") {
  LastLogin remote = ParseLastlogRecord(LastlogRecord(kNow - 10, "pts/0", "10.0.0.5"), kNow);
  CHECK(remote.time == kNow - 10);
  CHECK(remote.from == "10.0.0.5");
  LastLogin local = ParseLastlogRecord(LastlogRecord(kNow - 20, "tty2", ""), kNow);
  CHECK(local.from == "tty2");
  CHECK(ParseLastlogRecord(LastlogRecord(0, "", ""), kNow).time == 0);  // never
  CHECK(ParseLastlogRecord("short", kNow).time == 0);
  CHECK(ParseLastlogRecord(LastlogRecord(kNow + 5 * 86400, "tty1", ""), kNow).time == 0);
  CHECK(NewerLogin(remote, local).time == kNow - 10);
  CHECK(NewerLogin(local, remote).from == "10.0.0.5");
}

TEST_CASE("os collector fills groups and last logins from lastlog and the tail of wtmp") {
  dozor::testing::TempDir root;
  std::filesystem::create_directories(root / "etc");
  std::filesystem::create_directories(root / "var/log");
  {
    std::ofstream(root / "etc/passwd") << "root:x:0:0:root:/root:/bin/bash\n"
                                          "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
                                          "ivanov:x:1000:1000::/home/ivanov:/bin/bash\n"
                                          "petrova:x:1001:1001::/home/petrova:/bin/bash\n"
                                          "ghost:x:4000000:4000000::/home/ghost:/bin/bash\n";
    std::ofstream(root / "etc/group") << "root:x:0:\nsudo:x:27:ivanov\nivanov:x:1000:\n";
  }
  {
    // lastlog is sparse: slots at uid * 292; petrova's is newer in wtmp, ivanov's only here.
    std::ofstream lastlog(root / "var/log/lastlog", std::ios::binary);
    lastlog.seekp(1000 * kLastlogRecordBytes);
    lastlog << LastlogRecord(static_cast<int32_t>(kNow - 200 * 86400), "pts/0", "192.0.2.7");
    lastlog << LastlogRecord(static_cast<int32_t>(kNow - 30 * 86400), "pts/1", "192.0.2.8");
  }
  {
    std::ofstream wtmp(root / "var/log/wtmp", std::ios::binary);
    wtmp << std::string(50, 'x');  // a torn record at the head: the tail stays aligned to the end
    wtmp << UtmpRecord(7, "petrova", "pts/3", "192.0.2.9", static_cast<int32_t>(kNow - 86400));
  }
  CollectContext ctx = collector_test::RootContext(root.path());
  FakeClock clock(kNow * 1000);
  ctx.clock = &clock;
  dozor::v1::OperatingSystem os;
  (void)CollectOperatingSystem(ctx, &os);
  REQUIRE(os.users_size() == 5);
  CHECK(os.users(0).last_login_time() == 0);  // root: no slot written
  CHECK(os.users(1).kind() == "system");
  CHECK(os.users(2).last_login_time() == kNow - 200 * 86400);
  CHECK(os.users(2).last_login_from() == "192.0.2.7");
  CHECK(os.users(3).last_login_time() == kNow - 86400);
  CHECK(os.users(3).last_login_from() == "192.0.2.9");
  CHECK(os.users(4).last_login_time() == 0);  // its slot lies past the end of the file
  REQUIRE(os.groups_size() == 3);
  CHECK(os.groups(1).name() == "sudo");
  CHECK(os.groups(1).administrator());
  CHECK(os.groups(1).members(0) == "ivanov");
  CHECK(os.groups(2).primary_members(0) == "ivanov");
}

}  // namespace account_test
}  // namespace dozor::agent
