#include "collectors/linux/onec_linux.hpp"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <system_error>
#include <vector>

#include "collectors/linux/fs_util.hpp"
#include "collectors/parsers/onec_parsers.hpp"
#include "collectors/parsers/os_parsers.hpp"
#include "collectors/parsers/windows_parsers.hpp"
#include "dozor/common/files.hpp"

namespace dozor::agent {
namespace onec_linux_detail {

constexpr size_t kMaxRacOutputBytes = 1024 * 1024;
constexpr size_t kMaxClusters = 16;
constexpr size_t kMaxLogcfgBytes = 256 * 1024;
constexpr size_t kMaxTechLogs = 32;
// A techlog directory of a busy server holds tens of thousands of files per day; the walk stops
// here and says the size is a lower bound.
constexpr size_t kMaxTechLogEntries = 200000;
constexpr size_t kMaxLicenceFiles = 64;
constexpr size_t kMaxIniBytes = 64 * 1024;

// The service account's home (/home/usr1cv8), from /etc/passwd; "" when unknown.
std::map<std::string, std::string> HomesByUser(const CollectContext& ctx) {
  std::map<std::string, std::string> homes;
  for (auto& entry : ParsePasswd(ReadSmallFile(ctx.Path("/etc/passwd"), 4 * 1024 * 1024))) {
    homes.emplace(std::move(entry.name), std::move(entry.home));
  }
  return homes;
}

// The homes whose ~/.1cv8/1C/1cv8 may hold a cluster registry, a logcfg.xml or licences: the
// running agents' accounts and the packages' usr1cv8.
std::vector<std::string> OneCHomes(const CollectContext& ctx, const dozor::v1::Software& software) {
  const auto homes = HomesByUser(ctx);
  std::set<std::string> users = {"usr1cv8"};
  for (const auto& agent : software.onec_server_agents()) {
    if (!agent.user().empty()) users.insert(agent.user());
  }
  std::vector<std::string> out;
  for (const auto& user : users) {
    auto home = homes.find(user);
    if (home != homes.end() && !home->second.empty() && home->second != "/") {
      out.push_back(home->second);
    }
  }
  if (out.empty() && IsDirectory(ctx.Path("/home/usr1cv8"))) out.push_back("/home/usr1cv8");
  return out;
}

// The program's folder of a command line's first word (/opt/1cv8/x86_64/8.3.24.1467/ragent ->
// /opt/1cv8/x86_64/8.3.24.1467), "" when it is not an absolute path.
std::string ProgramFolder(const std::string& command) {
  const std::string program = command.substr(0, command.find(' '));
  if (program.empty() || program.front() != '/') return {};
  return program.substr(0, program.rfind('/'));
}

// Runs rac, or on a fixture root without a command runner reads its canned answer the way the
// fixtures keep command output: dozor-fixture/commands/rac-<name>.txt, its exit code in
// rac-<name>.exit (default 0).
Result<CommandOutput> RunRac(const CollectContext& ctx, const std::vector<std::string>& argv,
                             const std::string& fixture_name) {
  if (ctx.run_command) {
    auto output = ctx.run_command(argv);
    if (output.ok() && output->stdout_text.size() > kMaxRacOutputBytes) {
      output->stdout_text.resize(kMaxRacOutputBytes);
    }
    return output;
  }
  if (ctx.IsRealRoot()) return MakeError(ErrorCode::kUnavailable, "no command runner");
  const std::string base = "/dozor-fixture/commands/rac-" + fixture_name;
  auto text = ReadFile(ctx.Path(base + ".txt"), kMaxRacOutputBytes);
  const std::string exit_text = ReadTrimmedFile(ctx.Path(base + ".exit"));
  if (!text.ok() && exit_text.empty()) return MakeError(ErrorCode::kNotFound, "rac");
  int exit_code = 0;
  if (!exit_text.empty() && !ParseNumber(exit_text, &exit_code)) exit_code = 1;
  return CommandOutput{exit_code, text.ok() ? std::move(text).value() : std::string()};
}

// What rac says of one server agent's clusters, through the administration server that serves
// it. Sets rac_status and fills clusters.
void AskRac(const CollectContext& ctx, const dozor::v1::Software& software,
            dozor::v1::OneCServerAgent* agent) {
  std::string folder;
  for (const auto& process : software.processes()) {
    if (process.pid() == agent->pid()) folder = ProgramFolder(process.command());
  }
  if (folder.empty() || !PathExists(ctx.Path(folder + "/rac"))) {
    agent->set_rac_status("no rac");
    return;
  }
  // The ras that administers this agent (its last argument names the agent's port); with a
  // single ras, that one.
  std::vector<RasEndpoints> servers;
  for (const auto& process : software.processes()) {
    if (process.name() == "ras") servers.push_back(ParseRasCommandLine(process.command()));
  }
  const RasEndpoints* ras = nullptr;
  for (const auto& server : servers) {
    if (server.agent_port == agent->agent_port()) ras = &server;
  }
  if (ras == nullptr && servers.size() == 1) ras = &servers.front();
  if (ras == nullptr) {
    agent->set_rac_status("no ras");
    return;
  }
  const std::string rac = folder + "/rac";
  const std::string endpoint = "localhost:" + std::to_string(ras->listen_port);
  auto list = RunRac(ctx, {rac, endpoint, "cluster", "list"}, "cluster-list");
  if (!list.ok() || list->exit_code != 0) {
    std::string why = list.ok() ? "exit " + std::to_string(list->exit_code) : list.error().message;
    agent->set_rac_status("failed: cluster list: " + why);
    return;
  }
  agent->set_rac_status("ok");
  for (const auto& record : ParseRacRecords(list->stdout_text, kMaxClusters)) {
    dozor::v1::OneCCluster cluster = ClusterFromRac(record);
    if (cluster.id().empty()) continue;
    const std::string selector = "--cluster=" + cluster.id();
    auto admins = RunRac(ctx, {rac, endpoint, "cluster", "admin", "list", selector},
                         "cluster-admin-list-" + cluster.id());
    if (admins.ok() && admins->exit_code == 0) {
      const auto records = ParseRacRecords(admins->stdout_text);
      cluster.set_admin_configured(records.empty() ? 0 : 1);
      for (const auto& admin : records) cluster.add_admins(admin.Get("name"));
    } else if (admins.ok()) {
      // rac's refusal goes to stderr, which the runner drops: a refusal right after the same
      // ras answered the cluster list is a demand for the administrator's credentials.
      const bool refused =
          admins->stdout_text.empty() || RacDemandsAuthentication(admins->stdout_text);
      cluster.set_admin_configured(refused ? 1 : -1);
    }
    auto infobases = RunRac(ctx, {rac, endpoint, "infobase", "summary", "list", selector},
                            "infobase-summary-list-" + cluster.id());
    if (infobases.ok() && infobases->exit_code == 0) {
      cluster.set_infobase_count(
          static_cast<int32_t>(ParseRacRecords(infobases->stdout_text).size()));
    }
    *agent->add_clusters() = std::move(cluster);
  }
}

// The 1C installs' configuration folders (/opt/1cv8/conf, <install>/conf) and the accounts'
// ~/.1cv8/1C/1cv8/conf, as paths on the host.
std::vector<std::string> ConfFolders(const CollectContext& ctx,
                                     const dozor::v1::Software& software) {
  std::vector<std::string> folders = {"/opt/1cv8/conf"};
  for (const auto& app : software.applications()) {
    if (app.name() == "1C:Enterprise" && !app.path().empty())
      folders.push_back(app.path() + "/conf");
  }
  for (const auto& home : OneCHomes(ctx, software)) folders.push_back(home + "/.1cv8/1C/1cv8/conf");
  std::sort(folders.begin(), folders.end());
  folders.erase(std::unique(folders.begin(), folders.end()), folders.end());
  return folders;
}

// Bytes of the regular files under `dir` (symlinks not followed), at most kMaxTechLogEntries
// entries; false in *complete when the walk stopped early or hit an unreadable part.
uint64_t DirectorySize(const std::filesystem::path& dir, bool* complete) {
  *complete = true;
  uint64_t total = 0;
  size_t entries = 0;
  std::error_code ec;
  std::filesystem::recursive_directory_iterator it(
      dir, std::filesystem::directory_options::skip_permission_denied, ec);
  if (ec) {
    *complete = !std::filesystem::exists(dir, ec);  // absent: nothing written yet, size 0
    return 0;
  }
  for (std::filesystem::recursive_directory_iterator end; it != end; it.increment(ec)) {
    if (ec) {
      *complete = false;
      break;
    }
    if (++entries > kMaxTechLogEntries) {
      *complete = false;
      break;
    }
    std::error_code entry_ec;
    if (it->is_regular_file(entry_ec) && !it->is_symlink(entry_ec)) {
      const uintmax_t size = it->file_size(entry_ec);
      if (!entry_ec) total += size;
    }
  }
  return total;
}

}  // namespace onec_linux_detail

Status CollectOneCServerAgents(const CollectContext& ctx, dozor::v1::Software* out) {
  std::vector<dozor::v1::OneCServerAgent> agents = FindOneCServerAgents(out->processes());
  if (agents.empty()) return OkStatus();
  const auto homes = onec_linux_detail::HomesByUser(ctx);
  for (auto& agent : agents) {
    if (agent.registry_path().empty()) {
      auto home = homes.find(agent.user());
      if (home != homes.end() && !home->second.empty()) {
        agent.set_registry_path(home->second + "/.1cv8/1C/1cv8");
      }
    }
    onec_linux_detail::AskRac(ctx, *out, &agent);
    *out->add_onec_server_agents() = std::move(agent);
  }
  return OkStatus();
}

Status CollectOneCTechLogs(const CollectContext& ctx, dozor::v1::Software* out) {
  for (const auto& folder : onec_linux_detail::ConfFolders(ctx, *out)) {
    const std::string config = folder + "/logcfg.xml";
    auto text = ReadFile(ctx.Path(config), onec_linux_detail::kMaxLogcfgBytes);
    if (!text.ok()) continue;
    const std::vector<TechLogElement> elements =
        ParseLogcfg(*text, onec_linux_detail::kMaxTechLogs);
    if (elements.empty()) {
      auto* log = out->add_onec_tech_logs();
      log->set_config_path(config);
      log->set_enabled(false);
      log->set_size_complete(true);
      continue;
    }
    for (const auto& element : elements) {
      if (static_cast<size_t>(out->onec_tech_logs_size()) >= onec_linux_detail::kMaxTechLogs) break;
      auto* log = out->add_onec_tech_logs();
      log->set_config_path(config);
      log->set_enabled(true);
      log->set_location(element.location);
      log->set_history_hours(element.history_hours);
      log->set_events(element.events);
      bool complete = true;
      if (!element.location.empty() && element.location.front() == '/') {
        log->set_size_bytes(
            onec_linux_detail::DirectorySize(ctx.Path(element.location), &complete));
      } else {
        complete = false;  // a relative or empty location: where 1C writes it is not known
      }
      log->set_size_complete(complete);
    }
  }
  return OkStatus();
}

Status CollectOneCLicensing(const CollectContext& ctx, dozor::v1::Software* out) {
  dozor::v1::OneCLicensing licensing;
  std::vector<std::string> folders = {"/var/1C/licenses"};
  for (const auto& home : onec_linux_detail::OneCHomes(ctx, *out))
    folders.push_back(home + "/.1cv8/1C/licenses");
  for (const auto& folder : folders) {
    for (const auto& name :
         ListNamesOrEmpty(ctx.Path(folder), onec_linux_detail::kMaxLicenceFiles)) {
      if (licensing.licence_files_size() >= static_cast<int>(onec_linux_detail::kMaxLicenceFiles))
        break;
      if (name.size() > 4 && Lower(name.substr(name.size() - 4)) == ".lic") {
        licensing.add_licence_files(folder + "/" + name);
      }
    }
  }
  std::set<std::string> managers;
  for (const auto& process : out->processes()) {
    if (IsHaspManagerProcess(process.name())) managers.insert(process.name());
  }
  for (const auto& name : managers) licensing.add_hasp_manager_processes(name);
  if (licensing.licence_files_size() > 0 || licensing.hasp_manager_processes_size() > 0) {
    *out->mutable_onec_licensing() = std::move(licensing);
  }
  // The HASP client settings of the 1C installs (Windows reads them in windows_inventory.cpp).
  std::vector<std::string> inis = {"/opt/1cv8/conf/nethasp.ini"};
  for (const auto& app : out->applications()) {
    if (app.name() == "1C:Enterprise" && !app.path().empty()) {
      inis.push_back(app.path() + "/conf/nethasp.ini");
    }
  }
  std::sort(inis.begin(), inis.end());
  inis.erase(std::unique(inis.begin(), inis.end()), inis.end());
  for (const auto& ini : inis) {
    auto text = ReadFile(ctx.Path(ini), onec_linux_detail::kMaxIniBytes);
    if (!text.ok()) continue;
    const HaspClientSettings settings = ParseNethaspIni(*text);
    auto* client = out->add_license_clients();
    client->set_kind("hasp");
    client->set_config_path(ini);
    for (const auto& address : settings.server_addresses) client->add_servers(address);
    for (const auto& name : settings.server_names) client->add_servers(name);
    client->set_broadcast(settings.broadcast);
  }
  return OkStatus();
}

}  // namespace dozor::agent
