#include <doctest/doctest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "collector_test_util.hpp"
#include "collectors/collector.hpp"
#include "collectors/parsers/account_parsers.hpp"
#include "collectors/parsers/os_parsers.hpp"
#include "dozor/common/clock.hpp"
#include "dozor/common/sqlite.hpp"

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
  // No login shell, no login by any means: disabled, as a disabled Windows account is.
  CHECK(users[1].disabled());
  CHECK(users.back().disabled());
  CHECK_FALSE(users[0].disabled());
  for (const auto& user : users) {
    CHECK_MESSAGE(user.disabled() == (user.kind() == "system"), user.name());
  }
}

TEST_CASE("login store rows give the newest plausible login per user in the store's time unit") {
  std::vector<LoginStoreRow> seconds = {
      {"ivanov", kNow - 500, "pts/0", "192.0.2.1"},
      {"ivanov", kNow - 100, "tty1", ""},             // newer, local: the terminal
      {"petrova", kNow - 200, "pts/1", "bad\nhost"},  // a newline: the host is dropped
      {"sidorov", kNow - 300, "pts/2", std::string("evil\x1b[2Jhost")},  // control byte: dropped
      {"kozlov", kNow - 400, "pts/3", std::string(257, 'h')},            // longer than ut_host
      {"\xd0\xc1\xcd", kNow - 50, "pts/4", "\xff\xfe"},                  // non-UTF-8 kept as is
      {"", kNow - 10, "pts/5", ""},                                      // no user
      {std::string("nul\0name", 8), kNow - 10, "", ""},                  // control byte in the name
      {"future", kNow + 2 * 86400, "", ""},                              // a wrong clock
      {"ancient", 1000, "", ""},                                         // garbage
  };
  auto logins = NewestStoreLogins(seconds, LoginTimeUnit::kSeconds, kNow);
  CHECK(logins.size() == 5);
  CHECK(logins["ivanov"].time == kNow - 100);
  CHECK(logins["ivanov"].from == "tty1");
  CHECK(logins["petrova"].from == "pts/1");
  CHECK(logins["sidorov"].time == kNow - 300);
  CHECK(logins["sidorov"].from == "pts/2");
  CHECK(logins["kozlov"].from == "pts/3");
  CHECK(logins["\xd0\xc1\xcd"].from == "\xff\xfe");
  CHECK(logins.count("future") == 0);
  CHECK(logins.count("ancient") == 0);

  // wtmpdb's microseconds: the same instant, and its seconds when read as seconds is garbage.
  std::vector<LoginStoreRow> micro = {
      {"orlova", (kNow - 3600) * 1'000'000 + 999'999, "pts/0", "192.0.2.9"},
      {"orlova", -5, "", ""}};
  auto from_wtmpdb = NewestStoreLogins(micro, LoginTimeUnit::kMicroseconds, kNow);
  CHECK(from_wtmpdb["orlova"].time == kNow - 3600);
  CHECK(NewestStoreLogins(micro, LoginTimeUnit::kSeconds, kNow).empty());

  std::map<std::string, LastLogin> merged = {{"orlova", LastLogin{kNow - 7200, "tty1"}},
                                             {"ivanov", LastLogin{kNow - 10, "tty2"}}};
  MergeNewerLogins(from_wtmpdb, &merged);
  MergeNewerLogins(logins, &merged);
  CHECK(merged["orlova"].from == "192.0.2.9");
  CHECK(merged["ivanov"].from == "tty2");  // already newer
  CHECK(merged.count("kozlov") == 1);
}

TEST_CASE("shadow says which accounts are expired or inactive and ignores locked passwords") {
  const int64_t today = kNow / 86400;  // 20601
  const std::string shadow =
      "root:*:20000:0:99999:7:::\n"                // no password: keys only
      "ivanov:$6$salt$hash:20000:0:99999:7:::\n"   // an ordinary account
      "locked:!$6$salt$hash:20000:0:99999:7:::\n"  // usermod -L: keys work
      "nopass:!!:20000::::::\n"                    // RHEL, never set
      "expired:$6$x:20000:0:99999:7::1:\n"         // usermod -e 1
      "today:$6$x:20000:0:99999:7::" +
      std::to_string(today) +
      ":\n"  // expires today: expired
      "tomorrow:$6$x:20000:0:99999:7::" +
      std::to_string(today + 1) +
      ":\n"
      "zero:$6$x:20000:0:99999:7::0:\n"    // 0: pam_unix says expired
      "inactive:$6$x:20000:0:90:7:30::\n"  // password expired 511 days ago, 30 allowed
      "grace:$6$x:20500:0:90:7:30::\n"     // 101 days since the change: 90 + 30 not past
      "mustchange:$6$x:0:0:90:7:30::\n"    // lastchg 0: a change is due, not a lockout
      "nomax:$6$x:10000:0::7:30::\n"       // no maximum age: never inactive
      "garbage:$6$x:abc:0:90:7:30:xyz:\n"  // unreadable numbers: not set
      "huge:$6$x:1:0:9223372036854775807:7:9223372036854775807::\n"
      "# comment:x:1:1:1:1:1:1:\n"
      "+nis::::::::\n"
      "short:x:1:1\n"
      ":$6$x:20000:0:99999:7::1:\n";
  std::set<std::string> locked_out = ShadowLockedOutAccounts(shadow, kNow);
  CHECK(locked_out == std::set<std::string>{"expired", "inactive", "today", "zero"});
  CHECK(ShadowLockedOutAccounts("", kNow).empty());
  CHECK(ShadowLockedOutAccounts("a:b:c:d:e:f:g:h:i:j:k\n", kNow).empty());
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

// The two SQLite login stores as util-linux's lastlog2 and wtmpdb create them (their DDL), in the
// default rollback-journal mode the tools use.
void WriteLastlog2(
    const std::filesystem::path& path,
    const std::vector<std::tuple<std::string, int64_t, std::string, std::string>>& rows) {
  std::filesystem::create_directories(path.parent_path());
  sqlite::OpenOptions options;
  options.wal = false;
  auto db = sqlite::Database::Open(path, options);
  REQUIRE(db.ok());
  REQUIRE(db->Exec("CREATE TABLE Lastlog2(Name TEXT PRIMARY KEY, Time INTEGER, TTY TEXT, "
                   "RemoteHost TEXT, Service TEXT)")
              .ok());
  for (const auto& [name, time, tty, host] : rows) {
    auto insert = db->Prepare("INSERT INTO Lastlog2 VALUES (?, ?, ?, ?, 'sshd')");
    REQUIRE(insert.ok());
    REQUIRE(insert->Bind(1, name).Bind(2, time).Bind(3, tty).Bind(4, host).Run().ok());
  }
}

void WriteWtmpdb(
    const std::filesystem::path& path,
    const std::vector<std::tuple<int, std::string, int64_t, std::string, std::string>>& rows) {
  std::filesystem::create_directories(path.parent_path());
  sqlite::OpenOptions options;
  options.wal = false;
  auto db = sqlite::Database::Open(path, options);
  REQUIRE(db.ok());
  REQUIRE(db->Exec("CREATE TABLE wtmp(ID INTEGER PRIMARY KEY, Type INTEGER, User TEXT NOT NULL, "
                   "Login INTEGER, Logout INTEGER, TTY TEXT, RemoteHost TEXT, Service TEXT) STRICT")
              .ok());
  for (const auto& [type, user, login_usec, tty, host] : rows) {
    auto insert = db->Prepare(
        "INSERT INTO wtmp (Type, User, Login, TTY, RemoteHost, Service) VALUES (?, ?, ?, ?, ?, "
        "'sshd')");
    REQUIRE(insert.ok());
    REQUIRE(insert->Bind(1, type)
                .Bind(2, user)
                .Bind(3, login_usec)
                .Bind(4, tty)
                .Bind(5, host)
                .Run()
                .ok());
  }
}

std::set<std::string> FileNames(const std::filesystem::path& folder) {
  std::set<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(folder)) {
    names.insert(entry.path().filename().string());
  }
  return names;
}

void WritePasswdAndGroup(const std::filesystem::path& root) {
  std::filesystem::create_directories(root / "etc");
  std::filesystem::create_directories(root / "var/log");
  std::ofstream(root / "etc/passwd") << "root:x:0:0:root:/root:/bin/bash\n"
                                        "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
                                        "ivanov:x:1000:1000::/home/ivanov:/bin/bash\n"
                                        "petrova:x:1001:1001::/home/petrova:/bin/bash\n"
                                        "orlova:x:1002:1002::/home/orlova:/bin/bash\n"
                                        "kozlov:x:1003:1003::/home/kozlov:/bin/bash\n"
                                        "locked:x:1004:1004::/home/locked:/bin/bash\n";
  std::ofstream(root / "etc/group") << "root:x:0:\nsudo:x:27:ivanov,kozlov,locked\n";
}

constexpr int64_t kUsec = 1'000'000;
constexpr int64_t kDay = 86400;

TEST_CASE("os collector reads lastlog2, wtmpdb and the rotated wtmp without writing to them") {
  dozor::testing::TempDir root;
  WritePasswdAndGroup(root.path());
  {
    std::ofstream wtmp(root / "var/log/wtmp", std::ios::binary);
    wtmp << UtmpRecord(7, "petrova", "pts/3", "192.0.2.9", static_cast<int32_t>(kNow - kDay));
    // The current file is read to its start, so last month's file is read too.
    std::ofstream rotated(root / "var/log/wtmp.1", std::ios::binary);
    rotated << UtmpRecord(7, "orlova", "pts/1", "192.0.2.35",
                          static_cast<int32_t>(kNow - 35 * kDay));
    rotated << UtmpRecord(7, "petrova", "pts/1", "192.0.2.36",
                          static_cast<int32_t>(kNow - 30 * kDay));
  }
  const auto lastlog2 = root / "var/lib/lastlog/lastlog2.db";
  WriteLastlog2(lastlog2, {{"kozlov", kNow - 150 * kDay, "pts/0", "192.0.2.81"},
                           {"ivanov", kNow - 10 * kDay, "tty1", ""},
                           {"gone", kNow - kDay, "pts/9", "192.0.2.99"}});  // no such account
  const auto wtmpdb = root / "var/lib/wtmpdb/wtmp.db";
  WriteWtmpdb(wtmpdb, {{1, "reboot", (kNow - kDay) * kUsec, "~", "6.12.0"},
                       {3, "orlova", (kNow - 2 * kDay) * kUsec, "pts/0", "192.0.2.90"},
                       {3, "orlova", (kNow - 20 * kDay) * kUsec, "pts/4", "192.0.2.91"},
                       {3, "ivanov", (kNow - 5 * kDay) * kUsec, "pts/2", "192.0.2.55"},
                       // a clock that was wrong: left out in SQL, ivanov's real login stays
                       {3, "ivanov", (kNow + 10 * kDay) * kUsec, "pts/7", "192.0.2.66"}});
  // kozlov's account expired (usermod -e 1); locked's password is locked, but keys still work.
  std::ofstream(root / "etc/shadow") << "root:*:20000:0:99999:7:::\n"
                                        "kozlov:$6$salt$hash:20000:0:99999:7::1:\n"
                                        "locked:!$6$salt$hash:20000:0:99999:7:::\n";
  Result<std::string> lastlog2_before = ReadFile(lastlog2);
  Result<std::string> wtmpdb_before = ReadFile(wtmpdb);
  REQUIRE(lastlog2_before.ok());
  REQUIRE(wtmpdb_before.ok());

  CollectContext ctx = collector_test::RootContext(root.path());
  FakeClock clock(kNow * 1000);
  ctx.clock = &clock;
  dozor::v1::OperatingSystem os;
  (void)CollectOperatingSystem(ctx, &os);
  REQUIRE(os.users_size() == 7);
  CHECK(os.unavailable().empty());
  CHECK(os.users(0).last_login_time() == 0);                // root
  CHECK_FALSE(os.users(0).disabled());                      // "*": no password, but keys work
  CHECK(os.users(1).disabled());                            // daemon: nologin
  CHECK(os.users(2).last_login_time() == kNow - 5 * kDay);  // ivanov: wtmpdb beats lastlog2
  CHECK(os.users(2).last_login_from() == "192.0.2.55");
  CHECK(os.users(3).last_login_time() == kNow - kDay);  // petrova: wtmp beats wtmp.1
  CHECK(os.users(3).last_login_from() == "192.0.2.9");
  CHECK(os.users(4).last_login_time() == kNow - 2 * kDay);  // orlova: wtmpdb's newest session
  CHECK(os.users(4).last_login_from() == "192.0.2.90");
  CHECK(os.users(5).last_login_time() == kNow - 150 * kDay);  // kozlov: lastlog2
  CHECK(os.users(5).last_login_from() == "192.0.2.81");
  CHECK(os.users(5).disabled());        // expired
  CHECK_FALSE(os.users(6).disabled());  // only the password is locked

  // Read-only: the databases are unchanged and no journal, -wal or -shm file was left.
  CHECK(*ReadFile(lastlog2) == *lastlog2_before);
  CHECK(*ReadFile(wtmpdb) == *wtmpdb_before);
  CHECK(FileNames(lastlog2.parent_path()) == std::set<std::string>{"lastlog2.db"});
  CHECK(FileNames(wtmpdb.parent_path()) == std::set<std::string>{"wtmp.db"});

  // Without wtmpdb, orlova's last login is last month's, from the rotated wtmp.
  std::filesystem::remove(wtmpdb);
  dozor::v1::OperatingSystem without_wtmpdb;
  (void)CollectOperatingSystem(ctx, &without_wtmpdb);
  CHECK(without_wtmpdb.users(4).last_login_time() == kNow - 35 * kDay);
  CHECK(without_wtmpdb.users(4).last_login_from() == "192.0.2.35");
  CHECK(without_wtmpdb.users(2).last_login_time() == kNow - 10 * kDay);  // ivanov: lastlog2
  CHECK(without_wtmpdb.users(2).last_login_from() == "tty1");
}

TEST_CASE("os collector reads the rotated wtmp only when the current one was read to its start") {
  dozor::testing::TempDir root;
  WritePasswdAndGroup(root.path());
  {
    // More than the 8 MiB tail budget: the oldest records of wtmp are not read, so nothing older
    // (wtmp.1) may be taken as anyone's last login.
    std::ofstream wtmp(root / "var/log/wtmp", std::ios::binary);
    wtmp << UtmpRecord(7, "ivanov", "pts/0", "192.0.2.1", static_cast<int32_t>(kNow - 3 * kDay));
    wtmp << std::string(8 * 1024 * 1024, '\0');  // EMPTY records
    wtmp << UtmpRecord(7, "petrova", "pts/3", "192.0.2.9", static_cast<int32_t>(kNow - kDay));
    std::ofstream rotated(root / "var/log/wtmp.1", std::ios::binary);
    rotated << UtmpRecord(7, "orlova", "pts/1", "192.0.2.35",
                          static_cast<int32_t>(kNow - 35 * kDay));
  }
  CollectContext ctx = collector_test::RootContext(root.path());
  FakeClock clock(kNow * 1000);
  ctx.clock = &clock;
  dozor::v1::OperatingSystem os;
  (void)CollectOperatingSystem(ctx, &os);
  REQUIRE(os.users_size() == 7);
  CHECK(os.users(3).last_login_time() == kNow - kDay);
  CHECK(os.users(2).last_login_time() == 0);  // before the tail
  CHECK(os.users(4).last_login_time() == 0);  // wtmp.1 not read

  // A machine that stopped writing wtmp (it has wtmpdb) still has last month's wtmp.1.
  std::filesystem::remove(root / "var/log/wtmp");
  dozor::v1::OperatingSystem rotated_only;
  (void)CollectOperatingSystem(ctx, &rotated_only);
  CHECK(rotated_only.users(4).last_login_time() == kNow - 35 * kDay);
}

TEST_CASE("os collector names a login database it cannot read and keeps the other records") {
  dozor::testing::TempDir root;
  WritePasswdAndGroup(root.path());
  {
    std::ofstream wtmp(root / "var/log/wtmp", std::ios::binary);
    wtmp << UtmpRecord(7, "petrova", "pts/3", "192.0.2.9", static_cast<int32_t>(kNow - kDay));
  }
  std::filesystem::create_directories(root / "var/lib/lastlog");
  std::ofstream(root / "var/lib/lastlog/lastlog2.db") << std::string(4096, 'x');
  // Created by the package, never written: no table yet, nothing to say.
  std::filesystem::create_directories(root / "var/lib/wtmpdb");
  std::ofstream(root / "var/lib/wtmpdb/wtmp.db").flush();
  CollectContext ctx = collector_test::RootContext(root.path());
  FakeClock clock(kNow * 1000);
  ctx.clock = &clock;
  dozor::v1::OperatingSystem os;
  (void)CollectOperatingSystem(ctx, &os);
  REQUIRE(os.unavailable_size() == 1);
  CHECK(os.unavailable(0).starts_with("last logins: /var/lib/lastlog/lastlog2.db: "));
  CHECK(os.unavailable(0).find("not a database") != std::string::npos);
  CHECK(os.users(3).last_login_time() == kNow - kDay);
  // No /etc/shadow (an unprivileged agent): the shells' answer stands, nothing is reported.
  CHECK(os.users(1).disabled());
  CHECK_FALSE(os.users(5).disabled());
  CHECK(FileNames(root / "var/lib/wtmpdb") == std::set<std::string>{"wtmp.db"});
  CHECK(std::filesystem::file_size(root / "var/lib/wtmpdb/wtmp.db") == 0);
}

}  // namespace account_test
}  // namespace dozor::agent
