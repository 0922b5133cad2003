#include "store/sqlite_store.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <fstream>
#include <map>
#include <thread>

#include "dozor/common/sqlite.hpp"
#include "store/inventory_diff.hpp"
#include "store/migrations.hpp"
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

int64_t MakeOrg(Store& store, const std::string& name) {
  Organization org;
  org.name = name;
  auto created = store.CreateOrganization(org);
  REQUIRE(created.ok());
  return created->id;
}

// Creates an organisation, a token and an enrolled agent; returns the agent id.
std::string EnrollOne(Store& store, const std::string& agent_id, int64_t org_id = 0) {
  if (org_id == 0) {
    org_id = MakeOrg(store, "org-" + agent_id);
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
    MakeOrg(*store, "Acme");
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
  CHECK(created->contract_status == "prospect");
  CHECK(created->engineer == "petrov");
  CHECK(created->created_at_ms > 0);
  auto dup = store->CreateOrganization(org);
  REQUIRE_FALSE(dup.ok());
  CHECK(dup.error().code == ErrorCode::kAlreadyExists);

  Organization bad;
  bad.name = "Bad";
  bad.contract_status = "sleeping";
  CHECK(store->CreateOrganization(bad).error().code == ErrorCode::kInvalidArgument);

  CHECK(store->FindOrganization("Acme")->id == created->id);
  CHECK(store->FindOrganization(std::to_string(created->id))->name == "Acme");
  CHECK(store->FindOrganization("Nobody").error().code == ErrorCode::kNotFound);

  OrganizationPatch patch;
  patch.contract_status = "active";
  auto updated = store->UpdateOrganization(created->id, patch);
  REQUIRE(updated.ok());
  CHECK(updated->contract_status == "active");
  CHECK(updated->engineer == "petrov");  // untouched fields stay
  patch.contract_status = "bogus";
  CHECK(store->UpdateOrganization(created->id, patch).error().code == ErrorCode::kInvalidArgument);
  patch.contract_status = "ended";
  CHECK(store->UpdateOrganization(created->id + 100, patch).error().code == ErrorCode::kNotFound);
}

TEST_CASE("contract status and type validation") {
  CHECK(IsValidContractStatus("remediation"));
  CHECK_FALSE(IsValidContractStatus("Active"));
  CHECK(IsValidContractType("application"));
  CHECK_FALSE(IsValidContractType(""));
}

TEST_CASE("enrollment refuses unknown, revoked and expired tokens and counts uses") {
  TempDir dir;
  auto store = OpenStore(dir);
  int64_t org = MakeOrg(*store, "Acme");
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

TEST_CASE("API tokens authenticate until revoked or expired") {
  TempDir dir;
  auto store = OpenStore(dir);
  CHECK(*store->CountApiTokens() == 0);
  auto admin = store->CreateApiToken("bootstrap", "admin", "th-1", "dz_ab", std::nullopt);
  REQUIRE(admin.ok());
  auto temp = store->CreateApiToken("ci", "viewer", "th-2", "dz_cd", int64_t{5000});
  REQUIRE(temp.ok());
  CHECK(store->CreateApiToken("x", "root", "th-3", "", std::nullopt).error().code ==
        ErrorCode::kInvalidArgument);
  CHECK(store->CreateApiToken("dup", "viewer", "th-1", "", std::nullopt).error().code ==
        ErrorCode::kAlreadyExists);
  CHECK(*store->CountApiTokens() == 2);

  auto ok = store->AuthenticateApiToken("th-1", 1000);
  REQUIRE(ok.ok());
  CHECK(ok->role == "admin");
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
  // Make the health insert fail mid-batch: a trigger aborts it after another row was written.
  {
    auto db = sqlite::Database::Open(dir / "dozor.db");
    REQUIRE(db.ok());
    REQUIRE(db->Exec("CREATE TRIGGER fail_seq3 BEFORE INSERT ON health_samples WHEN NEW.seq = 3 "
                     "BEGIN SELECT RAISE(ABORT, 'injected failure'); END")
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
  int64_t acme = MakeOrg(*store, "Acme");
  int64_t beta = MakeOrg(*store, "Beta");
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
    REQUIRE(store->CreateApiToken("t", "operator", "th", "h", std::nullopt).ok());
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

}  // namespace
}  // namespace dozor::server
