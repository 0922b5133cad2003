#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "collector_test_util.hpp"
#include "collectors/collector.hpp"
#include "collectors/parsers/hardware_parsers.hpp"
#include "dozor/common/files.hpp"
#include "test_util.hpp"

namespace dozor::agent {
namespace {

namespace fs = std::filesystem;
using namespace collector_test;

// Serves smartctl from <root>/dozor-fixture/commands/smartctl-<disk>.json (+
// optional .exit) and records every argv it was asked to run.
CommandRunner CannedSmartctl(const fs::path& root, std::vector<std::vector<std::string>>* calls) {
  return [root, calls](const std::vector<std::string>& argv) -> Result<CommandOutput> {
    calls->push_back(argv);
    if (argv.empty() || argv[0] != "smartctl") {
      return MakeError(ErrorCode::kNotFound, "no canned output");
    }
    std::string disk = fs::path(argv.back()).filename().string();
    std::optional<CommandOutput> output =
        ReadCannedOutput(root / "dozor-fixture" / "commands" / ("smartctl-" + disk), ".json");
    if (!output) {
      return MakeError(ErrorCode::kNotFound, "no canned smartctl for " + disk);
    }
    return *output;
  };
}

const dozor::v1::BlockDevice* FindDisk(const dozor::v1::Hardware& hw, const std::string& name) {
  return FindNamed(hw.disks(), name);
}

const dozor::v1::SmartAttribute* FindAttribute(const dozor::v1::BlockDevice& disk,
                                               const std::string& name) {
  return FindNamed(disk.smart_attributes(), name);
}

}  // namespace

// ----------------------------------------------------------------------------------
// parsers

TEST_CASE("cpuinfo parser counts sockets cores and threads on a 2-socket Xeon") {
  CpuInfo cpu = ParseCpuinfo(ReadFixture("debian-server", "proc/cpuinfo"));
  CHECK(cpu.model == "Intel(R) Xeon(R) Silver 4210R CPU @ 2.40GHz");
  CHECK(cpu.sockets == 2);
  CHECK(cpu.cores == 20);
  CHECK(cpu.threads == 40);
  CHECK(cpu.mhz == doctest::Approx(2400.0));
  CHECK_FALSE(cpu.hypervisor_flag);
}

TEST_CASE("cpuinfo parser names ARM cores from implementer and part ids") {
  CpuInfo cpu = ParseCpuinfo(ReadFixture("minimal-vm", "proc/cpuinfo"));
  CHECK(cpu.model == "ARM Neoverse-N1");
  CHECK(cpu.sockets == 1);
  CHECK(cpu.cores == 4);
  CHECK(cpu.threads == 4);
  CHECK(cpu.mhz == 0);
}

TEST_CASE("cpuinfo parser handles 32-bit ARM hypervisor flag and garbage") {
  CpuInfo arm32 = ParseCpuinfo(
      "processor\t: 0\nmodel name\t: ARMv7 Processor "
      "rev 4 (v7l)\nBogoMIPS\t: 38.40\n\n"
      "processor\t: 1\nmodel name\t: ARMv7 Processor "
      "rev 4 (v7l)\n\nHardware\t: BCM2835\n");
  CHECK(arm32.model == "ARMv7 Processor rev 4 (v7l)");
  CHECK(arm32.threads == 2);
  CHECK(arm32.cores == 2);

  CpuInfo vm = ParseCpuinfo(
      "processor : 0\nmodel name : QEMU Virtual "
      "CPU\nflags : fpu sse2 hypervisor lahf_lm\n");
  CHECK(vm.hypervisor_flag);
  CpuInfo not_vm = ParseCpuinfo("processor : 0\nflags : fpu nothypervisor\n");
  CHECK_FALSE(not_vm.hypervisor_flag);

  CpuInfo garbage = ParseCpuinfo("\x01\x02 no colons here\n:::\nprocessor : x\n");
  CHECK(garbage.threads == 0);
  CHECK(garbage.sockets == 0);
  CHECK(ParseCpuinfo("").threads == 0);
}

TEST_CASE("meminfo parser returns MemTotal in bytes and rejects text without it") {
  Result<uint64_t> total = ParseMeminfoTotal(ReadFixture("debian-server", "proc/meminfo"));
  REQUIRE(total.ok());
  CHECK(*total == 131621564ULL * 1024);
  CHECK_FALSE(ParseMeminfoTotal("MemFree: 12 kB\n").ok());
  CHECK_FALSE(ParseMeminfoTotal("MemTotal: lots kB\n").ok());
  CHECK_FALSE(ParseMeminfoTotal("MemTotal: 99999999999999999999999 kB\n").ok());
}

TEST_CASE("meminfo swap total is bytes and zero without swap or a valid line") {
  CHECK(ParseMeminfoSwapTotal("MemTotal: 10 kB\nSwapTotal:     2097148 kB\n") == 2097148ULL * 1024);
  CHECK(ParseMeminfoSwapTotal("SwapTotal: 0 kB\n") == 0);
  CHECK(ParseMeminfoSwapTotal("SwapTotal: lots\n") == 0);
  CHECK(ParseMeminfoSwapTotal("SwapTotal: 99999999999999999999 kB\n") == 0);
  CHECK(ParseMeminfoSwapTotal("") == 0);
}

TEST_CASE("container detection names the runtime from its markers") {
  CHECK(DetectContainer(false, false, "", "").empty());
  CHECK(DetectContainer(true, false, "", "") == "docker");
  CHECK(DetectContainer(false, true, "", "") == "podman");
  CHECK(DetectContainer(false, false, "systemd-nspawn\n", "") == "systemd-nspawn");
  const std::string environ_lxc("PATH=/usr/bin\0container=lxc\0TERM=linux", 40);
  CHECK(DetectContainer(false, false, "", environ_lxc) == "lxc");
  // systemd's own file wins over the older markers; junk in it is not a name.
  CHECK(DetectContainer(true, false, "podman", "") == "podman");
  CHECK(DetectContainer(true, false, "<script>", "container=Not A Name") == "docker");
}

TEST_CASE("smartctl parser reads ATA health attributes hours and temperature") {
  dozor::v1::BlockDevice disk;
  REQUIRE(ParseSmartctlJson(
              ReadFixture("debian-server", "dozor-fixture/commands/smartctl-sda.json"), 0, &disk)
              .ok());
  CHECK(disk.smart_status() == "passed");
  CHECK(disk.power_on_hours() == 32741);
  CHECK(disk.temperature_c() == 36);
  CHECK(disk.model() == "ST4000NM000A-2HZ100");
  CHECK(disk.serial() == "WJG1ABCD");
  const auto* reallocated = FindAttribute(disk, "Reallocated_Sector_Ct");
  REQUIRE(reallocated != nullptr);
  CHECK(reallocated->id() == 5);
  CHECK(reallocated->raw() == 8);
  CHECK(reallocated->value() == 100);
  CHECK(reallocated->threshold() == 10);
  const auto* temperature = FindAttribute(disk, "Temperature_Celsius");
  REQUIRE(temperature != nullptr);
  CHECK(temperature->raw() == 128849018916LL);  // packed min/max: kept whole
}

TEST_CASE("smartctl parser turns the NVMe health log into attributes") {
  dozor::v1::BlockDevice disk;
  REQUIRE(ParseSmartctlJson(
              ReadFixture("rpm-server", "dozor-fixture/commands/smartctl-nvme0n1.json"), 0, &disk)
              .ok());
  CHECK(disk.smart_status() == "passed");
  CHECK(disk.power_on_hours() == 14023);
  CHECK(disk.temperature_c() == 38);
  const auto* used = FindAttribute(disk, "percentage_used");
  REQUIRE(used != nullptr);
  CHECK(used->raw() == 3);
  const auto* media_errors = FindAttribute(disk, "media_errors");
  REQUIRE(media_errors != nullptr);
  CHECK(media_errors->raw() == 0);
}

TEST_CASE("smartctl parser reports failing unsupported error and non-JSON output") {
  dozor::v1::BlockDevice failed;
  REQUIRE(ParseSmartctlJson(R"({"smart_status":{"passed":false}})", 8, &failed).ok());
  CHECK(failed.smart_status() == "failed");

  dozor::v1::BlockDevice bit_only;
  REQUIRE(ParseSmartctlJson(R"({"smartctl":{"exit_status":8}})", 8, &bit_only).ok());
  CHECK(bit_only.smart_status() == "failed");

  dozor::v1::BlockDevice nvme_warning;
  REQUIRE(ParseSmartctlJson(R"({"nvme_smart_health_information_log":{"critical_warning":4}})", 0,
                            &nvme_warning)
              .ok());
  CHECK(nvme_warning.smart_status() == "failed");

  dozor::v1::BlockDevice unsupported;
  REQUIRE(ParseSmartctlJson(R"({"smart_support":{"available":false}})", 4, &unsupported).ok());
  CHECK(unsupported.smart_status() == "not_supported");

  dozor::v1::BlockDevice usb;
  REQUIRE(ParseSmartctlJson(ReadFixture("rpm-server", "dozor-fixture/commands/smartctl-sda.json"),
                            1, &usb)
              .ok());
  CHECK(usb.smart_status() == "unknown");
  CHECK(usb.smart_message().find("Unknown USB bridge") != std::string::npos);
  CHECK(usb.power_on_hours() == -1);
  CHECK(usb.temperature_c() == -1000);

  dozor::v1::BlockDevice garbage;
  CHECK_FALSE(ParseSmartctlJson("smartctl: command line error", 1, &garbage).ok());
  CHECK(garbage.smart_status() == "unknown");
  dozor::v1::BlockDevice wrong_types;
  REQUIRE(ParseSmartctlJson(
              R"({"smart_status":{"passed":"yes"},"ata_smart_attributes":{"table":[1,{"id":"x",)"
              R"("raw":{"value":-5}}]},"power_on_time":{"hours":"many"},"temperature":[]})",
              0, &wrong_types)
              .ok());
  CHECK(wrong_types.smart_status() == "unknown");
  REQUIRE(wrong_types.smart_attributes_size() == 1);
  CHECK(wrong_types.smart_attributes(0).raw() == -5);
  CHECK(wrong_types.power_on_hours() == -1);
}

TEST_CASE("BIOS dates are normalised to ISO form when parseable") {
  CHECK(NormalizeBiosDate("11/02/2020") == "2020-11-02");
  CHECK(NormalizeBiosDate(" 03/15/2023\n") == "2023-03-15");
  CHECK(NormalizeBiosDate("04/01/14") == "2014-04-01");
  CHECK(NormalizeBiosDate("2019-07-30") == "2019-07-30");
  CHECK(NormalizeBiosDate("13/45/2020") == "13/45/2020");
  CHECK(NormalizeBiosDate("unknown") == "unknown");
  CHECK(NormalizeBiosDate("") == "");
  CHECK(NormalizeBiosDate("1/2/") == "1/2/");
}

TEST_CASE("DMI helpers name chassis types spot placeholders and hypervisors") {
  CHECK(ChassisTypeName("23") == "Rack Mount Chassis");
  CHECK(ChassisTypeName("1") == "Other");
  CHECK(ChassisTypeName("99") == "99");
  CHECK(IsPlaceholderDmiValue("To Be Filled By O.E.M."));
  CHECK(IsPlaceholderDmiValue("Default string"));
  CHECK_FALSE(IsPlaceholderDmiValue("S381234X0A12345"));
  CHECK(HypervisorFromDmi("QEMU", "Standard PC (Q35 + ICH9, 2009)", "SeaBIOS") == "kvm");
  CHECK(HypervisorFromDmi("VMware, Inc.", "VMware Virtual Platform", "Phoenix") == "vmware");
  CHECK(HypervisorFromDmi("Microsoft Corporation", "Virtual Machine", "Microsoft") == "hyper-v");
  CHECK(HypervisorFromDmi("Supermicro", "SYS-6029P-TR", "American Megatrends Inc.").empty());
}

// ----------------------------------------------------------------------------------
// collectors

TEST_CASE("hardware collector on the debian fixture finds Xeons DMI and SATA disks") {
  CollectContext ctx = FixtureContext("debian-server");
  std::vector<std::vector<std::string>> calls;
  ctx.run_command = CannedSmartctl(ctx.root, &calls);
  dozor::v1::Hardware hw;
  Status status = CollectHardware(ctx, &hw);
  REQUIRE_MESSAGE(status.ok(), (status.ok() ? "" : status.error().ToString()));

  CHECK(hw.cpu().sockets() == 2);
  CHECK(hw.cpu().cores() == 20);
  CHECK(hw.cpu().threads() == 40);
  CHECK(hw.cpu().vendor() == "GenuineIntel");
  CHECK(hw.cpu().family() == 6);
  CHECK(hw.cpu().model_number() == 85);
  CHECK(hw.cpu().stepping() == 7);
  CHECK(hw.cpu().cache_kb() == 14080);
  CHECK(hw.cpu().microcode() == "0x5003604");
  CHECK(hw.memory_total_bytes() == 131621564ULL * 1024);
  CHECK(hw.swap_total_bytes() == 8388604ULL * 1024);
  CHECK(hw.container().empty());

  // Filesystems from /proc/mounts: real ones only, the NFS share without statvfs.
  std::vector<std::string> mount_points;
  for (const auto& volume : hw.volumes()) mount_points.push_back(volume.mount_point());
  CHECK(mount_points == std::vector<std::string>{"/", "/boot/efi", "/var/lib/postgresql",
                                                 "/srv/backup disk", "/mnt/nas"});
  CHECK(hw.volumes(0).file_system() == "ext4");
  CHECK(hw.volumes(0).kind() == "local");
  CHECK(hw.volumes(0).size_bytes() > 0);  // statvfs of the fixture root itself
  CHECK(hw.volumes(0).free_bytes() <= hw.volumes(0).size_bytes());
  CHECK(hw.volumes(4).kind() == "network");
  CHECK(hw.volumes(4).remote_path() == "nas.example.lan:/export/backup");
  CHECK(hw.volumes(4).size_bytes() == 0);
  CHECK(hw.dmi().system_vendor() == "Supermicro");
  CHECK(hw.dmi().system_model() == "SYS-6029P-TR");
  CHECK(hw.dmi().system_serial() == "S381234X0A12345");
  CHECK(hw.dmi().board_model() == "X11DPi-N");
  CHECK(hw.dmi().bios_date() == "2020-11-02");
  CHECK(hw.dmi().chassis_type() == "Main Server Chassis");
  CHECK_FALSE(hw.virtual_machine());
  CHECK(hw.hypervisor().empty());
  CHECK(hw.smartctl_available());

  REQUIRE(hw.disks_size() == 2);
  const auto* hdd = FindDisk(hw, "sda");
  const auto* ssd = FindDisk(hw, "sdb");
  REQUIRE(hdd != nullptr);
  REQUIRE(ssd != nullptr);
  CHECK(hdd->transport() == "sata");
  CHECK(hdd->rotational());
  CHECK_FALSE(hdd->removable());
  CHECK(hdd->size_bytes() == 7814037168ULL * 512);
  CHECK(hdd->model() == "ST4000NM000A-2HZ100");
  CHECK(hdd->serial().find("WJG1ABCD") != std::string::npos);  // from wwid
  CHECK(hdd->smart_status() == "passed");
  const auto* reallocated = FindAttribute(*hdd, "Reallocated_Sector_Ct");
  REQUIRE(reallocated != nullptr);
  CHECK(reallocated->raw() == 8);

  CHECK_FALSE(ssd->rotational());
  CHECK(ssd->serial() == "PHYF912300AB480BGN");  // from VPD page 0x80
  CHECK(ssd->power_on_hours() == 28311);
  CHECK(ssd->temperature_c() == 29);

  REQUIRE(calls.size() == 2);
  CHECK(calls[0] == std::vector<std::string>{"smartctl", "--json", "-H", "-A", "-i", "/dev/sda"});
}

TEST_CASE("hardware collector on the rpm server fixture reads NVMe and a USB stick") {
  CollectContext ctx = FixtureContext("rpm-server");
  std::vector<std::vector<std::string>> calls;
  ctx.run_command = CannedSmartctl(ctx.root, &calls);
  dozor::v1::Hardware hw;
  REQUIRE(CollectHardware(ctx, &hw).ok());
  CHECK(hw.cpu().model() == "AMD EPYC 7313P 16-Core Processor");
  CHECK(hw.cpu().sockets() == 1);
  CHECK(hw.cpu().cores() == 16);
  CHECK(hw.cpu().threads() == 32);
  CHECK(hw.dmi().system_vendor() == "Dell Inc.");
  CHECK(hw.dmi().chassis_type() == "Rack Mount Chassis");
  CHECK(hw.dmi().bios_date() == "2023-03-15");

  const auto* nvme = FindDisk(hw, "nvme0n1");
  REQUIRE(nvme != nullptr);
  CHECK(nvme->transport() == "nvme");
  CHECK(nvme->model() == "Dell Ent NVMe v2 AGN RI U.2 960GB");
  CHECK(nvme->serial() == "S61LNE0R123456");
  CHECK(nvme->smart_status() == "passed");
  CHECK(nvme->power_on_hours() == 14023);

  const auto* stick = FindDisk(hw, "sda");
  REQUIRE(stick != nullptr);
  CHECK(stick->transport() == "usb");
  CHECK(stick->removable());
  CHECK(stick->smart_status() == "unknown");
}

TEST_CASE("hardware collector on the minimal VM copes with no DMI and a virtio disk") {
  CollectContext ctx = FixtureContext("minimal-vm");
  std::vector<std::vector<std::string>> calls;
  ctx.run_command = CannedSmartctl(ctx.root, &calls);
  dozor::v1::Hardware hw;
  REQUIRE(CollectHardware(ctx, &hw).ok());
  CHECK(hw.cpu().model() == "ARM Neoverse-N1");
  CHECK(hw.cpu().threads() == 4);
  CHECK(hw.memory_total_bytes() == 1004528ULL * 1024);
  CHECK(hw.dmi().system_vendor().empty());
  CHECK(hw.dmi().bios_date().empty());
  REQUIRE(hw.disks_size() == 1);
  CHECK(hw.disks(0).transport() == "virtio");
  CHECK(hw.disks(0).serial() == "PVE-vm-101-disk-0");  // /sys/block/vda/serial
  CHECK(hw.disks(0).vendor() == "0x1af4");             // device/vendor: Red Hat's virtio id
  CHECK(hw.disks(0).smart_status() == "not_supported");
  CHECK(hw.swap_total_bytes() == 0);
  CHECK(hw.cpu().vendor().empty());  // ARM cpuinfo has no vendor_id
  CHECK(hw.virtual_machine());
  CHECK(calls.empty());  // virtio disks have no SMART: smartctl is not even tried
}

TEST_CASE("hardware collector reports smartctl missing with an install hint") {
  CollectContext ctx = FixtureContext("debian-server");
  int calls = 0;
  ctx.run_command = [&calls](const std::vector<std::string>&) -> Result<CommandOutput> {
    ++calls;
    return MakeError(ErrorCode::kNotFound, "smartctl: program not found");
  };
  dozor::v1::Hardware hw;
  REQUIRE(CollectHardware(ctx, &hw).ok());
  CHECK_FALSE(hw.smartctl_available());
  REQUIRE(hw.disks_size() == 2);
  for (const auto& disk : hw.disks()) {
    CHECK(disk.smart_status() == "unavailable");
    CHECK(disk.smart_message() == "smartctl not installed (apt install smartmontools)");
  }
  CHECK(calls == 1);  // learnt once, not retried per disk
}

TEST_CASE("hardware collector reads /sys/hypervisor and skips virtual disks") {
  testing::TempDir dir;
  fs::create_directories(dir / "proc");
  fs::create_directories(dir / "sys/hypervisor");
  fs::create_directories(dir / "sys/block/loop0");
  fs::create_directories(dir / "sys/block/dm-0");
  fs::create_directories(dir / "sys/block/xvda/queue");
  REQUIRE(WriteFileAtomic(dir / "proc/cpuinfo", "processor : 0\nmodel name : Xeon\n").ok());
  REQUIRE(WriteFileAtomic(dir / "proc/meminfo", "MemTotal: 2048 kB\n").ok());
  REQUIRE(WriteFileAtomic(dir / "sys/hypervisor/type", "xen\n").ok());
  REQUIRE(WriteFileAtomic(dir / "sys/block/xvda/size", "not a number\n").ok());
  CollectContext ctx = RootContext(dir.path());
  dozor::v1::Hardware hw;
  REQUIRE(CollectHardware(ctx, &hw).ok());
  CHECK(hw.virtual_machine());
  CHECK(hw.hypervisor() == "xen");
  REQUIRE(hw.disks_size() == 1);
  CHECK(hw.disks(0).name() == "xvda");
  CHECK(hw.disks(0).size_bytes() == 0);
  CHECK(hw.memory_total_bytes() == 2048 * 1024);
}

TEST_CASE("hardware collector fails cleanly when cpuinfo is missing") {
  testing::TempDir dir;
  CollectContext ctx = RootContext(dir.path());
  dozor::v1::Hardware hw;
  Status status = CollectHardware(ctx, &hw);
  REQUIRE_FALSE(status.ok());
  CHECK(status.error().code == ErrorCode::kNotFound);
}

// ----------------------------------------------------------------------------------
// real machine

TEST_CASE("hardware collector on this machine reports sane ranges") {
  CollectContext ctx;
  ctx.run_command = SystemCommandRunner(10000);
  dozor::v1::Hardware hw;
  Status status = CollectHardware(ctx, &hw);
  REQUIRE_MESSAGE(status.ok(), (status.ok() ? "" : status.error().ToString()));
  CHECK(hw.cpu().threads() >= 1);
  CHECK(hw.cpu().cores() >= 1);
  CHECK(hw.cpu().cores() <= hw.cpu().threads());
  CHECK(hw.cpu().sockets() >= 1);
  CHECK(hw.memory_total_bytes() > 64ULL * 1024 * 1024);
  // Containers may have no DMI and no real disks; what is there must be well
  // formed.
  for (const auto& disk : hw.disks()) {
    CHECK_FALSE(disk.name().empty());
    CHECK_FALSE(disk.transport().empty());
    CHECK_FALSE(disk.smart_status().empty());
    CHECK(disk.name().rfind("loop", 0) != 0);
  }
}

}  // namespace dozor::agent
