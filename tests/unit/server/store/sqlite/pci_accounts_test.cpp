// PCI devices, local groups and last logins (migration 023) on a real SQLite file: the devices
// and their drivers, the groups with one member row per account (primary marked), and the
// accounts' last login and primary group land in their tables and are replaced by the next
// inventory.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "dozor/common/sqlite.hpp"
#include "server/test_store.hpp"
#include "store/sqlite/sqlite_store.hpp"

namespace dozor::server {
// Named, not anonymous: the unity build puts this file next to others with the same helpers.
namespace pci_accounts_store_test {

using dozor::testing::TempDir;

std::string EnrollLinuxHost(SqliteStore& store) {
  return dozor::testing::EnrollTestHost(store, "pci-org", "srv-1", "srv-1c-pg01");
}

dozor::v1::Inventory Server() {
  dozor::v1::Inventory inv;
  inv.mutable_os()->set_id("debian");
  inv.mutable_os()->set_family("linux");
  auto* sata = inv.mutable_hardware()->add_pci_devices();
  sata->set_address("0000:00:1f.2");
  sata->set_vendor_id("8086");
  sata->set_device_id("2922");
  sata->set_class_code("010601");
  sata->set_class_name("SATA controller");
  sata->set_subsystem_vendor_id("8086");
  sata->set_subsystem_device_id("2922");
  sata->set_driver("ahci");
  sata->set_vendor_name("Intel Corporation");
  sata->set_device_name("82801IR/IO/IH (ICH9R/DO/DH) 6 port SATA Controller [AHCI mode]");
  auto* gpu = inv.mutable_hardware()->add_pci_devices();
  gpu->set_address("0000:01:00.0");
  gpu->set_vendor_id("10de");
  gpu->set_device_id("1234");
  gpu->set_class_code("030000");
  auto* os = inv.mutable_os();
  auto* ivanov = os->add_users();
  ivanov->set_name("ivanov");
  ivanov->set_uid(1000);
  ivanov->set_gid(1000);
  ivanov->set_kind("user");
  ivanov->set_administrator(true);
  ivanov->set_last_login_time(1790000000);
  ivanov->set_last_login_from("192.0.2.44");
  auto* daemon = os->add_users();
  daemon->set_name("daemon");
  daemon->set_uid(1);
  daemon->set_gid(1);
  daemon->set_kind("system");
  auto* sudo = os->add_groups();
  sudo->set_name("sudo");
  sudo->set_gid(27);
  sudo->set_administrator(true);
  sudo->add_members("ivanov");
  sudo->add_members("deploy");
  sudo->add_primary_members("deploy");
  auto* ivanov_group = os->add_groups();
  ivanov_group->set_name("ivanov");
  ivanov_group->set_gid(1000);
  ivanov_group->add_primary_members("ivanov");
  return inv;
}

using dozor::testing::CommitOne;
using dozor::testing::InventoryReport;
using dozor::testing::QueryRows;

TEST_CASE("PCI devices, groups with members and last logins are stored and replaced") {
  TempDir dir;
  auto store = dozor::testing::OpenTestStore(dir);
  const std::string agent = EnrollLinuxHost(*store);
  CommitOne(*store, InventoryReport(agent, 1, Server()));
  auto db = sqlite::Database::Open(dir / "dozor.db");
  REQUIRE(db.ok());
  CHECK(QueryRows(
            *db,
            "SELECT address || '|' || vendor_id || '|' || device_id || '|' || class_code || '|' || "
            "class_name || '|' || subsystem_vendor_id || '|' || subsystem_device_id || '|' || "
            "driver || '|' || vendor_name FROM host_pci_devices ORDER BY address") ==
        std::vector<std::string>{"0000:00:1f.2|8086|2922|010601|SATA controller|8086|2922|ahci|"
                                 "Intel Corporation",
                                 "0000:01:00.0|10de|1234|030000|||||"});
  CHECK(QueryRows(*db,
                  "SELECT name || '|' || gid || '|' || administrator FROM host_groups "
                  "ORDER BY name") == std::vector<std::string>{"ivanov|1000|0", "sudo|27|1"});
  // deploy is both listed and has sudo as primary group: one row, marked primary.
  CHECK(QueryRows(*db,
                  "SELECT group_name || '|' || member || '|' || primary_group "
                  "FROM host_group_members ORDER BY group_name, member") ==
        std::vector<std::string>{"ivanov|ivanov|1", "sudo|deploy|1", "sudo|ivanov|0"});
  CHECK(QueryRows(*db,
                  "SELECT name || '|' || kind || '|' || gid || '|' || last_login || '|' || "
                  "last_login_from FROM host_users ORDER BY name") ==
        std::vector<std::string>{"daemon|system|1|0|", "ivanov|user|1000|1790000000|192.0.2.44"});

  auto next = Server();
  next.mutable_hardware()->mutable_pci_devices()->RemoveLast();
  next.mutable_os()->mutable_groups(0)->clear_members();
  CommitOne(*store, InventoryReport(agent, 2, next));
  CHECK(QueryRows(*db, "SELECT count(*) FROM host_pci_devices") == std::vector<std::string>{"1"});
  CHECK(QueryRows(*db,
                  "SELECT group_name || '|' || member FROM host_group_members "
                  "ORDER BY group_name, member") ==
        std::vector<std::string>{"ivanov|ivanov", "sudo|deploy"});
}

}  // namespace pci_accounts_store_test
}  // namespace dozor::server
