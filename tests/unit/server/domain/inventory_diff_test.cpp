#include "domain/inventory_diff.hpp"

#include <doctest/doctest.h>

#include <string>

namespace dozor::server {
namespace {

dozor::v1::Inventory BaseInventory() {
  dozor::v1::Inventory inv;
  auto* os = inv.mutable_os();
  os->set_pretty_name("Debian GNU/Linux 12 (bookworm)");
  os->set_version_id("12");
  os->set_kernel("6.1.0-17-amd64");
  os->set_hostname("db1");
  os->set_timezone("Europe/Moscow");
  auto* root = os->add_users();
  root->set_name("root");
  root->set_administrator(true);
  auto* ivan = os->add_users();
  ivan->set_name("ivan");
  auto* hw = inv.mutable_hardware();
  hw->mutable_cpu()->set_model("Xeon E5-2680");
  hw->set_memory_total_bytes(16ull << 30);
  hw->mutable_dmi()->set_bios_version("2.1");
  hw->mutable_dmi()->set_bios_date("2020-01-01");
  auto* disk = hw->add_disks();
  disk->set_name("sda");
  disk->set_model("SAMSUNG");
  disk->set_serial("S1");
  auto* net = inv.mutable_network();
  auto* eth = net->add_interfaces();
  eth->set_name("eth0");
  eth->set_mac("aa:bb:cc:dd:ee:ff");
  auto* ip = eth->add_addresses();
  ip->set_address("10.0.0.5");
  ip->set_prefix(24);
  ip->set_family(4);
  net->add_dns_servers("10.0.0.1");
  auto* gw = net->add_gateways();
  gw->set_address("10.0.0.1");
  gw->set_interface("eth0");
  auto* sw = inv.mutable_software();
  auto add_package = [&](const char* name, const char* version) {
    auto* p = sw->add_packages();
    p->set_name(name);
    p->set_version(version);
    p->set_architecture("amd64");
  };
  add_package("openssl", "3.0.11-1~deb12u2");
  add_package("curl", "7.88.1-10+deb12u5");
  add_package("telnet", "0.17+2.4-2");
  add_package("tzdata", "2024a-0+deb12u1");
  auto* app = sw->add_applications();
  app->set_name("1C:Enterprise");
  app->set_version("8.3.22.1709");
  app->set_kind("server");
  auto* svc = sw->add_services();
  svc->set_name("nginx.service");
  svc->set_active_state("active");
  svc->set_sub_state("running");
  svc->set_enabled("enabled");
  return inv;
}

const InventoryChange* Find(const std::vector<InventoryChange>& changes, std::string_view category,
                            std::string_view subject) {
  for (const auto& c : changes) {
    if (c.category == category && c.subject == subject) {
      return &c;
    }
  }
  return nullptr;
}

TEST_CASE("identical inventories produce no changes") {
  auto inv = BaseInventory();
  CHECK(DiffInventories(inv, inv, 1000, "a1").empty());
}

TEST_CASE("inventory diff reports upgrade with epoch, removal, new IP and kernel change") {
  auto before = BaseInventory();
  auto after = BaseInventory();
  after.mutable_os()->set_kernel("6.1.0-18-amd64");
  // openssl gains an epoch: 1:3.0.0 is newer than 3.0.11 despite the smaller upstream.
  after.mutable_software()->mutable_packages(0)->set_version("1:3.0.0-1");
  after.mutable_software()->mutable_packages()->DeleteSubrange(2, 1);  // telnet removed
  auto* ip = after.mutable_network()->mutable_interfaces(0)->add_addresses();
  ip->set_address("10.0.0.7");
  ip->set_prefix(24);

  auto changes = DiffInventories(before, after, 5000, "agent-1");
  REQUIRE(changes.size() == 4);
  for (const auto& c : changes) {
    CHECK(c.at_ms == 5000);
    CHECK(c.agent_id == "agent-1");
  }
  const auto* openssl = Find(changes, "package", "openssl");
  REQUIRE(openssl != nullptr);
  CHECK(openssl->action == "upgraded");
  CHECK(openssl->old_value == "3.0.11-1~deb12u2");
  CHECK(openssl->new_value == "1:3.0.0-1");
  const auto* telnet = Find(changes, "package", "telnet");
  REQUIRE(telnet != nullptr);
  CHECK(telnet->action == "removed");
  CHECK(telnet->old_value == "0.17+2.4-2");
  const auto* address = Find(changes, "network", "eth0 10.0.0.7/24");
  REQUIRE(address != nullptr);
  CHECK(address->action == "added");
  CHECK(address->new_value == "10.0.0.7/24");
  const auto* kernel = Find(changes, "os", "os.kernel");
  REQUIRE(kernel != nullptr);
  CHECK(kernel->action == "changed");
  CHECK(kernel->old_value == "6.1.0-17-amd64");
  CHECK(kernel->new_value == "6.1.0-18-amd64");
}

TEST_CASE("inventory diff reports downgrade and added package") {
  auto before = BaseInventory();
  auto after = BaseInventory();
  after.mutable_software()->mutable_packages(1)->set_version("7.88.1-10+deb12u4");
  auto* p = after.mutable_software()->add_packages();
  p->set_name("htop");
  p->set_version("3.2.2-2");
  auto changes = DiffInventories(before, after, 1, "a");
  REQUIRE(changes.size() == 2);
  CHECK(Find(changes, "package", "curl")->action == "downgraded");
  CHECK(Find(changes, "package", "htop")->action == "added");
  CHECK(Find(changes, "package", "htop")->new_value == "3.2.2-2");
}

TEST_CASE("multiarch packages are told apart by architecture") {
  auto before = BaseInventory();
  auto* p = before.mutable_software()->add_packages();
  p->set_name("curl");
  p->set_version("7.88.1-10+deb12u5");
  p->set_architecture("i386");
  auto after = before;
  after.mutable_software()->mutable_packages(4)->set_version("7.88.1-10+deb12u6");
  auto changes = DiffInventories(before, after, 1, "a");
  REQUIRE(changes.size() == 1);
  CHECK(changes[0].subject == "curl:i386");
  CHECK(changes[0].action == "upgraded");
}

TEST_CASE("inventory diff covers hardware, services, users, applications and network") {
  auto before = BaseInventory();
  auto after = BaseInventory();
  after.mutable_hardware()->set_memory_total_bytes(32ull << 30);
  after.mutable_hardware()->mutable_dmi()->set_bios_version("2.2");
  after.mutable_hardware()->mutable_disks(0)->set_serial("S2");  // disk replaced
  after.mutable_software()->mutable_services(0)->set_active_state("failed");
  after.mutable_software()->mutable_services(0)->set_sub_state("failed");
  after.mutable_os()->mutable_users(1)->set_administrator(true);
  auto* user = after.mutable_os()->add_users();
  user->set_name("backup");
  after.mutable_software()->mutable_applications(0)->set_version("8.3.24.1467");
  after.mutable_network()->set_dns_servers(0, "8.8.8.8");
  after.mutable_network()->mutable_gateways(0)->set_address("10.0.0.254");
  after.mutable_os()->set_timezone("UTC");

  auto changes = DiffInventories(before, after, 1, "a");
  CHECK(Find(changes, "hardware", "hardware.memory_total_bytes") != nullptr);
  CHECK(Find(changes, "hardware", "hardware.bios_version")->new_value == "2.2");
  CHECK(Find(changes, "hardware", "disk SAMSUNG S1")->action == "removed");
  CHECK(Find(changes, "hardware", "disk SAMSUNG S2")->action == "added");
  const auto* nginx = Find(changes, "service", "nginx.service");
  REQUIRE(nginx != nullptr);
  CHECK(nginx->action == "changed");
  CHECK(nginx->old_value == "active/running enabled");
  CHECK(nginx->new_value == "failed/failed enabled");
  CHECK(Find(changes, "user", "ivan")->new_value == "administrator");
  CHECK(Find(changes, "user", "backup")->action == "added");
  CHECK(Find(changes, "application", "1C:Enterprise 8.3.22.1709")->action == "removed");
  CHECK(Find(changes, "application", "1C:Enterprise 8.3.24.1467")->action == "added");
  CHECK(Find(changes, "network", "network.dns_servers")->new_value == "8.8.8.8");
  CHECK(Find(changes, "network", "network.gateways")->old_value == "10.0.0.1 via eth0");
  CHECK(Find(changes, "os", "os.timezone")->new_value == "UTC");
  CHECK(changes.size() == 12);
}

// A Windows machine's inventory with the parts only Windows fills (memory modules, volumes,
// edition/build/activation/domain, security, 1C lists and licence clients).
dozor::v1::Inventory WindowsInventory() {
  dozor::v1::Inventory inv;
  auto* os = inv.mutable_os();
  os->set_family("windows");
  os->set_edition("Professional");
  os->set_build("22631.2861");
  os->set_activation("licensed");
  os->set_workgroup("WORKGROUP");
  os->set_product_type("workstation");
  auto* hw = inv.mutable_hardware();
  auto* module = hw->add_memory_modules();
  module->set_slot("DIMM A1");
  module->set_serial("M1");
  module->set_size_bytes(8ull << 30);
  module->set_manufacturer("Kingston");
  auto* c = hw->add_volumes();
  c->set_mount_point("C:");
  c->set_file_system("NTFS");
  c->set_kind("local");
  c->set_encryption("off");
  c->set_free_bytes(100);
  auto* security = inv.mutable_security();
  auto* defender = security->add_antivirus();
  defender->set_name("Windows Defender");
  defender->set_source("security_center");
  defender->set_enabled(1);
  auto* domain_profile = security->add_firewall();
  domain_profile->set_name("Domain");
  domain_profile->set_enabled(true);
  security->set_remote_desktop(0);
  security->set_remote_desktop_nla(-1);
  security->set_smb1(0);
  auto* sw = inv.mutable_software();
  auto* base = sw->add_infobases();
  base->set_user("buh");
  base->set_name("Бухгалтерия");
  base->set_kind("file");
  base->set_location("D:\\1C\\Buh");
  auto* hasp = sw->add_license_clients();
  hasp->set_kind("hasp");
  hasp->set_config_path("C:\\Program Files\\1cv8\\conf\\nethasp.ini");
  hasp->add_servers("10.0.0.2");
  return inv;
}

TEST_CASE("inventory diff covers the Windows parts: modules, volumes, edition, security, 1C") {
  auto before = WindowsInventory();
  CHECK(DiffInventories(before, before, 1, "w").empty());
  auto after = WindowsInventory();
  after.mutable_hardware()->mutable_volumes(0)->set_free_bytes(5);        // health, not a change
  after.mutable_hardware()->mutable_memory_modules(0)->set_serial("M2");  // module swapped
  after.mutable_hardware()->mutable_volumes(0)->set_encryption("on");
  auto* share = after.mutable_hardware()->add_volumes();
  share->set_mount_point("Z:");
  share->set_kind("network");
  share->set_remote_path("\\\\fs1\\bases");
  after.mutable_os()->set_build("22631.3007");
  after.mutable_os()->set_workgroup("");
  after.mutable_os()->set_domain("corp.example");
  after.mutable_os()->set_activation("unknown");  // could not tell this time: not a change
  after.mutable_security()->mutable_antivirus(0)->set_enabled(0);
  after.mutable_security()->mutable_firewall(0)->set_enabled(false);
  after.mutable_security()->set_remote_desktop(1);
  after.mutable_security()->set_remote_desktop_nla(1);  // was unknown: not a change
  after.mutable_security()->set_smb1(-1);               // now unknown: not a change
  auto* kaspersky = after.mutable_security()->add_antivirus();
  kaspersky->set_name("Kaspersky Endpoint Security");
  kaspersky->set_source("security_center");
  after.mutable_software()->mutable_infobases(0)->set_location("Z:\\Buh");
  after.mutable_software()->mutable_license_clients(0)->add_servers("10.0.0.3");

  auto changes = DiffInventories(before, after, 1, "w");
  CHECK(Find(changes, "hardware", "memory DIMM A1 M1")->action == "removed");
  CHECK(Find(changes, "hardware", "memory DIMM A1 M2")->action == "added");
  CHECK(Find(changes, "hardware", "volume Z:")->new_value == "network \\\\fs1\\bases");
  const auto* encryption = Find(changes, "hardware", "volume C: encryption");
  REQUIRE(encryption != nullptr);
  CHECK(encryption->old_value == "off");
  CHECK(encryption->new_value == "on");
  CHECK(Find(changes, "os", "os.build")->new_value == "22631.3007");
  CHECK(Find(changes, "os", "os.domain")->new_value == "corp.example");
  CHECK(Find(changes, "os", "os.workgroup")->old_value == "WORKGROUP");
  CHECK(Find(changes, "os", "os.activation") == nullptr);
  CHECK(Find(changes, "security", "antivirus Windows Defender real-time protection")->new_value ==
        "off");
  CHECK(Find(changes, "security", "antivirus Kaspersky Endpoint Security")->action == "added");
  CHECK(Find(changes, "security", "firewall Domain")->new_value == "off");
  CHECK(Find(changes, "security", "remote desktop")->new_value == "on");
  CHECK(Find(changes, "security", "remote desktop NLA") == nullptr);
  CHECK(Find(changes, "security", "SMBv1") == nullptr);
  const auto* moved = Find(changes, "onec", "infobase buh: Бухгалтерия");
  REQUIRE(moved != nullptr);
  CHECK(moved->action == "changed");
  CHECK(moved->old_value == "file D:\\1C\\Buh");
  CHECK(moved->new_value == "file Z:\\Buh");
  CHECK(Find(changes, "onec", "licence client hasp C:\\Program Files\\1cv8\\conf\\nethasp.ini")
            ->new_value == "10.0.0.2, 10.0.0.3");
  CHECK(changes.size() == 13);
}

TEST_CASE("inventory diff logs backup jobs added, removed and rescheduled, not their runs") {
  auto before = BaseInventory();
  auto* sw = before.mutable_software();
  auto* nightly = sw->add_backup_jobs();
  nightly->set_tool("pg_probackup");
  nightly->set_target("main");
  nightly->set_source("cron:/etc/cron.d/pg_probackup:6");
  nightly->set_schedule("5 3 * * *");
  nightly->set_destination("/var/lib/pg_probackup");
  nightly->set_last_success_time(1000);
  auto* dump = sw->add_backup_jobs();
  dump->set_tool("pg_dump");
  dump->set_target("buh");
  dump->set_source("cron:/var/spool/cron/crontabs/postgres:3");
  auto after = before;
  // A new run is not a change; a new schedule, a removed and an added job are.
  after.mutable_software()->mutable_backup_jobs(0)->set_last_success_time(2000);
  after.mutable_software()->mutable_backup_jobs(0)->set_last_status("ok");
  CHECK(DiffInventories(before, after, 1000, "a1").empty());
  after.mutable_software()->mutable_backup_jobs(0)->set_schedule("5 4 * * *");
  after.mutable_software()->mutable_backup_jobs()->RemoveLast();
  auto* restic = after.mutable_software()->add_backup_jobs();
  restic->set_tool("restic");
  restic->set_target("/etc");
  restic->set_source("timer:restic-backup.timer");
  auto changes = DiffInventories(before, after, 1000, "a1");
  const auto* moved =
      Find(changes, "backup", "backup pg_probackup main (cron:/etc/cron.d/pg_probackup:6)");
  REQUIRE(moved != nullptr);
  CHECK(moved->action == "changed");
  CHECK(moved->old_value == "5 3 * * * /var/lib/pg_probackup");
  CHECK(moved->new_value == "5 4 * * * /var/lib/pg_probackup");
  const auto* removed =
      Find(changes, "backup", "backup pg_dump buh (cron:/var/spool/cron/crontabs/postgres:3)");
  REQUIRE(removed != nullptr);
  CHECK(removed->action == "removed");
  const auto* added = Find(changes, "backup", "backup restic /etc (timer:restic-backup.timer)");
  REQUIRE(added != nullptr);
  CHECK(added->action == "added");
  CHECK(changes.size() == 3);
}

TEST_CASE("inventory diff logs an array's state and members and a UPS's monitoring, not progress") {
  auto before = BaseInventory();
  auto* hw = before.mutable_hardware();
  auto* md1 = hw->add_storage_arrays();
  md1->set_kind("md");
  md1->set_name("md1");
  md1->set_level("raid1");
  md1->set_state("active");
  md1->set_degraded(true);
  md1->set_sync_action("recover");
  md1->set_sync_percent(8.5);
  auto* faulty = md1->add_members();
  faulty->set_device("sdb2");
  faulty->set_state("faulty");
  auto* ups = hw->mutable_power()->add_ups();
  ups->set_daemon("nut");
  ups->set_name("eaton@localhost");
  ups->set_status("OL");
  ups->set_monitored(false);
  auto after = before;
  // Rebuild progress and the UPS's momentary status are facts for rules, not changes.
  after.mutable_hardware()->mutable_storage_arrays(0)->set_sync_percent(42);
  after.mutable_hardware()->mutable_power()->mutable_ups(0)->set_status("OB DISCHRG");
  CHECK(DiffInventories(before, after, 1000, "a1").empty());
  after.mutable_hardware()->mutable_storage_arrays(0)->set_degraded(false);
  after.mutable_hardware()->mutable_storage_arrays(0)->mutable_members(0)->set_state("in_sync");
  after.mutable_hardware()->mutable_power()->mutable_ups(0)->set_monitored(true);
  auto changes = DiffInventories(before, after, 1000, "a1");
  const auto* array = Find(changes, "hardware", "array md md1");
  REQUIRE(array != nullptr);
  CHECK(array->action == "changed");
  CHECK(array->old_value == "raid1 active, degraded (sdb2 faulty)");
  CHECK(array->new_value == "raid1 active (sdb2 in_sync)");
  const auto* watched = Find(changes, "hardware", "ups nut eaton@localhost");
  REQUIRE(watched != nullptr);
  CHECK(watched->old_value == "not monitored");
  CHECK(watched->new_value == "monitored");
  CHECK(changes.size() == 2);
}

TEST_CASE(
    "inventory diff logs a package put on hold and repositories added removed or switched off") {
  auto before = BaseInventory();
  auto* sw = before.mutable_software();
  auto* samba = sw->add_packages();
  samba->set_name("samba");
  samba->set_version("2:4.17.12");
  samba->set_source("dpkg");
  auto* debian = sw->add_repositories();
  debian->set_manager("apt");
  debian->set_kind("deb");
  debian->set_uri("http://deb.debian.org/debian");
  debian->set_suite("bookworm");
  debian->set_components("main");
  debian->set_enabled(true);
  debian->set_official(true);
  auto* docker = sw->add_repositories();
  docker->set_manager("apt");
  docker->set_kind("deb");
  docker->set_uri("https://download.docker.com/linux/debian");
  docker->set_suite("bookworm");
  docker->set_components("stable");
  docker->set_enabled(true);
  auto after = before;
  after.mutable_software()->mutable_packages(after.software().packages_size() - 1)->set_held(true);
  after.mutable_software()->mutable_repositories(1)->set_enabled(false);
  auto* pgdg = after.mutable_software()->add_repositories();
  pgdg->set_manager("apt");
  pgdg->set_kind("deb");
  pgdg->set_uri("https://apt.postgresql.org/pub/repos/apt");
  pgdg->set_suite("bookworm-pgdg");
  pgdg->set_components("main");
  pgdg->set_enabled(true);
  after.mutable_software()->mutable_repositories()->DeleteSubrange(0, 1);
  auto changes = DiffInventories(before, after, 1000, "a1");
  const auto* hold = Find(changes, "package", "samba hold");
  REQUIRE(hold != nullptr);
  CHECK(hold->old_value == "not held");
  CHECK(hold->new_value == "held");
  const auto* off = Find(changes, "repository",
                         "repository apt deb https://download.docker.com/linux/debian bookworm");
  REQUIRE(off != nullptr);
  CHECK(off->action == "changed");
  CHECK(off->old_value == "stable (third-party)");
  CHECK(off->new_value == "stable (third-party) disabled");
  const auto* added =
      Find(changes, "repository",
           "repository apt deb https://apt.postgresql.org/pub/repos/apt bookworm-pgdg");
  REQUIRE(added != nullptr);
  CHECK(added->action == "added");
  CHECK(added->new_value == "main (third-party)");
  const auto* removed =
      Find(changes, "repository", "repository apt deb http://deb.debian.org/debian bookworm");
  REQUIRE(removed != nullptr);
  CHECK(removed->action == "removed");
  CHECK(changes.size() == 4);
}

TEST_CASE("first inventory change row marks the host as added") {
  auto change = FirstInventoryChange(42, "a9");
  CHECK(change.category == "host");
  CHECK(change.action == "added");
  CHECK(change.subject == "first inventory");
  CHECK(change.at_ms == 42);
  CHECK(change.agent_id == "a9");
}

}  // namespace
}  // namespace dozor::server

namespace dozor::server {
namespace {

TEST_CASE("the change log of one inventory is capped with a row saying how many more") {
  std::vector<InventoryChange> changes;
  for (int i = 0; i < 12; ++i) {
    InventoryChange change;
    change.agent_id = "a";
    change.at_ms = 1000;
    change.category = "package";
    change.action = "added";
    change.subject = "p" + std::to_string(i);
    changes.push_back(change);
  }
  auto untouched = changes;
  CapInventoryChanges(untouched, 12);
  CHECK(untouched.size() == 12);
  CapInventoryChanges(changes, 5);
  REQUIRE(changes.size() == 5);
  CHECK(changes[3].subject == "p3");
  CHECK(changes[4].category == "inventory");
  CHECK(changes[4].action == "truncated");
  CHECK(changes[4].at_ms == 1000);
  CHECK(changes[4].new_value.find("8 more changes") == 0);
  // A diff of two inventories with 6,000 different packages keeps the default bound.
  dozor::v1::Inventory before;
  dozor::v1::Inventory after;
  for (int i = 0; i < 6000; ++i) {
    before.mutable_software()->add_packages()->set_name("old" + std::to_string(i));
    after.mutable_software()->add_packages()->set_name("new" + std::to_string(i));
  }
  auto diff = DiffInventories(before, after, 1000, "a");
  CHECK(diff.size() == 12000);
  CapInventoryChanges(diff);
  CHECK(diff.size() == kMaxChangesPerInventory);
}

}  // namespace
}  // namespace dozor::server

namespace dozor::server {
namespace {

TEST_CASE("a disk whose serial the agent learns is the same disk, a swapped one is not") {
  auto before = BaseInventory();
  auto* virtio = before.mutable_hardware()->add_disks();
  virtio->set_name("vda");
  virtio->set_model("");
  virtio->set_serial("");  // an older agent did not read /sys/block/vda/serial
  virtio->set_size_bytes(64ull << 30);
  auto after = before;
  after.mutable_hardware()->mutable_disks(1)->set_serial("QM00001");
  CHECK(DiffInventories(before, after, 1000, "a1").empty());
  // Another size: a different disk behind the same name, logged as a swap.
  after.mutable_hardware()->mutable_disks(1)->set_size_bytes(128ull << 30);
  auto changes = DiffInventories(before, after, 1000, "a1");
  REQUIRE(Find(changes, "hardware", "disk  ") != nullptr);
  CHECK(Find(changes, "hardware", "disk  ")->action == "removed");
  REQUIRE(Find(changes, "hardware", "disk  QM00001") != nullptr);
  CHECK(Find(changes, "hardware", "disk  QM00001")->action == "added");
}

}  // namespace
}  // namespace dozor::server

namespace dozor::server {
namespace pci_accounts_diff {

dozor::v1::PciDevice* AddPci(dozor::v1::Inventory& inv, const std::string& address,
                             const std::string& driver) {
  auto* device = inv.mutable_hardware()->add_pci_devices();
  device->set_address(address);
  device->set_vendor_id("8086");
  device->set_device_id("2922");
  device->set_class_name("SATA controller");
  device->set_driver(driver);
  device->set_vendor_name("Intel Corporation");
  return device;
}

const InventoryChange* FindChange(const std::vector<InventoryChange>& changes,
                                  const std::string& category, const std::string& subject) {
  for (const auto& change : changes) {
    if (change.category == category && change.subject == subject) return &change;
  }
  return nullptr;
}

TEST_CASE("PCI devices added removed or rebound are changes and their names are not") {
  dozor::v1::Inventory before;
  AddPci(before, "0000:00:1f.2", "ahci");
  AddPci(before, "0000:01:00.0", "");
  dozor::v1::Inventory after = before;
  after.mutable_hardware()->mutable_pci_devices(0)->set_device_name("a newer pci.ids name");
  CHECK(DiffInventories(before, after, 1000, "a").empty());

  after.mutable_hardware()->mutable_pci_devices(1)->set_driver("nouveau");
  AddPci(after, "0000:02:00.0", "megaraid_sas");
  after.mutable_hardware()->mutable_pci_devices()->DeleteSubrange(0, 1);
  auto changes = DiffInventories(before, after, 1000, "a");
  REQUIRE(changes.size() == 3);
  REQUIRE(FindChange(changes, "pci", "pci 0000:00:1f.2") != nullptr);
  CHECK(FindChange(changes, "pci", "pci 0000:00:1f.2")->action == "removed");
  CHECK(FindChange(changes, "pci", "pci 0000:00:1f.2")->old_value ==
        "8086:2922 SATA controller, driver ahci");
  CHECK(FindChange(changes, "pci", "pci 0000:01:00.0")->action == "changed");
  CHECK(FindChange(changes, "pci", "pci 0000:01:00.0")->new_value ==
        "8086:2922 SATA controller, driver nouveau");
  CHECK(FindChange(changes, "pci", "pci 0000:02:00.0")->action == "added");

  // An agent reporting PCI devices for the first time has not had them plugged in.
  CHECK(DiffInventories(dozor::v1::Inventory(), before, 1000, "a").empty());
}

TEST_CASE("joining or leaving an administrators group is a group change and other groups are not") {
  dozor::v1::Inventory before;
  auto* sudo = before.mutable_os()->add_groups();
  sudo->set_name("sudo");
  sudo->set_administrator(true);
  sudo->add_members("ivanov");
  auto* audio = before.mutable_os()->add_groups();
  audio->set_name("audio");
  audio->add_members("ivanov");
  dozor::v1::Inventory after = before;
  after.mutable_os()->mutable_groups(0)->add_members("petrova");
  after.mutable_os()->mutable_groups(0)->add_primary_members("deploy");
  after.mutable_os()->mutable_groups(1)->add_members("petrova");
  auto changes = DiffInventories(before, after, 1000, "a");
  REQUIRE(changes.size() == 2);
  REQUIRE(FindChange(changes, "group", "sudo: petrova") != nullptr);
  CHECK(FindChange(changes, "group", "sudo: petrova")->action == "added");
  CHECK(FindChange(changes, "group", "sudo: petrova")->new_value == "member");
  CHECK(FindChange(changes, "group", "sudo: deploy")->new_value == "primary group");

  auto back = DiffInventories(after, before, 2000, "a");
  REQUIRE(FindChange(back, "group", "sudo: petrova") != nullptr);
  CHECK(FindChange(back, "group", "sudo: petrova")->action == "removed");
  // The first report with groups at all (an agent before 023) logs nothing.
  dozor::v1::Inventory older;
  CHECK(DiffInventories(older, after, 1000, "a").empty());
}

TEST_CASE("an account disabled or enabled again is a change, a newer agent's first word is not") {
  dozor::v1::Inventory before;
  for (const char* name : {"root", "ivan", "daemon"}) {
    auto* user = before.mutable_os()->add_users();
    user->set_name(name);
    user->set_administrator(std::string_view(name) != "daemon");
  }
  // An agent that now says which accounts are disabled (daemon, ivan): nothing changed on the
  // host.
  dozor::v1::Inventory upgraded = before;
  upgraded.mutable_os()->mutable_users(1)->set_disabled(true);
  upgraded.mutable_os()->mutable_users(2)->set_disabled(true);
  CHECK(DiffInventories(before, upgraded, 1000, "a").empty());
  // From then on, ivan enabled again and root locked out are changes.
  dozor::v1::Inventory later = upgraded;
  later.mutable_os()->mutable_users(1)->set_disabled(false);
  later.mutable_os()->mutable_users(0)->set_disabled(true);
  auto changes = DiffInventories(upgraded, later, 2000, "a");
  REQUIRE(changes.size() == 2);
  const auto* ivan = Find(changes, "user", "ivan");
  REQUIRE(ivan != nullptr);
  CHECK(ivan->old_value == "administrator, disabled");
  CHECK(ivan->new_value == "administrator");
  const auto* root = Find(changes, "user", "root");
  REQUIRE(root != nullptr);
  CHECK(root->new_value == "administrator, disabled");
}

TEST_CASE("system accounts a newer agent reports for the first time are not added users") {
  dozor::v1::Inventory before;
  auto* root = before.mutable_os()->add_users();
  root->set_name("root");
  root->set_administrator(true);
  dozor::v1::Inventory after = before;
  auto* daemon = after.mutable_os()->add_users();
  daemon->set_name("daemon");
  daemon->set_kind("system");
  CHECK(DiffInventories(before, after, 1000, "a").empty());
  // Once reported, a new system account (a package's service user) is a change like any other.
  dozor::v1::Inventory later = after;
  auto* postgres = later.mutable_os()->add_users();
  postgres->set_name("postgres");
  postgres->set_kind("system");
  auto changes = DiffInventories(after, later, 2000, "a");
  REQUIRE(changes.size() == 1);
  CHECK(changes[0].category == "user");
  CHECK(changes[0].subject == "postgres");
  CHECK(changes[0].action == "added");
}

}  // namespace pci_accounts_diff
}  // namespace dozor::server
