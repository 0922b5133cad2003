// Backup jobs: the pure parsers (crontabs, shell command lines, catalogues, schedules) and the
// Linux collector over the pg-backup-server fixture root.
#include <doctest/doctest.h>
#include <unistd.h>
#include <utime.h>

#include <filesystem>
#include <string>
#include <vector>

#include "collector_test_util.hpp"
#include "collectors/linux/backup_linux.hpp"
#include "collectors/parsers/backup_parsers.hpp"
#include "dozor/common/files.hpp"
#include "test_util.hpp"

namespace dozor::agent {
namespace {

using namespace collector_test;

BackupCommand OnlyCommand(std::string_view line) {
  std::vector<BackupCommand> found = FindBackupCommands(line);
  REQUIRE_MESSAGE(found.size() == 1, line);
  return found[0];
}

TEST_CASE("ParseCrontab reads system and user crontabs and skips what cron does not run") {
  const std::string text =
      "# comment\n"
      "SHELL=/bin/bash\n"
      "MAILTO = admin@example.ru\n"
      "5 3 * * * root /usr/bin/backup.sh --full\n"
      "@daily postgres pg_dumpall > /backup/all.sql\n"
      "0 23 * * * root /usr/bin/pg_dump buh > /backup/buh_$(date +\\%F).sql % input\n"
      "1 2 3\n"
      "\n";
  std::vector<CronEntry> entries = ParseCrontab(text, /*system_format=*/true);
  REQUIRE(entries.size() == 3);
  CHECK(entries[0].line == 4);
  CHECK(entries[0].schedule == "5 3 * * *");
  CHECK(entries[0].user == "root");
  CHECK(entries[0].command == "/usr/bin/backup.sh --full");
  CHECK(entries[1].schedule == "@daily");
  CHECK(entries[1].user == "postgres");
  // "\%" is a percent sign; the first bare '%' starts cron's stdin.
  CHECK(entries[2].command == "/usr/bin/pg_dump buh > /backup/buh_$(date +%F).sql");

  std::vector<CronEntry> user = ParseCrontab("0 1 * * * restic backup /etc\n", false);
  REQUIRE(user.size() == 1);
  CHECK(user[0].user.empty());
  CHECK(user[0].command == "restic backup /etc");
}

TEST_CASE("ShellWords splits quotes, operators and redirections") {
  std::vector<std::string> words =
      ShellWords(R"(su - postgres -c "pg_dump 'my db'" 2>&1 | gzip >> /b/x.gz && echo ok; #x)");
  std::vector<std::string> expected = {"su",      "-",  "postgres", "-c",   "pg_dump 'my db'",
                                       ">&",      "1",  "|",        "gzip", ">>",
                                       "/b/x.gz", "&&", "echo",     "ok",   ";"};
  CHECK(words == expected);
  CHECK(ShellWords("a$(date +%F)b `x y` c") ==
        std::vector<std::string>{"a$(date +%F)b", "`x y`", "c"});
}

TEST_CASE("FindBackupCommands recognises the tools, their targets and destinations") {
  SUBCASE("pg_dump through sudo, a pipe and a redirect") {
    BackupCommand c = OnlyCommand(
        "sudo -u postgres /usr/bin/pg_dump -Fc -h localhost buh | gzip > /backup/pg/buh.gz");
    CHECK(c.tool == "pg_dump");
    CHECK(c.target == "buh");
    CHECK(c.destination == "/backup/pg/buh.gz");
  }
  SUBCASE("pg_dump with -d and -f") {
    BackupCommand c = OnlyCommand("pg_dump -d zup -f /backup/zup.dump");
    CHECK(c.target == "zup");
    CHECK(c.destination == "/backup/zup.dump");
  }
  SUBCASE("pg_probackup inside su -c") {
    BackupCommand c = OnlyCommand(
        R"(su - postgres -c "pg_probackup-15 backup -B /var/lib/pg_probackup --instance=main -b DELTA")");
    CHECK(c.tool == "pg_probackup");
    CHECK(c.destination == "/var/lib/pg_probackup");
    CHECK(c.target == "main");
  }
  SUBCASE("pgbackrest backup, not archive-push") {
    CHECK(OnlyCommand("pgbackrest --stanza=buh --type=full backup").target == "buh");
    CHECK(FindBackupCommands("pgbackrest --stanza=buh archive-push %p").empty());
  }
  SUBCASE("barman, wal-g behind an unknown wrapper") {
    CHECK(OnlyCommand("barman backup pg").target == "pg");
    CHECK(FindBackupCommands("barman cron").empty());
    BackupCommand c = OnlyCommand("envdir /etc/wal-g.d/env wal-g backup-push /var/lib/pg/15/main");
    CHECK(c.tool == "wal-g");
    CHECK(c.target == "/var/lib/pg/15/main");
  }
  SUBCASE("1C designer /DumpIB in any case") {
    BackupCommand c = OnlyCommand(
        "/opt/1cv8/x86_64/8.3.24.1467/1cv8 DESIGNER /F /srv/1c/buh /N admin /dumpib "
        "/backup/1c/buh.dt");
    CHECK(c.tool == "1c-dumpib");
    CHECK(c.target == "/srv/1c/buh");
    CHECK(c.destination == "/backup/1c/buh.dt");
    CHECK(FindBackupCommands("1cv8 ENTERPRISE /F /srv/1c/buh").empty());
  }
  SUBCASE("restic and borg only when they back up") {
    BackupCommand restic = OnlyCommand("restic -r /srv/restic backup /etc /srv");
    CHECK(restic.destination == "/srv/restic");
    CHECK(restic.target == "/etc");
    CHECK(FindBackupCommands("restic -r /srv/restic forget --prune").empty());
    BackupCommand borg = OnlyCommand("borg create --stats /mnt/borg::'{now}' /srv/1c");
    CHECK(borg.destination == "/mnt/borg");
    CHECK(borg.target == "/srv/1c");
  }
  SUBCASE("several tools in one line, nice and ionice wrappers") {
    std::vector<BackupCommand> found = FindBackupCommands(
        "nice -n 19 ionice -c 3 pg_dumpall > /b/all.sql; restic backup /b && echo done");
    REQUIRE(found.size() == 2);
    CHECK(found[0].tool == "pg_dumpall");
    CHECK(found[0].destination == "/b/all.sql");
    CHECK(found[1].tool == "restic");
  }
  SUBCASE("lines that run no backup") {
    CHECK(FindBackupCommands("").empty());
    CHECK(FindBackupCommands("/usr/sbin/logrotate /etc/logrotate.conf").empty());
    CHECK(FindBackupCommands("test -x /usr/sbin/anacron || run-parts /etc/cron.daily").empty());
  }
  SUBCASE("hostile input: deep nesting and unbalanced quotes end") {
    std::string nested = "pg_dump db";
    for (int i = 0; i < 50; ++i) nested = "sh -c '" + nested + "'";
    (void)FindBackupCommands(nested);
    (void)FindBackupCommands("su -c \"pg_dump 'x");
    (void)FindBackupCommands(std::string(100000, '$'));
  }
}

TEST_CASE("ScriptOf names the script a job runs, not a tool or run-parts") {
  CHECK(ScriptOf("/usr/local/bin/backup-1c.sh --full >/dev/null 2>&1") ==
        "/usr/local/bin/backup-1c.sh");
  CHECK(ScriptOf("flock -n /run/b.lock /root/backup.sh") == "/root/backup.sh");
  CHECK(ScriptOf("bash /root/backup.sh") == "/root/backup.sh");
  CHECK(ScriptOf("/usr/bin/pg_dump db").empty());
  CHECK(ScriptOf("run-parts /etc/cron.daily").empty());
  CHECK(ScriptOf("backup.sh").empty());
  CHECK(ScriptOf("$HOME/backup.sh").empty());
}

TEST_CASE("Catalogue records: pg_probackup, Barman, pgBackRest") {
  CatalogBackup ok = ParsePgProbackupControl(
      "#Backup info\nstart-time = '2026-10-31 03:05:03+03'\nend-time = '2026-10-31 "
      "03:05:12+03'\nstatus = OK\n");
  CHECK(ok.status == "ok");
  CHECK(ok.end_time == 1793405112);  // 2026-10-31T00:05:12Z
  CHECK(ParsePgProbackupControl("status = CORRUPT\n").status == "failed");
  CHECK(ParsePgProbackupControl("status = RUNNING\n").status == "running");
  CHECK(ParsePgProbackupControl("status = DELETED\n").status.empty());

  CatalogBackup failed = ParseBarmanBackupInfo(
      "status=FAILED\nbegin_time=2026-10-31 02:00:01.000000+03:00\nend_time=None\n"
      "error=failure during backup\n");
  CHECK(failed.status == "failed");
  CHECK(failed.start_time == 1793401201);
  CHECK(failed.end_time == 0);
  CHECK(failed.error == "failure during backup");
  CHECK(ParseBarmanBackupInfo("status=DONE\nerror=None\n").error.empty());

  const std::string info =
      "[backrest]\nbackrest-format=5\n[backup:current]\n"
      "20261030-013001F={\"backup-timestamp-start\":1793323801,\"backup-timestamp-stop\":"
      "1793324100}\n"
      "20261031-013001I={\"backup-timestamp-stop\":1793410320,\"backup-type\":\"incr\"}\n"
      "[db]\nx={\"backup-timestamp-stop\":1999999999}\n";
  CHECK(NewestPgBackrestBackup(info) == 1793410320);
  CHECK(NewestPgBackrestBackup("[backup:current]\n") == 0);
}

TEST_CASE("ParseTimestampWithOffset accepts the catalogues' forms only") {
  CHECK(ParseTimestampWithOffset("2026-10-31 03:05:12+03") == 1793405112);
  CHECK(ParseTimestampWithOffset("2026-10-31 03:05:12.123456+03:00") == 1793405112);
  CHECK(ParseTimestampWithOffset("2026-10-31T00:05:12Z") == 1793405112);
  CHECK(ParseTimestampWithOffset("2026-10-30 19:05:12-0500") == 1793405112);
  CHECK(ParseTimestampWithOffset("2026-10-31 00:05:12") == 1793405112);
  CHECK_FALSE(ParseTimestampWithOffset("None").has_value());
  CHECK_FALSE(ParseTimestampWithOffset("2026-13-31 00:05:12").has_value());
  CHECK_FALSE(ParseTimestampWithOffset("2026-10-31 00:05:12 MSK").has_value());
}

TEST_CASE("ScheduleIntervalSeconds: cron and systemd schedules") {
  constexpr int64_t kDay = 86400;
  CHECK(ScheduleIntervalSeconds("0 3 * * *") == kDay);
  CHECK(ScheduleIntervalSeconds("*/15 * * * *") == 900);
  CHECK(ScheduleIntervalSeconds("0 */6 * * *") == 6 * 3600);
  CHECK(ScheduleIntervalSeconds("0 2 * * 6") == 7 * kDay);
  CHECK(ScheduleIntervalSeconds("0 1 * * 1-5") == 3 * kDay);  // Friday night to Monday night
  CHECK(ScheduleIntervalSeconds("0 1 * * mon,thu") == 4 * kDay);
  CHECK(ScheduleIntervalSeconds("0 2 * * 7") == 7 * kDay);    // 7 is Sunday, like 0
  CHECK(ScheduleIntervalSeconds("0 2 * * 5-7") == 5 * kDay);  // Sunday night to Friday night
  CHECK(ScheduleIntervalSeconds("0 4 1 * *") == 31 * kDay);
  CHECK(ScheduleIntervalSeconds("@weekly") == 7 * kDay);
  CHECK(ScheduleIntervalSeconds("@reboot") == 0);
  CHECK(ScheduleIntervalSeconds("0 3 * *") == 0);
  CHECK(ScheduleIntervalSeconds("OnCalendar=daily") == kDay);
  CHECK(ScheduleIntervalSeconds("OnCalendar=*-*-* 01:30:00") == kDay);
  CHECK(ScheduleIntervalSeconds("OnCalendar=Mon..Fri 22:00") == 3 * kDay);
  CHECK(ScheduleIntervalSeconds("OnCalendar=Sun *-*-* 02:00:00") == 7 * kDay);
  CHECK(ScheduleIntervalSeconds("OnCalendar=*-*-01 04:00:00") == 31 * kDay);
  CHECK(ScheduleIntervalSeconds("OnBootSec=15min, OnUnitActiveSec=6h") == 6 * 3600);
  CHECK(ScheduleIntervalSeconds("OnCalendar=someday") == 0);
  CHECK(TypicalInterval({300, 100, 200, 0}) == 100);
  CHECK(TypicalInterval({100, 200}) == 0);
}

TEST_CASE("Unit files: timer schedule and ExecStart") {
  TimerUnit timer = ParseTimerUnit(
      "[Unit]\nDescription=x\n[Timer]\nOnCalendar=daily\nOnCalendar=Sat 12:00\nUnit=b.service\n");
  CHECK(timer.unit == "b.service");
  CHECK(timer.schedule == "OnCalendar=daily, OnCalendar=Sat 12:00");
  std::vector<std::string> exec = ParseExecStart(
      "[Service]\nExecStart=-/usr/bin/restic \\\n  backup /etc\nExecStart=+/bin/true\n"
      "[Install]\nExecStart=/not/here\n");
  REQUIRE(exec.size() == 2);
  CHECK(exec[0] == "/usr/bin/restic    backup /etc");
  CHECK(exec[1] == "/bin/true");
}

TEST_CASE("ParseSystemctlShow and IniValue") {
  std::vector<UnitRunState> units = ParseSystemctlShow(
      "Id=a.service\nResult=success\nActiveState=inactive\nExecMainStatus=0\n"
      "ExecMainExitTimestampMonotonic=5000000\n\nId=b.service\nResult=exit-code\n"
      "ExecMainStatus=2\n");
  REQUIRE(units.size() == 2);
  CHECK(units[0].exit_monotonic_us == 5000000);
  CHECK(units[1].result == "exit-code");
  CHECK(units[1].exec_main_status == 2);
  CHECK(IniValue("[global]\n# repo1-path=/no\nrepo1-path = /srv/pgbackrest\n", "repo1-path") ==
        "/srv/pgbackrest");
  CHECK(IniValue("x=1\n", "repo1-path").empty());
}

TEST_CASE("Which PostgreSQL instance a job backs up: port, connection string, data directory") {
  CHECK(OnlyCommand("pg_dump -p 5434 -Fc sklad > /b/sklad.dump").port == 5434);
  CHECK(OnlyCommand("pg_dump --port=5434 sklad > /b/s.dump").port == 5434);
  CHECK(OnlyCommand("pg_dump -Fc buh > /b/buh.dump").port == 0);  // libpq's default
  CHECK(OnlyCommand("PGPORT=5435 pg_dump buh > /b/buh.dump").port == 5435);
  CHECK(OnlyCommand("env PGPORT=5436 nice pg_dumpall -f /b/all.sql").port == 5436);
  CHECK(OnlyCommand("PGPORT=1 pg_dump -p 5434 -d buh -f /b/b").port == 5434);  // -p wins
  BackupCommand keywords =
      OnlyCommand("pg_dump -d 'host=/run/postgresql port=5437 dbname=zup' -f /b/z");
  CHECK(keywords.port == 5437);
  CHECK(keywords.target == "zup");
  BackupCommand uri =
      OnlyCommand("pg_dump postgresql://backup@localhost:5438/trade?sslmode=disable > /b/t");
  CHECK(uri.port == 5438);
  CHECK(uri.target == "trade");
  CHECK(OnlyCommand("pg_basebackup -d 'port=5439' -D /backup/base").port == 5439);
  BackupCommand walg =
      OnlyCommand("envdir /etc/wal-g.d/env wal-g backup-push /var/lib/pg/15/second");
  CHECK(walg.data_directory == "/var/lib/pg/15/second");
  CHECK(OnlyCommand("wal-g backup-push $PGDATA").data_directory.empty());
  BackupCommand probackup =
      OnlyCommand("pg_probackup-15 backup -B /b --instance=x -D /var/lib/pgpro/x -p 5440 -b FULL");
  CHECK(probackup.data_directory == "/var/lib/pgpro/x");
  CHECK(probackup.port == 5440);
  BackupCommand backrest =
      OnlyCommand("pgbackrest --stanza=s --pg1-path=/srv/pg --pg1-port=5441 backup");
  CHECK(backrest.data_directory == "/srv/pg");
  CHECK(backrest.port == 5441);
}

TEST_CASE("ParsePostgresConninfo and IniSectionValue") {
  CHECK_FALSE(ParsePostgresConninfo("buh").is_conninfo);
  CHECK(ParsePostgresConninfo("buh").port == 0);
  PostgresConninfo v6 = ParsePostgresConninfo("postgres://[::1]:5442/db");
  CHECK(v6.port == 5442);
  CHECK(v6.dbname == "db");
  CHECK(ParsePostgresConninfo("postgresql://[::1]/db").port == 0);
  CHECK(ParsePostgresConninfo("postgresql://h1:5443,h2:5444/db").port == 5443);
  CHECK(ParsePostgresConninfo("postgresql://h:notaport/db").port == 0);
  CHECK(ParsePostgresConninfo("host=pg port = 5445").is_conninfo);
  CHECK(ParsePostgresConninfo("host=pg port=99999999999 dbname=x").port == 0);
  CHECK(ParsePostgresConninfo("=").is_conninfo);
  const std::string conf =
      "[global]\npg1-path=/wrong\n[buh]\n# pg1-path=/commented\npg1-path = /srv/a\n"
      "pg1-port=5446\n[ zup ]\npg1-path=/srv/b\n[broken\npg1-path=/srv/c\n";
  CHECK(IniSectionValue(conf, "buh", "pg1-path") == "/srv/a");
  CHECK(IniSectionValue(conf, "buh", "pg1-port") == "5446");
  CHECK(IniSectionValue(conf, "zup", "pg1-path") == "/srv/b");
  CHECK(IniSectionValue(conf, "global", "pg1-port").empty());
  CHECK(IniSectionValue(conf, "missing", "pg1-path").empty());
  CHECK(IniSectionValue("", "buh", "pg1-path").empty());
}

TEST_CASE("LocalDestinationDirectory keeps local, fixed paths") {
  CHECK(LocalDestinationDirectory("/backup/pg/buh_$(date +%F).dump.gz") == "/backup/pg");
  CHECK(LocalDestinationDirectory("/backup/1c/") == "/backup/1c");
  CHECK(LocalDestinationDirectory("/backup/1c/zup.dt") == "/backup/1c/zup.dt");
  CHECK(LocalDestinationDirectory("sftp:backup@nas:/srv/restic").empty());
  CHECK(LocalDestinationDirectory("relative/dir").empty());
  CHECK(LocalDestinationDirectory("/b*") == "/");
}

// The fixture root copied to a temp dir, where files get known mtimes (git keeps none).
struct BackupHost {
  dozor::testing::TempDir dir;
  std::filesystem::path root = dir.path() / "root";
  BackupHost() {
    std::filesystem::copy(
        HostRoot("pg-backup-server"), root,
        std::filesystem::copy_options::recursive | std::filesystem::copy_options::copy_symlinks);
  }
  void File(const std::string& relative, int64_t mtime) const {
    std::filesystem::path path = root / relative;
    std::filesystem::create_directories(path.parent_path());
    REQUIRE(WriteFileAtomic(path, "data").ok());
    struct utimbuf times {};
    times.actime = static_cast<time_t>(mtime);
    times.modtime = static_cast<time_t>(mtime);
    REQUIRE(::utime(path.c_str(), &times) == 0);
  }
  [[nodiscard]] CollectContext Context() const {
    CollectContext ctx = RootContext(root);
    std::filesystem::path canned = root / "dozor-fixture/systemctl-show.txt";
    ctx.run_command = [canned](const std::vector<std::string>& argv) -> Result<CommandOutput> {
      if (argv.size() >= 2 && argv[0] == "systemctl" && argv[1] == "show") {
        auto text = ReadFile(canned);
        if (text.ok()) return CommandOutput{0, std::move(text).value()};
      }
      return MakeError(ErrorCode::kNotFound, argv.empty() ? "" : argv[0]);
    };
    return ctx;
  }
};

const dozor::v1::BackupJob* FindJob(const dozor::v1::Software& software, std::string_view tool,
                                    std::string_view target) {
  for (const auto& job : software.backup_jobs()) {
    if (job.tool() == tool && job.target() == target) return &job;
  }
  return nullptr;
}

TEST_CASE("CollectBackupJobs finds every job of the pg-backup-server fixture with its freshness") {
  BackupHost host;
  host.File("backup/pg/buh_2026-10-30.dump.gz", 1793401200);  // 2026-10-30T23:00Z
  host.File("backup/pg/buh_2026-10-29.dump.gz", 1793314800);
  host.File("backup/1c/zup.dt", 1793329200);
  dozor::v1::Software software;
  REQUIRE(CollectBackupJobs(host.Context(), &software).ok());
  INFO(software.DebugString());

  const auto* probackup = FindJob(software, "pg_probackup", "main");
  REQUIRE(probackup != nullptr);
  CHECK(probackup->source() == "cron:/etc/cron.d/pg_probackup:6");
  CHECK(probackup->schedule() == "5 3 * * *");
  CHECK(probackup->interval_seconds() == 86400);
  CHECK(probackup->destination() == "/var/lib/pg_probackup");
  CHECK(probackup->last_success_time() == 1793405112);  // the newest OK, not the RUNNING one
  CHECK(probackup->freshness_source() == "catalog");
  CHECK(probackup->last_status() == "running");

  // The stale catalogue nobody schedules any more is reported on its own.
  const auto* legacy = FindJob(software, "pg_probackup", "legacy");
  REQUIRE(legacy != nullptr);
  CHECK(legacy->source() == "catalog:/var/lib/pg_probackup");
  CHECK(legacy->last_success_time() == 1780269000);  // 2026-06-01 02:10:00+03
  CHECK(legacy->schedule().empty());

  const auto* dump = FindJob(software, "pg_dump", "buh");
  REQUIRE(dump != nullptr);
  CHECK(dump->source() == "cron:/var/spool/cron/crontabs/postgres:3");
  CHECK(dump->destination() == "/backup/pg/buh_$(date +%F).dump.gz");
  CHECK(dump->last_success_time() == 1793401200);
  CHECK(dump->freshness_source() == "artefact");

  const auto* onec = FindJob(software, "1c-dumpib", "/srv/1c/zup");
  REQUIRE(onec != nullptr);
  CHECK(onec->source() == "cron:/etc/cron.daily/1c-dump");
  CHECK(onec->schedule() == "@daily");
  CHECK(onec->destination() == "/backup/1c/zup.dt");  // $DUMP_DIR resolved from the script
  CHECK(onec->last_success_time() == 1793329200);

  const auto* walg = FindJob(software, "wal-g", "/var/lib/postgresql/15/main");
  REQUIRE(walg != nullptr);
  CHECK(walg->interval_seconds() == 7 * 86400);
  CHECK(walg->last_success_time() == 0);  // object storage: nothing local to judge

  const auto* restic = FindJob(software, "restic", "/etc");
  REQUIRE(restic != nullptr);
  CHECK(restic->source() == "timer:restic-backup.timer");
  CHECK(restic->schedule() == "OnCalendar=*-*-* 01:30:00");
  CHECK(restic->last_status() == "failed");
  CHECK(restic->last_run_time() == 1793318400 + 86460);
  CHECK(restic->last_error().find("exit-code") != std::string::npos);

  const auto* pgbackrest = FindJob(software, "pgbackrest", "buh");
  REQUIRE(pgbackrest != nullptr);
  CHECK(pgbackrest->last_success_time() == 1793410320);

  const auto* barman = FindJob(software, "barman", "pg");
  REQUIRE(barman != nullptr);
  CHECK(barman->last_status() == "failed");
  CHECK(barman->last_success_time() == 1793315052);  // the older DONE backup
  CHECK(barman->last_error().find("Connection refused") != std::string::npos);

  // The commented-out pg_dumpall line and the restic forget are not jobs.
  CHECK(FindJob(software, "pg_dumpall", "") == nullptr);
  CHECK(software.backup_jobs_size() == 8);
}

TEST_CASE("CollectBackupJobs reads a script a user's crontab names only if that user could") {
  dozor::testing::TempDir dir;
  const std::filesystem::path root = dir.path();
  std::filesystem::create_directories(root / "var/spool/cron/crontabs");
  std::filesystem::create_directories(root / "root");
  const std::filesystem::path crontab = root / "var/spool/cron/crontabs/ivan";
  REQUIRE(WriteFileAtomic(crontab,
                          "0 1 * * * /root/private.sh\n0 2 * * * /root/shared.sh\n"
                          "0 5 * * * find /var/backups -mtime +7 -delete\n")
              .ok());
  REQUIRE(WriteFileAtomic(root / "root/private.sh", "pg_dump secretdb > /srv/x.sql\n").ok());
  REQUIRE(WriteFileAtomic(root / "root/shared.sh", "pg_dump buh > /srv/buh.sql\n").ok());
  std::filesystem::permissions(root / "root/private.sh", std::filesystem::perms::owner_read |
                                                             std::filesystem::perms::owner_write);
  std::filesystem::permissions(root / "root/shared.sh", std::filesystem::perms::owner_read |
                                                            std::filesystem::perms::owner_write |
                                                            std::filesystem::perms::others_read);
  // The crontab belongs to another user than the scripts (possible only as root).
  if (::chown(crontab.c_str(), 12345, 12345) != 0) {
    MESSAGE("not root: the ownership case is not exercised");
    return;
  }
  dozor::v1::Software software;
  REQUIRE(CollectBackupJobs(RootContext(root), &software).ok());
  INFO(software.DebugString());
  REQUIRE(software.backup_jobs_size() == 1);
  CHECK(software.backup_jobs(0).target() == "buh");
}

TEST_CASE("CollectBackupJobs on a host without backups and on a missing root finds nothing") {
  dozor::v1::Software software;
  REQUIRE(CollectBackupJobs(FixtureContext("minimal-vm"), &software).ok());
  CHECK(software.backup_jobs_size() == 0);
  dozor::testing::TempDir empty;
  REQUIRE(CollectBackupJobs(RootContext(empty.path() / "absent"), &software).ok());
  CHECK(software.backup_jobs_size() == 0);
}

}  // namespace
}  // namespace dozor::agent
