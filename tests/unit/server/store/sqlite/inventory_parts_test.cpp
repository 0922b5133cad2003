// A new inventory rewrites only the row parts that differ from the stored one
// (store/host_row_parts.hpp), with the diff and compression done before the writer is taken. The
// rows must always be exactly what writing that inventory into an empty store leaves: checked
// after every step of a sequence that changes one part at a time, on a real SQLite file.
#include <doctest/doctest.h>
#include <google/protobuf/text_format.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "dozor/common/sqlite.hpp"
#include "server/test_store.hpp"
#include "store/host_row_parts.hpp"
#include "store/sqlite/sqlite_store.hpp"

namespace dozor::server {
// Named, not anonymous: the unity build puts this file next to others with the same helpers.
namespace inventory_parts_test {

using dozor::testing::TempDir;

dozor::v1::Inventory LoadFixture(const std::string& name) {
  const auto path = dozor::testing::FixturePath("rules/base/" + name + ".textproto");
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  dozor::v1::Inventory inventory;
  REQUIRE_MESSAGE(google::protobuf::TextFormat::ParseFromString(text.str(), &inventory),
                  path.string());
  return inventory;
}

// Every row of every host_* table the inventory writes, in rowid order, as quoted SQL values.
// security_pending_since depends on the host's earlier inventories, not only on this one.
std::map<std::string, std::vector<std::string>> HostRows(const std::filesystem::path& db_path) {
  auto db = sqlite::Database::Open(db_path.string());
  REQUIRE(db.ok());
  std::map<std::string, std::vector<std::string>> rows;
  for (const std::string& table : dozor::testing::QueryRows(
           *db,
           "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'host\\_%' "
           "ESCAPE '\\' AND name NOT IN ('host_inventory_blob', 'host_collectors')")) {
    std::string columns;
    for (const std::string& column : dozor::testing::QueryRows(
             *db, "SELECT name FROM pragma_table_info('" + table + "') ORDER BY cid")) {
      if (column == "security_pending_since") continue;
      columns += (columns.empty() ? "" : " || ',' || ") + std::string("quote(") + column + ")";
    }
    rows[table] =
        dozor::testing::QueryRows(*db, "SELECT " + columns + " FROM " + table + " ORDER BY rowid");
  }
  return rows;
}

// The rows writing `inventory` into an empty store leaves.
std::map<std::string, std::vector<std::string>> FreshRows(const dozor::v1::Inventory& inventory) {
  TempDir dir;
  {
    auto store = dozor::testing::OpenTestStore(dir);
    dozor::testing::EnrollTestHost(*store, "parts-org", "host-1", "srv-1");
    dozor::testing::CommitOne(*store, dozor::testing::InventoryReport("host-1", 1, inventory));
  }
  return HostRows(dir / "dozor.db");
}

void CheckSameRows(const std::map<std::string, std::vector<std::string>>& got,
                   const std::map<std::string, std::vector<std::string>>& want,
                   const std::string& step) {
  REQUIRE(got.size() == want.size());
  for (const auto& [table, rows] : want) {
    CHECK_MESSAGE(got.at(table) == rows, step << ": table " << table);
  }
}

// Counts the rows written into `table` from now on (a trigger of the test's own), so a test can
// tell a part that was kept from one written again with the same content.
void CountInserts(const std::filesystem::path& db_path, const std::string& table) {
  auto db = sqlite::Database::Open(db_path.string());
  REQUIRE(db.ok());
  REQUIRE(
      db->Exec("CREATE TABLE IF NOT EXISTS test_inserts (name TEXT PRIMARY KEY, n INTEGER)").ok());
  REQUIRE(db->Exec("INSERT INTO test_inserts VALUES ('" + table + "', 0)").ok());
  REQUIRE(db->Exec("CREATE TRIGGER test_count_" + table + " AFTER INSERT ON " + table +
                   " BEGIN UPDATE test_inserts SET n = n + 1 WHERE name = '" + table + "'; END")
              .ok());
}

int64_t Inserted(const std::filesystem::path& db_path, const std::string& table) {
  auto db = sqlite::Database::Open(db_path.string());
  auto rows =
      dozor::testing::QueryRows(*db, "SELECT n FROM test_inserts WHERE name = '" + table + "'");
  return std::stoll(rows.at(0));
}

struct Step {
  std::string name;
  dozor::v1::Inventory inventory;
};

std::vector<Step> PartByPartSteps() {
  const dozor::v1::Inventory linux_server = LoadFixture("clean-1c-server");
  const dozor::v1::Inventory windows_server = LoadFixture("clean-windows-server");
  std::vector<Step> steps;
  auto add = [&](const std::string& name, const dozor::v1::Inventory& from, auto change) {
    Step step{name, from};
    change(step.inventory);
    steps.push_back(std::move(step));
  };
  auto same = [](dozor::v1::Inventory&) {};
  add("first", linux_server, same);
  add("the same again", linux_server, same);
  add("one package upgraded", linux_server,
      [](auto& inv) { inv.mutable_software()->mutable_packages(0)->set_version("99.0-1"); });
  add("a process more", steps.back().inventory, [](auto& inv) {
    auto* process = inv.mutable_software()->add_processes();
    process->set_pid(4242);
    process->set_name("rphost");
  });
  add("an account more", steps.back().inventory, [](auto& inv) {
    auto* user = inv.mutable_os()->add_users();
    user->set_name("sidorov");
    user->set_uid(1002);
  });
  add("a disk hotter", steps.back().inventory, [](auto& inv) {
    if (inv.hardware().disks_size() == 0) inv.mutable_hardware()->add_disks()->set_name("sda");
    inv.mutable_hardware()->mutable_disks(0)->set_temperature_c(61);
  });
  add("a listener more", steps.back().inventory, [](auto& inv) {
    auto* listener = inv.mutable_network()->add_listening();
    listener->set_protocol("tcp");
    listener->set_port(1541);
  });
  add("a hardware note", steps.back().inventory,
      [](auto& inv) { inv.mutable_hardware()->add_unavailable("dmidecode: permission denied"); });
  add("the kernel only", steps.back().inventory,
      [](auto& inv) { inv.mutable_os()->set_kernel("6.1.0-99-amd64"); });
  add("another machine", windows_server, same);
  add("a firewall profile off", windows_server,
      [](auto& inv) { inv.mutable_security()->mutable_firewall(2)->set_enabled(false); });
  add("no security part", windows_server, [](auto& inv) { inv.clear_security(); });
  add("the security part back", windows_server, same);
  return steps;
}

TEST_CASE("an inventory rewriting only its changed parts leaves the rows a fresh write leaves") {
  TempDir dir;
  auto store = dozor::testing::OpenTestStore(dir);
  dozor::testing::EnrollTestHost(*store, "parts-org", "host-1", "srv-1");
  CountInserts(dir / "dozor.db", "host_packages");
  CountInserts(dir / "dozor.db", "host_processes");
  uint64_t seq = 0;
  for (const Step& step : PartByPartSteps()) {
    const int64_t packages_before = Inserted(dir / "dozor.db", "host_packages");
    const int64_t processes_before = Inserted(dir / "dozor.db", "host_processes");
    dozor::testing::CommitOne(*store,
                              dozor::testing::InventoryReport("host-1", ++seq, step.inventory));
    CheckSameRows(HostRows(dir / "dozor.db"), FreshRows(step.inventory), step.name);
    // The parts that did not change kept their rows: that is the point of the comparison.
    const int64_t packages = Inserted(dir / "dozor.db", "host_packages") - packages_before;
    const int64_t processes = Inserted(dir / "dozor.db", "host_processes") - processes_before;
    if (step.name == "first") {
      CHECK(packages == step.inventory.software().packages_size());
    }
    if (step.name == "the same again") {
      CHECK(packages == 0);
      CHECK(processes == 0);
    }
    if (step.name == "one package upgraded") {
      CHECK(packages == step.inventory.software().packages_size());
      CHECK(processes == 0);
    }
    if (step.name == "a process more") {
      CHECK(packages == 0);
      CHECK(processes == step.inventory.software().processes_size());
    }
  }
  // The latest inventory is what the host shows, with the time of its last report.
  auto inventory = store->GetInventory("host-1");
  REQUIRE(inventory.ok());
  CHECK(inventory->inventory.has_security());
  CHECK(inventory->host.last_inventory_ms == 1796212800000 + static_cast<int64_t>(seq));
}

TEST_CASE("two inventories of one host in one batch: the second is compared with the first") {
  TempDir dir;
  auto store = dozor::testing::OpenTestStore(dir);
  dozor::testing::EnrollTestHost(*store, "parts-org", "host-1", "srv-1");
  const dozor::v1::Inventory first = LoadFixture("clean-1c-server");
  dozor::testing::CommitOne(*store, dozor::testing::InventoryReport("host-1", 1, first));
  // Both are prepared against the stored inventory before the writer is taken; the second's
  // preparation is stale once the first is written, and the writer must notice.
  dozor::v1::Inventory second = first;
  second.mutable_software()->mutable_packages(0)->set_version("2.0-1");
  dozor::v1::Inventory third = second;
  third.mutable_os()->set_kernel("6.1.0-99-amd64");
  std::vector<IncomingReport> batch;
  batch.push_back(dozor::testing::InventoryReport("host-1", 2, second));
  batch.push_back(dozor::testing::InventoryReport("host-1", 3, third));
  auto results = store->CommitReports(batch);
  REQUIRE(results.ok());
  REQUIRE(results->size() == 2);
  CHECK((*results)[0].outcome == CommitOutcome::kStored);
  CHECK((*results)[1].outcome == CommitOutcome::kStored);
  CheckSameRows(HostRows(dir / "dozor.db"), FreshRows(third), "third");
  // The change log: the package upgrade once (from the second), the kernel once (the third),
  // not the package again as if the third were compared with the first.
  auto changes = store->ListChanges("host-1", 0, 100);
  REQUIRE(changes.ok());
  int package_changes = 0;
  int kernel_changes = 0;
  for (const auto& change : *changes) {
    package_changes += change.subject == first.software().packages(0).name() ? 1 : 0;
    kernel_changes += change.subject == "os.kernel" ? 1 : 0;
  }
  CHECK(package_changes == 1);
  CHECK(kernel_changes == 1);
}

TEST_CASE("rows written under an older schema are all written again by the next inventory") {
  TempDir dir;
  auto store = dozor::testing::OpenTestStore(dir);
  dozor::testing::EnrollTestHost(*store, "parts-org", "host-1", "srv-1");
  const dozor::v1::Inventory inventory = LoadFixture("clean-1c-server");
  dozor::testing::CommitOne(*store, dozor::testing::InventoryReport("host-1", 1, inventory));
  {
    // As a migration that added a column would leave them: stale rows under schema 0.
    auto db = sqlite::Database::Open((dir / "dozor.db").string());
    REQUIRE(db.ok());
    REQUIRE(db->Exec("UPDATE host_packages SET version = 'stale'").ok());
    REQUIRE(db->Exec("UPDATE host_inventory_blob SET rows_schema = 0").ok());
  }
  dozor::testing::CommitOne(*store, dozor::testing::InventoryReport("host-1", 2, inventory));
  CheckSameRows(HostRows(dir / "dozor.db"), FreshRows(inventory), "after the schema changed");
  auto db = sqlite::Database::Open((dir / "dozor.db").string());
  CHECK(dozor::testing::QueryRows(*db,
                                  "SELECT count(*) FROM host_packages WHERE version = "
                                  "'stale'") == std::vector<std::string>{"0"});
  CHECK(dozor::testing::QueryRows(*db, "SELECT rows_schema > 0 FROM host_inventory_blob") ==
        std::vector<std::string>{"1"});
}

TEST_CASE("ChangedHostRowParts names each part that differs and only those") {
  const dozor::v1::Inventory base = LoadFixture("clean-windows-server");
  const HostRowParts always = Bit(HostRowPart::kAlways);
  CHECK(ChangedHostRowParts(base, base) == always);
  auto changed = [&](auto change) {
    dozor::v1::Inventory next = base;
    change(next);
    return ChangedHostRowParts(base, next) & ~always;
  };
  CHECK(changed([](auto& inv) { inv.mutable_os()->set_kernel("x"); }) == 0);
  CHECK(changed([](auto& inv) { inv.mutable_os()->mutable_users(0)->set_disabled(true); }) ==
        Bit(HostRowPart::kAccounts));
  CHECK(changed([](auto& inv) { inv.mutable_os()->add_groups()->set_name("g"); }) ==
        Bit(HostRowPart::kAccounts));
  CHECK(changed([](auto& inv) { inv.mutable_hardware()->mutable_cpu()->set_cores(8); }) ==
        Bit(HostRowPart::kHardware));
  CHECK(changed([](auto& inv) { inv.mutable_network()->add_dns_servers("10.0.0.1"); }) ==
        Bit(HostRowPart::kNetwork));
  CHECK(changed([](auto& inv) { inv.mutable_software()->add_packages()->set_name("p"); }) ==
        Bit(HostRowPart::kPackages));
  CHECK(changed([](auto& inv) {
          inv.mutable_software()->mutable_services(0)->set_sub_state("dead");
        }) == Bit(HostRowPart::kSoftware));
  CHECK(changed([](auto& inv) { inv.mutable_security()->set_smb1(1); }) ==
        Bit(HostRowPart::kSecurity));
  CHECK(changed([](auto& inv) { inv.clear_security(); }) == Bit(HostRowPart::kSecurity));
  CHECK(changed([](auto& inv) {
          inv.mutable_software()->add_packages()->set_name("p");
          inv.mutable_network()->clear_gateways();
        }) == (Bit(HostRowPart::kPackages) | Bit(HostRowPart::kNetwork)));
}

}  // namespace inventory_parts_test
}  // namespace dozor::server
