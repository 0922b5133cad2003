// Pure parsers for backup jobs and backup catalogues: crontabs, shell command lines that run a
// backup tool, systemd timer and service units, `systemctl show` output, and the catalogues of
// pg_probackup (backup.control), pgBackRest (backup.info) and Barman (backup.info). No I/O here.
//
// Everything parsed here is text any local administrator (and for user crontabs, any user) can
// shape, so every function answers a value for arbitrary bytes: unknown forms give empty results,
// never an error that would hide the other jobs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dozor::agent {

// One job line of a crontab.
struct CronEntry {
  int line = 0;          // 1-based line number in the file
  std::string schedule;  // "0 3 * * *" or "@daily"
  std::string user;      // system crontabs only ("" in a user's own crontab)
  std::string command;   // up to cron's first unescaped '%' (the rest is stdin), "\%" undone
};

// Job lines of a crontab; environment assignments, comments and malformed lines are skipped.
// `system_format`: /etc/crontab and /etc/cron.d/* have a user field after the schedule.
[[nodiscard]] std::vector<CronEntry> ParseCrontab(std::string_view text, bool system_format,
                                                  size_t max_entries = 1000);

// A line as the shell would split it into words, well enough to find programs and their
// arguments: whitespace separates, '…' and "…" quote, backslash escapes; the operators
// | || & && ; > >> < 2> become words of their own; a '#' starting a word ends the line.
// $(…) and `…` stay inside their word.
[[nodiscard]] std::vector<std::string> ShellWords(std::string_view line, size_t max_words = 4096);

// A backup tool run by a command line, with what the line says it backs up and where to.
struct BackupCommand {
  std::string tool;  // the names listed at dozor::v1::BackupJob.tool
  std::string target;
  std::string destination;
  // The PostgreSQL port a pg_dump / pg_dumpall / pg_basebackup connects to (-p, --port=, PGPORT=,
  // port= or :PORT in a connection string); 0 when the line does not say (libpq's default).
  uint32_t port = 0;
  // The data directory it backs up where the line names it (wal-g backup-push PATH,
  // pg_probackup -D, pgbackrest --pg1-path); "" otherwise.
  std::string data_directory;
};

// The backup tools one command line runs, in order: through pipes and lists (| ; && ||),
// wrappers (sudo, su -c "…", nice, ionice, flock, timeout, env, sh -c "…") and quoted
// sub-commands. Empty when it runs none. Tools that do several things count only when asked to
// back up (`restic backup`, not `restic forget`; `pgbackrest backup`, not `archive-push`).
[[nodiscard]] std::vector<BackupCommand> FindBackupCommands(std::string_view command_line);

// A libpq connection string's parts (keyword form "host=h port=5433 dbname=buh" or URI form
// "postgresql://user@h:5433/buh?..."); empty / 0 where it does not say. `is_conninfo` is false
// for a plain database name.
struct PostgresConninfo {
  bool is_conninfo = false;
  std::string dbname;
  uint32_t port = 0;
};
[[nodiscard]] PostgresConninfo ParsePostgresConninfo(std::string_view text);

// The value of `key` in section [`section`] of an INI file (pgbackrest.conf's "[main]
// pg1-path=..."): "" when absent. Section and key names compare exactly; the last value wins.
[[nodiscard]] std::string IniSectionValue(std::string_view text, std::string_view section,
                                          std::string_view key);

// A program path a cron line or ExecStart runs, when it is a script worth reading: an absolute
// path whose tool is not a known backup tool (the first word, after wrappers). "" otherwise.
[[nodiscard]] std::string ScriptOf(std::string_view command_line);

// One backup as a catalogue records it.
struct CatalogBackup {
  std::string status;      // "ok", "failed", "running", "" (deleted, merged: not a backup now)
  int64_t start_time = 0;  // Unix seconds, 0 unknown
  int64_t end_time = 0;
  std::string error;
};

// pg_probackup's backups/<instance>/<id>/backup.control ("status = OK", "end-time = '…'").
[[nodiscard]] CatalogBackup ParsePgProbackupControl(std::string_view text);

// Barman's <server>/base/<id>/backup.info ("status=DONE", "end_time=…", "error=…").
[[nodiscard]] CatalogBackup ParseBarmanBackupInfo(std::string_view text);

// pgBackRest's backup/<stanza>/backup.info: the newest "backup-timestamp-stop" of the backups
// in [backup:current] (pgBackRest lists only completed backups there); 0 when none.
[[nodiscard]] int64_t NewestPgBackrestBackup(std::string_view text);

// "2026-12-01 03:15:02+03", "2026-12-01 03:15:02.123456+03:00", "2026-12-01T03:15:02Z": Unix
// seconds. A time without an offset is taken as UTC (pg_probackup and Barman always write one).
// nullopt for anything else.
[[nodiscard]] std::optional<int64_t> ParseTimestampWithOffset(std::string_view text);

// The settings of a [Timer] section that matter here.
struct TimerUnit {
  std::string unit;      // Unit=, "" means the timer's own name with .service
  std::string schedule;  // "OnCalendar=daily", several joined with ", "
};
[[nodiscard]] TimerUnit ParseTimerUnit(std::string_view text);

// The commands of a [Service] section's ExecStart= lines, without the special prefixes
// (-, @, :, +, !) and with continuation lines joined.
[[nodiscard]] std::vector<std::string> ParseExecStart(std::string_view text);

// One unit of `systemctl show -p Id,Result,ActiveState,ExecMainStatus,
// ExecMainStartTimestampMonotonic,ExecMainExitTimestampMonotonic u1 u2 …` (blocks separated by
// blank lines).
struct UnitRunState {
  std::string id;
  std::string result;        // "success", "exit-code", "signal", "timeout", …
  std::string active_state;  // "inactive", "activating", "failed", …
  int exec_main_status = 0;
  int64_t start_monotonic_us = 0;  // 0: not run since boot
  int64_t exit_monotonic_us = 0;
};
[[nodiscard]] std::vector<UnitRunState> ParseSystemctlShow(std::string_view text);

// How often a schedule runs its job, in seconds, as the longest gap between two runs: a cron
// schedule ("0 3 * * *" -> 86400, "0 2 * * 6" -> 604800, "0 1 * * 1-5" -> 259200 over the
// weekend, "@weekly"), or a timer's ("OnCalendar=daily", "OnCalendar=Mon *-*-* 02:00",
// "OnUnitActiveSec=6h"). 0 when it cannot tell (@reboot, unusual forms).
[[nodiscard]] int64_t ScheduleIntervalSeconds(std::string_view schedule);

// The usual spacing of a catalogue's backups: the median gap between consecutive completion
// times (any order in, 0 with fewer than three).
[[nodiscard]] int64_t TypicalInterval(std::vector<int64_t> completion_times);

// An INI-style "key = value" / "key=value" setting of a small configuration file
// (/etc/pgbackrest.conf repo1-path, /etc/barman.conf barman_home): the first value of `key`,
// in any section; "" when absent. Comments (#, ;) are skipped.
[[nodiscard]] std::string IniValue(std::string_view text, std::string_view key);

// The directory part of a destination that names files by date
// ("/backup/pg/db_$(date +%F).sql.gz" -> "/backup/pg"), or the destination itself when it has
// no such part. "" for relative or remote destinations (restic's sftp:, borg's ssh://, host:path).
[[nodiscard]] std::string LocalDestinationDirectory(std::string_view destination);

}  // namespace dozor::agent
