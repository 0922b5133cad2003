// Linux backup jobs: what is scheduled to back the host up (crontabs, /etc/cron.*/ scripts,
// enabled systemd timers, one level into the scripts they run), the catalogues of the
// PostgreSQL backup tools (pg_probackup, pgBackRest, Barman), and how fresh each job's newest
// backup is: the catalogue's own record, systemd's result of the job's last run, or the newest
// file where the job writes. A well-run 1C + PostgreSQL server backed up by a cron line running
// pg_probackup must not read as "no backup"; one whose newest backup is a month old must not
// read as backed up.
#include "collectors/linux/backup_linux.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "collectors/linux/fs_util.hpp"
#include "collectors/parsers/backup_parsers.hpp"
#include "collectors/parsers/health_parsers.hpp"
#include "dozor/common/files.hpp"

namespace dozor::agent {
namespace {
// Named inside the anonymous namespace: a unity build puts the other collectors' helpers
// (software_linux.cpp's kUnitFileMaxBytes, ...) in the same translation unit.
namespace backup_scan {

constexpr size_t kMaxJobs = 200;
constexpr size_t kMaxCronFiles = 500;
constexpr size_t kCronFileMaxBytes = 256 * 1024;
constexpr size_t kScriptMaxBytes = 256 * 1024;
constexpr size_t kUnitFileMaxBytes = 64 * 1024;
constexpr size_t kMaxTimers = 2000;
constexpr size_t kMaxCatalogEntries = 5000;
constexpr size_t kMaxArtefactEntries = 5000;

constexpr const char* kUnitDirs[] = {"/etc/systemd/system", "/run/systemd/system",
                                     "/lib/systemd/system", "/usr/lib/systemd/system"};

bool EndsWith(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

// Names that say "backup" when the agent cannot tell the tool (a script calling rsync).
bool NamedAsBackup(std::string_view name) {
  std::string lower = Lower(name);
  if (lower.find("dpkg-db-backup") != std::string::npos) return false;  // Debian's own
  return lower.find("backup") != std::string::npos || lower.find("restic") != std::string::npos ||
         lower.find("borg") != std::string::npos || lower.find("dumpib") != std::string::npos;
}

// Editor and package-manager leftovers that cron does not run.
bool IsCronLeftover(std::string_view name) {
  return name.empty() || name[0] == '.' || name.back() == '~' ||
         name.find(".dpkg-") != std::string_view::npos || EndsWith(name, ".rpmsave") ||
         EndsWith(name, ".rpmnew") || EndsWith(name, ".swp") || name == "0anacron" ||
         name == "placeholder";
}

int64_t ModifiedTime(const std::filesystem::path& path, bool* is_dir = nullptr) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 0;
  if (is_dir != nullptr) *is_dir = S_ISDIR(st.st_mode);
  return static_cast<int64_t>(st.st_mtime);
}

// The newest regular file's mtime in `dir` and, with `depth` > 0, in its subdirectories.
int64_t NewestFile(const std::filesystem::path& dir, int depth, size_t* budget) {
  int64_t newest = 0;
  for (const auto& name : ListNamesOrEmpty(dir, *budget)) {
    if (*budget == 0) break;
    --*budget;
    bool is_dir = false;
    int64_t mtime = ModifiedTime(dir / name, &is_dir);
    if (is_dir) {
      if (depth > 0) newest = std::max(newest, NewestFile(dir / name, depth - 1, budget));
    } else {
      newest = std::max(newest, mtime);
    }
  }
  return newest;
}

// NAME=value lines of a script, so that "$BACKUP_DIR/db.sql" can be resolved. Only plain
// values (no command substitution) are kept.
void NoteAssignment(std::string_view line, std::map<std::string, std::string>* variables) {
  line = Trim(line, " \t");
  if (line.rfind("export ", 0) == 0) line.remove_prefix(7);
  size_t eq = line.find('=');
  if (eq == std::string_view::npos || eq == 0) return;
  std::string_view name = line.substr(0, eq);
  for (char c : name) {
    bool ok =
        (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return;
  }
  std::vector<std::string> words = ShellWords(line.substr(eq + 1), 2);
  if (words.size() != 1 || words[0].find("$(") != std::string::npos ||
      words[0].find('`') != std::string::npos || variables->size() >= 256) {
    return;
  }
  (*variables)[std::string(name)] = words[0];
}

// "$NAME/x" and "${NAME}/x" with known NAMEs replaced; unknown ones stay.
std::string Expand(const std::string& text, const std::map<std::string, std::string>& variables) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '$' || i + 1 >= text.size()) {
      out += text[i];
      continue;
    }
    bool braced = text[i + 1] == '{';
    size_t begin = i + (braced ? 2 : 1);
    size_t end = begin;
    while (end < text.size() &&
           (std::isalnum(static_cast<unsigned char>(text[end])) != 0 || text[end] == '_')) {
      ++end;
    }
    if (braced && (end >= text.size() || text[end] != '}')) {
      out += text[i];
      continue;
    }
    auto found = variables.find(text.substr(begin, end - begin));
    if (end == begin || found == variables.end()) {
      out += text[i];
      continue;
    }
    out += found->second;
    i = braced ? end : end - 1;
  }
  return out;
}

class BackupJobFinder {
 public:
  explicit BackupJobFinder(const CollectContext& ctx) : ctx_(ctx) {}

  void ScanCron() {
    ScanCrontab("/etc/crontab", /*system_format=*/true);
    for (const auto& name : ListNamesOrEmpty(ctx_.Path("/etc/cron.d"), kMaxCronFiles)) {
      if (!IsCronLeftover(name)) ScanCrontab("/etc/cron.d/" + name, true);
    }
    for (const auto& name :
         ListNamesOrEmpty(ctx_.Path("/var/spool/cron/crontabs"), kMaxCronFiles)) {
      if (!IsCronLeftover(name)) ScanCrontab("/var/spool/cron/crontabs/" + name, false);
    }
    for (const auto& name : ListNamesOrEmpty(ctx_.Path("/var/spool/cron"), kMaxCronFiles)) {
      if (name == "crontabs" || IsCronLeftover(name)) continue;
      if (IsDirectory(ctx_.Path("/var/spool/cron/" + name))) continue;
      ScanCrontab("/var/spool/cron/" + name, false);
    }
    for (const char* period : {"hourly", "daily", "weekly", "monthly"}) {
      std::string dir = std::string("/etc/cron.") + period;
      for (const auto& name : ListNamesOrEmpty(ctx_.Path(dir), kMaxCronFiles)) {
        if (IsCronLeftover(name)) continue;
        std::string path = dir + "/" + name;
        AddJobs("cron:" + path, std::string("@") + period, ScanScript(path), NamedAsBackup(name));
      }
    }
  }

  void ScanTimers() {
    std::set<std::string> enabled;
    for (const auto& dir : ListNamesOrEmpty(ctx_.Path("/etc/systemd/system"), kMaxCronFiles)) {
      if (!EndsWith(dir, ".wants") && !EndsWith(dir, ".requires")) continue;
      for (auto& name : ListNamesOrEmpty(ctx_.Path("/etc/systemd/system/" + dir), kMaxCronFiles)) {
        enabled.insert(std::move(name));
      }
    }
    std::set<std::string> seen;
    for (const char* dir : kUnitDirs) {
      for (const auto& name : ListNamesOrEmpty(ctx_.Path(dir), kMaxTimers)) {
        if (!EndsWith(name, ".timer") || !seen.insert(name).second) continue;
        if (enabled.count(name) == 0) continue;  // a timer nobody enabled does not run
        std::filesystem::path path = ctx_.Path(std::string(dir) + "/" + name);
        std::error_code ec;
        if (std::filesystem::is_symlink(path, ec) &&
            std::filesystem::read_symlink(path, ec) == "/dev/null") {
          continue;  // masked
        }
        auto text = ReadFile(path, kUnitFileMaxBytes);
        if (!text.ok()) continue;
        TimerUnit timer = ParseTimerUnit(*text);
        std::string service =
            timer.unit.empty() ? name.substr(0, name.size() - 6) + ".service" : timer.unit;
        std::vector<BackupCommand> commands;
        for (const auto& exec : ServiceExecStart(service)) {
          AppendCommands(exec, &commands);
        }
        size_t first = jobs_.size();
        AddJobs("timer:" + name, timer.schedule, std::move(commands),
                NamedAsBackup(name) || NamedAsBackup(service));
        // A Persistent= timer's stamp file is touched at each trigger: the last run's start.
        int64_t stamp = ModifiedTime(ctx_.Path("/var/lib/systemd/timers/stamp-" + name));
        for (size_t index = first; index < jobs_.size(); ++index) {
          jobs_[index].set_last_run_time(stamp);
          services_[service].push_back(index);
        }
      }
    }
    FillServiceResults();
  }

  void ScanCatalogs() {
    // pg_probackup: the paths the jobs back up to, and the usual ones.
    std::set<std::string> probackup_paths = {"/var/lib/pg_probackup", "/var/lib/pgpro/backup",
                                             "/backup/pg_probackup", "/var/backups/pg_probackup"};
    for (const auto& job : jobs_) {
      if (job.tool() == "pg_probackup" && !job.destination().empty() &&
          job.destination()[0] == '/') {
        probackup_paths.insert(job.destination());
      }
    }
    for (const auto& path : probackup_paths) ScanPgProbackup(path);

    // pgBackRest: repo1-path of its configuration (only a local repository has a catalogue
    // here), /var/lib/pgbackrest by default.
    std::string config = ReadSmallFile(ctx_.Path("/etc/pgbackrest/pgbackrest.conf"));
    if (config.empty()) config = ReadSmallFile(ctx_.Path("/etc/pgbackrest.conf"));
    std::string repo_type = IniValue(config, "repo1-type");
    if (repo_type.empty() || repo_type == "posix" || repo_type == "cifs") {
      std::string repo = IniValue(config, "repo1-path");
      ScanPgBackrest(repo.empty() ? "/var/lib/pgbackrest" : repo, config);
    }

    // Barman: barman_home of /etc/barman.conf, /var/lib/barman by default.
    std::string barman_home = IniValue(ReadSmallFile(ctx_.Path("/etc/barman.conf")), "barman_home");
    ScanBarman(barman_home.empty() ? "/var/lib/barman" : barman_home);
  }

  // Jobs that know where they write but not when they last succeeded: the newest file there.
  // Not for the catalogue tools: their directories hold WAL and failed backups too, and their
  // catalogue says which backup completed.
  void FillArtefactTimes() {
    for (auto& job : jobs_) {
      if (job.last_success_time() != 0 || job.tool() == "pg_probackup" ||
          job.tool() == "pgbackrest" || job.tool() == "barman") {
        continue;
      }
      std::string dir = LocalDestinationDirectory(job.destination());
      if (dir.empty() || dir == "/") continue;
      std::filesystem::path local = ctx_.Path(dir);
      size_t budget = kMaxArtefactEntries;
      bool is_dir = false;
      int64_t mtime = ModifiedTime(local, &is_dir);
      int64_t newest = 0;
      if (mtime == 0) continue;
      if (!is_dir) {
        newest = mtime;
      } else if (job.tool() == "restic") {
        newest = NewestFile(local / "snapshots", 0, &budget);  // one file per snapshot
      } else if (job.tool() == "borg") {
        newest = NewestFile(local, 0, &budget);  // index.N, hints.N: rewritten per archive
      } else {
        newest = NewestFile(local, 1, &budget);
      }
      if (newest != 0) {
        job.set_last_success_time(newest);
        job.set_freshness_source("artefact");
      }
    }
  }

  // A scheduled job of a catalogue tool takes its freshness from the catalogue entries it
  // writes (same tool; same path and instance where the job names them).
  void MergeCatalogs() {
    used_.assign(catalogs_.size(), false);
    for (auto& job : jobs_) {
      for (size_t i = 0; i < catalogs_.size(); ++i) {
        const dozor::v1::BackupJob& catalog = catalogs_[i];
        if (catalog.tool() != job.tool()) continue;
        if (!job.destination().empty() && job.destination() != catalog.destination()) continue;
        if (!job.target().empty() && job.target() != catalog.target()) continue;
        used_[i] = true;
        if (catalog.last_success_time() > job.last_success_time()) {
          job.set_last_success_time(catalog.last_success_time());
          job.set_freshness_source("catalog");
        }
        if (catalog.last_run_time() >= job.last_run_time() && !catalog.last_status().empty()) {
          job.set_last_run_time(catalog.last_run_time());
          job.set_last_status(catalog.last_status());
          job.set_last_error(catalog.last_error());
        }
        if (job.interval_seconds() == 0) job.set_interval_seconds(catalog.interval_seconds());
        if (job.target().empty()) job.set_target(catalog.target());
        if (job.destination().empty()) job.set_destination(catalog.destination());
        if (job.instance_port() == 0) job.set_instance_port(catalog.instance_port());
        if (job.instance_data_directory().empty()) {
          job.set_instance_data_directory(catalog.instance_data_directory());
        }
      }
    }
  }

  // The scheduled jobs, then the catalogues no job was found to write (a catalogue filled by
  // a schedule the agent cannot see, or left behind by one that stopped).
  void Emit(dozor::v1::Software* out) {
    for (auto& job : jobs_) {
      if (static_cast<size_t>(out->backup_jobs_size()) >= kMaxJobs) return;
      *out->add_backup_jobs() = std::move(job);
    }
    for (size_t i = 0; i < catalogs_.size(); ++i) {
      if (static_cast<size_t>(out->backup_jobs_size()) >= kMaxJobs) return;
      if (!used_[i]) *out->add_backup_jobs() = std::move(catalogs_[i]);
    }
  }

 private:
  void ScanCrontab(const std::string& path, bool system_format) {
    auto text = ReadFile(ctx_.Path(path), kCronFileMaxBytes);
    if (!text.ok()) return;
    // A user's own crontab is written by that user: the agent (root) reads the script it names
    // only when that user could read it too (its owner, or readable by everyone), so a crontab
    // line cannot make the agent read a file the user may not (/root/.pgpass) into the inventory.
    const bool users_own = !system_format;
    struct stat crontab_stat {};
    const bool have_owner = ::stat(ctx_.Path(path).c_str(), &crontab_stat) == 0;
    for (const CronEntry& entry : ParseCrontab(*text, system_format)) {
      std::vector<BackupCommand> commands = FindBackupCommands(entry.command);
      std::string script = ScriptOf(entry.command);
      struct stat script_stat {};
      const bool script_allowed =
          !users_own ||
          (have_owner && ::stat(ctx_.Path(script).c_str(), &script_stat) == 0 &&
           (script_stat.st_uid == crontab_stat.st_uid || (script_stat.st_mode & S_IROTH) != 0));
      if (commands.empty() && !script.empty() && script_allowed) commands = ScanScript(script);
      // Named as a backup: the script or program it runs ("/root/backup-1c.sh"), not any word
      // of the line ("find /var/backups -mtime +7 -delete" is a clean-up, not a backup).
      std::vector<std::string> first = ShellWords(entry.command, 1);
      const std::string& program = !script.empty() ? script
                                   : first.empty() ? entry.command
                                                   : first[0];
      AddJobs("cron:" + path + ":" + std::to_string(entry.line), entry.schedule,
              std::move(commands), NamedAsBackup(program));
    }
  }

  // The backup commands of a shell script, with its plain variables resolved.
  std::vector<BackupCommand> ScanScript(const std::string& path) {
    std::vector<BackupCommand> commands;
    auto text = ReadFile(ctx_.Path(path), kScriptMaxBytes);
    if (!text.ok() || text->find('\0') != std::string::npos) return commands;  // not a script
    std::map<std::string, std::string> variables;
    std::string logical;
    ForEachLine(*text, [&](std::string_view line) {
      std::string_view trimmed = TrimRight(line, " \t");
      if (!trimmed.empty() && trimmed.back() == '\\') {
        logical.append(trimmed.substr(0, trimmed.size() - 1)).append(" ");
        return;
      }
      logical.append(line);
      NoteAssignment(logical, &variables);
      for (auto& command : FindBackupCommands(logical)) {
        command.destination = Expand(command.destination, variables);
        command.target = Expand(command.target, variables);
        if (commands.size() < 32) commands.push_back(std::move(command));
      }
      logical.clear();
    });
    return commands;
  }

  void AppendCommands(const std::string& exec, std::vector<BackupCommand>* commands) {
    std::vector<BackupCommand> found = FindBackupCommands(exec);
    if (found.empty()) {
      std::string script = ScriptOf(exec);
      if (!script.empty()) found = ScanScript(script);
    }
    for (auto& command : found) commands->push_back(std::move(command));
  }

  std::vector<std::string> ServiceExecStart(const std::string& service) {
    for (const char* dir : kUnitDirs) {
      auto text = ReadFile(ctx_.Path(std::string(dir) + "/" + service), kUnitFileMaxBytes);
      if (text.ok()) return ParseExecStart(*text);
    }
    return {};
  }

  void AddJobs(const std::string& source, const std::string& schedule,
               std::vector<BackupCommand> commands, bool named_as_backup) {
    if (commands.empty() && named_as_backup) commands.push_back(BackupCommand{"script", "", ""});
    for (auto& command : commands) {
      if (jobs_.size() >= kMaxJobs) return;
      dozor::v1::BackupJob job;
      job.set_tool(command.tool);
      job.set_source(source);
      job.set_schedule(schedule);
      job.set_interval_seconds(ScheduleIntervalSeconds(schedule));
      job.set_target(command.target.substr(0, 1024));
      job.set_destination(command.destination.substr(0, 1024));
      job.set_instance_port(command.port);
      job.set_instance_data_directory(command.data_directory.substr(0, 1024));
      jobs_.push_back(std::move(job));
    }
  }

  // systemd's record of each timer job's last run: one `systemctl show` for all of them.
  void FillServiceResults() {
    if (services_.empty() || !ctx_.run_command) return;
    std::vector<std::string> argv = {
        "systemctl", "show", "--no-pager",
        "--property=Id,Result,ActiveState,ExecMainStatus,ExecMainStartTimestampMonotonic,"
        "ExecMainExitTimestampMonotonic"};
    for (const auto& [service, indexes] : services_) argv.push_back(service);
    auto output = ctx_.run_command(argv);
    if (!output.ok() || output->exit_code != 0) return;
    auto stat = ParseProcStat(ReadSmallFile(ctx_.Path("/proc/stat"), 1024 * 1024));
    int64_t boot_time = stat.ok() ? stat->boot_time : 0;
    for (const UnitRunState& unit : ParseSystemctlShow(output->stdout_text)) {
      auto found = services_.find(unit.id);
      if (found == services_.end()) continue;
      for (size_t index : found->second) {
        dozor::v1::BackupJob& job = jobs_[index];
        if (unit.active_state == "activating") {
          job.set_last_status("running");
          continue;
        }
        if (unit.exit_monotonic_us <= 0 || boot_time <= 0) continue;  // not run since boot
        int64_t ended = boot_time + unit.exit_monotonic_us / 1000000;
        job.set_last_run_time(ended);
        if (unit.result == "success") {
          job.set_last_status("ok");
          job.set_last_success_time(ended);
          job.set_freshness_source("service");
        } else {
          job.set_last_status("failed");
          job.set_last_error("systemd: " + unit.id + " Result=" + unit.result + ", exit status " +
                             std::to_string(unit.exec_main_status));
        }
      }
    }
  }

  // One catalogue job per instance / stanza / server, from its backups' records.
  // `port` and `data_directory`: the instance it backs up, from the tool's configuration.
  void AddCatalog(const std::string& tool, const std::string& source,
                  const std::string& destination, const std::string& target,
                  const std::vector<CatalogBackup>& backups, uint32_t port = 0,
                  const std::string& data_directory = {}) {
    if (backups.empty() || catalogs_.size() >= kMaxJobs) return;
    dozor::v1::BackupJob job;
    job.set_tool(tool);
    job.set_instance_port(port);
    job.set_instance_data_directory(data_directory.substr(0, 1024));
    job.set_source("catalog:" + source);
    job.set_destination(destination);
    job.set_target(target);
    const CatalogBackup* last = nullptr;
    std::vector<int64_t> completed;
    for (const auto& backup : backups) {
      if (backup.status == "ok") completed.push_back(backup.end_time);
      if (backup.status == "ok" && backup.end_time > job.last_success_time()) {
        job.set_last_success_time(backup.end_time);
        job.set_freshness_source("catalog");
      }
      int64_t when = std::max(backup.start_time, backup.end_time);
      if (!backup.status.empty() &&
          (last == nullptr || when >= std::max(last->start_time, last->end_time))) {
        last = &backup;
      }
    }
    job.set_interval_seconds(TypicalInterval(std::move(completed)));
    if (last != nullptr) {
      job.set_last_status(last->status);
      job.set_last_run_time(std::max(last->start_time, last->end_time));
      job.set_last_error(last->error);
    }
    catalogs_.push_back(std::move(job));
  }

  void ScanPgProbackup(const std::string& backup_path) {
    std::string backups_dir = backup_path + "/backups";
    for (const auto& instance : ListNamesOrEmpty(ctx_.Path(backups_dir), kMaxCatalogEntries)) {
      std::vector<CatalogBackup> backups;
      std::string instance_dir = backups_dir + "/" + instance;
      for (const auto& id : ListNamesOrEmpty(ctx_.Path(instance_dir), kMaxCatalogEntries)) {
        std::string text =
            ReadSmallFile(ctx_.Path(instance_dir + "/" + id + "/backup.control"), 256 * 1024);
        if (text.empty()) continue;
        CatalogBackup backup = ParsePgProbackupControl(text);
        if (backup.status == "failed") {
          backup.error = "pg_probackup backup " + id + " has status ERROR/CORRUPT";
        }
        backups.push_back(std::move(backup));
      }
      // add-instance writes the cluster's data directory (and set-config its port) here.
      std::string conf = ReadSmallFile(ctx_.Path(instance_dir + "/pg_probackup.conf"), 64 * 1024);
      uint32_t port = 0;
      (void)ParseNumber(IniValue(conf, "pgport"), &port);
      AddCatalog("pg_probackup", backup_path, backup_path, instance, backups, port,
                 IniValue(conf, "pgdata"));
    }
  }

  // `config`: pgbackrest.conf, whose [stanza] section names the cluster (pg1-path, pg1-port).
  void ScanPgBackrest(const std::string& repo, const std::string& config) {
    std::string backup_dir = repo + "/backup";
    for (const auto& stanza : ListNamesOrEmpty(ctx_.Path(backup_dir), kMaxCatalogEntries)) {
      std::string info =
          ReadSmallFile(ctx_.Path(backup_dir + "/" + stanza + "/backup.info"), 4 * 1024 * 1024);
      if (info.empty()) continue;
      CatalogBackup newest;
      newest.end_time = NewestPgBackrestBackup(info);
      newest.status = newest.end_time > 0 ? "ok" : "";
      std::vector<CatalogBackup> backups;
      if (newest.end_time > 0) backups.push_back(newest);
      if (backups.empty()) {
        // A stanza with no completed backup: a catalogue that never worked.
        CatalogBackup none;
        none.status = "failed";
        none.error = "pgBackRest stanza " + stanza + " has no completed backup";
        backups.push_back(none);
      }
      uint32_t port = 0;
      (void)ParseNumber(IniSectionValue(config, stanza, "pg1-port"), &port);
      AddCatalog("pgbackrest", repo, repo, stanza, backups, port,
                 IniSectionValue(config, stanza, "pg1-path"));
    }
  }

  void ScanBarman(const std::string& home) {
    for (const auto& server : ListNamesOrEmpty(ctx_.Path(home), kMaxCatalogEntries)) {
      std::string base = home + "/" + server + "/base";
      if (!IsDirectory(ctx_.Path(base))) continue;
      std::vector<CatalogBackup> backups;
      for (const auto& id : ListNamesOrEmpty(ctx_.Path(base), kMaxCatalogEntries)) {
        std::string text = ReadSmallFile(ctx_.Path(base + "/" + id + "/backup.info"), 256 * 1024);
        if (!text.empty()) backups.push_back(ParseBarmanBackupInfo(text));
      }
      // /etc/barman.d/<server>.conf: [server] conninfo = host=… port=…
      std::string conf = ReadSmallFile(ctx_.Path("/etc/barman.d/" + server + ".conf"), 64 * 1024);
      PostgresConninfo conninfo = ParsePostgresConninfo(IniSectionValue(conf, server, "conninfo"));
      AddCatalog("barman", home, home, server, backups, conninfo.port);
    }
  }

  const CollectContext& ctx_;
  std::vector<dozor::v1::BackupJob> jobs_;
  std::vector<dozor::v1::BackupJob> catalogs_;
  std::vector<bool> used_;                               // catalogs_ merged into a job
  std::map<std::string, std::vector<size_t>> services_;  // service -> indexes into jobs_
};

}  // namespace backup_scan
}  // namespace

Status CollectBackupJobs(const CollectContext& ctx, dozor::v1::Software* out) {
  backup_scan::BackupJobFinder finder(ctx);
  finder.ScanCron();
  finder.ScanTimers();
  finder.ScanCatalogs();
  finder.MergeCatalogs();
  finder.FillArtefactTimes();
  finder.Emit(out);
  return OkStatus();
}

}  // namespace dozor::agent
