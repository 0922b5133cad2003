// Databases and their backups on a host with two PostgreSQL instances: each backup job counts
// only for the instance it backs up (its data directory or port, from the command line or the
// tool's configuration), so a well-backed-up instance does not hide one nobody backs up.
#include <doctest/doctest.h>
#include <utime.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "collector_test_util.hpp"
#include "collectors/linux/backup_linux.hpp"
#include "collectors/linux/database_linux.hpp"
#include "dozor/common/files.hpp"
#include "test_util.hpp"

namespace dozor::agent {
namespace {

using namespace collector_test;

// pg-backup-server (instance "main" on 5433 with pg_probackup, pgBackRest, wal-g and a pg_dump of
// buh without a port) plus an instance "second" on 5434.
struct TwoInstanceHost {
  dozor::testing::TempDir dir;
  std::filesystem::path root = dir.path() / "root";
  TwoInstanceHost() {
    std::filesystem::copy(
        HostRoot("pg-backup-server"), root,
        std::filesystem::copy_options::recursive | std::filesystem::copy_options::copy_symlinks);
    Write("etc/postgresql/15/second/postgresql.conf",
          "data_directory = '/var/lib/postgresql/15/second'\nport = 5434\n");
    Write("var/lib/postgresql/15/second/PG_VERSION", "15\n");
    Write("dozor-fixture/commands/psql-databases-5434.txt", "buh|1000\nsklad|2000\n");
  }
  void Write(const std::string& relative, const std::string& text, int64_t mtime = 0) const {
    std::filesystem::path path = root / relative;
    std::filesystem::create_directories(path.parent_path());
    REQUIRE(WriteFileAtomic(path, text).ok());
    if (mtime != 0) {
      struct utimbuf times {};
      times.actime = static_cast<time_t>(mtime);
      times.modtime = static_cast<time_t>(mtime);
      REQUIRE(::utime(path.c_str(), &times) == 0);
    }
  }
  // Backup jobs, then the instances (main running, second too unless told) with their
  // databases and backups.
  [[nodiscard]] dozor::v1::Software Collect(bool second_running = true) const {
    CollectContext ctx = RootContext(root);
    dozor::v1::Software software;
    std::vector<std::string> commands = {
        "/usr/lib/postgresql/15/bin/postgres -D /var/lib/postgresql/15/main -c "
        "config_file=/etc/postgresql/15/main/postgresql.conf"};
    if (second_running) {
      commands.push_back(
          "/usr/lib/postgresql/15/bin/postgres -D /var/lib/postgresql/15/second -c "
          "config_file=/etc/postgresql/15/second/postgresql.conf");
    }
    for (const auto& command : commands) {
      auto* process = software.add_processes();
      process->set_name("postgres");
      process->set_command(command);
    }
    REQUIRE(CollectBackupJobs(ctx, &software).ok());
    REQUIRE(CollectDatabaseServers(ctx, &software).ok());
    return software;
  }
};

// name -> database of the instance on `port`.
std::map<std::string, dozor::v1::DatabaseInfo> DatabasesOn(const dozor::v1::Software& software,
                                                           uint32_t port) {
  std::map<std::string, dozor::v1::DatabaseInfo> out;
  for (const auto& server : software.database_servers()) {
    if (server.port() != port) continue;
    for (const auto& database : server.databases()) out[database.name()] = database;
  }
  return out;
}

const dozor::v1::BackupJob* JobOf(const dozor::v1::Software& software, std::string_view tool) {
  for (const auto& job : software.backup_jobs()) {
    if (job.tool() == tool) return &job;
  }
  return nullptr;
}

TEST_CASE("Two PostgreSQL instances: each backup counts only for the instance it backs up") {
  TwoInstanceHost host;
  host.Write("backup/pg/buh_today.dump.gz", "x", 1793401200);
  const dozor::v1::Software software = host.Collect();
  INFO(software.DebugString());
  REQUIRE(software.database_servers_size() == 2);

  // The jobs know their instance: from pg_probackup.conf, pgbackrest.conf's [buh] and the
  // path wal-g pushes.
  const auto* probackup = JobOf(software, "pg_probackup");
  REQUIRE(probackup != nullptr);
  CHECK(probackup->instance_data_directory() == "/var/lib/postgresql/15/main");
  const auto* backrest = JobOf(software, "pgbackrest");
  REQUIRE(backrest != nullptr);
  CHECK(backrest->instance_data_directory() == "/var/lib/postgresql/15/main");
  const auto* walg = JobOf(software, "wal-g");
  REQUIRE(walg != nullptr);
  CHECK(walg->instance_data_directory() == "/var/lib/postgresql/15/main");

  auto main = DatabasesOn(software, 5433);
  auto second = DatabasesOn(software, 5434);
  REQUIRE(main.count("buh") == 1);
  REQUIRE(second.count("buh") == 1);
  REQUIRE(second.count("sklad") == 1);
  // main: the instance tools cover every database.
  CHECK(main["zup"].last_backup_time() > 0);
  CHECK(main["zup"].last_backup_source().rfind("pg", 0) == 0);
  // second: nothing backs it up. The pg_dump of buh names no port, and neither instance is on
  // 5432 where it would connect, so it covers neither buh.
  CHECK(second["buh"].last_backup_time() == 0);
  CHECK(second["sklad"].last_backup_time() == 0);
  CHECK_FALSE(second["buh"].covered_without_freshness());
  // Nor do its dump files count for either buh (Debian's pg_wrapper, too, connects to the
  // cluster on 5432 when there are several).
  CHECK(main["buh"].newest_dump_time() == 0);
  CHECK(second["buh"].newest_dump_time() == 0);
  CHECK(main["buh"].last_backup_source().find("pg_dump") == std::string::npos);
}

TEST_CASE("Two PostgreSQL instances: a pg_dump with -p covers that instance's database only") {
  TwoInstanceHost host;
  host.Write("etc/cron.d/sklad",
             "15 1 * * * postgres pg_dump -p 5434 -Fc sklad > /backup/pg2/sklad.dump\n"
             "20 1 * * * postgres PGPORT=5434 pg_dump -Fc buh > /backup/pg2/buh.dump\n");
  host.Write("backup/pg2/sklad.dump", "x", 1793401200);
  host.Write("backup/pg2/buh.dump", "x", 1793300000);
  const dozor::v1::Software software = host.Collect();
  INFO(software.DebugString());
  auto second = DatabasesOn(software, 5434);
  CHECK(second["sklad"].last_backup_time() == 1793401200);
  CHECK(second["sklad"].last_backup_source().rfind("pg_dump sklad", 0) == 0);
  CHECK(second["buh"].last_backup_time() == 1793300000);
  // main's buh is not backed up by the second instance's dump of a database of the same name.
  auto main = DatabasesOn(software, 5433);
  CHECK(main["buh"].last_backup_source().find("/backup/pg2") == std::string::npos);
  CHECK(main["buh"].last_backup_source().find("cron:/etc/cron.d/sklad") == std::string::npos);
}

TEST_CASE("A stopped cluster's configuration is not a second instance to back up") {
  // second (5434) is configured but does not run, as an upgrade leaves the old cluster: the
  // pg_dump of buh naming no port still covers the one running instance, main on 5433.
  TwoInstanceHost host;
  host.Write("backup/pg/buh_today.dump.gz", "x", 1793401200);
  const dozor::v1::Software software = host.Collect(/*second_running=*/false);
  INFO(software.DebugString());
  REQUIRE(software.database_servers_size() == 2);
  auto main = DatabasesOn(software, 5433);
  CHECK(main["buh"].newest_dump_time() == 1793401200);
  CHECK(DatabasesOn(software, 5434).empty());  // not running: its databases are unknown
}

TEST_CASE("One PostgreSQL instance on another port: a job naming no port still covers it") {
  // The pg-backup-server fixture as it is: one instance on 5433, pg_dump of buh without -p
  // (Debian's pg_wrapper picks the only cluster).
  dozor::testing::TempDir dir;
  std::filesystem::path root = dir.path() / "root";
  std::filesystem::copy(
      HostRoot("pg-backup-server"), root,
      std::filesystem::copy_options::recursive | std::filesystem::copy_options::copy_symlinks);
  for (const char* path :
       {"etc/cron.d/pg_probackup", "etc/cron.d/wal-g", "etc/pgbackrest.conf", "etc/barman.conf"}) {
    std::filesystem::remove(root / path);
  }
  for (const char* path : {"var/lib/pg_probackup", "var/lib/pgbackrest", "var/lib/barman"}) {
    std::filesystem::remove_all(root / path);
  }
  std::filesystem::create_directories(root / "backup/pg");
  REQUIRE(WriteFileAtomic(root / "backup/pg/buh_today.dump.gz", "x").ok());
  CollectContext ctx = RootContext(root);
  dozor::v1::Software software;
  auto* process = software.add_processes();
  process->set_name("postgres");
  process->set_command(
      "/usr/lib/postgresql/15/bin/postgres -D /var/lib/postgresql/15/main -c "
      "config_file=/etc/postgresql/15/main/postgresql.conf");
  REQUIRE(CollectBackupJobs(ctx, &software).ok());
  REQUIRE(CollectDatabaseServers(ctx, &software).ok());
  INFO(software.DebugString());
  auto main = DatabasesOn(software, 5433);
  CHECK(main["buh"].last_backup_time() > 0);
  CHECK(main["buh"].last_backup_source().rfind("pg_dump buh", 0) == 0);
  CHECK(main["zup"].last_backup_time() == 0);
}

}  // namespace
}  // namespace dozor::agent
