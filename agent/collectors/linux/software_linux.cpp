// Linux software inventory: dpkg and rpm packages, 1C:Enterprise platform
// installs (and whether their cluster runs; its processes, rac, tech log and licensing in
// onec_linux.cpp), systemd services, backup jobs (backup_linux.cpp)
// and the process list (process_linux.cpp). Each part is isolated: one that
// fails is named in the returned error while the others still fill `out`.
#include <sys/stat.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <system_error>

#include "collectors/collector.hpp"
#include "collectors/linux/backup_linux.hpp"
#include "collectors/linux/database_linux.hpp"
#include "collectors/linux/fs_util.hpp"
#include "collectors/linux/onec_linux.hpp"
#include "collectors/linux/process_linux.hpp"
#include "collectors/parsers/package_parsers.hpp"
#include "collectors/parsers/repository_parsers.hpp"
#include "dozor/common/files.hpp"
#include "dozor/common/sqlite.hpp"

namespace dozor::agent {
namespace {

// A large Debian desktop's status file is ~10 MB, a 20,000-package machine's ~34 MB; 256 MB
// means something is badly wrong.
constexpr size_t kDpkgStatusMaxBytes = 256 * 1024 * 1024;
constexpr size_t kUnitFileMaxBytes = 1024 * 1024;
constexpr size_t kMaxUnits = 20000;
constexpr size_t kMaxRpmPackages = 200000;

// dpkg keeps no install time; the mtime of info/<name>.list (written when the
// package's files are unpacked) is the closest record. One stat per package: ~1
// ms for ~900 packages when cached.
void FillDpkgInstallTimes(const CollectContext& ctx,
                          google::protobuf::RepeatedPtrField<dozor::v1::Package>* packages,
                          int first) {
  std::string info = ctx.Path("/var/lib/dpkg/info").string() + "/";
  std::string path;
  struct stat st {};
  for (int i = first; i < packages->size(); ++i) {
    dozor::v1::Package& package = *packages->Mutable(i);
    path.assign(info).append(package.name()).append(".list");
    bool found = ::stat(path.c_str(), &st) == 0;
    if (!found) {
      path.assign(info)
          .append(package.name())
          .append(":")
          .append(package.architecture())
          .append(".list");
      found = ::stat(path.c_str(), &st) == 0;
    }
    if (found) package.set_install_time(static_cast<int64_t>(st.st_mtime));
  }
}

Status CollectDpkg(const CollectContext& ctx, dozor::v1::Software* out) {
  auto path = ctx.Path("/var/lib/dpkg/status");
  if (!PathExists(path)) return OkStatus();  // not a dpkg system
  // Streamed straight into the inventory: neither the file (34 MB at 20,000 packages) nor a
  // second list of the packages is ever held.
  const int first = out->packages_size();
  DpkgStatusParser parser(out->mutable_packages());
  Status read = ReadFileInChunks(path, kDpkgStatusMaxBytes,
                                 [&parser](std::string_view chunk) { parser.Feed(chunk); });
  Status parsed = parser.Finish();
  if (!read.ok()) return read.error();
  if (!parsed.ok()) return parsed.error().Wrap(path.string());
  FillDpkgInstallTimes(ctx, out->mutable_packages(), first);
  return OkStatus();
}

constexpr size_t kRepositoryFileMaxBytes = 1024 * 1024;
constexpr size_t kMaxRepositoryFiles = 200;

bool HasSuffix(std::string_view name, std::string_view suffix) {
  return name.size() > suffix.size() && name.substr(name.size() - suffix.size()) == suffix;
}

// APT's sources (one-line and deb822) and YUM/DNF's .repo files; a file that cannot be read is
// skipped (the rest still tell the auditor what the machine installs from).
Status CollectRepositories(const CollectContext& ctx, dozor::v1::Software* out) {
  using Parser = std::vector<dozor::v1::PackageRepository> (*)(std::string_view, std::string_view);
  auto add_file = [&](const std::string& file, Parser parse) {
    auto text = ReadFile(ctx.Path(file), kRepositoryFileMaxBytes);
    if (!text.ok()) return;
    for (auto& repository : parse(*text, file)) *out->add_repositories() = std::move(repository);
  };
  add_file("/etc/apt/sources.list", &ParseAptSourcesList);
  for (const std::string& name :
       ListNamesOrEmpty(ctx.Path("/etc/apt/sources.list.d"), kMaxRepositoryFiles)) {
    if (HasSuffix(name, ".list")) {
      add_file("/etc/apt/sources.list.d/" + name, &ParseAptSourcesList);
    } else if (HasSuffix(name, ".sources")) {
      add_file("/etc/apt/sources.list.d/" + name, &ParseAptDeb822Sources);
    }
  }
  for (const std::string& name :
       ListNamesOrEmpty(ctx.Path("/etc/yum.repos.d"), kMaxRepositoryFiles)) {
    if (HasSuffix(name, ".repo")) add_file("/etc/yum.repos.d/" + name, &ParseYumRepo);
  }
  return OkStatus();
}

Status CollectRpm(const CollectContext& ctx, dozor::v1::Software* out) {
  std::filesystem::path sqlite_path;
  for (const char* candidate :
       {"/var/lib/rpm/rpmdb.sqlite", "/usr/lib/sysimage/rpm/rpmdb.sqlite"}) {
    if (PathExists(ctx.Path(candidate))) {
      sqlite_path = ctx.Path(candidate);
      break;
    }
  }
  if (sqlite_path.empty()) {
    if (PathExists(ctx.Path("/var/lib/rpm/Packages"))) {
      return MakeError(ErrorCode::kFailedPrecondition, "rpm BerkeleyDB database not supported");
    }
    if (PathExists(ctx.Path("/var/lib/rpm/Packages.db")) ||
        PathExists(ctx.Path("/usr/lib/sysimage/rpm/Packages.db"))) {
      return MakeError(ErrorCode::kFailedPrecondition, "rpm ndb database not supported");
    }
    return OkStatus();  // not an rpm system
  }
  sqlite::OpenOptions options;
  options.create = false;
  options.read_only = true;
  options.wal = false;
  DOZOR_ASSIGN_OR_RETURN(auto db, sqlite::Database::Open(sqlite_path, options));
  DOZOR_ASSIGN_OR_RETURN(auto statement, db.Prepare("SELECT hnum, blob FROM Packages"));
  size_t bad_headers = 0;
  std::string first_bad;
  for (size_t rows = 0; rows < kMaxRpmPackages; ++rows) {
    DOZOR_ASSIGN_OR_RETURN(bool has_row, statement.Step());
    if (!has_row) break;
    auto package = ParseRpmHeader(statement.Blob(1));
    if (!package.ok()) {
      if (bad_headers++ == 0) {
        first_bad = "hnum " + std::to_string(statement.Int(0)) + ": " + package.error().message;
      }
      continue;
    }
    if (package->name() == "gpg-pubkey") continue;  // imported signing keys, not software
    *out->add_packages() = std::move(package).value();
  }
  if (bad_headers > 0) {
    return MakeError(
        ErrorCode::kDataLoss,
        std::to_string(bad_headers) + " unreadable rpm headers (first: " + first_bad + ")");
  }
  return OkStatus();
}

OneCBinaries ProbeOneC(const std::filesystem::path& dir) {
  OneCBinaries binaries;
  binaries.ragent = PathExists(dir / "ragent");
  binaries.rphost = PathExists(dir / "rphost");
  binaries.client = PathExists(dir / "1cv8");
  binaries.thin_client = PathExists(dir / "1cv8c");
  return binaries;
}

// `host_dir` is the path as seen on the host (what the report shows), not under
// a fixture root.
void AddOneC(const CollectContext& ctx, dozor::v1::Software* out, const std::string& version,
             const std::string& arch, const std::string& host_dir) {
  auto* app = out->add_applications();
  app->set_name("1C:Enterprise");
  app->set_version(version);
  app->set_architecture(arch);
  app->set_path(host_dir);
  app->set_kind(OneCKind(ProbeOneC(ctx.Path(host_dir))));
}

Status CollectOneC(const CollectContext& ctx, dozor::v1::Software* out) {
  // Current layout: /opt/1cv8/<arch>/<version>/.
  for (const auto& arch : ListNamesOrEmpty(ctx.Path("/opt/1cv8"))) {
    for (const auto& version : ListNamesOrEmpty(ctx.Path("/opt/1cv8/" + arch))) {
      std::string host_dir = "/opt/1cv8/" + arch + "/" + version;
      if (LooksLikeOneCVersion(version) && IsDirectory(ctx.Path(host_dir))) {
        AddOneC(ctx, out, version, arch, host_dir);
      }
    }
  }
  // Older layout: /opt/1C/v8.3/<arch>/, one platform at a time; the version
  // lives only in the package that installed it.
  std::string package_version;
  for (const auto& package : out->packages()) {
    std::string version = OneCVersionFromPackage(package);
    if (!version.empty()) {
      package_version = version;
      break;
    }
  }
  for (const auto& branch : ListNamesOrEmpty(ctx.Path("/opt/1C"))) {
    if (branch.size() < 3 || branch[0] != 'v' || branch[1] != '8') continue;
    for (const auto& arch : ListNamesOrEmpty(ctx.Path("/opt/1C/" + branch))) {
      std::string host_dir = "/opt/1C/" + branch + "/" + arch;
      if (!IsDirectory(ctx.Path(host_dir))) continue;
      std::string version =
          package_version.rfind(branch.substr(1), 0) == 0 ? package_version : branch.substr(1);
      AddOneC(ctx, out, version, arch, host_dir);
    }
  }
  return OkStatus();
}

struct UnitFile {
  std::filesystem::path path;  // resolved under ctx.root
  bool masked = false;
};

bool IsServiceName(const std::string& name) {
  constexpr std::string_view kSuffix = ".service";
  return name.size() > kSuffix.size() &&
         name.compare(name.size() - kSuffix.size(), kSuffix.size(), kSuffix) == 0;
}

// Unit and template files by name, first directory wins (/etc over /run over
// vendor dirs).
void FindUnitFiles(const CollectContext& ctx, std::map<std::string, UnitFile>* units) {
  for (const char* dir : {"/etc/systemd/system", "/run/systemd/system", "/lib/systemd/system",
                          "/usr/lib/systemd/system"}) {
    for (const auto& name : ListNamesOrEmpty(ctx.Path(dir))) {
      if (!IsServiceName(name) || units->count(name) != 0 || units->size() >= kMaxUnits) continue;
      std::filesystem::path path = ctx.Path(dir) / name;
      std::error_code ec;
      if (std::filesystem::is_symlink(path, ec)) {
        std::filesystem::path target = std::filesystem::read_symlink(path, ec);
        if (target == "/dev/null") {
          (*units)[name] = UnitFile{path, true};
          continue;
        }
        // An alias (sshd.service -> ssh.service) is listed under its real name.
        if (target.filename() != name) continue;
        path = target.is_absolute() ? ctx.Path(target.string()) : path.parent_path() / target;
      }
      (*units)[name] = UnitFile{path, false};
    }
  }
}

// Names linked from /etc/systemd/system/*.wants and *.requires: the enabled
// units.
std::set<std::string> EnabledUnits(const CollectContext& ctx) {
  std::set<std::string> enabled;
  std::filesystem::path etc = ctx.Path("/etc/systemd/system");
  for (const auto& dir : ListNamesOrEmpty(etc)) {
    bool wants = dir.size() > 6 && dir.compare(dir.size() - 6, 6, ".wants") == 0;
    bool requires_dir = dir.size() > 9 && dir.compare(dir.size() - 9, 9, ".requires") == 0;
    if (!wants && !requires_dir) continue;
    for (auto& name : ListNamesOrEmpty(etc / dir)) enabled.insert(std::move(name));
  }
  return enabled;
}

std::string UnitDescription(std::string_view text) {
  bool in_unit = false;
  LineReader lines(text);
  std::string_view line;
  while (lines.Next(&line)) {
    line = TrimRight(line, "\r ");
    if (!line.empty() && line.front() == '[') {
      in_unit = line == "[Unit]";
    } else if (in_unit && line.rfind("Description=", 0) == 0) {
      return std::string(line.substr(12));
    }
  }
  return {};
}

Status CollectServices(const CollectContext& ctx, dozor::v1::Software* out) {
  std::map<std::string, UnitFile> files;
  FindUnitFiles(ctx, &files);
  std::set<std::string> enabled = EnabledUnits(ctx);

  std::map<std::string, UnitState> states;
  bool have_states = false;
  if (ctx.run_command) {
    auto output = ctx.run_command({"systemctl", "list-units", "--type=service", "--all",
                                   "--no-legend", "--no-pager", "--plain"});
    // Missing systemctl or a host not booted with systemd (containers): states
    // stay unknown.
    if (output.ok() && output->exit_code == 0) {
      have_states = true;
      for (auto& unit : ParseSystemctlListUnits(output->stdout_text)) {
        if (IsServiceName(unit.unit)) states[unit.unit] = std::move(unit);
      }
    }
  }

  std::set<std::string> names;
  for (const auto& [name, file] : files) {
    if (name.find("@.") == std::string::npos) names.insert(name);  // templates are not services
  }
  for (const auto& [name, state] : states) names.insert(name);

  for (const auto& name : names) {
    auto* service = out->add_services();
    service->set_name(name);
    std::string description;
    std::string enablement = "unknown";
    auto file = files.find(name);
    if (file == files.end()) {
      // An instance (getty@tty1.service) takes its [Install] from the template.
      size_t at = name.find('@');
      if (at != std::string::npos) file = files.find(name.substr(0, at + 1) + ".service");
    }
    if (file != files.end() && file->second.masked) {
      enablement = "masked";
    } else if (file != files.end()) {
      auto text = ReadFile(file->second.path, kUnitFileMaxBytes);
      if (text.ok()) {
        description = UnitDescription(*text);
        enablement = UnitFileHasInstallSection(*text) ? "disabled" : "static";
      }
    }
    if (enablement != "masked" && enabled.count(name) != 0) enablement = "enabled";
    service->set_enabled(enablement);

    auto state = states.find(name);
    if (state != states.end()) {
      service->set_load_state(state->second.load_state);
      service->set_active_state(state->second.active_state);
      service->set_sub_state(state->second.sub_state);
      if (!state->second.description.empty()) description = state->second.description;
    } else if (have_states) {
      // list-units --all shows every loaded unit; one on disk but absent is
      // simply not loaded.
      service->set_load_state(enablement == "masked" ? "masked" : "not-loaded");
      service->set_active_state("inactive");
      service->set_sub_state("dead");
    } else {
      service->set_load_state("unknown");
      service->set_active_state("unknown");
      service->set_sub_state("unknown");
    }
    service->set_description(description);
  }
  return OkStatus();
}

}  // namespace

Status CollectSoftware(const CollectContext& ctx, dozor::v1::Software* out) {
  std::vector<std::string> errors;
  auto run_part = [&](const char* part, auto&& fn) {
    try {
      Status status = fn();
      if (!status.ok()) errors.push_back(std::string(part) + ": " + status.error().message);
    } catch (const std::exception& e) {
      errors.push_back(std::string(part) + ": " + e.what());
    }
  };
  run_part("dpkg", [&] { return CollectDpkg(ctx, out); });
  run_part("rpm", [&] { return CollectRpm(ctx, out); });
  run_part("repositories", [&] { return CollectRepositories(ctx, out); });
  run_part("applications", [&] { return CollectOneC(ctx, out); });
  run_part("services", [&] { return CollectServices(ctx, out); });
  run_part("backups", [&] { return CollectBackupJobs(ctx, out); });
  run_part("processes", [&] { return CollectProcesses(ctx, out); });
  // Installed is not running: a 1C server counts as one when its cluster runs.
  MarkRunningOneCServers(out);
  // The running cluster's depth (processes, rac), its technological logs and its licensing.
  run_part("1c cluster", [&] { return CollectOneCServerAgents(ctx, out); });
  run_part("1c tech log", [&] { return CollectOneCTechLogs(ctx, out); });
  run_part("1c licensing", [&] { return CollectOneCLicensing(ctx, out); });
  run_part("databases", [&] { return CollectDatabaseServers(ctx, out); });
  if (errors.empty()) return OkStatus();
  return MakeError(ErrorCode::kUnavailable, "software: " + JoinStrings(errors, "; "));
}

}  // namespace dozor::agent
