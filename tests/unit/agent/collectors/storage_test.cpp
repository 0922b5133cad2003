// Storage arrays and UPS monitoring: the pure parsers (mdstat, md sysfs, zpool, storcli, upsc,
// NUT configuration, apcaccess) and the Linux collector over the md-degraded-server and
// ups-server fixture roots with canned command output.
#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "collector_test_util.hpp"
#include "collectors/linux/storage_linux.hpp"
#include "collectors/parsers/storage_parsers.hpp"
#include "dozor/common/files.hpp"
#include "test_util.hpp"

namespace dozor::agent {
namespace {
namespace storage_test {

using namespace collector_test;

const dozor::v1::StorageArray* FindArray(const dozor::v1::Hardware& hardware,
                                         std::string_view name) {
  for (const auto& array : hardware.storage_arrays()) {
    if (array.name() == name) return &array;
  }
  return nullptr;
}

const dozor::v1::Ups* FindUps(const dozor::v1::Hardware& hardware, std::string_view name) {
  for (const auto& ups : hardware.power().ups()) {
    if (ups.name() == name) return &ups;
  }
  return nullptr;
}

// A context over a fixture root whose commands answer from its dozor-fixture/ files: zpool,
// storcli at its usual path, upsc <ups>.
CollectContext CannedContext(const std::string& host) {
  CollectContext ctx = FixtureContext(host);
  std::filesystem::path canned = HostRoot(host) / "dozor-fixture";
  ctx.run_command = [canned](const std::vector<std::string>& argv) -> Result<CommandOutput> {
    std::string file;
    if (argv.size() >= 2 && argv[0] == "zpool" && argv[1] == "list") file = "zpool-list.txt";
    if (argv.size() >= 2 && argv[0] == "zpool" && argv[1] == "status") file = "zpool-status.txt";
    if (argv.size() == 3 && argv[0] == "/opt/MegaRAID/storcli/storcli64" &&
        argv[1] == "/call/vall" && argv[2] == "show") {
      file = "storcli-call-vall-show.txt";
    }
    if (argv.size() == 2 && argv[0] == "upsc") {
      file = "upsc-" + argv[1].substr(0, argv[1].find('@')) + ".txt";
    }
    if (!file.empty()) {
      auto text = ReadFile(canned / file);
      if (text.ok()) return CommandOutput{0, std::move(text).value()};
      return CommandOutput{1, ""};  // upsc of a UPS the driver does not answer for
    }
    return MakeError(ErrorCode::kNotFound, argv.empty() ? "" : argv[0]);
  };
  return ctx;
}

TEST_CASE("ParseMdstat reads levels, members, degraded arrays and the sync in progress") {
  const std::string text = ReadFixture("md-degraded-server", "proc/mdstat");
  std::vector<dozor::v1::StorageArray> arrays = ParseMdstat(text);
  REQUIRE(arrays.size() == 3);

  const auto& md2 = arrays[0];
  CHECK(md2.kind() == "md");
  CHECK(md2.name() == "md2");
  CHECK(md2.level() == "raid5");
  CHECK(md2.state() == "active");
  CHECK(md2.members_size() == 4);
  CHECK(md2.devices_expected() == 4);
  CHECK(md2.devices_active() == 3);
  CHECK(md2.degraded());  // recovery onto the spare: degraded until it completes
  CHECK(md2.sync_action() == "recover");
  CHECK(md2.sync_percent() == doctest::Approx(8.5));
  CHECK(md2.size_bytes() == 5860147200ULL * 1024);

  const auto& md1 = arrays[1];
  CHECK(md1.name() == "md1");
  CHECK(md1.degraded());
  REQUIRE(md1.members_size() == 2);
  CHECK(md1.members(0).device() == "sdb2");
  CHECK(md1.members(0).state() == "faulty");
  CHECK(md1.members(1).state() == "in_sync");
  CHECK(md1.sync_action().empty());

  const auto& md0 = arrays[2];
  CHECK(md0.name() == "md0");
  CHECK_FALSE(md0.degraded());  // a check of a healthy mirror is not a problem
  CHECK(md0.sync_action() == "check");
  CHECK(md0.sync_percent() == doctest::Approx(27.3));
}

TEST_CASE("ParseMdstat knows spares, inactive and read-only arrays and delayed resyncs") {
  const std::string text =
      "Personalities : [raid1] [raid10]\n"
      "md127 : inactive sdc[0](S) sdd[1](S)\n"
      "      3906767024 blocks super 1.2\n"
      "\n"
      "md3 : active (auto-read-only) raid10 sde1[3] sdf1[2](S) sdg1[1] sdh1[0](W)\n"
      "      2093056 blocks super 1.2 512K chunks 2 near-copies [3/3] [UUU]\n"
      "      resync=PENDING\n"
      "\n"
      "md4 : active raid1 sdi1[1] sdj1[0]\n"
      "      1046528 blocks [2/2] [U_]\n"
      "unused devices: <none>\n";
  std::vector<dozor::v1::StorageArray> arrays = ParseMdstat(text);
  REQUIRE(arrays.size() == 3);
  CHECK(arrays[0].state() == "inactive");
  CHECK(arrays[0].level().empty());
  REQUIRE(arrays[0].members_size() == 2);
  CHECK(arrays[0].members(1).state() == "spare");
  CHECK(arrays[1].state() == "active (auto-read-only)");
  CHECK(arrays[1].level() == "raid10");
  CHECK(arrays[1].members(1).state() == "spare");
  CHECK(arrays[1].members(3).state() == "write_mostly");
  CHECK_FALSE(arrays[1].degraded());
  CHECK(arrays[1].sync_action() == "resync");
  CHECK(arrays[1].sync_percent() == 0);
  CHECK(arrays[2].degraded());  // [U_] alone says it
}

TEST_CASE("ParseMdstat gives nothing for text that is not mdstat") {
  CHECK(ParseMdstat("").empty());
  CHECK(ParseMdstat("Personalities : \nunused devices: <none>\n").empty());
  CHECK(ParseMdstat("\xff\xfe md0 : \n : : [[[ ]]]\n  [9999999999999999999/1] [U_\n").empty());
  std::vector<dozor::v1::StorageArray> odd = ParseMdstat("md9 : active\n  [x/y] [__]\n");
  REQUIRE(odd.size() == 1);
  CHECK(odd[0].degraded());
}

TEST_CASE("ApplyMdSysfs refines degraded, broken arrays and the running sync action") {
  dozor::v1::StorageArray array;
  array.set_state("active");
  ApplyMdSysfs("active\n", "1\n", "recover\n", &array);
  CHECK(array.degraded());
  CHECK(array.sync_action() == "recover");

  dozor::v1::StorageArray broken;
  ApplyMdSysfs("broken", "0", "idle", &broken);
  CHECK(broken.state() == "broken");
  CHECK(broken.degraded());
  CHECK(broken.sync_action().empty());

  dozor::v1::StorageArray healthy;
  ApplyMdSysfs("clean", "0", "frozen", &healthy);
  CHECK_FALSE(healthy.degraded());
  CHECK(healthy.sync_action().empty());
}

TEST_CASE("ParseZpoolList reads exact and human sizes and the pool health") {
  std::vector<dozor::v1::StorageArray> pools =
      ParseZpoolList(ReadFixture("md-degraded-server", "dozor-fixture/zpool-list.txt"));
  REQUIRE(pools.size() == 2);
  CHECK(pools[0].kind() == "zfs");
  CHECK(pools[0].name() == "tank");
  CHECK(pools[0].state() == "DEGRADED");
  CHECK(pools[0].degraded());
  CHECK(pools[0].size_bytes() == 3985729650688ULL);
  CHECK(pools[0].free_bytes() == 1838246002688ULL);
  CHECK_FALSE(pools[1].degraded());

  pools = ParseZpoolList("rpool  928G  12.5G  915G  SUSPENDED\nbad line\n");
  REQUIRE(pools.size() == 1);
  CHECK(pools[0].size_bytes() == 928ULL << 30);
  CHECK(pools[0].free_bytes() == 915ULL << 30);
  CHECK(pools[0].degraded());
}

TEST_CASE("ApplyZpoolStatus reads the layout, leaves, scrub, resilver and errors") {
  std::vector<dozor::v1::StorageArray> pools =
      ParseZpoolList(ReadFixture("md-degraded-server", "dozor-fixture/zpool-list.txt"));
  ApplyZpoolStatus(ReadFixture("md-degraded-server", "dozor-fixture/zpool-status.txt"), &pools);
  REQUIRE(pools.size() == 2);
  const auto& tank = pools[0];
  CHECK(tank.level() == "mirror");
  CHECK(tank.sync_action() == "resilver");
  CHECK(tank.sync_percent() == doctest::Approx(20.14));
  CHECK(tank.errors().empty());
  REQUIRE(tank.members_size() == 4);
  CHECK(tank.members(1).device() == "nvme-SAMSUNG_MZQL2_S2");
  CHECK(tank.members(1).state() == "UNAVAIL");
  CHECK(tank.members(3).state() == "AVAIL");  // the spare

  const auto& backup = pools[1];
  CHECK(backup.level() == "raidz2");
  CHECK(backup.members_size() == 4);
  CHECK(backup.sync_action().empty());
  CHECK(backup.last_scrub_time() == 1794109005);  // 2026-11-08 03:36:45 as UTC

  std::vector<dozor::v1::StorageArray> only_status;
  ApplyZpoolStatus(
      "  pool: data\n state: ONLINE\n  scan: scrub in progress since Sat Dec  5 01:00:00 2026\n"
      "\t1.00T scanned, 512G issued, 2.00T total\n\t0B repaired, 25.00% done, 01:00:00 to go\n"
      "config:\n\n\tNAME STATE READ WRITE CKSUM\n\tdata ONLINE 0 0 0\n\t  sda ONLINE 0 0 0\n"
      "\t  sdb ONLINE 0 0 0\n\nerrors: 2 data errors, use '-v' for a list\n",
      &only_status);
  REQUIRE(only_status.size() == 1);
  CHECK(only_status[0].level() == "stripe");
  CHECK(only_status[0].sync_action() == "scrub");
  CHECK(only_status[0].sync_percent() == doctest::Approx(25.0));
  CHECK(only_status[0].errors() == "2 data errors, use '-v' for a list");
  CHECK_FALSE(only_status[0].degraded());
}

TEST_CASE("ParseStorcliVirtualDrives spells out states and names drives per controller") {
  std::vector<dozor::v1::StorageArray> drives = ParseStorcliVirtualDrives(
      ReadFixture("md-degraded-server", "dozor-fixture/storcli-call-vall-show.txt"));
  REQUIRE(drives.size() == 2);
  CHECK(drives[0].kind() == "hwraid");
  CHECK(drives[0].name() == "c0/v0");
  CHECK(drives[0].level() == "RAID1");
  CHECK(drives[0].state() == "Optimal");
  CHECK_FALSE(drives[0].degraded());
  CHECK(drives[0].size_bytes() == 479559942144ULL);  // 446.625 GiB
  CHECK(drives[1].name() == "c0/v1");
  CHECK(drives[1].level() == "RAID10");

  drives = ParseStorcliVirtualDrives(
      "Controller = 1\nStatus = Success\n\n"
      "DG/VD TYPE  State Access Consist Cache Cac sCC       Size Name\n"
      "0/2   RAID5 Dgrd  RW     No      RWBD  -   ON   10.915 TB data\n"
      "1/3   RAID1 OfLn  RW     No      RWBD  -   ON   1.0 TB\n"
      "Controller = 2\n"
      "0/0   RAID6 Pdgd  RW     Yes     RWBD  -   ON   20 TB archive\n");
  REQUIRE(drives.size() == 3);
  CHECK(drives[0].name() == "c1/v2");
  CHECK(drives[0].state() == "Degraded");
  CHECK(drives[0].degraded());
  CHECK(drives[1].state() == "Offline");
  CHECK(drives[2].name() == "c2/v0");
  CHECK(drives[2].controller() == "/c2");
  CHECK(drives[2].state() == "Partially Degraded");
  CHECK(ParseStorcliVirtualDrives("Status = Failure\nDescription = No controller found\n").empty());
}

TEST_CASE("ApplyUpsc reads status, charge, runtime and the model with its maker") {
  dozor::v1::Ups ups;
  ups.set_battery_charge_pct(-1);
  ups.set_runtime_seconds(-1);
  ApplyUpsc(ReadFixture("ups-server", "dozor-fixture/upsc-eaton.txt"), &ups);
  CHECK(ups.status() == "OL CHRG");
  CHECK_FALSE(ups.on_battery());
  CHECK(ups.battery_charge_pct() == doctest::Approx(100));
  CHECK(ups.runtime_seconds() == 2460);
  CHECK(ups.model() == "EATON Eaton 5PX 1500");

  dozor::v1::Ups low;
  low.set_battery_charge_pct(-1);
  ApplyUpsc("ups.status: OB DISCHRG LB\nbattery.charge: 150\nups.model: Back-UPS\n", &low);
  CHECK(low.on_battery());
  CHECK(low.low_battery());
  CHECK(low.battery_charge_pct() == -1);  // out of range: unknown
  CHECK(low.model() == "Back-UPS");
}

TEST_CASE("NUT configuration: upsmon MONITOR lines, ups.conf sections, nut.conf MODE") {
  CHECK(ParseUpsmonMonitors(ReadFixture("ups-server", "etc/nut/upsmon.conf")) ==
        std::vector<std::string>{"eaton@localhost"});
  CHECK(ParseNutUpsConfNames(ReadFixture("ups-server", "etc/nut/ups.conf")) ==
        std::vector<std::string>{"eaton", "spare-ups"});
  CHECK(ParseNutMode(ReadFixture("ups-server", "etc/nut/nut.conf")) == "standalone");
  CHECK(ParseNutMode("# MODE=standalone\nMODE = \"none\"\n") == "none");
  CHECK(ParseNutMode("").empty());
}

TEST_CASE("ApplyApcaccess maps apcupsd's status words and reads charge and minutes left") {
  dozor::v1::Ups ups;
  REQUIRE(ApplyApcaccess(ReadFixture("ups-server", "var/log/apcupsd.status"), &ups));
  CHECK(ups.name() == "srv-apc");
  CHECK(ups.model() == "Smart-UPS 1500 RM");
  CHECK(ups.status() == "OB");
  CHECK(ups.on_battery());
  CHECK_FALSE(ups.low_battery());
  CHECK(ups.battery_charge_pct() == doctest::Approx(35));
  CHECK(ups.runtime_seconds() == 570);

  dozor::v1::Ups low;
  REQUIRE(ApplyApcaccess("STATUS   : ONBATT LOWBATT REPLACEBATT\n", &low));
  CHECK(low.status() == "OB LB RB");
  CHECK(low.low_battery());
  dozor::v1::Ups none;
  CHECK_FALSE(ApplyApcaccess("battery.charge: 100\n", &none));
}

TEST_CASE("CollectStorageAndPower reads md, ZFS and storcli on md-degraded-server") {
  dozor::v1::Hardware hardware;
  CollectStorageAndPower(CannedContext("md-degraded-server"), &hardware);
  INFO(hardware.DebugString());
  CHECK(hardware.storage_arrays_size() == 7);  // 3 md, 2 pools, 2 virtual drives
  const auto* md1 = FindArray(hardware, "md1");
  REQUIRE(md1 != nullptr);
  CHECK(md1->degraded());
  const auto* md0 = FindArray(hardware, "md0");
  REQUIRE(md0 != nullptr);
  CHECK_FALSE(md0->degraded());
  CHECK(md0->sync_action() == "check");
  const auto* tank = FindArray(hardware, "tank");
  REQUIRE(tank != nullptr);
  CHECK(tank->kind() == "zfs");
  CHECK(tank->degraded());
  CHECK(tank->level() == "mirror");
  const auto* vd = FindArray(hardware, "c0/v0");
  REQUIRE(vd != nullptr);
  CHECK(vd->state() == "Optimal");
  CHECK(hardware.power().checked());
  CHECK(hardware.power().ups_size() == 0);
  CHECK(hardware.unavailable_size() == 0);
}

TEST_CASE("CollectStorageAndPower without external commands reads md alone and says why") {
  dozor::v1::Hardware hardware;
  CollectStorageAndPower(FixtureContext("md-degraded-server"), &hardware);
  CHECK(hardware.storage_arrays_size() == 3);
  REQUIRE(hardware.unavailable_size() == 2);
  CHECK(hardware.unavailable(0) == "ZFS pools: external commands are disabled");
}

TEST_CASE("CollectStorageAndPower finds the UPSes NUT and apcupsd watch on ups-server") {
  dozor::v1::Hardware hardware;
  CollectStorageAndPower(CannedContext("ups-server"), &hardware);
  INFO(hardware.DebugString());
  CHECK(hardware.storage_arrays_size() == 0);
  CHECK(hardware.power().checked());
  REQUIRE(hardware.power().ups_size() == 3);
  const auto* eaton = FindUps(hardware, "eaton@localhost");
  REQUIRE(eaton != nullptr);
  CHECK(eaton->daemon() == "nut");
  CHECK(eaton->monitored());
  CHECK(eaton->status() == "OL CHRG");
  CHECK(eaton->runtime_seconds() == 2460);
  CHECK(eaton->source() == "/etc/nut/upsmon.conf");
  const auto* spare = FindUps(hardware, "spare-ups@localhost");
  REQUIRE(spare != nullptr);
  CHECK_FALSE(spare->monitored());
  CHECK(spare->status().empty());
  CHECK(spare->battery_charge_pct() == -1);
  const auto* apc = FindUps(hardware, "srv-apc");
  REQUIRE(apc != nullptr);
  CHECK(apc->daemon() == "apcupsd");
  CHECK(apc->monitored());  // enabled in multi-user.target.wants
  CHECK(apc->on_battery());
  CHECK(apc->source() == "/var/log/apcupsd.status");
}

TEST_CASE("CollectStorageAndPower on a machine with neither arrays nor UPS says it looked") {
  dozor::v1::Hardware hardware;
  CollectStorageAndPower(FixtureContext("minimal-vm"), &hardware);
  CHECK(hardware.storage_arrays_size() == 0);
  CHECK(hardware.power().checked());
  CHECK(hardware.power().ups_size() == 0);
}

TEST_CASE("CollectStorageAndPower in a container does not claim to have looked for a UPS") {
  dozor::testing::TempDir dir;
  dozor::v1::Hardware hardware;
  hardware.set_container("lxc");  // what the hardware collector found before
  CollectStorageAndPower(RootContext(dir.path()), &hardware);
  CHECK_FALSE(hardware.power().checked());
  hardware.Clear();
  CollectStorageAndPower(RootContext(dir.path()), &hardware);
  CHECK(hardware.power().checked());
}

}  // namespace storage_test
}  // namespace
}  // namespace dozor::agent
