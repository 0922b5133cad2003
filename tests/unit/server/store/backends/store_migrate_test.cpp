// `dozor-server store migrate`: a SQLite database with something in every area is copied into a
// fresh PostgreSQL database; every table verifies, and the store answers the same reads from both
// (hosts, inventory, health from raw rows and compacted blocks, changes, findings, people, logs,
// imports, snapshots). A target that holds data is refused.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "backends.hpp"
#include "dozor/common/crypto.hpp"
#include "store/migrate/sqlite_to_postgres.hpp"

namespace dozor::server {
namespace {

using dozor::testing::EnrollHost;
using dozor::testing::HealthReport;
using dozor::testing::kBackendClockStartMs;
using dozor::testing::Ok;

constexpr int64_t kHour = 3'600'000;

dozor::v1::Inventory MigrationInventory(const std::string& kernel, const std::string& ssl) {
  dozor::v1::Inventory inv;
  inv.mutable_os()->set_pretty_name("Debian GNU/Linux 12 (bookworm)");
  inv.mutable_os()->set_family("debian");
  inv.mutable_os()->set_kernel(kernel);
  inv.mutable_os()->set_hostname("db1");
  auto* eth = inv.mutable_network()->add_interfaces();
  eth->set_name("eth0");
  eth->set_mac("52:54:00:12:34:56");
  auto* address = eth->add_addresses();
  address->set_address("10.0.0.5");
  address->set_prefix(24);
  for (const char* name : {"openssl", "postgresql-15", "нестандартный \"пакет\", {x}"}) {
    auto* package = inv.mutable_software()->add_packages();
    package->set_name(name);
    package->set_version(std::string(name) == "openssl" ? ssl : "15.4");
  }
  inv.mutable_hardware()->set_memory_total_bytes(8ULL << 30);
  return inv;
}

IncomingReport Inventory(const std::string& agent_id, uint64_t seq, int64_t at,
                         const dozor::v1::Inventory& inv) {
  IncomingReport in;
  in.agent_id = agent_id;
  in.received_at_ms = at;
  in.report.set_seq(seq);
  in.report.set_collected_at_ms(at);
  *in.report.mutable_inventory() = inv;
  auto* collector = in.report.add_collectors();
  collector->set_name("software");
  collector->set_ok(false);
  collector->set_error("dpkg status unreadable");
  return in;
}

// An installation's worth of data in every area.
void Populate(testing::SqliteBackend& backend) {
  auto& store = *backend.store;
  const int64_t t0 = kBackendClockStartMs;
  Organization acme;
  acme.name = "Ромашка";
  acme.engineer = "Пётр Иванов";
  acme.declared_hosts = 12;
  const int64_t org = Ok(store.CreateOrganization(acme)).id;
  EnrollHost(store, "Ромашка", "a1");
  EnrollHost(store, "Ромашка", "a2");
  EnrollHost(store, "Beta", "b1");
  Ok(store.RevokeAgent("b1", t0 + 5));

  std::vector<IncomingReport> batch;
  batch.push_back(Inventory("a1", 1, t0, MigrationInventory("6.1.0-1", "3.0.11")));
  batch.push_back(Inventory("a2", 1, t0, MigrationInventory("6.1.0-1", "3.0.11")));
  // A day of hourly samples (compacted into blocks below) and a few recent raw ones.
  for (int i = 0; i < 30; ++i) {
    batch.push_back(HealthReport("a1", static_cast<uint64_t>(2 + i), t0 + i * kHour, 10 + i));
  }
  auto results = store.CommitReports(batch);
  REQUIRE(results.ok());
  std::vector<IncomingReport> second;
  second.push_back(Inventory("a1", 40, t0 + 31 * kHour, MigrationInventory("6.1.0-2", "3.0.13")));
  REQUIRE(store.CommitReports(second).ok());
  backend.clock.SetMs(t0 + 40 * kHour);
  auto compacted = store.CompactHealth(t0 + 40 * kHour - 3 * kHour);
  REQUIRE(compacted.ok());
  REQUIRE(compacted->samples > 0);  // some samples now live only in health_blocks

  // Findings, a contract move with its snapshot, people, logs.
  const int64_t a1 = Ok(store.HostPk("a1"));
  EvaluationInput input;
  input.host_scope = true;
  input.rule_ids = {"disk-space-low"};
  input.targets = {a1};
  input.hits = {
      FindingHit{"disk-space-low", org, a1, R"([{"mount":"/","used_pct":95}])", false, ""}};
  input.meta["disk-space-low"] = RuleMeta{Severity::kHigh, "hardware"};
  Ok(store.ApplyEvaluation(input, t0 + kHour));
  OrganizationPatch move;
  move.contract_status = ContractPhase::kRemediation;
  move.actor = "ivanov";
  Ok(store.UpdateOrganization(org, move));
  NewUser user;
  user.login = "client1";
  user.display_name = "Клиент";
  user.role = UserRole::kClient;
  user.org_id = org;
  user.password_hash = "$argon2id$fake";
  const int64_t user_id = Ok(store.CreateUser(user, t0)).id;
  Ok(store.SaveOrgNote(org, "Сервер в подвале", user_id, "client1", t0));
  Ok(store.CreateApiToken("ci", ApiRole::kOperator, Sha256Hex("token"), "dzt_ab", std::nullopt));
  AuditEntry audit;
  audit.at_ms = t0;
  audit.actor = "admin";
  audit.action = "POST /api/v1/orgs";
  audit.org_id = org;
  audit.status = 201;
  Ok(store.AppendAudit(audit));
  SecurityEvent refusal;
  refusal.at_ms = t0;
  refusal.kind = SecurityEventKind::kApiAuthFailed;
  refusal.source = "127.0.0.1";
  refusal.subject = "dzt_zz";
  refusal.detail = "unknown token";
  Ok(store.RecordSecurityEvents({refusal}));
}

template <typename A, typename B>
void SameHealth(A& sqlite_store, B& postgres_store, const std::string& agent_id) {
  const auto before = Ok(sqlite_store.Hosts().ListHealth(agent_id, 0, 10000));
  const auto after = Ok(postgres_store.Hosts().ListHealth(agent_id, 0, 10000));
  REQUIRE(before.size() == after.size());
  for (size_t i = 0; i < before.size(); ++i) {
    CHECK(before[i].seq == after[i].seq);
    CHECK(before[i].collected_at_ms == after[i].collected_at_ms);
    CHECK(before[i].sample.SerializeAsString() == after[i].sample.SerializeAsString());
  }
}

TEST_CASE("store migrate: every table verifies and the PostgreSQL store answers as SQLite did") {
  testing::SqliteBackend source;
  Populate(source);
  testing::PostgresBackend target;
  StoreMigrationOptions options;
  options.sqlite_path = (source.dir / "dozor.db").string();
  options.postgres_conninfo = target.database.conninfo();
  options.batch_rows = 7;  // several batches even for small tables
  std::vector<std::string> progress;
  options.progress = [&](const std::string& line) { progress.push_back(line); };
  const StoreMigrationReport report = Ok(MigrateSqliteToPostgres(options));
  CHECK(report.not_copied.empty());
  CHECK_FALSE(progress.empty());
  int64_t samples = 0;
  for (const TableMigration& table : report.tables) {
    CHECK_MESSAGE(table.verified(), table.table);
    if (table.table == "health_samples") samples = table.target_rows;
  }
  CHECK(samples == 30);
  CHECK(report.tables.size() >= 40);

  auto& before = *source.store;
  auto& after = *target.store;
  // Organisations, with their counts and engineer names.
  const auto orgs_before = Ok(before.ListOrganizations());
  const auto orgs_after = Ok(after.Organizations().ListOrganizations());
  REQUIRE(orgs_before.size() == orgs_after.size());
  for (size_t i = 0; i < orgs_before.size(); ++i) {
    CHECK(orgs_before[i].id == orgs_after[i].id);
    CHECK(orgs_before[i].name == orgs_after[i].name);
    CHECK(orgs_before[i].engineer == orgs_after[i].engineer);
    CHECK(orgs_before[i].host_count == orgs_after[i].host_count);
    CHECK(orgs_before[i].contract_status == orgs_after[i].contract_status);
    CHECK(orgs_before[i].declared_hosts == orgs_after[i].declared_hosts);
  }
  // Hosts, addresses, inventory, collectors, changes, health (raw and compacted).
  const auto hosts_before = Ok(before.ListHosts(std::nullopt));
  const auto hosts_after = Ok(after.Hosts().ListHosts(std::nullopt));
  REQUIRE(hosts_before.size() == hosts_after.size());
  for (size_t i = 0; i < hosts_before.size(); ++i) {
    CHECK(hosts_before[i].agent_id == hosts_after[i].agent_id);
    CHECK(hosts_before[i].hostname == hosts_after[i].hostname);
    CHECK(hosts_before[i].addresses == hosts_after[i].addresses);
    CHECK(hosts_before[i].last_seen_ms == hosts_after[i].last_seen_ms);
    CHECK(hosts_before[i].revoked == hosts_after[i].revoked);
    CHECK(hosts_before[i].role == hosts_after[i].role);
  }
  const auto inventory_before = Ok(before.GetInventory("a1"));
  const auto inventory_after = Ok(after.Hosts().GetInventory("a1"));
  CHECK(inventory_before.inventory.SerializeAsString() ==
        inventory_after.inventory.SerializeAsString());
  REQUIRE(inventory_after.collectors.size() == 2);  // "health", "software"
  REQUIRE(inventory_before.collectors.size() == 2);
  for (size_t i = 0; i < 2; ++i) {
    CHECK(inventory_after.collectors[i].SerializeAsString() ==
          inventory_before.collectors[i].SerializeAsString());
  }
  CHECK(inventory_after.collectors[1].error() == "dpkg status unreadable");
  const auto changes_before = Ok(before.ListChanges("a1", 0, 1000));
  const auto changes_after = Ok(after.Hosts().ListChanges("a1", 0, 1000));
  REQUIRE(changes_before.size() == changes_after.size());
  for (size_t i = 0; i < changes_before.size(); ++i) {
    CHECK(changes_before[i].id == changes_after[i].id);
    CHECK(changes_before[i].subject == changes_after[i].subject);
    CHECK(changes_before[i].new_value == changes_after[i].new_value);
  }
  SameHealth(before, after, "a1");
  // The report's estate summary: hosts, hardware, gaps (a failed collector), applications and
  // package counts.
  {
    const int64_t summary_org = Ok(before.FindOrganization("Ромашка")).id;
    const auto estate_before = Ok(before.GetEstateSummary(summary_org, {"openssl", "absent"}));
    const auto estate_after =
        Ok(after.Hosts().GetEstateSummary(summary_org, {"openssl", "absent"}));
    REQUIRE(estate_before.hosts.size() == estate_after.hosts.size());
    REQUIRE(estate_after.hosts.size() == 2);
    for (size_t i = 0; i < estate_before.hosts.size(); ++i) {
      CHECK(estate_before.hosts[i].agent_id == estate_after.hosts[i].agent_id);
      CHECK(estate_before.hosts[i].memory_bytes == estate_after.hosts[i].memory_bytes);
      CHECK(estate_before.hosts[i].package_count == estate_after.hosts[i].package_count);
      CHECK(estate_before.hosts[i].addresses == estate_after.hosts[i].addresses);
      CHECK(estate_before.hosts[i].gaps == estate_after.hosts[i].gaps);
    }
    CHECK_FALSE(estate_after.hosts[0].gaps.empty());
    CHECK(estate_before.package_hosts == estate_after.package_hosts);
    CHECK(estate_after.package_hosts[0].second == 2);
    CHECK(estate_before.applications.size() == estate_after.applications.size());
  }
  // Findings, snapshot, credentials, people, logs.
  const auto findings_before = Ok(before.ListFindings(FindingFilter{}));
  const auto findings_after = Ok(after.Findings().ListFindings(FindingFilter{}));
  REQUIRE(findings_before.size() == 1);
  REQUIRE(findings_after.size() == 1);
  CHECK(findings_after[0].id == findings_before[0].id);
  CHECK(findings_after[0].state == findings_before[0].state);
  CHECK(findings_after[0].evidence_json == findings_before[0].evidence_json);
  CHECK(Ok(after.Findings().ListFindingEvents(findings_after[0].id)).size() ==
        Ok(before.ListFindingEvents(findings_before[0].id)).size());
  const int64_t org =
      orgs_after.back().name == "Ромашка" ? orgs_after.back().id : orgs_after.front().id;
  const auto snapshot =
      Ok(after.Organizations().GetAuditSnapshot(org, AuditSnapshotKind::kFirstAudit));
  REQUIRE(snapshot.has_value());
  REQUIRE(snapshot->findings.size() == 1);
  CHECK(snapshot->findings[0].rule_id == "disk-space-low");
  CHECK(Ok(after.Agents().GetAgentCredential("a1")).last_committed_seq ==
        Ok(before.GetAgentCredential("a1")).last_committed_seq);
  CHECK(Ok(after.Users().ListUsers()).size() == Ok(before.ListUsers()).size());
  CHECK(Ok(after.Users().ListOrgNotes(org, 10))[0].body == "Сервер в подвале");
  CHECK(Ok(after.ApiTokens().ListApiTokens()).size() == 1);
  CHECK(Ok(after.AuditLog().ListAudit(AuditFilter{})).size() ==
        Ok(before.ListAudit(AuditFilter{})).size());
  CHECK(Ok(after.Events().LatestEventId()) == Ok(before.LatestEventId()));

  // New rows continue after the copied ids.
  Organization fresh;
  fresh.name = "Новый клиент";
  CHECK(Ok(after.Organizations().CreateOrganization(fresh)).id > orgs_before.back().id);
  CHECK(Ok(after.Events().LatestEventId()) >= Ok(before.LatestEventId()));

  // A second migration into a database that holds data is refused and changes nothing.
  auto again = MigrateSqliteToPostgres(options);
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().code == ErrorCode::kFailedPrecondition);
  CHECK(Ok(after.Organizations().ListOrganizations()).size() == orgs_before.size() + 1);
}

TEST_CASE("store migrate: a source at an older schema is refused") {
  testing::SqliteBackend source;
  {
    auto db = sqlite::Database::Open(source.dir / "dozor.db");
    REQUIRE(db.ok());
    REQUIRE(db->Exec("DELETE FROM schema_migrations WHERE version = (SELECT max(version) FROM "
                     "schema_migrations)")
                .ok());
  }
  testing::PostgresBackend target;
  StoreMigrationOptions options;
  options.sqlite_path = (source.dir / "dozor.db").string();
  options.postgres_conninfo = target.database.conninfo();
  auto refused = MigrateSqliteToPostgres(options);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ErrorCode::kFailedPrecondition);
  CHECK(refused.error().message.find("upgrade") != std::string::npos);
}

}  // namespace
}  // namespace dozor::server
