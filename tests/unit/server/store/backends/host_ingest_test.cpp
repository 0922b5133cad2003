// The hosts area's ingest path (HostStore::CommitReports) and the reads of what it stored, on
// every backend: exactly-once by sequence number, refusals, health history, the change log, the
// rule windows, retention.
#include <doctest/doctest.h>

#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "backends.hpp"

namespace dozor::server {
namespace {

using dozor::testing::Commit;
using dozor::testing::EnrollHost;
using dozor::testing::HealthReport;
using dozor::testing::kBackendClockStartMs;
using dozor::testing::Ok;

constexpr int64_t kT0 = kBackendClockStartMs;

TEST_CASE_TEMPLATE("ingest: each sequence number is stored once, later copies are duplicates",
                   Backend, DOZOR_BACKENDS) {
  Backend backend;
  auto& store = *backend.store;
  EnrollHost(store, "Acme", "a1");
  EnrollHost(store, "Acme", "a2");

  std::vector<IncomingReport> batch;
  batch.push_back(HealthReport("a1", 1, kT0));
  batch.push_back(HealthReport("a2", 1, kT0 + 5));
  batch.push_back(HealthReport("a1", 2, kT0 + 60'000));
  batch.push_back(HealthReport("a1", 2, kT0 + 60'000));  // the same report twice in one batch
  auto results = Commit(store, std::move(batch));
  REQUIRE(results.size() == 4);
  CHECK(results[0].outcome == CommitOutcome::kStored);
  CHECK(results[1].outcome == CommitOutcome::kStored);
  CHECK(results[2].outcome == CommitOutcome::kStored);
  CHECK(results[3].outcome == CommitOutcome::kDuplicate);
  CHECK(results[3].seq == 2);

  // A resend after a lost ack: every report at or below the committed seq is a duplicate.
  std::vector<IncomingReport> resend;
  resend.push_back(HealthReport("a1", 1, kT0));
  resend.push_back(HealthReport("a1", 2, kT0 + 60'000));
  resend.push_back(HealthReport("a1", 3, kT0 + 120'000));
  results = Commit(store, std::move(resend));
  CHECK(results[0].outcome == CommitOutcome::kDuplicate);
  CHECK(results[1].outcome == CommitOutcome::kDuplicate);
  CHECK(results[2].outcome == CommitOutcome::kStored);

  CHECK(Ok(store.Agents().GetAgentCredential("a1")).last_committed_seq == 3);
  const auto health = Ok(store.Hosts().ListHealth("a1", 0, 10));
  REQUIRE(health.size() == 3);
  CHECK(health[0].seq == 3);  // newest first
  CHECK(health[2].seq == 1);
  CHECK(health[0].collected_at_ms == kT0 + 120'000);
  CHECK(health[0].sample.cpu_percent() == doctest::Approx(12.5));
  CHECK(health[0].sample.filesystems(0).mount_point() == "/");
  CHECK(Ok(store.Hosts().ListHealth("a1", kT0 + 60'000, 10)).size() == 2);
  CHECK(Ok(store.Hosts().ListHealth("a1", 0, 1)).size() == 1);
  CHECK(store.Hosts().ListHealth("nobody", 0, 10).error().code == ErrorCode::kNotFound);

  const HostSummary host = Ok(store.Hosts().GetHost("a1"));
  CHECK(host.last_seen_ms == kT0 + 120'100);
  CHECK(host.agent_version == "1.4.0");
  CHECK(backend.QueryInt("SELECT count(*) FROM health_samples") == 4);
  CHECK(backend.QueryInt("SELECT count(*) FROM rule_health_host") == 4);
  CHECK(backend.QueryInt("SELECT count(*) FROM rule_health_fs") == 4);
  CHECK(backend.QueryInt("SELECT count(*) FROM rule_health_nic") == 4);  // rx_errors = seq > 0
  CHECK(backend.QueryInt("SELECT last_health_at FROM agents WHERE agent_id = 'a1'") ==
        kT0 + 120'000);
}

TEST_CASE_TEMPLATE("ingest: unknown, revoked, payload-less and out-of-range reports are refused",
                   Backend, DOZOR_BACKENDS) {
  Backend backend;
  auto& store = *backend.store;
  EnrollHost(store, "Acme", "a1");
  EnrollHost(store, "Acme", "gone");
  Ok(store.Agents().RevokeAgent("gone", kT0));

  std::vector<IncomingReport> batch;
  batch.push_back(HealthReport("stranger", 1, kT0));
  batch.push_back(HealthReport("gone", 1, kT0));
  IncomingReport empty = HealthReport("a1", 1, kT0);
  empty.report.clear_health();
  batch.push_back(empty);
  batch.push_back(HealthReport("a1", uint64_t{1} << 63, kT0));
  batch.push_back(HealthReport("a1", 2, kT0));
  const auto results = Commit(store, std::move(batch));
  REQUIRE(results.size() == 5);
  CHECK(results[0].outcome == CommitOutcome::kRejected);
  CHECK(results[0].reason == "unknown agent");
  CHECK(results[1].reason == "agent is revoked");
  CHECK(results[2].reason == "report has no payload");
  CHECK(results[3].reason == "sequence number beyond 2^63");
  CHECK(results[4].outcome == CommitOutcome::kStored);
  CHECK(Ok(store.Agents().GetAgentCredential("a1")).last_committed_seq == 2);
}

TEST_CASE_TEMPLATE("ingest: overlapping streams of one agent store every report exactly once",
                   Backend, DOZOR_BACKENDS) {
  // What a reconnect to another replica looks like: the old stream and the new one commit the
  // same sequence numbers at the same time.
  Backend backend;
  auto& store = *backend.store;
  EnrollHost(store, "Acme", "a1");
  EnrollHost(store, "Acme", "a2");
  constexpr int kReports = 60;
  std::atomic<int> stored{0};
  std::atomic<int> duplicates{0};
  std::atomic<int> errors{0};
  auto stream = [&](int offset) {
    for (int first = 1; first <= kReports; first += 5) {
      std::vector<IncomingReport> batch;
      for (int seq = first; seq < first + 5; ++seq) {
        batch.push_back(HealthReport("a1", static_cast<uint64_t>(seq), kT0 + seq * 1000));
        batch.push_back(HealthReport("a2", static_cast<uint64_t>(seq + offset), kT0 + seq));
      }
      auto results = store.Hosts().CommitReports(batch);
      if (!results.ok()) {
        ++errors;
        continue;
      }
      for (const auto& result : *results) {
        if (result.outcome == CommitOutcome::kStored) ++stored;
        if (result.outcome == CommitOutcome::kDuplicate) ++duplicates;
      }
    }
  };
  std::thread first(stream, 0);
  std::thread second(stream, 0);
  first.join();
  second.join();
  CHECK(errors.load() == 0);
  CHECK(stored.load() == 2 * kReports);
  CHECK(duplicates.load() == 2 * kReports);
  CHECK(backend.QueryInt("SELECT count(*) FROM health_samples") == 2 * kReports);
  CHECK(backend.QueryInt("SELECT count(DISTINCT seq) FROM health_samples") == kReports);
  CHECK(Ok(store.Agents().GetAgentCredential("a1")).last_committed_seq == kReports);
}

TEST_CASE_TEMPLATE("ingest: VisitHealth walks a time range, PruneHealth removes older samples",
                   Backend, DOZOR_BACKENDS) {
  Backend backend;
  auto& store = *backend.store;
  EnrollHost(store, "Acme", "a1");
  constexpr int64_t kDay = 86'400'000;
  // Three days of hourly samples ending now (the clock is at kT0 + 3 days).
  backend.clock.SetMs(kT0 + 3 * kDay);
  std::vector<IncomingReport> batch;
  for (int hour = 0; hour < 72; ++hour) {
    batch.push_back(HealthReport("a1", static_cast<uint64_t>(hour + 1), kT0 + hour * 3'600'000));
  }
  Commit(store, std::move(batch));

  std::vector<int64_t> seen;
  Ok(store.Hosts().VisitHealth("a1", kT0 + kDay, kT0 + kDay + 5 * 3'600'000,
                               [&](int64_t at, const dozor::v1::HealthSample& sample) {
                                 CHECK(sample.cpu_percent() == doctest::Approx(12.5));
                                 seen.push_back(at);
                               }));
  std::sort(seen.begin(), seen.end());
  REQUIRE(seen.size() == 5);
  CHECK(seen.front() == kT0 + kDay);
  CHECK(seen.back() == kT0 + kDay + 4 * 3'600'000);
  Ok(store.Hosts().VisitHealth("a1", kT0 + kDay, kT0 + kDay, [&](int64_t, const auto&) {
    FAIL("an empty range visits nothing");
  }));
  CHECK(store.Hosts()
            .VisitHealth("nobody", 0, 1, [](int64_t, const dozor::v1::HealthSample&) {})
            .error()
            .code == ErrorCode::kNotFound);

  // Everything collected before the second day's 06:00 goes: 24 + 6 samples.
  CHECK(Ok(store.Hosts().PruneHealth(kT0 + kDay + 6 * 3'600'000)) == 30);
  CHECK(backend.QueryInt("SELECT count(*) FROM health_samples") == 42);
  CHECK(Ok(store.Hosts().ListHealth("a1", 0, 1000)).size() == 42);
  CHECK(Ok(store.Hosts().PruneHealth(kT0 + kDay + 6 * 3'600'000)) == 0);
}

dozor::v1::Inventory InventoryWithKernel(const std::string& kernel) {
  dozor::v1::Inventory inv;
  inv.mutable_os()->set_pretty_name("Debian GNU/Linux 12 (bookworm)");
  inv.mutable_os()->set_family("debian");
  inv.mutable_os()->set_kernel(kernel);
  inv.mutable_os()->set_hostname("db1");
  auto* package = inv.mutable_software()->add_packages();
  package->set_name("openssl");
  package->set_version(kernel == "6.1.0-1" ? "3.0.11" : "3.0.13");
  return inv;
}

IncomingReport InventoryReport(const std::string& agent_id, uint64_t seq, int64_t at,
                               const dozor::v1::Inventory& inv) {
  IncomingReport in;
  in.agent_id = agent_id;
  in.received_at_ms = at + 50;
  in.report.set_seq(seq);
  in.report.set_collected_at_ms(at);
  *in.report.mutable_inventory() = inv;
  return in;
}

TEST_CASE_TEMPLATE("ingest: inventories keep a change log, read newest first", Backend,
                   DOZOR_BACKENDS) {
  Backend backend;
  auto& store = *backend.store;
  EnrollHost(store, "Acme", "a1");
  std::vector<IncomingReport> first;
  first.push_back(InventoryReport("a1", 1, kT0, InventoryWithKernel("6.1.0-1")));
  Commit(store, std::move(first));
  std::vector<IncomingReport> second;
  second.push_back(InventoryReport("a1", 2, kT0 + 1000, InventoryWithKernel("6.1.0-2")));
  Commit(store, std::move(second));

  const auto changes = Ok(store.Hosts().ListChanges("a1", 0, 100));
  REQUIRE(changes.size() >= 3);
  CHECK(changes.front().at_ms == kT0 + 1000);
  CHECK(changes.back().at_ms == kT0);
  CHECK(changes.front().agent_id == "a1");
  std::set<std::string> subjects;
  for (const auto& change : changes) {
    if (change.at_ms == kT0 + 1000) subjects.insert(change.subject);
  }
  CHECK(subjects.count("os.kernel") == 1);
  CHECK(subjects.count("openssl") == 1);
  CHECK(Ok(store.Hosts().ListChanges("a1", kT0 + 1, 100)).size() == changes.size() - 1);
  CHECK(Ok(store.Hosts().ListChanges("a1", 0, 1)).size() == 1);
  CHECK(backend.QueryInt("SELECT last_inventory_at FROM agents WHERE agent_id = 'a1'") ==
        kT0 + 1000);

  // Retention keeps the newest rows per host.
  const int64_t total = static_cast<int64_t>(changes.size());
  CHECK(Ok(store.Hosts().PruneInventoryChanges(0, 1)) == total - 1);
  CHECK(Ok(store.Hosts().ListChanges("a1", 0, 100)).size() == 1);
  CHECK(Ok(store.Hosts().PruneInventoryChanges(kT0 + 2000, 100)) == 1);
}

TEST_CASE_TEMPLATE("ingest: a sample listing one mount or interface twice keeps the last of each",
                   Backend, DOZOR_BACKENDS) {
  // A hostile or confused agent must not fail the batch it shares with other agents.
  Backend backend;
  auto& store = *backend.store;
  EnrollHost(store, "Acme", "odd");
  EnrollHost(store, "Acme", "fine");
  IncomingReport odd = HealthReport("odd", 1, kT0);
  auto* health = odd.report.mutable_health();
  auto* other = health->add_filesystems();
  other->set_mount_point("/data");
  other->set_total_bytes(10ULL << 30);
  auto* again = health->add_filesystems();
  *again = health->filesystems(0);
  again->set_free_bytes(10ULL << 30);  // 90 % used: the last "/" wins
  again->set_available_bytes(10ULL << 30);
  auto* nic = health->add_networks();
  *nic = health->networks(0);
  nic->set_rx_errors(77);
  std::vector<IncomingReport> batch;
  batch.push_back(odd);
  batch.push_back(HealthReport("fine", 1, kT0));
  const auto results = Commit(store, std::move(batch));
  REQUIRE(results.size() == 2);
  CHECK(results[0].outcome == CommitOutcome::kStored);
  CHECK(results[1].outcome == CommitOutcome::kStored);
  CHECK(backend.QueryInt("SELECT count(*) FROM rule_health_fs WHERE mount = '/'") == 2);
  CHECK(backend.QueryInt("SELECT count(*) FROM rule_health_fs") == 3);
  CHECK(backend.QueryInt("SELECT round(used_pct) FROM rule_health_fs f JOIN agents a ON a.id = "
                         "f.agent WHERE a.agent_id = 'odd' AND f.mount = '/'") == 90);
  CHECK(backend.QueryInt("SELECT rx_errors FROM rule_health_nic n JOIN agents a ON a.id = n.agent "
                         "WHERE a.agent_id = 'odd'") == 77);
}

TEST_CASE_TEMPLATE("ingest: host keys and lifetimes", Backend, DOZOR_BACKENDS) {
  Backend backend;
  auto& store = *backend.store;
  EnrollHost(store, "Acme", "a1");
  EnrollHost(store, "Acme", "a2");
  EnrollHost(store, "Beta", "b1");
  Ok(store.Agents().RevokeAgent("a2", 5000));
  const int64_t a1 = Ok(store.Hosts().HostPk("a1"));
  CHECK(store.Hosts().HostPk("nobody").error().code == ErrorCode::kNotFound);
  const auto live = Ok(store.Hosts().ListLiveHostKeys());
  REQUIRE(live.size() == 2);
  CHECK(live[0].first == a1);
  const int64_t acme = Ok(store.Organizations().FindOrganization("Acme")).id;
  const auto lifetimes = Ok(store.Hosts().ListHostLifetimes(acme));
  REQUIRE(lifetimes.size() == 2);
  CHECK(lifetimes[0].agent_id == "a1");
  CHECK_FALSE(lifetimes[0].revoked_at_ms.has_value());
  CHECK(lifetimes[1].revoked_at_ms == std::optional<int64_t>(5000));
}

}  // namespace
}  // namespace dozor::server
