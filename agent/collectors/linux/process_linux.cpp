#include "collectors/linux/process_linux.hpp"

#include <unistd.h>

#include <algorithm>
#include <map>
#include <string>

#include "collectors/linux/fs_util.hpp"
#include "collectors/parsers/health_parsers.hpp"
#include "collectors/parsers/os_parsers.hpp"

namespace dozor::agent {
namespace {

// A busy server runs a few hundred processes; a fork bomb must not make the inventory huge.
constexpr size_t kMaxProcesses = 4096;
constexpr size_t kMaxCommandBytes = 1024;

// The real uid of /proc/<pid>/status ("Uid:\t<real>\t<effective>..."); -1 when absent.
int64_t StatusUid(std::string_view status) {
  int64_t uid = -1;
  ForEachLine(status, [&](std::string_view line) {
    if (line.rfind("Uid:", 0) != 0) return;
    std::vector<std::string_view> words = SplitWords(line.substr(4), IsWhitespace, 1);
    uint32_t value = 0;
    if (!words.empty() && ParseNumber(words[0], &value)) uid = value;
  });
  return uid;
}

// argv joined by spaces (the kernel separates them with NULs), cut at kMaxCommandBytes.
std::string CommandLine(std::string text) {
  if (text.size() > kMaxCommandBytes) text.resize(kMaxCommandBytes);
  while (!text.empty() && text.back() == '\0') text.pop_back();
  std::replace(text.begin(), text.end(), '\0', ' ');
  return text;
}

}  // namespace

Status CollectProcesses(const CollectContext& ctx, dozor::v1::Software* out) {
  std::map<uint32_t, std::string> users;
  for (auto& entry : ParsePasswd(ReadSmallFile(ctx.Path("/etc/passwd"), 4 * 1024 * 1024))) {
    users.emplace(entry.uid, std::move(entry.name));
  }
  auto stat = ParseProcStat(ReadSmallFile(ctx.Path("/proc/stat"), 1024 * 1024));
  const int64_t boot_time = stat.ok() ? stat->boot_time : 0;
  // A fixture root has no kernel to ask: Linux's USER_HZ and the common page size stand in.
  const int64_t ticks_per_second = ctx.IsRealRoot() ? ::sysconf(_SC_CLK_TCK) : 100;
  const int64_t page_size = ctx.IsRealRoot() ? ::sysconf(_SC_PAGESIZE) : 4096;

  DOZOR_ASSIGN_OR_RETURN(std::vector<std::string> entries, ListDirectory(ctx.Path("/proc")));
  std::vector<uint32_t> pids;
  for (const auto& name : entries) {
    uint32_t pid = 0;
    if (ParseNumber(name, &pid)) pids.push_back(pid);
  }
  std::sort(pids.begin(), pids.end());
  for (uint32_t pid : pids) {
    if (static_cast<size_t>(out->processes_size()) >= kMaxProcesses) break;
    const std::string dir = "/proc/" + std::to_string(pid);
    // A process may end between the listing and these reads: it is then simply not listed.
    const std::string stat_text = ReadSmallFile(ctx.Path(dir + "/stat"));
    auto pid_stat = ParseProcPidStat(stat_text);
    if (!pid_stat.ok()) continue;
    std::string command = CommandLine(ReadSmallFile(ctx.Path(dir + "/cmdline"), 64 * 1024));
    // Kernel threads have no command line and no memory of their own.
    if (command.empty() && pid_stat->rss_pages <= 0) continue;
    auto* process = out->add_processes();
    process->set_pid(pid);
    process->set_name(std::string(pid_stat->comm));
    const int64_t uid = StatusUid(ReadSmallFile(ctx.Path(dir + "/status")));
    if (uid >= 0) {
      auto user = users.find(static_cast<uint32_t>(uid));
      process->set_user(user != users.end() ? user->second : std::to_string(uid));
    }
    process->set_rss_bytes(static_cast<uint64_t>(std::max<int64_t>(pid_stat->rss_pages, 0)) *
                           static_cast<uint64_t>(page_size));
    if (boot_time > 0 && ticks_per_second > 0) {
      process->set_start_time(boot_time +
                              static_cast<int64_t>(pid_stat->start_time_ticks) / ticks_per_second);
    }
    process->set_command(std::move(command));
  }
  return OkStatus();
}

}  // namespace dozor::agent
