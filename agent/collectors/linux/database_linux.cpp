// PostgreSQL instances of a Linux host: where their configuration is (the running postmasters'
// command lines, Debian's /etc/postgresql/<version>/<cluster>, the RHEL and Postgres Pro data
// directories), what they listen on, who pg_hba.conf lets in, whether autovacuum is on and
// whether the build is one for 1C. The standard two-tier 1C layout has PostgreSQL listening for
// the 1C server on another host: whether that is a weak spot depends on pg_hba.conf, not on the
// listening socket alone.
#include "collectors/linux/database_linux.hpp"

#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "collectors/linux/command_util.hpp"
#include "collectors/linux/fs_util.hpp"
#include "collectors/parsers/backup_parsers.hpp"
#include "collectors/parsers/database_parsers.hpp"
#include "collectors/parsers/health_parsers.hpp"
#include "dozor/common/files.hpp"

namespace dozor::agent {
namespace {
namespace database_scan {

constexpr size_t kConfMaxBytes = 1024 * 1024;
constexpr size_t kMaxInstances = 32;
constexpr size_t kMaxIncludedFiles = 64;
constexpr size_t kMaxListedEntries = 256;

std::string Directory(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos || slash == 0 ? "/" : path.substr(0, slash);
}

std::string Resolve(const std::string& path, const std::string& relative_to) {
  if (path.empty() || path[0] == '/') return path;
  return relative_to + "/" + path;
}

// Settings of a configuration file and the files it includes (one level), in the order
// PostgreSQL applies them.
void ReadSettings(const CollectContext& ctx, const std::string& path, int depth,
                  std::vector<std::pair<std::string, std::string>>* settings, size_t* files) {
  if (depth > 2 || ++*files > kMaxIncludedFiles) return;
  std::string text = ReadSmallFile(ctx.Path(path), kConfMaxBytes);
  const std::string dir = Directory(path);
  for (auto& [name, value] : ParsePostgresConf(text)) {
    if (name == "include" || name == "include_if_exists") {
      ReadSettings(ctx, Resolve(value, dir), depth + 1, settings, files);
    } else if (name == "include_dir") {
      const std::string included = Resolve(value, dir);
      std::vector<std::string> names = ListNamesOrEmpty(ctx.Path(included), kMaxListedEntries);
      std::sort(names.begin(), names.end());
      for (const auto& file : names) {
        if (file.size() > 5 && file.compare(file.size() - 5, 5, ".conf") == 0 && file[0] != '.') {
          ReadSettings(ctx, included + "/" + file, depth + 1, settings, files);
        }
      }
    } else {
      settings->emplace_back(std::move(name), std::move(value));
    }
  }
}

std::string Setting(const std::vector<std::pair<std::string, std::string>>& settings,
                    std::string_view name, std::string fallback) {
  for (auto it = settings.rbegin(); it != settings.rend(); ++it) {
    if (it->first == name) return it->second;
  }
  return fallback;
}

bool IsOff(std::string value) {
  value = Lower(value);
  return value == "off" || value == "false" || value == "no" || value == "0";
}

// The value of "-D DIR" / "config_file=PATH" in a postmaster's command line.
std::string ArgumentAfter(const std::string& command, std::string_view flag) {
  std::vector<std::string_view> words = SplitWords(command);
  for (size_t i = 0; i < words.size(); ++i) {
    if (words[i] == flag && i + 1 < words.size()) return std::string(words[i + 1]);
    if (words[i].substr(0, flag.size()) == flag && words[i].size() > flag.size() &&
        words[i][flag.size()] == '=') {
      return std::string(words[i].substr(flag.size() + 1));
    }
  }
  return {};
}

bool IsPostmaster(const dozor::v1::Process& process) {
  return process.name() == "postgres" || process.name() == "postmaster";
}

constexpr size_t kMaxPsqlOutputBytes = 256 * 1024;
constexpr size_t kMaxDatabases = 1000;
constexpr size_t kMaxDumpDirectories = 16;
constexpr size_t kMaxDumpEntries = 4096;

// The filesystem holding the data directory: the longest mount point of /proc/mounts that
// contains it, and statvfs of the directory itself.
void FillDataFilesystem(const CollectContext& ctx, dozor::v1::DatabaseServer* server) {
  const std::string& data = server->data_directory();
  if (data.empty() || data[0] != '/') return;
  auto mounts_text = ReadFile(ctx.Path("/proc/mounts"), 4 * 1024 * 1024);
  if (mounts_text.ok()) {
    auto mounts = ParseMounts(*mounts_text);
    if (mounts.ok()) {
      std::string best;
      for (const MountEntry& mount : *mounts) {
        const std::string& point = mount.mount_point;
        const bool contains =
            point == "/" || data == point ||
            (data.size() > point.size() && data.compare(0, point.size(), point) == 0 &&
             data[point.size()] == '/');
        if (contains && point.size() >= best.size()) best = point;
      }
      server->set_data_mount_point(best);
    }
  }
  struct statvfs vfs {};
  if (::statvfs(ctx.Path(data).c_str(), &vfs) == 0 && vfs.f_blocks > 0) {
    const uint64_t unit = vfs.f_frsize != 0 ? vfs.f_frsize : vfs.f_bsize;
    server->set_data_fs_total_bytes(static_cast<uint64_t>(vfs.f_blocks) * unit);
    server->set_data_fs_available_bytes(static_cast<uint64_t>(vfs.f_bavail) * unit);
  }
}

// The databases of a running instance, through psql over the local socket: as the postgres
// user (runuser) when the agent runs as root, else as the agent's own account (peer
// authentication against a role of the same name, which the packaged
// /usr/lib/dozor-agent/postgres-role script creates with pg_monitor; docs/install-agent.md). -w:
// never wait for a password. Why they are unknown goes to `unavailable`.
void ListDatabases(const CollectContext& ctx,
                   const std::vector<std::pair<std::string, std::string>>& settings,
                   dozor::v1::DatabaseServer* server, dozor::v1::Software* out) {
  const std::string label = "postgresql " + std::to_string(server->port()) + ": databases";
  if (!server->running()) {
    out->add_unavailable(label + " unknown: the instance does not run");
    return;
  }
  std::vector<std::string> argv;
  if (ctx.IsRealRoot() && ::geteuid() == 0) argv = {"runuser", "-u", "postgres", "--"};
  argv.insert(argv.end(), {"env", "PGCONNECT_TIMEOUT=5", "psql", "-XAtqw", "-d", "postgres", "-p",
                           std::to_string(server->port())});
  std::string sockets = Setting(settings, "unix_socket_directories", "");
  if (sockets.empty()) sockets = Setting(settings, "unix_socket_directory", "");
  const std::string socket = std::string(Trim(sockets.substr(0, sockets.find(','))));
  if (!socket.empty() && socket[0] == '/') argv.insert(argv.end(), {"-h", socket});
  argv.insert(argv.end(), {"-c",
                           "set statement_timeout = 10000; select datname, pg_database_size(oid) "
                           "from pg_database where not datistemplate and datallowconn order by 1"});
  auto output = RunCommandOrFixture(ctx, argv, "psql-databases-" + std::to_string(server->port()),
                                    kMaxPsqlOutputBytes);
  if (!output.ok()) {
    out->add_unavailable(label + " unknown: psql: " + output.error().message);
    return;
  }
  if (output->exit_code == 2) {
    // psql's "could not connect": on a packaged install, no role for the agent yet.
    out->add_unavailable(label +
                         " unknown: psql exit 2, PostgreSQL refused the agent (no role for it, or "
                         "pg_hba.conf without peer): run /usr/lib/dozor-agent/postgres-role grant");
    return;
  }
  if (output->exit_code != 0) {
    out->add_unavailable(label + " unknown: psql exit " + std::to_string(output->exit_code));
    return;
  }
  server->set_databases_listed(true);
  for (PsqlDatabase& database : ParsePsqlDatabases(output->stdout_text, kMaxDatabases)) {
    auto* info = server->add_databases();
    info->set_name(std::move(database.name));
    info->set_size_bytes(database.size_bytes);
  }
}

std::string WithoutTrailingSlash(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

// Whether a PostgreSQL backup job is about this instance: by the data directory or the port
// the job (or its tool's configuration) names. A job that names neither connects to libpq's
// default port, 5432; on a host with one instance it is taken to be about that one (a PGPORT
// set where the agent cannot see, a service file).
bool JobAboutInstance(const dozor::v1::BackupJob& job, const dozor::v1::DatabaseServer& server,
                      size_t instances) {
  if (!job.instance_data_directory().empty()) {
    return WithoutTrailingSlash(job.instance_data_directory()) ==
           WithoutTrailingSlash(server.data_directory());
  }
  if (job.instance_port() != 0) return job.instance_port() == server.port();
  return instances <= 1 || server.port() == 5432;
}

// Per database, the newest file whose name carries its name in the local destinations of the
// host's dump jobs (pg_dump, scripts, 1C uploads; not the catalogue tools' repositories) and
// one level below them. pg_dump's files count only for the instance it dumps.
void FindNewestDumps(const CollectContext& ctx, const dozor::v1::Software& software,
                     size_t instances, dozor::v1::DatabaseServer* server) {
  if (server->databases_size() == 0) return;
  std::map<std::string, std::string> directories;  // destination -> the job's source
  for (const auto& job : software.backup_jobs()) {
    if (job.tool() == "pg_probackup" || job.tool() == "pgbackrest" || job.tool() == "barman" ||
        job.tool() == "wal-g" || job.tool() == "restic" || job.tool() == "borg") {
      continue;
    }
    if ((job.tool() == "pg_dump" || job.tool() == "pg_dumpall") &&
        !JobAboutInstance(job, *server, instances)) {
      continue;
    }
    std::string dir = LocalDestinationDirectory(job.destination());
    if (!dir.empty() && dir != "/" && directories.size() < kMaxDumpDirectories) {
      directories.emplace(dir, job.source());
    }
  }
  size_t budget = kMaxDumpEntries;
  auto consider = [&](const std::string& path, const std::string& name, const std::string& job) {
    struct stat st {};
    if (::stat(ctx.Path(path).c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return;
    for (auto& database : *server->mutable_databases()) {
      if (FileNameCarriesDatabase(name, database.name()) &&
          static_cast<int64_t>(st.st_mtime) > database.newest_dump_time()) {
        database.set_newest_dump_time(static_cast<int64_t>(st.st_mtime));
        database.set_newest_dump_path(path);
        database.set_newest_dump_job(job);
      }
    }
  };
  for (const auto& [dir, job] : directories) {
    for (const auto& name : ListNamesOrEmpty(ctx.Path(dir), budget)) {
      if (budget == 0) break;
      --budget;
      const std::string path = dir + "/" + name;
      if (IsDirectory(ctx.Path(path))) {
        for (const auto& inner : ListNamesOrEmpty(ctx.Path(path), budget)) {
          if (budget == 0) break;
          --budget;
          consider(path + "/" + inner, inner, job);
        }
      } else {
        consider(path, name, job);
      }
    }
  }
}

bool CoversEveryDatabase(const std::string& tool) {
  return tool == "pg_probackup" || tool == "pgbackrest" || tool == "barman" || tool == "wal-g" ||
         tool == "pg_basebackup" || tool == "pg_dumpall";
}

// A pg_dump job's or 1C upload's target naming the database: "buh", or a server infobase
// "srv-1c\buh" whose database has the infobase's name (1C's default).
bool TargetNames(const std::string& target, const std::string& database) {
  const std::string t = Lower(target);
  const std::string d = Lower(database);
  if (t == d) return true;
  return t.size() > d.size() && t.compare(t.size() - d.size(), d.size(), d) == 0 &&
         t[t.size() - d.size() - 1] == '\\';
}

// Each database's newest backup among the jobs that cover it and its newest dump file.
// `instances`: how many PostgreSQL instances the host has (a job of unknown instance is taken
// to cover the only one).
void MatchBackups(const dozor::v1::Software& software, size_t instances,
                  dozor::v1::DatabaseServer* server) {
  for (auto& database : *server->mutable_databases()) {
    auto offer = [&](int64_t time, const std::string& source, int64_t interval) {
      if (time > database.last_backup_time()) {
        database.set_last_backup_time(time);
        database.set_last_backup_source(source);
        database.set_last_backup_interval_seconds(interval);
      }
    };
    for (const auto& job : software.backup_jobs()) {
      const bool postgres_tool = CoversEveryDatabase(job.tool()) || job.tool() == "pg_dump";
      if (postgres_tool && !JobAboutInstance(job, *server, instances)) continue;
      const bool covers =
          CoversEveryDatabase(job.tool()) ||
          ((job.tool() == "pg_dump" || job.tool() == "1c-dumpib" || job.tool() == "1c-ibcmd") &&
           TargetNames(job.target(), database.name()));
      if (!covers) continue;
      if (job.last_success_time() == 0) {
        database.set_covered_without_freshness(true);
        continue;
      }
      std::string source = job.tool();
      if (!job.target().empty()) source += " " + job.target();
      offer(job.last_success_time(), source + " (" + job.source() + ")", job.interval_seconds());
    }
    if (database.newest_dump_time() > 0) {
      int64_t interval = 0;
      for (const auto& job : software.backup_jobs()) {
        if (job.source() == database.newest_dump_job()) interval = job.interval_seconds();
      }
      offer(database.newest_dump_time(), "file " + database.newest_dump_path(), interval);
    }
  }
}

}  // namespace database_scan
}  // namespace

Status CollectDatabaseServers(const CollectContext& ctx, dozor::v1::Software* out) {
  using namespace database_scan;  // NOLINT(google-build-using-namespace)
  // Configuration files: the running postmasters' first, then the distributions' layouts.
  std::vector<std::string> configs;
  auto add = [&](const std::string& path) {
    if (std::find(configs.begin(), configs.end(), path) == configs.end() &&
        PathExists(ctx.Path(path))) {
      configs.push_back(path);
    }
  };
  for (const auto& process : out->processes()) {
    if (!IsPostmaster(process)) continue;
    std::string config = ArgumentAfter(process.command(), "config_file");
    if (config.empty()) config = ArgumentAfter(process.command(), "-c");
    if (config.rfind("config_file=", 0) == 0) config = config.substr(12);
    if (!config.empty()) add(config);
    std::string data = ArgumentAfter(process.command(), "-D");
    if (!data.empty()) add(data + "/postgresql.conf");
  }
  for (const auto& version : ListNamesOrEmpty(ctx.Path("/etc/postgresql"), kMaxListedEntries)) {
    for (const auto& cluster :
         ListNamesOrEmpty(ctx.Path("/etc/postgresql/" + version), kMaxListedEntries)) {
      add("/etc/postgresql/" + version + "/" + cluster + "/postgresql.conf");
    }
  }
  for (const auto& version : ListNamesOrEmpty(ctx.Path("/var/lib/pgsql"), kMaxListedEntries)) {
    add("/var/lib/pgsql/" + version + "/data/postgresql.conf");
  }
  add("/var/lib/pgsql/data/postgresql.conf");
  for (const auto& build : ListNamesOrEmpty(ctx.Path("/var/lib/pgpro"), kMaxListedEntries)) {
    add("/var/lib/pgpro/" + build + "/data/postgresql.conf");
  }

  bool onec_package = false;
  for (const auto& package : out->packages()) {
    std::string name = Lower(package.name());
    if ((name.find("postgres") != std::string::npos) && name.find("1c") != std::string::npos) {
      onec_package = true;
    }
  }

  for (const auto& config : configs) {
    if (static_cast<size_t>(out->database_servers_size()) >= kMaxInstances) break;
    std::vector<std::pair<std::string, std::string>> settings;
    size_t files = 0;
    ReadSettings(ctx, config, 0, &settings, &files);
    const std::string config_dir = Directory(config);
    std::string data = Setting(settings, "data_directory", config_dir);
    // ALTER SYSTEM's settings override the file's (readable when the agent runs as root).
    ReadSettings(ctx, data + "/postgresql.auto.conf", 0, &settings, &files);

    auto* server = out->add_database_servers();
    server->set_kind("postgresql");
    server->set_config_path(config);
    server->set_data_directory(data);
    server->set_listen_addresses(Setting(settings, "listen_addresses", "localhost"));
    uint32_t port = 5432;
    (void)ParseNumber(Setting(settings, "port", "5432"), &port);
    server->set_port(port);
    server->set_autovacuum(!IsOff(Setting(settings, "autovacuum", "on")));
    // The version: Debian's /etc/postgresql/<version>/..., RHEL's /var/lib/pgsql/<version>/...,
    // or PG_VERSION in the data directory.
    std::string version = ReadTrimmedFile(ctx.Path(data + "/PG_VERSION"));
    if (version.empty()) {
      for (std::string_view part : Split(config, '/')) {
        if (!part.empty() && std::all_of(part.begin(), part.end(), [](char c) {
              return (c >= '0' && c <= '9') || c == '.';
            })) {
          version = std::string(part);
          break;
        }
      }
    }
    server->set_version(version);
    server->set_onec_build(onec_package || Lower(config).find("1c") != std::string::npos);
    for (const auto& process : out->processes()) {
      if (IsPostmaster(process) && (process.command().find(data) != std::string::npos ||
                                    process.command().find(config) != std::string::npos)) {
        server->set_running(true);
      }
    }
    const std::string hba =
        Resolve(Setting(settings, "hba_file", config_dir + "/pg_hba.conf"), config_dir);
    auto text = ReadFile(ctx.Path(hba), kConfMaxBytes);
    if (text.ok()) {
      server->set_hba_path(hba);
      for (const HbaEntry& entry : ParsePgHba(*text)) {
        auto* rule = server->add_hba_rules();
        rule->set_line(static_cast<uint32_t>(entry.line));
        rule->set_type(entry.type);
        rule->set_database(entry.database);
        rule->set_user(entry.user);
        rule->set_address(entry.address);
        rule->set_method(entry.method);
      }
    }
    FillDataFilesystem(ctx, server);
    ListDatabases(ctx, settings, server, out);
  }
  // Backups once every instance is known: a job of unknown instance covers the only one. Only
  // running instances count when any runs: the configuration of a cluster left behind by an
  // upgrade (pg_upgradecluster keeps the old one, stopped) is not a second instance to back up.
  const auto postgres = [](const dozor::v1::DatabaseServer& server) {
    return server.kind() == "postgresql";
  };
  const auto& servers = out->database_servers();
  const auto running =
      static_cast<size_t>(std::count_if(servers.begin(), servers.end(), [&](const auto& server) {
        return postgres(server) && server.running();
      }));
  const size_t instances =
      running > 0 ? running
                  : static_cast<size_t>(std::count_if(servers.begin(), servers.end(), postgres));
  for (auto& server : *out->mutable_database_servers()) {
    if (!postgres(server)) continue;
    FindNewestDumps(ctx, *out, instances, &server);
    MatchBackups(*out, instances, &server);
  }
  return OkStatus();
}

}  // namespace dozor::agent
