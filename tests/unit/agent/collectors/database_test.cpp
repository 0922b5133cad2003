// Database servers: the postgresql.conf and pg_hba.conf parsers, and the Linux collector over the
// pg-backup-server fixture (Debian's layout, a conf.d override, ALTER SYSTEM's file).
#include <doctest/doctest.h>
#include <utime.h>

#include <filesystem>
#include <string>
#include <vector>

#include "collector_test_util.hpp"
#include "collectors/parsers/database_parsers.hpp"
#include "dozor/common/files.hpp"

namespace dozor::agent {
namespace {

using namespace collector_test;

TEST_CASE("ParsePostgresConf: quoting, comments, optional '=' and includes") {
  auto settings = ParsePostgresConf(
      "# comment\n"
      "listen_addresses = '*'\t\t# what IP address(es) to listen on\n"
      "Port 5433\n"
      "log_line_prefix = '%m [%p] it''s \\'quoted\\''\n"
      "autovacuum=off\n"
      "include_dir = 'conf.d'\n"
      "=novalue\n");
  REQUIRE(settings.size() == 5);
  CHECK(settings[0] == std::pair<std::string, std::string>{"listen_addresses", "*"});
  CHECK(settings[1] == std::pair<std::string, std::string>{"port", "5433"});
  CHECK(settings[2].second == "%m [%p] it's 'quoted'");
  CHECK(settings[3] == std::pair<std::string, std::string>{"autovacuum", "off"});
  CHECK(settings[4] == std::pair<std::string, std::string>{"include_dir", "conf.d"});
  CHECK(ParsePostgresConf("x = 'unterminated").at(0).second == "unterminated");
}

TEST_CASE("ParsePgHba: local and host rules, masks, quotes, continuations") {
  auto rules = ParsePgHba(
      "# TYPE DATABASE USER ADDRESS METHOD\n"
      "local   all  postgres  peer\n"
      "host    all  all  127.0.0.1/32  scram-sha-256\n"
      "host    buh  admin  192.168.1.0  255.255.255.0  trust\n"
      "hostssl \"my db\" all 0.0.0.0/0 MD5 # open\n"
      "host all all \\\n  10.0.0.0/8 reject\n"
      "host all all\n"
      "include_dir conf.d\n");
  REQUIRE(rules.size() == 5);
  CHECK(rules[0].type == "local");
  CHECK(rules[0].address.empty());
  CHECK(rules[0].method == "peer");
  CHECK(rules[2].address == "192.168.1.0/24");
  CHECK(rules[2].method == "trust");
  CHECK(rules[2].line == 4);
  CHECK(rules[3].database == "my db");
  CHECK(rules[3].method == "md5");
  CHECK(rules[4].line == 6);
  CHECK(rules[4].address == "10.0.0.0/8");
  CHECK(rules[4].method == "reject");
  CHECK(Ipv4MaskPrefix("255.255.0.0") == 16);
  CHECK(Ipv4MaskPrefix("0.0.0.0") == 0);
  CHECK(Ipv4MaskPrefix("255.0.255.0") == -1);
  CHECK(Ipv4MaskPrefix("md5") == -1);
}

TEST_CASE(
    "software collector on pg-backup-server: the PostgreSQL instance, its overrides and pg_hba") {
  dozor::v1::Software software;
  CollectContext ctx = FixtureContext("pg-backup-server");
  (void)CollectSoftware(ctx, &software);
  INFO(software.DebugString());
  REQUIRE(software.database_servers_size() == 1);
  const dozor::v1::DatabaseServer& db = software.database_servers(0);
  CHECK(db.kind() == "postgresql");
  CHECK(db.version() == "15");
  CHECK(db.config_path() == "/etc/postgresql/15/main/postgresql.conf");
  CHECK(db.data_directory() == "/var/lib/postgresql/15/main");
  CHECK(db.listen_addresses() == "*");  // conf.d overrides the file
  CHECK(db.port() == 5433);             // postgresql.auto.conf overrides both
  CHECK_FALSE(db.autovacuum());
  CHECK(db.running());  // the postmaster of the fixture's process list
  CHECK(db.onec_build() == false);
  CHECK(db.hba_path() == "/etc/postgresql/15/main/pg_hba.conf");
  REQUIRE(db.hba_rules_size() == 7);
  CHECK(db.hba_rules(4).address() == "10.0.0.20/32");
  CHECK(db.hba_rules(6).address() == "192.168.1.0/24");
  CHECK(db.hba_rules(6).method() == "trust");
  // The databases from the canned psql output (dozor-fixture/commands/psql-databases-5433.txt).
  CHECK(db.databases_listed());
  REQUIRE(db.databases_size() == 4);
  CHECK(db.databases(0).name() == "buh");
  CHECK(db.databases(0).size_bytes() == 1503238553);
  CHECK(db.databases(3).name() == "postgres");
  // The data directory's filesystem: the fixture's /proc/mounts has none, statvfs works.
  CHECK(db.data_fs_total_bytes() > 0);
  CHECK(db.data_fs_available_bytes() <= db.data_fs_total_bytes());
}

TEST_CASE("ParsePsqlDatabases: name up to the last bar, sizes, junk lines") {
  auto databases = ParsePsqlDatabases("buh|1503238553\nodd|name|42\n\nno bar\n|7\nzup|\r\nx|-5\n");
  REQUIRE(databases.size() == 4);
  CHECK(databases[0].name == "buh");
  CHECK(databases[0].size_bytes == 1503238553);
  CHECK(databases[1].name == "odd|name");
  CHECK(databases[1].size_bytes == 42);
  CHECK(databases[2].name == "zup");
  CHECK(databases[2].size_bytes == -1);
  CHECK(databases[3].size_bytes == -1);
  CHECK(ParsePsqlDatabases("a|1\nb|2\nc|3\n", 2).size() == 2);
}

TEST_CASE("FileNameCarriesDatabase: the name as a word, not a prefix") {
  CHECK(FileNameCarriesDatabase("buh_2026-11-01.dump.gz", "buh"));
  CHECK(FileNameCarriesDatabase("pg-BUH.sql", "buh"));
  CHECK(FileNameCarriesDatabase("buh", "buh"));
  CHECK_FALSE(FileNameCarriesDatabase("buhgalteria.sql", "buh"));
  CHECK_FALSE(FileNameCarriesDatabase("old_buh2.sql", "buh"));
  CHECK_FALSE(FileNameCarriesDatabase("bu", "buh"));
  CHECK_FALSE(FileNameCarriesDatabase("x.sql", ""));
}

TEST_CASE("the newest dump file naming each database, from the dump jobs' destinations") {
  dozor::testing::TempDir dir;
  const std::filesystem::path root = dir.path() / "root";
  std::filesystem::copy(
      HostRoot("pg-backup-server"), root,
      std::filesystem::copy_options::recursive | std::filesystem::copy_options::copy_symlinks);
  auto file = [&](const std::string& relative, int64_t mtime) {
    const std::filesystem::path path = root / relative;
    std::filesystem::create_directories(path.parent_path());
    REQUIRE(WriteFileAtomic(path, "data").ok());
    struct utimbuf times {};
    times.actime = static_cast<time_t>(mtime);
    times.modtime = static_cast<time_t>(mtime);
    REQUIRE(::utime(path.c_str(), &times) == 0);
  };
  file("backup/pg/buh_2026-10-30.dump.gz", 1793401200);
  file("backup/pg/buh_2026-10-29.dump.gz", 1793314800);
  file("backup/pg/old/trade_2026-09-01.dump.gz", 1788220800);  // one level down
  file("backup/pg/buhgalteria.sql", 1793500000);               // another name
  dozor::v1::Software software;
  (void)CollectSoftware(RootContext(root), &software);
  REQUIRE(software.database_servers_size() == 1);
  const auto& databases = software.database_servers(0).databases();
  const auto* buh = FindIf(databases, [](const auto& d) { return d.name() == "buh"; });
  const auto* trade = FindIf(databases, [](const auto& d) { return d.name() == "trade"; });
  const auto* zup = FindIf(databases, [](const auto& d) { return d.name() == "zup"; });
  REQUIRE(buh != nullptr);
  REQUIRE(trade != nullptr);
  REQUIRE(zup != nullptr);
  CHECK(buh->newest_dump_time() == 1793401200);
  CHECK(buh->newest_dump_path() == "/backup/pg/buh_2026-10-30.dump.gz");
  CHECK(buh->newest_dump_job() == "cron:/var/spool/cron/crontabs/postgres:3");
  CHECK(trade->newest_dump_time() == 1788220800);
  CHECK(zup->newest_dump_time() == 0);  // nothing in the destinations names it
  CHECK(zup->newest_dump_path().empty());
}

TEST_CASE("databases of an instance that does not run are unknown, and say so") {
  dozor::testing::TempDir dir;
  const std::filesystem::path root = dir.path() / "root";
  std::filesystem::copy(
      HostRoot("pg-backup-server"), root,
      std::filesystem::copy_options::recursive | std::filesystem::copy_options::copy_symlinks);
  std::filesystem::remove_all(root / "proc/2100");  // the postmaster
  dozor::v1::Software software;
  (void)CollectSoftware(RootContext(root), &software);
  REQUIRE(software.database_servers_size() == 1);
  CHECK_FALSE(software.database_servers(0).databases_listed());
  CHECK(software.database_servers(0).databases_size() == 0);
  bool noted = false;
  for (const auto& note : software.unavailable()) {
    if (note == "postgresql 5433: databases unknown: the instance does not run") noted = true;
  }
  CHECK(noted);
}

TEST_CASE("software collector on a host without PostgreSQL reports no database server") {
  dozor::v1::Software software;
  (void)CollectSoftware(FixtureContext("minimal-vm"), &software);
  CHECK(software.database_servers_size() == 0);
}

}  // namespace
}  // namespace dozor::agent
