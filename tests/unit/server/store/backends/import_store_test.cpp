// The imports area (store/import_store.hpp) on every backend: a snapshot file becomes a host of
// the organisation, once per file, without rolling a newer inventory back. (The SQLite-only
// check that a database copy holds no import key stays in store/sqlite/import_test.cpp.)
#include <doctest/doctest.h>

#include <mutex>
#include <utility>
#include <vector>

#include "backends.hpp"
#include "domain/import_keys.hpp"
#include "dozor/common/crypto.hpp"

namespace dozor::server {
namespace {

using dozor::testing::MakeOrg;

constexpr int64_t kDay = 24LL * 3600 * 1000;
constexpr int64_t kImportT0 = 1'700'000'000'000;

// A snapshot of machine `machine_id` collected at `at_ms`, running `kernel`.
SnapshotImport Snapshot(int64_t org_id, const std::string& machine_id, int64_t at_ms,
                        const std::string& kernel, bool with_health = true) {
  SnapshotImport import;
  import.org_id = org_id;
  import.hostname = "legacy1";
  import.machine_id = machine_id;
  import.agent_version = "0.4.0";
  import.actor = "engineer";
  import.now_ms = at_ms + kDay;
  import.inventory.set_seq(1);
  import.inventory.set_collected_at_ms(at_ms);
  auto* os = import.inventory.mutable_inventory()->mutable_os();
  os->set_hostname("legacy1");
  os->set_machine_id(machine_id);
  os->set_pretty_name("Debian GNU/Linux 11 (bullseye)");
  os->set_family("linux");
  os->set_kernel(kernel);
  auto* pkg = import.inventory.mutable_inventory()->mutable_software()->add_packages();
  pkg->set_name("openssl");
  pkg->set_version("1.1.1n");
  auto* collector = import.inventory.add_collectors();
  collector->set_name("os");
  collector->set_ok(true);
  if (with_health) {
    dozor::v1::Report health;
    health.set_seq(1);
    health.set_collected_at_ms(at_ms + 1000);
    health.mutable_health()->set_cpu_percent(7.5);
    health.mutable_health()->set_load1(0.25);
    import.health = health;
  }
  // Distinct content, distinct key: the sha256 the handler computes over the payload bytes.
  import.sha256 = Sha256Hex(import.inventory.SerializeAsString() + std::to_string(with_health));
  return import;
}

template <typename Store>
std::string Kernel(Store& store, const std::string& agent_id) {
  auto inventory = store.Hosts().GetInventory(agent_id);
  REQUIRE_MESSAGE(inventory.ok(), (inventory.ok() ? "" : inventory.error().ToString()));
  return inventory->inventory.os().kernel();
}

TEST_CASE_TEMPLATE(
    "imports: importing a snapshot creates a snapshot host with its inventory and health", Backend,
    DOZOR_BACKENDS) {
  Backend backend;
  auto* store = backend.store.get();
  const int64_t org = MakeOrg(*store, "Acme");
  std::mutex mu;
  std::vector<CommittedHost> observed;
  store->Hosts().SetCommitObserver([&](const std::vector<CommittedHost>& hosts) {
    std::lock_guard lock(mu);
    observed.insert(observed.end(), hosts.begin(), hosts.end());
  });

  auto imported =
      store->Imports().ImportSnapshot(Snapshot(org, "m-1", kImportT0, "5.10.0-21-amd64"));
  REQUIRE_MESSAGE(imported.ok(), (imported.ok() ? "" : imported.error().ToString()));
  CHECK_FALSE(imported->duplicate);
  CHECK(imported->record.outcome == ImportOutcome::kCreated);
  CHECK(imported->record.agent_id == ImportedAgentId(org, "m-1"));
  CHECK(imported->record.agent_id.rfind("snap-", 0) == 0);
  CHECK(imported->record.agent_id.size() == 5 + 16);
  CHECK(imported->record.collected_at_ms == kImportT0);
  CHECK(imported->record.id > 0);

  auto hosts = store->Hosts().ListHosts(org);
  REQUIRE(hosts.ok());
  REQUIRE(hosts->size() == 1);
  CHECK(hosts->front().source == "import");
  CHECK(hosts->front().hostname == "legacy1");
  CHECK(hosts->front().agent_version == "0.4.0");
  CHECK(hosts->front().last_inventory_ms == kImportT0);
  CHECK(Kernel(*store, imported->record.agent_id) == "5.10.0-21-amd64");
  auto health = store->Hosts().ListHealth(imported->record.agent_id, 0, 10);
  REQUIRE(health.ok());
  REQUIRE(health->size() == 1);
  CHECK(health->front().sample.cpu_percent() == doctest::Approx(7.5));
  auto inventory = store->Hosts().GetInventory(imported->record.agent_id);
  REQUIRE(inventory.ok());
  REQUIRE(inventory->collectors.size() == 1);
  CHECK(inventory->collectors[0].name() == "os");

  // The rule engine hears about the host like about any agent's commit.
  std::lock_guard lock(mu);
  REQUIRE(observed.size() == 1);
  CHECK(observed[0].org_id == org);
  CHECK(observed[0].inventory);
  CHECK(observed[0].health);
}

TEST_CASE_TEMPLATE(
    "imports: re-importing the same file returns the first import and changes nothing", Backend,
    DOZOR_BACKENDS) {
  Backend backend;
  auto* store = backend.store.get();
  const int64_t org = MakeOrg(*store, "Acme");
  const SnapshotImport snapshot = Snapshot(org, "m-1", kImportT0, "5.10.0-21-amd64");
  auto first = store->Imports().ImportSnapshot(snapshot);
  REQUIRE(first.ok());
  int observer_calls = 0;
  store->Hosts().SetCommitObserver([&](const std::vector<CommittedHost>&) { ++observer_calls; });
  auto credential_before = store->Agents().GetAgentCredential(first->record.agent_id);
  REQUIRE(credential_before.ok());

  SnapshotImport again = snapshot;
  again.now_ms += 5000;
  again.actor = "someone else";
  auto second = store->Imports().ImportSnapshot(again);
  REQUIRE(second.ok());
  CHECK(second->duplicate);
  CHECK(second->record.id == first->record.id);
  CHECK(second->record.actor == "engineer");
  CHECK(second->record.imported_at_ms == snapshot.now_ms);
  CHECK(observer_calls == 0);
  auto imports = store->Imports().ListImports(org, 100);
  REQUIRE(imports.ok());
  CHECK(imports->size() == 1);
  auto hosts = store->Hosts().ListHosts(org);
  REQUIRE(hosts.ok());
  CHECK(hosts->size() == 1);
  auto credential_after = store->Agents().GetAgentCredential(first->record.agent_id);
  REQUIRE(credential_after.ok());
  CHECK(credential_after->last_committed_seq == credential_before->last_committed_seq);
  auto health = store->Hosts().ListHealth(first->record.agent_id, 0, 10);
  REQUIRE(health.ok());
  CHECK(health->size() == 1);
}

TEST_CASE_TEMPLATE(
    "imports: a newer snapshot of the same machine updates its host and logs the change", Backend,
    DOZOR_BACKENDS) {
  Backend backend;
  auto* store = backend.store.get();
  const int64_t org = MakeOrg(*store, "Acme");
  auto first = store->Imports().ImportSnapshot(Snapshot(org, "m-1", kImportT0, "5.10.0-21-amd64"));
  REQUIRE(first.ok());
  auto second = store->Imports().ImportSnapshot(
      Snapshot(org, "m-1", kImportT0 + 7 * kDay, "5.10.0-26-amd64"));
  REQUIRE_MESSAGE(second.ok(), (second.ok() ? "" : second.error().ToString()));
  CHECK_FALSE(second->duplicate);
  CHECK(second->record.outcome == ImportOutcome::kUpdated);
  CHECK(second->record.agent_id == first->record.agent_id);
  CHECK(second->record.id != first->record.id);

  auto hosts = store->Hosts().ListHosts(org);
  REQUIRE(hosts.ok());
  REQUIRE(hosts->size() == 1);
  CHECK(hosts->front().last_inventory_ms == kImportT0 + 7 * kDay);
  CHECK(Kernel(*store, first->record.agent_id) == "5.10.0-26-amd64");
  auto changes = store->Hosts().ListChanges(first->record.agent_id, 0, 100);
  REQUIRE(changes.ok());
  bool kernel_change = false;
  for (const auto& change : *changes) {
    kernel_change =
        kernel_change || (change.subject == "os.kernel" && change.old_value == "5.10.0-21-amd64" &&
                          change.new_value == "5.10.0-26-amd64");
  }
  CHECK(kernel_change);
  // Each snapshot continued the host's sequence (inventory + health each time).
  auto credential = store->Agents().GetAgentCredential(first->record.agent_id);
  REQUIRE(credential.ok());
  CHECK(credential->last_committed_seq == 4);
  auto health = store->Hosts().ListHealth(first->record.agent_id, 0, 10);
  REQUIRE(health.ok());
  CHECK(health->size() == 2);
}

TEST_CASE_TEMPLATE(
    "imports: kept import keys are listed with their owners and replaced all or none", Backend,
    DOZOR_BACKENDS) {
  Backend backend;
  auto* store = backend.store.get();
  const int64_t acme = MakeOrg(*store, "Acme");
  const int64_t other = MakeOrg(*store, "Other");
  std::vector<int64_t> tokens;
  for (const auto& [org, hash] : {std::pair{acme, "h-1"}, std::pair{other, "h-2"}}) {
    NewEnrollmentToken token;
    token.org_id = org;
    token.token_hash = hash;
    token.hint = "tok";
    auto created = store->Agents().CreateEnrollmentToken(token);
    REQUIRE(created.ok());
    tokens.push_back(created->id);
    REQUIRE(store->Imports()
                .SaveTokenImportKey(created->id, std::string("v1:old:") + hash, kImportT0)
                .ok());
  }
  auto keys = store->Imports().ListImportKeys();
  REQUIRE(keys.ok());
  REQUIRE(keys->size() == 2);
  CHECK((*keys)[0].token_id == tokens[0]);
  CHECK((*keys)[0].org_id == acme);
  CHECK((*keys)[0].wrapped_key == "v1:old:h-1");
  CHECK((*keys)[1].org_id == other);

  // One replacement whose expected value is stale: nothing is replaced.
  auto refused = store->Imports().ReplaceImportKeys(
      {{tokens[0], "v1:old:h-1", "v1:new:1"}, {tokens[1], "v1:stale", "v1:new:2"}});
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ErrorCode::kFailedPrecondition);
  CHECK(store->Imports().ListImportKeys()->at(0).wrapped_key == "v1:old:h-1");

  REQUIRE(store->Imports()
              .ReplaceImportKeys(
                  {{tokens[0], "v1:old:h-1", "v1:new:1"}, {tokens[1], "v1:old:h-2", "v1:new:2"}})
              .ok());
  keys = store->Imports().ListImportKeys();
  CHECK(keys->at(0).wrapped_key == "v1:new:1");
  CHECK(keys->at(1).wrapped_key == "v1:new:2");
}

TEST_CASE_TEMPLATE("imports: an older snapshot is recorded but does not roll the inventory back",
                   Backend, DOZOR_BACKENDS) {
  Backend backend;
  auto* store = backend.store.get();
  const int64_t org = MakeOrg(*store, "Acme");
  auto newer = store->Imports().ImportSnapshot(
      Snapshot(org, "m-1", kImportT0 + 7 * kDay, "5.10.0-26-amd64"));
  REQUIRE(newer.ok());
  int observer_calls = 0;
  store->Hosts().SetCommitObserver([&](const std::vector<CommittedHost>&) { ++observer_calls; });
  auto older = store->Imports().ImportSnapshot(Snapshot(org, "m-1", kImportT0, "5.10.0-21-amd64"));
  REQUIRE_MESSAGE(older.ok(), (older.ok() ? "" : older.error().ToString()));
  CHECK_FALSE(older->duplicate);
  CHECK(older->record.outcome == ImportOutcome::kStale);
  CHECK(older->record.agent_id == newer->record.agent_id);
  CHECK(observer_calls == 0);

  CHECK(Kernel(*store, newer->record.agent_id) == "5.10.0-26-amd64");
  auto hosts = store->Hosts().ListHosts(org);
  REQUIRE(hosts.ok());
  REQUIRE(hosts->size() == 1);
  CHECK(hosts->front().last_inventory_ms == kImportT0 + 7 * kDay);
  auto imports = store->Imports().ListImports(org, 100);
  REQUIRE(imports.ok());
  REQUIRE(imports->size() == 2);
  // Newest first: the older file was imported a day after collection, before the newer one.
  CHECK(imports->front().outcome == ImportOutcome::kCreated);
  CHECK(imports->back().outcome == ImportOutcome::kStale);
  CHECK(imports->back().collected_at_ms == kImportT0);
  auto health = store->Hosts().ListHealth(newer->record.agent_id, 0, 10);
  REQUIRE(health.ok());
  CHECK(health->size() == 1);  // the stale file's sample was not stored either
}

TEST_CASE_TEMPLATE("imports: a file already imported into another organisation is refused there",
                   Backend, DOZOR_BACKENDS) {
  Backend backend;
  auto* store = backend.store.get();
  const int64_t acme = MakeOrg(*store, "Acme");
  const int64_t other = MakeOrg(*store, "Other");
  SnapshotImport snapshot = Snapshot(acme, "m-1", kImportT0, "5.10.0-21-amd64");
  REQUIRE(store->Imports().ImportSnapshot(snapshot).ok());
  snapshot.org_id = other;
  auto refused = store->Imports().ImportSnapshot(snapshot);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ErrorCode::kAlreadyExists);
  auto other_hosts = store->Hosts().ListHosts(other);
  REQUIRE(other_hosts.ok());
  CHECK(other_hosts->empty());

  // The same machine collected separately for another organisation is a different host there.
  auto separate =
      store->Imports().ImportSnapshot(Snapshot(other, "m-1", kImportT0 + 1, "5.10.0-21-amd64"));
  REQUIRE(separate.ok());
  CHECK(separate->record.agent_id == ImportedAgentId(other, "m-1"));
  CHECK(separate->record.agent_id != ImportedAgentId(acme, "m-1"));
  CHECK(store->Hosts().ListHosts(std::nullopt)->size() == 2);
}

TEST_CASE_TEMPLATE(
    "imports: an imported host cannot authenticate and refuses snapshots once revoked", Backend,
    DOZOR_BACKENDS) {
  Backend backend;
  auto* store = backend.store.get();
  const int64_t org = MakeOrg(*store, "Acme");
  auto imported =
      store->Imports().ImportSnapshot(Snapshot(org, "m-1", kImportT0, "5.10.0-21-amd64"));
  REQUIRE(imported.ok());
  auto credential = store->Agents().GetAgentCredential(imported->record.agent_id);
  REQUIRE(credential.ok());
  // Ingest compares Sha256Hex(secret), always 64 lower-case hex characters, with this hash: a
  // hash with a character outside [0-9a-f] matches no secret at all.
  CHECK(credential->secret_hash.size() != 64);
  CHECK(credential->secret_hash.find_first_not_of("0123456789abcdef") != std::string::npos);
  CHECK_FALSE(ConstantTimeEquals(Sha256Hex(""), credential->secret_hash));

  // A second snapshot gets a different random secret hash on a different machine.
  auto other = store->Imports().ImportSnapshot(Snapshot(org, "m-2", kImportT0, "5.10.0-21-amd64"));
  REQUIRE(other.ok());
  CHECK(store->Agents().GetAgentCredential(other->record.agent_id)->secret_hash !=
        credential->secret_hash);

  REQUIRE(store->Agents().RevokeAgent(imported->record.agent_id, kImportT0 + kDay).ok());
  auto refused = store->Imports().ImportSnapshot(
      Snapshot(org, "m-1", kImportT0 + 2 * kDay, "5.10.0-26-amd64"));
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ErrorCode::kFailedPrecondition);
  CHECK(store->Imports().ListImports(org, 100)->size() == 2);
  CHECK(Kernel(*store, imported->record.agent_id) == "5.10.0-21-amd64");
}

TEST_CASE_TEMPLATE("imports: a malformed import is refused before anything is written", Backend,
                   DOZOR_BACKENDS) {
  Backend backend;
  auto* store = backend.store.get();
  const int64_t org = MakeOrg(*store, "Acme");
  SnapshotImport no_machine = Snapshot(org, "", kImportT0, "k");
  SnapshotImport bad_sha = Snapshot(org, "m-1", kImportT0, "k");
  bad_sha.sha256 = "not-a-hash";
  SnapshotImport no_inventory = Snapshot(org, "m-1", kImportT0, "k");
  no_inventory.inventory.mutable_health()->set_cpu_percent(1);  // replaces the inventory
  for (const SnapshotImport* bad : {&no_machine, &bad_sha, &no_inventory}) {
    auto refused = store->Imports().ImportSnapshot(*bad);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == ErrorCode::kInvalidArgument);
  }
  CHECK(store->Hosts().ListHosts(org)->empty());
  CHECK(store->Imports().ListImports(org, 100)->empty());
}

TEST_CASE_TEMPLATE(
    "imports: enrollment token keys are found by hint within one organisation, revoked ones not",
    Backend, DOZOR_BACKENDS) {
  Backend backend;
  auto* store = backend.store.get();
  const int64_t acme = MakeOrg(*store, "Acme");
  const int64_t other = MakeOrg(*store, "Other");
  auto add = [&](int64_t org_id, const std::string& hash, const std::string& hint,
                 std::optional<int64_t> expires) {
    NewEnrollmentToken token;
    token.org_id = org_id;
    token.token_hash = hash;
    token.hint = hint;
    token.expires_at_ms = expires;
    auto created = store->Agents().CreateEnrollmentToken(token);
    REQUIRE(created.ok());
    return created->id;
  };
  const int64_t live = add(acme, "h-live", "dze_abcd1234", std::nullopt);
  const int64_t expired = add(acme, "h-expired", "dze_abcd1234", 1000);
  const int64_t revoked = add(acme, "h-revoked", "dze_abcd1234", std::nullopt);
  add(acme, "h-other-hint", "dze_ffff0000", std::nullopt);
  add(other, "h-other-org", "dze_abcd1234", std::nullopt);
  REQUIRE(store->Agents().RevokeEnrollmentToken(revoked, 2000).ok());

  auto keys = store->Imports().FindEnrollmentTokensByHint(acme, "dze_abcd1234");
  REQUIRE(keys.ok());
  REQUIRE(keys->size() == 2);
  CHECK((*keys)[0].id == live);
  CHECK((*keys)[0].token_hash == "h-live");
  CHECK((*keys)[1].id == expired);
  CHECK((*keys)[1].expires_at_ms == 1000);
  CHECK(store->Imports().FindEnrollmentTokensByHint(acme, "dze_nothing")->empty());
}

TEST_CASE_TEMPLATE(
    "imports: a token's wrapped import key is found with it, set once, and absent for old tokens",
    Backend, DOZOR_BACKENDS) {
  Backend backend;
  auto* store = backend.store.get();
  const int64_t acme = MakeOrg(*store, "Acme");
  NewEnrollmentToken token;
  token.org_id = acme;
  token.token_hash = Sha256Hex("dze_abcd1234_secret");
  token.hint = "dze_abcd1234";
  auto created = store->Agents().CreateEnrollmentToken(token);
  REQUIRE(created.ok());
  token.token_hash = Sha256Hex("dze_abcd1234_older");
  auto older = store->Agents().CreateEnrollmentToken(token);
  REQUIRE(older.ok());

  const ImportKeyWrapper wrapper = *ImportKeyWrapper::FromServerKey(std::string(32, 's'));
  REQUIRE(SaveImportKeyForNewToken(store->Imports(), wrapper, {acme, created->id},
                                   "dze_abcd1234_secret", kImportT0)
              .ok());
  CHECK(store->Imports().SaveTokenImportKey(created->id, "v1:replaced", kImportT0).error().code ==
        ErrorCode::kAlreadyExists);
  CHECK(store->Imports().SaveTokenImportKey(999, "v1:x", kImportT0).error().code ==
        ErrorCode::kNotFound);

  auto keys = store->Imports().FindEnrollmentTokensByHint(acme, "dze_abcd1234");
  REQUIRE(keys.ok());
  REQUIRE(keys->size() == 2);
  CHECK((*keys)[0].id == created->id);
  CHECK((*keys)[0].org_id == acme);
  CHECK((*keys)[0].hint == "dze_abcd1234");
  REQUIRE((*keys)[0].wrapped_import_key.has_value());
  CHECK(*wrapper.Unwrap({acme, created->id}, *(*keys)[0].wrapped_import_key) ==
        *SnapshotImportKey("dze_abcd1234_secret"));
  CHECK((*keys)[1].id == older->id);
  CHECK_FALSE((*keys)[1].wrapped_import_key.has_value());  // issued before signed imports
}

}  // namespace
}  // namespace dozor::server
