#include "store/sqlite/sqlite_store.hpp"

#include <doctest/doctest.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "alerts/alert_policy.hpp"
#include "domain/inventory_diff.hpp"
#include "dozor/common/sqlite.hpp"
#include "dozor/contract/codec.hpp"
#include "store/sqlite/migrations.hpp"
#include "test_util.hpp"

namespace dozor::server {
namespace {

using dozor::testing::TempDir;

std::unique_ptr<SqliteStore> OpenStore(const TempDir& dir, bool background_checkpoint = true) {
  SqliteStoreOptions options;
  options.path = (dir / "dozor.db").string();
  options.background_checkpoint = background_checkpoint;
  auto store = SqliteStore::Open(options);
  REQUIRE_MESSAGE(store.ok(), (store.ok() ? "" : store.error().ToString()));
  return std::move(store).value();
}

int64_t MakeStoreOrg(SqliteStore& store, const std::string& name) {
  Organization org;
  org.name = name;
  auto created = store.CreateOrganization(org);
  REQUIRE(created.ok());
  return created->id;
}

// Creates an organisation, a token and an enrolled agent; returns the agent id.
std::string EnrollOne(SqliteStore& store, const std::string& agent_id, int64_t org_id = 0) {
  if (org_id == 0) {
    org_id = MakeStoreOrg(store, "org-" + agent_id);
  }
  NewEnrollmentToken token;
  token.org_id = org_id;
  token.token_hash = "hash-" + agent_id;
  token.hint = "tok";
  REQUIRE(store.CreateEnrollmentToken(token).ok());
  NewAgent agent;
  agent.agent_id = agent_id;
  agent.secret_hash = "secret-" + agent_id;
  agent.hostname = "host-" + agent_id;
  auto enrolled = store.EnrollAgent(token.token_hash, agent, 1000);
  REQUIRE_MESSAGE(enrolled.ok(), (enrolled.ok() ? "" : enrolled.error().ToString()));
  return agent_id;
}

IncomingReport Health(const std::string& agent_id, uint64_t seq, int64_t at_ms, double cpu = 12.5) {
  IncomingReport in;
  in.agent_id = agent_id;
  in.received_at_ms = at_ms + 100;
  in.report.set_seq(seq);
  in.report.set_collected_at_ms(at_ms);
  in.report.mutable_health()->set_cpu_percent(cpu);
  in.report.mutable_health()->set_load1(0.5);
  return in;
}

dozor::v1::Inventory SampleInventory(const std::string& kernel, const std::string& openssl) {
  dozor::v1::Inventory inv;
  inv.mutable_os()->set_pretty_name("Debian GNU/Linux 12 (bookworm)");
  inv.mutable_os()->set_family("linux");
  inv.mutable_os()->set_kernel(kernel);
  inv.mutable_os()->set_hostname("db1");
  auto* lo = inv.mutable_network()->add_interfaces();
  lo->set_name("lo");
  lo->set_loopback(true);
  auto* lo_ip = lo->add_addresses();
  lo_ip->set_address("127.0.0.1");
  lo_ip->set_prefix(8);
  auto* eth = inv.mutable_network()->add_interfaces();
  eth->set_name("eth0");
  auto* ip = eth->add_addresses();
  ip->set_address("10.0.0.5");
  ip->set_prefix(24);
  auto* p = inv.mutable_software()->add_packages();
  p->set_name("openssl");
  p->set_version(openssl);
  auto* q = inv.mutable_software()->add_packages();
  q->set_name("telnet");
  q->set_version("0.17-1");
  return inv;
}

IncomingReport Inventory(const std::string& agent_id, uint64_t seq, int64_t at_ms,
                         const dozor::v1::Inventory& inv) {
  IncomingReport in;
  in.agent_id = agent_id;
  in.received_at_ms = at_ms + 100;
  in.report.set_seq(seq);
  in.report.set_collected_at_ms(at_ms);
  *in.report.mutable_inventory() = inv;
  auto* collector = in.report.add_collectors();
  collector->set_name("packages");
  collector->set_ok(true);
  collector->set_duration_ms(40);
  return in;
}

TEST_CASE("store migrations are applied once and survive reopen") {
  TempDir dir;
  {
    auto store = OpenStore(dir);
    MakeStoreOrg(*store, "Acme");
  }
  auto store = OpenStore(dir);
  auto orgs = store->ListOrganizations();
  REQUIRE(orgs.ok());
  REQUIRE(orgs->size() == 1);
  CHECK(orgs->front().name == "Acme");
  auto db = sqlite::Database::Open(dir / "dozor.db");
  REQUIRE(db.ok());
  auto count = db->Prepare("SELECT count(*), max(version) FROM schema_migrations");
  REQUIRE(count.ok());
  REQUIRE(*count->Step());
  CHECK(count->Int(0) == static_cast<int64_t>(Migrations().size()));
  CHECK(count->Int(1) == SqliteStore::LatestSchemaVersion());
}

TEST_CASE("store refuses a file that is not a database and names it") {
  TempDir dir;
  {
    std::ofstream garbage(dir / "dozor.db", std::ios::binary);
    garbage << std::string(8192, 'x');
  }
  SqliteStoreOptions options;
  options.path = (dir / "dozor.db").string();
  auto store = OpenSqliteStore(options);
  REQUIRE_FALSE(store.ok());
  CHECK(store.error().code == ErrorCode::kDataLoss);
  CHECK(store.error().message.find(options.path) != std::string::npos);
}

TEST_CASE("store refuses a database with a newer schema version") {
  TempDir dir;
  { auto store = OpenStore(dir); }
  {
    auto db = sqlite::Database::Open(dir / "dozor.db");
    REQUIRE(db.ok());
    auto insert =
        db->Prepare("INSERT INTO schema_migrations(version, name, applied_at) VALUES (?, ?, 0)");
    REQUIRE(insert.ok());
    REQUIRE(
        insert->Bind(1, SqliteStore::LatestSchemaVersion() + 1).Bind(2, "999_future").Run().ok());
  }
  SqliteStoreOptions options;
  options.path = (dir / "dozor.db").string();
  auto store = OpenSqliteStore(options);
  REQUIRE_FALSE(store.ok());
  CHECK(store.error().code == ErrorCode::kFailedPrecondition);
  CHECK(store.error().message.find("newer") != std::string::npos);
}

TEST_CASE("organizations have unique names and can be found and patched") {
  TempDir dir;
  auto store = OpenStore(dir);
  Organization org;
  org.name = "Acme";
  org.engineer = "petrov";
  auto created = store->CreateOrganization(org);
  REQUIRE(created.ok());
  CHECK(created->contract_status == ContractPhase::kProspect);
  CHECK(created->engineer == "petrov");
  CHECK(created->created_at_ms > 0);
  auto dup = store->CreateOrganization(org);
  REQUIRE_FALSE(dup.ok());
  CHECK(dup.error().code == ErrorCode::kAlreadyExists);

  Organization bad;
  bad.name = "Bad";
  // An unknown status cannot reach the store: it fails to parse at the edge.
  CHECK_FALSE(ParseContractPhase("sleeping").has_value());

  CHECK(store->FindOrganization("Acme")->id == created->id);
  CHECK(store->FindOrganization(std::to_string(created->id))->name == "Acme");
  CHECK(store->FindOrganization("Nobody").error().code == ErrorCode::kNotFound);

  OrganizationPatch patch;
  patch.contract_status = ContractPhase::kActive;
  auto updated = store->UpdateOrganization(created->id, patch);
  REQUIRE(updated.ok());
  CHECK(updated->contract_status == ContractPhase::kActive);
  CHECK(updated->engineer == "petrov");  // untouched fields stay
  CHECK_FALSE(ParseContractPhase("bogus").has_value());
  patch.contract_status = ContractPhase::kEnded;
  CHECK(store->UpdateOrganization(created->id + 100, patch).error().code == ErrorCode::kNotFound);
}

TEST_CASE("contract status and type validation") {
  CHECK(ParseContractPhase("remediation").has_value());
  CHECK_FALSE(ParseContractPhase("Active").has_value());
  CHECK(ParseContractType("application").has_value());
  CHECK_FALSE(ParseContractType("").has_value());
}

TEST_CASE("enrollment refuses unknown, revoked and expired tokens and counts uses") {
  TempDir dir;
  auto store = OpenStore(dir);
  int64_t org = MakeStoreOrg(*store, "Acme");
  NewEnrollmentToken good{org, "h-good", "abc", "main", std::nullopt};
  NewEnrollmentToken expiring{org, "h-exp", "def", "", int64_t{5000}};
  NewEnrollmentToken revoked{org, "h-rev", "ghi", "", std::nullopt};
  REQUIRE(store->CreateEnrollmentToken(good).ok());
  REQUIRE(store->CreateEnrollmentToken(expiring).ok());
  auto rev = store->CreateEnrollmentToken(revoked);
  REQUIRE(rev.ok());
  REQUIRE(store->RevokeEnrollmentToken(rev->id, 2000).ok());
  CHECK(store->RevokeEnrollmentToken(9999, 2000).error().code == ErrorCode::kNotFound);
  NewEnrollmentToken orphan{org + 50, "h-orphan", "", "", std::nullopt};
  CHECK(store->CreateEnrollmentToken(orphan).error().code == ErrorCode::kNotFound);

  NewAgent agent{"agent-1", "secret-hash", "db1", "mid", "0.1.0", "linux"};
  auto unknown = store->EnrollAgent("nope", agent, 3000);
  CHECK(unknown.error().code == ErrorCode::kPermissionDenied);
  CHECK(unknown.error().message == "unknown enrollment token");
  auto was_revoked = store->EnrollAgent("h-rev", agent, 3000);
  CHECK(was_revoked.error().code == ErrorCode::kPermissionDenied);
  CHECK(was_revoked.error().message == "enrollment token is revoked");
  auto expired = store->EnrollAgent("h-exp", agent, 6000);
  CHECK(expired.error().code == ErrorCode::kPermissionDenied);
  CHECK(expired.error().message == "enrollment token is expired");

  auto enrolled = store->EnrollAgent("h-exp", agent, 4000);  // not yet expired
  REQUIRE(enrolled.ok());
  CHECK(enrolled->org_name == "Acme");
  CHECK(enrolled->org_id == org);
  NewAgent second{"agent-2", "s2", "db2", "", "", "linux"};
  REQUIRE(store->EnrollAgent("h-good", second, 4000).ok());
  NewAgent third{"agent-3", "s3", "db3", "", "", "linux"};
  REQUIRE(store->EnrollAgent("h-good", third, 4000).ok());
  CHECK(store->EnrollAgent("h-good", third, 4000).error().code == ErrorCode::kAlreadyExists);

  auto tokens = store->ListEnrollmentTokens(org);
  REQUIRE(tokens.ok());
  REQUIRE(tokens->size() == 3);
  CHECK((*tokens)[0].uses == 2);
  CHECK((*tokens)[0].org_name == "Acme");
  CHECK((*tokens)[1].uses == 1);
  CHECK((*tokens)[1].expires_at_ms == 5000);
  CHECK((*tokens)[2].uses == 0);
  CHECK((*tokens)[2].revoked_at_ms == 2000);
  CHECK(store->ListEnrollmentTokens(org + 1)->empty());

  auto credential = store->GetAgentCredential("agent-1");
  REQUIRE(credential.ok());
  CHECK(credential->secret_hash == "secret-hash");
  CHECK(credential->org_id == org);
  CHECK_FALSE(credential->revoked);
  CHECK(credential->last_committed_seq == 0);
  CHECK(store->GetAgentCredential("ghost").error().code == ErrorCode::kNotFound);
  CHECK(store->FindOrganization("Acme")->host_count == 3);

  REQUIRE(store->RevokeAgent("agent-1", 7000).ok());
  CHECK(store->GetAgentCredential("agent-1")->revoked);
  CHECK(store->RevokeAgent("ghost", 7000).error().code == ErrorCode::kNotFound);
  CHECK(store->FindOrganization("Acme")->host_count == 2);
}

TEST_CASE("an enrollment token with max_uses enrols that many agents, then refuses") {
  TempDir dir;
  auto store = OpenStore(dir);
  int64_t org = MakeStoreOrg(*store, "Acme");
  NewEnrollmentToken limited{org, "h-two", "two", "", std::nullopt, int64_t{2}};
  REQUIRE(store->CreateEnrollmentToken(limited).ok());
  NewEnrollmentToken zero{org, "h-zero", "zero", "", std::nullopt, int64_t{0}};
  CHECK(store->CreateEnrollmentToken(zero).error().code == ErrorCode::kInvalidArgument);
  for (int i = 1; i <= 2; ++i) {
    NewAgent agent{"agent-" + std::to_string(i), "s", "db", "", "", "linux"};
    REQUIRE(store->EnrollAgent("h-two", agent, 1000).ok());
  }
  NewAgent third{"agent-3", "s", "db", "", "", "linux"};
  auto refused = store->EnrollAgent("h-two", third, 1000);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ErrorCode::kPermissionDenied);
  CHECK(refused.error().message.find("used 2 times, its limit") != std::string::npos);
  auto tokens = store->ListEnrollmentTokens(org);
  REQUIRE(tokens.ok());
  REQUIRE(tokens->size() == 1);
  CHECK(tokens->front().uses == 2);  // the refused attempt is not counted
  CHECK(tokens->front().max_uses == 2);
  CHECK(store->GetAgentCredential("agent-3").error().code == ErrorCode::kNotFound);
}

TEST_CASE("security events are recorded, listed newest first and pruned") {
  TempDir dir;
  auto store = OpenStore(dir);
  SecurityEvent first;
  first.at_ms = 1000;
  first.kind = SecurityEventKind::kEnrollRefused;
  first.source = "ipv4:10.0.0.5";
  first.subject = "dze_abcdefgh pc-01";
  first.detail = "unknown enrollment token";
  first.count = 40;
  SecurityEvent second = first;
  second.at_ms = 2000;
  second.kind = SecurityEventKind::kThrottled;
  second.count = 1;
  REQUIRE(store->RecordSecurityEvents({first, second}).ok());
  auto listed = store->ListSecurityEvents({.limit = 10});
  REQUIRE(listed.ok());
  REQUIRE(listed->size() == 2);
  CHECK((*listed)[0].kind == SecurityEventKind::kThrottled);
  CHECK((*listed)[1].kind == SecurityEventKind::kEnrollRefused);
  CHECK((*listed)[1].count == 40);
  CHECK((*listed)[1].source == "ipv4:10.0.0.5");
  CHECK(store->ListSecurityEvents({.since_ms = 1500, .limit = 10})->size() == 1);
  auto pruned = store->PruneSecurityEvents(1500);
  REQUIRE(pruned.ok());
  CHECK(*pruned == 1);
  CHECK(store->ListSecurityEvents({.limit = 10})->size() == 1);
}

TEST_CASE("security events are filtered by kind and time and paged by id") {
  TempDir dir;
  auto store = OpenStore(dir);
  std::vector<SecurityEvent> events;
  for (int i = 0; i < 7; ++i) {
    SecurityEvent event;
    event.at_ms = 1000 * (i + 1);
    event.kind = i % 2 == 0 ? SecurityEventKind::kApiAuthFailed : SecurityEventKind::kImportRefused;
    event.source = "ipv4:10.0.0." + std::to_string(i);
    events.push_back(event);
  }
  events.back().kind = SecurityEventKind::kThrottled;  // at 7000
  REQUIRE(store->RecordSecurityEvents(events).ok());

  auto api = store->ListSecurityEvents({.kinds = {SecurityEventKind::kApiAuthFailed}});
  REQUIRE(api.ok());
  REQUIRE(api->size() == 3);  // at 1000, 3000, 5000
  CHECK((*api)[0].at_ms == 5000);
  CHECK((*api)[2].at_ms == 1000);
  auto two_kinds = store->ListSecurityEvents(
      {.kinds = {SecurityEventKind::kImportRefused, SecurityEventKind::kThrottled}});
  REQUIRE(two_kinds.ok());
  CHECK(two_kinds->size() == 4);
  auto window = store->ListSecurityEvents({.since_ms = 2000, .until_ms = 5000});
  REQUIRE(window.ok());
  REQUIRE(window->size() == 3);  // 2000, 3000, 4000: until is exclusive
  CHECK((*window)[0].at_ms == 4000);

  // Pages of two, newest first, each continuing after the last row of the one before.
  std::vector<int64_t> seen;
  std::optional<int64_t> before;
  for (int page = 0; page < 5; ++page) {
    auto rows = store->ListSecurityEvents({.before_id = before, .limit = 2});
    REQUIRE(rows.ok());
    if (rows->empty()) break;
    for (const auto& row : *rows) seen.push_back(row.at_ms);
    before = rows->back().id;
  }
  CHECK(seen == std::vector<int64_t>{7000, 6000, 5000, 4000, 3000, 2000, 1000});
  CHECK(SecurityEventKindFromName("import_refused") == SecurityEventKind::kImportRefused);
  CHECK_FALSE(SecurityEventKindFromName("Import_Refused").has_value());
}

TEST_CASE("migration 014 keeps every security event and admits refused imports") {
  TempDir dir;
  auto db = sqlite::Database::Open(dir / "old.db");
  REQUIRE(db.ok());
  for (const Migration& migration : Migrations()) {
    if (migration.version >= 14) break;
    REQUIRE_MESSAGE(db->Exec(migration.sql).ok(), migration.name);
  }
  REQUIRE(db->Exec("INSERT INTO security_events(at, kind, source, subject, detail, count) "
                   "VALUES (1000, 'api_auth_failed', 'ipv4:10.0.0.5', 'dza_abcdefgh', 'x', 7)")
              .ok());
  CHECK_FALSE(db->Exec("INSERT INTO security_events(at, kind, source, subject, detail) "
                       "VALUES (1, 'import_refused', 's', 's', 'd')")
                  .ok());  // the old CHECK
  for (const Migration& migration : Migrations()) {
    if (migration.version == 14) REQUIRE(db->Exec(migration.sql).ok());
  }
  REQUIRE(db->Exec("INSERT INTO security_events(at, kind, source, subject, detail) "
                   "VALUES (2000, 'import_refused', 'ipv4:10.0.0.6', 'dze_1234 org 1', 'd')")
              .ok());
  CHECK_FALSE(db->Exec("INSERT INTO security_events(at, kind, source, subject, detail) "
                       "VALUES (1, 'bogus', 's', 's', 'd')")
                  .ok());
  auto kept = db->Prepare("SELECT kind, count FROM security_events ORDER BY at");
  REQUIRE(kept.ok());
  REQUIRE(kept->Step().value());
  CHECK(kept->Text(0) == "api_auth_failed");
  CHECK(kept->Int(1) == 7);
  REQUIRE(kept->Step().value());
  CHECK(kept->Text(0) == "import_refused");
  CHECK_FALSE(kept->Step().value());
}

// A database as an older dozor-server left it: migrations 1..version applied and recorded, so
// that opening the store applies only the later ones.
void BuildDatabaseAtVersion(const std::filesystem::path& path, int version) {
  auto db = sqlite::Database::Open(path);
  REQUIRE(db.ok());
  REQUIRE(db->Exec("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT "
                   "NULL, applied_at INTEGER NOT NULL)")
              .ok());
  for (const Migration& migration : Migrations()) {
    if (migration.version > version) break;
    REQUIRE_MESSAGE(db->Exec(migration.sql).ok(), migration.name);
    auto record = db->Prepare("INSERT INTO schema_migrations VALUES (?, ?, 0)");
    REQUIRE(record.ok());
    REQUIRE(record->Bind(1, migration.version).Bind(2, migration.name).Run().ok());
  }
}

// Applies the migrations after the database's version up to `version` as the store does (one
// transaction, foreign keys off), so that a test of one migration is not changed by later ones.
void MigrateDatabaseTo(const std::filesystem::path& path, int version) {
  auto db = sqlite::Database::Open(path);
  REQUIRE(db.ok());
  REQUIRE(db->Exec("PRAGMA foreign_keys=OFF").ok());
  REQUIRE(db->Exec("BEGIN").ok());
  auto current = db->Prepare("SELECT coalesce(max(version), 0) FROM schema_migrations");
  REQUIRE(current.ok());
  REQUIRE(current->Step().value());
  const int64_t from = current->Int(0);
  current->Reset();
  for (const Migration& migration : Migrations()) {
    if (migration.version <= from || migration.version > version) continue;
    REQUIRE_MESSAGE(db->Exec(migration.sql).ok(), migration.name);
    auto record = db->Prepare("INSERT INTO schema_migrations VALUES (?, ?, 0)");
    REQUIRE(record.ok());
    REQUIRE(record->Bind(1, migration.version).Bind(2, migration.name).Run().ok());
  }
  REQUIRE(db->Exec("COMMIT").ok());
}

TEST_CASE("store applies a lower migration a database skipped, not only those above its highest") {
  // A database made by a development build between two merges: 025 applied, 023 and 024 (which
  // landed later with lower numbers) not. Opening it runs them; the rest stays as it was.
  TempDir dir;
  BuildDatabaseAtVersion(dir / "dozor.db", 22);
  {
    auto db = sqlite::Database::Open(dir / "dozor.db");
    REQUIRE(db.ok());
    for (const Migration& migration : Migrations()) {
      if (migration.version != 25) continue;
      REQUIRE(db->Exec(migration.sql).ok());
      auto record = db->Prepare("INSERT INTO schema_migrations VALUES (?, ?, 0)");
      REQUIRE(record.ok());
      REQUIRE(record->Bind(1, migration.version).Bind(2, migration.name).Run().ok());
    }
  }
  auto store = OpenStore(dir);
  REQUIRE(store != nullptr);
  auto db = sqlite::Database::Open(dir / "dozor.db");
  REQUIRE(db.ok());
  auto count = db->Prepare("SELECT count(*), max(version) FROM schema_migrations");
  REQUIRE(count.ok());
  REQUIRE(*count->Step());
  CHECK(count->Int(0) == static_cast<int64_t>(Migrations().size()));
  CHECK(count->Int(1) == SqliteStore::LatestSchemaVersion());
  // 023's and 024's tables exist now.
  for (const char* table : {"host_pci_devices", "host_database_databases", "host_firewall"}) {
    auto exists = db->Prepare("SELECT count(*) FROM sqlite_master WHERE name = ?");
    REQUIRE(exists.ok());
    REQUIRE(*exists->Bind(1, std::string(table)).Step());
    CHECK_MESSAGE(exists->Int(0) == 1, table);
  }
}

// Every row a query returns, each as its values ("NULL" for NULL), for comparing before and after.
std::vector<std::string> RowsOfQuery(sqlite::Database& db, const std::string& sql) {
  auto select = db.Prepare(sql);
  REQUIRE_MESSAGE(select.ok(), sql);
  std::vector<std::string> rows;
  while (select->Step().value()) {
    std::string row;
    for (int column = 0; column < sqlite3_column_count(select->get()); ++column) {
      row += select->IsNull(column) ? std::string("NULL") : "'" + select->Text(column) + "'";
      row += '|';
    }
    rows.push_back(row);
  }
  return rows;
}

// What a table is apart from its CHECKs: columns (type, NOT NULL, default, key), foreign keys, and
// each index with its columns and SQL.
std::vector<std::string> ShapeOfTable(sqlite::Database& db, const std::string& table) {
  std::vector<std::string> shape = RowsOfQuery(db, "PRAGMA table_xinfo(" + table + ")");
  for (auto& fk : RowsOfQuery(db, "PRAGMA foreign_key_list(" + table + ")")) {
    shape.push_back("fk " + fk);
  }
  for (const auto& index : RowsOfQuery(
           db, "SELECT l.name, l.\"unique\", l.origin, l.partial, m.sql FROM pragma_index_list('" +
                   table + "') l LEFT JOIN sqlite_master m ON m.name = l.name ORDER BY l.name")) {
    shape.push_back("index " + index);
  }
  auto names = db.Prepare("SELECT name FROM pragma_index_list(?) ORDER BY name");
  REQUIRE(names.ok());
  names->Bind(1, table);
  while (names->Step().value()) {
    const std::string index = names->Text(0);
    for (auto& column : RowsOfQuery(db, "PRAGMA index_xinfo(" + index + ")")) {
      shape.push_back(index + " " + column);
    }
  }
  return shape;
}

// The tables migration 015 rebuilds.
const std::vector<std::string> kTablesRebuiltBy015 = {"organizations",
                                                      "api_tokens",
                                                      "host_os",
                                                      "findings",
                                                      "finding_events",
                                                      "contract_events",
                                                      "audit_snapshots",
                                                      "audit_snapshot_findings",
                                                      "imports",
                                                      "alerts",
                                                      "org_alert_settings",
                                                      "org_alert_rule_overrides"};

// Rows in every table migration 015 rebuilds, with every word each enum column may hold (and the
// tables that point at them, among them the outbox whose foreign key cascades from alerts).
// audit_snapshot_findings gets rowids out of insertion order: they must survive as they are.
constexpr const char* kVersion14Rows = R"sql(
INSERT INTO organizations(id, name, contract_status, contract_type, engineer, created_at) VALUES
  (1, 'Acme', 'active', 'technical', 'Anna', 1000), (2, 'Ромашка', 'prospect', 'complex', '', 2000),
  (3, 'Old', 'ended', 'application', '', 3000), (4, 'Fixing', 'remediation', 'complex', '', 4000);
INSERT INTO users(id, login, display_name, role, created_at, updated_at)
  VALUES (1, 'anna', 'Anna', 'engineer', 1, 1);
INSERT INTO enrollment_tokens(id, token_hash, org_id, created_at) VALUES (1, 'etok', 2, 1);
INSERT INTO agents(id, agent_id, org_id, secret_hash, hostname, enrolled_at, source)
  VALUES (1, 'ag-1', 1, 's1', 'web1', 1, 'agent'), (2, 'ag-2', 2, 's2', 'pc2', 1, 'import');
INSERT INTO api_tokens(id, token_hash, name, role, hint, created_at, expires_at, user_id)
  VALUES (1, 'at1', 'bootstrap', 'admin', 'dza_1', 1, NULL, NULL),
         (2, 'at2', 'ci', 'viewer', 'dza_2', 2, 9999, 1), (3, 'at3', 'ops', 'operator', '', 3, NULL, 1);
INSERT INTO host_os(agent, os_id, id_like, family, name, version, version_id, pretty_name, kernel,
  architecture, hostname, fqdn, timezone, boot_time, reboot_required, pending_updates,
  pending_security_updates, machine_id, role, edition, product_type)
  VALUES (1, 'debian', '', 'linux', 'Debian', '12', '12', 'Debian 12', '6.1', 'x86_64', 'web1',
          'web1.acme', 'UTC', 5, 0, 1, 0, 'm1', 'server', '', ''),
         (2, 'windows', '', 'windows', 'Windows', '11', '11', 'Windows 11 Pro', '10.0', 'x86_64',
          'pc2', 'pc2', 'MSK', 6, 1, 0, 0, 'm2', 'workstation', 'Pro', 'workstation');
INSERT INTO findings(id, rule_id, org_id, agent, target, severity, category, state, first_seen,
  last_seen, state_changed_at, resolved_at, evidence, ack_by, waived_by, waive_reason,
  waived_until, regressions, verify_requested_at, verify_requested_by)
  VALUES (1, 'disk-full', 1, 1, 'host:1', 'critical', 'disk', 'open', 10, 20, 10, NULL,
          '[{"mount":"/"}]', '', '', '', NULL, 0, NULL, ''),
         (2, 'no-backup', 1, NULL, 'org:1', 'high', 'backup', 'waived', 10, 20, 15, NULL, '[]', '',
          'anna', 'tape in the safe', 99999, 0, NULL, ''),
         (3, 'old-kernel', 2, 2, 'host:2', 'medium', 'os', 'resolved', 10, 20, 18, 18, '[]', '', '',
          '', NULL, 0, NULL, ''),
         (4, 'ntp', 1, 1, 'host:1', 'low', 'time', 'acknowledged', 10, 20, 12, NULL, '[]', 'anna',
          '', '', NULL, 0, NULL, ''),
         (5, 'swap', 1, 1, 'host:1', 'info', 'memory', 'regressed', 10, 40, 35, NULL, '[]', '', '',
          '', NULL, 2, 30, 'anna');
INSERT INTO finding_events(finding_id, at, actor, kind, from_state, to_state, comment)
  VALUES (1, 10, 'system', 'opened', '', 'open', ''),
         (2, 15, 'anna', 'waived', 'open', 'waived', 'tape in the safe'),
         (3, 18, 'system', 'resolved', 'open', 'resolved', ''),
         (4, 12, 'anna', 'acknowledged', 'open', 'acknowledged', ''),
         (5, 35, 'system', 'regressed', 'resolved', 'regressed', ''),
         (5, 30, 'anna', 'verify_requested', 'regressed', 'regressed', 'fixed?');
INSERT INTO contract_events(org_id, at, actor, from_status, to_status)
  VALUES (1, 100, 'anna', 'prospect', 'remediation'), (1, 200, 'anna', 'remediation', 'active'),
         (3, 300, 'anna', 'active', 'ended'), (4, 400, 'anna', 'prospect', 'remediation');
INSERT INTO audit_snapshots(id, org_id, kind, at, actor)
  VALUES (1, 1, 'first-audit', 100, 'anna'), (2, 1, 'signing', 200, 'anna');
INSERT INTO audit_snapshot_findings(rowid, snapshot_id, rule_id, target, agent_id, hostname,
  severity, state)
  VALUES (7, 1, 'disk-full', 'host:1', 'ag-1', 'web1', 'critical', 'open'),
         (3, 1, 'no-backup', 'org:1', '', '', 'high', 'waived'),
         (12, 2, 'ntp', 'host:1', 'ag-1', 'web1', 'low', 'acknowledged');
INSERT INTO imports(id, org_id, sha256, agent, hostname, machine_id, agent_version, collected_at,
  imported_at, actor, token_id, outcome)
  VALUES (1, 2, 'sha-1', 2, 'pc2', 'm2', '0.10', 50, 60, 'anna', 1, 'created'),
         (2, 2, 'sha-2', 2, 'pc2', 'm2', '0.10', 70, 80, 'anna', 1, 'updated'),
         (3, 2, 'sha-3', 2, 'pc2', 'm2', '0.10', 40, 90, 'anna', NULL, 'stale');
INSERT INTO alerts(id, created_at, event_id, kind, org_id, finding_id, agent_id, severity, summary,
  stage, escalate_at, acked_at, acked_by, suppressed)
  VALUES (1, 1000, 1, 'finding_opened', 1, 1, 'ag-1', 'critical', 'disk full', 0, 5000, NULL, '',
          ''),
         (2, 1000, 2, 'host_offline', 1, NULL, 'ag-1', '', 'web1 offline', 1, NULL, 3000, 'anna',
          ''),
         (3, 9000, 3, 'monthly_report', 1, NULL, '', '', 'report', 0, NULL, NULL, '',
          'maintenance');
INSERT INTO alert_deliveries(alert_id, stage, user_id, channel, address, language,
  idempotency_key, payload, state, next_attempt_at, sent_at, created_at, held, held_until)
  VALUES (1, 0, 1, 'email', 'anna@acme', 'ru', 'k1', 'p1', 'sent', 1000, 1100, 1000, '', 0),
         (2, 0, 1, 'telegram', '42', 'ru', 'k2', 'p2', 'sent', 1000, 1100, 1000, '', 0),
         (3, 0, NULL, 'webhook', 'https://hook', 'en', 'k3', 'p3', 'pending', 9000, NULL, 9000,
          'working_hours', 9500);
INSERT INTO org_alert_settings(org_id, after_hours, min_severity, updated_at, updated_by)
  VALUES (1, 'urgent', NULL, 1, 'anna'), (2, 'all', 'high', 2, 'anna');
INSERT INTO org_alert_rule_overrides(org_id, rule_id, min_severity)
  VALUES (1, 'disk-full', 'critical'), (1, 'ntp', NULL), (2, 'swap', 'low');
)sql";

// Everything the migration must keep: each rebuilt table's shape and rows (with their rowids),
// every index, trigger and view of the file, and the outbox that points at alerts.
std::map<std::string, std::vector<std::string>> StateKept015(sqlite::Database& db) {
  std::map<std::string, std::vector<std::string>> state;
  for (const auto& table : kTablesRebuiltBy015) {
    state["shape " + table] = ShapeOfTable(db, table);
    state["rows " + table] = RowsOfQuery(db, "SELECT rowid, * FROM " + table + " ORDER BY rowid");
  }
  state["schema objects"] =
      RowsOfQuery(db,
                  "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE type IN "
                  "('index', 'trigger', 'view') ORDER BY name");
  state["rows alert_deliveries"] =
      RowsOfQuery(db, "SELECT rowid, * FROM alert_deliveries ORDER BY rowid");
  return state;
}

TEST_CASE("migration 015 keeps every row, index and foreign key of the tables it rebuilds") {
  TempDir dir;
  std::map<std::string, std::vector<std::string>> before;
  {
    BuildDatabaseAtVersion(dir / "dozor.db", 14);
    auto db = sqlite::Database::Open(dir / "dozor.db");
    REQUIRE(db.ok());
    REQUIRE(db->Exec(kVersion14Rows).ok());
    before = StateKept015(*db);
    for (const auto& table : kTablesRebuiltBy015) {
      CHECK_MESSAGE(!before["rows " + table].empty(), table);  // every table has rows to keep
    }
  }
  MigrateDatabaseTo(dir / "dozor.db", 15);  // 015 alone: later ones may add columns
  auto db = sqlite::Database::Open(dir / "dozor.db");
  REQUIRE(db.ok());
  CHECK(RowsOfQuery(*db, "SELECT max(version) FROM schema_migrations") ==
        std::vector<std::string>{"'15'|"});
  const auto after = StateKept015(*db);
  for (const auto& [what, kept] : before) {
    CHECK_MESSAGE(after.at(what) == kept, what);
  }
  CHECK(RowsOfQuery(*db, "PRAGMA foreign_key_check").empty());
  CHECK(RowsOfQuery(*db, "PRAGMA integrity_check") == std::vector<std::string>{"'ok'|"});
  // Nothing left of the copies.
  CHECK(RowsOfQuery(*db, "SELECT name FROM sqlite_master WHERE name LIKE '%\\_015%' ESCAPE '\\'")
            .empty());
}

TEST_CASE("after migration 015 the store reads and writes the rebuilt tables") {
  TempDir dir;
  {
    BuildDatabaseAtVersion(dir / "dozor.db", 14);
    auto db = sqlite::Database::Open(dir / "dozor.db");
    REQUIRE(db.ok());
    REQUIRE(db->Exec(kVersion14Rows).ok());
  }
  auto store = OpenStore(dir, false);
  auto orgs = store->ListOrganizations();
  REQUIRE(orgs.ok());
  REQUIRE(orgs->size() == 4);
  std::map<std::string, ContractPhase> phases;
  for (const auto& org : *orgs) phases[org.name] = org.contract_status;
  CHECK(phases["Acme"] == ContractPhase::kActive);
  CHECK(phases["Old"] == ContractPhase::kEnded);
  CHECK(phases["Fixing"] == ContractPhase::kRemediation);
  auto tokens = store->ListApiTokens();
  REQUIRE(tokens.ok());
  REQUIRE(tokens->size() == 3);
  CHECK((*tokens)[2].role == ApiRole::kOperator);
  CHECK(store->GetFinding(2)->state == FindingState::kWaived);
  auto events = store->ListFindingEvents(1);
  REQUIRE(events.ok());
  REQUIRE(events->size() == 1);
  CHECK_FALSE(events->front().from_state.has_value());  // '' for the event that opened it
  CHECK(store->GetOrgAlertSettings(2)->min_severity == Severity::kHigh);
  auto imports = store->ListImports(2, 10);
  REQUIRE(imports.ok());
  CHECK(imports->size() == 3);
  auto first_audit = store->GetAuditSnapshot(1, AuditSnapshotKind::kFirstAudit);
  REQUIRE(first_audit.ok());
  REQUIRE(first_audit->has_value());
  REQUIRE((*first_audit)->findings.size() == 2);
  CHECK((*first_audit)->findings[0].rule_id == "no-backup");  // rowid 3 before rowid 7
  CHECK((*first_audit)->findings[0].state == FindingState::kWaived);

  // Writes through the new CHECKs: a contract move with its signing snapshot, a finding's
  // lifecycle, a first-audit snapshot of the active findings.
  OrganizationPatch move;
  move.contract_status = ContractPhase::kActive;
  move.actor = "anna";
  REQUIRE(store->UpdateOrganization(4, move).ok());
  REQUIRE(store->AcknowledgeFinding(1, "anna", "on it", 50'000).ok());
  REQUIRE(store->RecordAuditSnapshot(1, AuditSnapshotKind::kFirstAudit, "anna", 60'000).ok());
  CHECK(store->ListContractEvents(4)->back().to_status == ContractPhase::kActive);

  // Foreign keys are enforced again once the migration is done: pruning old alerts cascades to
  // their messages (the two sent ones; alert 3 is newer and its message still pending).
  auto pruned = store->PruneAlerts(5000);
  REQUIRE(pruned.ok());
  CHECK(*pruned == 2);
  store.reset();
  auto db = sqlite::Database::Open(dir / "dozor.db");
  REQUIRE(db.ok());
  CHECK(RowsOfQuery(*db, "SELECT idempotency_key FROM alert_deliveries") ==
        std::vector<std::string>{"'k3'|"});
  CHECK(RowsOfQuery(*db, "PRAGMA foreign_key_check").empty());
}

// Each column migration 015 constrains, with the words the C++ side writes into it.
struct EnumColumn015 {
  std::string table;
  std::string column;
  std::vector<std::string> words;
  bool nullable = false;
};

template <typename Enum, size_t N>
std::vector<std::string> SpellingsOf(const std::array<Enum, N>& values,
                                     std::vector<std::string> extra = {}) {
  for (const Enum value : values) extra.emplace_back(ToString(value));
  return extra;
}

std::vector<EnumColumn015> EnumColumnsOf015() {
  using alerts::AlertKind;
  const auto phases = SpellingsOf(std::array{ContractPhase::kProspect, ContractPhase::kRemediation,
                                             ContractPhase::kActive, ContractPhase::kEnded});
  const std::array severity_values{Severity::kCritical, Severity::kHigh, Severity::kMedium,
                                   Severity::kLow, Severity::kInfo};
  const auto severities = SpellingsOf(severity_values);
  const std::array state_values{FindingState::kOpen, FindingState::kAcknowledged,
                                FindingState::kResolved, FindingState::kRegressed,
                                FindingState::kWaived};
  const auto states = SpellingsOf(state_values);
  return {
      {"organizations", "contract_status", phases},
      {"organizations", "contract_type",
       SpellingsOf(std::array{ContractType::kTechnical, ContractType::kApplication,
                              ContractType::kComplex})},
      {"api_tokens", "role",
       SpellingsOf(std::array{ApiRole::kAdmin, ApiRole::kOperator, ApiRole::kViewer})},
      {"host_os", "role", SpellingsOf(std::array{HostRole::kServer, HostRole::kWorkstation})},
      {"findings", "severity", severities},
      {"findings", "state", states},
      {"finding_events", "kind",
       SpellingsOf(std::array{
           FindingEventKind::kOpened, FindingEventKind::kAcknowledged, FindingEventKind::kResolved,
           FindingEventKind::kRegressed, FindingEventKind::kWaived, FindingEventKind::kWaiveExpired,
           FindingEventKind::kUnwaived, FindingEventKind::kComment,
           FindingEventKind::kVerifyRequested, FindingEventKind::kVerifyConfirmed,
           FindingEventKind::kVerifyFailed, FindingEventKind::kWaiverAccepted})},
      {"finding_events", "from_state", SpellingsOf(state_values, {""})},
      {"finding_events", "to_state", states},
      {"contract_events", "from_status", phases},
      {"contract_events", "to_status", phases},
      {"audit_snapshots", "kind",
       SpellingsOf(std::array{AuditSnapshotKind::kFirstAudit, AuditSnapshotKind::kSigning})},
      {"audit_snapshot_findings", "severity", severities},
      {"audit_snapshot_findings", "state", states},
      {"imports", "outcome",
       SpellingsOf(
           std::array{ImportOutcome::kCreated, ImportOutcome::kUpdated, ImportOutcome::kStale})},
      {"alerts", "kind",
       SpellingsOf(std::array{
           AlertKind::kFindingOpened, AlertKind::kFindingRegressed, AlertKind::kFindingResolved,
           AlertKind::kVerifyRequested, AlertKind::kHostOffline, AlertKind::kSiteOffline,
           AlertKind::kAgentTrouble, AlertKind::kChannelFailed, AlertKind::kMonthlyReport})},
      {"alerts", "severity", SpellingsOf(severity_values, {""})},
      {"org_alert_settings", "min_severity", severities, true},
      {"org_alert_rule_overrides", "min_severity", severities, true},
  };
}

TEST_CASE("after migration 015 every enum column takes the words ToString writes and no other") {
  TempDir dir;
  {
    BuildDatabaseAtVersion(dir / "dozor.db", 14);
    auto db = sqlite::Database::Open(dir / "dozor.db");
    REQUIRE(db.ok());
    REQUIRE(db->Exec(kVersion14Rows).ok());
  }
  { auto store = OpenStore(dir, false); }
  auto db = sqlite::Database::Open(dir / "dozor.db");
  REQUIRE(db.ok());
  for (const auto& enum_column : EnumColumnsOf015()) {
    const std::string& table = enum_column.table;
    const std::string& column = enum_column.column;
    CAPTURE(table);
    CAPTURE(column);
    auto update = db->Prepare("UPDATE " + table + " SET " + column + " = ?");
    REQUIRE(update.ok());
    for (const auto& word : enum_column.words) {
      CAPTURE(word);
      CHECK(update->Bind(1, word).Run().ok());
      CHECK(db->Changes() > 0);  // the table has rows, so the CHECK was tried
    }
    // "unknown" is what ToString spells a value outside its enum as; the others are near misses.
    std::string shouted = enum_column.words.back();
    std::transform(shouted.begin(), shouted.end(), shouted.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    std::vector<std::string> refused = {"unknown", "bogus", " " + enum_column.words.back(),
                                        shouted};
    if (enum_column.words.front() != "") refused.emplace_back("");
    for (const auto& word : refused) {
      CAPTURE(word);
      const Status status = update->Bind(1, word).Run();
      REQUIRE_FALSE(status.ok());
      CHECK(status.error().message.find("CHECK constraint failed: " + table + "_" + column) !=
            std::string::npos);
    }
    CHECK(update->BindNull(1).Run().ok() == enum_column.nullable);
  }
  // New rows too, not only changed ones.
  const Status organization = db->Exec(
      "INSERT INTO organizations(name, contract_type, created_at) VALUES ('x', 'full', 1)");
  REQUIRE_FALSE(organization.ok());
  CHECK(organization.error().message.find("organizations_contract_type") != std::string::npos);
  const Status token = db->Exec(
      "INSERT INTO api_tokens(token_hash, name, role, created_at) VALUES ('t', 't', 'root', 1)");
  REQUIRE_FALSE(token.ok());
  CHECK(token.error().message.find("api_tokens_role") != std::string::npos);
  CHECK(db->Exec("INSERT INTO organizations(name, created_at) VALUES ('defaults', 1)").ok());
}

TEST_CASE(
    "migration 015 refuses a stored word outside its enum and leaves the database as it was") {
  TempDir dir;
  {
    BuildDatabaseAtVersion(dir / "dozor.db", 14);
    auto db = sqlite::Database::Open(dir / "dozor.db");
    REQUIRE(db.ok());
    REQUIRE(db->Exec(kVersion14Rows).ok());
    REQUIRE(db->Exec("UPDATE findings SET state = 'closed' WHERE id = 3").ok());
  }
  SqliteStoreOptions options;
  options.path = (dir / "dozor.db").string();
  options.background_checkpoint = false;
  auto store = SqliteStore::Open(options);
  REQUIRE_FALSE(store.ok());
  CHECK(store.error().message.find("015_enum_checks") != std::string::npos);
  CHECK(store.error().message.find("CHECK constraint failed: findings_state") != std::string::npos);
  auto db = sqlite::Database::Open(dir / "dozor.db");
  REQUIRE(db.ok());
  CHECK(RowsOfQuery(*db, "SELECT max(version) FROM schema_migrations") ==
        std::vector<std::string>{"'14'|"});
  CHECK(RowsOfQuery(*db, "SELECT state FROM findings WHERE id = 3") ==
        std::vector<std::string>{"'closed'|"});
  // Rolled back as a whole: the tables rebuilt before findings have no CHECK yet either.
  CHECK(db->Exec("UPDATE organizations SET contract_status = 'lead' WHERE id = 1").ok());
  CHECK(RowsOfQuery(*db, "SELECT count(*) FROM alert_deliveries") ==
        std::vector<std::string>{"'3'|"});
}

TEST_CASE("migrations leave a foreign key that already pointed at nothing as it was") {
  TempDir dir;
  {
    BuildDatabaseAtVersion(dir / "dozor.db", 14);
    auto db = sqlite::Database::Open(dir / "dozor.db");
    REQUIRE(db.ok());
    REQUIRE(db->Exec(kVersion14Rows).ok());
    // A hand edit in the sqlite3 shell, where foreign keys are off by default.
    REQUIRE(db->Exec("PRAGMA foreign_keys=OFF").ok());
    REQUIRE(db->Exec("INSERT INTO finding_events(finding_id, at, actor, kind, from_state, "
                     "to_state) VALUES (999, 1, 'x', 'comment', 'open', 'open')")
                .ok());
  }
  { auto store = OpenStore(dir, false); }  // not the migration's doing: no reason to refuse it
  auto db = sqlite::Database::Open(dir / "dozor.db");
  REQUIRE(db.ok());
  CHECK(RowsOfQuery(*db, "SELECT max(version) FROM schema_migrations") ==
        std::vector<std::string>{"'" + std::to_string(SqliteStore::LatestSchemaVersion()) + "'|"});
  CHECK(RowsOfQuery(*db, "SELECT \"table\", parent FROM pragma_foreign_key_check") ==
        std::vector<std::string>{"'finding_events'|'findings'|"});
}

// A 1C:Enterprise server that also runs PostgreSQL, as the Linux agent reports it.
dozor::v1::Inventory OneCDatabaseInventory() {
  dozor::v1::Inventory inv;
  inv.mutable_os()->set_hostname("srv-1c");
  auto* app = inv.mutable_software()->add_applications();
  app->set_name("1C:Enterprise");
  app->set_version("8.3.22.1709");
  app->set_kind("server");
  inv.mutable_software()->add_packages()->set_name("postgresql-15-1c");
  inv.mutable_software()->add_packages()->set_name("postgresql-client-15");
  return inv;
}

TEST_CASE("migration 016 reads the duties of hosts stored before it from their inventory") {
  TempDir dir;
  {
    BuildDatabaseAtVersion(dir / "dozor.db", 15);
    auto db = sqlite::Database::Open(dir / "dozor.db");
    REQUIRE(db.ok());
    REQUIRE(db->Exec(R"sql(
INSERT INTO organizations(id, name, contract_type, created_at) VALUES (1, 'Acme', 'application', 1);
INSERT INTO agents(id, agent_id, org_id, secret_hash, hostname, enrolled_at, source)
  VALUES (1, 'ag-1c', 1, 's1', 'srv-1c', 1, 'agent'), (2, 'ag-pc', 1, 's2', 'pc', 1, 'import'),
         (3, 'ag-bad', 1, 's3', 'bad', 1, 'agent'), (4, 'ag-none', 1, 's4', 'none', 1, 'agent');
INSERT INTO host_os(agent, os_id, id_like, family, name, version, version_id, pretty_name, kernel,
  architecture, hostname, fqdn, timezone, boot_time, reboot_required, pending_updates,
  pending_security_updates, machine_id, role)
  SELECT id, 'debian', '', 'linux', 'Debian', '12', '12', 'Debian 12', '6.1', 'x86_64', hostname,
         hostname, 'UTC', 5, 0, 0, 0, 'm' || id, 'server' FROM agents;
)sql")
                .ok());
    auto blob = db->Prepare(
        "INSERT INTO host_inventory_blob(agent, collected_at, inventory) VALUES (?, 1, ?)");
    REQUIRE(blob.ok());
    dozor::v1::Inventory workstation;
    workstation.mutable_software()->add_packages()->set_name("postgresql-client-15");
    REQUIRE(blob->Bind(1, 1).BindBlob(2, EncodeCompressed(OneCDatabaseInventory())).Run().ok());
    REQUIRE(blob->Bind(1, 2).BindBlob(2, EncodeCompressed(workstation)).Run().ok());
    REQUIRE(blob->Bind(1, 3).BindBlob(2, "not an inventory").Run().ok());
    // Host 4 has no stored inventory: nothing to read its duties from.
  }
  {
    auto store = OpenStore(dir, false);
    auto server = store->GetHost("ag-1c");
    REQUIRE(server.ok());
    CHECK(server->duties == HostDuties{HostDuty::kOneC, HostDuty::kDatabase});
    CHECK(store->GetHost("ag-pc")->duties.empty());
    CHECK(store->GetHost("ag-bad")->duties.empty());
    CHECK(store->GetHost("ag-none")->duties.empty());
    auto estate = store->GetEstateSummary(1, {});
    REQUIRE(estate.ok());
    REQUIRE(estate->hosts.size() == 4);
    for (const auto& host : estate->hosts) {
      CAPTURE(host.agent_id);
      CHECK(host.duties.Has(HostDuty::kOneC) == (host.agent_id == "ag-1c"));
    }
  }
  auto db = sqlite::Database::Open(dir / "dozor.db");
  REQUIRE(db.ok());
  CHECK(RowsOfQuery(*db, "SELECT agent, duties FROM host_os ORDER BY agent") ==
        std::vector<std::string>{"'1'|'database,onec'|", "'2'|''|", "'3'|''|", "'4'|NULL|"});
  // Only what FormatHostDuties writes gets in.
  for (const char* word : {"", "database", "onec", "database,onec"}) {
    CAPTURE(word);
    CHECK(db->Exec("UPDATE host_os SET duties = '" + std::string(word) + "' WHERE agent = 2").ok());
  }
  for (const char* word : {"onec,database", "1c", "database,", "DATABASE"}) {
    CAPTURE(word);
    const Status status =
        db->Exec("UPDATE host_os SET duties = '" + std::string(word) + "' WHERE agent = 2");
    REQUIRE_FALSE(status.ok());
    CHECK(status.error().message.find("CHECK constraint failed: host_os_duties") !=
          std::string::npos);
  }
  // Reopening reads nothing again: the classified hosts are no longer NULL.
  REQUIRE(db->Exec("UPDATE host_os SET duties = 'onec' WHERE agent = 1").ok());
  { auto store = OpenStore(dir, false); }
  CHECK(RowsOfQuery(*db, "SELECT duties FROM host_os WHERE agent = 1") ==
        std::vector<std::string>{"'onec'|"});
}

TEST_CASE("every stored inventory writes the host's duties") {
  TempDir dir;
  auto store = OpenStore(dir);
  const std::string agent_id = EnrollOne(*store, "a1");
  std::vector<IncomingReport> batch = {Inventory(agent_id, 1, 1000, OneCDatabaseInventory())};
  REQUIRE(store->CommitReports(batch).ok());
  CHECK(store->GetHost(agent_id)->duties == HostDuties{HostDuty::kDatabase, HostDuty::kOneC});
  // The 1C server moved away: the next inventory says so.
  batch = {Inventory(agent_id, 2, 2000, SampleInventory("6.1", "3.0.11"))};
  REQUIRE(store->CommitReports(batch).ok());
  CHECK(store->GetHost(agent_id)->duties.empty());
}

TEST_CASE("an API token whose stored role is unknown is listed as viewer but never authenticates") {
  TempDir dir;
  auto store = OpenStore(dir);
  REQUIRE(store->CreateApiToken("future", ApiRole::kViewer, "th-f", "dz_ff", std::nullopt).ok());
  {
    auto db = sqlite::Database::Open(dir / "dozor.db");
    REQUIRE(db.ok());
    // Migration 015's CHECK refuses the word; the parser's guard is for a row written past it
    // (checks ignored by whoever wrote it).
    CHECK_FALSE(
        db->Exec("UPDATE api_tokens SET role = 'superuser' WHERE token_hash = 'th-f'").ok());
    REQUIRE(db->Exec("PRAGMA ignore_check_constraints=ON").ok());
    REQUIRE(db->Exec("UPDATE api_tokens SET role = 'superuser' WHERE token_hash = 'th-f'").ok());
  }
  auto denied = store->AuthenticateApiToken("th-f", 1000);
  REQUIRE_FALSE(denied.ok());
  CHECK(denied.error().code == ErrorCode::kPermissionDenied);
  CHECK(denied.error().message.find("superuser") != std::string::npos);
  auto list = store->ListApiTokens();
  REQUIRE(list.ok());
  REQUIRE(list->size() == 1);
  CHECK(list->front().role == ApiRole::kViewer);
}

TEST_CASE("API tokens authenticate until revoked or expired") {
  TempDir dir;
  auto store = OpenStore(dir);
  CHECK(*store->CountApiTokens() == 0);
  auto admin = store->CreateApiToken("bootstrap", ApiRole::kAdmin, "th-1", "dz_ab", std::nullopt);
  REQUIRE(admin.ok());
  auto temp = store->CreateApiToken("ci", ApiRole::kViewer, "th-2", "dz_cd", int64_t{5000});
  REQUIRE(temp.ok());
  CHECK_FALSE(ParseApiRole("root").has_value());  // refused at the edge, before the store
  CHECK(store->CreateApiToken("dup", ApiRole::kViewer, "th-1", "", std::nullopt).error().code ==
        ErrorCode::kAlreadyExists);
  CHECK(*store->CountApiTokens() == 2);

  auto ok = store->AuthenticateApiToken("th-1", 1000);
  REQUIRE(ok.ok());
  CHECK(ok->role == ApiRole::kAdmin);
  CHECK(ok->name == "bootstrap");
  CHECK(store->AuthenticateApiToken("th-2", 4000).ok());
  auto expired = store->AuthenticateApiToken("th-2", 5000);
  CHECK(expired.error().code == ErrorCode::kPermissionDenied);
  CHECK(expired.error().message == "API token is expired");
  CHECK(store->AuthenticateApiToken("zzz", 1).error().message == "unknown API token");
  REQUIRE(store->RevokeApiToken(admin->id, 2000).ok());
  CHECK(store->AuthenticateApiToken("th-1", 3000).error().message == "API token is revoked");
  CHECK(store->RevokeApiToken(777, 1).error().code == ErrorCode::kNotFound);
  auto list = store->ListApiTokens();
  REQUIRE(list->size() == 2);
  CHECK(list->front().revoked_at_ms == 2000);
}

TEST_CASE("commit stores reports and treats resent or lower seq as duplicates") {
  TempDir dir;
  auto store = OpenStore(dir);
  EnrollOne(*store, "a1");
  std::vector<IncomingReport> batch = {Health("a1", 1, 10'000), Health("a1", 2, 70'000)};
  batch[1].report.set_dropped_health_samples(7);
  batch[1].report.set_agent_version("0.2.0");
  auto results = store->CommitReports(batch);
  REQUIRE(results.ok());
  REQUIRE(results->size() == 2);
  CHECK((*results)[0].outcome == CommitOutcome::kStored);
  CHECK((*results)[1].outcome == CommitOutcome::kStored);
  CHECK((*results)[1].seq == 2);

  std::vector<IncomingReport> again = {Health("a1", 2, 70'000), Health("a1", 1, 10'000),
                                       Health("a1", 3, 130'000)};
  again[0].report.set_dropped_health_samples(3);  // lower than stored: the total never shrinks
  results = store->CommitReports(again);
  REQUIRE(results.ok());
  CHECK((*results)[0].outcome == CommitOutcome::kDuplicate);
  CHECK((*results)[1].outcome == CommitOutcome::kDuplicate);
  CHECK((*results)[2].outcome == CommitOutcome::kStored);

  auto health = store->ListHealth("a1", 0, 100);
  REQUIRE(health.ok());
  REQUIRE(health->size() == 3);
  CHECK((*health)[0].seq == 3);  // newest first
  CHECK((*health)[2].seq == 1);
  CHECK((*health)[0].sample.cpu_percent() == doctest::Approx(12.5));
  CHECK(store->ListHealth("a1", 70'000, 100)->size() == 2);
  CHECK(store->ListHealth("a1", 0, 1)->size() == 1);
  CHECK(store->ListHealth("nobody", 0, 1).error().code == ErrorCode::kNotFound);

  auto host = store->GetHost("a1");
  REQUIRE(host.ok());
  CHECK(host->last_seen_ms == 130'100);
  CHECK(host->dropped_health_samples == 7);
  CHECK(host->agent_version == "0.2.0");
  CHECK(store->GetAgentCredential("a1")->last_committed_seq == 3);
}

TEST_CASE("commit rejects reports of unknown or revoked agents without affecting others") {
  TempDir dir;
  auto store = OpenStore(dir);
  EnrollOne(*store, "good");
  EnrollOne(*store, "gone");
  REQUIRE(store->RevokeAgent("gone", 500).ok());
  std::vector<IncomingReport> batch = {Health("ghost", 1, 1000), Health("good", 1, 1000),
                                       Health("gone", 1, 1000), Health("good", 2, 2000)};
  batch.push_back(Health("good", 3, 3000));
  batch.back().report.clear_payload();
  auto results = store->CommitReports(batch);
  REQUIRE(results.ok());
  CHECK((*results)[0].outcome == CommitOutcome::kRejected);
  CHECK((*results)[0].reason == "unknown agent");
  CHECK((*results)[1].outcome == CommitOutcome::kStored);
  CHECK((*results)[2].outcome == CommitOutcome::kRejected);
  CHECK((*results)[2].reason == "agent is revoked");
  CHECK((*results)[3].outcome == CommitOutcome::kStored);
  CHECK((*results)[4].outcome == CommitOutcome::kRejected);
  CHECK(store->ListHealth("good", 0, 10)->size() == 2);
  CHECK(store->ListHealth("gone", 0, 10)->empty());
}

TEST_CASE("agent revoked after caching is rejected on its next batch") {
  TempDir dir;
  auto store = OpenStore(dir);
  EnrollOne(*store, "a1");
  std::vector<IncomingReport> first = {Health("a1", 1, 1000)};
  REQUIRE((*store->CommitReports(first))[0].outcome == CommitOutcome::kStored);
  REQUIRE(store->RevokeAgent("a1", 2000).ok());
  std::vector<IncomingReport> second = {Health("a1", 2, 3000)};
  CHECK((*store->CommitReports(second))[0].outcome == CommitOutcome::kRejected);
}

TEST_CASE("a failed batch is rolled back and its sequence numbers can be stored again") {
  TempDir dir;
  auto store = OpenStore(dir);
  EnrollOne(*store, "a1");
  std::vector<IncomingReport> first = {Health("a1", 1, 1000)};
  REQUIRE(store->CommitReports(first).ok());
  // Make the health insert fail mid-batch, after another row was written, with an error that is
  // not the report's fault (SQLITE_ERROR, like an I/O error; a constraint would only reject that
  // one report): the whole batch must roll back.
  {
    auto db = sqlite::Database::Open(dir / "dozor.db");
    REQUIRE(db.ok());
    REQUIRE(db->Exec("CREATE TRIGGER fail_seq3 BEFORE INSERT ON health_samples WHEN NEW.seq = 3 "
                     "BEGIN SELECT abs(-9223372036854775807 - 1); END")
                .ok());
  }
  std::vector<IncomingReport> batch = {Health("a1", 2, 2000), Health("a1", 3, 3000)};
  auto failed = store->CommitReports(batch);
  REQUIRE_FALSE(failed.ok());
  CHECK(store->ListHealth("a1", 0, 10)->size() == 1);
  CHECK(store->GetAgentCredential("a1")->last_committed_seq == 1);
  {
    auto db = sqlite::Database::Open(dir / "dozor.db");
    REQUIRE(db->Exec("DROP TRIGGER fail_seq3").ok());
  }
  // seq 2 was never committed, so it must be stored now, not acked as a duplicate.
  auto retried = store->CommitReports(batch);
  REQUIRE(retried.ok());
  CHECK((*retried)[0].outcome == CommitOutcome::kStored);
  CHECK((*retried)[1].outcome == CommitOutcome::kStored);
  CHECK(store->ListHealth("a1", 0, 10)->size() == 3);
}

TEST_CASE("the change log is bounded per inventory and pruned by age and per host") {
  TempDir dir;
  auto store = OpenStore(dir);
  EnrollOne(*store, "a1");
  // Inventories that differ completely each time (7,000 packages): each one writes at most
  // kMaxChangesPerInventory rows, the last of which says how many more there were.
  for (uint64_t seq = 1; seq <= 3; ++seq) {
    dozor::v1::Inventory inventory;
    for (int i = 0; i < 7000; ++i) {
      inventory.mutable_software()->add_packages()->set_name("p" + std::to_string(seq) + "-" +
                                                             std::to_string(i));
    }
    std::vector<IncomingReport> batch = {
        Inventory("a1", seq, static_cast<int64_t>(seq) * 1000, inventory)};
    REQUIRE((*store->CommitReports(batch))[0].outcome == CommitOutcome::kStored);
  }
  auto db = sqlite::Database::Open(dir / "dozor.db");
  REQUIRE(db.ok());
  auto count = [&] {
    auto statement = db->Prepare("SELECT count(*) FROM inventory_changes");
    REQUIRE(statement.ok());
    REQUIRE(*statement->Step());
    return statement->Int(0);
  };
  // The first inventory is one row; the two others are capped.
  CHECK(count() == 1 + 2 * static_cast<int64_t>(kMaxChangesPerInventory));
  auto newest = store->ListChanges("a1", 0, 1);
  REQUIRE(newest.ok());
  CHECK(newest->front().action == "truncated");
  CHECK(newest->front().new_value.find("9001 more changes") == 0);
  // By age: everything collected before 2500 goes (the first and second inventories' rows).
  auto pruned = store->PruneInventoryChanges(2500, 1'000'000);
  REQUIRE(pruned.ok());
  CHECK(*pruned == 1 + static_cast<int64_t>(kMaxChangesPerInventory));
  // Per host: only the newest 100 stay.
  pruned = store->PruneInventoryChanges(0, 100);
  REQUIRE(pruned.ok());
  CHECK(count() == 100);
  CHECK(store->ListChanges("a1", 0, 1)->front().action == "truncated");
}

TEST_CASE("inventory reports replace the current inventory and append changes") {
  TempDir dir;
  auto store = OpenStore(dir);
  EnrollOne(*store, "a1");
  std::vector<IncomingReport> first = {
      Inventory("a1", 1, 1000, SampleInventory("6.1.0-17-amd64", "3.0.11-1"))};
  REQUIRE((*store->CommitReports(first))[0].outcome == CommitOutcome::kStored);
  auto changes = store->ListChanges("a1", 0, 100);
  REQUIRE(changes.ok());
  REQUIRE(changes->size() == 1);
  CHECK((*changes)[0].category == "host");
  CHECK((*changes)[0].subject == "first inventory");

  auto next = SampleInventory("6.1.0-18-amd64", "1:3.0.0-1");
  next.mutable_software()->mutable_packages()->RemoveLast();  // telnet removed
  auto* ip = next.mutable_network()->mutable_interfaces(1)->add_addresses();
  ip->set_address("10.0.0.7");
  ip->set_prefix(24);
  std::vector<IncomingReport> second = {Inventory("a1", 2, 2000, next)};
  REQUIRE((*store->CommitReports(second))[0].outcome == CommitOutcome::kStored);

  changes = store->ListChanges("a1", 0, 100);
  REQUIRE(changes->size() == 5);
  CHECK((*changes)[4].subject == "first inventory");  // newest first
  std::map<std::string, InventoryChange> by_subject;
  for (const auto& c : *changes) {
    by_subject[c.subject] = c;
  }
  CHECK(by_subject["openssl"].action == "upgraded");
  CHECK(by_subject["telnet"].action == "removed");
  CHECK(by_subject["os.kernel"].new_value == "6.1.0-18-amd64");
  CHECK(by_subject["eth0 10.0.0.7/24"].action == "added");
  CHECK(store->ListChanges("a1", 1500, 100)->size() == 4);
  CHECK(store->ListChanges("a1", 0, 2)->size() == 2);

  auto inventory = store->GetInventory("a1");
  REQUIRE(inventory.ok());
  CHECK(inventory->inventory.os().kernel() == "6.1.0-18-amd64");
  CHECK(inventory->inventory.software().packages_size() == 1);
  REQUIRE(inventory->collectors.size() == 1);
  CHECK(inventory->collectors[0].name() == "packages");
  CHECK(inventory->host.last_inventory_ms == 2000);
  CHECK(inventory->host.os_pretty_name == "Debian GNU/Linux 12 (bookworm)");
  CHECK(inventory->host.os_family == "linux");
  CHECK(inventory->host.addresses == std::vector<std::string>{"10.0.0.5", "10.0.0.7"});

  // The normalised tables hold exactly the latest snapshot.
  auto db = sqlite::Database::Open(dir / "dozor.db");
  auto packages = db->Prepare("SELECT count(*), max(version) FROM host_packages");
  REQUIRE(*packages->Step());
  CHECK(packages->Int(0) == 1);
  CHECK(packages->Text(1) == "1:3.0.0-1");
}

TEST_CASE("hosts are listed with organization, OS and non-loopback addresses") {
  TempDir dir;
  auto store = OpenStore(dir);
  int64_t acme = MakeStoreOrg(*store, "Acme");
  int64_t beta = MakeStoreOrg(*store, "Beta");
  EnrollOne(*store, "a1", acme);
  EnrollOne(*store, "b1", beta);
  std::vector<IncomingReport> batch = {Inventory("a1", 1, 1000, SampleInventory("6.1", "3.0")),
                                       Health("b1", 1, 1000)};
  REQUIRE(store->CommitReports(batch).ok());
  auto all = store->ListHosts(std::nullopt);
  REQUIRE(all.ok());
  REQUIRE(all->size() == 2);
  CHECK((*all)[0].org_name == "Acme");
  CHECK((*all)[0].hostname == "db1");  // from the inventory
  CHECK((*all)[0].addresses == std::vector<std::string>{"10.0.0.5"});
  CHECK((*all)[1].hostname == "host-b1");  // from enrollment, no inventory yet
  CHECK((*all)[1].addresses.empty());
  CHECK((*all)[1].last_inventory_ms == 0);
  auto only_beta = store->ListHosts(beta);
  REQUIRE(only_beta->size() == 1);
  CHECK(only_beta->front().agent_id == "b1");
  CHECK(store->GetHost("zz").error().code == ErrorCode::kNotFound);
}

TEST_CASE("prune deletes only samples older than the cutoff") {
  TempDir dir;
  auto store = OpenStore(dir);
  EnrollOne(*store, "a1");
  EnrollOne(*store, "a2");
  std::vector<IncomingReport> batch;
  for (uint64_t i = 1; i <= 6000; ++i) {
    batch.push_back(Health("a1", i, static_cast<int64_t>(i) * 1000));
  }
  for (uint64_t i = 1; i <= 10; ++i) {
    batch.push_back(Health("a2", i, static_cast<int64_t>(i) * 1000));
  }
  REQUIRE(store->CommitReports(batch).ok());
  auto pruned = store->PruneHealth(5501 * 1000);
  REQUIRE(pruned.ok());
  CHECK(*pruned == 5500 + 10);
  auto left = store->ListHealth("a1", 0, 10000);
  REQUIRE(left->size() == 500);
  CHECK(left->back().seq == 5501);
  CHECK(store->ListHealth("a2", 0, 100)->empty());
  CHECK(*store->PruneHealth(5501 * 1000) == 0);
}

TEST_CASE("store keeps everything across close and reopen") {
  TempDir dir;
  {
    auto store = OpenStore(dir);
    EnrollOne(*store, "a1");
    std::vector<IncomingReport> batch = {Inventory("a1", 1, 1000, SampleInventory("6.1", "3.0")),
                                         Health("a1", 2, 2000)};
    REQUIRE(store->CommitReports(batch).ok());
    REQUIRE(store->CreateApiToken("t", ApiRole::kOperator, "th", "h", std::nullopt).ok());
  }
  auto store = OpenStore(dir, /*background_checkpoint=*/false);
  CHECK(store->GetAgentCredential("a1")->last_committed_seq == 2);
  CHECK(store->ListHealth("a1", 0, 10)->size() == 1);
  CHECK(store->GetInventory("a1")->inventory.os().kernel() == "6.1");
  CHECK(store->AuthenticateApiToken("th", 1).ok());
  // The cache starts empty after reopen; duplicates are still recognised from the database.
  std::vector<IncomingReport> resend = {Health("a1", 2, 2000)};
  CHECK((*store->CommitReports(resend))[0].outcome == CommitOutcome::kDuplicate);
}

TEST_CASE("reads on another thread proceed while commits run") {
  TempDir dir;
  auto store = OpenStore(dir);
  EnrollOne(*store, "a1");
  std::atomic<bool> done{false};
  std::atomic<int> reads{0};
  std::atomic<int> read_errors{0};
  std::thread reader([&] {
    while (!done.load()) {
      auto hosts = store->ListHosts(std::nullopt);
      auto health = store->ListHealth("a1", 0, 50);
      if (!hosts.ok() || !health.ok()) {
        ++read_errors;
      }
      ++reads;
    }
  });
  uint64_t seq = 0;
  for (int b = 0; b < 40; ++b) {
    std::vector<IncomingReport> batch;
    for (int i = 0; i < 50; ++i) {
      ++seq;
      batch.push_back(Health("a1", seq, static_cast<int64_t>(seq) * 1000));
    }
    auto results = store->CommitReports(batch);
    REQUIRE(results.ok());
  }
  REQUIRE(store->CheckpointNow(/*truncate=*/false).ok());
  done = true;
  reader.join();
  CHECK(read_errors.load() == 0);
  CHECK(reads.load() > 0);
  CHECK(store->ListHealth("a1", 0, 10000)->size() == 2000);
}

// ------------------------------------------------------------------ health compaction

constexpr int64_t kStoreHour = 3'600'000;
constexpr int64_t kStoreT0 =
    1'700'000'000'000 - (1'700'000'000'000 % kStoreHour);  // an hour boundary

// A sample with the full shape of a real one, varying with i, plus awkward values the block
// codec must keep bit for bit.
IncomingReport RichHealth(const std::string& agent_id, uint64_t seq, int64_t at_ms) {
  IncomingReport in = Health(agent_id, seq, at_ms, std::round((20 + seq % 17) * 10) / 10);
  auto* h = in.report.mutable_health();
  h->set_cpu_iowait_percent(static_cast<double>(seq % 7) * 0.1);  // n * 0.1, not n / 10
  h->set_load5(1.0 / 3.0 + static_cast<double>(seq));             // no short decimal form
  h->set_load15(seq % 5 == 0 ? -0.0 : 0.25);
  h->set_memory_total_bytes(16ULL << 30);
  h->set_memory_available_bytes((6ULL << 30) + seq * 4096);
  h->set_swap_free_bytes(std::numeric_limits<uint64_t>::max() - seq);
  h->set_process_count(static_cast<uint32_t>(150 + seq % 9));
  for (int i = 0; i < 3; ++i) {
    auto* fs = h->add_filesystems();
    fs->set_mount_point(i == 0 ? "/" : "/data" + std::to_string(i));
    fs->set_device("/dev/sda" + std::to_string(i + 1));
    fs->set_total_bytes(500ULL << 30);
    fs->set_free_bytes((200ULL << 30) + seq * 8192 * static_cast<uint64_t>(i));
  }
  auto* disk = h->add_disks();
  disk->set_device("sda");
  disk->set_read_bytes_per_s(1e300 * static_cast<double>(seq % 3));
  disk->set_busy_percent(std::numeric_limits<double>::denorm_min());
  // Every tenth sample has one more process, so the shape changes within a block.
  for (uint64_t i = 0; i < 2 + (seq % 10 == 0 ? 1 : 0); ++i) {
    auto* p = h->add_top_cpu();
    p->set_pid(static_cast<uint32_t>(1000 + i));
    p->set_name("proc" + std::to_string(i));
    p->set_cpu_percent(std::round(static_cast<double>((seq * 13 + i * 7) % 800)) / 10);
  }
  auto* t = h->add_temperatures();
  t->set_sensor("coretemp");
  t->set_celsius(std::numeric_limits<double>::quiet_NaN());
  return in;
}

// Commits `count` samples per agent, one a minute from kStoreT0 (seq 1..count).
void CommitMinutes(SqliteStore& store, const std::vector<std::string>& agents, uint64_t count) {
  std::vector<IncomingReport> batch;
  for (uint64_t i = 1; i <= count; ++i) {
    for (const auto& agent : agents) {
      batch.push_back(RichHealth(agent, i, kStoreT0 + static_cast<int64_t>(i - 1) * 60'000));
    }
  }
  auto results = store.CommitReports(batch);
  REQUIRE(results.ok());
  for (const auto& r : *results) {
    REQUIRE(r.outcome == CommitOutcome::kStored);
  }
}

// (seq, collected_at, exact serialization) of every listed record, in list order.
using Fingerprint = std::vector<std::tuple<uint64_t, int64_t, std::string>>;

Fingerprint Fingerprints(const std::vector<HealthRecord>& records) {
  Fingerprint out;
  for (const auto& r : records) {
    std::string bytes;
    REQUIRE(r.sample.SerializeToString(&bytes));
    out.emplace_back(r.seq, r.collected_at_ms, bytes);
  }
  return out;
}

Fingerprint ListAll(SqliteStore& store, const std::string& agent) {
  auto listed = store.ListHealth(agent, 0, 10000);
  REQUIRE(listed.ok());
  return Fingerprints(*listed);
}

int64_t CountRows(const TempDir& dir, const std::string& sql) {
  auto db = sqlite::Database::Open(dir / "dozor.db");
  REQUIRE(db.ok());
  auto s = db->Prepare(sql);
  REQUIRE(s.ok());
  REQUIRE(*s->Step());
  return s->Int(0);
}

TEST_CASE("health compaction moves finished hours into blocks without losing or doubling any") {
  TempDir dir;
  auto store = OpenStore(dir);
  EnrollOne(*store, "a1");
  EnrollOne(*store, "a2");
  CommitMinutes(*store, {"a1", "a2"}, 200);  // 3 h 20 min
  Fingerprint a1_before = ListAll(*store, "a1");
  Fingerprint a2_before = ListAll(*store, "a2");
  REQUIRE(a1_before.size() == 200);

  auto stats = store->CompactHealth(kStoreT0 + 3 * kStoreHour + 30 * 60'000);
  REQUIRE_MESSAGE(stats.ok(), (stats.ok() ? "" : stats.error().ToString()));
  CHECK(stats->samples == 2 * 180);  // hours 0..2 of both agents; hour 3 is not finished
  CHECK(stats->buckets == 6);
  CHECK(stats->blocks_written == 6);
  CHECK(stats->block_bytes * 3 < stats->raw_bytes);
  CHECK(CountRows(dir, "SELECT count(*) FROM health_samples") == 2 * 20);
  CHECK(CountRows(dir, "SELECT count(*) FROM health_blocks") == 6);
  CHECK(CountRows(dir, "SELECT sum(count) FROM health_blocks") == 2 * 180);
  CHECK(CountRows(dir,
                  "SELECT count(*) FROM health_blocks WHERE first_seq = 61 AND "
                  "last_seq = 120 AND start_at = " +
                      std::to_string(kStoreT0 + kStoreHour) +
                      " AND end_at = " + std::to_string(kStoreT0 + 2 * kStoreHour - 60'000)) == 2);

  CHECK(ListAll(*store, "a1") == a1_before);
  CHECK(ListAll(*store, "a2") == a2_before);
  // A second run has nothing left to do.
  CHECK(store->CompactHealth(kStoreT0 + 3 * kStoreHour + 30 * 60'000)->samples == 0);
  CHECK(ListAll(*store, "a1") == a1_before);
}

TEST_CASE("one report the database refuses is rejected alone, its batch is stored") {
  // Before: the whole group commit failed and every stream in it was closed, on every retry.
  TempDir dir;
  auto store = OpenStore(dir);
  EnrollOne(*store, "a1");
  EnrollOne(*store, "a2");
  {
    auto db = sqlite::Database::Open(dir / "dozor.db");
    REQUIRE(db.ok());
    REQUIRE(db->Exec("CREATE TRIGGER refuse_one BEFORE INSERT ON health_samples WHEN NEW.seq = 3 "
                     "AND NEW.agent = (SELECT id FROM agents WHERE agent_id = 'a2') "
                     "BEGIN SELECT RAISE(ABORT, 'refused by test'); END")
                .ok());
  }
  std::vector<IncomingReport> batch;
  for (uint64_t seq = 1; seq <= 5; ++seq) {
    for (const char* agent : {"a1", "a2"}) {
      batch.push_back(RichHealth(agent, seq, kStoreT0 + static_cast<int64_t>(seq) * 60'000));
    }
  }
  IncomingReport huge_seq = RichHealth("a1", (uint64_t{1} << 63) + 5, kStoreT0 + 7 * 60'000);
  batch.push_back(std::move(huge_seq));
  auto results = store->CommitReports(batch);
  REQUIRE_MESSAGE(results.ok(), (results.ok() ? "" : results.error().ToString()));
  REQUIRE(results->size() == 11);
  int stored = 0;
  for (size_t i = 0; i < 10; ++i) {
    const bool refused = batch[i].agent_id == "a2" && batch[i].report.seq() == 3;
    CHECK((*results)[i].outcome == (refused ? CommitOutcome::kRejected : CommitOutcome::kStored));
    stored += (*results)[i].outcome == CommitOutcome::kStored ? 1 : 0;
  }
  CHECK(stored == 9);
  CHECK((*results)[5].reason.find("refused by test") != std::string::npos);
  CHECK((*results)[10].outcome == CommitOutcome::kRejected);
  CHECK((*results)[10].reason.find("2^63") != std::string::npos);
  CHECK(CountRows(dir, "SELECT count(*) FROM health_samples") == 9);
  CHECK(CountRows(dir, "SELECT count(*) FROM health_samples WHERE seq < 0") == 0);
}

TEST_CASE("a bucket that cannot be compacted is skipped and reported, the pass goes on") {
  TempDir dir;
  auto store = OpenStore(dir);
  EnrollOne(*store, "a1");
  EnrollOne(*store, "a2");
  CommitMinutes(*store, {"a1", "a2"}, 200);  // 3 h 20 min each
  Fingerprint a2_before = ListAll(*store, "a2");
  {
    // A damaged block in a1's first hour (a bad disk sector, a row from a buggy older build).
    auto db = sqlite::Database::Open(dir / "dozor.db");
    REQUIRE(db.ok());
    auto insert = db->Prepare(
        "INSERT INTO health_blocks(agent, start_at, end_at, count, first_seq, last_seq, data) "
        "SELECT id, ?1, ?1, 1, 1000, 1000, ?2 FROM agents WHERE agent_id = 'a1'");
    REQUIRE(insert.ok());
    insert->Bind(1, kStoreT0 + 90'000).Bind(2, std::string_view("\x01\x10\x00\x00\x00garbage", 12));
    REQUIRE(insert->Run().ok());
  }
  auto stats = store->CompactHealth(kStoreT0 + 3 * kStoreHour + 30 * 60'000);
  REQUIRE_MESSAGE(stats.ok(), (stats.ok() ? "" : stats.error().ToString()));
  CHECK(stats->failed_buckets == 1);
  CHECK(stats->first_failure.find("hour " + std::to_string(kStoreT0)) != std::string::npos);
  CHECK(stats->first_failure.find("corrupt") != std::string::npos);
  // a1's hours 1 and 2 and all three of a2's were still compacted; a1's hour 0 stays raw.
  CHECK(stats->buckets == 5);
  CHECK(stats->samples == 5 * 60);
  CHECK(CountRows(dir, "SELECT count(*) FROM health_samples") == 60 + 2 * 20);
  CHECK(ListAll(*store, "a2") == a2_before);
}

TEST_CASE("an hour whose samples are over the block limit together is split into smaller blocks") {
  TempDir dir;
  auto store = OpenStore(dir);
  EnrollOne(*store, "a1");
  // 60 samples of ~1.2 MB (300 processes with distinct 4 KB names): ~72 MB in one hour, over
  // the 64 MiB a block may hold.
  std::mt19937_64 random(7);
  std::vector<IncomingReport> batch;
  for (uint64_t i = 1; i <= 60; ++i) {
    IncomingReport report = RichHealth("a1", i, kStoreT0 + static_cast<int64_t>(i - 1) * 60'000);
    auto* health = report.report.mutable_health();
    for (int p = 0; p < 300; ++p) {
      auto* process = health->add_top_memory();
      process->set_pid(static_cast<uint32_t>(p + 1));
      std::string name(4096, 'x');
      for (char& c : name) {
        c = static_cast<char>('a' + random() % 26);
      }
      process->set_name(std::move(name));
    }
    batch.push_back(std::move(report));
  }
  auto results = store->CommitReports(batch);
  REQUIRE(results.ok());
  batch.clear();
  Fingerprint before = ListAll(*store, "a1");
  REQUIRE(before.size() == 60);
  auto stats = store->CompactHealth(kStoreT0 + 2 * kStoreHour);
  REQUIRE_MESSAGE(stats.ok(), (stats.ok() ? "" : stats.error().ToString()));
  CHECK(stats->failed_buckets == 0);
  CHECK(stats->samples == 60);
  CHECK(stats->blocks_written >= 2);
  CHECK(CountRows(dir, "SELECT count(*) FROM health_samples") == 0);
  CHECK(ListAll(*store, "a1") == before);
}

TEST_CASE("health listing keeps since and limit semantics across raw rows and blocks") {
  TempDir dir;
  auto store = OpenStore(dir);
  EnrollOne(*store, "a1");
  CommitMinutes(*store, {"a1"}, 200);
  Fingerprint all = ListAll(*store, "a1");  // newest first, all raw
  REQUIRE(store->CompactHealth(kStoreT0 + 3 * kStoreHour)->samples == 180);
  struct Query {
    int64_t since;
    int limit;
  };
  for (Query q :
       {Query{0, 1}, Query{0, 20}, Query{0, 21}, Query{0, 50}, Query{0, 150},
        Query{kStoreT0 + kStoreHour, 10000}, Query{kStoreT0 + kStoreHour + 30 * 60'000, 10000},
        Query{kStoreT0 + 59 * 60'000, 45}, Query{kStoreT0 + 3 * kStoreHour, 5},
        Query{kStoreT0 + 500 * 60'000, 10}}) {
    CAPTURE(q.since);
    CAPTURE(q.limit);
    Fingerprint expected;
    for (const auto& item : all) {
      if (std::get<1>(item) >= q.since && static_cast<int>(expected.size()) < q.limit) {
        expected.push_back(item);
      }
    }
    auto listed = store->ListHealth("a1", q.since, q.limit);
    REQUIRE(listed.ok());
    CHECK(Fingerprints(*listed) == expected);
  }
}

TEST_CASE(
    "prune removes compacted samples before the cutoff exactly, rewriting a straddling "
    "block") {
  TempDir dir;
  auto store = OpenStore(dir);
  EnrollOne(*store, "a1");
  CommitMinutes(*store, {"a1"}, 200);
  Fingerprint all = ListAll(*store, "a1");
  REQUIRE(store->CompactHealth(kStoreT0 + 3 * kStoreHour)->samples == 180);
  const int64_t cutoff = kStoreT0 + kStoreHour + 15 * 60'000;  // inside the second hour's block
  auto pruned = store->PruneHealth(cutoff);
  REQUIRE(pruned.ok());
  CHECK(*pruned == 75);
  Fingerprint expected;
  for (const auto& item : all) {
    if (std::get<1>(item) >= cutoff) {
      expected.push_back(item);
    }
  }
  CHECK(ListAll(*store, "a1") == expected);
  CHECK(CountRows(dir, "SELECT count(*) FROM health_blocks") == 2);
  CHECK(CountRows(dir, "SELECT min(start_at) FROM health_blocks") == cutoff);
  CHECK(*store->PruneHealth(cutoff) == 0);
  // Everything, raw rows included.
  CHECK(*store->PruneHealth(kStoreT0 + 10 * kStoreHour) == 125);
  CHECK(ListAll(*store, "a1").empty());
}

TEST_CASE("compacted health survives reopen and still detects duplicates") {
  TempDir dir;
  Fingerprint before;
  {
    auto store = OpenStore(dir);
    EnrollOne(*store, "a1");
    CommitMinutes(*store, {"a1"}, 130);
    before = ListAll(*store, "a1");
    REQUIRE(store->CompactHealth(kStoreT0 + 3 * kStoreHour)->samples == 130);
  }
  auto store = OpenStore(dir, /*background_checkpoint=*/false);
  CHECK(ListAll(*store, "a1") == before);
  CHECK(store->GetAgentCredential("a1")->last_committed_seq == 130);
  std::vector<IncomingReport> resend = {RichHealth("a1", 5, kStoreT0 + 4 * 60'000),
                                        RichHealth("a1", 130, kStoreT0 + 129 * 60'000)};
  auto results = store->CommitReports(resend);
  REQUIRE(results.ok());
  CHECK((*results)[0].outcome == CommitOutcome::kDuplicate);
  CHECK((*results)[1].outcome == CommitOutcome::kDuplicate);
  CHECK(ListAll(*store, "a1") == before);
}

TEST_CASE("a compaction that fails before its commit leaves every raw sample in place") {
  TempDir dir;
  auto store = OpenStore(dir);
  EnrollOne(*store, "a1");
  CommitMinutes(*store, {"a1"}, 120);
  Fingerprint before = ListAll(*store, "a1");
  {
    // The raw rows are deleted first, then the block insert fails: the delete must roll back.
    auto db = sqlite::Database::Open(dir / "dozor.db");
    REQUIRE(db.ok());
    REQUIRE(db->Exec("CREATE TRIGGER fail_block BEFORE INSERT ON health_blocks "
                     "BEGIN SELECT RAISE(ABORT, 'injected failure'); END")
                .ok());
  }
  // Each failing hour is reported and skipped (the pass goes on), never half-applied.
  auto failed = store->CompactHealth(kStoreT0 + 3 * kStoreHour);
  REQUIRE(failed.ok());
  CHECK(failed->failed_buckets == 2);
  CHECK(failed->samples == 0);
  CHECK(failed->first_failure.find("injected failure") != std::string::npos);
  CHECK(CountRows(dir, "SELECT count(*) FROM health_samples") == 120);
  CHECK(CountRows(dir, "SELECT count(*) FROM health_blocks") == 0);
  CHECK(ListAll(*store, "a1") == before);
  // The writer connection is still usable after the rollback.
  std::vector<IncomingReport> next = {RichHealth("a1", 121, kStoreT0 + 120 * 60'000)};
  CHECK((*store->CommitReports(next))[0].outcome == CommitOutcome::kStored);
  {
    auto db = sqlite::Database::Open(dir / "dozor.db");
    REQUIRE(db->Exec("DROP TRIGGER fail_block").ok());
  }
  CHECK(store->CompactHealth(kStoreT0 + 3 * kStoreHour)->samples == 121);
  Fingerprint expected = ListAll(*store, "a1");
  CHECK(expected.size() == 121);
  CHECK(Fingerprint(expected.begin() + 1, expected.end()) == before);
}

TEST_CASE("samples arriving late for a compacted hour are merged into its block") {
  TempDir dir;
  auto store = OpenStore(dir);
  EnrollOne(*store, "a1");
  std::vector<IncomingReport> batch;
  for (uint64_t i = 1; i <= 30; ++i) {
    batch.push_back(RichHealth("a1", i, kStoreT0 + static_cast<int64_t>(i) * 60'000));
  }
  REQUIRE(store->CommitReports(batch).ok());
  REQUIRE(store->CompactHealth(kStoreT0 + 2 * kStoreHour)->samples == 30);
  // A spooled sample from the same hour arrives later (higher seq, older timestamp).
  std::vector<IncomingReport> late = {RichHealth("a1", 31, kStoreT0 + 90'000),
                                      RichHealth("a1", 32, kStoreT0 + 2 * kStoreHour + 1)};
  REQUIRE(store->CommitReports(late).ok());
  auto listed = store->ListHealth("a1", 0, 100);
  REQUIRE(listed->size() == 32);
  Fingerprint before = Fingerprints(*listed);
  CHECK(store->CompactHealth(kStoreT0 + 2 * kStoreHour)->samples == 1);
  CHECK(CountRows(dir, "SELECT count(*) FROM health_blocks") == 1);
  CHECK(CountRows(dir, "SELECT count FROM health_blocks") == 31);
  CHECK(CountRows(dir, "SELECT last_seq FROM health_blocks") == 31);
  CHECK(ListAll(*store, "a1") == before);
}

TEST_CASE("rows written before migration 002 (zlib per row) are still read and compacted") {
  TempDir dir;
  auto store = OpenStore(dir);
  EnrollOne(*store, "a1");
  IncomingReport old_format = RichHealth("a1", 1, kStoreT0 + 1000);
  {
    // Exactly what the 001 code wrote: no encoding column value, EncodeCompressed blob.
    auto db = sqlite::Database::Open(dir / "dozor.db");
    REQUIRE(db.ok());
    auto insert = db->Prepare(
        "INSERT INTO health_samples(agent, collected_at, seq, sample) "
        "SELECT id, ?, 1, ? FROM agents WHERE agent_id = 'a1'");
    REQUIRE(insert.ok());
    REQUIRE(insert->Bind(1, kStoreT0 + 1000)
                .BindBlob(2, EncodeCompressed(old_format.report.health()))
                .Run()
                .ok());
  }
  std::vector<IncomingReport> batch = {RichHealth("a1", 2, kStoreT0 + 2000)};
  REQUIRE(store->CommitReports(batch).ok());
  Fingerprint listed = ListAll(*store, "a1");
  REQUIRE(listed.size() == 2);
  std::string expected_bytes;
  REQUIRE(old_format.report.health().SerializeToString(&expected_bytes));
  CHECK(std::get<0>(listed[1]) == 1);
  CHECK(std::get<2>(listed[1]) == expected_bytes);
  CHECK(CountRows(dir, "SELECT count(*) FROM health_samples WHERE encoding = 0") == 1);
  CHECK(CountRows(dir, "SELECT count(*) FROM health_samples WHERE encoding = 1") == 1);
  REQUIRE(store->CompactHealth(kStoreT0 + kStoreHour)->samples == 2);
  CHECK(ListAll(*store, "a1") == listed);
}

TEST_CASE("a damaged health block is skipped, not fatal, when listing") {
  TempDir dir;
  auto store = OpenStore(dir);
  EnrollOne(*store, "a1");
  CommitMinutes(*store, {"a1"}, 130);
  REQUIRE(store->CompactHealth(kStoreT0 + 2 * kStoreHour)->samples == 120);
  {
    auto db = sqlite::Database::Open(dir / "dozor.db");
    REQUIRE(db.ok());
    REQUIRE(db->Exec("UPDATE health_blocks SET data = substr(data, 1, 40) || zeroblob(30) "
                     "WHERE start_at = " +
                     std::to_string(kStoreT0))
                .ok());
  }
  auto listed = store->ListHealth("a1", 0, 1000);
  REQUIRE(listed.ok());
  CHECK(listed->size() == 70);  // 10 raw + the undamaged second hour
  CHECK(listed->back().seq == 61);
}

TEST_CASE("compaction runs while other threads commit and nothing is lost or doubled") {
  TempDir dir;
  auto store = OpenStore(dir);
  EnrollOne(*store, "a1");
  EnrollOne(*store, "a2");
  std::atomic<bool> done{false};
  std::atomic<int> compaction_errors{0};
  std::thread compactor([&] {
    while (!done.load()) {
      // Far in the future: every finished hour is eligible, including ones being written.
      if (!store->CompactHealth(kStoreT0 + 1000 * kStoreHour).ok()) {
        ++compaction_errors;
      }
    }
  });
  uint64_t seq = 0;
  for (int b = 0; b < 30; ++b) {
    std::vector<IncomingReport> batch;
    for (int i = 0; i < 20; ++i) {
      ++seq;
      for (const char* agent : {"a1", "a2"}) {
        batch.push_back(RichHealth(agent, seq, kStoreT0 + static_cast<int64_t>(seq) * 60'000));
      }
    }
    auto results = store->CommitReports(batch);
    REQUIRE(results.ok());
  }
  done = true;
  compactor.join();
  CHECK(compaction_errors.load() == 0);
  REQUIRE(store->CompactHealth(kStoreT0 + 1000 * kStoreHour).ok());
  for (const char* agent : {"a1", "a2"}) {
    auto listed = store->ListHealth(agent, 0, 10000);
    REQUIRE(listed.ok());
    std::set<uint64_t> seqs;
    for (const auto& r : *listed) {
      seqs.insert(r.seq);
      CHECK(r.collected_at_ms == kStoreT0 + static_cast<int64_t>(r.seq) * 60'000);
    }
    CHECK(listed->size() == 600);
    CHECK(seqs.size() == 600);
  }
  CHECK(CountRows(dir, "SELECT count(*) FROM health_samples") == 0);
}

TEST_CASE("health blocks with well-compressed garbage inside are rejected without crashing") {
  TempDir dir;
  auto store = OpenStore(dir);
  EnrollOne(*store, "a1");
  CommitMinutes(*store, {"a1"}, 61);
  REQUIRE(store->CompactHealth(kStoreT0 + kStoreHour)->samples == 60);
  auto db = sqlite::Database::Open(dir / "dozor.db");
  REQUIRE(db.ok());
  auto update = db->Prepare("UPDATE health_blocks SET data = ?");
  REQUIRE(update.ok());
  std::mt19937 rng(7);
  for (int round = 0; round < 200; ++round) {
    // Payloads that inflate fine but hold arbitrary bytes: small counts and kinds are likely.
    std::string payload(static_cast<size_t>(1 + rng() % 300), '\0');
    for (auto& c : payload) {
      c = static_cast<char>(rng() % (round % 2 == 0 ? 4 : 256));
    }
    uLongf bound = compressBound(static_cast<uLong>(payload.size()));
    std::string data(5 + bound, '\0');
    data[0] = 1;
    for (int i = 0; i < 4; ++i) {
      data[static_cast<size_t>(1 + i)] = static_cast<char>((payload.size() >> (8 * i)) & 0xff);
    }
    REQUIRE(compress2(reinterpret_cast<Bytef*>(data.data() + 5), &bound,
                      reinterpret_cast<const Bytef*>(payload.data()), payload.size(), 6) == Z_OK);
    data.resize(5 + bound);
    REQUIRE(update->BindBlob(1, data).Run().ok());
    auto listed = store->ListHealth("a1", 0, 1000);
    REQUIRE(listed.ok());
    CHECK(listed->front().seq == 61);
  }
}

}  // namespace
}  // namespace dozor::server

namespace dozor::server {
namespace {

TEST_CASE("migration 022 keeps every finding as one about its whole target, then objects adopt") {
  TempDir dir;
  {
    BuildDatabaseAtVersion(dir / "dozor.db", 18);
    auto db = sqlite::Database::Open(dir / "dozor.db");
    REQUIRE(db.ok());
    REQUIRE(db->Exec(R"sql(
INSERT INTO organizations(id, name, contract_type, created_at) VALUES (1, 'Acme', 'technical', 1);
INSERT INTO agents(id, agent_id, org_id, secret_hash, hostname, enrolled_at, source)
  VALUES (1, 'ag-1', 1, 's1', 'db1', 1, 'agent');
INSERT INTO findings(id, rule_id, org_id, agent, target, severity, category, state, first_seen,
  last_seen, state_changed_at, evidence, ack_by, ack_comment)
  VALUES (5, 'disk-space-low', 1, 1, 'host:1', 'high', 'hardware', 'acknowledged', 10, 20, 15,
          '[{"mount":"/var"}]', 'anna', 'cleaning up on Friday'),
         (6, 'reboot-pending', 1, 1, 'host:1', 'medium', 'os', 'open', 10, 20, 10, '[]', '', '');
INSERT INTO finding_events(finding_id, at, actor, kind, from_state, to_state, comment)
  VALUES (5, 10, 'system', 'opened', '', 'open', ''),
         (5, 15, 'anna', 'acknowledged', 'open', 'acknowledged', 'cleaning up on Friday');
INSERT INTO audit_snapshots(id, org_id, kind, at, actor) VALUES (1, 1, 'first-audit', 12, 'anna');
INSERT INTO audit_snapshot_findings(snapshot_id, rule_id, target, agent_id, hostname, severity,
  state) VALUES (1, 'disk-space-low', 'host:1', 'ag-1', 'db1', 'high', 'open');
)sql")
                .ok());
  }
  auto store = OpenStore(dir, false);
  auto db = sqlite::Database::Open(dir / "dozor.db");
  REQUIRE(db.ok());
  CHECK(RowsOfQuery(*db, "SELECT id, rule_id, state, object FROM findings ORDER BY id") ==
        std::vector<std::string>{"'5'|'disk-space-low'|'acknowledged'|''|",
                                 "'6'|'reboot-pending'|'open'|''|"});
  CHECK(RowsOfQuery(*db, "SELECT object FROM audit_snapshot_findings") ==
        std::vector<std::string>{"''|"});
  CHECK(RowsOfQuery(*db, "PRAGMA foreign_key_check").empty());
  CHECK(RowsOfQuery(*db, "SELECT name FROM sqlite_master WHERE name LIKE '%\\_022%' ESCAPE '\\'")
            .empty());
  CHECK(RowsOfQuery(*db,
                    "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = "
                    "'findings' AND name LIKE 'findings\\_%' ESCAPE '\\'") ==
        std::vector<std::string>{"'7'|"});

  // The rule now names mounts: /boot (first in text order) takes the old finding over with its
  // acknowledgement and history, /var opens a finding of its own.
  EvaluationInput input;
  input.host_scope = true;
  input.rule_ids = {"disk-space-low"};
  input.targets = {1};
  input.meta["disk-space-low"] = RuleMeta{Severity::kHigh, "hardware"};
  input.hits = {FindingHit{"disk-space-low", 1, 1, R"([{"mount":"/var"}])", false, "/var"},
                FindingHit{"disk-space-low", 1, 1, R"([{"mount":"/boot"}])", false, "/boot"}};
  auto applied = store->ApplyEvaluation(input, 100);
  REQUIRE_MESSAGE(applied.ok(), (applied.ok() ? "" : applied.error().ToString()));
  CHECK(applied->opened == 1);
  CHECK(applied->updated == 1);
  CHECK(applied->resolved == 0);
  auto adopted = store->GetFinding(5);
  REQUIRE(adopted.ok());
  CHECK(adopted->object == "/boot");
  CHECK(adopted->state == FindingState::kAcknowledged);
  CHECK(adopted->ack_comment == "cleaning up on Friday");
  CHECK(adopted->evidence_json == R"([{"mount":"/boot"}])");
  auto listed = store->ListFindings(FindingFilter{});
  REQUIRE(listed.ok());
  std::map<std::string, FindingState> by_object;
  for (const Finding& finding : *listed) {
    if (finding.rule_id == "disk-space-low") by_object[finding.object] = finding.state;
  }
  CHECK(by_object == std::map<std::string, FindingState>{{"/boot", FindingState::kAcknowledged},
                                                         {"/var", FindingState::kOpen}});

  // /var fixed, /boot still full: only /var resolves.
  input.hits.erase(input.hits.begin());
  applied = store->ApplyEvaluation(input, 200);
  REQUIRE(applied.ok());
  CHECK(applied->resolved == 1);
  CHECK(store->GetFinding(5)->state == FindingState::kAcknowledged);

  // A snapshot now records each object.
  REQUIRE(store->RecordAuditSnapshot(1, AuditSnapshotKind::kFirstAudit, "anna", 300).ok());
  CHECK(RowsOfQuery(*db,
                    "SELECT object FROM audit_snapshot_findings WHERE snapshot_id <> 1 "
                    "ORDER BY rowid") == std::vector<std::string>{"'/boot'|", "''|"});
}

}  // namespace
}  // namespace dozor::server
