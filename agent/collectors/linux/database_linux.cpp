// PostgreSQL instances of a Linux host: where their configuration is (the running postmasters'
// command lines, Debian's /etc/postgresql/<version>/<cluster>, the RHEL and Postgres Pro data
// directories), what they listen on, who pg_hba.conf lets in, whether autovacuum is on and
// whether the build is one for 1C. The standard two-tier 1C layout has PostgreSQL listening for
// the 1C server on another host: whether that is a weak spot depends on pg_hba.conf, not on the
// listening socket alone.
#include "collectors/linux/database_linux.hpp"

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "collectors/linux/fs_util.hpp"
#include "collectors/parsers/database_parsers.hpp"
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
  }
  return OkStatus();
}

}  // namespace dozor::agent
