// Inventory depth (migration 021) on a real SQLite file: held packages, package repositories, a
// disk's vendor, the CPU's identity, swap and the container land in their tables and are replaced
// by the next inventory.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "dozor/common/sqlite.hpp"
#include "server/test_store.hpp"
#include "store/sqlite/sqlite_store.hpp"

namespace dozor::server {
// Named, not anonymous: the unity build puts this file next to others with the same helpers.
namespace inventory_depth_test {

using dozor::testing::TempDir;

std::string EnrollLinuxHost(SqliteStore& store) {
  return dozor::testing::EnrollTestHost(store, "depth-org", "srv-1", "srv-1c-pg01");
}

dozor::v1::Inventory Server() {
  dozor::v1::Inventory inv;
  inv.mutable_os()->set_id("debian");
  inv.mutable_os()->set_family("linux");
  auto* hw = inv.mutable_hardware();
  auto* cpu = hw->mutable_cpu();
  cpu->set_model("Intel(R) Xeon(R) Silver 4210R CPU @ 2.40GHz");
  cpu->set_vendor("GenuineIntel");
  cpu->set_family(6);
  cpu->set_model_number(85);
  cpu->set_stepping(7);
  cpu->set_cache_kb(14080);
  cpu->set_microcode("0x5003604");
  hw->set_swap_total_bytes(8589930496);
  hw->set_container("lxc");
  auto* disk = hw->add_disks();
  disk->set_name("vda");
  disk->set_serial("PVE-vm-101-disk-0");
  disk->set_vendor("0x1af4");
  auto* sw = inv.mutable_software();
  auto* samba = sw->add_packages();
  samba->set_name("samba");
  samba->set_version("2:4.17.12");
  samba->set_source("dpkg");
  samba->set_held(true);
  auto* ssh = sw->add_packages();
  ssh->set_name("openssh-server");
  ssh->set_version("1:9.2p1-2");
  ssh->set_source("dpkg");
  auto* pgdg = sw->add_repositories();
  pgdg->set_manager("apt");
  pgdg->set_file("/etc/apt/sources.list.d/pgdg.list");
  pgdg->set_kind("deb");
  pgdg->set_uri("https://apt.postgresql.org/pub/repos/apt");
  pgdg->set_suite("bookworm-pgdg");
  pgdg->set_components("main");
  pgdg->set_enabled(true);
  auto* epel = sw->add_repositories();
  epel->set_manager("yum");
  epel->set_file("/etc/yum.repos.d/epel.repo");
  epel->set_name("epel");
  epel->set_uri("https://mirrors.fedoraproject.org/metalink?repo=epel-9");
  epel->set_enabled(true);
  return inv;
}

using dozor::testing::CommitOne;
using dozor::testing::InventoryReport;
using dozor::testing::QueryRows;

TEST_CASE("held packages, repositories, disk vendor, CPU identity, swap and container are stored") {
  TempDir dir;
  auto store = dozor::testing::OpenTestStore(dir);
  const std::string agent = EnrollLinuxHost(*store);
  CommitOne(*store, InventoryReport(agent, 1, Server()));
  auto db = sqlite::Database::Open(dir / "dozor.db");
  REQUIRE(db.ok());
  CHECK(QueryRows(*db, "SELECT name || '|' || held FROM host_packages ORDER BY name") ==
        std::vector<std::string>{"openssh-server|0", "samba|1"});
  CHECK(QueryRows(
            *db,
            "SELECT manager || '|' || file || '|' || name || '|' || kind || '|' || uri || '|' || "
            "suite || '|' || components || '|' || enabled || '|' || official "
            "FROM host_repositories ORDER BY manager") ==
        std::vector<std::string>{
            "apt|/etc/apt/sources.list.d/pgdg.list||deb|https://apt.postgresql.org/pub/repos/apt|"
            "bookworm-pgdg|main|1|0",
            "yum|/etc/yum.repos.d/epel.repo|epel||https://mirrors.fedoraproject.org/metalink?repo="
            "epel-9|||1|0"});
  CHECK(QueryRows(*db, "SELECT serial || '|' || vendor FROM host_disks") ==
        std::vector<std::string>{"PVE-vm-101-disk-0|0x1af4"});
  CHECK(QueryRows(*db,
                  "SELECT cpu_vendor || '|' || cpu_family || '|' || cpu_model_number || '|' || "
                  "cpu_stepping || '|' || cpu_cache_kb || '|' || cpu_microcode || '|' || "
                  "swap_total_bytes || '|' || container FROM host_hardware") ==
        std::vector<std::string>{"GenuineIntel|6|85|7|14080|0x5003604|8589930496|lxc"});

  // The next inventory replaces the rows: a repository removed is gone.
  auto next = Server();
  next.mutable_software()->mutable_repositories()->RemoveLast();
  CommitOne(*store, InventoryReport(agent, 2, next));
  CHECK(QueryRows(*db, "SELECT count(*) FROM host_repositories") == std::vector<std::string>{"1"});
}

}  // namespace inventory_depth_test
}  // namespace dozor::server
