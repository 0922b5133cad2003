// Ingest for the rules: rule-window rows from health reports and their pruning, the new
// inventory columns (security_pending_since, role, SMART counters), host duties, the commit
// observer, the contract lifecycle, audit snapshots and the estate summary.
#include <doctest/doctest.h>

#include <chrono>

#include "domain/host_role.hpp"
#include "dozor/common/sqlite.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "test_util.hpp"

namespace dozor::server {
namespace {

using dozor::testing::TempDir;

constexpr int64_t kWindowHour = 3600 * 1000;
constexpr int64_t kWindowT0 =
    1'700'000'000'000 - (1'700'000'000'000 % kWindowHour);  // an hour boundary

struct Fixture {
  TempDir dir;
  std::unique_ptr<SqliteStore> store;
  sqlite::Database db;  // a separate connection for looking at the tables
  int64_t org = 0;
  uint64_t seq = 0;

  explicit Fixture(int agents = 1) {
    SqliteStoreOptions options;
    options.path = (dir / "dozor.db").string();
    options.background_checkpoint = false;
    auto opened = SqliteStore::Open(options);
    REQUIRE_MESSAGE(opened.ok(), (opened.ok() ? "" : opened.error().ToString()));
    store = std::move(opened).value();
    auto database = sqlite::Database::Open(options.path);
    REQUIRE(database.ok());
    db = std::move(database).value();
    Organization o;
    o.name = "acme";
    org = store->CreateOrganization(o)->id;
    NewEnrollmentToken token;
    token.org_id = org;
    token.token_hash = "th";
    REQUIRE(store->CreateEnrollmentToken(token).ok());
    for (int i = 0; i < agents; ++i) {
      NewAgent agent;
      agent.agent_id = "a" + std::to_string(i);
      agent.secret_hash = "s";
      agent.hostname = "h" + std::to_string(i);
      REQUIRE(store->EnrollAgent("th", agent, 1000).ok());
    }
  }

  void Commit(const std::string& agent, dozor::v1::Report report, int64_t received_at) {
    IncomingReport in;
    in.agent_id = agent;
    in.received_at_ms = received_at;
    report.set_seq(++seq);
    in.report = std::move(report);
    std::vector<IncomingReport> batch;
    batch.push_back(std::move(in));
    auto results = store->CommitReports(batch);
    REQUIRE_MESSAGE(results.ok(), (results.ok() ? "" : results.error().ToString()));
    REQUIRE(results->at(0).outcome == CommitOutcome::kStored);
  }

  int64_t Int(const std::string& sql) {
    auto s = db.Prepare(sql);
    REQUIRE_MESSAGE(s.ok(), (s.ok() ? "" : s.error().ToString()));
    auto row = s->Step();
    REQUIRE(row.ok());
    REQUIRE(*row);
    return s->Int(0);
  }
  double Double(const std::string& sql) {
    auto s = db.Prepare(sql);
    REQUIRE(s.ok());
    auto row = s->Step();
    REQUIRE(row.ok());
    REQUIRE(*row);
    return s->Double(0);
  }
  std::string Text(const std::string& sql) {
    auto s = db.Prepare(sql);
    REQUIRE(s.ok());
    auto row = s->Step();
    REQUIRE(row.ok());
    REQUIRE(*row);
    return s->Text(0);
  }
};

dozor::v1::Report HealthReport(int64_t at, uint64_t root_avail = 5'000'000'000) {
  dozor::v1::Report r;
  r.set_collected_at_ms(at);
  auto* h = r.mutable_health();
  h->set_cpu_percent(40);
  h->set_memory_total_bytes(8'000'000'000);
  h->set_memory_available_bytes(2'000'000'000);
  h->set_swap_total_bytes(1'000'000'000);
  h->set_swap_free_bytes(750'000'000);
  h->set_process_count(123);
  auto* fs = h->add_filesystems();
  fs->set_mount_point("/");
  fs->set_device("/dev/sda1");
  fs->set_fs_type("ext4");
  fs->set_total_bytes(100'000'000'000);
  fs->set_free_bytes(root_avail + 5'000'000'000);  // 5 GB root reserve
  fs->set_available_bytes(root_avail);
  fs->set_inodes_total(1000);
  fs->set_inodes_free(250);
  auto* nic = h->add_networks();
  nic->set_interface("eth0");
  nic->set_rx_errors(3);
  nic->set_tx_dropped(7);
  return r;
}

dozor::v1::Report InventoryReport(int64_t at, int pending_security) {
  dozor::v1::Report r;
  r.set_collected_at_ms(at);
  auto* inv = r.mutable_inventory();
  inv->mutable_os()->set_hostname("db1");
  inv->mutable_os()->set_pretty_name("Debian GNU/Linux 12 (bookworm)");
  inv->mutable_os()->set_id("debian");
  inv->mutable_os()->set_version_id("12");
  inv->mutable_os()->set_family("linux");
  inv->mutable_os()->set_uptime_seconds(86400);
  inv->mutable_os()->set_clock_synchronized(1);
  inv->mutable_os()->set_clock_max_error_us(250);
  inv->mutable_os()->set_pending_security_updates(pending_security);
  auto* hw = inv->mutable_hardware();
  hw->set_memory_total_bytes(16'000'000'000);
  hw->mutable_cpu()->set_model("Xeon");
  hw->mutable_cpu()->set_cores(8);
  hw->mutable_dmi()->set_chassis_type("Rack Mount Chassis");
  hw->set_smartctl_available(true);
  auto* disk = hw->add_disks();
  disk->set_name("sda");
  disk->set_size_bytes(500'000'000'000);
  disk->set_smart_message("ok");
  auto* attr = disk->add_smart_attributes();
  attr->set_id(5);
  attr->set_raw(12);
  attr = disk->add_smart_attributes();
  attr->set_id(197);
  attr->set_raw(3);
  auto* usb = hw->add_disks();
  usb->set_name("sdb");
  usb->set_removable(true);
  usb->set_size_bytes(64'000'000'000);
  auto* eth = inv->mutable_network()->add_interfaces();
  eth->set_name("eth0");
  eth->set_duplex("half");
  auto* ip = eth->add_addresses();
  ip->set_address("10.0.0.5");
  auto* pkg = inv->mutable_software()->add_packages();
  pkg->set_name("openssl");
  pkg->set_version("3.0.11");
  auto* app = inv->mutable_software()->add_applications();
  app->set_name("1C:Enterprise");
  app->set_version("8.3.22.1709");
  app->set_kind("server");
  return r;
}

TEST_CASE("rule windows: a health report writes host, filesystem, NIC and trend rows") {
  Fixture fx;
  fx.Commit("a0", HealthReport(kWindowT0 + 60'000), kWindowT0 + 60'000 + 1500);
  CHECK(fx.Int("SELECT count(*) FROM rule_health_host") == 1);
  CHECK(fx.Double("SELECT mem_used_pct FROM rule_health_host") == doctest::Approx(75.0));
  CHECK(fx.Double("SELECT swap_used_pct FROM rule_health_host") == doctest::Approx(25.0));
  CHECK(fx.Int("SELECT clock_offset_ms FROM rule_health_host") == 1500);
  CHECK(fx.Int("SELECT process_count FROM rule_health_host") == 123);
  // df: used = total - free = 90 GB, used / (used + avail 5 GB) = 94.74 %
  CHECK(fx.Double("SELECT used_pct FROM rule_health_fs WHERE mount = '/'") ==
        doctest::Approx(100.0 * 90.0 / 95.0));
  CHECK(fx.Double("SELECT inodes_used_pct FROM rule_health_fs") == doctest::Approx(75.0));
  CHECK(fx.Int("SELECT rx_errors + tx_dropped FROM rule_health_nic WHERE interface = 'eth0'") ==
        10);
  CHECK(fx.Int("SELECT clock_offset_ms FROM agents WHERE agent_id = 'a0'") == 1500);
  // The trend keeps the newest sample of the hour.
  fx.Commit("a0", HealthReport(kWindowT0 + 120'000, 4'000'000'000), kWindowT0 + 120'000);
  CHECK(fx.Int("SELECT count(*) FROM rule_fs_trend") == 1);
  CHECK(fx.Int("SELECT avail_bytes FROM rule_fs_trend") == 4'000'000'000);
  CHECK(fx.Int("SELECT hour FROM rule_fs_trend") == kWindowT0);
  fx.Commit("a0", HealthReport(kWindowT0 + kWindowHour + 1), kWindowT0 + kWindowHour + 1);
  CHECK(fx.Int("SELECT count(*) FROM rule_fs_trend") == 2);
  CHECK(fx.Int("SELECT count(*) FROM rule_health_host") == 3);
  CHECK(fx.Int("SELECT clock_offset_ms FROM agents WHERE agent_id = 'a0'") == 0);
}

TEST_CASE("rule windows: pruning drops rows older than the windows") {
  Fixture fx;
  for (int i = 0; i < 6; ++i) {
    fx.Commit("a0", HealthReport(kWindowT0 + i * kWindowHour / 2), kWindowT0 + i * kWindowHour / 2);
  }
  fx.Commit("a0", HealthReport(kWindowT0 + 60 * kWindowHour),
            kWindowT0 + 60 * kWindowHour);  // 60 h later
  auto pruned = fx.store->PruneRuleWindows(kWindowT0 + 60 * kWindowHour + 1000);
  REQUIRE(pruned.ok());
  CHECK(*pruned > 0);
  CHECK(fx.Int("SELECT count(*) FROM rule_health_host") == 1);
  CHECK(fx.Int("SELECT count(*) FROM rule_health_fs") == 1);
  CHECK(fx.Int("SELECT count(*) FROM rule_health_nic") == 1);
  CHECK(fx.Int("SELECT count(*) FROM rule_fs_trend") == 1);
}

TEST_CASE("rule windows: pruning is relative to the agent's newest sample when it is older") {
  Fixture fx;
  fx.Commit("a0", HealthReport(kWindowT0), kWindowT0);
  fx.Commit("a0", HealthReport(kWindowT0 + 2 * kWindowHour), kWindowT0 + 2 * kWindowHour);
  // The wall clock is far ahead (agent silent, or a test clock): the last window survives.
  REQUIRE(fx.store->PruneRuleWindows(kWindowT0 + 1000 * kWindowHour).ok());
  CHECK(fx.Int("SELECT count(*) FROM rule_health_host") == 1);
  CHECK(fx.Int("SELECT at FROM rule_health_host") == kWindowT0 + 2 * kWindowHour);
  CHECK(fx.Int("SELECT count(*) FROM rule_fs_trend") == 2);  // within 48 h of the newest
}

TEST_CASE("inventory: new columns, SMART counters, removable disks and duplex are stored") {
  Fixture fx;
  fx.Commit("a0", InventoryReport(kWindowT0, 0), kWindowT0 + 250);
  CHECK(fx.Int("SELECT uptime_seconds FROM host_os") == 86400);
  CHECK(fx.Int("SELECT clock_synchronized FROM host_os") == 1);
  CHECK(fx.Int("SELECT clock_max_error_us FROM host_os") == 250);
  CHECK(fx.Text("SELECT role FROM host_os") == "server");
  CHECK(fx.Text("SELECT chassis_type FROM host_hardware") == "Rack Mount Chassis");
  CHECK(fx.Int("SELECT smartctl_available FROM host_hardware") == 1);
  CHECK(fx.Int("SELECT reallocated_sectors FROM host_disks WHERE name = 'sda'") == 12);
  CHECK(fx.Int("SELECT pending_sectors FROM host_disks WHERE name = 'sda'") == 3);
  CHECK(fx.Int("SELECT offline_uncorrectable FROM host_disks WHERE name = 'sda'") == -1);
  CHECK(fx.Text("SELECT smart_message FROM host_disks WHERE name = 'sda'") == "ok");
  CHECK(fx.Int("SELECT removable FROM host_disks WHERE name = 'sdb'") == 1);
  CHECK(fx.Text("SELECT duplex FROM host_interfaces WHERE name = 'eth0'") == "half");
  CHECK(fx.Int("SELECT clock_offset_ms FROM agents") == 250);
}

TEST_CASE("inventory: security_pending_since is kept across inventories and reset") {
  Fixture fx;
  auto since = [&] { return fx.Int("SELECT security_pending_since FROM host_os"); };
  fx.Commit("a0", InventoryReport(kWindowT0, 0), kWindowT0);
  CHECK(since() == 0);
  fx.Commit("a0", InventoryReport(kWindowT0 + kWindowHour, 3), kWindowT0 + kWindowHour);
  CHECK(since() == kWindowT0 + kWindowHour);
  fx.Commit("a0", InventoryReport(kWindowT0 + 2 * kWindowHour, 5), kWindowT0 + 2 * kWindowHour);
  CHECK(since() == kWindowT0 + kWindowHour);  // still pending: the run started earlier
  fx.Commit("a0", InventoryReport(kWindowT0 + 3 * kWindowHour, 0), kWindowT0 + 3 * kWindowHour);
  CHECK(since() == 0);
  fx.Commit("a0", InventoryReport(kWindowT0 + 4 * kWindowHour, 1), kWindowT0 + 4 * kWindowHour);
  CHECK(since() == kWindowT0 + 4 * kWindowHour);
}

TEST_CASE("host role: display managers and desktop chassis mean workstation") {
  dozor::v1::Inventory inv;
  CHECK(ToString(ClassifyHostRole(inv)) == "server");
  inv.mutable_hardware()->mutable_dmi()->set_chassis_type("Tower");
  CHECK(ToString(ClassifyHostRole(inv)) == "server");
  inv.mutable_hardware()->mutable_dmi()->set_chassis_type("Rack Mount Chassis");
  CHECK(ToString(ClassifyHostRole(inv)) == "server");
  inv.mutable_hardware()->mutable_dmi()->set_chassis_type("Notebook");
  CHECK(ToString(ClassifyHostRole(inv)) == "workstation");
  inv.mutable_hardware()->mutable_dmi()->set_chassis_type("low profile desktop");
  CHECK(ToString(ClassifyHostRole(inv)) == "workstation");
  inv.mutable_hardware()->mutable_dmi()->set_chassis_type("");
  inv.mutable_software()->add_packages()->set_name("lightdm");
  CHECK(ToString(ClassifyHostRole(inv)) == "workstation");
  dozor::v1::Inventory svc;
  svc.mutable_software()->add_packages()->set_name("gdm-tools");  // not a display manager
  CHECK(ToString(ClassifyHostRole(svc)) == "server");
  svc.mutable_software()->add_services()->set_name("sddm.service");
  CHECK(ToString(ClassifyHostRole(svc)) == "workstation");
  CHECK(IsWorkstationChassis("Mini PC"));
  CHECK_FALSE(IsWorkstationChassis("Blade"));
}

dozor::v1::Inventory DutyPackages(std::initializer_list<const char*> names) {
  dozor::v1::Inventory inventory;
  for (const char* name : names) {
    inventory.mutable_software()->add_packages()->set_name(name);
  }
  return inventory;
}

dozor::v1::Inventory DutyService(const char* name, const char* command = "") {
  dozor::v1::Inventory inventory;
  auto* service = inventory.mutable_software()->add_services();
  service->set_name(name);
  service->set_command(command);
  return inventory;
}

dozor::v1::Inventory DutyListener(uint32_t port, const char* process) {
  dozor::v1::Inventory inventory;
  auto* socket = inventory.mutable_network()->add_listening();
  socket->set_protocol("tcp");
  socket->set_port(port);
  socket->set_process(process);
  return inventory;
}

std::string DutiesOfInventory(const dozor::v1::Inventory& inventory) {
  return FormatHostDuties(ClassifyHostDuties(inventory));
}

TEST_CASE("host duties: spelling, set and stored text") {
  CHECK(ToString(HostDuty::kOneC) == "onec");
  CHECK(ToString(HostDuty::kDatabase) == "database");
  CHECK(ParseHostDuty("onec") == HostDuty::kOneC);
  CHECK_FALSE(ParseHostDuty("1c").has_value());
  HostDuties duties;
  CHECK(duties.empty());
  CHECK(FormatHostDuties(duties).empty());
  duties.Add(HostDuty::kOneC);
  duties.Add(HostDuty::kDatabase);
  duties.Add(HostDuty::kOneC);
  CHECK(duties.Has(HostDuty::kDatabase));
  CHECK(duties.List() == std::vector<HostDuty>{HostDuty::kDatabase, HostDuty::kOneC});
  CHECK(FormatHostDuties(duties) == "database,onec");
  CHECK(ParseHostDuties("database,onec") == duties);
  CHECK(ParseHostDuties("onec") == HostDuties{HostDuty::kOneC});
  // A newer binary's duty is left out; nothing is none.
  CHECK(ParseHostDuties("mail,onec,") == HostDuties{HostDuty::kOneC});
  CHECK(ParseHostDuties("").empty());
}

TEST_CASE("host duties: a 1C:Enterprise server by its platform, service or process") {
  dozor::v1::Inventory server;
  auto* app = server.mutable_software()->add_applications();
  app->set_name("1C:Enterprise");
  app->set_version("8.3.22.1709");
  app->set_kind("server");
  CHECK(DutiesOfInventory(server) == "onec");
  // A client platform is not a server.
  app->set_kind("client");
  CHECK(DutiesOfInventory(server).empty());
  app->set_kind("thin client");
  CHECK(DutiesOfInventory(server).empty());
  // Installed is not running: a server install whose cluster the agent saw stopped, or whose
  // service is switched off, is not a 1C server.
  app->set_kind("server");
  app->set_state("stopped");
  CHECK(DutiesOfInventory(server).empty());
  app->set_state("running");
  CHECK(DutiesOfInventory(server) == "onec");
  dozor::v1::Inventory switched_off = DutyService("srv1cv8-8.3.22.1709@default.service");
  switched_off.mutable_software()->mutable_services(0)->set_active_state("inactive");
  switched_off.mutable_software()->mutable_services(0)->set_enabled("disabled");
  CHECK(DutiesOfInventory(switched_off).empty());
  switched_off.mutable_software()->mutable_services(0)->set_active_state("failed");
  CHECK(DutiesOfInventory(switched_off) == "onec");  // meant to run, and crashed

  CHECK(DutiesOfInventory(DutyService("srv1cv83.service")) == "onec");
  CHECK(DutiesOfInventory(DutyService("srv1cv8-8.3.22.1709@default.service")) == "onec");
  CHECK(DutiesOfInventory(
            DutyService("1C:Enterprise 8.3 Server Agent (x86-64)",
                        "\"C:\\Program Files\\1cv8\\8.3.22.1709\\bin\\ragent.exe\" -srvc "
                        "-agent -regport 1541 -port 1540 -range 1560:1591")) == "onec");
  CHECK(DutiesOfInventory(DutyService("1C:Enterprise 8.3 Server Agent (x86-64)")) == "onec");
  CHECK(DutiesOfInventory(DutyListener(1540, "ragent")) == "onec");
  CHECK(DutiesOfInventory(DutyListener(1540, "ragent.exe")) == "onec");
  // Not a word of its own.
  CHECK(DutiesOfInventory(DutyService("storagent")).empty());
  CHECK(
      DutiesOfInventory(DutyService("1C:Enterprise 8.3 Remote Server", "ras.exe cluster")).empty());
}

TEST_CASE("host duties: a database server by its packages, not by its clients") {
  for (const char* name :
       {"postgresql", "postgresql-15", "postgresql-9.6", "postgresql-15-1c", "postgresql-1c-15",
        "postgresql-server", "postgresql15-server", "postgrespro-1c-15-server",
        "postgrespro-std-15", "postgrespro-1c-15", "PostgreSQL-15", "mysql-server",
        "mysql-server-8.0", "mysql-community-server", "mariadb-server", "mariadb-server-10.11",
        "mariadb-server-core-10.11", "percona-server-server", "mssql-server"}) {
    CAPTURE(name);
    CHECK(DutiesOfInventory(DutyPackages({name})) == "database");
  }
  for (const char* name :
       {"postgresql-client-15", "postgresql-client", "postgresql-common",
        "postgresql-client-common", "postgresql-15-postgis-3", "postgresql15-libs",
        "postgrespro-std-15-client", "postgrespro-std-15-libs", "libpq5", "mariadb-client",
        "mysql-client-8.0", "mariadb-common", "mysql-common", "mssql-tools",
        "postgresql-server-dev-15x"}) {
    CAPTURE(name);
    CHECK(DutiesOfInventory(DutyPackages({name})).empty());
  }
}

TEST_CASE("host duties: a database server by its service or listener") {
  for (const char* name : {"postgresql.service", "postgresql@15-main.service", "postgresql-x64-15",
                           "postgrespro-1c-15.service", "mysql.service", "mysqld", "MySQL80",
                           "mariadb.service", "MSSQLSERVER", "MSSQL$BUH", "mssql-server.service"}) {
    CAPTURE(name);
    CHECK(DutiesOfInventory(DutyService(name)) == "database");
  }
  for (const char* name : {"SQLBrowser", "SQLWriter", "SQLSERVERAGENT", "mysqld_exporter",
                           "mysqlrouter", "prometheus-postgres-exporter"}) {
    CAPTURE(name);
    CHECK(DutiesOfInventory(DutyService(name)).empty());
  }
  CHECK(DutiesOfInventory(DutyListener(5432, "postgres")) == "database");
  CHECK(DutiesOfInventory(DutyListener(5432, "postgres.exe")) == "database");
  CHECK(DutiesOfInventory(DutyListener(1433, "sqlservr.exe")) == "database");
  CHECK(DutiesOfInventory(DutyListener(3306, "mysqld")) == "database");
  CHECK(DutiesOfInventory(DutyListener(3306, "mariadbd")) == "database");
  // A database port held by something else (a proxy, a tunnel) says nothing.
  CHECK(DutiesOfInventory(DutyListener(5432, "pgbouncer")).empty());
  CHECK(DutiesOfInventory(DutyListener(1433, "ssh")).empty());
  CHECK(DutiesOfInventory(DutyListener(8080, "postgres")).empty());
}

TEST_CASE("host duties: a host may have both, and a plain workstation none") {
  dozor::v1::Inventory both = DutyPackages({"postgresql-15-1c", "firefox-esr"});
  both.mutable_software()->add_services()->set_name("srv1cv83.service");
  CHECK(DutiesOfInventory(both) == "database,onec");
  CHECK(DutiesOfInventory(DutyPackages({"firefox-esr", "libreoffice", "postgresql-client-15"}))
            .empty());
  CHECK(DutiesOfInventory(dozor::v1::Inventory()).empty());
}

TEST_CASE("commit observer: called after commit with each agent touched") {
  Fixture fx(2);
  std::vector<CommittedHost> seen;
  int calls = 0;
  fx.store->SetCommitObserver([&](const std::vector<CommittedHost>& hosts) {
    ++calls;
    seen = hosts;
    // Calling back into the store from the observer must not deadlock.
    CHECK(fx.store->ListLiveHostKeys().ok());
  });
  std::vector<IncomingReport> batch(3);
  batch[0].agent_id = "a0";
  batch[0].report = HealthReport(kWindowT0);
  batch[0].report.set_seq(1);
  batch[1].agent_id = "a0";
  batch[1].report = InventoryReport(kWindowT0 + 1, 0);
  batch[1].report.set_seq(2);
  batch[2].agent_id = "a1";
  batch[2].report = HealthReport(kWindowT0);
  batch[2].report.set_seq(1);
  REQUIRE(fx.store->CommitReports(batch).ok());
  CHECK(calls == 1);
  REQUIRE(seen.size() == 2);
  int64_t a0 = fx.store->HostPk("a0").value();
  for (const auto& host : seen) {
    CHECK(host.org_id == fx.org);
    if (host.host_pk == a0) {
      CHECK(host.inventory);
      CHECK(host.health);
    } else {
      CHECK_FALSE(host.inventory);
      CHECK(host.health);
    }
  }
  // A batch of duplicates stores nothing and does not notify.
  REQUIRE(fx.store->CommitReports(batch).ok());
  CHECK(calls == 1);
  auto keys = fx.store->ListLiveHostKeys();
  REQUIRE(keys.ok());
  CHECK(keys->size() == 2);
  REQUIRE(fx.store->RevokeAgent("a1", 5000).ok());
  CHECK(fx.store->ListLiveHostKeys()->size() == 1);
  CHECK(fx.store->HostPk("nope").error().code == ErrorCode::kNotFound);
}

TEST_CASE("contract: allowed moves record events and snapshots, others are refused") {
  Fixture fx;
  int64_t pk = fx.store->HostPk("a0").value();
  EvaluationInput input;
  input.rule_ids = {"disk-space-low"};
  input.targets = {pk};
  input.hits = {FindingHit{"disk-space-low", fx.org, pk, "[]", false, ""}};
  input.meta["disk-space-low"] = RuleMeta{Severity::kHigh, "hardware"};
  REQUIRE(fx.store->ApplyEvaluation(input, 1000).ok());

  OrganizationPatch patch;
  patch.actor = "ivan";
  patch.contract_status = ContractPhase::kEnded;
  auto refused = fx.store->UpdateOrganization(fx.org, patch);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ErrorCode::kFailedPrecondition);
  CHECK(fx.store->FindOrganization("acme")->contract_status == ContractPhase::kProspect);

  patch.contract_status = ContractPhase::kRemediation;
  auto moved = fx.store->UpdateOrganization(fx.org, patch);
  REQUIRE(moved.ok());
  CHECK(moved->contract_status == ContractPhase::kRemediation);
  auto first = fx.store->GetAuditSnapshot(fx.org, AuditSnapshotKind::kFirstAudit);
  REQUIRE(first.ok());
  REQUIRE(first->has_value());
  CHECK((*first)->actor == "ivan");
  REQUIRE((*first)->findings.size() == 1);
  CHECK((*first)->findings[0].rule_id == "disk-space-low");
  CHECK((*first)->findings[0].agent_id == "a0");
  CHECK((*first)->findings[0].state == FindingState::kOpen);

  // Same status again: no event. Back to prospect and remediation again: first audit kept.
  REQUIRE(fx.store->UpdateOrganization(fx.org, patch).ok());
  patch.contract_status = ContractPhase::kProspect;
  REQUIRE(fx.store->UpdateOrganization(fx.org, patch).ok());
  patch.contract_status = ContractPhase::kRemediation;
  REQUIRE(fx.store->UpdateOrganization(fx.org, patch).ok());
  auto first_again = fx.store->GetAuditSnapshot(fx.org, AuditSnapshotKind::kFirstAudit);
  CHECK((*first_again)->id == (*first)->id);

  input.hits.clear();  // fixed before signing
  REQUIRE(fx.store->ApplyEvaluation(input, 2000).ok());
  patch.contract_status = ContractPhase::kActive;
  patch.actor = "";
  REQUIRE(fx.store->UpdateOrganization(fx.org, patch).ok());
  auto signing = fx.store->GetAuditSnapshot(fx.org, AuditSnapshotKind::kSigning);
  REQUIRE(signing.ok());
  REQUIRE(signing->has_value());
  CHECK((*signing)->findings.empty());
  CHECK((*signing)->actor == "system");

  patch.contract_status = ContractPhase::kRemediation;
  auto back = fx.store->UpdateOrganization(fx.org, patch);
  REQUIRE_FALSE(back.ok());
  CHECK(back.error().code == ErrorCode::kFailedPrecondition);
  patch.contract_status = ContractPhase::kEnded;
  REQUIRE(fx.store->UpdateOrganization(fx.org, patch).ok());
  patch.contract_status = ContractPhase::kProspect;
  REQUIRE(fx.store->UpdateOrganization(fx.org, patch).ok());

  auto events = fx.store->ListContractEvents(fx.org);
  REQUIRE(events.ok());
  std::vector<std::string> moves;
  for (const auto& e : *events) {
    moves.push_back(std::string(ToString(e.from_status)) + ">" +
                    std::string(ToString(e.to_status)));
  }
  CHECK(moves == std::vector<std::string>{"prospect>remediation", "remediation>prospect",
                                          "prospect>remediation", "remediation>active",
                                          "active>ended", "ended>prospect"});
  CHECK(events->at(0).actor == "ivan");
  CHECK_FALSE(ParseAuditSnapshotKind("nothing").has_value());
  CHECK_FALSE(ParseAuditSnapshotKind("bogus").has_value());
  auto manual = fx.store->RecordAuditSnapshot(fx.org, AuditSnapshotKind::kFirstAudit, "petr",
                                              (*first)->at_ms + 1000);
  REQUIRE(manual.ok());
  CHECK(manual->kind == AuditSnapshotKind::kFirstAudit);
  // The latest of the kind is returned: a baseline taken by hand replaces the automatic one.
  CHECK((*fx.store->GetAuditSnapshot(fx.org, AuditSnapshotKind::kFirstAudit))->id == manual->id);
  CHECK(IsAllowedContractMove(ContractPhase::kProspect, ContractPhase::kActive));
  CHECK_FALSE(IsAllowedContractMove(ContractPhase::kEnded, ContractPhase::kActive));
}

TEST_CASE("estate summary: hosts, applications and package counts from SQL") {
  Fixture fx(3);
  fx.Commit("a0", InventoryReport(kWindowT0, 0), kWindowT0 + 10);
  fx.Commit("a1", InventoryReport(kWindowT0, 0), kWindowT0 + 20);
  REQUIRE(fx.store->RevokeAgent("a2", 5000).ok());
  auto summary = fx.store->GetEstateSummary(fx.org, {"openssl", "samba"});
  REQUIRE(summary.ok());
  REQUIRE(summary->hosts.size() == 2);
  const EstateHost& h = summary->hosts[0];
  CHECK(h.hostname == "db1");
  CHECK(h.os_id == "debian");
  CHECK(h.os_version_id == "12");
  CHECK(h.role == HostRole::kServer);
  CHECK(h.cpu_cores == 8);
  CHECK(h.memory_bytes == 16'000'000'000);
  CHECK(h.disk_bytes == 500'000'000'000);  // the removable disk does not count
  CHECK(h.package_count == 1);
  CHECK(h.addresses == std::vector<std::string>{"10.0.0.5"});
  CHECK(h.last_inventory_ms == kWindowT0);
  REQUIRE(summary->applications.size() == 1);
  CHECK(summary->applications[0].name == "1C:Enterprise");
  CHECK(summary->applications[0].hosts == 2);
  REQUIRE(summary->package_hosts.size() == 2);
  CHECK(summary->package_hosts[0] == std::make_pair(std::string("openssl"), int64_t{2}));
  CHECK(summary->package_hosts[1].second == 0);
}

TEST_CASE("estate summary: 500 hosts are summarised quickly (timed)") {
  Fixture fx(500);
  for (int i = 0; i < 500; ++i) {
    auto report = InventoryReport(kWindowT0, 0);
    for (int p = 0; p < 300; ++p) {
      auto* pkg = report.mutable_inventory()->mutable_software()->add_packages();
      pkg->set_name("pkg" + std::to_string(p));
      pkg->set_version("1.0");
    }
    fx.Commit("a" + std::to_string(i), std::move(report), kWindowT0);
  }
  auto t0 = std::chrono::steady_clock::now();
  auto summary = fx.store->GetEstateSummary(fx.org, {"openssl", "pkg7", "samba"});
  auto elapsed =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  REQUIRE(summary.ok());
  CHECK(summary->hosts.size() == 500);
  CHECK(summary->package_hosts[1].second == 500);
  CHECK(summary->hosts[0].package_count == 301);
  MESSAGE("GetEstateSummary 500 hosts x 301 packages: " << elapsed << " ms");
  CHECK(elapsed < 1000);  // generous bound for a loaded CI machine; target is well under 200 ms
}

}  // namespace
}  // namespace dozor::server
