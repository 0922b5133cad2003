// Hardware inventory on Linux: /proc/cpuinfo, /proc/meminfo, /sys/class/dmi/id,
// /sys/block and smartctl. CPU and memory are required; DMI, disks and SMART
// are best effort (containers and many VMs have none of them).
#include <sys/statvfs.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "collectors/collector.hpp"
#include "collectors/linux/fs_util.hpp"
#include "collectors/linux/pci_linux.hpp"
#include "collectors/linux/storage_linux.hpp"
#include "collectors/parsers/hardware_parsers.hpp"
#include "collectors/parsers/health_parsers.hpp"
#include "dozor/common/files.hpp"

namespace dozor::agent {
namespace {

namespace fs = std::filesystem;

constexpr size_t kMaxProcFileBytes = 4 * 1024 * 1024;  // cpuinfo on 512-thread boxes is ~1 MiB
constexpr const char* kSmartctlMissing = "smartctl not installed (apt install smartmontools)";

void CollectDmi(const CollectContext& ctx, dozor::v1::Hardware* out) {
  fs::path dir = ctx.Path("/sys/class/dmi/id");
  if (!IsDirectory(dir)) {
    return;  // no DMI: ARM boards, some VMs, containers. Not an error.
  }
  auto read = [&](const char* name) {
    std::string value = ReadTrimmedFile(dir / name);
    return IsPlaceholderDmiValue(value) ? std::string() : value;
  };
  dozor::v1::Dmi* dmi = out->mutable_dmi();
  dmi->set_system_vendor(read("sys_vendor"));
  dmi->set_system_model(read("product_name"));
  dmi->set_system_serial(read("product_serial"));
  dmi->set_system_uuid(read("product_uuid"));
  dmi->set_board_vendor(read("board_vendor"));
  dmi->set_board_model(read("board_name"));
  dmi->set_board_serial(read("board_serial"));
  dmi->set_bios_vendor(read("bios_vendor"));
  dmi->set_bios_version(read("bios_version"));
  dmi->set_bios_date(NormalizeBiosDate(read("bios_date")));
  std::string chassis = read("chassis_type");
  dmi->set_chassis_type(chassis.empty() ? std::string() : ChassisTypeName(chassis));
}

bool SkipBlockDevice(std::string_view name) {
  // Virtual or non-disk devices: loop/ram/zram, device-mapper (its disks are
  // listed anyway), network block devices, optical and floppy drives.
  static constexpr std::string_view kPrefixes[] = {"loop", "ram", "zram", "dm-", "nbd", "sr", "fd"};
  if (name.empty() || name.front() == '.') {
    return true;
  }
  return std::any_of(std::begin(kPrefixes), std::end(kPrefixes),
                     [&](std::string_view prefix) { return name.starts_with(prefix); });
}

// /sys/block/NAME is a symlink into /sys/devices/...; the resolved path tells
// the bus.
std::string DeviceTransport(const CollectContext& ctx, const std::string& name,
                            const fs::path& sys_block_entry) {
  if (name.starts_with("nvme")) {
    return "nvme";
  }
  if (name.starts_with("md")) {
    return "md";  // software RAID: its member disks are listed on their own
  }
  if (name.starts_with("vd")) {
    return "virtio";
  }
  if (name.starts_with("mmcblk")) {
    return "mmc";
  }
  if (name.starts_with("xvd")) {
    return "xen";
  }
  std::error_code ec;
  std::string resolved = fs::canonical(sys_block_entry, ec).string();
  if (ec) {
    resolved.clear();
  }
  // Look only below the root: a fixture root's own path must not decide the
  // bus.
  std::string root = fs::canonical(ctx.root, ec).string();
  if (!ec && root != "/" && resolved.starts_with(root)) {
    resolved.erase(0, root.size());
  }
  if (resolved.find("/usb") != std::string::npos) {
    return "usb";
  }
  if (resolved.find("/virtio") != std::string::npos) {
    return "virtio";
  }
  if (resolved.find("/ata") != std::string::npos) {
    return "sata";
  }
  return "scsi";
}

// The serial as the kernel exposes it; SCSI disks only have it in VPD page
// 0x80.
std::string DeviceSerial(const fs::path& device_dir) {
  std::string serial = ReadTrimmedFile(device_dir / "serial");
  if (!serial.empty()) {
    return serial;
  }
  std::string vpd = ReadSmallFile(device_dir / "vpd_pg80");
  if (vpd.size() > 4) {
    // 4-byte page header, then the ASCII serial (often space padded).
    serial = Trim(std::string_view(vpd).substr(4));
    bool printable =
        std::all_of(serial.begin(), serial.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
    if (!serial.empty() && printable) {
      return serial;
    }
  }
  return ReadTrimmedFile(device_dir / "wwid");
}

void RunSmartctl(const CollectContext& ctx, dozor::v1::BlockDevice* disk, bool* smartctl_missing,
                 dozor::v1::Hardware* out) {
  if (disk->transport() == "md" || disk->transport() == "virtio" || disk->transport() == "xen") {
    disk->set_smart_status("not_supported");
    disk->set_smart_message("virtual or software RAID device has no SMART");
    return;
  }
  if (!ctx.run_command) {
    disk->set_smart_status("unavailable");
    disk->set_smart_message("external commands are disabled");
    return;
  }
  if (!ctx.collect_smart) {
    disk->set_smart_status("unavailable");
    disk->set_smart_message("SMART collection is turned off (collectors.smart = false)");
    return;
  }
  if (*smartctl_missing) {
    disk->set_smart_status("unavailable");
    disk->set_smart_message(kSmartctlMissing);
    return;
  }
  Result<CommandOutput> output =
      ctx.run_command({"smartctl", "--json", "-H", "-A", "-i", "/dev/" + disk->name()});
  if (!output.ok()) {
    if (output.error().code == ErrorCode::kNotFound) {
      *smartctl_missing = true;
      disk->set_smart_status("unavailable");
      disk->set_smart_message(kSmartctlMissing);
    } else {
      disk->set_smart_status("unknown");
      disk->set_smart_message("smartctl failed: " + output.error().message);
    }
    return;
  }
  out->set_smartctl_available(true);
  // Parse failures already set smart_status "unknown" with a message; not a
  // collector error.
  (void)ParseSmartctlJson(output->stdout_text, output->exit_code, disk);
}

void CollectBlockDevices(const CollectContext& ctx, dozor::v1::Hardware* out) {
  fs::path sys_block = ctx.Path("/sys/block");
  Result<std::vector<std::string>> names = ListDirectory(sys_block);
  if (!names.ok()) {
    return;  // containers often have no /sys/block worth reading
  }
  std::erase_if(*names, SkipBlockDevice);

  bool smartctl_missing = false;
  for (const std::string& name : *names) {
    fs::path entry = sys_block / name;
    dozor::v1::BlockDevice* disk = out->add_disks();
    disk->set_name(name);
    disk->set_power_on_hours(-1);
    disk->set_temperature_c(-1000);
    disk->set_model(ReadTrimmedFile(entry / "device" / "model"));
    disk->set_serial(DeviceSerial(entry / "device"));
    if (disk->serial().empty()) {
      // virtio-blk keeps the serial QEMU/Proxmox was given on the block device itself.
      disk->set_serial(ReadTrimmedFile(entry / "serial"));
    }
    // "ATA", "QEMU", "VMware", or a PCI vendor id ("0x1af4") for virtio.
    disk->set_vendor(ReadTrimmedFile(entry / "device" / "vendor"));
    uint64_t sectors = 0;
    if (!ReadSysfsNumber(entry / "size", &sectors)) {
      sectors = 0;
    }
    // /sys/block/*/size counts 512-byte sectors whatever the logical block
    // size.
    disk->set_size_bytes(sectors > UINT64_MAX / 512 ? 0 : sectors * 512);
    disk->set_rotational(ReadTrimmedFile(entry / "queue" / "rotational") == "1");
    disk->set_removable(ReadTrimmedFile(entry / "removable") == "1");
    disk->set_transport(DeviceTransport(ctx, name, entry));
    RunSmartctl(ctx, disk, &smartctl_missing, out);
  }
  if (smartctl_missing) {
    out->set_smartctl_available(false);
  }
}

void DetectHypervisor(const CollectContext& ctx, bool cpu_hypervisor_flag,
                      dozor::v1::Hardware* out) {
  const dozor::v1::Dmi& dmi = out->dmi();
  std::string hypervisor =
      HypervisorFromDmi(dmi.system_vendor(), dmi.system_model(), dmi.bios_vendor());
  if (hypervisor.empty()) {
    hypervisor = ReadTrimmedFile(ctx.Path("/sys/hypervisor/type"));
  }
  bool has_virtio_disk = std::any_of(out->disks().begin(), out->disks().end(),
                                     [](const auto& disk) { return disk.transport() == "virtio"; });
  if (hypervisor.empty() && (cpu_hypervisor_flag || has_virtio_disk)) {
    // The CPU says "I am virtualised" (or the disks are paravirtual) but not by
    // whom.
    hypervisor = "unknown";
  }
  out->set_virtual_machine(!hypervisor.empty());
  out->set_hypervisor(hypervisor);
}

constexpr size_t kMaxVolumes = 512;

// The filesystems mounted, with capacity and free space, in the inventory itself (the peers list
// them; until now only health samples had them). The health sampler's mount filter (real
// filesystems only, no proc/tmpfs/overlay/squashfs) and its de-duplication (a device mounted
// twice is listed once, under its shortest mount point). Network filesystems are listed without
// statvfs, which blocks while their server is away: size 0 there means not measured.
void CollectVolumes(const CollectContext& ctx, dozor::v1::Hardware* out) {
  auto text = ReadFile(ctx.Path("/proc/mounts"), kMaxProcFileBytes);
  if (!text.ok()) return;
  auto mounts = ParseMounts(*text);
  if (!mounts.ok()) return;
  std::vector<const MountEntry*> kept;
  for (const MountEntry& mount : *mounts) {
    auto same = std::find_if(kept.begin(), kept.end(), [&](const MountEntry* other) {
      return other->mount_point == mount.mount_point || other->device == mount.device;
    });
    if (same == kept.end()) {
      if (kept.size() < kMaxVolumes) kept.push_back(&mount);
    } else if ((*same)->mount_point == mount.mount_point ||
               mount.mount_point.size() < (*same)->mount_point.size()) {
      *same = &mount;
    }
  }
  for (const MountEntry* mount : kept) {
    dozor::v1::Volume* volume = out->add_volumes();
    volume->set_mount_point(mount->mount_point);
    volume->set_file_system(mount->fs_type);
    volume->set_encryption("unknown");
    if (mount->network) {
      volume->set_kind("network");
      volume->set_remote_path(mount->device);
      continue;
    }
    volume->set_kind("local");
    struct statvfs vfs {};
    std::string path = ctx.Path(mount->mount_point).string();
    if (::statvfs(path.c_str(), &vfs) == 0) {
      uint64_t block = vfs.f_frsize != 0 ? vfs.f_frsize : vfs.f_bsize;
      volume->set_size_bytes(static_cast<uint64_t>(vfs.f_blocks) * block);
      // What a user can still write (f_bavail), as df shows it: root's reserve is not free.
      volume->set_free_bytes(static_cast<uint64_t>(vfs.f_bavail) * block);
    }
  }
}

}  // namespace

Status CollectHardware(const CollectContext& ctx, dozor::v1::Hardware* out) {
  DOZOR_ASSIGN_OR_RETURN(std::string cpuinfo_text,
                         ReadFile(ctx.Path("/proc/cpuinfo"), kMaxProcFileBytes));
  CpuInfo cpu = ParseCpuinfo(cpuinfo_text);
  dozor::v1::Cpu* out_cpu = out->mutable_cpu();
  out_cpu->set_model(cpu.model);
  out_cpu->set_sockets(cpu.sockets);
  out_cpu->set_cores(cpu.cores);
  out_cpu->set_threads(cpu.threads);
  out_cpu->set_mhz(cpu.mhz);
  out_cpu->set_vendor(cpu.vendor);
  out_cpu->set_family(cpu.family);
  out_cpu->set_model_number(cpu.model_number);
  out_cpu->set_stepping(cpu.stepping);
  out_cpu->set_cache_kb(cpu.cache_kb);
  out_cpu->set_microcode(cpu.microcode);

  CollectDmi(ctx, out);
  CollectBlockDevices(ctx, out);
  DetectHypervisor(ctx, cpu.hypervisor_flag, out);
  // PID 1's environment is root's to read; unreadable it simply says nothing. Before storage and
  // power: a container does not answer for its host's UPS.
  out->set_container(DetectContainer(PathExists(ctx.Path("/.dockerenv")),
                                     PathExists(ctx.Path("/run/.containerenv")),
                                     ReadFirstLine(ctx.Path("/run/systemd/container")),
                                     ReadSmallFile(ctx.Path("/proc/1/environ"))));
  CollectStorageAndPower(ctx, out);
  CollectVolumes(ctx, out);
  CollectPciDevices(ctx, out);

  DOZOR_ASSIGN_OR_RETURN(std::string meminfo_text,
                         ReadFile(ctx.Path("/proc/meminfo"), kMaxProcFileBytes));
  DOZOR_ASSIGN_OR_RETURN(uint64_t memory_total, ParseMeminfoTotal(meminfo_text));
  out->set_memory_total_bytes(memory_total);
  out->set_swap_total_bytes(ParseMeminfoSwapTotal(meminfo_text));
  if (cpu.threads == 0) {
    return MakeError(ErrorCode::kDataLoss, "/proc/cpuinfo lists no processors");
  }
  return OkStatus();
}

}  // namespace dozor::agent
