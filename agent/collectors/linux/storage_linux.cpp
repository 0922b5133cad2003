// Linux storage arrays and UPS monitoring: software RAID from /proc/mdstat and md's sysfs, ZFS
// pools from `zpool list` / `zpool status` (when ZFS is loaded or installed), MegaRAID / PERC
// virtual drives from storcli or perccli (when the megaraid_sas driver is bound), and the UPSes
// NUT's upsmon or apcupsd watch, with their status from `upsc` / `apcaccess` (or apcupsd's
// status file). A degraded mirror or a server on battery is what an engineer must hear of
// first; a host with no UPS monitoring shuts down hard when the power fails.
#include "collectors/linux/storage_linux.hpp"

#include <algorithm>
#include <string>
#include <system_error>
#include <vector>

#include "collectors/linux/command_util.hpp"
#include "collectors/linux/fs_util.hpp"
#include "collectors/parsers/storage_parsers.hpp"

namespace dozor::agent {
namespace {
// Named inside the anonymous namespace: a unity build puts the other collectors' helpers in the
// same translation unit.
namespace storage_scan {

namespace fs = std::filesystem;

constexpr size_t kMdstatMaxBytes = 1024 * 1024;
constexpr size_t kConfigMaxBytes = 256 * 1024;
constexpr size_t kMaxProcEntries = 20000;

constexpr const char* kZpoolPaths[] = {"/usr/sbin/zpool", "/sbin/zpool", "/usr/local/sbin/zpool"};
// storcli's and perccli's usual homes (their packages do not put them on PATH), then PATH.
constexpr const char* kStorcliPrograms[] = {"/opt/MegaRAID/storcli/storcli64",
                                            "/opt/MegaRAID/perccli/perccli64", "storcli64",
                                            "perccli64", "storcli"};

bool ProcessRunning(const CollectContext& ctx, std::string_view comm) {
  for (const auto& name : ListNamesOrEmpty(ctx.Path("/proc"), kMaxProcEntries)) {
    if (name.empty() || !IsAllDigits(name)) continue;
    if (ReadSysfsValue(ctx.Path("/proc") / name / "comm") == comm) return true;
  }
  return false;
}

void CollectMd(const CollectContext& ctx, dozor::v1::Hardware* out) {
  std::string mdstat = ReadSmallFile(ctx.Path("/proc/mdstat"), kMdstatMaxBytes);
  if (mdstat.empty()) return;
  for (auto& array : ParseMdstat(mdstat)) {
    // The name comes from mdstat, a kernel file; still keep it to one path component.
    if (array.name().find('/') == std::string::npos &&
        array.name().find("..") == std::string::npos) {
      fs::path md = ctx.Path("/sys/block") / array.name() / "md";
      ApplyMdSysfs(ReadSysfsValue(md / "array_state"), ReadSysfsValue(md / "degraded"),
                   ReadSysfsValue(md / "sync_action"), &array);
    }
    *out->add_storage_arrays() = std::move(array);
  }
}

void CollectZfs(const CollectContext& ctx, dozor::v1::Hardware* out) {
  const bool zfs_present =
      IsDirectory(ctx.Path("/sys/module/zfs")) ||
      std::any_of(std::begin(kZpoolPaths), std::end(kZpoolPaths),
                  [&](const char* path) { return PathExists(ctx.Path(path)); });
  if (!zfs_present) return;
  if (!ctx.run_command) {
    out->add_unavailable("ZFS pools: external commands are disabled");
    return;
  }
  auto list = ctx.run_command({"zpool", "list", "-H", "-p", "-o", "name,size,alloc,free,health"});
  if (list.ok() && list->exit_code != 0) {
    // ZFS before 0.7 has no -p: sizes come human-readable then.
    list = ctx.run_command({"zpool", "list", "-H", "-o", "name,size,alloc,free,health"});
  }
  if (!list.ok() || list->exit_code != 0) {
    out->add_unavailable("ZFS pools: zpool list failed" +
                         (list.ok() ? " (exit " + std::to_string(list->exit_code) + ")"
                                    : ": " + list.error().message));
    return;
  }
  std::vector<dozor::v1::StorageArray> pools = ParseZpoolList(list->stdout_text);
  auto status = ctx.run_command({"zpool", "status"});
  if (status.ok()) ApplyZpoolStatus(status->stdout_text, &pools);
  for (auto& pool : pools) *out->add_storage_arrays() = std::move(pool);
}

void CollectHardwareRaid(const CollectContext& ctx, dozor::v1::Hardware* out) {
  // MegaRAID and PERC controllers (most rack servers' RAID) are driven by megaraid_sas.
  if (!IsDirectory(ctx.Path("/sys/bus/pci/drivers/megaraid_sas"))) return;
  if (!ctx.run_command) {
    out->add_unavailable("hardware RAID: external commands are disabled");
    return;
  }
  for (const char* program : kStorcliPrograms) {
    if (program[0] == '/' && !PathExists(ctx.Path(program))) continue;
    auto output = ctx.run_command({program, "/call/vall", "show"});
    if (!output.ok()) continue;
    std::vector<dozor::v1::StorageArray> drives = ParseStorcliVirtualDrives(output->stdout_text);
    if (drives.empty() && output->exit_code != 0) continue;
    for (auto& drive : drives) *out->add_storage_arrays() = std::move(drive);
    return;
  }
  out->add_unavailable(
      "hardware RAID: a MegaRAID/PERC controller (megaraid_sas) is present but storcli or "
      "perccli is not installed");
}

dozor::v1::Ups UnknownUps(const std::string& daemon, const std::string& name,
                          const std::string& source) {
  dozor::v1::Ups ups;
  ups.set_daemon(daemon);
  ups.set_name(name);
  ups.set_source(source);
  ups.set_battery_charge_pct(-1);
  ups.set_runtime_seconds(-1);
  return ups;
}

void AskUpsc(const CollectContext& ctx, dozor::v1::Ups* ups) {
  if (!ctx.run_command) return;
  auto output = ctx.run_command({"upsc", ups->name()});
  if (output.ok() && output->exit_code == 0) ApplyUpsc(output->stdout_text, ups);
}

// "myups@localhost" or "myups" names a UPS of this host's own ups.conf.
bool IsLocalUps(std::string_view monitored, std::string_view section) {
  size_t at = monitored.find('@');
  std::string_view name = monitored.substr(0, at);
  std::string_view host = at == std::string_view::npos ? "localhost" : monitored.substr(at + 1);
  size_t port = host.find(':');
  host = host.substr(0, port);
  return name == section && (host == "localhost" || host == "127.0.0.1" || host == "::1");
}

void CollectNut(const CollectContext& ctx, dozor::v1::PowerProtection* power) {
  // Debian keeps NUT's configuration in /etc/nut, Red Hat in /etc/ups.
  for (const char* dir : {"/etc/nut", "/etc/ups"}) {
    fs::path base = ctx.Path(dir);
    if (!IsDirectory(base)) continue;
    const std::string upsmon_path = std::string(dir) + "/upsmon.conf";
    std::vector<std::string> monitors =
        ParseUpsmonMonitors(ReadSmallFile(ctx.Path(upsmon_path), kConfigMaxBytes));
    std::vector<std::string> drivers =
        ParseNutUpsConfNames(ReadSmallFile(base / "ups.conf", kConfigMaxBytes));
    // nut.conf MODE=none (Debian's default) starts nothing: upsmon.conf alone watches no UPS.
    const bool started = ParseNutMode(ReadSmallFile(base / "nut.conf", kConfigMaxBytes)) != "none";
    for (const auto& monitored : monitors) {
      dozor::v1::Ups ups = UnknownUps("nut", monitored, upsmon_path);
      ups.set_monitored(started);
      AskUpsc(ctx, &ups);
      *power->add_ups() = std::move(ups);
    }
    // A UPS driven here that upsmon does not watch: its status is known, but nothing shuts the
    // host down when its battery runs out.
    for (const auto& section : drivers) {
      if (std::any_of(monitors.begin(), monitors.end(),
                      [&](const std::string& m) { return IsLocalUps(m, section); })) {
        continue;
      }
      dozor::v1::Ups ups =
          UnknownUps("nut", section + "@localhost", std::string(dir) + "/ups.conf");
      AskUpsc(ctx, &ups);
      *power->add_ups() = std::move(ups);
    }
    return;
  }
}

// apcupsd.conf's STATFILE, or apcupsd's default.
std::string ApcStatusFile(std::string_view config) {
  std::string path = "/var/log/apcupsd.status";
  ForEachLine(config, [&](std::string_view line) {
    std::vector<std::string_view> words = SplitWords(line, IsWhitespace, 2);
    if (words.size() == 2 && words[0] == "STATFILE" && words[1].front() == '/') {
      path = std::string(words[1]);
    }
  });
  return path;
}

void CollectApcupsd(const CollectContext& ctx, dozor::v1::PowerProtection* power) {
  constexpr const char* kConfig = "/etc/apcupsd/apcupsd.conf";
  fs::path config_path = ctx.Path(kConfig);
  if (!PathExists(config_path)) return;
  std::string config = ReadSmallFile(config_path, kConfigMaxBytes);
  dozor::v1::Ups ups = UnknownUps("apcupsd", "apcupsd", kConfig);
  bool answered = false;
  if (ctx.run_command) {
    auto output = ctx.run_command({"apcaccess", "status"});
    if (output.ok() && output->exit_code == 0 && ApplyApcaccess(output->stdout_text, &ups)) {
      ups.set_source("apcaccess");
      answered = true;
    }
  }
  if (!answered) {
    const std::string status_file = ApcStatusFile(config);
    if (ApplyApcaccess(ReadSmallFile(ctx.Path(status_file), kConfigMaxBytes), &ups)) {
      ups.set_source(status_file);
    }
  }
  // apcaccess answering means the daemon runs; otherwise it is enabled or running.
  ups.set_monitored(answered || ServiceEnabledAtBoot(ctx, "apcupsd.service") ||
                    ProcessRunning(ctx, "apcupsd"));
  *power->add_ups() = std::move(ups);
}

}  // namespace storage_scan
}  // namespace

void CollectStorageAndPower(const CollectContext& ctx, dozor::v1::Hardware* out) {
  using namespace storage_scan;
  CollectMd(ctx, out);
  CollectZfs(ctx, out);
  CollectHardwareRaid(ctx, out);
  dozor::v1::PowerProtection* power = out->mutable_power();
  // A container sees the host's DMI and looks like a physical server; its power is the host's
  // business, so it does not claim to have looked for UPS monitoring (ups-absent stays silent).
  // out->container() is DetectContainer's answer (hardware_linux.cpp, called before this).
  power->set_checked(out->container().empty());
  CollectNut(ctx, power);
  CollectApcupsd(ctx, power);
}

}  // namespace dozor::agent
