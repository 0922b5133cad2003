// The SQLite store dates the rows it stamps itself with the clock it was opened with, never the
// wall clock: creation times, contract events and the audit snapshots a move records.
#include <doctest/doctest.h>

#include "dozor/common/clock.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "test_util.hpp"

namespace dozor::server {
namespace {

TEST_CASE("store rows and contract events carry the injected clock's time") {
  dozor::testing::TempDir dir;
  FakeClock clock(42'000);
  SqliteStoreOptions options;
  options.path = (dir / "dozor.db").string();
  options.background_checkpoint = false;
  options.clock = &clock;
  auto store = OpenSqliteStore(options);
  REQUIRE(store.ok());
  SqliteStore& s = **store;

  Organization org;
  org.name = "acme";
  auto created = s.CreateOrganization(org);
  REQUIRE(created.ok());
  CHECK(created->created_at_ms == 42'000);

  auto token = s.CreateApiToken("t", ApiRole::kViewer, "hash", "h", std::nullopt);
  REQUIRE(token.ok());
  CHECK(token->created_at_ms == 42'000);

  NewEnrollmentToken enrollment;
  enrollment.org_id = created->id;
  enrollment.token_hash = "enroll-hash";
  auto enrollment_token = s.CreateEnrollmentToken(enrollment);
  REQUIRE(enrollment_token.ok());
  CHECK(enrollment_token->created_at_ms == 42'000);

  clock.SetMs(77'000);
  OrganizationPatch patch;
  patch.contract_status = ContractPhase::kRemediation;
  patch.actor = "ivan";
  REQUIRE(s.UpdateOrganization(created->id, patch).ok());
  auto events = s.ListContractEvents(created->id);
  REQUIRE(events.ok());
  REQUIRE(events->size() == 1);
  CHECK(events->at(0).at_ms == 77'000);
  auto first = s.GetAuditSnapshot(created->id, AuditSnapshotKind::kFirstAudit);
  REQUIRE(first.ok());
  REQUIRE(first->has_value());
  CHECK((*first)->at_ms == 77'000);
}

}  // namespace
}  // namespace dozor::server
